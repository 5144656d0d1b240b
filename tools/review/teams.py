"""Where GitHub's teams and the org model disagree (``accessctl teams check``).

Why: approvals are judged by team membership in the org model at the base
commit (``teams.yaml``, GitHub logins), never by GitHub's membership API,
which the Actions token cannot read. GitHub's teams still matter to people
(CODEOWNERS review requests, @-mentions), so a drift between the two should
be seen and fixed through a reviewed PR to the org model (or in GitHub).
The comparison is pure set arithmetic, so it is table-tested without I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from tools.core.orgmodel import OrgModel


@dataclass(frozen=True, slots=True)
class TeamDrift:
    team: str  # org model key
    github_team: str  # "org/slug"
    missing_on_github: tuple[str, ...]  # in teams.yaml, not an active member on GitHub
    extra_on_github: tuple[str, ...]  # on GitHub, not in teams.yaml
    team_missing: bool = False  # GitHub shows no such team

    def as_json(self) -> dict[str, Any]:
        return {"team": self.team, "github_team": self.github_team, "team_missing": self.team_missing,
                "missing_on_github": list(self.missing_on_github), "extra_on_github": list(self.extra_on_github)}


def compare(model: Iterable[str], github: Iterable[str] | None, team: str, github_team: str) -> TeamDrift | None:
    """One team's disagreement (logins compared case-insensitively, as GitHub does), or None."""
    want = {m.lower(): m for m in model}
    if github is None:
        return TeamDrift(team, github_team, tuple(sorted(want.values())), (), team_missing=True)
    have = {m.lower(): m for m in github}
    missing = tuple(sorted(want[k] for k in want.keys() - have.keys()))
    extra = tuple(sorted(have[k] for k in have.keys() - want.keys()))
    return TeamDrift(team, github_team, missing, extra) if missing or extra else None


def check(org: OrgModel, members: Callable[[str], list[str] | None]) -> list[TeamDrift]:
    """Every team of the org model against ``members("org/slug")`` (None: no such team)."""
    found = []
    for key in sorted(org.teams):
        t = org.teams[key]
        d = compare(t.members, members(t.github_team), key, t.github_team)
        if d is not None:
            found.append(d)
    return found
