"""A pull request's context computed from the local git repository.

``accessctl check-pr --local`` previews the PR check before anything is
pushed: the changed files are those between the merge base of ``--base``
and ``HEAD`` (what GitHub's PR "Files changed" shows), the author is
``--author`` or the person whose e-mail ``git config user.email`` names in
the org model, and reviews are the ``--approved-by`` logins, approving the
head commit. Each approver's teams come from the org model at the base
commit, as in CI, so no hand-written JSON is needed.
"""
from __future__ import annotations

from pathlib import Path

from tools.core.errors import UsageError
from tools.core.orgmodel import OrgModel
from tools.core import pr_context as prc
from tools.core.pr_context import PRContext, Review
from tools.core.repo import git

LOCAL_NUMBER = 0  # no PR exists yet: the comment says "local preview"


def merge_base(root: Path, base: str) -> str:
    """The commit the PR would be judged against: where HEAD left ``base``."""
    sha = git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False).strip()
    if not sha:
        raise UsageError(f"--base {base!r} is not a commit of this repository; "
                         "name the branch the PR will target (e.g. --base main or --base origin/main)")
    out = git(root, "merge-base", sha, "HEAD", check=False).strip()
    if not out:
        raise UsageError(f"--base {base!r} shares no history with HEAD")
    return out


def author(root: Path, org: OrgModel, given: str | None) -> str:
    if given:
        return given
    email = git(root, "config", "user.email", check=False).strip().lower()
    person = org.people.get(email)
    if person is None:
        raise UsageError(f"cannot tell the PR author: git config user.email ({email or 'unset'}) is not "
                         "a person in policies/data/people.yaml; pass --author LOGIN")
    return person.github


def reviews(org: OrgModel, logins: list[str], head_sha: str) -> tuple[Review, ...]:
    """Approvals of the head commit; teams from the org model, as CI reads them."""
    out = []
    for login in logins:
        if login.lower() not in org.people_by_login:
            known = ", ".join(sorted(p.github for p in org.people.values()))
            raise UsageError(f"--approved-by {login!r} is not a person in policies/data/people.yaml; "
                             f"one of: {known}")
        keys = org.teams_by_login.get(login.lower(), ())
        out.append(Review(org.people_by_login[login.lower()].github, "APPROVED", head_sha,
                          tuple(org.teams[k].github_team for k in keys)))
    return tuple(out)


def pr_context(root: Path, base: str, org_at_base, author_login: str | None,
               approved_by: list[str]) -> PRContext:
    """``org_at_base(sha)`` loads the org model of the base commit."""
    base_sha = merge_base(root, base)
    head = git(root, "rev-parse", "HEAD").strip()
    org = org_at_base(base_sha)
    return PRContext(LOCAL_NUMBER, author(root, org, author_login), head, base_sha,
                     prc.changed_files(root, base_sha, "HEAD"), reviews(org, approved_by, head), base)
