"""GitHub through PyGithub: PR context, the one PR comment, statuses, issues, bot PRs.

Why one class with few methods: the core (check-pr, reconcile, expire,
setup-repo) needs a handful of GitHub operations, each with the same two
hard parts done once here — pagination (every list is followed to its last
page) and secondary rate limits (retried after the ``Retry-After`` GitHub
gives, with an injectable sleep so tests do not wait).

Things found again by a hidden marker (the PR comment, a drift issue) are
only ever looked for among the bot's own posts: anyone can write the marker
into a comment, and the pipeline must never adopt someone else's text.
"""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlsplit

from github import Auth, Github, GithubException
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest

from tools.core.errors import UsageError
from tools.core.github_context import github_token

T = TypeVar("T")
STATUS_CONTEXT = "accessctl/check-pr"
MAX_PR_FILES = 3000
DEFAULT_API = "https://api.github.com"
ISSUE_LABEL = "accessctl"


def marker(kind: str) -> str:
    """The hidden first line that identifies one comment or issue kind."""
    return f"<!-- accessctl:{kind} -->"


class GitHubError(UsageError):
    """GitHub refused or kept failing: an environment problem (exit 2)."""


@dataclass(frozen=True, slots=True)
class ChangedFile:
    path: str
    status: str  # added | modified | removed | renamed | copied | changed | unchanged
    previous_path: str | None = None  # GitHub's previous_filename, present on renames only


@dataclass(frozen=True, slots=True)
class Review:
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str | None  # null when the reviewed commit no longer exists (force-push)


@dataclass(frozen=True, slots=True)
class PRContext:
    """What the policy needs to know about a PR, in tools.core.pr_context's
    JSON shape (``as_json``). Reviewers' teams are not GitHub's to say: the
    org model at the base commit decides them (pr_context.with_org_teams)."""

    number: int
    author: str
    head_sha: str
    base_sha: str
    base_ref: str
    files: tuple[ChangedFile, ...]
    reviews: tuple[Review, ...]  # in the order GitHub lists them (oldest first)

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "author": self.author, "head_sha": self.head_sha,
                "base_sha": self.base_sha, "base_ref": self.base_ref,
                "files": [{"path": f.path, "status": f.status}
                          | ({"previous_path": f.previous_path} if f.previous_path else {}) for f in self.files],
                "reviews": [{"user": r.user, "state": r.state, "commit_id": r.commit_id, "teams": []}
                            for r in self.reviews]}

# ---- which merged PR brought a commit (apply's re-verification) ---------------
@dataclass(frozen=True, slots=True)
class PullFile:
    path: str
    status: str
    blob: str | None  # GitHub's ``sha``: the file's blob id at the PR head
    previous_path: str | None = None


@dataclass(frozen=True, slots=True)
class PullReview:
    user: str
    state: str
    commit_id: str | None  # GitHub documents it as nullable


@dataclass(frozen=True, slots=True)
class AssociatedPull:
    """A PR GitHub associates with a commit, with what apply re-checks."""

    number: int
    author: str
    head_sha: str
    base_ref: str
    merged_at: datetime | None
    files: tuple[PullFile, ...]
    reviews: tuple[PullReview, ...]


def retry_delay(status: int, headers: Mapping[str, str], message: str, attempt: int,
                now: float) -> float | None:
    """Seconds to wait before retrying, or None when the error is not a rate limit.

    GitHub's documented order: ``retry-after`` if present; else, when
    ``x-ratelimit-remaining`` is 0, until ``x-ratelimit-reset``; else at
    least a minute, growing exponentially between attempts.
    """
    h = {k.lower(): v for k, v in headers.items()}
    limited = status == 429 or (status == 403 and (
        "retry-after" in h or h.get("x-ratelimit-remaining") == "0" or "rate limit" in message.lower()))
    if not limited:
        return None
    if "retry-after" in h:
        try:
            return max(0.0, float(h["retry-after"]))
        except ValueError:
            pass
    if h.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in h:
        return max(0.0, float(h["x-ratelimit-reset"]) - now) + 1.0
    return 60.0 * (2 ** attempt)


class GitHubConnector:
    """One repository, reached through ``GITHUB_API_URL`` with
    ``ACCESSCTL_GITHUB_TOKEN`` (the App's token) or else ``GITHUB_TOKEN``."""

    def __init__(self, repository: str, token: str | None = None, base_url: str | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 max_attempts: int = 5, max_wait: float = 900.0, bot_login: str | None = None):
        if "/" not in repository:
            raise UsageError(f"GitHub repository {repository!r} must look like owner/name")
        token = token or github_token()
        if not token:
            raise UsageError("neither ACCESSCTL_GITHUB_TOKEN nor GITHUB_TOKEN is set: export a token "
                             "that can read the repository")
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        base = (base_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
        # retry=None: retries are ours, so Retry-After is honoured with an injectable sleep.
        # PyGithub paces requests (0.25 s apart, writes 1 s apart) as GitHub advises
        # to avoid secondary limits; a loopback server (tests, demo) needs no pacing.
        loopback = urlsplit(base).hostname in ("127.0.0.1", "localhost", "::1")
        pacing = {"seconds_between_requests": None, "seconds_between_writes": None} if loopback else {}
        self._gh = Github(base_url=base, auth=Auth.Token(token), retry=None, per_page=100, timeout=30,
                          **pacing)
        self._sleep, self._clock = sleep, clock
        self._max_attempts, self._max_wait = max_attempts, max_wait
        self._bot_login = bot_login or os.environ.get("ACCESSCTL_GITHUB_BOT_LOGIN")
        self._repo_obj = None
        self.slept: list[float] = []  # every rate-limit wait, for reports and tests

    # ---- plumbing --------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        waited = 0.0
        for attempt in range(self._max_attempts):
            try:
                return fn()
            except GithubException as exc:
                message = (exc.data or {}).get("message", "") if isinstance(exc.data, dict) else str(exc.data)
                delay = retry_delay(exc.status, exc.headers or {}, message or "", attempt, self._clock())
                if delay is None:
                    raise self._error(what, exc.status, message) from None
                if attempt == self._max_attempts - 1 or waited + delay > self._max_wait:
                    raise GitHubError(f"GitHub kept rate-limiting {what} ({attempt + 1} attempts, "
                                      f"{waited:.0f}s waited); run again later") from None
                self.slept.append(delay)
                waited += delay
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _error(self, what: str, status: int, message: str) -> GitHubError:
        if status == 401:
            return GitHubError(f"GitHub refused the token while {what} (401 {message}); check ACCESSCTL_GITHUB_TOKEN / GITHUB_TOKEN")
        if status == 403:
            return GitHubError(f"the token may not {what} on {self.repository} (403 {message}); "
                               "grant the permission the workflow or token lacks")
        if status == 404:
            return GitHubError(f"{what}: not found on {self.repository} (404 {message}); "
                               "check --github-repo / GITHUB_REPOSITORY and the token's access")
        return GitHubError(f"GitHub error while {what}: {status} {message}")

    @property
    def _repo(self):
        if self._repo_obj is None:
            self._repo_obj = self._call("read the repository", lambda: self._gh.get_repo(self.repository))
        return self._repo_obj

    def _mine(self, user) -> bool:
        """Posts the pipeline may adopt: its configured login, else any bot account."""
        if user is None:
            return False
        if self._bot_login:
            return user.login.lower() == self._bot_login.lower()
        return user.type == "Bot"

    @property
    def default_branch(self) -> str:
        return self._repo.default_branch

    # ---- pull-request context --------------------------------------------
    def pr_context(self, number: int, files_from_git: bool = False) -> PRContext:
        """Everything about PR ``number`` the policy needs, through the pulls
        API only (``pull_requests: read``), never the issues API.

        GitHub lists at most 3,000 files of a PR (docs: "List pull requests
        files"); a longer list is refused here rather than judged incomplete,
        unless the caller takes the changed files from git (``files_from_git``,
        as check-pr does) and uses the API's list for nothing.
        """
        pr = self._call(f"read pull request #{number}", lambda: self._repo.get_pull(number))
        files = self._call(f"list files of #{number}", lambda: [
            ChangedFile(f.filename, f.status, getattr(f, "previous_filename", None) or None)
            for f in pr.get_files()])
        if not files_from_git and pr.changed_files is not None and pr.changed_files > len(files):
            raise GitHubError(f"PR #{number} changes {pr.changed_files} files but GitHub lists only "
                              f"{len(files)} (its limit is {MAX_PR_FILES}); split the PR")
        reviews = self._call(f"list reviews of #{number}", lambda: [
            Review(r.user.login if r.user else "ghost", r.state, r.commit_id or None) for r in pr.get_reviews()])
        return PRContext(number, pr.user.login, pr.head.sha, pr.base.sha, pr.base.ref, tuple(files),
                         tuple(reviews))

    def pull_for_commit(self, sha: str) -> int | None:
        """The open PR whose head is ``sha`` (a ``workflow_run`` event names
        the commit; for a fork's PR it lists no pull request)."""
        return self._call(f"find the pull request of {sha[:7]}", lambda: next(
            (p.number for p in self._repo.get_pulls(state="open") if p.head.sha == sha), None))

    # ---- teams (read-only: `accessctl teams check`) -----------------------
    def team_members(self, team: str) -> list[str] | None:
        """Active members of ``team`` ("org/slug" or "slug"), or None when
        GitHub shows no such team. Needs the organisation "Members" read
        permission; without it GitHub answers 404 as for a missing team."""
        org, slug = team.split("/", 1) if "/" in team else (self.owner, team)

        def get() -> list[str] | None:
            logins: list[str] = []
            try:
                for page in itertools.count(1):
                    _, data = self._gh.requester.requestJsonAndCheck(
                        "GET", f"/orgs/{org}/teams/{slug}/members", parameters={"per_page": 100, "page": page})
                    logins += [u["login"] for u in data]
                    if len(data) < 100:
                        return sorted(logins)
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise

        return self._call(f"list members of team {org}/{slug}", get)

    # ---- the PR that brought a commit (apply's re-verification) ------------
    def pulls_for_commit(self, sha: str) -> list[AssociatedPull]:
        """PRs associated with ``sha``: for a commit on the default branch, the
        merged PR that introduced it; otherwise open PRs whose head it is.
        GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls, documented at
        https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit
        Files and reviews are read per merged PR (open ones are not apply's concern)."""
        pulls = self._call(f"list pull requests of commit {sha[:7]}", lambda: list(PaginatedList(
            PullRequest, self._gh.requester, f"/repos/{self.repository}/commits/{sha}/pulls", None)))
        out = []
        for p in pulls:
            files: tuple[PullFile, ...] = ()
            reviews: tuple[PullReview, ...] = ()
            if p.merged_at is not None:
                files = tuple(self._call(f"list files of #{p.number}", lambda: [
                    PullFile(f.filename, f.status, f.sha, f.previous_filename) for f in p.get_files()]))
                reviews = tuple(self._call(f"list reviews of #{p.number}", lambda: [
                    PullReview(r.user.login if r.user else "ghost", r.state, r.commit_id) for r in p.get_reviews()]))
            out.append(AssociatedPull(p.number, p.user.login if p.user else "ghost", p.head.sha, p.base.ref,
                                      p.merged_at, files, reviews))
        return out

    # ---- the PR comment ----------------------------------------------------
    def upsert_comment(self, number: int, kind: str, body: str) -> int:
        """Create or update the one comment of ``kind`` on PR ``number``; extra
        copies (from a race between two runs) are deleted. Returns its id.
        Goes through the pull (never ``GET /issues/{n}``), so
        ``pull_requests: write`` suffices, as GitHub's table allows."""
        mark = marker(kind)
        text = body if body.startswith(mark) else f"{mark}\n{body}"
        pr = self._call(f"read pull request #{number}", lambda: self._repo.get_pull(number))
        ours = self._call(f"list comments of #{number}", lambda: [
            c for c in pr.get_issue_comments() if self._mine(c.user) and (c.body or "").startswith(mark)])
        if not ours:
            return self._call(f"comment on #{number}", lambda: pr.create_issue_comment(text)).id
        keep, *extra = ours
        if keep.body != text:
            self._call(f"update the comment on #{number}", lambda: keep.edit(text))
        for c in extra:
            self._call(f"delete a duplicate comment on #{number}", c.delete)
        return keep.id

    # ---- the gate: a check run of the pipeline's App ------------------------
    def create_check_run(self, sha: str, success: bool, title: str, summary: str,
                         details_url: str | None = None, name: str = STATUS_CONTEXT) -> int:
        """Post the completed ``accessctl/check-pr`` check run on ``sha``.

        Why a check run and not a commit status: branch protection can
        require a check from one App's integration id, so only a token of
        the pipeline's App satisfies it; any workflow with ``statuses:
        write`` could post a status of the same name. Returns its id."""
        body: dict[str, Any] = {"name": name, "head_sha": sha, "status": "completed",
                                "conclusion": "success" if success else "failure",
                                "output": {"title": title[:1000] or name, "summary": summary[:65535]}}
        if details_url:
            body["details_url"] = details_url
        _, data = self._call(f"post the {name} check run", lambda: self._gh.requester.requestJsonAndCheck(
            "POST", f"/repos/{self.repository}/check-runs", input=body))
        return int(data["id"])

    def check_runs(self, sha: str, name: str = STATUS_CONTEXT) -> list[tuple[str, str | None, int | None]]:
        """(name, conclusion, app id) of each check run ``name`` on ``sha``, newest first."""
        _, data = self._call(f"list check runs of {sha[:7]}", lambda: self._gh.requester.requestJsonAndCheck(
            "GET", f"/repos/{self.repository}/commits/{sha}/check-runs", parameters={"check_name": name}))
        return [(r["name"], r["conclusion"], (r.get("app") or {}).get("id")) for r in data["check_runs"]]

    # ---- issues (drift, break-glass reviews) -----------------------------
    def _find_issue(self, key: str):
        mark = marker(f"issue:{key}")
        found = self._call("list accessctl issues", lambda: [
            i for i in self._repo.get_issues(state="all", labels=[ISSUE_LABEL])
            if i.pull_request is None and self._mine(i.user) and (i.body or "").startswith(mark)])
        open_ = [i for i in found if i.state == "open"]
        return (open_ or found or [None])[0], mark

    def upsert_issue(self, key: str, title: str, body: str, open_: bool = True) -> int | None:
        """Keep one issue per ``key``: opened (or reopened) with this body when
        ``open_``, closed as completed otherwise. Returns its number, or None
        when there is nothing to close."""
        issue, mark = self._find_issue(key)
        text = f"{mark}\n{body}"
        if not open_:
            if issue is not None and issue.state == "open":
                self._call(f"close issue #{issue.number}", lambda: issue.edit(
                    body=text, state="closed", state_reason="completed"))
            return issue.number if issue is not None else None
        if issue is None:
            return self._call("open an issue", lambda: self._repo.create_issue(
                title=title, body=text, labels=[ISSUE_LABEL])).number
        if issue.state != "open" or issue.body != text or issue.title != title:
            self._call(f"update issue #{issue.number}", lambda: issue.edit(title=title, body=text, state="open"))
        return issue.number

    def close_issue(self, key: str) -> int | None:
        issue, _ = self._find_issue(key)
        if issue is None or issue.state != "open":
            return None
        self._call(f"close issue #{issue.number}", lambda: issue.edit(state="closed", state_reason="completed"))
        return issue.number

    # ---- pull requests opened by the bot (expiry, import) ----------------
    def open_pull_request(self, branch: str, title: str, body: str, changes: Mapping[str, str | None],
                          base: str | None = None, message: str | None = None) -> int:
        """Open (or bring up to date) a PR from ``branch`` whose files are
        ``changes`` (path -> new text, or None to delete). Re-running with the
        same arguments makes no write and returns the same PR number."""
        base = base or self.default_branch
        message = message or title
        try:
            self._call(f"read branch {branch}", lambda: self._repo.get_git_ref(f"heads/{branch}"))
        except GitHubError as exc:
            if "404" not in str(exc):
                raise
            sha = self._call(f"read branch {base}", lambda: self._repo.get_branch(base)).commit.sha
            self._call(f"create branch {branch}", lambda: self._repo.create_git_ref(f"refs/heads/{branch}", sha))
        for path, text in sorted(changes.items()):
            self._put_file(branch, path, text, message)
        head = f"{self.owner}:{branch}"
        existing = self._call("list open pull requests", lambda: [
            p for p in self._repo.get_pulls(state="open", head=head, base=base)])
        if existing:
            pr = existing[0]
            if pr.title != title or pr.body != body:
                self._call(f"update pull request #{pr.number}", lambda: pr.edit(title=title, body=body))
            return pr.number
        return self._call("open a pull request", lambda: self._repo.create_pull(
            base=base, head=branch, title=title, body=body)).number

    def has_pull_request(self, branch: str) -> bool:
        """Whether any PR, open or closed, ever came from ``branch``: how a
        one-time message (a renewal reminder) knows it was already sent."""
        head = f"{self.owner}:{branch}"
        return self._call(f"list pull requests from {branch}", lambda: any(
            True for _ in self._repo.get_pulls(state="all", head=head)))

    def open_pulls_from(self, prefix: str) -> list[int]:
        """Open PRs whose head branch starts with ``prefix``: how the access
        review job finds a team's review still waiting, whatever its date."""
        return self._call("list open pull requests", lambda: sorted(
            p.number for p in self._repo.get_pulls(state="open") if p.head.ref.startswith(prefix)))

    def _put_file(self, branch: str, path: str, text: str | None, message: str) -> None:
        try:
            current = self._call(f"read {path}", lambda: self._repo.get_contents(path, ref=branch))
        except GitHubError as exc:
            if "404" not in str(exc):
                raise
            current = None
        if isinstance(current, list):
            raise GitHubError(f"{path} is a directory on {branch}; a bot PR changes files only")
        if text is None:
            if current is not None:
                self._call(f"delete {path}", lambda: self._repo.delete_file(path, message, current.sha, branch=branch))
        elif current is None:
            self._call(f"create {path}", lambda: self._repo.create_file(path, message, text, branch=branch))
        elif current.decoded_content != text.encode():
            self._call(f"update {path}", lambda: self._repo.update_file(path, message, text, current.sha,
                                                                       branch=branch))

    # ---- branch protection (setup-repo) ----------------------------------
    def read_protection(self, branch: str) -> dict[str, Any] | None:
        """The raw protection document of ``branch`` as GitHub returns it, or None."""
        def get() -> dict[str, Any] | None:
            try:
                _, data = self._gh.requester.requestJsonAndCheck(
                    "GET", f"/repos/{self.repository}/branches/{branch}/protection")
            except GithubException as exc:
                if exc.status == 404 and "not protected" in str((exc.data or {}).get("message", "")).lower():
                    return None
                raise
            return data

        return self._call(f"read branch protection of {branch}", get)

    def read_environment(self, name: str) -> dict[str, Any] | None:
        """The environment ``name`` with its custom branch policies listed
        under ``branch_policies``, or None when it does not exist."""
        def get() -> dict[str, Any] | None:
            try:
                _, env = self._gh.requester.requestJsonAndCheck(
                    "GET", f"/repos/{self.repository}/environments/{name}")
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise
            env["branch_policies"] = []
            if (env.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
                _, pols = self._gh.requester.requestJsonAndCheck(
                    "GET", f"/repos/{self.repository}/environments/{name}/deployment-branch-policies",
                    parameters={"per_page": 100})
                env["branch_policies"] = pols["branch_policies"]
            return env

        return self._call(f"read environment {name}", get)

    def restrict_environment(self, name: str, branch: str) -> None:
        """Create or update environment ``name`` so only ``branch`` may deploy
        to it (and so read its secrets): custom branch policies, exactly one."""
        req = self._gh.requester.requestJsonAndCheck
        base = f"/repos/{self.repository}/environments/{name}"
        self._call(f"configure environment {name}", lambda: req("PUT", base, input={
            "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True}}))
        env = self.read_environment(name) or {}
        have = env.get("branch_policies", [])
        for pol in have:
            if (pol.get("name"), pol.get("type", "branch")) != (branch, "branch"):
                self._call(f"remove branch policy {pol.get('name')} of {name}", lambda p=pol: req(
                    "DELETE", f"{base}/deployment-branch-policies/{p['id']}"))
        if not any((p.get("name"), p.get("type", "branch")) == (branch, "branch") for p in have):
            self._call(f"limit environment {name} to {branch}", lambda: req(
                "POST", f"{base}/deployment-branch-policies", input={"name": branch, "type": "branch"}))

    def branch_exists(self, branch: str) -> bool:
        """Whether ``branch`` exists (GET /repos/{owner}/{repo}/branches/{branch}: 404 when not)."""
        def get() -> bool:
            try:
                self._gh.requester.requestJsonAndCheck("GET", f"/repos/{self.repository}/branches/{branch}")
            except GithubException as exc:
                if exc.status == 404:
                    return False
                raise
            return True

        return self._call(f"read branch {branch}", get)

    def write_protection(self, branch: str, document: dict[str, Any]) -> None:
        """PUT the whole protection of ``branch`` (GitHub replaces it as a unit)."""
        self._call(f"update branch protection of {branch}", lambda: self._gh.requester.requestJsonAndCheck(
            "PUT", f"/repos/{self.repository}/branches/{branch}/protection", input=document))

