"""The decisions a PR needs besides its request files.

A PR is judged by its effect, not only by the request files it adds:

- a change to any file outside ``requests/`` (and ``reviews/``) changes the
  rules every later request is judged by, so the policy decides on it
  (``access.rules.rule_changes``), with what the change does to the org
  model spelled out: who joins or leaves which team, which waivers it adds;
- a request file it deletes, moves or renames ends someone's access, so
  the owners of the target it leaves decide (``access.rules.removals``).

This module only builds the policy inputs from git (base and head trees)
and the base org model; the policy decides. Team membership is compared
between the base and head org models; the head's model is data here, never
the rules that judge.
"""
from __future__ import annotations

from dataclasses import replace
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
    """The one input for the PR's rules change."""
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


def removal_inputs(pr: PRContext, base_tree: Tree, org: OrgModel, now: datetime) -> list[dict[str, Any]]:
    """One input per request file the PR deletes, moves or renames: the
    request as it was at the base, which the owners of its target judge."""
    out = []
    for path in pr.removed_request_paths:
        if not base_tree.exists(path):
            continue
        req = load.read(base_tree, path).request
        if req is None:  # it never granted anything (invalid at the base)
            continue
        out.append({"version": INPUT_VERSION, "file": path, "now": format_expiry(now), "pr": pr.as_input(),
                    "removal": {"request": request_input(req, org)}})
    return out


def membership_lines(change: dict[str, Any]) -> list[str]:
    """Plain sentences for the comment: per team, who joins and who leaves."""
    lines = []
    for c in change.get("teams", []):
        parts = []
        for key, label in (("joins", "joins"), ("leaves", "leaves"), ("leads_joins", "becomes a lead"),
                           ("leads_leaves", "stops being a lead")):
            if c.get(key):
                parts.append(f"{', '.join(c[key])} {label}")
        lines.append(f"team {c['team']}: " + "; ".join(parts))
    for w in change.get("waivers", []):
        who = ", ".join(w.get("beneficiaries") or []) or "nobody known"
        lines.append(f"waiver of {w.get('rule')} for {w.get('file')} (owner {w.get('owner') or '?'}), "
                     f"benefits {who}")
    return lines


def with_org_teams(pr: PRContext, org: OrgModel) -> PRContext:
    """Reviewers' teams from the base org model (teams.yaml), replacing
    whatever GitHub said: approvals count by the model, at the base."""
    return replace(pr, reviews=tuple(replace(r, teams=org.teams_by_login.get(r.user.lower(), ()))
                                     for r in pr.reviews))


__all__ = ["RULES_FILE", "rule_paths", "team_changes", "waiver_changes", "rules_input",
                          "removal_inputs", "membership_lines", "with_org_teams"]
