"""A loopback fake of the GitHub REST endpoints accessctl uses.

Why a fake: no usable GitHub fake exists on PyPI or npm (FINDINGS.md), and
the pipeline's guarantees (one PR comment, approvals on the head commit,
branch protection) must be tested through the real PyGithub client. Shapes
follow docs.github.com/rest; every absolute URL uses the server's own
host:port because PyGithub refuses any other.

Usage::

    gh = FakeGitHub(org="acme", repo="access").start()
    gh.add_team("security", ["ivan-acme"])
    n = gh.add_pr(author="bob-acme", files=[("requests/aws/acme-dev/x.yaml", "added")])
    gh.add_review(n, "ivan-acme", "APPROVED")
    ...  # Github(base_url=gh.url, auth=Auth.Token("x"), retry=None)
    gh.stop()

Tokens: the token ``x`` is an installation token of the pipeline's GitHub
App with the App's permissions (``APP_PERMISSIONS``); ``workflow_token(file,
job)`` adds an Actions ``GITHUB_TOKEN`` with the permissions of that job's
``permissions:`` block; ``add_token`` any other. Every call is checked
against GitHub's published per-endpoint permissions (github_tokens.py):
403 "Resource not accessible by integration" as GitHub answers, 404 for
organisation teams the token cannot see. What each token creates is
authored by its login, and a PR opened with a workflow token starts no
workflow (``PR.starts_workflows``). README.md beside this file lists what
the fake enforces and what it does not model.

Test switches: ``rate_limit(...)`` injects secondary-rate-limit responses,
``calls`` records every request, ``count(method, fragment)`` counts them,
``RESPONSE_HOOKS`` sees every (operation, status, body) served (the
contract test validates them against GitHub's OpenAPI description).
"""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from tools.core.github_context import APP_PERMISSIONS
from tools.sandbox import github_shapes as shapes
from tools.sandbox.github_tokens import GITHUB_ACTIONS_APP, LEVEL, Token, job_permissions, load_workflow, requirements

SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you "
                     "try again. If you reach out to GitHub Support for help, please include the request ID 0000:1111.")
DOCS = "https://docs.github.com/rest"
STAMP = "2026-11-22T12:00:00Z"
APP_ID, APP_SLUG = 424242, "accessctl"  # the pipeline's App in the sandbox
# GitHub stops listing a PR's files at 3,000 (docs: "List pull requests files").
MAX_PR_FILES = 3000
# Called with (operation, status, body) for every response served; tests
# register a validator here (tests/test_github_contract.py).
RESPONSE_HOOKS: list[Callable[[str, int, Any], None]] = []


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def blob_sha(content: bytes) -> str:
    """Git's blob id, as the contents API reports it."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class PR:
    number: int
    author: str
    title: str
    body: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    files: list[dict[str, Any]]
    state: str = "open"
    reviews: list[dict[str, Any]] = field(default_factory=list)
    # Events caused by GITHUB_TOKEN start no workflow run (docs: "Triggering
    # a workflow from a workflow"), so a PR opened with it never gets a check.
    starts_workflows: bool = True
    changed_files: int | None = None  # when more files changed than are listed
    merged_at: str | None = None  # set by merge(): pull-request-simple's merged_at / merge_commit_sha
    merge_commit_sha: str | None = None


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


class FakeGitHub:
    def __init__(self, org: str = "acme", repo: str = "access", default_branch: str = "main",
                 bot_login: str = f"{APP_SLUG}[bot]", owner_type: str = "Organization"):
        self.org, self.repo_name, self.default_branch, self.bot_login = org, repo, default_branch, bot_login
        self.owner_type = owner_type  # "User": push restrictions are refused (see _put_protection)
        # Apps installed on the repository: slug -> their permissions; only these
        # (with contents: write) may be named in push restrictions.
        self.installed_apps: dict[str, dict[str, str]] = {APP_SLUG: dict(APP_PERMISSIONS)}
        self.lock = threading.RLock()
        # token value -> who it is; "x" is the pipeline App's installation token
        self.tokens: dict[str, Token] = {"x": Token("app", bot_login, dict(APP_PERMISSIONS), APP_ID, APP_SLUG)}
        self.actor: Token = self.tokens["x"]  # the caller of the request being served
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.environments: dict[str, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self._ids = itertools.count(1000)
        self._shas = itertools.count(1)
        self.users: dict[str, str] = {bot_login: "Bot"}  # login -> type
        self.teams: dict[str, dict[str, str]] = {}  # slug -> {login: state}
        self.pulls: dict[int, PR] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}  # id -> {issue, user, body, created}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.commit_pulls: dict[str, list[int]] = {}  # commit on the default branch -> PRs that brought it
        base = self.new_sha()
        self.branches: dict[str, dict[str, Any]] = {default_branch: {"sha": base, "files": {}}}
        self.protection: dict[str, dict[str, Any]] = {}
        self._numbers = itertools.count(1)
        self._limits: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle -------------------------------------------------------
    def start(self) -> "FakeGitHub":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeGitHub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server, "call start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.repo_name}"

    # ---- seeding ---------------------------------------------------------
    def new_sha(self) -> str:
        return hashlib.sha1(f"commit-{next(self._shas)}".encode()).hexdigest()

    def add_token(self, value: str, token: Token) -> str:
        self.tokens[value] = token
        self.add_user(token.login, "Bot" if token.kind != "user" else "User")
        return value

    def workflow_token(self, workflow: str | Path, job: str, *, value: str | None = None,
                       default: str = "restricted", fork: bool = False) -> str:
        """A GITHUB_TOKEN with the permissions ``job`` of ``workflow`` would get."""
        perms = job_permissions(load_workflow(workflow), job, default, fork)
        return self.add_token(value or f"ghs_workflow_{Path(workflow).stem}_{job}",
                              Token("workflow", "github-actions[bot]", perms, *GITHUB_ACTIONS_APP))

    def admin_token(self, login: str = "admin-acme") -> str:
        """A repository admin's own token (setup-repo): refused nothing."""
        return self.add_token(f"ghp_{login}", Token("user", login))

    def add_user(self, login: str, type: str = "User") -> None:
        self.users.setdefault(login, type)

    def add_team(self, slug: str, members: list[str], pending: list[str] = ()) -> None:
        for login in [*members, *pending]:
            self.add_user(login)
        self.teams[slug] = {**{m: "active" for m in members}, **{p: "pending" for p in pending}}

    def add_pr(self, author: str, files: list[tuple[str, str]] = (), title: str = "Access request",
               body: str = "", head_ref: str | None = None, head_sha: str | None = None,
               contents: dict[str, str] | None = None) -> int:
        """A PR from ``author``; ``files`` as (path, status) with status added/modified/removed/renamed;
        ``contents`` (path -> text at the head) makes each file's ``sha`` the blob id GitHub would report."""
        self.add_user(author)
        with self.lock:
            number = next(self._numbers)
            listed = self._files(files)
            for f in listed:
                if contents and f["filename"] in contents:
                    f["sha"] = blob_sha(contents[f["filename"]].encode())
            self.pulls[number] = PR(number, author, title, body, head_ref or f"request-{number}",
                                    head_sha or self.new_sha(), self.default_branch,
                                    self.branches[self.default_branch]["sha"], listed, changed_files=len(listed))
            return number

    def set_contents(self, number: int, contents: dict[str, str]) -> None:
        """The PR head's text of some files: their ``sha`` becomes the blob id GitHub reports."""
        with self.lock:
            for f in self.pulls[number].files:
                if f["filename"] in contents:
                    f["sha"] = blob_sha(contents[f["filename"]].encode())

    def merge(self, number: int, commit_sha: str) -> None:
        """Record that PR ``number`` was merged into its base as ``commit_sha``
        (whatever approvals it has: an admin can merge past branch protection)."""
        with self.lock:
            pr = self.pulls[number]
            pr.state, pr.merged_at, pr.merge_commit_sha = "closed", STAMP, commit_sha
            self.commit_pulls.setdefault(commit_sha, []).append(number)

    def push(self, number: int, files: list[tuple[str, str]] | None = None) -> str:
        """A new commit on the PR's head branch; returns its sha."""
        with self.lock:
            pr = self.pulls[number]
            pr.head_sha = self.new_sha()
            if files is not None:
                pr.files = self._files(files)
                pr.changed_files = len(pr.files)
            return pr.head_sha

    def add_review(self, number: int, user: str, state: str = "APPROVED", commit_id: str | None = "head") -> int:
        """``commit_id`` None: the reviewed commit is gone (GitHub then answers
        ``"commit_id": null``, which the OpenAPI description allows)."""
        self.add_user(user)
        with self.lock:
            pr = self.pulls[number]
            rid = next(self._ids)
            pr.reviews.append({"id": rid, "user": user, "state": state,
                               "commit_id": pr.head_sha if commit_id == "head" else commit_id})
            return rid

    def add_comment(self, number: int, user: str, body: str) -> int:
        self.add_user(user)
        with self.lock:
            cid = next(self._ids)
            self.comments[cid] = {"issue": number, "user": user, "body": body}
            return cid

    def add_branch(self, name: str, files: dict[str, str] | None = None) -> None:
        """A branch ``name`` (e.g. the durable record's) with ``files``."""
        with self.lock:
            self.branches[name] = {"sha": self.new_sha(), "files": {k: v.encode() for k, v in (files or {}).items()}}

    def may_push(self, branch: str, token: str) -> bool:
        """Whether the holder of ``token`` may push to ``branch`` (docs:
        "About protected branches", "Restrict who can push to matching
        branches": only the listed people, teams and apps push; admins too
        when the rules are enforced for administrators). The fake keeps no
        git objects, so tests ask here what GitHub's git endpoint decides."""
        who, rules = self.tokens.get(token), self.protection.get(branch)
        if who is None:
            return False
        if who.kind != "user" and who.level("contents") < LEVEL["write"]:
            return False  # an installation token (the App's or a workflow's) needs contents: write
        if rules is None:
            return True
        if rules.get("lock_branch", {}).get("enabled"):
            return False
        if who.kind == "user" and not rules["enforce_admins"]["enabled"]:
            return True  # the admin_token is an administrator: unenforced rules do not bind it
        allowed = rules.get("restrictions")
        if allowed is None:
            return True
        if who.kind == "user":
            return who.login in {u["login"] for u in allowed["users"]}
        return who.app_slug in {a["slug"] for a in allowed["apps"]}

    def set_file(self, branch: str, path: str, text: str) -> None:
        with self.lock:
            self.branches[branch]["files"][path] = text.encode()

    def rate_limit(self, times: int = 1, status: int = 403, retry_after: int | None = 3,
                   match: str = "") -> None:
        """The next ``times`` requests whose path contains ``match`` get a
        secondary rate limit response, as GitHub documents it."""
        self._limits.append({"left": times, "status": status, "retry_after": retry_after, "match": match})

    def count(self, method: str | None = None, fragment: str = "") -> int:
        return sum(1 for c in self.calls if (method is None or c.method == method) and fragment in c.path)

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    def pr_comments(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == number]

    def _files(self, files: list[tuple[str, ...]]) -> list[dict[str, Any]]:
        """(path, status) or, for a rename, (path, "renamed", previous path)."""
        out = []
        for path, status, *previous in files:
            f = {"sha": blob_sha(path.encode()), "filename": path, "status": status, "additions": 1,
                 "deletions": 0, "changes": 1, "blob_url": f"https://github.com/{self.full_name}/blob/x/{path}",
                 "raw_url": f"https://github.com/{self.full_name}/raw/x/{path}",
                 "contents_url": f"{self._base()}/repos/{self.full_name}/contents/{path}"}
            if previous:
                f["previous_filename"] = previous[0]
            out.append(f)
        return out

    def _base(self) -> str:
        return self.url if self._server else "http://127.0.0.1"

    def gate(self, sha: str, branch: str | None = None) -> list[str]:
        """The required checks of ``branch``'s protection that ``sha`` does
        not satisfy (empty: mergeable as far as checks go). A check with an
        ``app_id`` counts only from that App (docs: "Update branch
        protection", required_status_checks.checks[].app_id); -1 or none
        accepts any source. The newest check run or status of a name wins."""
        rules = (self.protection.get(branch or self.default_branch) or {}).get("required_status_checks")
        if not rules:
            return []
        missing = []
        for check in rules["checks"]:
            app = check.get("app_id")
            runs = [(r["id"], r["conclusion"]) for r in self.check_runs.values()
                    if r["head_sha"] == sha and r["name"] == check["context"]
                    and (app in (None, -1) or r["app"]["id"] == app)]
            statuses = [(-i, s["state"]) for i, s in enumerate(self.statuses.get(sha, []))
                        if s["context"] == check["context"] and (app in (None, -1) or s.get("app_id") == app)]
            newest = max(runs, default=None) or max(statuses, default=None)
            if newest is None or newest[1] not in ("success", "neutral", "skipped"):
                missing.append(check["context"] + (f" (from app {app})" if app not in (None, -1) else ""))
        return missing

    def may_use_environment(self, name: str, ref: str) -> bool:
        """Whether a job running on ``ref`` (refs/heads/… or refs/pull/N/merge)
        may use environment ``name`` and so read its secrets (docs: "Managing
        environments for deployment", deployment branches and tags)."""
        env = self.environments.get(name)
        if env is None:
            return False
        policy = env["deployment_branch_policy"]
        if policy is None:
            return True  # no restriction: any branch, including a PR's
        if not ref.startswith("refs/heads/"):
            return False
        branch = ref[len("refs/heads/"):]
        if policy["protected_branches"]:
            return branch in self.protection
        return any(p["type"] == "branch" and fnmatch.fnmatchcase(branch, p["name"]) for p in env["policies"])

    # ---- shapes ----------------------------------------------------------
    def _repo_url(self) -> str:
        return f"{self.url}/repos/{self.full_name}"

    def _user(self, login: str) -> dict[str, Any]:
        return shapes.user(self.url, login, self.users.get(login, "User"))

    def _repo(self) -> dict[str, Any]:
        return shapes.repository(self.url, self.org, self.repo_name, self.default_branch)

    def _pull(self, pr: PR) -> dict[str, Any]:
        return shapes.pull(self.url, self._repo(), pr, self._user(pr.author), self._user(self.org))

    def _review(self, number: int, r: dict[str, Any]) -> dict[str, Any]:
        return shapes.review(self._repo(), number, r, self._user(r["user"]))

    def _comment(self, cid: int) -> dict[str, Any]:
        c = self.comments[cid]
        return shapes.comment(self._repo(), cid, c["issue"], c["body"], self._user(c["user"]))

    def _issue(self, number: int) -> dict[str, Any]:
        return shapes.issue(self._repo(), number, self.issues[number], self._user(self.issues[number]["user"]))

    def _team(self, slug: str) -> dict[str, Any]:
        return shapes.team(self.url, self.org, slug, sum(1 for s in self.teams.get(slug, {}).values() if s == "active"))

    # ---- dispatch --------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = (h.headers.get("Authorization") or "").split(" ", 1)
        with self.lock:
            self.calls.append(Call(h.command, path, query, body))
            limited = self._limited(path)
        op = ""
        if limited:
            status, payload, headers = limited
        else:
            try:
                with self.lock:
                    token = self.tokens.get(auth[1].strip()) if len(auth) == 2 else None
                    if token is None:  # docs: "Troubleshooting the REST API", 401 Bad credentials
                        raise HttpError(401, "Bad credentials")
                    self.actor = token
                    op, status, payload, headers = self._route(h.command, path, query, body)
            except HttpError as exc:
                status, payload, headers = exc.status, {"message": exc.message, "documentation_url": DOCS}, exc.headers
        if op:
            for hook in RESPONSE_HOOKS:
                hook(op, status, payload)
        data = b"" if status == 204 else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _limited(self, path: str) -> tuple[int, Any, dict[str, str]] | None:
        for rule in self._limits:
            if rule["left"] > 0 and rule["match"] in path:
                rule["left"] -= 1
                headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999"}
                if rule["retry_after"] is not None:
                    headers["Retry-After"] = str(rule["retry_after"])
                return rule["status"], {"message": SECONDARY_MESSAGE, "documentation_url":
                                        f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}, headers
        return None

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[str, int, Any, dict[str, str]]:
        repo_prefix = f"/repos/{self.full_name}"
        for (verb, pattern), (fn, op) in _ROUTES.items():
            if verb != method:
                continue
            pat = pattern.replace("{repo}", re.escape(repo_prefix)).replace("{org}", re.escape(self.org))
            m = re.fullmatch(pat, path)
            if m:
                self._authorize(op)
                out = fn(self, query, body or {}, *m.groups())
                if isinstance(out, tuple):
                    return (op, *out)
                return op, 200, out, {}
        raise HttpError(404, "Not Found")

    def _authorize(self, op: str) -> None:
        """Refuse as GitHub does when the caller's token lacks every one of the
        endpoint's alternative permission sets (data/github-permissions.json)."""
        if self.actor.allows(requirements()[op]):
            return
        if op.startswith("GET /orgs/"):
            # An installation that cannot see the organisation's teams gets
            # 404, not 403: the Actions token asking for a team membership
            # (docs: "Troubleshooting the REST API", 404 for a resource you
            # cannot access).
            raise HttpError(404, "Not Found")
        raise HttpError(403, "Resource not accessible by integration")

    def _page(self, items: list[Any], query: dict, path: str) -> tuple[int, Any, dict[str, str]]:
        """GitHub pagination: ``per_page`` (max 100, default 30), ``page``, Link header."""
        per = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per))
        rest = "&".join(f"{k}={v[0]}" for k, v in query.items() if k not in ("page", "per_page"))
        link = lambda p: f"<{self.url}{path}?{rest + '&' if rest else ''}per_page={per}&page={p}>"
        rels = []
        if page < last:
            rels += [f'{link(page + 1)}; rel="next"', f'{link(last)}; rel="last"']
        if page > 1:
            rels += [f'{link(1)}; rel="first"', f'{link(page - 1)}; rel="prev"']
        return 200, items[(page - 1) * per: page * per], ({"Link": ", ".join(rels)} if rels else {})


_ROUTES: dict[tuple[str, str], tuple[Callable[..., Any], str]] = {}


def route(method: str, pattern: str, op: str) -> Callable:
    """Serve ``method pattern`` as GitHub's operation ``op`` ("METHOD /path"
    as the permission table and the OpenAPI description spell it)."""
    if op not in requirements():
        raise KeyError(f"{op} is not in data/github-permissions.json: add it to USED and regenerate")

    def register(fn: Callable) -> Callable:
        _ROUTES[(method, pattern)] = (fn, op)
        return fn
    return register

# ---- repository, pulls, reviews -------------------------------------------
@route("GET", "{repo}", "GET /repos/{owner}/{repo}")
def _get_repo(g: FakeGitHub, q, b):
    return g._repo()


@route("GET", "{repo}/pulls", "GET /repos/{owner}/{repo}/pulls")
def _list_pulls(g: FakeGitHub, q, b):
    state = q.get("state", ["open"])[0]
    head = q.get("head", [None])[0]
    items = [g._pull(p) for p in g.pulls.values()
             if (state == "all" or p.state == state) and (head is None or f"{g.org}:{p.head_ref}" == head)]
    return g._page(items, q, f"/repos/{g.full_name}/pulls")


@route("POST", "{repo}/pulls", "POST /repos/{owner}/{repo}/pulls")
def _create_pull(g: FakeGitHub, q, b):
    head, base = b.get("head", ""), b.get("base", "")
    head_ref = head.split(":", 1)[-1]
    if head_ref not in g.branches or base not in g.branches:
        raise HttpError(422, "Validation Failed")
    if any(p.head_ref == head_ref and p.state == "open" for p in g.pulls.values()):
        raise HttpError(422, f"A pull request already exists for {g.org}:{head_ref}.")
    n = g.add_pr(g.actor.login, [], b.get("title", ""), b.get("body") or "", head_ref, g.branches[head_ref]["sha"])
    pr = g.pulls[n]
    pr.base_ref, pr.base_sha = base, g.branches[base]["sha"]
    base_files, head_files = g.branches[base]["files"], g.branches[head_ref]["files"]
    changed = [(p, "added" if p not in base_files else "modified") for p in head_files
               if base_files.get(p) != head_files[p]]
    changed += [(p, "removed") for p in base_files if p not in head_files]
    pr.files = g._files(sorted(changed))
    pr.changed_files = len(pr.files)
    pr.starts_workflows = g.actor.kind != "workflow"
    return 201, g._pull(pr), {}


def _pr(g: FakeGitHub, n: str) -> PR:
    pr = g.pulls.get(int(n))
    if pr is None:
        raise HttpError(404, "Not Found")
    return pr


@route("GET", r"{repo}/pulls/(\d+)", "GET /repos/{owner}/{repo}/pulls/{pull_number}")
def _get_pull(g: FakeGitHub, q, b, n):
    return g._pull(_pr(g, n))


@route("GET", r"{repo}/pulls/(\d+)/files", "GET /repos/{owner}/{repo}/pulls/{pull_number}/files")
def _pull_files(g: FakeGitHub, q, b, n):
    return g._page(list(_pr(g, n).files)[:MAX_PR_FILES], q, f"/repos/{g.full_name}/pulls/{n}/files")


@route("GET", r"{repo}/pulls/(\d+)/reviews", "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def _pull_reviews(g: FakeGitHub, q, b, n):
    pr = _pr(g, n)
    return g._page([g._review(pr.number, r) for r in pr.reviews], q, f"/repos/{g.full_name}/pulls/{n}/reviews")


# ---- issue comments -------------------------------------------------------
def _issue_exists(g: FakeGitHub, n: str) -> int:
    if int(n) not in g.pulls and int(n) not in g.issues:
        raise HttpError(404, "Not Found")
    return int(n)


@route("GET", r"{repo}/issues/(\d+)/comments", "GET /repos/{owner}/{repo}/issues/{issue_number}/comments")
def _list_comments(g: FakeGitHub, q, b, n):
    num = _issue_exists(g, n)
    items = [g._comment(cid) for cid in sorted(g.comments) if g.comments[cid]["issue"] == num]
    return g._page(items, q, f"/repos/{g.full_name}/issues/{n}/comments")


@route("POST", r"{repo}/issues/(\d+)/comments", "POST /repos/{owner}/{repo}/issues/{issue_number}/comments")
def _create_comment(g: FakeGitHub, q, b, n):
    if "body" not in b:
        raise HttpError(422, "Validation Failed")
    return 201, g._comment(g.add_comment(_issue_exists(g, n), g.actor.login, b["body"])), {}


def _own_comment(g: FakeGitHub, cid: str) -> int:
    if int(cid) not in g.comments:
        raise HttpError(404, "Not Found")
    if g.comments[int(cid)]["user"] != g.actor.login:
        raise HttpError(403, "Resource not accessible by integration")
    return int(cid)


@route("GET", r"{repo}/issues/comments/(\d+)", "GET /repos/{owner}/{repo}/issues/comments/{comment_id}")
def _get_comment(g: FakeGitHub, q, b, cid):
    if int(cid) not in g.comments:
        raise HttpError(404, "Not Found")
    return g._comment(int(cid))


@route("PATCH", r"{repo}/issues/comments/(\d+)", "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}")
def _edit_comment(g: FakeGitHub, q, b, cid):
    c = _own_comment(g, cid)
    g.comments[c]["body"] = b["body"]
    return g._comment(c)


@route("DELETE", r"{repo}/issues/comments/(\d+)", "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}")
def _delete_comment(g: FakeGitHub, q, b, cid):
    del g.comments[_own_comment(g, cid)]
    return 204, None, {}


# ---- commits and statuses -------------------------------------------------
@route("GET", r"{repo}/commits/([0-9a-f]{40})", "GET /repos/{owner}/{repo}/commits/{ref}")
def _get_commit(g: FakeGitHub, q, b, sha):
    return shapes.commit(g._repo(), sha)


@route("POST", r"{repo}/statuses/([0-9a-f]{40})", "POST /repos/{owner}/{repo}/statuses/{sha}")
def _create_status(g: FakeGitHub, q, b, sha):
    if b.get("state") not in ("error", "failure", "pending", "success"):
        raise HttpError(422, "Validation Failed")
    status = {"id": next(g._ids), "state": b["state"], "context": b.get("context", "default"),
              "description": b.get("description"), "target_url": b.get("target_url"),
              "url": f"{g._repo_url()}/statuses/{sha}", "created_at": STAMP, "updated_at": STAMP,
              "node_id": f"SC_{sha[:8]}", "avatar_url": None,
              "creator": g._user(g.actor.login), "app_id": g.actor.app_id}
    g.statuses.setdefault(sha, []).insert(0, status)  # newest first, as GitHub lists them
    return 201, _public(status), {}


def _public(status: dict[str, Any]) -> dict[str, Any]:
    """A stored status without the sandbox's own bookkeeping (the App that set it)."""
    return {k: v for k, v in status.items() if k != "app_id"}


@route("GET", r"{repo}/commits/([0-9a-f]{40})/pulls", "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls")
def _commit_pulls(g: FakeGitHub, q, b, sha):
    """List pull requests associated with a commit
    (https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit):
    for a commit on the default branch, the merged PR that introduced it;
    for any other commit, only the open PRs it belongs to (here: whose head it is).
    A commit pushed straight to the branch has no PR: an empty list."""
    merged = g.commit_pulls.get(sha)
    items = [g.pulls[n] for n in merged] if merged else [
        p for p in g.pulls.values() if p.state == "open" and p.head_sha == sha]
    return g._page([g._pull(p) for p in items], q, f"/repos/{g.full_name}/commits/{sha}/pulls")


@route("GET", r"{repo}/commits/([0-9a-f]{40})/statuses", "GET /repos/{owner}/{repo}/commits/{ref}/statuses")
@route("GET", r"{repo}/statuses/([0-9a-f]{40})", "GET /repos/{owner}/{repo}/commits/{ref}/statuses")  # the older path PyGithub calls
def _list_statuses(g: FakeGitHub, q, b, sha):
    return g._page([_public(x) for x in g.statuses.get(sha, [])], q, f"/repos/{g.full_name}/commits/{sha}/statuses")


# ---- issues ---------------------------------------------------------------
@route("GET", "{repo}/issues", "GET /repos/{owner}/{repo}/issues")
def _list_issues(g: FakeGitHub, q, b):
    state = q.get("state", ["open"])[0]
    labels = set(filter(None, q.get("labels", [""])[0].split(",")))
    items = [g._issue(n) for n in sorted(g.issues) if (state == "all" or g.issues[n]["state"] == state)
             and labels <= set(g.issues[n]["labels"])]
    return g._page(items, q, f"/repos/{g.full_name}/issues")


@route("POST", "{repo}/issues", "POST /repos/{owner}/{repo}/issues")
def _create_issue(g: FakeGitHub, q, b):
    if not b.get("title"):
        raise HttpError(422, "Validation Failed")
    n = next(g._numbers)
    g.issues[n] = {"title": b["title"], "body": b.get("body") or "", "state": "open",
                   "labels": list(b.get("labels", [])), "user": g.actor.login}
    return 201, g._issue(n), {}


@route("GET", r"{repo}/issues/(\d+)", "GET /repos/{owner}/{repo}/issues/{issue_number}")
def _get_issue(g: FakeGitHub, q, b, n):
    if int(n) in g.pulls:  # every PR is also an issue, with a pull_request key
        pr = g.pulls[int(n)]
        return {**g._pull(pr), "url": f"{g._repo_url()}/issues/{pr.number}", "labels": [],
                "pull_request": {"url": f"{g._repo_url()}/pulls/{pr.number}"}}
    if int(n) not in g.issues:
        raise HttpError(404, "Not Found")
    return g._issue(int(n))


@route("PATCH", r"{repo}/issues/(\d+)", "PATCH /repos/{owner}/{repo}/issues/{issue_number}")
def _edit_issue(g: FakeGitHub, q, b, n):
    if int(n) not in g.issues:
        raise HttpError(404, "Not Found")
    issue = g.issues[int(n)]
    for key in ("title", "body", "state", "state_reason", "labels"):
        if key in b:
            issue[key] = b[key]
    return g._issue(int(n))


# ---- teams ----------------------------------------------------------------
def _team_slug(g: FakeGitHub, slug: str) -> str:
    if slug not in g.teams:
        raise HttpError(404, "Not Found")
    return slug


@route("GET", r"/orgs/{org}/teams", "GET /orgs/{org}/teams")
def _list_teams(g: FakeGitHub, q, b):
    return g._page([g._team(s) for s in sorted(g.teams)], q, f"/orgs/{g.org}/teams")


@route("GET", r"/orgs/{org}/teams/([\w.-]+)", "GET /orgs/{org}/teams/{team_slug}")
def _get_team(g: FakeGitHub, q, b, slug):
    return g._team(_team_slug(g, slug))


@route("GET", r"/orgs/{org}/teams/([\w.-]+)/members", "GET /orgs/{org}/teams/{team_slug}/members")
def _team_members(g: FakeGitHub, q, b, slug):
    members = [g._user(u) for u, s in g.teams[_team_slug(g, slug)].items() if s == "active"]
    return g._page(members, q, f"/orgs/{g.org}/teams/{slug}/members")


@route("GET", r"/orgs/{org}/teams/([\w.-]+)/memberships/([\w\[\].-]+)", "GET /orgs/{org}/teams/{team_slug}/memberships/{username}")
def _team_membership(g: FakeGitHub, q, b, slug, login):
    state = g.teams[_team_slug(g, slug)].get(login)
    if state is None:
        raise HttpError(404, "Not Found")
    return {"url": f"{g.url}/orgs/{g.org}/teams/{slug}/memberships/{login}", "role": "member", "state": state}


@route("PUT", r"/orgs/{org}/teams/([\w.-]+)/memberships/([\w\[\].-]+)",
       "PUT /orgs/{org}/teams/{team_slug}/memberships/{username}")
def _put_team_membership(g: FakeGitHub, q, b, slug, login):
    """docs.github.com/rest/teams/members#add-or-update-team-membership-for-a-user:
    needs the organisation "Members" permission (write), which no Actions
    GITHUB_TOKEN can hold (its scopes have no ``members``), so the workflow
    token is refused by _authorize. ``role`` is member or maintainer; an
    unknown login is 404. Organisation invitations (``pending`` for people
    outside the organisation) are not modelled: every known user joins."""
    team = g.teams[_team_slug(g, slug)]
    if login not in g.users:
        raise HttpError(404, "Not Found")
    role = b.get("role", "member")
    if role not in ("member", "maintainer"):
        raise HttpError(422, f"role {role!r} is not one of member, maintainer")
    team.setdefault(login, "active")
    return {"url": f"{g.url}/orgs/{g.org}/teams/{slug}/memberships/{login}", "role": role, "state": team[login]}


@route("DELETE", r"/orgs/{org}/teams/([\w.-]+)/memberships/([\w\[\].-]+)",
       "DELETE /orgs/{org}/teams/{team_slug}/memberships/{username}")
def _delete_team_membership(g: FakeGitHub, q, b, slug, login):
    """docs.github.com/rest/teams/members#remove-team-membership-for-a-user:
    "Members" organisation permission (write); 204 on success, 403 when the
    team is synchronised with an IdP (not modelled), 404 when not a member."""
    team = g.teams[_team_slug(g, slug)]
    if login not in team:
        raise HttpError(404, "Not Found")
    del team[login]
    return 204, None, {}


# ---- branches, refs, contents ---------------------------------------------
def _branch(g: FakeGitHub, name: str) -> dict[str, Any]:
    if name not in g.branches:
        raise HttpError(404, "Branch not found")
    return g.branches[name]


@route("GET", r"{repo}/branches/([^/]+)", "GET /repos/{owner}/{repo}/branches/{branch}")
def _get_branch(g: FakeGitHub, q, b, name):
    sha = _branch(g, name)["sha"]
    url = f"{g._repo_url()}/branches/{name}"
    return {"name": name, "commit": shapes.commit(g._repo(), sha), "protected": name in g.protection,
            "protection": {"enabled": name in g.protection}, "protection_url": f"{url}/protection",
            "_links": {"self": url, "html": f"https://github.com/{g.full_name}/tree/{name}"}}


@route("GET", r"{repo}/git/refs?/heads/(.+)", "GET /repos/{owner}/{repo}/git/ref/{ref}")
def _get_ref(g: FakeGitHub, q, b, name):
    sha = _branch(g, name)["sha"]
    return {"ref": f"refs/heads/{name}", "node_id": f"REF_{name}", "url": f"{g._repo_url()}/git/refs/heads/{name}",
            "object": {"sha": sha, "type": "commit", "url": f"{g._repo_url()}/git/commits/{sha}"}}


@route("POST", "{repo}/git/refs", "POST /repos/{owner}/{repo}/git/refs")
def _create_ref(g: FakeGitHub, q, b):
    ref = b.get("ref", "")
    if not ref.startswith("refs/heads/") or ref.count("/") < 2:
        raise HttpError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    name = ref[len("refs/heads/"):]
    if name in g.branches:
        raise HttpError(422, "Reference already exists")
    source = next((br for br in g.branches.values() if br["sha"] == b.get("sha")), None)
    if source is None:
        raise HttpError(422, "Object does not exist")
    g.branches[name] = {"sha": b["sha"], "files": dict(source["files"])}
    return 201, _get_ref(g, q, b, name), {}


def _content(g: FakeGitHub, path: str, data: bytes) -> dict[str, Any]:
    sha, url = blob_sha(data), f"{g._repo_url()}/contents/{path}"
    html, git_url = f"https://github.com/{g.full_name}/blob/{g.default_branch}/{path}", f"{g._repo_url()}/git/blobs/{sha}"
    return {"type": "file", "encoding": "base64", "size": len(data), "name": path.rsplit("/", 1)[-1],
            "path": path, "sha": sha, "content": base64.b64encode(data).decode(), "url": url, "html_url": html,
            "git_url": git_url, "download_url": f"https://raw.githubusercontent.com/{g.full_name}/HEAD/{path}",
            "_links": {"self": url, "git": git_url, "html": html}}


@route("GET", r"{repo}/contents/(.+)", "GET /repos/{owner}/{repo}/contents/{path}")
def _get_contents(g: FakeGitHub, q, b, path):
    files = _branch(g, q.get("ref", [g.default_branch])[0])["files"]
    if path not in files:
        raise HttpError(404, "Not Found")
    return _content(g, path, files[path])


def _commit_file(g: FakeGitHub, b: dict, path: str, data: bytes | None) -> tuple[int, Any, dict]:
    br = _branch(g, b.get("branch", g.default_branch))
    current = br["files"].get(path)
    if current is not None and b.get("sha") != blob_sha(current):
        raise HttpError(409, f"{path} does not match {b.get('sha')}")
    if current is None and (data is None or b.get("sha")):
        raise HttpError(404 if data is None else 422, "Not Found" if data is None else "sha wasn't supplied.")
    if data is None:
        del br["files"][path]
    else:
        br["files"][path] = data
    br["sha"] = g.new_sha()
    commit = {"sha": br["sha"], "url": f"{g._repo_url()}/git/commits/{br['sha']}", "message": b.get("message", "")}
    return (200 if current is not None else 201), {
        "content": None if data is None else _content(g, path, data), "commit": commit}, {}


@route("PUT", r"{repo}/contents/(.+)", "PUT /repos/{owner}/{repo}/contents/{path}")
def _put_contents(g: FakeGitHub, q, b, path):
    return _commit_file(g, b, path, base64.b64decode(b.get("content", "")))


@route("DELETE", r"{repo}/contents/(.+)", "DELETE /repos/{owner}/{repo}/contents/{path}")
def _delete_contents(g: FakeGitHub, q, b, path):
    return _commit_file(g, b, path, None)


# ---- branch protection ----------------------------------------------------
def _protection(g: FakeGitHub, name: str) -> dict[str, Any]:
    _branch(g, name)
    if name not in g.protection:
        raise HttpError(404, "Branch not protected")
    return g.protection[name]


@route("GET", r"{repo}/branches/([^/]+)/protection", "GET /repos/{owner}/{repo}/branches/{branch}/protection")
def _get_protection(g: FakeGitHub, q, b, name):
    return _protection(g, name)


@route("PUT", r"{repo}/branches/([^/]+)/protection", "PUT /repos/{owner}/{repo}/branches/{branch}/protection")
def _put_protection(g: FakeGitHub, q, b, name):
    _branch(g, name)
    for key in ("required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions"):
        if key not in b:  # the four keys GitHub requires, each possibly null
            raise HttpError(422, f"Invalid request. \"{key}\" wasn't supplied.")
    url = f"{g._repo_url()}/branches/{name}/protection"
    out: dict[str, Any] = {"url": url}
    checks = b["required_status_checks"]
    if checks is not None:
        # `strict` is required, and exactly one of `contexts` and `checks`:
        # both or neither answer 422 "Invalid request" (OpenAPI requestBody;
        # observed in google/go-github#2276 and ossf/allstar#155).
        if "strict" not in checks or ("contexts" in checks) == ("checks" in checks):
            raise HttpError(422, "Invalid request.\n\nNo subschema in \"anyOf\" matched.\n"
                                 "required_status_checks needs strict and exactly one of contexts or checks.")
        items = checks.get("checks") or [{"context": c} for c in checks.get("contexts", [])]
        out["required_status_checks"] = {
            "url": f"{url}/required_status_checks", "strict": bool(checks.get("strict")),
            "contexts": [c["context"] for c in items],
            "checks": [{"context": c["context"], "app_id": c.get("app_id")} for c in items],
            "contexts_url": f"{url}/required_status_checks/contexts"}
    reviews = b["required_pull_request_reviews"]
    if reviews is not None:
        out["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
            "require_code_owner_reviews": bool(reviews.get("require_code_owner_reviews")),
            "required_approving_review_count": int(reviews.get("required_approving_review_count", 1)),
            "require_last_push_approval": bool(reviews.get("require_last_push_approval"))}
        bypass = reviews.get("bypass_pull_request_allowances")
        if bypass:
            out["required_pull_request_reviews"]["bypass_pull_request_allowances"] = {
                "users": [g._user(u) for u in bypass.get("users", [])],
                "teams": [g._team(t) for t in bypass.get("teams", [])], "apps": []}
    out["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": bool(b["enforce_admins"])}
    for key in ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
                "required_conversation_resolution", "lock_branch", "allow_fork_syncing"):
        out[key] = {"enabled": bool(b.get(key))}
    out["required_signatures"] = {"url": f"{url}/required_signatures", "enabled": False}
    if b["restrictions"] is not None:
        r = b["restrictions"]
        _check_restrictions(g, r)
        out["restrictions"] = {"url": f"{url}/restrictions", "users_url": f"{url}/restrictions/users",
                               "teams_url": f"{url}/restrictions/teams", "apps_url": f"{url}/restrictions/apps",
                               "users": [g._user(u) for u in r.get("users", [])],
                               "teams": [g._team(t) for t in r.get("teams", [])],
                               "apps": [_app(g, s) for s in r.get("apps", [])]}
    g.protection[name] = out
    return out


def _check_restrictions(g: FakeGitHub, r: dict[str, Any]) -> None:
    """The push restrictions of "Update branch protection" as GitHub's REST
    docs state them (docs.github.com/rest/branches/branch-protection#update-branch-protection,
    requestBody ``restrictions``; OpenAPI repos/update-branch-protection):
    ``users`` and ``teams`` are required arrays, ``apps`` an optional one;
    "User, app, and team restrictions are only available for
    organization-owned repositories"; "The list of users, apps, and teams in
    total is limited to 100 items"; and ("Set app access restrictions")
    "Only installed GitHub Apps with write access to the contents permission
    can be added as authorized actors on a protected branch"."""
    if not isinstance(r, dict) or not isinstance(r.get("users"), list) or not isinstance(r.get("teams"), list) \
            or not isinstance(r.get("apps", []), list):
        raise HttpError(422, "Invalid request.\n\nrestrictions needs users and teams (arrays), apps optional.")
    if g.owner_type != "Organization":
        raise HttpError(422, "Validation Failed: only organization repositories can have users and team restrictions")
    if len(r["users"]) + len(r["teams"]) + len(r.get("apps", [])) > 100:
        raise HttpError(422, "Validation Failed: the list of users, apps, and teams in total is limited to 100 items")
    for slug in r.get("apps", []):
        perms = g.installed_apps.get(slug)
        if perms is None or LEVEL.get(perms.get("contents", "none"), 0) < LEVEL["write"]:
            raise HttpError(422, f"Validation Failed: {slug} is not an installed GitHub App with contents: write "
                                 "(only those can be authorized to push to a protected branch)")


def _app(g: FakeGitHub, slug: str) -> dict[str, Any]:
    """An App as the protection document lists it (OpenAPI branch-restriction-policy.apps[])."""
    app_id = APP_ID if slug == APP_SLUG else shapes.ident(slug)
    return {"id": app_id, "slug": slug, "node_id": f"A_{app_id}", "name": slug,
            "owner": g._user(g.org), "description": "", "external_url": f"https://github.com/apps/{slug}",
            "html_url": f"https://github.com/apps/{slug}", "created_at": STAMP, "updated_at": STAMP,
            "permissions": {k: v for k, v in g.installed_apps.get(slug, {}).items()
                            if k in ("contents", "issues", "metadata", "single_file")},
            "events": []}


@route("DELETE", r"{repo}/branches/([^/]+)/protection", "DELETE /repos/{owner}/{repo}/branches/{branch}/protection")
def _delete_protection(g: FakeGitHub, q, b, name):
    _protection(g, name)
    del g.protection[name]
    return 204, None, {}


@route("GET", r"{repo}/branches/([^/]+)/protection/(required_status_checks)",
       "GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks")
@route("GET", r"{repo}/branches/([^/]+)/protection/(required_pull_request_reviews)",
       "GET /repos/{owner}/{repo}/branches/{branch}/protection/required_pull_request_reviews")
def _get_protection_part(g: FakeGitHub, q, b, name, part):
    value = _protection(g, name).get(part)
    if value is None:
        raise HttpError(404, f"{part.replace('_', ' ').capitalize()} not enabled")
    return value


@route("GET", r"{repo}/branches/([^/]+)/protection/enforce_admins", "GET /repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins")
def _get_enforce_admins(g: FakeGitHub, q, b, name):
    return _protection(g, name)["enforce_admins"]


@route("POST", r"{repo}/branches/([^/]+)/protection/enforce_admins", "POST /repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins")
def _set_enforce_admins(g: FakeGitHub, q, b, name):
    _protection(g, name)["enforce_admins"]["enabled"] = True
    return _protection(g, name)["enforce_admins"]


@route("DELETE", r"{repo}/branches/([^/]+)/protection/enforce_admins", "DELETE /repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins")
def _remove_enforce_admins(g: FakeGitHub, q, b, name):
    _protection(g, name)["enforce_admins"]["enabled"] = False
    return 204, None, {}


from tools.sandbox import github_checks  # noqa: E402,F401  (registers the checks and environments routes)
