"""Held changes: what reached main without an approved PR, and the last approved rules.

Why a store of its own: apply verifies only the commits since its starting
point, but a held file must stay held on every later run (and for
``reconcile --mode fix``) until a PR approves its current content. So the
verdicts outlive the run that found them, and every writer reads them
through ``load`` here before deciding the desired state.

Where it lives: ``held.json`` on the durable record's branch
(``accessctl-record``, tools.provision.durable), fetched from the remote by
``load`` and pushed by ``save``. A CI job starts from a fresh checkout with
no local state, so a list kept in the working tree would be forgotten by the
next run, and the held file would be provisioned by it. Nothing on main is
ever read as the held list: a commit on main could otherwise declare its own
change approved (who may push the record branch is a GitHub setting; see the
README's security section).

A held file's desired state is its content at ``approved_commit`` (absent
there means: no access from it). ``Overrides`` swaps those contents into
the request files apply and reconcile read, before validation, so the rest
of the pipeline cannot tell a held file from one that never changed. A held
access review (``reviews/``) is swapped the same way where the review files
are read (``access_reviews.read_reviews``): its unapproved ``revoke`` or
``keep`` is not acted on.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from tools.core.errors import FindingError
from tools.core.repo import Tree, git
from tools.provision import durable
from tools.provision.access_reviews import REVIEWS_DIR
from tools.provision.freshness import REMOTE, has_remote, remote_git
from tools.request import load as rload

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


def where(root: Path) -> str:
    """Where the list lives, for messages."""
    return f"{durable.HELD_FILE} on the {durable.BRANCH} branch"


def parse(text: str, source: str) -> TrustState:
    try:
        doc = json.loads(text)
        held = lambda items: [HeldFile(**h) for h in items]  # noqa: E731
        return TrustState(doc.get("rules_commit"), held(doc.get("rules_held", [])),
                          {h.path: h for h in held(doc.get("files", []))})
    except (ValueError, TypeError, AttributeError) as exc:
        raise FindingError(f"{source}: the held-changes list is damaged ({exc}); restore it from the branch's "
                           "history (git log accessctl-record): without it, unapproved changes on main would "
                           "count as approved") from None


def dump(state: TrustState) -> str:
    return json.dumps(state.as_json(), indent=2, sort_keys=True) + "\n"


def load(root: Path) -> TrustState:
    """The current held list, from the durable record (fetched from the
    remote when there is one); none there yet is an empty one."""
    text = durable.read_file(Path(root), durable.HELD_FILE)
    state = TrustState() if text is None else parse(text, where(root))
    for commit in {state.rules_commit, *(h.approved_commit for h in [*state.rules_held, *state.files.values()])}:
        if commit:
            _ensure_commit(Path(root), commit)
    return state


def _ensure_commit(root: Path, commit: str) -> None:
    """The list names commits (approved contents, pinned rules) that a
    shallow CI checkout may lack: fetch them, or say what to change."""
    def have() -> bool:
        return bool(git(root, "cat-file", "-t", f"{commit}^{{commit}}", check=False).strip())
    if have():
        return
    if has_remote(root):
        remote_git(root, "fetch", "--quiet", "--no-tags", REMOTE, commit)
    if not have():
        raise FindingError(f"{where(root)} names commit {commit[:12]}, which is not in this checkout and could "
                           "not be fetched; check out main with its history (actions/checkout fetch-depth: 0)")


def save(root: Path, state: TrustState) -> str:
    """Store the list in the durable record before anything is provisioned.

    Raises FindingError when it cannot be stored: a run that provisioned
    while its verdicts were lost would let the next run (a fresh checkout)
    provision the held files."""
    error = durable.put(Path(root), durable.HELD_FILE, dump(state),
                        f"accessctl: held list ({len(state.files)} file(s), {len(state.rules_held)} rules file(s))")
    if error:
        raise FindingError(f"refusing to provision: the held-changes list could not be stored ({error}); "
                           "nothing was applied, re-run the job")
    return where(root)


@dataclass(frozen=True)
class Overrides:
    """Request files whose desired content is the last approved one:
    path -> that file as loaded from its approved commit, or None (absent)."""

    files: Mapping[str, rload.RequestFile | None] = field(default_factory=dict)
    # held access reviews (reviews/…): path -> text at the approved commit, or None (absent)
    reviews: Mapping[str, str | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.files or self.reviews)

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
    files, reviews = {}, {}
    for path, h in state.files.items():
        tree = Tree(root, h.approved_commit)
        if path.startswith(REVIEWS_DIR + "/"):  # an access review: read by tools.provision.access_reviews
            reviews[path] = tree.read_text(path) if tree.exists(path) else None
            continue
        files[path] = rload.read(tree, path) if tree.exists(path) else None
    # Rules are pinned only while a rules change is held: once every change is
    # approved, the checkout's rules are the approved ones.
    return TrustedView(Overrides(files, reviews), state.rules_commit if state.rules_held else None)
