"""The org model is validated like requests are (schemas/org.v1.schema.json).

The Rego policy trusts ``data.org``: a limit written as ``1.5`` or ``"720"``
makes ``hours > limit`` compare a number with a string and silently switches
the limit off; two waivers for the same rule and file used to make every
decision error; a waiver expiry OPA cannot parse never applies. So the files
under policies/data are checked before anything reads them: JSON Schema
first (types, positive integers, the expiry format), then what a schema
cannot say (real dates, unique ids). Every finding names the file and line.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema

from tools.core import yamlsafe
from tools.core.errors import Finding
from tools.core.expiry import parse_expiry
from tools.core.waivers import UNWAIVABLE

SCHEMA = Path(__file__).resolve().parent / "schemas" / "org.v1.schema.json"
RULE = "org-model"
# The latest time both Rego engines can hold in nanoseconds (FINDINGS.md).
LATEST_YEAR = 2261


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


# Python's \s (in the schema's patterns) matches these; the Rust regexes of
# jsonschema-rs do not, so a model holding one is always checked by jsonschema.
PYTHON_ONLY_SPACES = frozenset("\x1c\x1d\x1e\x1f")


@cache
def _fast_validator() -> Any:
    """The schema compiled once by jsonschema-rs, or None without it. It only
    answers "valid?": at 5,000 people jsonschema's Python traversal took
    seconds per run; what it does not pass, jsonschema checks again for the
    findings (see tools/request/load.py's twin)."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.validator_for(schema())


def _python_only_spaces(value: Any) -> bool:
    if isinstance(value, str):
        return not PYTHON_ONLY_SPACES.isdisjoint(value)
    if isinstance(value, dict):
        return any(_python_only_spaces(k) or _python_only_spaces(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_python_only_spaces(v) for v in value)
    return False


def schema_errors(raw: Any) -> list[jsonschema.ValidationError]:
    """jsonschema's errors for the merged org model; none without asking it
    when the compiled check passes the model."""
    fast = _fast_validator()
    if fast is not None and not _python_only_spaces(raw):
        try:
            if fast.is_valid(raw):
                return []
        except (ValueError, TypeError, OverflowError):  # a value it cannot map: ask jsonschema
            pass
    return sorted(_validator().iter_errors(raw), key=lambda e: [str(p) for p in e.absolute_path])


class Sources:
    """Which file (and document) defines each top-level key."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[str, yamlsafe.Document]] = {}

    def add(self, path: str, doc: yamlsafe.Document) -> None:
        for key in doc.data:
            self.docs.setdefault(key, (path, doc))

    def where(self, at: tuple) -> tuple[str, int | None]:
        if not at or at[0] not in self.docs:
            first = next(iter(self.docs.values()), ("policies/data", None))
            return first[0], 1
        path, doc = self.docs[at[0]]
        return path, doc.line_of(at)


def check(raw: dict[str, Any], sources: Sources) -> list[Finding]:
    """Every problem of the merged org model, each at its file and line."""
    found: list[Finding] = []

    def add(at: tuple, message: str, fix: str) -> None:
        file, line = sources.where(at)
        found.append(Finding(file, message, fix, line, RULE))

    for err in schema_errors(raw):
        at = tuple(err.absolute_path)
        add(at, f"{_dotted(at) or 'the org model'}: {_describe(err)}", _fix(err))
    if found:
        return found  # the cross-checks assume the shapes are right
    for key, what in _unique_ids(raw):
        at, value, first = key
        add(at, f"{_dotted(at)}: {what} {value!r} is also defined at {_dotted(first)}", "keep one definition")
    for i, w in enumerate(raw.get("waivers") or []):
        if w["rule"] in UNWAIVABLE:
            add(("waivers", i, "rule"), f"waivers.{i}.rule {w['rule']!r} cannot be waived: it guards who may hold "
                "access, its approvals or its end", "remove the waiver and fix the request instead")
        try:
            when = parse_expiry(w["expires"])
        except ValueError:
            add(("waivers", i, "expires"), f"waivers.{i}.expires {w['expires']!r} is not a real date",
                "use YYYY-MM-DD or an RFC 3339 timestamp such as 2026-12-31T00:00:00Z")
            continue
        if when.year > LATEST_YEAR:
            add(("waivers", i, "expires"), f"waivers.{i}.expires {w['expires']!r} is after {LATEST_YEAR}",
                "a waiver is temporary: choose a date within a year")
    return found


def _unique_ids(raw: dict[str, Any]) -> Iterable[tuple[tuple[tuple, Any, tuple], str]]:
    """(at, value, first definition) for every id defined twice."""
    def dupes(items: Iterable[tuple[tuple, Any]], what: str):
        seen: dict[Any, tuple] = {}
        for at, value in items:
            if value in seen:
                yield (at, value, seen[value]), what
            else:
                seen[value] = at
    people = raw.get("people") or []
    yield from dupes(((("people", i, "email"), str(p["email"]).lower()) for i, p in enumerate(people)), "email")
    yield from dupes(((("people", i, "github"), str(p["github"]).lower()) for i, p in enumerate(people)),
                     "GitHub login")
    accounts = (raw.get("aws") or {}).get("accounts") or []
    yield from dupes(((("aws", "accounts", i, "name"), a["name"]) for i, a in enumerate(accounts)), "account name")
    yield from dupes(((("aws", "accounts", i, "id"), a["id"]) for i, a in enumerate(accounts)), "account id")
    projects = (raw.get("gcp") or {}).get("projects") or []
    yield from dupes(((("gcp", "projects", i, "id"), p["id"]) for i, p in enumerate(projects)), "project id")
    catalog = raw.get("catalog") or []
    yield from dupes(((("catalog", i), (c["kind"], c["entitlement"])) for i, c in enumerate(catalog)),
                     "catalog entry (kind, entitlement)")
    pairs = raw.get("separation_of_duties") or []
    yield from dupes(((("separation_of_duties", i, "name"), p["name"]) for i, p in enumerate(pairs)), "pair name")
    waivers = raw.get("waivers") or []
    yield from dupes(((("waivers", i), (w["rule"], w["file"])) for i, w in enumerate(waivers)),
                     "waiver for (rule, file)")


def _dotted(at: tuple) -> str:
    return ".".join(str(p) for p in at)


def _describe(err: jsonschema.ValidationError) -> str:
    v, value = err.validator, err.instance
    if v == "required":
        return err.message.replace("is a required property", "is missing")
    if v in ("type", "minimum") and err.schema.get("description"):
        return f"{value!r} is not {err.schema['description']}"
    if v == "pattern" and err.schema.get("description"):
        return f"{value!r} is not {err.schema['description']}"
    if v == "enum":
        return f"{value!r} is not one of {', '.join(map(str, err.validator_value))}"
    return err.message


def _fix(err: jsonschema.ValidationError) -> str:
    if err.validator in ("type", "minimum") and err.schema.get("minimum") == 1:
        return "write a whole number of 1 or more without quotes, e.g. max_hours: 720"
    if err.validator == "pattern" and "expires" in [str(p) for p in err.absolute_path]:
        return "write expires: \"2026-12-31\" or \"2026-12-31T00:00:00Z\""
    return f"see {SCHEMA.relative_to(SCHEMA.parents[3]).as_posix()}"
