"""The revocation log: every removal of access the pipeline made (or tried),
with when, by which job and run, and why.

Why from the durable record and not from git: git shows that a request file
left main, not that the access actually went, when, or that a scheduled job
(expiry, a drift fix) removed access no commit mentions. Every writer
appends its revocations to the durable record (tools.provision.durable) as
it makes them, so this log is the record's ``remove`` lines and the writes
around them (cut sessions, deleted identities, team removals), read back by
``records.read_all``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from tools.provision.record import TEAM_ACTIONS, UNKNOWN_OUTCOME, Record

# A team removal is a revocation too: the team's grants were the member's access.
TEAM_REMOVE = TEAM_ACTIONS["remove"]
REVOKING_ACTIONS = ("remove", "revoke-sessions", "delete-identity", TEAM_REMOVE)
EXPIRY, REVIEW, WITHDRAWN, REMOVAL, DRIFT, TEAMS = "expiry", "access review", "withdrawn by the org model", \
    "request removed", "drift fix", "team membership"


@dataclass(frozen=True)
class Revocation:
    time: datetime
    principal: str
    provider: str
    target: str
    kind: str
    entitlement: str
    action: str
    job: str
    run: str | None
    commit: str | None
    pr: int | None
    cause: str  # one of the constants above: what an auditor filters on
    reason: str  # the writer's own words
    outcome: str  # "revoked", "failed: …" or the outcome-unknown note

    def as_json(self) -> dict:
        return {"time": self.time.isoformat().replace("+00:00", "Z"), "principal": self.principal,
                "provider": self.provider, "target": self.target, "kind": self.kind,
                "entitlement": self.entitlement, "action": self.action, "job": self.job, "run": self.run,
                "commit": self.commit, "pr": self.pr, "cause": self.cause, "reason": self.reason,
                "outcome": self.outcome}


def cause(job: str, action: str, reason: str) -> str:
    """Why access was removed, from the writer and its reason. The reasons
    are the writers' own (tools/jobs/expire.py, tools/provision/apply.py and
    plan.py, tools/provision/teams_sync.py); anything a job other than apply removed as unrequested is drift."""
    text = reason.lower()
    if action == TEAM_REMOVE:  # teams.yaml or people.yaml changed (teams apply), or a hand-made membership
        return DRIFT if job == "reconcile" else TEAMS
    if job == "expire" or action == "delete-identity" or text.startswith("expired") or "expired " in text:
        return EXPIRY
    if "review" in text:
        return REVIEW
    if "withdrew" in text or "withdrawn" in text:
        return WITHDRAWN
    if job == "reconcile":
        return DRIFT
    return REMOVAL


def log(records: Iterable[Record]) -> list[Revocation]:
    """Revocations, newest first."""
    out = []
    for r in records:
        if r.action not in REVOKING_ACTIONS:
            continue
        g, raw = r.grant, r.raw
        reason = str(raw.get("reason") or "")
        job = str(raw.get("job") or "apply")
        if r.ok:
            outcome = "revoked"
        elif r.error == UNKNOWN_OUTCOME:
            outcome = r.error
        else:
            outcome = f"failed: {r.error or 'unknown error'}"
        out.append(Revocation(r.time, str(g.get("principal", "")), str(g.get("provider", "")),
                              str(g.get("target", "")), str(g.get("kind", "")), str(g.get("entitlement", "")),
                              r.action, job, r.run, r.commit, r.pr, cause(job, r.action, reason), reason, outcome))
    return sorted(out, key=lambda v: v.time, reverse=True)
