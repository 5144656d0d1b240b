"""Held changes: what reached main without an approved PR, and the last approved rules.

Why a store of its own: apply verifies only the commits since its starting
point, but a held file must stay held on every later run (and for
``reconcile --mode fix``) until a PR approves its current content. So the
verdicts outlive the run that found them, and every writer reads them
through ``load`` here before deciding the desired state.

Where it lives is this module's business alone: today a JSON file
(``.accessctl/held.json``, or ``ACCESSCTL_HELD_PATH``); the durable record
on a git branch (the jobs-safety issue) replaces ``store_path``/``load``/
``save`` without touching the callers.

A held file's desired state is its content at ``approved_commit`` (absent
there means: no access from it). ``Overrides`` swaps those contents into
the request files apply and reconcile read, before validation, so the rest
of the pipeline cannot tell a held file from one that never changed.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from tools.core.errors import FindingError
from tools.core.repo import Tree, git
from tools.request import load as rload

DEFAULT_PATH = ".accessctl/held.json"
PATH_ENV = "ACCESSCTL_HELD_PATH"
VERSION = 1


@dataclass(frozen=True)
class HeldFile:
    """One file whose content on main was not approved."""

    path: str
    approved_commit: str  # its last approved content is the one at this commit (or its absence there)
    held_commit: str  # the commit that brought the unapproved content
    why: str
    pr: int | None = None  # the merged PR that brought it, when there was one

    def as_json(self) -> dict:
        return asdict(self)


@dataclass
class TrustState:
    """What every writer must honour: held files and the rules to decide with."""

    rules_commit: str | None = None  # the last approved rules (None: never verified, use the checkout)
    rules_held: list[HeldFile] = field(default_factory=list)  # rules files changed without approval
    files: dict[str, HeldFile] = field(default_factory=dict)  # request path -> held verdict

    def as_json(self) -> dict:
        return {"version": VERSION, "rules_commit": self.rules_commit,
                "rules_held": [h.as_json() for h in self.rules_held],
                "files": [self.files[p].as_json() for p in sorted(self.files)]}

    @property
    def anything_held(self) -> bool:
        return bool(self.files or self.rules_held)


def store_path(root: Path) -> Path:
    return Path(os.environ[PATH_ENV]) if os.environ.get(PATH_ENV) else Path(root) / DEFAULT_PATH


def load(root: Path) -> TrustState:
    """The current held list; an absent store is an empty one (nothing held yet).

    A list that git tracks is refused: it would come from a commit on main,
    and whoever can push a commit could then declare their change approved
    (or pin the rules to their own commit)."""
    path = store_path(root)
    if not path.is_file():
        return TrustState()
    if git(Path(root), "ls-files", "--", str(path.resolve()), check=False).strip():
        raise FindingError(f"{path}: the held-changes list is committed to the repository; it must only be "
                           "written by apply (a commit could forge it): remove it from git and restore it from "
                           "the last apply run")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        held = lambda items: [HeldFile(**h) for h in items]  # noqa: E731
        return TrustState(doc.get("rules_commit"), held(doc.get("rules_held", [])),
                          {h.path: h for h in held(doc.get("files", []))})
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise FindingError(f"{path}: the held-changes list is damaged ({exc}); restore it from the last "
                           "apply run: without it, unapproved changes on main would count as approved") from None


def save(root: Path, state: TrustState) -> Path:
    path = store_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if path.parent.resolve() == (Path(root) / ".accessctl").resolve() and not ignore.exists():
        ignore.write_text("# apply's own state: never committed (see tools/provision/held.py)\n*\n", encoding="utf-8")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(state.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Overrides:
    """Request files whose desired content is the last approved one:
    path -> that file as loaded from its approved commit, or None (absent)."""

    files: Mapping[str, rload.RequestFile | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.files)

    def apply(self, files: Iterable[rload.RequestFile], folders: set[str] | None = None) -> list[rload.RequestFile]:
        """``files`` with every held path replaced by its approved version;
        ``folders`` (requests/<provider>/<target>) limits what is added back."""
        out = [rf for rf in files if rf.path not in self.files]
        for path in sorted(self.files):
            rf = self.files[path]
            provider, target, _ = rload.path_parts(path)
            if rf is not None and (folders is None or f"{rload.REQUESTS_DIR}/{provider}/{target}" in folders):
                out.append(rf)
        return sorted(out, key=lambda rf: rf.path)


@dataclass(frozen=True)
class TrustedView:
    """How apply and reconcile read main: held files at their approved
    content, rules and org model from the last approved rules commit."""

    overrides: Overrides = field(default_factory=Overrides)
    rules_ref: str | None = None  # None: the checkout's own rules

    def rules_tree(self, root: Path) -> Tree:
        return Tree(root, self.rules_ref) if self.rules_ref else Tree(root)


def view(root: Path, state: TrustState | None = None) -> TrustedView:
    """The view every writer builds its desired state from."""
    state = load(root) if state is None else state
    files = {}
    for path, h in state.files.items():
        tree = Tree(root, h.approved_commit)
        files[path] = rload.read(tree, path) if tree.exists(path) else None
    # Rules are pinned only while a rules change is held: once every change is
    # approved, the checkout's rules are the approved ones.
    return TrustedView(Overrides(files), state.rules_commit if state.rules_held else None)
