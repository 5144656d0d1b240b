"""Decide request files: the library call behind ``accessctl evaluate`` and
the PR check.

``evaluate_files(root, paths, pr_context, base_ref, now)`` reads the
policies and the org model from the base commit whenever a PR (or a base
ref) is given, so the PR under judgement cannot change its own rules; the
request files themselves come from the working tree (the PR head).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tools.core import orgmodel
from tools.core.errors import FindingError, UsageError
from tools.core.pr_context import PRContext
from tools.core.repo import Tree, git
from tools.policy import parallel
from tools.policy.engines import Engine, PolicyBundle, RegorusEngine, engine_for, load_bundle
from tools.policy.input import (PreloadedTree, StateIndex, build_input, may_mention, read_texts, removal_input,
                                state_needles)
from tools.request import load


@dataclass
class FileDecision:
    file: str
    allow: bool
    violations: list[dict[str, Any]]
    waived: list[dict[str, Any]] = field(default_factory=list)
    post_incident_review: bool = False
    required_approvals: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] | None = None  # exactly what the engine was given
    error: str | None = None  # the engine failed on this input (the file is denied)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "allow": self.allow, "violations": self.violations,
                "waived": self.waived, "post_incident_review": self.post_incident_review,
                "required_approvals": self.required_approvals}


@dataclass
class Evaluation:
    decisions: list[FileDecision]
    bundle: PolicyBundle
    engine: str
    rules_from: str  # "commit <sha>" or "the working tree"
    # Every request file read (schema-checked, not yet cross-checked), in
    # the order read: a caller that validates them too need not read them again.
    files: list[load.RequestFile] = field(default_factory=list, repr=False)

    @property
    def allowed(self) -> bool:
        return all(d.allow for d in self.decisions)


def resolve_base(root: Path, ref: str) -> str:
    out = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip()
    if not out:
        raise UsageError(f"base {ref!r} is not a commit of this repository; fetch it first "
                         "(actions/checkout with fetch-depth: 0) or pass --base REF")
    return out


def invalid_decision(rf: load.RequestFile) -> FileDecision:
    """A file that does not load cannot be judged by policy: deny, saying why."""
    violations = [{"rule": "invalid-request", "title": "Invalid request file", "severity": "high",
                   "message": f.message + (f" (line {f.line})" if f.line else ""),
                   "remediation": f.fix or "run `accessctl validate` for details", "file": rf.path}
                  for f in rf.findings]
    return FileDecision(rf.path, False, violations)


POLICY_ERROR = "policy-error"


def error_decision(path: str, error: str, doc: dict[str, Any] | None) -> FileDecision:
    """The engine could not decide: deny (fail closed), saying why, and keep
    the input so `evaluate --explain-input` can hand it to `opa eval`."""
    violation = {"rule": POLICY_ERROR, "title": "Policy evaluation failed", "severity": "high",
                 "message": error, "file": path,
                 "remediation": "run `accessctl evaluate --explain-input` on this file and reproduce it with "
                                "`opa eval`; fix the policy on the default branch"}
    return FileDecision(path, False, [violation], input=doc, error=error)


def _decide(engine: Engine, path: str, doc: dict[str, Any], keep_input: bool) -> FileDecision:
    try:
        result = engine.decide(doc)
    except FindingError as exc:
        return error_decision(path, str(exc), doc)
    return _decision(path, doc, result, keep_input)


def _decision(path: str, doc: dict[str, Any], result: dict[str, Any] | str, keep_input: bool) -> FileDecision:
    """The engine's answer (or its error message) as a FileDecision."""
    if isinstance(result, str):
        return error_decision(path, result, doc)
    return FileDecision(
        path, bool(result.get("allow")), list(result.get("violations", [])),
        list(result.get("waived", [])), bool(result.get("post_incident_review", False)),
        dict(result.get("required_approvals", {})), doc if keep_input else None)


class _Broken:
    """Stands in for an engine that did not compile, so every input is still
    built (and explained) and every file is denied with the reason."""

    def __init__(self, name: str, error: str):
        self.name, self._error = name, error

    def decide(self, input_doc: dict[str, Any]) -> dict[str, Any]:
        raise FindingError(self._error)


def open_engine(bundle: PolicyBundle, env: dict[str, str] | None = None, fail_closed: bool = False) -> Engine:
    """The engine for ``bundle``; with ``fail_closed`` an engine that cannot
    start becomes one that denies every file with the reason, so the caller
    still reports (and keeps each input for --explain-input) instead of
    stopping with nothing said."""
    try:
        return engine_for(bundle, env if env is not None else dict(os.environ))
    except FindingError as exc:
        if not fail_closed:
            raise
        return _Broken("regorus", str(exc))


def unanswered(req: load.AccessRequest | load.ServiceAccount) -> list[str]:
    """Fields an imported file leaves empty until its owners fill them in.
    The policy cannot fully judge a request without them (an expiry it
    cannot compare, a requester it cannot exclude), so it is denied whatever
    the engine answers; the policy itself is null-safe (see lib.fold)."""
    needed = ("owner", "purpose", "requester", "expires") if isinstance(req, load.ServiceAccount) \
        else ("requester", "justification", "expires")
    return [name for name in needed if getattr(req, name) is None]


def incomplete_decision(rf: load.RequestFile, missing: list[str]) -> FileDecision:
    fields = " and ".join(f"`{m}`" for m in missing)
    return FileDecision(rf.path, False, [{
        "rule": "request-incomplete", "title": "Request not filled in", "severity": "high",
        "message": f"{', '.join(missing)} not filled in yet (an imported file awaiting its owners)",
        "remediation": f"fill in {fields} (expires: a date within the role's maximum) and push again",
        "file": rf.path}])


def evaluate_files(root: Path | str, paths: list[str] | None = None, pr_context: PRContext | None = None,
                   base_ref: str | None = None, now: datetime | None = None,
                   engine: Engine | None = None, keep_input: bool = False,
                   env: dict[str, str] | None = None, head_ref: str | None = None,
                   state_ref: str | None = None, workers: int | None = None,
                   files: list[load.RequestFile] | None = None) -> Evaluation:
    """Decide each request file.

    ``paths``: repository paths; None means the PR's changed request files,
    or every file under requests/ without a PR. ``base_ref`` (or the PR's
    base SHA) selects the commit policies, org model and existing desired
    state are read from. ``engine`` is built from the base bundle when None
    (``ACCESSCTL_OPA_URL`` in ``env`` selects the OPA server).
    ``head_ref`` reads the request files from a commit instead of the
    working tree, ``state_ref`` the rest of the desired state from another
    commit than the rules (apply re-judges a merged change this way: its
    content at the merge, the state before it, the last approved rules).
    ``workers``: processes deciding with the embedded engine (default: one
    per core once there are thousands of files, see tools/policy/parallel.py;
    1 turns that off); the decisions are the same whatever the number.
    ``files``: with no ``paths``, the request files of the head tree already
    read by the caller (``load.read`` of each, in ``Tree.list`` order), so a
    caller that needs them too (the impact analysis) reads 10,000 files
    once rather than once per rule set.
    """
    root = Path(root)
    now = now or datetime.now(timezone.utc)
    base = base_ref or (pr_context.base_sha if pr_context else None)
    rules_tree = Tree(root, resolve_base(root, base)) if base else Tree(root)
    org = orgmodel.load(rules_tree)
    bundle = load_bundle(rules_tree, org)
    if engine is None:
        engine = open_engine(bundle, env, fail_closed=keep_input)

    head = Tree(root, head_ref) if head_ref else Tree(root)
    judge_removals = paths is None and pr_context is not None
    if paths is None:
        paths = pr_context.request_paths if pr_context else head.list(load.REQUESTS_DIR)
    if files is not None:
        if [rf.path for rf in files] != paths:
            raise ValueError("evaluate_files: the files given are not the head tree's request files")
    else:
        if head.ref is not None:  # a commit: one batch read, not a git process per file
            head = PreloadedTree(head.root, head.ref, read_texts(head, paths))
        files = [load.read(head, p) for p in paths]
    evaluated = {rf.path for rf in files}

    state = StateIndex()
    state.add_files(files, org, now)
    state_tree = Tree(root, state_ref) if state_ref else rules_tree
    others = [p for p in state_tree.list(load.REQUESTS_DIR) if p not in evaluated]
    needles = state_needles((rf.request for rf in files if rf.request is not None), org) if others else set()
    if others and needles:
        texts = read_texts(state_tree, others)
        candidates = [p for p in others if may_mention(texts[p], needles)]
        tree = PreloadedTree(state_tree.root, state_tree.ref, texts) if state_tree.ref else state_tree
        state.add_files([load.read(tree, p) for p in candidates], org, now)

    decisions: list[FileDecision | None] = []
    pending: list[tuple[int, load.RequestFile, dict[str, Any]]] = []
    for rf in files:
        if rf.request is None or rf.findings:
            decisions.append(invalid_decision(rf))
            continue
        pending.append((len(decisions), rf, build_input(rf, org, state, pr_context, now)))
        decisions.append(None)
    # Independent decisions: on every core past a few thousand (tools/policy/parallel.py).
    results = parallel.decide_all(engine, [doc for _, _, doc in pending], workers,
                                  forkable=isinstance(engine, RegorusEngine))
    for (i, rf, doc), result in zip(pending, results):
        decision = _decision(rf.path, doc, result, keep_input)
        missing = unanswered(rf.request)
        if missing:  # denied whatever the policy says; its own findings (expiry-missing, …) still show
            decision = replace(decision, allow=False,
                               violations=incomplete_decision(rf, missing).violations + decision.violations)
        decisions[i] = decision
    if judge_removals and not files:
        # Only deletions: the PR-scope rules still judge the PR through each
        # removed file; a removal they allow needs no decision of its own.
        for path in pr_context.removed_request_paths:
            decision = _decide(engine, path, removal_input(path, pr_context, now), keep_input)
            if not decision.allow:
                decisions.append(decision)
    return Evaluation([d for d in decisions if d is not None], bundle, engine.name, rules_tree.describe(), files)
