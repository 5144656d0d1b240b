"""Read live state, plan, and apply: the only stage with cloud side effects.

Connectors are created per provider on first use; each target is read
once (one pass, paginated inside the connector) and written once per run
(changes are batched per target). Dry-run is enforced here, in one place:
a dry run never hands changes to a connector at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from tools.core import orgmodel
from tools.core.connector import Connector, connector_for
from tools.core.errors import UsageError
from tools.core.model import ChangeResult, Grant, Target
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree, git
from tools.policy.input import PreloadedTree, read_texts
from tools.core.expiry import format_expiry
from tools.provision import access_reviews
from tools.provision import desired as state
from tools.provision import invalid_files
from tools.provision.unapproved import Overrides, TrustedView
from tools.provision.plan import BlastRadius, Plan, make_plan
from tools.provision.record import Journal, read_all
from tools.request import load, validate
from tools.request.grants import request_grants, service_account_grant

PROVIDERS = ("aws", "gcp")


@dataclass
class Connectors:
    """Lazily built connectors, one per provider, shared by a whole run."""

    org: OrgModel
    factory: Callable[[str, OrgModel], Connector] | None = None
    _made: dict[str, Connector] = field(default_factory=dict)

    def __call__(self, provider: str) -> Connector:
        if provider not in self._made:
            self._made[provider] = (self.factory or connector_for)(provider, self.org)
        return self._made[provider]


def select_targets(org: OrgModel, providers: Iterable[str], only: set[tuple[str, str]] | None = None
                   ) -> dict[tuple[str, str], Target]:
    """Targets keyed (provider, id); ``only`` limits them (by id)."""
    out = {}
    for t in org.targets.values():
        if t.provider in providers and (only is None or (t.provider, t.id) in only):
            out[(t.provider, t.id)] = t
    return out


def changed_targets(root, since: str, org: OrgModel) -> set[tuple[str, str]] | None:
    """Targets whose request files changed since ``since`` (None = all of them).

    A change to the org model can move any grant (a person leaves, a scope
    grows), so it widens the run to every target; the scheduled reconcile
    stays the full safety net either way.
    """
    if not since.strip("0") or not git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}",
                                       check=False).strip():
        return None  # first push to a branch (before = 0000…) or unknown commit: everything
    out = git(root, "diff", "--name-only", "--no-renames", f"{since}", "--", "requests", orgmodel.DATA_DIR,
              access_reviews.REVIEWS_DIR)
    touched: set[tuple[str, str]] = set()
    for path in out.splitlines():
        if path.startswith((orgmodel.DATA_DIR + "/", access_reviews.REVIEWS_DIR + "/")):
            return None  # a review can withdraw grants of any target its team owns
        provider, target_name, _ = load.path_parts(path)
        target = org.target(provider, target_name)
        if target is not None:
            touched.add((provider, target.id))
    return touched


def folder_of(path: str) -> str | None:
    """requests/<provider>/<target>: the folder holding every file of one target."""
    provider, target, _ = load.path_parts(path)
    return f"{load.REQUESTS_DIR}/{provider}/{target}" if provider else None


def load_folders(tree: Tree, folders: set[str], org: OrgModel, now: datetime,
                 last: set[str] = frozenset(), held: Overrides | None = None) -> list[load.RequestFile]:
    """The request files of some targets' folders, plus the folders of the
    service accounts they name, validated together.

    Equivalent, for those targets, to validating the whole tree: every
    cross-file check (a duplicate grant, an undefined service account, a
    name defined twice) only ever compares files of one folder, or a file
    with the definition in the folder its principal names."""
    def read(wanted: set[str]) -> list[load.RequestFile]:
        paths = [p for p in tree.list(load.REQUESTS_DIR) if folder_of(p) in wanted]
        source = PreloadedTree(tree.root, tree.ref, read_texts(tree, paths)) if tree.ref is not None else tree
        return [load.read(source, p) for p in paths]

    files = held.apply(read(folders), folders) if held else read(folders)
    named = {f"{load.REQUESTS_DIR}/{rf.request.provider}/{rf.request.principal.id.split('/', 1)[0]}"
             for rf in files if isinstance(rf.request, load.AccessRequest)
             and rf.request.principal.type == "serviceAccount"}
    if named - folders:
        files += held.apply(read(named - folders), named - folders) if held else read(named - folders)
    validate.validate(files, org, now, last)  # ``last``: see validate.validate
    return files


def desired_state(tree: Tree, org: OrgModel, now: datetime, folders: set[str] | None = None,
                  held: Overrides | None = None) -> state.DesiredState:
    """Desired grants of the whole tree, or of ``folders`` only (see load_folders)."""
    return state.desired(desired_files(tree, org, now, folders, held), org, now)


def desired_files(tree: Tree, org: OrgModel, now: datetime, folders: set[str] | None = None,
                  held: Overrides | None = None, history: Iterable = ()) -> list[load.RequestFile]:
    """The validated request files of the whole tree, or of ``folders`` only;
    ``held`` files (changes apply could not re-verify) count at their last
    approved content (tools/provision/unapproved.py). ``history`` (the durable
    record) says who attested each access review's ``keep``: without it a
    kept grant would count as never reviewed."""
    if folders is not None:
        files = load_folders(tree, folders, org, now, held=held)
    else:
        files = held.apply(load.read_all(tree)) if held else load.read_all(tree)
        validate.validate(files, org, now)
    access_reviews.mark_tree(tree, files, org, now, history, held)  # reviews/ withdraw what owners revoked or left overdue
    return files


def expired_grants(files: list[load.RequestFile], org: OrgModel, now: datetime) -> dict[tuple, str]:
    """Grant key → why, for files on main whose expiry has passed (and that
    are otherwise in order): their removal is expiry, not drift."""
    out: dict[tuple, str] = {}
    for rf in files:
        req = rf.request
        if req is None or req.expires is None or req.expires > now or invalid_files.disposition(rf.findings) == invalid_files.HOLD:
            continue
        for g in _grants_of(req, org):
            out[g.key] = f"expired {format_expiry(req.expires)} ({rf.path})"
    return out


def withdrawn_grants(files: list[load.RequestFile], org: OrgModel) -> dict[tuple, str]:
    """Grant key → why, for files the org model no longer allows (an inactive
    person, a role that left the catalog …): the intended way to revoke."""
    out: dict[tuple, str] = {}
    for rf in files:
        if rf.request is None or invalid_files.disposition(rf.findings) != invalid_files.REVOKE:
            continue
        first = next((f for f in rf.findings if f.rule in invalid_files.REVOKING_RULES), None)
        for g in _grants_of(rf.request, org):
            by = "an access review" if first and first.rule.startswith("review-") else "the org model"
            out[g.key] = f"{rf.path}: {first.message if first else 'withdrawn'} ({by} withdrew it)"
    return out


def _grants_of(req, org: OrgModel) -> list[Grant]:
    if isinstance(req, load.ServiceAccount):
        target = org.target(req.provider, req.target)
        return [service_account_grant(req, target)] if target else []
    return request_grants(req, org)


def read_live(targets: dict[tuple[str, str], Target], connectors: Connectors,
              progress: Callable[[Target, int], None] | None = None,
              failed: dict[tuple[str, str], str] | None = None) -> list[Grant]:
    """One read per target; ``progress(target, total)`` after each.

    With ``failed`` given, one target's read failure (AccessDenied, a role
    that cannot be assumed, an outage) is recorded there and the other
    targets are still read: one target's trouble stays there. When every
    target fails, it is an environment problem and the first error is raised."""
    live: list[Grant] = []
    first: Exception | None = None
    for key in sorted(targets):
        target = targets[key]
        try:
            live.extend(connectors(target.provider).read(target))
        except Exception as exc:  # isolated: named in the output, the run exits 1
            if failed is None:
                raise
            first = first or exc
            failed[key] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if progress:
            progress(target, len(targets))
    if failed is not None and targets and len(failed) == len(targets) and first is not None:
        raise first
    return live


@dataclass
class PlannedRun:
    plan: Plan
    org: OrgModel
    connectors: Connectors


def build_plan(root, now: datetime, providers: Iterable[str] = PROVIDERS, since: str | None = None,
               factory: Callable[[str, OrgModel], Connector] | None = None, progress=None,
               where: Callable[[Target], bool] | None = None, view: TrustedView | None = None) -> PlannedRun:
    """Desired vs live for the selected targets (``where`` narrows them, e.g. a shard).

    ``view`` is what apply's re-verification trusts on main: held files at
    their last approved content, the org model of the last approved rules.
    Targets that cannot be read are left out of the plan and listed in
    ``plan.failed_targets``; files invalid through their own content hold
    their access (tools.provision.invalid_files); removals that are expiry are marked
    so the guard does not count them."""
    view = view or TrustedView()
    tree = Tree(root)
    org = orgmodel.load(view.rules_tree(root))
    only = changed_targets(root, since, org) if since else None
    targets = select_targets(org, providers, only)
    if where is not None:
        targets = {k: t for k, t in targets.items() if where(t)}
    connectors = Connectors(org, factory)
    # --since: read only the touched targets' folders, so a one-file merge
    # does not load and validate every request of a large organisation
    folders = {f"{load.REQUESTS_DIR}/{t.provider}/{t.name}" for t in targets.values()} if only is not None else None
    # the durable record: a writer honours the keeps that apply recorded as attested
    files = desired_files(tree, org, now, folders, view.overrides, list(read_all(root)))
    wanted = state.desired(files, org, now)
    held = invalid_files.held_files(root, files, org)
    failed: dict[tuple[str, str], str] = {}
    live = read_live(targets, connectors, progress, failed)
    readable = {k: t for k, t in targets.items() if k not in failed}
    protected = org.setting("organization", "protected_principals", default=[]) or []
    plan = make_plan(wanted.grants, live, readable, protected, invalid_files.hold_keys(held),
                     expired_grants(files, org, now), withdrawn_grants(files, org))
    plan.failed_targets = {k: failed[k] for k in sorted(failed)}
    plan.held_files = held
    return PlannedRun(plan, org, connectors)


def guard(org: OrgModel) -> BlastRadius:
    cfg = org.setting("organization", "blast_radius", default={}) or {}
    return BlastRadius(float(cfg.get("max_remove_share", 0.25)), int(cfg.get("max_remove_count", 50)))


def execute(plan: Plan, connectors: Connectors, dry_run: bool = False, journal: Journal | None = None
            ) -> list[ChangeResult]:
    """Apply every target's batch; failures are gathered, never stop the run.

    With a ``journal``, each batch is recorded before the connector is
    called and each result right after, so a crash leaves the evidence."""
    results: list[ChangeResult] = []
    for (provider, _), changes in sorted(plan.by_target().items()):
        target = plan.targets[(provider, changes[0].grant.target)]
        if dry_run:
            results.extend(ChangeResult(c, True, None, 0) for c in changes)
            continue
        if journal is not None:
            journal.attempt(changes)
        try:
            done = connectors(provider).apply(target, changes)
        except Exception as exc:  # a connector bug or outage must not hide other targets' results
            done = [ChangeResult(c, False, f"{type(exc).__name__}: {exc}") for c in changes]
        if journal is not None:
            journal.done(done)
        results.extend(done)
    return results


def provider_list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return PROVIDERS
    if value not in PROVIDERS:
        raise UsageError(f"--provider must be one of {', '.join(PROVIDERS)}")
    return (value,)

