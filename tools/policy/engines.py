"""Policy engines: one interface, an embedded regorus engine and a real OPA
server reached through opa-python-client. Both give identical decisions.

A run compiles the policies once (``PolicyBundle`` → engine) and then asks
for ``data.access.decision`` once per request file: no process per file, no
recompilation. Policies and the org model come from whatever ``Tree`` the
caller chose, which is the PR's base commit when a PR is judged.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from tools.core.errors import FindingError, UsageError
from tools.core import waivers
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree
from tools.policy import opa_errors

POLICY_DIR = "policies"
ENTRYPOINT = "data.access.decision"
OPA_POLICY_PREFIX = "accessctl/"


@dataclass(frozen=True)
class PolicyBundle:
    """The Rego modules (tests excluded) and the data document of one run."""

    modules: dict[str, str]  # repository path -> Rego source
    data: dict[str, Any]  # {"org": <the org model, JSON-ready>}
    source: str  # where it came from, for messages


def jsonable(value: Any) -> Any:
    """The org model as JSON: YAML dates become RFC 3339 UTC timestamps so
    ``time.parse_rfc3339_ns`` can read them in Rego."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def is_test_module(path: str) -> bool:
    return path.endswith("_test.rego")


def load_bundle(tree: Tree, org: OrgModel, *, tests: bool = False) -> PolicyBundle:
    """Every .rego under policies/ of ``tree`` (with ``tests``, the
    ``*_test.rego`` files too), read in one batch when ``tree`` is a commit."""
    from tools.policy.input import read_texts
    paths = [p for p in tree.list(POLICY_DIR, (".rego",)) if tests or not is_test_module(p)]
    if not any(not is_test_module(p) for p in paths):
        raise FindingError(f"no Rego policies under {POLICY_DIR}/ in {tree.describe()}")
    return PolicyBundle(read_texts(tree, paths), {"org": org_data(org)}, tree.describe())


def org_data(org: OrgModel) -> dict[str, Any]:
    """``data.org``: the org model as JSON, plus ``_index`` (see org_index)."""
    data = jsonable(org.raw)
    # Waiver expiries may be written as dates (the schema allows it); Rego's
    # time.parse_rfc3339_ns needs the full timestamp, in UTC, in one form.
    # Validation normalises them the same way (tools/core/waivers.py).
    if isinstance(data.get("waivers"), list):
        data["waivers"] = waivers.policy_waivers(data)
    data["_index"] = org_index(data)
    return data


def org_index(data: dict[str, Any]) -> dict[str, Any]:
    """``data.org._index``: lookups the policy would otherwise compute per
    decision by scanning the org model. regorus walks a list element by
    element (about 1 µs each) and does not keep a function's result between
    calls, so a scan of 3,000 people, 100 targets or a team of 125 members
    costs tens of µs to milliseconds each time a rule asks. Each entry is
    what the matching Rego scan (policies/access/lib/lib.rego) would find:

    * ``people``: by folded email (lib.fold);
    * ``team_members``: each team's folded members, sorted, once each;
      ``team_member_set``: the same as ``{login: true}`` for a key lookup;
    * ``targets``: ``{"aws": {name: account}, "gcp": {id: project}}``;
    * ``catalog``: ``{kind: {entitlement: entry}}``.

    An entry is left out when the model could make the scan find two
    answers or none by a different path (a duplicate or non-string key;
    the schema refuses both): Rego then scans, so a broken model fails the
    same way with and without the index. The decision never depends on
    whether an entry is here (tests/test_engine_differential.py)."""
    index: dict[str, Any] = {}
    people = _keyed(data.get("people"), lambda p: fold(p["email"]) if isinstance(p.get("email"), str) else None)
    if people is not None:
        index["people"] = people
    teams = data.get("teams") if isinstance(data.get("teams"), dict) else {}
    members = {key: sorted({fold(m) for m in (t.get("members") or []) if isinstance(m, str)})
               for key, t in teams.items() if isinstance(t, dict) and isinstance(t.get("members") or [], list)}
    index["team_members"] = members
    index["team_member_set"] = {key: dict.fromkeys(logins, True) for key, logins in members.items()}
    aws = _keyed(_list_at(data, "aws", "accounts"), lambda a: a.get("name") if isinstance(a.get("name"), str) else None)
    gcp = _keyed(_list_at(data, "gcp", "projects"), lambda p: p.get("id") if isinstance(p.get("id"), str) else None)
    if aws is not None and gcp is not None:
        index["targets"] = {"aws": aws, "gcp": gcp}
    catalog: dict[str, dict[str, Any]] = {}
    entries = data.get("catalog", [])
    for c in entries if isinstance(entries, list) else [None]:
        kind, ent = (c.get("kind"), c.get("entitlement")) if isinstance(c, dict) else (None, None)
        if not (isinstance(kind, str) and isinstance(ent, str)) or ent in catalog.get(kind, {}):
            break
        catalog.setdefault(kind, {})[ent] = c
    else:
        index["catalog"] = catalog
    return index


def _list_at(data: dict[str, Any], section: str, key: str) -> Any:
    part = data.get(section)
    return part.get(key, []) if isinstance(part, dict) else []


def _keyed(items: Any, key_of: Any) -> dict[str, Any] | None:
    """``{key: item}``, or None when a key is missing, not a string or twice."""
    if items is None:
        return {}
    if not isinstance(items, list):
        return None
    out: dict[str, Any] = {}
    for item in items:
        key = key_of(item) if isinstance(item, dict) else None
        if key is None or key in out:
            return None
        out[key] = item
    return out


def fold(login: str) -> str:
    """Python's twin of lib.fold: lower case for ASCII only (Go and Rust lower
    some other letters differently, so those are compared as written)."""
    return login.lower() if login.isascii() else login


class Engine(Protocol):
    name: str

    def decide(self, input_doc: dict[str, Any]) -> dict[str, Any]:
        """``data.access.decision`` for one input document."""
        ...


_REGORUS_WHERE = re.compile(r"-->\s*(\S+:\d+:\d+)")
_REGORUS_ERROR = re.compile(r"^error:\s*(.+)$", re.M)


def regorus_error(exc: Exception) -> str:
    """regorus errors carry a Rust backtrace: keep ``file:line:col: what``."""
    text = str(exc)
    where = _REGORUS_WHERE.search(text)
    what = _REGORUS_ERROR.search(text)
    if where and what:
        return f"{where.group(1)}: {what.group(1).strip()}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class RegorusEngine:
    """The embedded default: regorus in-process, compiled once per run."""

    name = "regorus"

    def __init__(self, bundle: PolicyBundle):
        import regorus
        self._engine = regorus.Engine()
        for path, source in sorted(bundle.modules.items()):
            try:
                self._engine.add_policy(path, source)
            except RuntimeError as exc:
                raise FindingError(f"policy does not compile ({bundle.source}): {regorus_error(exc)}") from None
        self._engine.add_data_json(json.dumps(bundle.data))

    def decide(self, input_doc: dict[str, Any]) -> dict[str, Any]:
        self._engine.set_input_json(json.dumps(input_doc))
        try:
            raw = self._engine.eval_rule_as_json(ENTRYPOINT)
        except RuntimeError as exc:
            raise FindingError(f"policy evaluation failed for {input_doc.get('file')}: {regorus_error(exc)}") from None
        result = json.loads(raw)
        if not isinstance(result, dict):
            raise FindingError(f"{ENTRYPOINT} is undefined for {input_doc.get('file')}; the policies are incomplete")
        return result

    def eval_rule(self, rule: str) -> Any:
        """One rule with no input (the Rego test runner uses this)."""
        self._engine.set_input_json("{}")
        return json.loads(self._engine.eval_rule_as_json(rule))


def policy_id(path: str) -> str:
    """OPA policy id for a module: namespaced so we only ever replace ours."""
    return OPA_POLICY_PREFIX + path


class OpaServerEngine:
    """A real OPA server (``ACCESSCTL_OPA_URL``), through opa-python-client:
    PUT /v1/policies/<id> per module, PUT /v1/data/org, then
    POST /v1/data/access/decision per file. Modules we pushed earlier that
    no longer exist are deleted so a removed rule cannot linger."""

    name = "opa-server"

    def __init__(self, bundle: PolicyBundle, url: str, timeout: float = 10.0):
        from opa_client.opa import OpaClient
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"ACCESSCTL_OPA_URL {url!r} must look like http://HOST:PORT")
        port = parts.port or (443 if parts.scheme == "https" else 8181)
        self._client = OpaClient(host=parts.hostname, port=port, ssl=parts.scheme == "https",
                                 timeout=timeout, retries=2)
        self._url = url
        try:
            self._push(bundle)
        except UsageError:
            raise
        except Exception as exc:
            # Nothing was decided: the check fails closed (exit 2) and says why.
            raise UsageError(f"OPA server at {url}: {opa_errors.describe(exc).message}") from None

    def _push(self, bundle: PolicyBundle) -> None:
        ours = {policy_id(p) for p in bundle.modules}
        for stale in self._client.get_policies_list():
            if stale.startswith(OPA_POLICY_PREFIX) and stale not in ours:
                self._client.delete_policy(stale)
        for path, source in sorted(bundle.modules.items()):
            self._client.update_policy_from_string(source, policy_id(path), rego_compat=False)
        self._client.update_or_create_data(bundle.data["org"], "org")

    def decide(self, input_doc: dict[str, Any]) -> dict[str, Any]:
        """An evaluation error is a finding about this file (it is denied);
        a server that cannot be reached or refuses the call stops the run."""
        try:
            response = self._client.query_rule(input_doc, "access", "decision")
        except Exception as exc:
            failure = opa_errors.describe(exc)
            if failure.evaluation:
                raise FindingError(f"OPA server at {self._url} could not evaluate {input_doc.get('file')}: "
                                   f"{failure.message}") from None
            raise UsageError(f"OPA server at {self._url}: {failure.message}") from None
        result, problem = opa_errors.result_of(response)
        if result is None:
            raise FindingError(f"OPA server at {self._url}, {input_doc.get('file')}: {problem}")
        return result

    def close(self) -> None:
        self._client.close_connection()


def engine_for(bundle: PolicyBundle, env: dict[str, str] | None = None) -> Engine:
    """The OPA server when ACCESSCTL_OPA_URL is set, else embedded regorus."""
    url = (env if env is not None else os.environ).get("ACCESSCTL_OPA_URL")
    return OpaServerEngine(bundle, url) if url else RegorusEngine(bundle)
