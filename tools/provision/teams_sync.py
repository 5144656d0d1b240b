"""Team membership as code: converge GitHub, Identity Center and Google Groups to ``teams.yaml``.

Why here: membership is written once, in the org model (``policies/data/
teams.yaml`` lists logins, ``people.yaml`` maps each login to the email the
clouds know and says who is active). The same members feed approvals (at
the base commit), ``group:`` access and these three systems, so a team means
the same people everywhere. The diff is pure set arithmetic over
case-normalised identities (GitHub logins, emails), like the grant plan.

What is removed, and when:
- a member the org model knows (in people.yaml) but the team no longer
  lists, or who is inactive: removed in every mode (the reviewed file says so);
- a member the org model does not know at all (added by hand in the system):
  reported, and removed only when the team's mode is ``enforced``.
Removals are capped by the same blast-radius guard as grants.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from tools.core.orgmodel import OrgModel, Team
from tools.provision import record

SYSTEMS = ("github", "identity-center", "google-groups")
# Loaded by name, only when a system is used (tools never imports an SDK).
TEAM_CONNECTORS = {"github": "connectors.team_members:GitHubTeams",
                   "identity-center": "connectors.team_members:IdentityCenterGroups",
                   "google-groups": "connectors.team_members:GoogleGroups"}
SYSTEM_LABEL = {"github": "GitHub team", "identity-center": "Identity Center group",
                "google-groups": "Google Group"}


class TeamConnector(Protocol):
    """What the sync needs from one system: one read per team, one write per difference."""

    system: str
    # operation -> the permissions it needs in that system (README prints them)
    PERMISSIONS: Mapping[str, tuple[str, ...]]

    def members(self, group: str) -> list[str] | None:
        """Identities (logins or emails) in ``group``; None when the system has no such group."""
        ...

    def add(self, group: str, member: str) -> None: ...

    def remove(self, group: str, member: str) -> None: ...


class Op(str, Enum):
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class TeamChange:
    system: str
    team: str  # teams.yaml key
    group: str  # the system's name for it (org/slug, DisplayName, group email)
    op: Op
    member: str  # login (GitHub) or email
    why: str  # listed in teams.yaml | not listed | inactive | unknown to the org model

    def as_json(self) -> dict[str, str]:
        return {"system": self.system, "team": self.team, "group": self.group, "action": self.op.value,
                "member": self.member, "why": self.why}

    def line(self) -> str:
        sign = "+" if self.op is Op.ADD else "-"
        return f"{sign} {SYSTEM_LABEL[self.system]} {self.group}: {self.member} ({self.why})"


@dataclass(frozen=True)
class HeldChange:
    change: TeamChange
    reason: str


@dataclass
class TeamPlan:
    changes: list[TeamChange] = field(default_factory=list)
    held: list[HeldChange] = field(default_factory=list)  # reported, not applied
    live_count: int = 0  # memberships read, what the guard counts removals against
    problems: list[str] = field(default_factory=list)  # unreadable groups, unmapped members
    missing: list[tuple[str, str]] = field(default_factory=list)  # (system, group) the system does not show
    read: list[tuple[str, str]] = field(default_factory=list)  # (system, group) asked for
    guard_verdict: str | None = None

    def removals(self) -> list[TeamChange]:
        return [c for c in self.changes if c.op is Op.REMOVE]

    def as_json(self) -> dict:
        return {"changes": [c.as_json() for c in self.changes],
                "held": [{**h.change.as_json(), "held": h.reason} for h in self.held],
                "problems": list(self.problems), "memberships_read": self.live_count,
                "guard": {"verdict": "refused" if self.guard_verdict else "ok", "why": self.guard_verdict}}


def connectors_for(org: OrgModel, systems: Sequence[str], **options) -> dict[str, "TeamConnector"]:
    """One connector per system, built from the environment (``options``
    go to each constructor, e.g. ``repository`` for GitHub)."""
    out = {}
    for system in systems:
        module, _, cls = TEAM_CONNECTORS[system].partition(":")
        out[system] = getattr(importlib.import_module(module), cls)(org, **options)
    return out


def systems_used(org: OrgModel) -> tuple[str, ...]:
    """The systems at least one team names, in SYSTEMS order."""
    return tuple(s for s in SYSTEMS if any(group_of(t, s) for t in org.teams.values()))


def group_of(team: Team, system: str) -> str:
    """The team's name in ``system``, or "" when the team is not synced there."""
    return {"github": team.github_team, "identity-center": team.identity_center_group,
            "google-groups": team.group_email}[system]


def identity(org: OrgModel, system: str, login: str) -> str | None:
    """How ``system`` names the person with GitHub ``login`` (None: not in people.yaml)."""
    person = org.people_by_login.get(login.lower())
    if person is None:
        return None
    return person.github.lower() if system == "github" else person.email.lower()


def principal_of(org: OrgModel, system: str, member: str) -> str:
    """Who a membership belongs to, as the durable record and ``audit
    history`` name people: ``user:<email>`` when people.yaml knows them; a
    GitHub login nobody mapped stays ``github:<login>``."""
    m = member.lower()
    if system == "github":
        person = org.people_by_login.get(m)
        return f"user:{person.email.lower()}" if person is not None else f"github:{m}"
    return f"user:{m}"


def known(org: OrgModel, system: str) -> dict[str, bool]:
    """Every identity the org model knows in ``system`` -> whether that person is active."""
    return {(p.github.lower() if system == "github" else p.email.lower()): p.active for p in org.people.values()}


def team_mode(org: OrgModel, team: Team) -> str:
    return team.mode or org.setting("organization", "teams_mode", default="additive") or "additive"


def desired(org: OrgModel, team: Team, system: str, problems: list[str] | None = None) -> set[str]:
    """Active listed members of ``team`` as ``system`` names them."""
    out = set()
    for login in team.members:
        ident = identity(org, system, login)
        if ident is None:
            if problems is not None:
                problems.append(f"team {team.key}: member {login} is not in people.yaml; not synced to "
                                f"{SYSTEM_LABEL[system]} {group_of(team, system)}")
            continue
        if org.people_by_login[login.lower()].active:
            out.add(ident)
    return out


def diff(org: OrgModel, team: Team, system: str, have: Sequence[str], problems: list[str]
         ) -> tuple[list[TeamChange], list[HeldChange]]:
    """One team in one system: adds, removals, and what is only reported."""
    group = group_of(team, system)
    want = desired(org, team, system, problems)
    live = {m.lower() for m in have}
    people = known(org, system)
    changes = [TeamChange(system, team.key, group, Op.ADD, m, "listed in teams.yaml") for m in sorted(want - live)]
    held: list[HeldChange] = []
    for m in sorted(live - want):
        if m in people:
            why = "not listed in teams.yaml" if people[m] else "inactive in people.yaml"
            changes.append(TeamChange(system, team.key, group, Op.REMOVE, m, why))
            continue
        change = TeamChange(system, team.key, group, Op.REMOVE, m, "unknown to the org model")
        if team_mode(org, team) == "enforced":
            changes.append(change)
        else:
            held.append(HeldChange(change, f"team {team.key} is additive: members unknown to people.yaml "
                                           "are reported, removed only in enforced mode"))
    return changes, held


def plan(org: OrgModel, connectors: Mapping[str, TeamConnector], teams: Sequence[str] | None = None) -> TeamPlan:
    """Read each synced group once and diff it against the org model."""
    out = TeamPlan()
    for key in sorted(org.teams):
        if teams and key not in teams:
            continue
        team = org.teams[key]
        for system in SYSTEMS:
            group = group_of(team, system)
            conn = connectors.get(system)
            if not group or conn is None:
                continue
            out.read.append((system, group))
            try:
                have = conn.members(group)
            except Exception as exc:  # gathered, so one system's outage hides no other drift
                out.problems.append(f"cannot read {SYSTEM_LABEL[system]} {group} (team {key}): {_short(exc)}")
                continue
            if have is None:
                out.missing.append((system, group))
                out.problems.append(f"{SYSTEM_LABEL[system]} {group} (team {key}) does not exist; create it, "
                                    "or remove the name from teams.yaml")
                continue
            out.live_count += len(have)
            changes, held = diff(org, team, system, have, out.problems)
            out.changes += changes
            out.held += held
    out.problems = sorted(set(out.problems))
    return out


def enforce_guard(p: TeamPlan, verdict: Callable[[int, int], str | None]) -> TeamPlan:
    """Hold every removal when the blast-radius guard refuses their number
    (``verdict(removes, managed)``, the same limits as grants); adds go ahead."""
    why = verdict(len(p.removals()), p.live_count)
    p.guard_verdict = why
    if why:
        p.held += [HeldChange(c, f"blast-radius guard: {why}; re-run with --allow-mass-revoke if intended")
                   for c in p.removals()]
        p.changes = [c for c in p.changes if c.op is Op.ADD]
    return p


@dataclass(frozen=True)
class TeamResult:
    change: TeamChange
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def apply(p: TeamPlan, connectors: Mapping[str, TeamConnector],
          on_result: Callable[[TeamResult], None] | None = None,
          journal: record.Journal | None = None, org: OrgModel | None = None) -> list[TeamResult]:
    """Write exactly the plan's differences; every failure is gathered with its context.

    With a ``journal`` (every writer passes one), each write is journalled
    before its call and its outcome right after, so a run killed mid-call
    leaves an attempt that the durable record shows as an outcome unknown
    (safety invariant 5); ``org`` names the person behind each member."""
    results = []
    for c in p.changes:
        conn = connectors[c.system]
        who = principal_of(org, c.system, c.member) if org is not None else c.member
        if journal is not None:
            journal.team_attempt(c, who)
        try:
            (conn.add if c.op is Op.ADD else conn.remove)(c.group, c.member)
            r = TeamResult(c)
        except Exception as exc:
            r = TeamResult(c, f"failed to {c.op.value} {c.member} in {SYSTEM_LABEL[c.system]} {c.group}: "
                              f"{_short(exc)}")
        if journal is not None:
            journal.team_done(c, who, r.error)
        results.append(r)
        if on_result is not None:
            on_result(r)
    return results


def apply_recorded(root: Path, org: OrgModel, p: TeamPlan, connectors: Mapping[str, TeamConnector],
                   journal: record.Journal) -> list[TeamResult]:
    """``apply`` with every write journalled before its call, then the journal
    appended to the durable record, even when the run is interrupted (safety
    invariant 5). ``teams apply`` and ``reconcile --mode fix --teams`` both
    write through here, each with its own job's journal. A record that cannot
    be pushed is a problem of the plan (exit 1); the workflow's
    ``audit push-record`` step retries it."""
    try:
        return apply(p, connectors, journal=journal, org=org)
    finally:
        problem = record.publish(root, journal)
        if problem:
            p.problems.append(problem)


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
