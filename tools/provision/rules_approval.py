"""Who must have approved a change the request policy does not judge: a
change to the rules (``policies/``, CODEOWNERS) or a request file's removal.

Why in Python: the request policy decides one request file at a time; it
has no decision yet for a PR that only changes rules or removes a file
(the approvals issue adds one to the policy). Apply must still not accept
such a change merged without approval, so this is the floor it enforces,
from issue 15's table and issue 11's removal rule, with membership from
the org model of the last approved rules. When the policy gains those
decisions, ``rules_pr_allowed`` and ``removal_allowed`` become calls to it.

| change | approvers |
| --- | --- |
| ``policies/access/**``, ``tiers.yaml``, the security team in ``teams.yaml`` | 2 of security |
| another team's membership in ``teams.yaml`` | 1 of security and 1 lead of that team |
| anything else under ``policies/``, CODEOWNERS | 1 of security |

A reviewer counts once, on the PR's head commit, unless they authored the
PR, withdrew the approval later, or are someone the change adds to a team.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from tools.core import yamlsafe
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree, git
from tools.request import load as rload

if TYPE_CHECKING:  # only for types: verify imports this module
    from tools.provision.verify import MergedPull

TEAMS_FILE = "policies/data/teams.yaml"
TWO_OF_SECURITY = ("policies/access/", "policies/data/tiers.yaml")


@dataclass(frozen=True)
class Need:
    team: str  # team key
    count: int
    leads_only: bool = False

    def text(self) -> str:
        who = f"lead(s) of {self.team}" if self.leads_only else f"member(s) of {self.team}"
        return f"{self.count} approval(s) from {who}"


def approvers(pr: "MergedPull") -> set[str]:
    """Logins (lower case) whose latest review approves the head commit, not withdrawn, not the author."""
    latest: dict[str, tuple[str, str | None]] = {}
    for r in pr.reviews:
        if r.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[r.user.lower()] = (r.state, r.commit_id)
    return {u for u, (state, commit) in latest.items()
            if state == "APPROVED" and commit == pr.head_sha and u != pr.author.lower()}


def _teams(root: Path, commit: str) -> dict[str, set[str]]:
    """team key -> members (lower case) in teams.yaml at ``commit``; {} when unreadable."""
    tree = Tree(root, commit)
    if not tree.exists(TEAMS_FILE):
        return {}
    try:
        data = yamlsafe.loads(tree.read_text(TEAMS_FILE)).data or {}
        return {k: {str(m).lower() for m in (t or {}).get("members", []) or []}
                for k, t in (data.get("teams") or {}).items()}
    except (yamlsafe.YamlError, AttributeError, TypeError):
        return {}


def needs_for(root: Path, paths: Iterable[str], before: str, after: str, org: OrgModel) -> tuple[list[Need], set[str]]:
    """(who must approve, logins the change adds to a team) for the rules files a PR changes."""
    security = org.security_team
    needs: dict[tuple[str, bool], int] = {}
    added: set[str] = set()

    def need(team: str, count: int, leads: bool = False) -> None:
        needs[(team, leads)] = max(needs.get((team, leads), 0), count)

    for path in paths:
        if path == TEAMS_FILE:
            old, new = _teams(root, before), _teams(root, after)
            for team in sorted(set(old) | set(new)):
                if old.get(team, set()) == new.get(team, set()):
                    continue
                added |= new.get(team, set()) - old.get(team, set())
                if team == security or team not in org.teams:
                    need(security, 2)
                else:
                    need(security, 1)
                    need(team, 1, leads=True)
            need(security, 1)
        elif path.startswith(TWO_OF_SECURITY):
            need(security, 2)
        else:
            need(security, 1)
    return [Need(t, c, leads) for (t, leads), c in sorted(needs.items())], added


def rules_pr_allowed(root: Path, pr: "MergedPull", before: str, after: str, org: OrgModel) -> tuple[bool, str]:
    """Did the PR that changed rules files get the approvals the table asks for?"""
    from tools.provision.verify import is_rules_path
    paths = sorted({f.path for f in pr.files if is_rules_path(f.path)}
                   | {f.previous_path for f in pr.files if f.previous_path and is_rules_path(f.previous_path)})
    needs, added = needs_for(root, paths, before, after, org)
    counted = approvers(pr) - added
    missing = []
    for n in needs:
        team = org.teams.get(n.team)
        pool = {m.lower() for m in ((team.leads if n.leads_only else team.members) if team else ())}
        got = counted & pool
        if len(got) < n.count:
            missing.append(f"{n.text()} on head {pr.head_sha[:7]} (counted: {', '.join(sorted(got)) or 'none'})")
    return (not missing), "; ".join(missing)


def removal_allowed(root: Path, path: str, before: str, pr: "MergedPull", org: OrgModel) -> tuple[bool, str]:
    """A request file's removal: its beneficiary or requester may always
    remove it; anyone else needs an approval from the owners of the target it
    leaves (or security)."""
    author = pr.author.lower()
    rf = rload.read(Tree(root, before), path) if blob_exists(root, before, path) else None
    req = rf.request if rf is not None else None
    if req is not None:
        parties = {str(getattr(req, "requester", "") or "").lower()}
        principal = getattr(req, "principal", None)
        if principal is not None and getattr(principal, "type", "") == "user":
            person = org.people.get(str(principal.id).lower())
            if person:
                parties.add(person.github.lower())
        if author in parties:
            return True, ""
    provider, target_name, _ = rload.path_parts(path)
    target = org.target(provider, target_name)
    owners = {target.owner} if target is not None else set()
    owners.add(org.security_team)
    pool = {m.lower() for key in owners if key in org.teams for m in org.teams[key].members}
    if approvers(pr) & pool:
        return True, ""
    return False, (f"removing {path} needs an approval on head {pr.head_sha[:7]} from "
                   f"{' or '.join(sorted(owners))} (or the request's own beneficiary as author)")


def blob_exists(root: Path, commit: str, path: str) -> bool:
    return bool(git(root, "rev-parse", "--verify", "--quiet", f"{commit}:{path}", check=False).strip())
