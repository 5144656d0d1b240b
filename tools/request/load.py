"""Read request files safely and turn them into typed requests.

Layer one of validation: path rules, size, encoding and safe YAML, then the
JSON Schema. Whatever passes becomes an ``AccessRequest`` or
``ServiceAccount``; later stages never see raw dicts.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache, lru_cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import jsonschema

from tools.core import yamlsafe
from tools.core.errors import Finding
from tools.core.expiry import parse_expiry
from tools.core.model import KINDS, Principal
from tools.core.repo import Tree

REQUESTS_DIR = "requests"
SUFFIXES = (".yaml", ".yml")
MAX_BYTES = 64 * 1024
SCHEMA_PATH = "tools/request/schemas/request.v1.schema.json"
API_VERSION = "accessctl/v1"


@dataclass(frozen=True, slots=True)
class GrantSpec:
    kind: str
    target: str  # account name or project id, as written
    entitlement: str
    index: int  # position in the file's grants list (for line lookup)


@dataclass(frozen=True, slots=True)
class AccessRequest:
    path: str
    principal: Principal
    requester: str | None  # None only while an imported file awaits its owner
    justification: str | None
    expires: datetime | None
    grants: tuple[GrantSpec, ...]
    ticket: str | None = None
    break_glass: bool = False
    imported: bool = False

    @property
    def provider(self) -> str:
        return path_parts(self.path)[0]


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    path: str
    provider: str
    name: str
    target: str  # account name or project id
    owner: str | None  # None only while an imported file awaits its owner
    purpose: str | None  # None only while an imported file awaits its owner
    requester: str | None
    expires: datetime | None
    ticket: str | None = None
    oidc_repository: str | None = None
    oidc_ref: str | None = None
    user_managed_keys: bool = False
    imported: bool = False
    use: str = ""  # ci | workload | agent | integration ("" only before _build infers it)
    max_session_minutes: int | None = None  # use: agent
    runtime: str | None = None  # use: agent: assumed_by (aws role ARN) / impersonated_by (gcp member)
    vendor: str | None = None  # use: integration
    vendor_contact: str | None = None
    credential_type: str | None = None  # access-key | service-account-key
    credential_store: str | None = None  # secrets-manager | secret-manager
    rotate_days: int | None = None

    @property
    def ref(self) -> str:
        """How AccessRequests name this identity: serviceAccount:<target>/<name>."""
        return f"serviceAccount:{self.target}/{self.name}"


@dataclass(frozen=True, slots=True)
class Waived:
    """A validation finding an active waiver covers: the policy reports the
    same rule id as waived, so validation must not deny it either."""

    finding: Finding
    owner: str
    expires: str

    def __str__(self) -> str:
        f = self.finding
        where = f"{f.file}:{f.line}" if f.line else f.file
        return f"{where}: {f.message} (waived by {self.owner} until {self.expires})"

    def as_json(self) -> dict:
        return {**self.finding.as_json(), "waiver": {"owner": self.owner, "expires": self.expires}}


@dataclass
class RequestFile:
    path: str
    doc: yamlsafe.Document | None = None
    request: AccessRequest | ServiceAccount | None = None
    findings: list[Finding] = field(default_factory=list)
    # What could still be read from a file that failed a check: validate
    # checks it too, so one run reports every problem, but it is never a
    # request (nothing downstream grants, evaluates or expires it).
    partial: AccessRequest | ServiceAccount | None = None
    # Findings an active waiver of the same policy rule set aside
    # (tools.request.validate): shown as notes, never a reason to deny.
    waived: list["Waived"] = field(default_factory=list)

    def line(self, *path: str | int) -> int | None:
        return self.doc.line_of(path) if self.doc else None

    def finding(self, message: str, fix: str = "", at: tuple = (), rule: str = "invalid") -> None:
        self.findings.append(Finding(self.path, message, fix, self.line(*at) if at or self.doc else None, rule))


@lru_cache(maxsize=None)
def posix_parts(path: str) -> tuple[str, ...]:
    """``PurePosixPath(path).parts``, remembered: a whole-state run asks for
    the parts of each of 10,000 paths several times, and pathlib's parsing
    was a tenth of its time."""
    return PurePosixPath(path).parts


@lru_cache(maxsize=None)
def path_parts(path: str) -> tuple[str, str, str]:
    """requests/<provider>/<target>/<name>.yaml → (provider, target, name)."""
    parts = posix_parts(path)
    if len(parts) != 4 or parts[0] != REQUESTS_DIR:
        return ("", "", "")
    return (parts[1], parts[2], PurePosixPath(parts[3]).stem)


@cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files("tools.request").joinpath("schemas/request.v1.schema.json").read_text())


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


@cache
def _fast_validator() -> Any:
    """The schema compiled once by jsonschema-rs (Rust), or None without it.

    Why: at 10,000 files, jsonschema's pure-Python traversal of the schema's
    if/then branches was most of ``validate``'s time. The fast validator
    only answers "valid?"; a file it does not call valid is validated again
    by jsonschema, whose errors the findings are made of. So both give the
    same findings as long as the fast one never passes a document
    jsonschema refuses: its regexes' ``$`` does not match before a final
    newline (stricter: harmless), but its ``\\s`` leaves out the control
    characters \\x1c-\\x1f that Python's includes. Those can only reach a
    string through a YAML escape, so a text with a backslash takes the slow
    path (tests/test_schema_fast_path.py compares both on generated files)."""
    try:
        import jsonschema_rs
    except ImportError:  # an older environment: jsonschema alone, slower
        return None
    return jsonschema_rs.validator_for(schema())


def schema_errors(data: Any, text: str) -> list[jsonschema.ValidationError]:
    """jsonschema's errors for the document (``text`` is its YAML source)."""
    fast = _fast_validator()
    if fast is not None and "\\" not in text:
        try:
            if fast.is_valid(data):
                return []
        except (ValueError, TypeError, OverflowError):  # a value it cannot map (a huge integer): ask jsonschema
            pass
    return sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


def read(tree: Tree, path: str) -> RequestFile:
    """Load one file; problems become findings, never exceptions."""
    rf = RequestFile(path)
    if not _path_ok(tree, rf):
        return rf
    try:
        if tree.ref is None:
            with open(os.path.join(tree.root, path), "rb") as fh:
                raw = fh.read()
        else:
            raw = tree.read_text(path).encode()
    except OSError as exc:
        rf.finding(f"cannot read the file ({exc.strerror})", "check the path")
        return rf
    if len(raw) > MAX_BYTES:
        rf.finding(f"file is {len(raw)} bytes, over the {MAX_BYTES}-byte limit",
                   "split it into several requests")
        return rf
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        rf.findings.append(Finding(path, "file is not valid UTF-8", "save it as UTF-8", line))
        return rf
    try:
        rf.doc = yamlsafe.loads(text)
    except yamlsafe.YamlError as exc:
        rf.findings.append(Finding(path, exc.message, "", exc.line))
        return rf
    if not isinstance(rf.doc.data, dict):
        rf.finding("the file must hold one mapping (apiVersion, kind, …)",
                   "start from `accessctl request new`")
        return rf
    broken: set[str] = set()
    for err in schema_errors(rf.doc.data, text):
        rf.finding(*_describe(err), at=_where(err), rule="schema")
        broken.add(str(err.absolute_path[0]) if err.absolute_path else "")
    _build(rf, broken)
    return rf


# Without these intact there is nothing to check further; any other field
# that fails the schema is left out (None) and the remaining checks still run.
STRUCTURAL = {"AccessRequest": ("kind", "principal", "grants"),
              "ServiceAccount": ("kind", "provider", "name", "account", "project")}


def _path_ok(tree: Tree, rf: RequestFile) -> bool:
    path = rf.path
    if not path.endswith(SUFFIXES):
        rf.finding("request files must end in .yaml or .yml", "rename the file")
        return False
    if posix_parts(path)[:1] != (REQUESTS_DIR,) or ".." in posix_parts(path):
        rf.finding(f"request files must live under {REQUESTS_DIR}/", f"move it to {REQUESTS_DIR}/<aws|gcp>/<account-or-project>/")
        return False
    if tree.ref is None and os.path.islink(os.path.join(tree.root, path)):
        rf.finding("symbolic links are not accepted as requests", "commit the file itself, not a link")
        return False
    provider, target, name = path_parts(path)
    if not provider:
        rf.finding("request files must be at requests/<aws|gcp>/<account-or-project>/<name>.yaml",
                   "move the file so its folder names the account or project it asks for")
        return False
    if provider not in ("aws", "gcp"):
        rf.finding(f"unknown provider folder {provider!r}", "use requests/aws/… or requests/gcp/…")
        return False
    if not name.replace("-", "").replace("_", "").isalnum() or not name.isascii():
        rf.finding(f"file name {name!r} must be ASCII letters, digits, '-' or '_'", "rename the file")
        return False
    return True


def _where(err: jsonschema.ValidationError) -> tuple:
    """The path to point at: the first unknown key itself, not its parent."""
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        if extra:
            return path + (extra[0],)
    return path


def _describe(err: jsonschema.ValidationError) -> tuple[str, str]:
    """Turn a schema error into what is wrong and how to fix it."""
    where = "/".join(str(p) for p in err.absolute_path) or "the file"
    v = err.validator
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(k for k in err.schema.get("properties", {}) if k != "kind")
        return (f"unknown field {', '.join(map(repr, extra))} in {where}", f"remove it; allowed fields: {allowed}")
    if v == "required":
        return (err.message.replace("'", "`", 2) + f" in {where}", "add it")
    if v == "type" and err.instance is None:
        kind = {"string": "text", "array": "a list", "object": "a mapping", "boolean": "true or false"}.get(
            str(err.validator_value), str(err.validator_value))
        return (f"{where} is empty (null)", f"fill in {where} ({kind}), or delete the line if it is optional")
    if v == "type" and err.validator_value == "string" and isinstance(err.instance, (int, float, bool)):
        return (f"{where} must be text, got {err.instance!r}", 'quote it, e.g. "011111111111" or "no"')
    if v == "type" and err.validator_value == "boolean" and isinstance(err.instance, str):
        return (f"{where} must be true or false, got {err.instance!r}",
                "write true or false (yes/no/on/off are plain text here)")
    if v in ("enum", "const"):
        choices = err.validator_value if v == "enum" else [err.validator_value]
        return (f"{where} is {err.instance!r}", "use one of: " + ", ".join(map(str, choices)))
    if v == "minLength" and err.absolute_path and err.absolute_path[-1] in ("justification", "purpose"):
        return (f"{where} is too short ({len(err.instance)} characters)",
                f"explain why the access is needed in at least {err.validator_value} characters")
    if v == "pattern" and err.absolute_path and err.absolute_path[-1] == "principal" \
            and str(err.instance).rpartition(":")[2].lower() in ("allusers", "allauthenticatedusers", "*"):
        return (f"principal {err.instance!r} is public", "public principals are never granted access; "
                "name a person, team or service account")
    if v == "pattern":
        desc = err.schema.get("description", f"it must match {err.validator_value}")
        return (f"{where} has an invalid value {err.instance!r}", desc)
    if v in ("not", "anyOf", "oneOf"):
        return (f"{where} has a field that does not belong with its provider or `use`, or misses one it needs",
                "aws takes account (and oidc for use: ci), gcp takes project; use: agent takes max_session_minutes "
                "and assumed_by (aws, or oidc) or impersonated_by (gcp); use: integration takes vendor and "
                "credential; only those uses take those fields")
    return (f"{where}: {err.message}", "see tools/request/schemas/request.v1.schema.json")


# time.parse_rfc3339_ns in OPA and regorus: int64 nanoseconds since 1970.
EARLIEST = datetime(1678, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2262, 4, 11, tzinfo=timezone.utc)


def _build(rf: RequestFile, broken: set[str] = frozenset()) -> None:
    """Make the typed request; with findings already (or new ones here) it
    becomes ``rf.partial``, checked by validate but never granted."""
    d = rf.doc.data
    kind = d.get("kind")
    needed = STRUCTURAL.get(kind) if isinstance(kind, str) else None
    if needed is None or broken & set(needed):
        return
    if kind == "AccessRequest" and ("principal" not in d or "grants" not in d):
        return
    if kind == "ServiceAccount" and not all(k in d for k in ("provider", "name")):
        return

    def ok(key: str):
        return None if key in broken else d.get(key)
    expires = None
    if "expires" in d and "expires" not in broken:
        try:
            expires = parse_expiry(d["expires"])
        except (ValueError, OverflowError):
            rf.finding(f"expires {d['expires']!r} is not a real date", _date_fix(str(d["expires"])),
                       at=("expires",))
        else:
            if not EARLIEST <= expires <= LATEST:
                # The policy engines count time in int64 nanoseconds: beyond these
                # bounds they fail instead of deciding, so the file is refused here.
                rf.finding(f"expires {d['expires']!r} is outside the dates the policy can judge "
                           f"({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d})",
                           "use a date within the role's maximum duration, e.g. a few weeks from today",
                           at=("expires",))
    if kind == "ServiceAccount":
        oidc = ok("oidc") or {}
        vendor, credential = ok("vendor") or {}, ok("credential") or {}
        built = ServiceAccount(
            rf.path, d["provider"], d["name"], d.get("account") or d.get("project"), ok("owner"),
            ok("purpose"), ok("requester"), expires, ok("ticket"), oidc.get("repository"),
            oidc.get("ref"), bool(ok("user_managed_keys") or False), bool(ok("imported") or False),
            use=ok("use") or default_use(d["provider"]), max_session_minutes=ok("max_session_minutes"),
            runtime=ok("assumed_by") or ok("impersonated_by"), vendor=vendor.get("name"),
            vendor_contact=vendor.get("contact"), credential_type=credential.get("type"),
            credential_store=credential.get("store"), rotate_days=credential.get("rotate_days"))
    else:
        try:
            principal = Principal.parse(d["principal"])
        except ValueError as exc:
            rf.finding(str(exc), at=("principal",))
            return
        grants = tuple(
            GrantSpec(g["kind"], g[KINDS[g["kind"]].target_field], g[KINDS[g["kind"]].entitlement_field], i)
            for i, g in enumerate(d["grants"]))
        built = AccessRequest(
            rf.path, principal, ok("requester"), ok("justification"), expires, grants,
            ok("ticket"), bool(ok("break_glass") or False), bool(ok("imported") or False))
    if rf.findings:
        rf.partial = built
    else:
        rf.request = built


def default_use(provider: str) -> str:
    """What a ServiceAccount file without `use` is: the two uses that existed
    before `use` did (an AWS CI role, a GCP workload's service account)."""
    return "ci" if provider == "aws" else "workload"


def _date_fix(text: str) -> str:
    """Say what is wrong with a date that has the right shape."""
    import calendar
    try:
        year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    except ValueError:
        return "use YYYY-MM-DD or an RFC 3339 timestamp"
    if not 1 <= month <= 12:
        return "the month must be 01 to 12; use YYYY-MM-DD"
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return f"{calendar.month_name[month]} {year} has {last} days; use a day from 01 to {last:02d}"
    return "use YYYY-MM-DD or an RFC 3339 timestamp (hours 00-23, minutes and seconds 00-59)"


def read_all(tree: Tree) -> list[RequestFile]:
    return [read(tree, p) for p in tree.list(REQUESTS_DIR)]
