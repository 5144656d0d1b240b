"""Access-review coverage for the audit report: which grants were attested
on time, which are due or overdue, which the owners revoked, and each
grant's last review with who attested it.

Everything comes from main (the review files under ``reviews/``, git
history) and the durable record (who approved each review), through
tools.provision.access_reviews, the same reading the writers act on.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from tools.core.expiry import format_expiry
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree
from tools.provision import access_reviews as ar
from tools.request import load, validate


@dataclass(frozen=True)
class Coverage:
    statuses: dict[str, ar.Status]  # request path -> where it stands
    revoked: tuple[dict, ...]  # every grant a merged review marked revoke

    def counts(self) -> dict[str, int]:
        s = list(self.statuses.values())
        return {
            "reviewed_on_time": sum(1 for x in s if x.last_review is not None and x.state in ("ok", "due")),
            "not_yet_due": sum(1 for x in s if x.last_review is None and x.state == "ok"),
            "due": sum(1 for x in s if x.state == "due"),
            "overdue": sum(1 for x in s if x.state == "overdue"),
            "revoked_by_review": len({r["request"] for r in self.revoked}),
        }

    def as_json(self) -> dict:
        return {**self.counts(),
                "overdue_requests": sorted(k for k, v in self.statuses.items() if v.state == "overdue"),
                "revoked": list(self.revoked)}

    def last_review(self, request: str | None) -> dict | None:
        s = self.statuses.get(request or "")
        if s is None or s.last_review is None:
            return None
        a = s.last_review
        return {"time": format_expiry(a.time), "review": a.source,
                "reviewers": list(a.reviewers) if a.reviewers is not None else None}

    def text(self) -> str:
        c = self.counts()
        return (f"Access reviews: {c['reviewed_on_time']} request(s) reviewed on time, {c['not_yet_due']} not yet due, "
                f"{c['due']} due, {c['overdue']} overdue; {c['revoked_by_review']} revoked by review.")


def coverage(root: Path, org: OrgModel, now: datetime, records: Iterable = (), held: Any = None) -> Coverage:
    """``held``: the held list's overrides, so a review apply held (pushed past the gate) counts at
    its last approved content here too, as it does for every writer."""
    tree = Tree(root)
    files = load.read_all(tree)
    validate.validate(files, org, now)
    found = ar.review_state(tree, files, org, now, records, held)
    revoked = []
    merged = ar.commit_times(root, "HEAD", ar.REVIEWS_DIR)
    for review in ar.read_reviews(tree, getattr(held, "reviews", None)):
        when = merged.get(review.path)
        for e in review.entries:
            if not review.problems and e.decision == "revoke":
                revoked.append({"request": e.request, "principal": e.principal, "kind": e.kind,
                                "entitlement": e.entitlement, "target": e.target, "review": review.path,
                                "merged_at": format_expiry(when) if when else None})
    return Coverage({s.request: s for s in found}, tuple(revoked))
