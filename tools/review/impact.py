"""What a rules change does to the access that already exists.

A PR that changes ``policies/`` (the Rego rules or the org model in
``policies/data/``) changes no request file, yet it can end or open access
for many people at once. Its reviewers need to see exactly which: every
request file on main is judged twice, under the base rules and under the
head rules, and the two answers are compared.

- **Decisions.** Per request file, allowed or denied under each rule set
  (policy decision plus validation against that side's org model, as the PR
  check counts them). A file allowed today and denied under the head rules
  is refused at its next change or renewal; one denied today and allowed
  under the head rules becomes requestable.
- **Desired state.** The grants ``apply`` would add or remove after the
  merge. It follows the jobs-safety split of ``tools.provision.invalid_files``: what
  the org model withdraws (an inactive person, a role out of the catalog, a
  removed target, a tier limit now exceeded) is revoked; a file that the
  head rules make invalid through its own content is *held*, not revoked.
- **CODEOWNERS.** The lines of the generated ``.github/CODEOWNERS`` that
  change, i.e. who reviews which folder after the merge.

The head rules are information here, never the decision: they are compiled
into their own embedded engine (``RegorusEngine``), never into the engine
or OPA server that judges the PR, and nothing here feeds the verdict.
Both sides go through :func:`whole_state`, the single call into the
whole-state evaluation path, so a faster path replaces one function.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.core import orgmodel
from tools.core.errors import FindingError
from tools.core.model import Grant
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree
from tools.policy.engines import RegorusEngine, load_bundle
from tools.policy.evaluate import Evaluation, evaluate_files
from tools.policy.input import PreloadedTree, read_texts
from tools.provision import desired as state
from tools.provision import invalid_files
from tools.request import load, validate
from tools.review import codeowners, rules_pr

RULES_DIR = "policies/"  # a PR changing a path under it gets the impact section
ALLOWED, DENIED = "allowed", "denied"
ADD, REMOVE, HELD = "add", "remove", "held"


def whole_state(root: Path, rules_ref: str | None, state_ref: str, now: datetime,
                rules_tree: Tree, org: OrgModel, files: list[load.RequestFile] | None = None) -> Evaluation:
    """Every request file of ``state_ref`` decided by the rules of
    ``rules_ref`` (None: the working tree), in a fresh embedded engine.

    The one place the impact analysis calls the whole-state evaluation
    path: a faster implementation (one batch call) is dropped in here.
    Never ``engine_for``: the rules under review must not reach the OPA
    server that judges, whatever ``ACCESSCTL_OPA_URL`` says. ``files``:
    ``state_ref``'s request files as read_state read them (read once for
    both rule sets)."""
    engine = RegorusEngine(load_bundle(rules_tree, org))
    return evaluate_files(root, None, None, rules_ref, now, engine=engine, head_ref=state_ref, state_ref=state_ref,
                          files=files)


@dataclass(frozen=True)
class Outcome:
    """One file under one rule set."""

    allow: bool
    problems: tuple[dict[str, str], ...]  # {"rule", "message"}: policy violations, then validation findings
    waived: tuple[dict[str, str], ...] = ()  # {"rule", "owner", "expires"}


@dataclass(frozen=True)
class DecisionChange:
    """A request file on main whose decision the rules change flips."""

    file: str
    principal: str
    grants: tuple[str, ...]  # "entitlement in target", as written in the file
    before: str  # allowed | denied
    after: str
    new: tuple[dict[str, str], ...]  # allowed → denied: the problems the head rules add
    resolved: tuple[dict[str, str], ...]  # denied → allowed: the problems they drop
    waived: tuple[dict[str, str], ...]  # waivers the head rules apply to this file

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "principal": self.principal, "grants": list(self.grants),
                "before": self.before, "after": self.after, "new_violations": list(self.new),
                "resolved": list(self.resolved), "waived": list(self.waived)}


@dataclass(frozen=True)
class StateChange:
    """One grant ``apply`` would add or remove after the merge (or hold)."""

    action: str  # add | remove | held
    grant: Grant
    target: str  # the target's name where the org model knows it
    why: str

    def as_json(self) -> dict[str, Any]:
        g = self.grant
        return {"action": self.action, "provider": g.provider, "target": self.target, "target_id": g.target,
                "principal": g.principal, "kind": g.kind, "entitlement": g.entitlement,
                "request": g.request, "why": self.why}


@dataclass
class Impact:
    base_rules: str  # "commit <sha>" or "the working tree"
    head_rules: str
    state_from: str  # where the request files come from (main)
    evaluated: int = 0
    changes: list[DecisionChange] = field(default_factory=list)
    state: list[StateChange] = field(default_factory=list)
    members: list[MembershipChange] = field(default_factory=list)
    codeowners: list[OwnersChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # why the head rules could not be evaluated

    def count(self, before: str, after: str) -> int:
        return sum(c.before == before and c.after == after for c in self.changes)

    def actions(self, action: str) -> int:
        return sum(s.action == action for s in self.state)

    @property
    def empty(self) -> bool:
        return not (self.changes or self.state or self.members or self.codeowners or self.errors)

    def as_json(self) -> dict[str, Any]:
        return {"base_rules": self.base_rules, "head_rules": self.head_rules, "state_from": self.state_from,
                "evaluated": self.evaluated, "errors": self.errors,
                "counts": {"allowed_to_denied": self.count(ALLOWED, DENIED),
                           "denied_to_allowed": self.count(DENIED, ALLOWED),
                           "unchanged": self.evaluated - len(self.changes),
                           "grants_added": self.actions(ADD), "grants_removed": self.actions(REMOVE),
                           "grants_held": self.actions(HELD)},
                "decisions": [c.as_json() for c in self.changes],
                "desired_state": [s.as_json() for s in self.state],
                "membership": [m.as_json() for m in self.members],
                "codeowners": [c.as_json() for c in self.codeowners]}


@dataclass
class _Side:
    """Main's request files under one rule set."""

    org: OrgModel
    outcomes: dict[str, Outcome]
    files: dict[str, load.RequestFile]
    grants: dict[tuple, Grant]


def _outcome(decision: Any, findings: list) -> Outcome:
    """As the PR check counts it (check_pr.file_result): a validation
    finding the policy also reports is listed once, as the policy's; any
    other finding denies the file whatever the policy says (one a waiver
    covers was set aside by validation, as the policy waives it)."""
    violations = [{"rule": str(v.get("rule", "")), "message": str(v.get("message", ""))}
                  for v in decision.violations]
    seen = {v["rule"] for v in violations}
    found = [{"rule": f.rule, "message": f.message} for f in findings
             if f.rule != validate.INCOMPLETE_IMPORT and f.rule not in seen]
    waived = tuple({"rule": str(w.get("rule", "")), "owner": str((w.get("waiver") or {}).get("owner", "?")),
                    "expires": str((w.get("waiver") or {}).get("expires", "?"))} for w in decision.waived)
    return Outcome(bool(decision.allow) and not found, tuple(violations + found), waived)


def read_state(root: Path, state_ref: str) -> list[load.RequestFile]:
    """Main's request files, read and schema-checked once for both sides
    (one batch read of the commit, not one git process per file)."""
    tree = Tree(root, state_ref)
    paths = tree.list(load.REQUESTS_DIR)
    preloaded = PreloadedTree(root, state_ref, read_texts(tree, paths))
    return [load.read(preloaded, p) for p in paths]


def _side(root: Path, rules_ref: str | None, state_ref: str, now: datetime, read: list[load.RequestFile]) -> _Side:
    rules_tree = Tree(root, rules_ref) if rules_ref else Tree(root)
    org = orgmodel.load(rules_tree)
    evaluation = whole_state(root, rules_ref, state_ref, now, rules_tree, org, read)
    # Validation appends findings to the files: each side validates its own copy.
    files = [replace(rf, findings=list(rf.findings)) for rf in read]
    validate.validate(files, org, now)  # this side's org model: what it withdraws, what it breaks
    by_path = {rf.path: rf for rf in files}
    outcomes = {d.file: _outcome(d, by_path[d.file].findings if d.file in by_path else [])
                for d in evaluation.decisions}
    grants = {g.key: g for g in state.desired(files, org, now).grants}
    return _Side(org, outcomes, by_path, grants)


def _describe(rf: load.RequestFile | None) -> tuple[str, tuple[str, ...]]:
    req = rf.request if rf is not None else None
    if isinstance(req, load.AccessRequest):
        return str(req.principal), tuple(f"{g.entitlement} in {g.target}" for g in req.grants)
    if isinstance(req, load.ServiceAccount):
        return f"serviceAccount:{req.name}", (f"service account in {req.target}",)
    return "?", ()


def _key(p: dict[str, str]) -> tuple[str, str]:
    return p["rule"], p["message"]


def decision_changes(base: _Side, head: _Side) -> list[DecisionChange]:
    out = []
    for path in sorted(set(base.outcomes) & set(head.outcomes)):
        b, h = base.outcomes[path], head.outcomes[path]
        if b.allow == h.allow:
            continue
        before = {_key(p) for p in b.problems}
        after = {_key(p) for p in h.problems}
        new = tuple(p for p in h.problems if _key(p) not in before)
        resolved = tuple(p for p in b.problems if _key(p) not in after)
        waived = tuple(w for w in h.waived if w not in b.waived)
        principal, grants = _describe(head.files.get(path) or base.files.get(path))
        out.append(DecisionChange(path, principal, grants, ALLOWED if b.allow else DENIED,
                                  ALLOWED if h.allow else DENIED, new, resolved, waived))
    return out


def _target_name(grant: Grant, *orgs: OrgModel) -> str:
    for org in orgs:
        t = org.target_by_id(grant.provider, grant.target)
        if t is not None:
            return t.name
    return grant.target


def _first(rf: load.RequestFile | None, rules: frozenset[str] | None, default: str, among: bool = True) -> str:
    """The first finding's message whose rule is (``among``) or is not in ``rules``."""
    for f in (rf.findings if rf is not None else []):
        if rules is None or (f.rule in rules) == among:
            return f.message
    return default


def state_changes(base: _Side, head: _Side) -> list[StateChange]:
    """The grants the merge adds or removes, by the holds split: a file the
    head rules break through its own content keeps its grants (held)."""
    out = []
    for key in sorted(set(base.grants) - set(head.grants)):
        g = base.grants[key]
        rf = head.files.get(g.request or "")
        where = _target_name(g, base.org, head.org)
        kind = invalid_files.disposition(rf.findings) if rf is not None else invalid_files.REVOKE
        if kind == invalid_files.HOLD:
            why = _first(rf, invalid_files.REVOKING_RULES, "invalid", among=False) + "; held: the file breaks through its own content, its access " \
                  "stays until it is fixed or removed"
            out.append(StateChange(HELD, g, where, why))
        elif kind == invalid_files.REVOKE:
            why = _first(rf, invalid_files.REVOKING_RULES, "withdrawn") + " (the org model withdraws it)"
            out.append(StateChange(REMOVE, g, where, why))
        else:
            out.append(StateChange(REMOVE, g, where, f"{g.request} no longer grants this under the new rules"))
    for key in sorted(set(head.grants) - set(base.grants)):
        g = head.grants[key]
        rf = base.files.get(g.request or "")
        before = _first(rf, None, "")
        why = f"{g.request} becomes valid" + (f" (today: {before})" if before else "")
        out.append(StateChange(ADD, g, _target_name(g, head.org, base.org), why))
    return out


@dataclass(frozen=True)
class MembershipChange:
    """People who gain or lose, through a team's membership, the access
    granted on main to that team (``group:<team>`` principals): the grant
    itself does not change, who holds it does."""

    team: str
    joins: tuple[str, ...]  # GitHub logins
    leaves: tuple[str, ...]
    grants: tuple[str, ...]  # "entitlement in target" of the team's valid requests on main

    def as_json(self) -> dict[str, Any]:
        return {"team": self.team, "joins": list(self.joins), "leaves": list(self.leaves),
                "grants": list(self.grants)}


def membership_changes(base: _Side, head: _Side) -> list[MembershipChange]:
    """Per team whose members change: the access they gain or lose with it
    (what the team holds after the merge, by the head rules)."""
    out = []
    for change in rules_pr.team_changes(base.org, head.org):
        if not (change["joins"] or change["leaves"]):
            continue
        held = []
        for rf in head.files.values():
            req = rf.request
            if isinstance(req, load.AccessRequest) and req.principal.type == "group" \
                    and req.principal.id == change["team"] and invalid_files.disposition(rf.findings) != invalid_files.REVOKE:
                held += [f"{g.entitlement} in {g.target}" for g in req.grants]
        if held:
            out.append(MembershipChange(change["team"], tuple(change["joins"]), tuple(change["leaves"]),
                                        tuple(sorted(dict.fromkeys(held)))))
    return out


@dataclass(frozen=True)
class OwnersChange:
    """One CODEOWNERS pattern whose owners the merge changes (None: the
    pattern is new, or gone)."""

    pattern: str
    before: str | None  # owners, space-separated, as the line lists them
    after: str | None

    def as_json(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "before": self.before, "after": self.after}


def codeowners_changes(base: OrgModel, head: OrgModel) -> list[OwnersChange]:
    """Patterns of the generated CODEOWNERS whose owners the merge changes,
    adds or removes, in the file's order (GitHub applies the last match)."""
    def owners(org: OrgModel) -> dict[str, str]:
        return {r.pattern: " ".join(r.owners) for r in codeowners.rules(org)}
    before = owners(base)
    try:
        after = owners(head)
    except FindingError as exc:
        raise FindingError(f"CODEOWNERS cannot be generated from the head org model: {exc}") from None
    out = [OwnersChange(p, before.get(p), a) for p, a in after.items() if before.get(p) != a]
    return out + [OwnersChange(p, b, None) for p, b in before.items() if p not in after]


def analyse(root: Path | str, base_rules: str | None, head_rules: str | None, state_ref: str,
            now: datetime) -> Impact:
    """Main's request files (``state_ref``) judged under ``base_rules`` and
    ``head_rules`` (commits; None is the working tree). Head rules that do
    not load or compile are reported in ``errors``, not raised: this is
    information for reviewers, and the verdict never depends on it."""
    root = Path(root)
    describe = lambda ref: Tree(root, ref).describe()  # noqa: E731
    impact = Impact(describe(base_rules), describe(head_rules), describe(state_ref))
    sides, read = [], read_state(root, state_ref)
    for label, ref in (("base", base_rules), ("head", head_rules)):
        try:
            sides.append(_side(root, ref, state_ref, now, read))
        except FindingError as exc:
            impact.errors.append(f"the {label} rules cannot be evaluated: {exc}")
            return impact
    base, head = sides
    impact.evaluated = len(base.outcomes)
    impact.changes = decision_changes(base, head)
    impact.state = state_changes(base, head)
    impact.members = membership_changes(base, head)
    try:
        impact.codeowners = codeowners_changes(base.org, head.org)
    except FindingError as exc:
        impact.errors.append(str(exc))
    return impact
