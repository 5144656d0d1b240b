"""What ``accessctl review open`` proposes: one review file per owning team
with grants due, and the one reminder before each deadline. Pure.

The review PR is the whole interface: owners read the file, change an
entry's ``decision`` to ``revoke`` where the access is no longer needed,
and approve. Their approval of the head commit is the attestation (the PR
check judges it through ``access.rules.access_reviews``); the merge makes
the file an input of the desired state (tools.provision.access_reviews).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from tools.core.expiry import format_expiry
from tools.core.orgmodel import OrgModel
from tools.core.usage import LastUsed
from tools.provision.access_reviews import Status, review_path, settings

BRANCH = "accessctl/review/{team}-{date}"
BRANCH_PREFIX = "accessctl/review/{team}-"
REMINDER_KIND = "review-reminder"


@dataclass(frozen=True)
class TeamReview:
    team: str
    path: str  # reviews/<yyyy-mm-dd>/<team>.yaml
    branch: str
    due: tuple[Status, ...]
    deadline: datetime  # the earliest deadline among the entries
    text: str  # the review file

    @property
    def requesters(self) -> list[str]:
        return sorted({s.requester for s in self.due if s.requester})


def due_by_team(found: list[Status]) -> dict[str, list[Status]]:
    """Requests whose review is due and not yet past the deadline, per owning
    team (an overdue one has already left, or is reported, per the org model)."""
    out: dict[str, list[Status]] = {}
    for s in found:
        if s.state == "due" and s.team:
            out.setdefault(s.team, []).append(s)
    return {k: sorted(v, key=lambda s: s.request) for k, v in sorted(out.items())}


def _q(value: object) -> str:
    return "null" if value is None else json.dumps(str(value))  # a JSON string is a YAML string


def _last_used(value: LastUsed | None) -> str:
    """``last_used: "<date>|never|not reported|unknown"  # what the cloud said``;
    ``null`` when the clouds were not read."""
    if value is None:
        return "null  # the clouds were not read"
    said = "; ".join(x for x in (value.detail, value.source) if x)
    return _q(value.text()) + (f"  # {' '.join(said.split())}" if said else "")


def review_text(team: str, org: OrgModel, due: list[Status], now: datetime,
                last_used: dict[tuple, LastUsed] | None = None) -> str:
    """The review file: every grant of every due request, each ``keep``.

    ``last_used``: grant key → when the cloud last saw it used
    (tools.jobs.last_used), a date or why there is none."""
    gh = org.teams[team].github_team if team in org.teams else team
    deadline = min(s.deadline for s in due)
    lines = [
        f"# Access review of team {team} (@{gh}), opened {now:%Y-%m-%d}.",
        f"# Deadline {deadline:%Y-%m-%d}: past it, access nobody attested is removed"
        + (" (the org model says: only reported)." if settings(org).overdue == "report" else "."),
        "# For each grant still needed, leave `decision: keep`. For access no longer needed,",
        "# change it to `decision: revoke` (every grant of one request file together).",
        "# Then approve the latest commit: that approval is the attestation.",
        "kind: AccessReview",
        f"team: {_q(team)}",
        f"opened: {_q(f'{now:%Y-%m-%d}')}",
        f"deadline: {_q(f'{deadline:%Y-%m-%d}')}",
        "grants:",
    ]
    for s in due:
        for g in s.grants:
            target = org.target_by_id(g.provider, g.target)
            lines += [
                f"  - request: {_q(s.request)}",
                f"    principal: {_q(g.principal)}",
                f"    kind: {_q(g.kind)}",
                f"    entitlement: {_q(g.entitlement)}",
                f"    target: {_q(g.target)}" + (f"  # {target.name}" if target and target.name != g.target else ""),
                f"    tier: {_q(s.tier)}",
                f"    requester: {_q(s.requester)}",
                f"    last_review: {_q(format_expiry(s.last_review.time) if s.last_review else None)}"
                + ("" if s.last_review else f"  # never reviewed; merged {s.since:%Y-%m-%d}"),
                f"    last_used: {_last_used((last_used or {}).get(g.key))}",
                "    decision: keep",
            ]
    return "\n".join(lines) + "\n"


def proposals(found: list[Status], org: OrgModel, now: datetime,
              last_used: dict[tuple, LastUsed] | None = None) -> list[TeamReview]:
    out = []
    for team, due in due_by_team(found).items():
        out.append(TeamReview(team, review_path(now.date(), team),
                              BRANCH.format(team=team, date=f"{now:%Y-%m-%d}"), tuple(due),
                              min(s.deadline for s in due), review_text(team, org, due, now, last_used)))
    return out


def pr_body(review: TeamReview, org: OrgModel) -> str:
    gh = org.teams[review.team].github_team if review.team in org.teams else review.team
    return (f"@{gh}: {len(review.due)} access request(s) owned by team `{review.team}` are due for review "
            f"(deadline {review.deadline:%Y-%m-%d}).\n\n"
            f"Open `{review.path}`: mark `decision: revoke` what is no longer needed, leave `keep` for the rest, "
            "and approve the latest commit. Your approval is the attestation; you cannot attest access you hold "
            "yourself, and privileged access also needs the security team.\n\n"
            "On merge, revoked access is removed at once; kept access starts a new review period.\n\n"
            + "\n".join(f"- `{s.request}` ({s.tier}, requested by @{s.requester or '?'})" for s in review.due)
            + "\n")


def reminder_due(due: list[Status], now: datetime, days: int) -> bool:
    return any(now >= s.deadline - timedelta(days=days) for s in due)


def reminder_text(team: str, requesters: list[str], deadline: datetime, org: OrgModel) -> str:
    gh = org.teams[team].github_team if team in org.teams else team
    who = " ".join(f"@{r}" for r in requesters)
    return (f"Reminder: this access review ends on {deadline:%Y-%m-%d}. @{gh}, please review and approve; "
            f"{who + ': ' if who else ''}access nobody attests by then "
            + ("is reported as overdue." if settings(org).overdue == "report" else "is removed.") + "\n")
