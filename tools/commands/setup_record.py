"""The protection of the durable record's branch (``accessctl-record``).

Why: ``held.json`` on that branch decides which directly-pushed request
files apply refuses to provision, and ``record.jsonl`` is the audit trail.
Whoever can push the branch can rewrite the held list and release a held
file. The writers push it with the pipeline App's token (apply.yml,
reconcile.yml, expire.yml), so the branch's push restrictions name that App
and nobody else, for administrators too, with no force push or deletion.

GitHub's REST docs, "Update branch protection"
(docs.github.com/rest/branches/branch-protection#update-branch-protection):
``restrictions`` is ``{users: [logins], teams: [slugs], apps: [slugs]}``,
"Restrict who can push to the protected branch. User, app, and team
restrictions are only available for organization-owned repositories";
"Set app access restrictions": "Only installed GitHub Apps with write
access to the contents permission can be added as authorized actors on a
protected branch". ``enforce_admins`` makes the rules bind administrators.

Pure functions: setup_repo reads and PUTs through the connector.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.provision.durable import BRANCH

MISSING = "branch missing"


@dataclass(frozen=True, slots=True)
class Drift:
    """One setting that differs from what the pipeline needs (setup-repo)."""
    setting: str
    want: Any
    have: Any

    def __str__(self) -> str:
        return f"{self.setting}: want {self.want}, have {self.have}"


def record_drift(doc: dict[str, Any] | None, app_slug: str, exists: bool = True) -> list[Drift]:
    """Each way the protection ``doc`` of ``accessctl-record`` (None:
    unprotected) lets someone other than App ``app_slug`` rewrite it."""
    name = f"{BRANCH} protection"
    if not exists:
        return [Drift(name, f"only app {app_slug} pushes", MISSING)]
    if doc is None:
        return [Drift(name, f"only app {app_slug} pushes", "none")]
    found: list[Drift] = []
    r = doc.get("restrictions")
    if r is None:
        found.append(Drift(f"{BRANCH}: who may push", f"app:{app_slug}", "anyone with write access"))
    else:
        who = sorted([u["login"] for u in r.get("users", [])] + [f"team:{t['slug']}" for t in r.get("teams", [])]
                     + [f"app:{a['slug']}" for a in r.get("apps", [])])
        if who != [f"app:{app_slug}"]:
            found.append(Drift(f"{BRANCH}: who may push", f"app:{app_slug}", ", ".join(who) or "nobody"))
    if not _enabled(doc, "enforce_admins"):
        found.append(Drift(f"{BRANCH}: enforce for administrators", True, False))
    if _enabled(doc, "allow_force_pushes"):
        found.append(Drift(f"{BRANCH}: allow force pushes", False, True))
    if _enabled(doc, "allow_deletions"):
        found.append(Drift(f"{BRANCH}: allow deletions", False, True))
    # Rules that would refuse the App's own pushes (the writers would fail).
    for key in ("lock_branch",):
        if _enabled(doc, key):
            found.append(Drift(f"{BRANCH}: {key.replace('_', ' ')}", False, True))
    for key in ("required_pull_request_reviews", "required_status_checks"):
        if doc.get(key):
            found.append(Drift(f"{BRANCH}: {key.replace('_', ' ')}", "none (the App pushes directly)", "enabled"))
    return found


def record_document(app_slug: str) -> dict[str, Any]:
    """The PUT body for ``accessctl-record``: the pipeline's own branch, so
    nothing of a previous protection is carried over."""
    return {"required_status_checks": None, "enforce_admins": True, "required_pull_request_reviews": None,
            "restrictions": {"users": [], "teams": [], "apps": [app_slug]},
            "allow_force_pushes": False, "allow_deletions": False}


def _enabled(doc: dict[str, Any], key: str) -> bool:
    value = doc.get(key)
    return bool(value.get("enabled")) if isinstance(value, dict) else bool(value)
