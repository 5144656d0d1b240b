"""One principal's timeline: every grant, change, renewal, expiry and revocation.

Git says what was asked for and approved (each merged change to a request
naming the principal, deleted files included: they are found by what they
said, not by their path); the apply record says what the applier did and
whether it worked. Both are read once: one ``git log -p`` over
``requests/`` and one pass over the record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tools.audit import git as audit_git
from tools.core import yamlsafe
from tools.core.errors import UsageError
from tools.core.expiry import parse_expiry
from tools.core.model import KINDS, Principal
from tools.core.orgmodel import OrgModel
from tools.provision import record as records
from tools.provision.teams_sync import SYSTEM_LABEL

TEAM_EVENTS = {"team-add": "added to", "team-remove": "removed from"}
from tools.request.load import path_parts


@dataclass(frozen=True)
class Snapshot:
    """What one version of a request file said, as far as history needs."""

    principal: str
    expires: datetime | None
    grants: frozenset[str]  # human-readable "kind entitlement in target"
    identity: bool


@dataclass(frozen=True)
class Event:
    time: datetime
    kind: str  # grant | change | renewal | shortened | revocation | expiry | identity-created | identity-removed | applied | team
    request: str | None
    detail: str
    pr: int | None = None
    commit: str | None = None
    author: str | None = None
    source: str = "git"  # git | apply-record | expiry

    def as_json(self) -> dict:
        return {"time": self.time.isoformat().replace("+00:00", "Z"), "event": self.kind, "request": self.request,
                "detail": self.detail, "pr": self.pr, "commit": self.commit, "author": self.author,
                "source": self.source}


def resolve_principal(org: OrgModel, text: str) -> str:
    """Canonical principal from what an auditor types: ``user:…``, an email,
    a GitHub login, ``group:…`` or a team key, ``serviceAccount:<target>/<name>``."""
    if ":" in text:
        try:
            return str(Principal.parse(text))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if "@" in text:
        return f"user:{text.lower()}"
    person = org.people_by_login.get(text.lower())
    if person is not None:
        return f"user:{person.email}"
    if text in org.teams:
        return f"group:{text}"
    raise UsageError(f"{text!r} is not an email, GitHub login, team or principal; write e.g. "
                     "user:erin@acme.example, group:sre or serviceAccount:acme-data-prod/etl-runner")


def snapshot(text: str | None, path: str) -> Snapshot | None:
    """Parse one version safely; a version that was never valid says nothing."""
    if text is None:
        return None
    try:
        data = yamlsafe.loads(text).data
    except yamlsafe.YamlError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        expires = parse_expiry(str(data["expires"])) if data.get("expires") else None
    except ValueError:
        expires = None
    target_name = path_parts(path)[1]
    if data.get("kind") == "ServiceAccount":
        target = data.get("account") or data.get("project") or target_name
        name = data.get("name")
        if not name:
            return None
        return Snapshot(f"serviceAccount:{target}/{name}", expires,
                        frozenset({f"{data.get('provider', '')} identity {name} in {target}"}), True)
    try:
        principal = str(Principal.parse(str(data.get("principal", ""))))
    except ValueError:
        return None
    grants = set()
    for g in data.get("grants") or []:
        spec = KINDS.get(g.get("kind")) if isinstance(g, dict) else None
        if spec is not None:
            grants.add(f"{spec.name} {g.get(spec.entitlement_field)} in {g.get(spec.target_field)}")
    return Snapshot(principal, expires, frozenset(grants), False)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%MZ") if value else "no expiry"


def _describe(snap: Snapshot) -> str:
    return "; ".join(sorted(snap.grants)) + f" (expires {_when(snap.expires)})"


def _git_event(fc: audit_git.FileChange, principal: str) -> Event | None:
    old, new = snapshot(fc.old, fc.path), snapshot(fc.new, fc.path)
    had, has = old is not None and old.principal == principal, new is not None and new.principal == principal
    if not had and not has:
        return None
    c = fc.commit

    def ev(kind: str, detail: str) -> Event:
        return Event(c.time, kind, fc.path, detail, c.pr, c.sha, c.author)

    if has and not had:
        return ev("identity-created" if new.identity else "grant", _describe(new))
    if had and not has:
        moved = "" if fc.status == "D" else f" (the file now names {new.principal if new else 'nobody valid'})"
        return ev("identity-removed" if old.identity else "revocation", _describe(old) + moved)
    parts = []
    if old.expires != new.expires:
        parts.append(f"expiry {_when(old.expires)} → {_when(new.expires)}")
    for g in sorted(new.grants - old.grants):
        parts.append(f"+ {g}")
    for g in sorted(old.grants - new.grants):
        parts.append(f"- {g}")
    if old.grants == new.grants and old.expires is not None and new.expires is not None:
        kind = "renewal" if new.expires > old.expires else "shortened" if new.expires < old.expires else "change"
    else:
        kind = "change"
    return ev(kind, "; ".join(parts) or "edited (justification, ticket or comments)")


def history(root: Path, org: OrgModel, principal: str, now: datetime, record_path: Path | None = None
            ) -> list[Event]:
    """The timeline, oldest first."""
    events: list[Event] = []
    last_state: dict[str, tuple[Snapshot | None, datetime | None]] = {}  # path -> final state, deletion time
    for fc in audit_git.changes(root, content=True):  # newest first
        e = _git_event(fc, principal)
        if e is not None:
            events.append(e)
        if fc.path not in last_state:  # the newest change says how the file ended
            if fc.status == "D":
                last_state[fc.path] = (snapshot(fc.old, fc.path), fc.commit.time)
            else:
                last_state[fc.path] = (snapshot(fc.new, fc.path), None)
    for path, (snap, deleted_at) in last_state.items():
        if snap is None or snap.principal != principal or snap.expires is None or snap.expires > now:
            continue
        if deleted_at is None or snap.expires < deleted_at:
            still = "" if deleted_at else "; the file is still on main, the expire job removes it"
            events.append(Event(snap.expires, "expiry", path, _describe(snap) + still, source="expiry"))
    for r in records.read_all(root, record_path):
        if r.principal != principal:
            continue
        g = r.grant
        outcome = "ok" if r.ok else f"FAILED: {r.error or 'unknown error'}"
        if r.action in TEAM_EVENTS:  # teams apply / reconcile fix: a membership, not a grant
            t = r.raw.get("team") or {}
            events.append(Event(r.time, "team", r.request,
                                f"{TEAM_EVENTS[r.action]} {SYSTEM_LABEL.get(t.get('system'), t.get('system'))} "
                                f"{t.get('group')} (team {t.get('team')}; {r.raw.get('reason')}): {outcome}",
                                r.pr, r.commit, r.actor, "apply-record"))
            continue
        events.append(Event(r.time, "applied", r.request,
                            f"{r.action} {g.get('kind')} {g.get('entitlement')} in {g.get('target')}: {outcome}"
                            + (f"; approvers {', '.join(r.approvers)}" if r.approvers else ""),
                            r.pr, r.commit, r.actor, "apply-record"))
    # Git events came newest first: reverse them, then a stable sort by time
    # keeps git's order among commits made in the same second.
    git_events = [e for e in events if e.source == "git"][::-1]
    return sorted(git_events + [e for e in events if e.source != "git"], key=lambda e: e.time)
