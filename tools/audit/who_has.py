"""Who has what, and why: live-able grants joined with their provenance.

A row is one grant of the desired state on ``main`` with what an auditor
asks next: which request file, which PR merged it and when, who approved
(from the apply record; unknown when the run had no GitHub context), when
it expires, its risk tier and owner. ``--live`` adds what the clouds say:
grants the repository cannot explain (live with no request) and requests
the cloud does not reflect, through the same plan apply uses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from tools.audit import git as audit_git
from tools.core import orgmodel
from tools.core.connector import Connector
from tools.core.errors import UsageError
from tools.core.model import IDENTITY_KINDS, Action, Grant, Target
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree
from tools.provision import record as records
from tools.provision.apply import build_plan, desired_state


@dataclass(frozen=True)
class Provenance:
    """How a request file reached its current state on main."""

    request: str
    pr: int | None
    merged_at: datetime | None  # when its current content reached main
    merged_sha: str | None
    author: str | None
    first_granted: datetime | None  # when the file was first added
    approvers: tuple[str, ...] | None  # None = unknown
    applied_at: datetime | None = None  # last successful apply of this grant


@dataclass
class Row:
    grant: Grant
    target: Target
    tier: str
    owner: str
    prov: Provenance | None
    live: str = "not checked"  # "not checked" | "live" | "missing in cloud" | "differs: …" | "unexplained"

    def as_json(self) -> dict:
        p = self.prov
        return {
            "provider": self.grant.provider, "target": self.target.id, "target_name": self.target.name,
            "principal": self.grant.principal, "kind": self.grant.kind, "entitlement": self.grant.entitlement,
            "tier": self.tier, "owner": self.owner,
            "expires": _iso(self.grant.expires), "request": self.grant.request,
            "pr": p.pr if p else None, "merged_at": _iso(p.merged_at) if p else None,
            "merge_commit": p.merged_sha if p else None, "author": p.author if p else None,
            "first_granted": _iso(p.first_granted) if p else None,
            "approvers": list(p.approvers) if p and p.approvers is not None else None,
            "applied_at": _iso(p.applied_at) if p else None,
            "live": self.live,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass
class Evidence:
    """Git history and apply records, each read once per command."""

    history: dict[str, list[audit_git.FileChange]]
    approvers_by_pr: dict[int, tuple[str, ...]] = field(default_factory=dict)
    applied: dict[tuple, datetime] = field(default_factory=dict)  # grant key -> last ok apply

    @classmethod
    def load(cls, root: Path, record_path: Path | None) -> "Evidence":
        ev = cls(audit_git.by_path(audit_git.changes(root)))
        for r in records.read_all(root, record_path):
            if r.pr is not None and r.approvers is not None:
                ev.approvers_by_pr[r.pr] = r.approvers
            if r.ok and r.action not in ("reviewed", "review-revoke"):  # attestations are not applies
                g = r.grant
                key = (g.get("provider"), g.get("target"), g.get("principal"), g.get("kind"), g.get("entitlement"))
                ev.applied[key] = max(r.time, ev.applied.get(key, r.time))
        return ev

    def provenance(self, grant: Grant) -> Provenance | None:
        if not grant.request or grant.request not in self.history:
            return None
        seen = self.history[grant.request]
        last = seen[0].commit
        added = next((fc.commit.time for fc in seen if fc.status == "A"), None)
        approvers = self.approvers_by_pr.get(last.pr) if last.pr is not None else None
        return Provenance(grant.request, last.pr, last.time, last.sha, last.author, added, approvers,
                          self.applied.get(grant.key))


def tier_and_owner(grant: Grant, target: Target, org: OrgModel) -> tuple[str, str]:
    """Risk tier from the catalog; owner = the approving team (catalog owner,
    else the target's owner), or the identity's owner for an identity."""
    if grant.kind in IDENTITY_KINDS.values():
        return "identity", grant.attr("owner") or target.owner
    entry = org.catalog.get((grant.kind, grant.entitlement))
    if entry is None:
        return "uncatalogued", target.owner
    return entry.tier.value, entry.owner or target.owner


def resolve_target(org: OrgModel, text: str) -> Target:
    """An account name or id, a project id, or ``aws/<name>`` / ``gcp/<id>``."""
    provider, slash, rest = text.partition("/")
    wanted = rest if slash and provider in ("aws", "gcp") else text
    found = [t for t in org.targets.values()
             if (not slash or t.provider == provider) and wanted in (t.id, t.name)]
    if not found:
        known = ", ".join(sorted(t.name for t in org.targets.values()))
        raise UsageError(f"{text!r} is not an account or project in {orgmodel.DATA_DIR} (known: {known})")
    if len(found) > 1:
        raise UsageError(f"{text!r} names more than one target; write aws/{wanted} or gcp/{wanted}")
    return found[0]


def rows(root: Path, org: OrgModel, now: datetime, evidence: Evidence,
         where: Callable[[Grant], bool] = lambda g: True) -> list[Row]:
    wanted = desired_state(Tree(root), org, now)
    out = []
    for g in wanted.grants:
        target = org.target_by_id(g.provider, g.target)
        if target is None or not where(g):
            continue
        tier, owner = tier_and_owner(g, target, org)
        out.append(Row(g, target, tier, owner, evidence.provenance(g)))
    return out


def role_filter(target: Target, role: str | None) -> Callable[[Grant], bool]:
    def keep(g: Grant) -> bool:
        return (g.provider, g.target) == (target.provider, target.id) and (role is None or g.entitlement == role)
    return keep


@dataclass
class Unexplained:
    """A live grant in the managed scope that no request on main explains."""

    grant: Grant
    cloud_says: str | None  # the request path the cloud stores, if any

    def as_json(self) -> dict:
        g = self.grant
        return {"provider": g.provider, "target": g.target, "principal": g.principal, "kind": g.kind,
                "entitlement": g.entitlement, "expires": _iso(g.expires), "cloud_request": self.cloud_says,
                "why": self.why}

    @property
    def why(self) -> str:
        if self.cloud_says:
            return f"the cloud attributes it to {self.cloud_says}, which main no longer grants"
        return "no request on main grants this and the cloud records no request"


def cross_check(root: Path, now: datetime, target: Target, found: list[Row], role: str | None,
                factory: Callable[[str, OrgModel], Connector] | None = None) -> list[Unexplained]:
    """Mark each row live / missing / differing and list live grants nobody requested.

    Uses apply's own plan (desired vs a fresh read of the target), so audit
    and apply can never disagree about what is explained.
    """
    planned = build_plan(root, now, (target.provider,), factory=factory,
                         where=lambda t: (t.provider, t.id) == (target.provider, target.id))
    plan = planned.plan
    pending = [*plan.changes, *(h.change for h in plan.held)]
    by_key = {}
    unexplained = []
    for c in pending:
        if role is not None and c.grant.entitlement != role:
            continue
        if c.action is Action.REMOVE:
            unexplained.append(Unexplained(c.grant, c.grant.request))
        else:
            by_key[c.grant.key] = c
    for row in found:
        c = by_key.get(row.grant.key)
        row.live = "live" if c is None else "missing in cloud" if c.action is Action.ADD else f"differs: {c.reason}"
    return sorted(unexplained, key=lambda u: u.grant.key)
