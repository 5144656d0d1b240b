"""The durable record: one append-only log in git that every writer shares.

The per-run record file dies with the runner. So apply, ``reconcile --mode
fix`` and ``expire`` append the lines of their journal (tools.provision.record)
to ``record.jsonl`` on a dedicated branch, ``accessctl-record``, and every
job and ``audit`` reads it back. It holds each grant created (with its
request, expiry and approvers), each revocation, and every attempt; for a
grant whose request file has left main, the expiry is read from here.
Beside it, ``held.json`` is the held list (tools.provision.unapproved): the
changes on main that no approved PR brought, which every writer honours on
every later run, whatever checkout it starts from.

Commits are built with plumbing (hash-object, mktree, commit-tree), so the
checkout of main is never touched. Lines carry an ``id`` (run:job:seq), so
appending the same journal twice (a retried push, a workflow's ``always()``
step after a crash) adds nothing. Pushes are never forced: a concurrent
append makes the push fail, and the append is redone on the new tip.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tools.core.repo import git
from tools.provision.freshness import REMOTE, has_remote, remote_git

BRANCH = "accessctl-record"
FILE = "record.jsonl"
HELD_FILE = "held.json"
LOCAL_REF = f"refs/heads/{BRANCH}"
REMOTE_REF = f"refs/remotes/{REMOTE}/{BRANCH}"
ATTEMPTS = 5
IDENTITY = {"GIT_AUTHOR_NAME": "accessctl", "GIT_AUTHOR_EMAIL": "accessctl@users.noreply.github.com",
            "GIT_COMMITTER_NAME": "accessctl", "GIT_COMMITTER_EMAIL": "accessctl@users.noreply.github.com"}


@dataclass(frozen=True)
class Snapshot:
    commit: str | None  # tip of the record branch, None before the first append
    text: str


def _ref(root: Path) -> str:
    return REMOTE_REF if has_remote(root) else LOCAL_REF


def snapshot(root: Path, fetch: bool = True) -> Snapshot:
    """The record as on the remote (fetched first) or, without one, locally."""
    if fetch and has_remote(root):
        remote_git(root, "fetch", "--quiet", "--no-tags", REMOTE, f"+{LOCAL_REF}:{REMOTE_REF}")
    ref = _ref(root)
    commit = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip() or None
    text = git(root, "show", f"{commit}:{FILE}", check=False) if commit else ""
    return Snapshot(commit, text)


def lines(root: Path, fetch: bool = True) -> list[str]:
    return snapshot(root, fetch).text.splitlines()


def read_file(root: Path, name: str, fetch: bool = True) -> str | None:
    """Another file of the record branch (e.g. ``held.json``); None when absent."""
    snap = snapshot(root, fetch)
    if snap.commit is None:
        return None
    proc = subprocess.run(["git", "-C", str(root), "show", f"{snap.commit}:{name}"], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def _run(root: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY})
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _commit(root: Path, snap: Snapshot, files: dict[str, str], message: str) -> str:
    """A commit on top of ``snap`` with ``files`` replaced; every other file
    of the branch is carried over as it is (one writer never drops another's)."""
    entries: dict[str, str] = {}
    if snap.commit:
        for line in _run(root, "ls-tree", snap.commit).splitlines():
            meta, name = line.split("\t", 1)
            entries[name] = meta
    for name, text in files.items():
        entries[name] = f"100644 blob {_run(root, 'hash-object', '-w', '--stdin', stdin=text)}"
    tree = _run(root, "mktree", stdin="".join(f"{entries[n]}\t{n}\n" for n in sorted(entries)))
    return _run(root, "commit-tree", tree, *(["-p", snap.commit] if snap.commit else []), "-m", message)


def _write(root: Path, change: Callable[[Snapshot], dict[str, str] | None], message: str) -> str | None:
    """Commit what ``change`` returns for the current tip and push it (never
    forced: when another writer moved the branch meanwhile, the change is
    recomputed on the new tip). Returns an error line, or None."""
    error = "no attempt made"
    for _ in range(ATTEMPTS):
        snap = snapshot(root)
        files = change(snap)
        if not files:
            return None
        try:
            commit = _commit(root, snap, files, message)
        except RuntimeError as exc:
            return f"could not write the durable record: {exc}"
        if not has_remote(root):
            git(root, "update-ref", LOCAL_REF, commit)
            return None
        pushed = remote_git(root, "push", "--quiet", REMOTE, f"{commit}:{LOCAL_REF}")
        if pushed.returncode == 0:
            git(root, "update-ref", REMOTE_REF, commit)
            return None
        error = (pushed.stderr.strip().splitlines() or ["push failed"])[-1]
    return f"could not push to the {BRANCH} branch ({error})"


def known_ids(text: str) -> set:
    out = set()
    for line in text.splitlines():
        try:
            out.add(json.loads(line).get("id"))
        except (ValueError, AttributeError):
            continue
    return out


def append(root: Path, objects: Iterable[dict], message: str) -> str | None:
    """Append ``objects`` (journal lines) and commit; returns an error line or None.

    Lines whose ``id`` is already in the record are skipped (idempotent)."""
    objects = list(objects)
    if not objects:
        return None

    def change(snap: Snapshot) -> dict[str, str] | None:
        known = known_ids(snap.text)
        fresh = [o for o in objects if o.get("id") is None or o["id"] not in known]
        if not fresh:
            return None
        return {FILE: snap.text + ("" if not snap.text or snap.text.endswith("\n") else "\n") + "".join(
            json.dumps(o, sort_keys=True, separators=(",", ":")) + "\n" for o in fresh)}

    error = _write(root, change, message)
    return None if error is None else (
        f"{error}: {len(objects)} line(s) stay in the local record file, which the workflow keeps as an "
        "artifact and pushes in its always() step (accessctl audit push-record)")


def put(root: Path, name: str, text: str, message: str) -> str | None:
    """Replace one file of the record branch (``held.json``); an error line or None."""
    def change(snap: Snapshot) -> dict[str, str] | None:
        same = snap.commit and subprocess.run(["git", "-C", str(root), "show", f"{snap.commit}:{name}"],
                                              capture_output=True, text=True).stdout == text
        return None if same else {name: text}  # unchanged: no commit at all
    return _write(root, change, message)


@dataclass(frozen=True)
class Pushed:
    total: int  # lines in the local journal
    fresh: int  # of which the durable record did not have yet
    error: str | None


def push_journal(root: Path, path: Path | None = None) -> Pushed:
    """Push a local journal to the durable record: the workflows' ``if:
    always()`` step, for a run that was killed (kill -9, a timeout, a
    cancelled job) before its own ``finally`` could publish.

    Idempotent: lines already there (same ``id``) are skipped, so a run that
    did publish, or a second push, adds nothing. A line without an ``id``
    (written by an older version) gets one from its content. A damaged line
    (the kill hit mid-write) is an error naming it; the others still go."""
    from tools.provision.record import DEFAULT_PATH  # the journal's default place
    path = path or root / DEFAULT_PATH
    if not path.is_file():
        return Pushed(0, 0, None)
    objects, damaged = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            damaged.append(number)
            continue
        if obj.get("id") is None:
            obj["id"] = "sha256:" + hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
        objects.append(obj)
    known = known_ids(snapshot(root).text)
    fresh = [o for o in objects if o["id"] not in known]
    error = append(root, fresh, f"accessctl: {len(fresh)} line(s) of a local journal pushed after the run")
    if damaged:
        error = "; ".join(filter(None, [error, f"{path}: line(s) {', '.join(map(str, damaged))} are not JSON "
                                        "(cut off by the crash) and were not pushed"]))
    return Pushed(len(objects), len(fresh), error)
