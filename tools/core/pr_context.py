"""The pull-request context the approval and PR-scope rules judge.

One shape for every source: ``--pr-context FILE`` (JSON, for local runs and
tests) and the GitHub connector (``connectors/github.py``: ``pr_context(repo,
number)``) both produce a ``PRContext``. The policy sees ``as_input()``.
Keeping it a plain dataclass means the core never imports PyGithub.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from tools.core.errors import UsageError
from tools.core.repo import git

REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")
FILE_STATUSES = ("added", "modified", "removed", "renamed", "copied", "changed", "unchanged")


@dataclass(frozen=True, slots=True)
class ChangedFile:
    path: str
    status: str  # GitHub's file status: added, modified, removed, renamed …
    previous_path: str | None = None  # for renames


@dataclass(frozen=True, slots=True)
class Review:
    """One submitted review, in the order GitHub lists them (oldest first)."""

    user: str  # GitHub login
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    commit_id: str | None  # the commit the review was made on; GitHub answers null when it is gone
    teams: tuple[str, ...] = ()  # the reviewer's teams ("org/slug"), from the base org model


@dataclass(frozen=True, slots=True)
class PRContext:
    number: int
    author: str
    head_sha: str
    base_sha: str
    files: tuple[ChangedFile, ...] = ()
    reviews: tuple[Review, ...] = ()
    base_ref: str | None = None  # branch name, informational

    @property
    def removed_request_paths(self) -> list[str]:
        """Request files the PR deletes, or moves or renames away."""
        out = {f.path for f in self.files if f.path.startswith("requests/") and f.status == "removed"}
        out |= {f.previous_path for f in self.files if f.previous_path and f.previous_path.startswith("requests/")
                and f.status == "renamed"}
        return sorted(out)

    @property
    def request_paths(self) -> list[str]:
        """Request files the PR adds or changes (removals need no decision)."""
        return sorted(f.path for f in self.files
                      if f.path.startswith("requests/") and f.status != "removed")

    def as_input(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "author": self.author,
            "head_sha": self.head_sha,
            "base_sha": self.base_sha,
            "files": [{"path": f.path, "status": f.status, **({"previous_path": f.previous_path}
                                                                 if f.previous_path else {})} for f in self.files],
            "reviews": [{"user": r.user, "state": r.state, "commit_id": r.commit_id,
                         "teams": list(r.teams)} for r in self.reviews],
        }


def from_dict(data: Any, source: str = "PR context") -> PRContext:
    """Build from the JSON shape of ``as_input()``; errors name the field."""
    def need(obj: Any, key: str, typ: type, where: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise UsageError(f"{source}: {where} needs `{key}`")
        value = obj[key]
        if not isinstance(value, typ) or isinstance(value, bool) and typ is int:
            raise UsageError(f"{source}: {where}.{key} must be {typ.__name__}, got {value!r}")
        return value

    number = need(data, "number", int, "the PR")
    files = []
    for i, f in enumerate(need(data, "files", list, "the PR")):
        status = need(f, "status", str, f"files[{i}]")
        if status not in FILE_STATUSES:
            raise UsageError(f"{source}: files[{i}].status {status!r} is not one of {', '.join(FILE_STATUSES)}")
        files.append(ChangedFile(need(f, "path", str, f"files[{i}]"), status, f.get("previous_path")))
    reviews = []
    for i, r in enumerate(data.get("reviews", []) or []):
        state = need(r, "state", str, f"reviews[{i}]").upper()
        if state not in REVIEW_STATES:
            raise UsageError(f"{source}: reviews[{i}].state {state!r} is not one of {', '.join(REVIEW_STATES)}")
        teams = r.get("teams", []) or []
        if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
            raise UsageError(f"{source}: reviews[{i}].teams must be a list of team names")
        commit_id = r.get("commit_id") if isinstance(r, dict) else None
        if commit_id is not None and not isinstance(commit_id, str):
            raise UsageError(f"{source}: reviews[{i}].commit_id must be a commit sha or null, got {commit_id!r}")
        reviews.append(Review(need(r, "user", str, f"reviews[{i}]"), state, commit_id, tuple(teams)))
    return PRContext(number, need(data, "author", str, "the PR"), need(data, "head_sha", str, "the PR"),
                     need(data, "base_sha", str, "the PR"), tuple(files), tuple(reviews), data.get("base_ref"))


GIT_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied", "T": "changed"}


def changed_files(root: Path, base: str, head: str) -> tuple[ChangedFile, ...]:
    """What the PR changes, from git (``base...head``: since the merge base,
    as GitHub's diff shows it), never from the API's file list, which stops
    at 3,000 files and could hide a change. Renames keep both paths."""
    out = git(root, "diff", "--name-status", "-z", "--find-renames", f"{base}...{head}", "--")
    parts = out.split("\0")
    files: list[ChangedFile] = []
    i = 0
    while i < len(parts) and parts[i]:
        letter = parts[i][0]
        if letter in "RC":
            files.append(ChangedFile(parts[i + 2], GIT_STATUS[letter], parts[i + 1]))
            i += 3
        else:
            files.append(ChangedFile(parts[i + 1], GIT_STATUS.get(letter, "modified")))
            i += 2
    return tuple(files)


def with_org_teams(pr: PRContext, teams_by_login: Mapping[str, Iterable[str]]) -> PRContext:
    """The PR with each reviewer's teams taken from the org model (GitHub
    ``org/slug`` names), whatever the source said.

    Why: GitHub's membership API needs the organisation "Members"
    permission, which the Actions token cannot have (it answers 404, which
    read as "not a member" would make every approval void). The org model at
    the base commit is also the auditable source: changing it takes a
    reviewed PR. ``teams_by_login`` maps a lower-case login to its teams.
    """
    reviews = tuple(replace(r, teams=tuple(sorted(teams_by_login.get(r.user.lower(), ()))))
                    for r in pr.reviews)
    return replace(pr, reviews=reviews)


def load(path: str | Path) -> PRContext:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--pr-context {path}: cannot read it ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--pr-context {path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    return from_dict(data, f"--pr-context {path}")
