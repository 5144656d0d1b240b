"""The policy inputs for what a PR does besides its request files: its
change to the rules, and each request file it deletes, moves or renames.

Why here, in the policy layer: two judges ask the same policy about the
same change and must agree. ``check-pr`` asks before the merge (the PR's
base and head trees); apply's re-verification asks again after it (the
merge commit and its parent, with the last approved rules). Both build the
input with these functions and send it to the same engine abstraction, so
``access.rules.rule_changes`` and ``access.rules.removals`` are the only
place where "who must approve" is written down.

Team membership is compared between the base (``before``) and head org
models; the head's model is data here, never the rules that judge.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from tools.core import orgmodel
from tools.core.errors import FindingError
from tools.core.expiry import format_expiry
from tools.core.orgmodel import OrgModel
from tools.core.pr_context import PRContext
from tools.core.repo import Tree
from tools.policy.input import INPUT_VERSION, request_input
from tools.request import load

RULES_FILE = "(rules change)"  # the rules decision's `file`: it is about the whole PR
NOT_RULES = ("requests/", "reviews/")


def rule_paths(pr: PRContext) -> list[str]:
    """Changed paths outside requests/ and reviews/, both sides of a rename."""
    paths = {f.path for f in pr.files} | {f.previous_path for f in pr.files if f.previous_path}
    return sorted(p for p in paths if not p.startswith(NOT_RULES))


def _members(team: Any) -> tuple[set[str], set[str]]:
    return ({m.lower() for m in team.members}, {m.lower() for m in team.leads}) if team else (set(), set())


def team_changes(base: OrgModel, head: OrgModel) -> list[dict[str, Any]]:
    """Per team: who joins or leaves it, and its leads (lower-case logins)."""
    out = []
    for key in sorted(set(base.teams) | set(head.teams)):
        (bm, bl), (hm, hl) = _members(base.teams.get(key)), _members(head.teams.get(key))
        change = {"team": key, "joins": sorted(hm - bm), "leaves": sorted(bm - hm),
                  "leads_joins": sorted(hl - bl), "leads_leaves": sorted(bl - hl)}
        if any(change[k] for k in ("joins", "leaves", "leads_joins", "leads_leaves")):
            out.append(change)
    return out


def _beneficiaries(tree: Tree, path: Any, org: OrgModel) -> list[str]:
    """Logins a waiver for ``path`` benefits: the request's requester and its
    principal (a person, or every member of a team)."""
    if not isinstance(path, str) or not tree.exists(path):
        return []
    req = load.read(tree, path).request
    if req is None:
        return []
    logins = {req.requester.lower()} if isinstance(req.requester, str) else set()
    principal = getattr(req, "principal", None)
    if principal is not None and principal.type == "user":
        person = org.people.get(str(principal.id).lower())
        if person:
            logins.add(person.github.lower())
    if principal is not None and principal.type == "group" and principal.id in org.teams:
        logins |= {m.lower() for m in org.teams[principal.id].members}
    return sorted(logins)


def _waivers(model: OrgModel) -> list[dict[str, Any]]:
    items = model.raw.get("waivers") or []
    return [w for w in items if isinstance(w, dict)] if isinstance(items, list) else []


def waiver_changes(base: OrgModel, head: OrgModel, head_tree: Tree) -> list[dict[str, Any]]:
    """Waivers the head adds or changes, with the logins each benefits."""
    before = [_plain(w) for w in _waivers(base)]
    out = []
    for w in _waivers(head):
        if _plain(w) in before:
            continue
        owner = w.get("owner")
        out.append({"rule": str(w.get("rule")), "file": str(w.get("file")),
                    "owner": owner if isinstance(owner, str) else None,
                    "beneficiaries": _beneficiaries(head_tree, w.get("file"), base)})
    return out


def _plain(w: dict[str, Any]) -> str:
    return repr(sorted((str(k), str(v)) for k, v in w.items()))


def rules_input(pr: PRContext, base: OrgModel, head_tree: Tree, now: datetime) -> dict[str, Any]:
    """The one input for the PR's rules change: ``base`` is the org model the
    change starts from, ``head_tree`` the tree it produces."""
    change: dict[str, Any] = {"teams": [], "waivers": [], "errors": []}
    try:
        head = orgmodel.load(head_tree)
    except FindingError as exc:
        change["errors"].append(f"the org model at the head does not load: {exc}")
    else:
        change["teams"] = team_changes(base, head)
        change["waivers"] = waiver_changes(base, head, head_tree)
    return {"version": INPUT_VERSION, "file": RULES_FILE, "now": format_expiry(now),
            "pr": pr.as_input(), "change": change}


def removal_input(path: str, pr: PRContext, base_tree: Tree, org: OrgModel, now: datetime) -> dict[str, Any] | None:
    """The input for one request file the PR deletes, moves or renames: the
    request as it was at the base, which the owners of its target judge.
    None when there is nothing to judge (absent or invalid at the base: it
    never granted anything, so removing it ends no access)."""
    if not base_tree.exists(path):
        return None
    req = load.read(base_tree, path).request
    if req is None:
        return None
    return {"version": INPUT_VERSION, "file": path, "now": format_expiry(now), "pr": pr.as_input(),
            "removal": {"request": request_input(req, org)}}


def removal_inputs(pr: PRContext, base_tree: Tree, org: OrgModel, now: datetime) -> list[dict[str, Any]]:
    """One input per request file the PR removes (see ``removal_input``)."""
    docs = (removal_input(path, pr, base_tree, org, now) for path in pr.removed_request_paths)
    return [d for d in docs if d is not None]


__all__ = ["RULES_FILE", "NOT_RULES", "rule_paths", "team_changes", "waiver_changes", "rules_input",
           "removal_input", "removal_inputs"]
