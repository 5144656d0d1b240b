"""What a change to people.yaml or teams.yaml does, shown in the PR before it merges.

Why: the PR check judges an org-model PR by the BASE commit's rules, so its
request-file plan shows nothing when someone is set ``active: false`` or
leaves a team. Yet that merge removes them from every team (``teams
apply``) and withdraws every grant they hold (``apply`` revokes files the
org model no longer allows). Reviewers must see all of it in one place.
This section is information only: it decides nothing, and it compares the
head's org model with the base's without reading any live system.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tools.core import orgmodel
from tools.core.errors import AccessctlError
from tools.core.mdsafe import code, md
from tools.core.model import Grant
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree
from tools.provision import teams_sync
from tools.provision.apply import desired_state
from tools.provision.render import target_label

WATCHED = (f"{orgmodel.DATA_DIR}/people.yaml", f"{orgmodel.DATA_DIR}/teams.yaml")


@dataclass(frozen=True)
class Impact:
    left: tuple[str, ...]  # emails active at base, inactive or gone at head
    memberships: tuple[teams_sync.TeamChange, ...]  # desired membership changes, per system
    grants: tuple[Grant, ...]  # grants the head org model withdraws

    def __bool__(self) -> bool:
        return bool(self.left or self.memberships or self.grants)


def membership_changes(base: OrgModel, head: OrgModel) -> list[teams_sync.TeamChange]:
    """Every team's desired members, base vs head, in each system it names."""
    out = []
    for key in sorted(set(base.teams) | set(head.teams)):
        for system in teams_sync.SYSTEMS:
            before = base.teams.get(key)
            after = head.teams.get(key)
            group = teams_sync.group_of(after or before, system)  # type: ignore[arg-type]
            if not group:
                continue
            had = teams_sync.desired(base, before, system) if before else set()
            has = teams_sync.desired(head, after, system) if after else set()
            people = teams_sync.known(head, system)
            for m in sorted(has - had):
                out.append(teams_sync.TeamChange(system, key, group, teams_sync.Op.ADD, m, "added in teams.yaml"))
            for m in sorted(had - has):
                why = "inactive in people.yaml" if people.get(m) is False else (
                    "gone from people.yaml" if m not in people else "removed from the team")
                out.append(teams_sync.TeamChange(system, key, group, teams_sync.Op.REMOVE, m, why))
    return out


def impact(root, base_tree: Tree, changed: list[str], now: datetime) -> Impact | None:
    """None unless the PR changes people.yaml or teams.yaml (and the head's org model loads)."""
    if not any(p in WATCHED for p in changed):
        return None
    try:
        base = orgmodel.load(base_tree)
        head = orgmodel.load(Tree(root))
    except AccessctlError:  # an invalid head model is reported by validation already
        return None
    left = tuple(sorted(e for e, p in base.people.items() if p.active and
                        (e not in head.people or not head.people[e].active)))
    grants: tuple[Grant, ...] = ()
    if left:
        tree = Tree(root)
        before = desired_state(tree, base, now).grants
        after = {g.key for g in desired_state(tree, head, now).grants}
        grants = tuple(sorted((g for g in before if g.key not in after), key=lambda g: g.key))
    return Impact(left, tuple(membership_changes(base, head)), grants)


def section(found: Impact | None, org: OrgModel | None = None, grants_elsewhere: bool = False) -> str:
    """The PR comment's Markdown for ``found`` ("" when nothing changes).

    ``grants_elsewhere``: the rules-change impact section above already lists
    the grants this merge revokes, so they are counted here but not listed twice."""
    if not found:
        return ""
    if grants_elsewhere:
        found = Impact(found.left, found.memberships, ())
        if not found:
            return ""
    targets = org.targets if org is not None else {}
    lines = ["", "#### People and teams this merge changes", ""]
    for email in found.left:
        lines.append(f"- {code(email)} becomes inactive: removed from every team and loses every grant "
                     f"{'listed under “Effect on existing access”' if grants_elsewhere else 'below'}.")
    removes = sum(c.op is teams_sync.Op.REMOVE for c in found.memberships)
    lines += [f"- {len(found.memberships) - removes} team membership(s) added, {removes} removed; " +
              (f"{len(found.grants)} grant(s) revoked." if not grants_elsewhere else
               "the grants revoked are under “Effect on existing access”."), "",
              "| change | where | who | why |", "|---|---|---|---|"]
    for c in found.memberships:
        sign = "+ member" if c.op is teams_sync.Op.ADD else "− member"
        lines.append(f"| {sign} | {md(teams_sync.SYSTEM_LABEL[c.system])} {code(c.group)} | {code(c.member)} "
                     f"| {md(c.why)} |")
    for g in found.grants:
        where = f"{g.provider} {target_label(g, {(t.provider, t.id): t for t in targets.values()})}"
        lines.append(f"| − grant | {md(where)} | {code(g.principal)} | {md(g.kind)} {code(g.entitlement)}, "
                     f"from {code(g.request or '?')} |")
    lines += ["", "_On merge, `accessctl apply` revokes the grants, then `accessctl teams apply` changes the "
                  "memberships (both in the apply workflow)._", ""]
    return "\n".join(lines)
