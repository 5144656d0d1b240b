"""Apply verifies before it provisions: every change on main since the
starting commit must have come through an approved, merged pull request.

Why: branch protection and the ``accessctl/check-pr`` gate live in GitHub's
settings; an admin merge, a direct push or a forged status slips past them.
So apply asks again, for each request file changed since its starting
commit: which merged PR brought this content (GitHub's commit → pulls
association), and would the decision allow it now, judged by the last
approved rules, with that PR's reviews on its head commit and team
membership from the org model? Only the content of the newest change that
passes is provisioned. A file whose current content no PR approved is
*held*: its last approved content (or its absence) stays the desired state.

Access reviews (``reviews/``) are inputs of the desired state too, so each
review file changed in the range is judged the same way, by the review
policy instead of the request policy.

Rules files (``policies/``, the org model in ``policies/data/``,
CODEOWNERS) are verified the same way first: while one of them is held,
every decision of the run (the re-verification itself, desired state,
expiry, who is active) uses the rules of the last approved rules commit.

Pure but for git reads and the ``PullSource`` it is given (the GitHub
connector in production, the GitHub fake in tests).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

from tools.core import orgmodel, pr_context as prc
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree, git
from tools.core.errors import FindingError
from tools.policy import pr_inputs
from tools.policy.engines import Engine, engine_for, load_bundle
from tools.policy.evaluate import evaluate_files
from tools.provision.access_reviews import REVIEWS_DIR
from tools.provision.unapproved import HeldFile, TrustState
from tools.provision.review_inputs import review_inputs
from tools.request import load as rload

RULES_PATHS = ("policies", "CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS")


def is_rules_path(path: str) -> bool:
    return path.startswith("policies/") or path in RULES_PATHS[1:]


# ---- what GitHub tells us about a PR (the connector fills these) ------------
@dataclass(frozen=True)
class PullFile:
    path: str
    status: str  # added | modified | removed | renamed …
    blob: str | None  # the file's blob id at the PR head (GitHub's ``sha``)
    previous_path: str | None = None


@dataclass(frozen=True)
class PullReview:
    user: str
    state: str
    commit_id: str | None


@dataclass(frozen=True)
class MergedPull:
    number: int
    author: str
    head_sha: str
    base_ref: str
    merged_at: datetime | None
    files: tuple[PullFile, ...]
    reviews: tuple[PullReview, ...]


class PullSource(Protocol):
    """The one GitHub read verification needs."""

    @property
    def default_branch(self) -> str: ...

    def pulls_for_commit(self, sha: str) -> Sequence[MergedPull]: ...


# ---- verdicts ----------------------------------------------------------------
@dataclass(frozen=True)
class FileVerdict:
    path: str
    approved: bool
    why: str
    commit: str | None = None  # the newest commit in the range that changed the file
    pr: int | None = None  # the PR that brought (or failed to approve) it
    approved_commit: str | None = None  # where its last approved content is (held files)

    def as_json(self) -> dict:
        return {"file": self.path, "approved": self.approved, "why": self.why, "commit": self.commit,
                "pr": self.pr, "approved_commit": self.approved_commit}


@dataclass
class Verification:
    checked: bool
    skipped: str | None = None  # why the GitHub check did not run
    since: str | None = None
    head: str | None = None
    rules: list[FileVerdict] = field(default_factory=list)
    files: list[FileVerdict] = field(default_factory=list)
    rules_commit: str | None = None
    state: TrustState = field(default_factory=TrustState)

    @property
    def held_now(self) -> list[FileVerdict]:
        """Changes this run found unapproved (rules first)."""
        return [v for v in (*self.rules, *self.files) if not v.approved]

    def as_json(self) -> dict:
        return {"checked": self.checked, "skipped": self.skipped, "since": self.since, "head": self.head,
                "rules_commit": self.rules_commit, "rules": [v.as_json() for v in self.rules],
                "files": [v.as_json() for v in self.files],
                "held": [h.as_json() for h in self.state.rules_held]
                + [self.state.files[p].as_json() for p in sorted(self.state.files)]}


# ---- git -----------------------------------------------------------------------
def blob(root: Path, commit: str, path: str) -> str | None:
    """The file's blob id at ``commit``, None when absent."""
    return git(root, "rev-parse", "--verify", "--quiet", f"{commit}:{path}", check=False).strip() or None


def changed_paths(root: Path, lo: str, hi: str, pathspecs: Iterable[str]) -> list[str]:
    out = git(root, "diff", "--name-only", "--no-renames", lo, hi, "--", *pathspecs)
    return sorted(p for p in out.splitlines() if p)


def commits_touching(root: Path, lo: str, hi: str, path: str) -> list[str]:
    """Commits of main's own line (first parent) in lo..hi that changed ``path``, newest first."""
    return git(root, "log", "--first-parent", "--format=%H", f"{lo}..{hi}", "--", path).split()


def parent(root: Path, commit: str) -> str:
    return git(root, "rev-parse", f"{commit}^1", check=False).strip() or commit


# ---- the check ------------------------------------------------------------------
Decide = Callable[[MergedPull, str, str], tuple[bool, str]]  # (pull, commit, path) -> (ok, why)


@dataclass
class Verifier:
    """Walks each changed file's history on main and judges each change."""

    root: Path
    pulls: PullSource
    _cache: dict[str, list[MergedPull]] = field(default_factory=dict)

    def merged(self, commit: str) -> list[MergedPull]:
        """PRs merged into the default branch that GitHub says brought ``commit``."""
        if commit not in self._cache:
            branch = self.pulls.default_branch
            self._cache[commit] = [p for p in self.pulls.pulls_for_commit(commit)
                                   if p.merged_at is not None and p.base_ref == branch]
        return self._cache[commit]

    def judge(self, commit: str, path: str, decide: Decide) -> tuple[bool, int | None, str]:
        """Did an approved PR bring this content of ``path`` at ``commit``?"""
        pulls = self.merged(commit)
        if not pulls:
            return False, None, (f"{commit[:7]} reached {self.pulls.default_branch} without a merged pull request "
                                 "(a direct push)")
        content = blob(self.root, commit, path)
        why = ""
        for pr in pulls:
            entry = next((f for f in pr.files if f.path == path), None) or next(
                (f for f in pr.files if f.previous_path == path and f.status == "renamed"), None)
            if entry is None:
                why = f"PR #{pr.number} does not list {path} among its files"
                continue
            if content is None and not (entry.status == "removed" or entry.previous_path == path):
                why = f"PR #{pr.number} did not remove {path}"
                continue
            if content is not None and (entry.path != path or entry.blob != content):
                why = f"the content on main differs from what PR #{pr.number} brought at its head"
                continue
            ok, why = decide(pr, commit, path)
            if ok:
                return True, pr.number, f"approved in PR #{pr.number}"
            why = f"PR #{pr.number} was merged without the approvals the rules require: {why}"
        return False, pulls[0].number, why

    def verify(self, path: str, lo: str, hi: str, fallback: str, decide: Decide) -> FileVerdict:
        """The file's current content at ``hi`` is approved when it equals the
        content of the newest approved change in lo..hi (or, with none, of
        ``fallback``: the starting commit, or where a held file was last approved)."""
        current = blob(self.root, hi, path)
        newest: tuple[str, int | None, str] | None = None
        approved_at = fallback
        for commit in commits_touching(self.root, lo, hi, path):
            ok, pr, why = self.judge(commit, path, decide)
            if ok:
                approved_at = commit
                if newest is None:
                    return FileVerdict(path, True, why, commit, pr)
                break
            newest = newest or (commit, pr, why)
        if blob(self.root, approved_at, path) == current:
            commit, pr, _ = newest or (None, None, "")
            return FileVerdict(path, True, "unchanged from its last approved content", commit, pr)
        commit, pr, why = newest or (hi, None, f"its content differs from the last approved one at {approved_at[:7]}")
        return FileVerdict(path, False, why, commit, pr, approved_at)


def reviews_with_teams(pr: MergedPull, org: OrgModel) -> tuple[prc.Review, ...]:
    """The PR's reviews, each reviewer's teams taken from the org model (the
    rules' own record of who is in which team), never from GitHub."""
    def teams(login: str) -> tuple[str, ...]:
        return tuple(org.teams[k].github_team for k in org.teams_by_login.get(login.lower(), ()))
    return tuple(prc.Review(r.user, r.state, r.commit_id or "", teams(r.user)) for r in pr.reviews)


def pr_context(root: Path, pr: MergedPull, before: str, commit: str, org: OrgModel) -> prc.PRContext:
    """The merged PR as the policy's ``input.pr``, the way check-pr builds it:
    the files from git (what ``commit`` changed on main, never GitHub's list,
    which stops at 3,000), reviewers' teams from the org model."""
    return prc.PRContext(pr.number, pr.author, pr.head_sha, before, prc.changed_files(root, before, commit),
                         reviews_with_teams(pr, org), pr.base_ref)


def policy_verdict(engine: Engine, doc: dict) -> tuple[bool, str]:
    """(allowed, why not) from ``data.access.decision``; an engine error denies."""
    try:
        result = engine.decide(doc)
    except FindingError as exc:
        return False, str(exc)
    if result.get("allow"):
        return True, ""
    return False, "; ".join(str(v.get("message", v.get("rule"))) for v in result.get("violations", [])[:3])


def request_decider(root: Path, org: OrgModel, rules_commit: str, now: datetime, env: dict[str, str]) -> Decide:
    """Re-run the policy decision on the file as it is at the commit, with the
    PR's context, under the last approved rules, at the run's ``now`` (apply
    follows the merge within minutes; durations only shrink meanwhile). A
    removal is judged by the same policy document check-pr asks
    (``access.rules.removals``), with the same input builder."""
    engine = engine_for(load_bundle(Tree(root, rules_commit), org), env)

    def decide(pr: MergedPull, commit: str, path: str) -> tuple[bool, str]:
        before = parent(root, commit)
        if blob(root, commit, path) is None:
            doc = pr_inputs.removal_input(path, pr_context(root, pr, before, commit, org), Tree(root, before),
                                          org, now)
            return (True, "") if doc is None else policy_verdict(engine, doc)
        context = prc.PRContext(
            pr.number, pr.author, pr.head_sha, rules_commit,
            tuple(prc.ChangedFile(f.path, f.status, f.previous_path) for f in pr.files),
            reviews_with_teams(pr, org), pr.base_ref)
        ev = evaluate_files(root, [path], context, rules_commit, now, engine=engine,
                            head_ref=commit, state_ref=before)
        d = ev.decisions[0]
        if d.allow:
            return True, ""
        return False, "; ".join(str(v.get("message", v.get("rule"))) for v in d.violations[:3])
    return decide


def rules_decider(root: Path, org: OrgModel, rules_commit: str, now: datetime, env: dict[str, str]) -> Decide:
    """A change to the rules, judged by ``access.rules.rule_changes`` of the
    last approved rules (``rules_commit``, whose org model is ``org``), on
    the input check-pr builds: what the merge commit changed against its
    parent (who joins which team, which waivers it adds and whom they
    benefit). The engine is built on first use: most runs change no rules."""
    engines: list[Engine] = []

    def decide(pr: MergedPull, commit: str, path: str) -> tuple[bool, str]:
        if not engines:
            engines.append(engine_for(load_bundle(Tree(root, rules_commit), org), env))
        before = parent(root, commit)
        try:
            base = orgmodel.load(Tree(root, before))
        except FindingError:  # a broken model before the change: compare against the approved one
            base = org
        doc = pr_inputs.rules_input(pr_context(root, pr, before, commit, org), base, Tree(root, commit), now)
        return policy_verdict(engines[0], doc)
    return decide


def review_decider(root: Path, org: OrgModel, rules_commit: str, now: datetime, env: dict[str, str]) -> Decide:
    """A review file on main (``reviews/``), judged by the review policy
    (``access.rules.access_reviews``) of the last approved rules, on the
    input check-pr builds for a review PR (tools.provision.review_inputs):
    the file at the commit, every fact about its entries at the commit's
    parent, the PR's approvals on its head, teams from the org model. A
    review that reached main without the owning team's attestation (a direct
    push, an admin merge past the red check) is held like any other
    unapproved change: its ``revoke`` removes nothing and its ``keep``
    restarts nothing."""
    engines: list[Engine] = []

    def decide(pr: MergedPull, commit: str, path: str) -> tuple[bool, str]:
        if not engines:
            engines.append(engine_for(load_bundle(Tree(root, rules_commit), org), env))
        before = parent(root, commit)
        docs = [d for d in review_inputs(pr_context(root, pr, before, commit, org), Tree(root, before),
                                         Tree(root, commit), org, now) if d["file"] == path]
        if not docs:
            return False, f"{path} is not a review file the policy can judge"
        return policy_verdict(engines[0], docs[0])
    return decide


def verify_range(root: Path, since: str, head: str, pulls: PullSource, state: TrustState, now: datetime,
                 env: dict[str, str]) -> Verification:
    """Verify lo..head and return the updated held state (not yet saved)."""
    v = Verifier(root, pulls)
    state = TrustState(state.rules_commit, list(state.rules_held), dict(state.files))
    # 1. The rules first: everything else is decided by the last approved ones.
    rules_base = state.rules_commit or since
    rules_org = orgmodel.load(Tree(root, rules_base))
    decide_rules = rules_decider(root, rules_org, rules_base, now, env)
    rules = [v.verify(p, rules_base, head, rules_base, decide_rules)
             for p in changed_paths(root, rules_base, head, RULES_PATHS)]
    if all(r.approved for r in rules):
        rules_commit, state.rules_held = head, []
    else:
        rules_commit = rules_base
        state.rules_held = [HeldFile(r.path, rules_base, r.commit or head, r.why, r.pr) for r in rules if not r.approved]
    state.rules_commit = rules_commit
    org = orgmodel.load(Tree(root, rules_commit))
    # 2. Each request file and each access review changed in the range, each
    #    judged by its own policy (the same engine abstraction for both).
    paths = changed_paths(root, since, head, (rload.REQUESTS_DIR, REVIEWS_DIR))
    deciders: dict[str, Decide] = {}

    def decider(path: str) -> Decide:
        kind = "review" if path.startswith(REVIEWS_DIR + "/") else "request"
        if kind not in deciders:
            make = review_decider if kind == "review" else request_decider
            deciders[kind] = make(root, org, rules_commit, now, env)
        return deciders[kind]

    files = []
    for path in paths:
        before = state.files.get(path)
        verdict = v.verify(path, since, head, before.approved_commit if before else since, decider(path))
        if verdict.approved:
            state.files.pop(path, None)
        else:
            state.files[path] = HeldFile(path, verdict.approved_commit or since, verdict.commit or head,
                                         verdict.why, verdict.pr)
        files.append(verdict)
    return Verification(True, None, since, head, rules, files, rules_commit, state)


def skipped(why: str, state: TrustState, since: str | None = None) -> Verification:
    return Verification(False, why, since, None, state=state, rules_commit=state.rules_commit)
