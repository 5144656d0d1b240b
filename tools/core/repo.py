"""Where the access repository is, and how to read it at a given commit.

Policies, the org model and CODEOWNERS are read from a PR's base commit
(``git show BASE:path``) so a PR can never change the rules judging it.
``Tree`` hides whether files come from the working tree or from a commit.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.core.errors import UsageError

MARKERS = ("policies/data",)


def find_root(start: Path | str | None = None) -> Path:
    """Walk up from ``start`` like git does, to the folder holding policies/data."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if all((candidate / m).is_dir() for m in MARKERS):
            return candidate
    raise UsageError(
        f"{here} is not inside an access repository (no policies/data/ here or above); "
        "run from the repository or pass --repo PATH")


def git(root: Path, *args: str, check: bool = True, text: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=text)
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        raise UsageError(f"git {' '.join(args)} failed: {err.strip()}")
    return proc.stdout


@dataclass(frozen=True)
class Tree:
    """A read-only view of the repository, at ``ref`` or in the working tree."""

    root: Path
    ref: str | None = None

    def read_text(self, path: str) -> str:
        if self.ref is None:
            return (self.root / path).read_text(encoding="utf-8")
        return git(self.root, "show", f"{self.ref}:{path}")

    def exists(self, path: str) -> bool:
        if self.ref is None:
            return (self.root / path).exists()
        return bool(git(self.root, "ls-tree", "--name-only", self.ref, "--", path, check=False).strip())

    def list(self, directory: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        """Repository paths of files under ``directory``, sorted."""
        if self.ref is None:
            base = self.root / directory
            if not base.is_dir():
                return []
            # os.walk reads each folder once (scandir); a pathlib glob stats
            # every file again, a second per 10,000 files. Links are listed
            # (never followed), so the reader can refuse them.
            found = []
            for folder, dirs, files in os.walk(base):
                rel = os.path.relpath(folder, self.root).replace(os.sep, "/")
                found += [f"{rel}/{name}" for name in files]
                found += [f"{rel}/{name}" for name in dirs if os.path.islink(os.path.join(folder, name))]
        else:
            out = git(self.root, "ls-tree", "-r", "--name-only", self.ref, "--", directory, check=False)
            found = out.splitlines()
        return sorted(p for p in found if not suffixes or p.endswith(suffixes))

    def describe(self) -> str:
        return f"commit {self.ref}" if self.ref else "the working tree"


def require_commit(root: Path, ref: str, flag: str) -> str | None:
    """``ref`` as a commit SHA, or a usage error naming ``flag``.

    The all-zero SHA GitHub sends as ``before`` for a branch's first push
    means "no previous commit" and gives None (the caller covers everything).
    Any other ref that is not a commit is refused: quietly widening or
    narrowing a run because of a typo would hide the mistake.
    """
    if not ref.strip("0"):
        return None
    sha = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip()
    if not sha:
        raise UsageError(f"{flag} {ref!r} is not a commit of this repository; fetch it first "
                         "(actions/checkout with fetch-depth: 0) or pass a commit SHA, branch or tag")
    return sha
