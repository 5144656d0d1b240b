"""Pure translation between project IAM policies and canonical grants.

No SDK here: bindings are plain dataclasses, so the read mapping and the
in-memory edit of one read-modify-write are tested without a server. The
edit only ever touches bindings of the roles the pipeline manages; every
other binding passes through as the very same value, in the same place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from tools.core.expiry import format_expiry, parse_expiry
from tools.core.orgmodel import OrgModel

SA_DOMAIN = ".iam.gserviceaccount.com"
TITLE_PREFIX = "accessctl:"  # marks the conditions the pipeline wrote
TITLE_LIMIT = 100  # GCP's limit on a condition title
EXPIRY = re.compile(r"""^\s*request\.time\s*<\s*timestamp\(\s*["']([^"']+)["']\s*\)\s*$""")
DESCRIPTION = re.compile(r"^granted by accessctl from (?P<path>\S+); expires (?P<ts>\S+)$")


@dataclass(frozen=True, slots=True)
class Condition:
    expression: str
    title: str = ""
    description: str = ""
    location: str = ""


@dataclass(frozen=True, slots=True)
class Binding:
    role: str
    members: tuple[str, ...]
    condition: Condition | None = None


@dataclass(frozen=True, slots=True)
class Live:
    """One member found in a managed role, before duplicates are merged."""

    principal: str
    role: str
    expires: datetime | None
    request: str | None


class Members:
    """Canonical principal ↔ GCP member string, for one org model.

    Teams become their Workspace group; ``serviceAccount:<project>/<name>``
    becomes the account's email. Members the org model does not know keep a
    form that cannot collide with a canonical one (``group:x@y``,
    ``serviceAccount:<email>``), so the diff reports them as extra.
    """

    def __init__(self, org: OrgModel):
        self._team_email = {key: t.group_email.lower() for key, t in org.teams.items() if t.group_email}
        self._email_team = {email: key for key, email in self._team_email.items()}

    def to_member(self, principal: str) -> str:
        kind, _, ident = principal.partition(":")
        if kind == "user":
            return f"user:{ident.lower()}"
        if kind == "group":
            if "@" in ident:
                return f"group:{ident.lower()}"
            if ident not in self._team_email:
                raise ValueError(f"team {ident!r} has no group_email in policies/data/teams.yaml")
            return f"group:{self._team_email[ident]}"
        if kind == "serviceAccount" and "/" in ident:
            project, _, name = ident.partition("/")
            return f"serviceAccount:{name}@{project}{SA_DOMAIN}"
        return principal

    def to_principal(self, member: str) -> str:
        kind, _, ident = member.partition(":")
        if kind == "user":
            return f"user:{ident.lower()}"
        if kind == "group":
            return f"group:{self._email_team.get(ident.lower(), ident.lower())}"
        if kind == "serviceAccount" and ident.lower().endswith(SA_DOMAIN):
            name, _, project = ident.lower()[: -len(SA_DOMAIN)].partition("@")
            return f"serviceAccount:{project}/{name}"
        return member


def expiry_condition(request: str, expires: datetime) -> Condition:
    """The condition every binding the pipeline adds carries: GCP itself stops
    honouring the grant at expiry, even if the expire job never runs."""
    ts = format_expiry(expires)
    title = TITLE_PREFIX + request
    if len(title) > TITLE_LIMIT:
        title = TITLE_PREFIX + "…" + request[-(TITLE_LIMIT - len(TITLE_PREFIX) - 1):]
    return Condition(f'request.time < timestamp("{ts}")', title,
                     f"granted by accessctl from {request}; expires {ts}")


def parse_condition(cond: Condition | None) -> tuple[datetime | None, str | None]:
    """(expiry, request path) of a condition the pipeline wrote; (None, None)
    for no condition or a foreign one, which grant access without our expiry."""
    if cond is None or not cond.title.startswith(TITLE_PREFIX):
        return None, None
    m = EXPIRY.match(cond.expression)
    if not m:
        return None, None
    try:
        expires = parse_expiry(m.group(1))
    except ValueError:
        return None, None
    d = DESCRIPTION.match(cond.description)
    request = d.group("path") if d else cond.title[len(TITLE_PREFIX):]
    return expires, request


def is_deleted(member: str) -> bool:
    """``deleted:serviceAccount:{email}?uid={id}`` (and ``deleted:user:``/``deleted:group:``):
    what GCP leaves in a binding after the principal is deleted
    (cloudresourcemanager.v3.json, schemas.Binding.properties.members). It grants
    nothing: a new principal with the same name is a different uid."""
    return member.startswith("deleted:")


def live_members(bindings: Iterable[Binding], roles: Sequence[str], members: Members) -> list[Live]:
    """Members of managed roles as live access. Deleted principals are the
    remains of a revocation (an account the pipeline deleted, or one deleted by
    hand), not access anyone holds, so they are not reported as extra; the next
    write to that role drops them (``edit``)."""
    managed = set(roles)
    out = []
    for b in bindings:
        if b.role not in managed:
            continue
        expires, request = parse_condition(b.condition)
        out.extend(Live(members.to_principal(m), b.role, expires, request) for m in b.members
                   if not is_deleted(m))
    return out


def merge(found: Iterable[Live]) -> list[Live]:
    """One entry per (principal, role): the access actually in force. Any
    binding without our expiry means access that never expires (None);
    otherwise the latest expiry wins."""
    best: dict[tuple[str, str], Live] = {}
    for item in found:
        key = (item.principal, item.role)
        have = best.get(key)
        if have is None:
            best[key] = item
        elif have.expires is None:
            continue
        elif item.expires is None or item.expires > have.expires:
            best[key] = item
    return list(best.values())


@dataclass(frozen=True, slots=True)
class Ensure:
    """``member`` must hold ``role`` exactly once, under ``condition``."""

    member: str
    role: str
    condition: Condition


@dataclass(frozen=True, slots=True)
class Revoke:
    member: str
    role: str


def edit(bindings: Sequence[Binding], ensure: Sequence[Ensure], revoke: Sequence[Revoke]) -> list[Binding]:
    """The bindings after one batch of changes, computed in memory.

    Only roles named by a change are edited; a member is removed from every
    other binding of its role (a console grant, an older expiry) so exactly
    the desired binding remains, and deleted principals' remains are dropped. One binding per (role, condition); empty
    edited bindings are dropped; new bindings go at the end.
    """
    wanted = {(e.member.lower(), e.role): e.condition for e in ensure}
    strip = {(r.member.lower(), r.role) for r in revoke} | set(wanted)
    roles = {role for _, role in strip}
    out: list[Binding] = []
    placed: set[tuple[str, str]] = set()
    for b in bindings:
        if b.role not in roles:
            out.append(b)
            continue
        kept = [m for m in b.members if not is_deleted(m) and (
                (m.lower(), b.role) not in strip or wanted.get((m.lower(), b.role), 0) == b.condition)]
        for e in ensure:
            key = (e.member.lower(), e.role)
            if e.role == b.role and e.condition == b.condition and key not in placed:
                if all(m.lower() != key[0] for m in kept):
                    kept.append(e.member)
                placed.add(key)
        placed.update((m.lower(), b.role) for m in kept if (m.lower(), b.role) in wanted)
        if kept:
            out.append(b if tuple(kept) == b.members else Binding(b.role, tuple(kept), b.condition))
    fresh: dict[tuple[str, Condition], list[str]] = {}
    for e in ensure:
        if (e.member.lower(), e.role) not in placed:
            placed.add((e.member.lower(), e.role))
            fresh.setdefault((e.role, e.condition), []).append(e.member)
    out.extend(Binding(role, tuple(ms), cond) for (role, cond), ms in fresh.items())
    return out
