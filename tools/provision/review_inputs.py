"""The policy inputs of a review PR: one per file it touches under ``reviews/``.

Everything the policy compares with comes from the BASE commit: whether
each listed grant is really in its request file on main, which team owns
it, its tier, and who benefits from it (the requester and the principal,
or every member of a group principal), so a review PR cannot make its own
entries look attestable. The review file itself is read at the head: it
is the thing being judged. ``access.rules.access_reviews`` decides.

Built by check-pr for an open review PR and again by apply's re-verification
(tools.provision.verify) for each review file that reached main, which is
why it lives in ``provision`` (below both).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from tools.core.expiry import format_expiry
from tools.core.orgmodel import OrgModel
from tools.core.pr_context import PRContext
from tools.core.repo import Tree
from tools.policy.input import INPUT_VERSION
from tools.provision import access_reviews as ar
from tools.request import load


def review_paths(pr: PRContext) -> list[str]:
    paths = {f.path for f in pr.files} | {f.previous_path for f in pr.files if f.previous_path}
    return sorted(p for p in paths if p.startswith(ar.REVIEWS_DIR + "/"))


def _status(pr: PRContext, path: str) -> str:
    for f in pr.files:
        if f.path == path:
            return f.status
        if f.previous_path == path:
            return "renamed"
    return "modified"


def entry_input(e: ar.Entry, base: Tree, org: OrgModel) -> dict[str, Any]:
    out: dict[str, Any] = {"request": e.request, "principal": e.principal, "kind": e.kind,
                           "entitlement": e.entitlement, "target": e.target, "decision": e.decision,
                           "known": False, "owner": None, "tier": None, "beneficiaries": []}
    if not e.request.startswith(load.REQUESTS_DIR + "/") or not base.exists(e.request):
        return out
    req = load.read(base, e.request).request
    if req is None:
        return out
    grants = ar.grants_of(req, org)
    out["known"] = any((g.principal, g.kind, g.entitlement, g.target) ==
                       (e.principal, e.kind, e.entitlement, e.target) for g in grants)
    provider = req.provider
    target = org.target(provider, req.target if isinstance(req, load.ServiceAccount) else
                        (req.grants[0].target if req.grants else ""))
    out["owner"] = ar._owning_team(req, org, target)
    entry = org.catalog.get((e.kind, e.entitlement))
    out["tier"] = "service-account" if isinstance(req, load.ServiceAccount) else (
        entry.tier.value if entry is not None else "privileged")  # unknown: the strictest
    out["beneficiaries"] = sorted(ar.beneficiaries(req, org))
    return out


def review_inputs(pr: PRContext, base: Tree, head: Tree, org: OrgModel, now: datetime) -> list[dict[str, Any]]:
    """One input per review file the PR adds, changes, moves or deletes."""
    out = []
    for path in review_paths(pr):
        status = _status(pr, path)
        tree = head if head.exists(path) else base
        review = (ar.parse_review(path, tree.read_text(path)) if tree.exists(path)
                  else ar.ReviewFile(path, ar.parse_path(path)[1], None, (), (f"{path}: cannot be read",)))
        out.append({"version": INPUT_VERSION, "file": path, "now": format_expiry(now), "pr": pr.as_input(),
                    "review": {"team": review.team, "status": status, "problems": list(review.problems),
                               "entries": [entry_input(e, base, org) for e in review.entries]}})
    return out
