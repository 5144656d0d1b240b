"""No writer runs on a checkout older than main's tip.

A ``reconcile --mode fix`` started from an old checkout would re-grant
access a newer merge revoked and revoke access a newer merge approved, then
report success. So every run that writes (apply, reconcile fix, expire)
fetches main from the remote and compares it with the commit it runs on,
just before its first write; any difference (or uncommitted edits to the
desired state) stops the run without writing.

Without a remote (a laptop, a test repository) there is nothing to compare
with: the check says so and passes, except inside GitHub Actions, where a
missing remote means a broken checkout and the run is refused.
"""
from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.core.errors import UsageError
from tools.core.repo import git

REMOTE = "origin"
DEFAULT_BRANCH = "main"
# The files whose uncommitted edits would change what a writer does.
DESIRED_STATE_PATHS = ("requests", "policies")


class StaleCheckout(UsageError):
    """The checkout is not main's tip: writing from it could undo newer merges."""


@dataclass(frozen=True)
class Freshness:
    head: str
    tip: str | None  # None: no remote to compare with
    note: str


def default_branch() -> str:
    return os.environ.get("ACCESSCTL_MAIN_BRANCH") or DEFAULT_BRANCH


def has_remote(root: Path, remote: str = REMOTE) -> bool:
    return bool(git(root, "remote", "get-url", remote, check=False).strip())


def remote_git(root: Path, *args: str) -> subprocess.CompletedProcess:
    """git fetch/push to the remote, authenticated with the job's token.

    The workflows check out with ``persist-credentials: false`` (no token on
    disk for later steps); the writers pass ``GITHUB_TOKEN`` to git through
    the environment (``GIT_CONFIG_*``), only for their own fetches and pushes,
    and only to an https remote."""
    env = dict(os.environ)
    token = os.environ.get("GITHUB_TOKEN")
    url = git(root, "remote", "get-url", REMOTE, check=False).strip()
    if token and url.startswith("https://"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        n = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        env.update({"GIT_CONFIG_COUNT": str(n + 1), f"GIT_CONFIG_KEY_{n}": "http.extraheader",
                    f"GIT_CONFIG_VALUE_{n}": f"AUTHORIZATION: basic {basic}"})
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)


def check(root: Path, branch: str | None = None, remote: str = REMOTE) -> Freshness:
    """Fetch ``remote``'s ``branch`` and require HEAD to be exactly its tip.

    Raises StaleCheckout (exit 2) when HEAD differs from the tip or the
    desired state has uncommitted edits, UsageError when the remote cannot
    be fetched (a writer must not guess)."""
    branch = branch or default_branch()
    head = git(root, "rev-parse", "HEAD", check=False).strip()
    if not head:
        raise UsageError(f"{root} has no commit checked out; a writer runs on a checkout of {branch}")
    dirty = git(root, "status", "--porcelain", "--", *DESIRED_STATE_PATHS, check=False).strip()
    if dirty:
        first = dirty.splitlines()[0][3:]
        raise StaleCheckout(f"refusing to write: uncommitted changes to the desired state ({first} …); "
                            f"writers apply only what is committed on {branch}")
    if not has_remote(root, remote):
        if os.environ.get("GITHUB_ACTIONS") == "true":
            raise UsageError(f"refusing to write: no '{remote}' remote to compare this checkout with {branch}'s tip")
        return Freshness(head, None, f"no '{remote}' remote: not checked that {head[:12]} is {branch}'s tip")
    fetched = remote_git(root, "fetch", "--quiet", "--no-tags", remote,
                         f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}").stderr
    tip = git(root, "rev-parse", "--verify", "--quiet", f"refs/remotes/{remote}/{branch}^{{commit}}",
              check=False).strip()
    if not tip:
        raise UsageError(f"refusing to write: cannot fetch {branch} from '{remote}' to check this checkout is "
                         f"its tip{(': ' + fetched.strip()) if fetched.strip() else ''}")
    if tip != head:
        behind = git(root, "rev-list", "--count", f"{head}..{tip}", check=False).strip() or "?"
        raise StaleCheckout(
            f"refusing to write: this checkout is at {head[:12]}, but {branch}'s tip is {tip[:12]} "
            f"({behind} newer commit(s)); a writer on an old checkout would undo newer merges. "
            f"Nothing was changed: the run for {tip[:12]} applies it, or re-run on a fresh checkout")
    return Freshness(head, tip, f"checkout {head[:12]} is {branch}'s tip")
