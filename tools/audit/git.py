"""Provenance from git: which merged change put each request file in its state.

Everything comes from ONE ``git log`` process over ``requests/``, whatever
the number of files: a process per file costs seconds per thousand files
on a long history (see bench/audit.py). The log follows the first parent
of ``main`` with merge commits diffed against it, so each entry is what a
merged PR (merge or squash) or a direct push changed on main, and its
committer date is when that reached main.

``changes(..., content=True)`` also returns each file's text before and
after every commit (a full-context patch, still one process): the history
command needs it to tell a renewal from a revocation, and to find deleted
files by the principal they named.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tools.core.repo import git
from tools.provision.record import pr_from_subject
from tools.request.load import REQUESTS_DIR

SEP_COMMIT, SEP_FIELD = "\x1e", "\x1f"
FORMAT = f"--format={SEP_COMMIT}%H{SEP_FIELD}%an{SEP_FIELD}%ae{SEP_FIELD}%cI{SEP_FIELD}%s"
BASE_ARGS = ("-c", "core.quotePath=false", "log", "--first-parent", "--diff-merges=first-parent",
             "--no-renames", "--no-color", "--no-ext-diff", FORMAT)
# Request files are capped at 64 KiB, so this context always spans a whole file.
FULL_CONTEXT = "-U70000"


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    author: str
    email: str
    time: datetime  # when it reached main (committer date)
    subject: str
    pr: int | None


@dataclass(frozen=True, slots=True)
class FileChange:
    """One commit's change to one request file."""

    commit: Commit
    path: str
    status: str  # "A" added, "M" modified, "D" deleted
    old: str | None = None  # text before (content mode only)
    new: str | None = None  # text after (content mode only)


def _commit(header: str) -> Commit:
    sha, author, email, when, subject = (header.split(SEP_FIELD) + [""] * 5)[:5]
    return Commit(sha, author, email, datetime.fromisoformat(when), subject, pr_from_subject(subject))


def _unquote(path: str) -> str:
    if path.startswith('"') and path.endswith('"'):
        return path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode()
    return path


def changes(root: Path, content: bool = False, ref: str = "HEAD", directory: str = REQUESTS_DIR
            ) -> list[FileChange]:
    """Every change to a file under ``directory`` on ``ref``'s first-parent
    history, newest first, from a single ``git log`` run."""
    if not git(root, "rev-parse", "--verify", "--quiet", ref + "^{commit}", check=False).strip():
        return []  # a repository with no commits has no history yet
    mode = ("-p", FULL_CONTEXT) if content else ("--name-status",)
    out = git(root, *BASE_ARGS, *mode, ref, "--", directory)
    parse = _parse_patch if content else _parse_names
    found: list[FileChange] = []
    for chunk in out.split(SEP_COMMIT)[1:]:
        header, _, body = chunk.partition("\n")
        found.extend(parse(_commit(header), body))
    return found


def _parse_names(commit: Commit, body: str) -> list[FileChange]:
    out = []
    for line in body.splitlines():
        status, tab, path = line.partition("\t")
        if tab and status[:1] in "AMDT":
            out.append(FileChange(commit, _unquote(path), "M" if status[0] == "T" else status[0]))
    return out


def _parse_patch(commit: Commit, body: str) -> list[FileChange]:
    out: list[FileChange] = []
    for section in body.split("\ndiff --git ")[0:]:
        if not section.strip():
            continue
        lines = section.split("\n")
        old_path = new_path = None
        old: list[str] = []
        new: list[str] = []
        in_hunk = False
        for line in lines:
            if not in_hunk:
                if line.startswith("--- "):
                    old_path = None if line[4:] == "/dev/null" else _unquote(line[4:])[2:]
                elif line.startswith("+++ "):
                    new_path = None if line[4:] == "/dev/null" else _unquote(line[4:])[2:]
                elif line.startswith("@@"):
                    in_hunk = True
                continue
            if line.startswith("@@"):
                continue
            tag, text = line[:1], line[1:]
            if tag == " ":
                old.append(text)
                new.append(text)
            elif tag == "-":
                old.append(text)
            elif tag == "+":
                new.append(text)
        path = new_path or old_path
        if path is None:
            continue  # a binary file or a mode-only change: nothing a request can say
        status = "A" if old_path is None else "D" if new_path is None else "M"
        out.append(FileChange(commit, path, status,
                              None if status == "A" else "\n".join(old) + "\n",
                              None if status == "D" else "\n".join(new) + "\n"))
    return out


def by_path(found: list[FileChange]) -> dict[str, list[FileChange]]:
    """Changes per file, newest first (the order git log gives)."""
    out: dict[str, list[FileChange]] = {}
    for fc in found:
        out.setdefault(fc.path, []).append(fc)
    return out
