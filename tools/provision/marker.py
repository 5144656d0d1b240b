"""The last commit applied in full: where the next apply starts.

``apply --since "$BEFORE"`` (the previous push) loses a merge whose apply
crashed or whose queued run GitHub cancelled: the next run starts after it.
Instead the apply job moves a ref, ``refs/accessctl/applied``, to the commit
it applied once every change of the run succeeded, and ``apply
--since-marker`` applies everything changed since that ref. A crashed or
cancelled run leaves the marker where it was, so the next merge's apply
repairs it.

The ref lives in the repository itself (pushed to ``origin`` when there is
one), outside ``refs/heads`` so it is no branch anyone can check out or
protect by accident. Without a remote it is a local ref.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from tools.core.repo import git
from tools.provision.freshness import REMOTE, has_remote, remote_git

MARKER_REF = "refs/accessctl/applied"


def read(root: Path, remote: str = REMOTE) -> str | None:
    """The marker's commit (fetched from ``remote`` when there is one), or None."""
    if has_remote(root, remote):
        # A missing remote ref is normal before the first full apply.
        remote_git(root, "fetch", "--quiet", "--no-tags", remote, f"+{MARKER_REF}:{MARKER_REF}")
    found = git(root, "rev-parse", "--verify", "--quiet", f"{MARKER_REF}^{{commit}}", check=False).strip()
    return found or None


def since(root: Path, remote: str = REMOTE) -> tuple[str | None, str]:
    """(commit to apply from, why). None means apply everything: no marker
    yet, or a marker that is not an ancestor of HEAD (history rewritten)."""
    commit = read(root, remote)
    if commit is None:
        return None, "no applied marker yet: applying every target"
    if not _is_ancestor(root, commit):
        return None, f"applied marker {commit[:12]} is not an ancestor of HEAD: applying every target"
    count = git(root, "rev-list", "--count", f"{commit}..HEAD", check=False).strip()
    return commit, f"applying every change since the last commit applied in full, {commit[:12]} ({count} commit(s))"


def _is_ancestor(root: Path, commit: str) -> bool:
    return subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", commit, "HEAD"],
                          capture_output=True).returncode == 0


def advance(root: Path, commit: str, remote: str = REMOTE) -> str | None:
    """Move the marker to ``commit``; returns an error line, or None.

    The push is not forced: the writers' shared concurrency group means only
    one apply moves it, and a marker that is not an ancestor of ``commit``
    is a history rewrite someone must look at."""
    git(root, "update-ref", MARKER_REF, commit)
    if not has_remote(root, remote):
        return None
    proc = remote_git(root, "push", "--quiet", remote, f"{commit}:{MARKER_REF}")
    if proc.returncode != 0:
        return (f"could not move {MARKER_REF} on '{remote}' to {commit[:12]} "
                f"({(proc.stderr.strip().splitlines() or ['push failed'])[-1]}); the next apply starts from the "
                "previous marker and re-applies these changes (harmless: apply is idempotent)")
    return None
