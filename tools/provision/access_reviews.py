"""Access reviews: the files under ``reviews/`` as inputs of the desired state.

A merged review file (``reviews/<yyyy-mm-dd>/<team>.yaml``) lists grants
with a decision each. ``revoke`` withdraws the request at once; ``keep``
is the attestation that restarts the grant's review period. A request
whose review is overdue past its deadline is withdrawn too (or only
reported, when ``reviews.overdue`` in the org model says ``report``).

Withdrawal is expressed the way the org model withdraws access: as a
finding with a revoking rule id on the request file (see
tools.request.validate.REVOKING and tools.provision.invalid_files). The file then
contributes nothing to the desired state, apply and reconcile plan its
removal as withdrawn (not drift, not counted by the blast-radius guard),
and expire revokes it and deletes the file through its cleanup PR.

Dates come from git history (when the request last changed on main, when
each review file was merged) and from the durable record (``reviewed``
events apply writes on the merge of a review, with the approvers).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping

from tools.core import yamlsafe
from tools.core.model import Grant, Tier
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree, git
from tools.request.grants import request_grants, service_account_grant
from tools.request import load
from tools.request.load import REQUESTS_DIR, AccessRequest, RequestFile, ServiceAccount

REVIEWS_DIR = "reviews"
REVOKED = "review-revoked"  # the owners marked the grant revoke in a merged review
OVERDUE = "review-overdue"  # nobody attested the grant before the deadline
DECISIONS = ("keep", "revoke")
DEFAULT_DAYS = {"privileged": 30, "sensitive": 90, "standard": 180, "service_accounts": 90}
MAX_REVIEW_BYTES = 1_000_000


@dataclass(frozen=True)
class Settings:
    grace_days: int  # from the due date to the deadline
    reminder_days: int  # how long before the deadline the one reminder goes out
    overdue: str  # "revoke" (leaves the desired state) or "report"


def settings(org: OrgModel) -> Settings:
    cfg = org.setting("reviews", default={}) or {}
    return Settings(int(cfg.get("grace_days", 14)), int(cfg.get("reminder_days", 7)),
                    str(cfg.get("overdue", "revoke")))


def period_days(req: AccessRequest | ServiceAccount, org: OrgModel) -> int:
    """Review period of a request: its identity's own period for a service
    account, else the shortest period among the tiers of what it grants."""
    if isinstance(req, ServiceAccount):
        return int(org.setting("reviews", "days", "service_accounts", default=DEFAULT_DAYS["service_accounts"]))
    days = []
    for g in req.grants:
        entry = org.catalog.get((g.kind, g.entitlement))
        tier = entry.tier.value if entry is not None else Tier.PRIVILEGED.value  # unknown: strictest
        days.append(int(org.setting("reviews", "days", tier, default=DEFAULT_DAYS[tier])))
    return min(days) if days else DEFAULT_DAYS["standard"]


def tier_of(req: AccessRequest | ServiceAccount, org: OrgModel) -> str:
    if isinstance(req, ServiceAccount):
        return "service-account"
    ranks = {"standard": 0, "sensitive": 1, "privileged": 2}
    tiers = [(org.catalog[(g.kind, g.entitlement)].tier.value if (g.kind, g.entitlement) in org.catalog
              else "privileged") for g in req.grants]
    return max(tiers, key=ranks.__getitem__) if tiers else "standard"


def grants_of(req: AccessRequest | ServiceAccount, org: OrgModel) -> list[Grant]:
    if isinstance(req, ServiceAccount):
        target = org.target(req.provider, req.target)
        return [service_account_grant(req, target)] if target else []
    return request_grants(req, org)


# ---- review files ------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    request: str
    principal: str
    kind: str
    entitlement: str
    target: str
    decision: str
    line: int | None = None


@dataclass(frozen=True)
class ReviewFile:
    path: str
    team: str | None
    opened: date | None
    entries: tuple[Entry, ...]
    problems: tuple[str, ...] = ()  # why (part of) it cannot be read; such a file decides nothing


def review_path(day: date, team: str) -> str:
    return f"{REVIEWS_DIR}/{day:%Y-%m-%d}/{team}.yaml"


def parse_path(path: str) -> tuple[date | None, str | None]:
    """reviews/<yyyy-mm-dd>/<team>.yaml → (date, team); (None, None) otherwise."""
    parts = PurePosixPath(path).parts
    if len(parts) != 3 or parts[0] != REVIEWS_DIR or not parts[2].endswith(".yaml"):
        return None, None
    try:
        day = date.fromisoformat(parts[1])
    except ValueError:
        return None, PurePosixPath(parts[2]).stem
    return day, PurePosixPath(parts[2]).stem


def parse_review(path: str, text: str) -> ReviewFile:
    """A review file, strictly: safe YAML, known keys, one decision per entry.
    An entry that cannot be read is a problem (reported), never a decision."""
    day, team = parse_path(path)
    problems: list[str] = []
    if day is None:
        problems.append(f"{path}: review files live at {REVIEWS_DIR}/<yyyy-mm-dd>/<team>.yaml")
    if len(text.encode("utf-8")) > MAX_REVIEW_BYTES:
        return ReviewFile(path, team, day, (), (f"{path}: larger than {MAX_REVIEW_BYTES} bytes",))
    try:
        doc = yamlsafe.loads(text)
    except yamlsafe.YamlError as exc:
        return ReviewFile(path, team, day, (), (f"{path}:{exc.line or 1}: {exc.message}",))
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") != "AccessReview":
        return ReviewFile(path, team, day, (), (f"{path}:1: not an AccessReview (kind: AccessReview)",))
    if data.get("team") != team:
        problems.append(f"{path}:{doc.line_of(('team',))}: team {data.get('team')!r} differs from the file name")
    entries: list[Entry] = []
    items = data.get("grants")
    if not isinstance(items, list):
        problems.append(f"{path}:{doc.line_of(('grants',))}: grants must be a list")
        items = []
    for i, item in enumerate(items):
        at = doc.line_of(("grants", i))
        fields = ("request", "principal", "kind", "entitlement", "target", "decision")
        if not isinstance(item, dict) or any(not isinstance(item.get(k), str) for k in fields):
            problems.append(f"{path}:{at}: grant {i + 1} needs {', '.join(fields)} (strings)")
            continue
        if item["decision"] not in DECISIONS:
            problems.append(f"{path}:{doc.line_of(('grants', i, 'decision'))}: decision must be keep or revoke, "
                            f"not {item['decision']!r}")
            continue
        entries.append(Entry(item["request"], item["principal"], item["kind"], item["entitlement"],
                             item["target"], item["decision"], at))
    return ReviewFile(path, team, day, tuple(entries), tuple(problems))


def read_reviews(tree: Tree, held: Mapping[str, str | None] | None = None) -> list[ReviewFile]:
    """The review files of ``tree``; ``held`` (path -> last approved text, or
    None when none was approved) replaces the review files apply's
    re-verification held (tools.provision.unapproved), so an unapproved review
    counts as it was last approved."""
    held = held or {}
    out = []
    for path in tree.list(REVIEWS_DIR, (".yaml",)):
        if path in held:
            continue
        if tree.ref is None and (tree.root / path).is_symlink():
            out.append(ReviewFile(path, None, None, (), (f"{path}: a symlink, not a review file",)))
            continue
        out.append(parse_review(path, tree.read_text(path)))
    out += [parse_review(path, text) for path, text in sorted(held.items()) if text is not None]
    return sorted(out, key=lambda r: r.path)


# ---- dates from git and the durable record -----------------------------

def commit_times(root: Path, ref: str, *directories: str) -> dict[str, datetime]:
    """Path → time of the newest commit on ``ref`` that added or changed it
    (one ``git log`` for all the folders). Paths without history are absent."""
    out: dict[str, datetime] = {}
    text = git(root, "log", "--format=%x00%cI", "--name-only", "--diff-filter=AMR", "--no-renames", ref,
               "--", *directories, check=False)
    when: datetime | None = None
    for line in text.splitlines():
        if line.startswith("\x00"):
            when = datetime.fromisoformat(line[1:]).astimezone(timezone.utc)
        elif line.strip() and when is not None:
            out.setdefault(line.strip(), when)
    return out


@dataclass(frozen=True)
class Attestation:
    time: datetime
    reviewers: tuple[str, ...] | None  # None: not known (no durable record of it yet)
    source: str  # the review file, or "durable record"


def attestations(reviews: Iterable[ReviewFile], merged: dict[str, datetime], records: Iterable[Any] = ()
                 ) -> tuple[dict[str, Attestation], dict[str, Attestation]]:
    """Per request path: its newest ``keep`` and its newest ``revoke``.

    A review file counts from its merge (its commit on main); without one,
    from the date in its name. The durable record's ``reviewed`` and
    ``review-revoke`` lines (apply writes them on the merge of a review, see
    ``record_attestations``) say who attested; a ``keep`` nobody attested
    does not count. A ``revoke`` counts from git alone: it only removes."""
    keep: dict[str, Attestation] = {}
    revoke: dict[str, Attestation] = {}
    who: dict[str, tuple[str, ...]] = {}
    for r in records:
        if getattr(r, "action", None) in ("reviewed", "review-revoke") and r.request and r.approvers is not None:
            source = str((r.raw or {}).get("reason") or "")
            who[f"{source}|{r.request}"] = tuple(r.approvers)
    for rf in reviews:
        if rf.problems:
            continue
        t = merged.get(rf.path) or (datetime.combine(rf.opened, datetime.min.time(), timezone.utc)
                                    if rf.opened else None)
        if t is None:
            continue
        for e in rf.entries:
            attesters = who.get(f"{rf.path}|{e.request}")
            if e.decision == "keep" and not attesters:
                # A keep extends access: it counts only when apply recorded an
                # attester for it (an approver of the merged review PR who may
                # attest that grant). A review file pushed past the gate, or
                # approved only by beneficiaries, restarts nothing.
                continue
            table = keep if e.decision == "keep" else revoke
            prev = table.get(e.request)
            if prev is None or t > prev.time:
                table[e.request] = Attestation(t, attesters, rf.path)
    return keep, revoke


# ---- the status of each request ------------------------------------------

@dataclass(frozen=True)
class Status:
    request: str
    team: str  # the owning team (the target's owner)
    tier: str
    period_days: int
    since: datetime  # the last review, or the request's merge when never reviewed
    last_review: Attestation | None
    due: datetime
    deadline: datetime
    state: str  # "ok" | "due" | "overdue" | "revoked"
    grants: tuple[Grant, ...] = field(default=(), compare=False)
    requester: str | None = None
    revoked_by: str | None = None  # the review file that marked it revoke

    @property
    def withdrawn(self) -> bool:
        return self.state in ("revoked", "overdue")


def statuses(files: list[RequestFile], org: OrgModel, now: datetime, reviews: list[ReviewFile],
             changed: dict[str, datetime], merged: dict[str, datetime], records: Iterable[Any] = ()
             ) -> list[Status]:
    """Where each request on main stands in its review cycle.

    ``changed``: when each request file last changed on main (a new version
    is a new request: an older review, keep or revoke, does not cover it);
    a file with no history counts from ``now``."""
    keep, revoke = attestations(reviews, merged, records)
    cfg = settings(org)
    out = []
    for rf in files:
        req = rf.request
        if req is None:
            continue
        provider = req.provider
        target = org.target(provider, req.target if isinstance(req, ServiceAccount) else
                            (req.grants[0].target if req.grants else ""))
        born = changed.get(rf.path, now)
        last = keep.get(rf.path)
        last = last if last is not None and last.time >= born else None
        since = last.time if last else born
        days = period_days(req, org)
        due = since + timedelta(days=days)
        deadline = due + timedelta(days=cfg.grace_days)
        cut = revoke.get(rf.path)
        if cut is not None and cut.time >= born and (last is None or cut.time > last.time):
            state = "revoked"
        elif now >= deadline:
            state = "overdue"
        elif now >= due:
            state = "due"
        else:
            state = "ok"
        out.append(Status(rf.path, _owning_team(req, org, target), tier_of(req, org), days, since, last, due,
                          deadline, state, tuple(grants_of(req, org)), req.requester,
                          cut.source if state == "revoked" and cut else None))
    return out


def _owning_team(req: AccessRequest | ServiceAccount, org: OrgModel, target: Any) -> str:
    """The team that attests: a service account's owner; else the catalog's
    owner of what is granted, falling back to the target's owner."""
    if isinstance(req, ServiceAccount) and req.owner:
        return req.owner
    for g in getattr(req, "grants", ()):
        entry = org.catalog.get((g.kind, g.entitlement))
        if entry is not None and entry.owner:
            return entry.owner
    return target.owner if target else ""


def mark(files: list[RequestFile], found: list[Status], org: OrgModel) -> None:
    """Withdraw what the reviews withdrew: one revoking finding per file."""
    cfg = settings(org)
    by_path = {s.request: s for s in found}
    for rf in files:
        s = by_path.get(rf.path)
        if s is None or rf.request is None:
            continue
        if s.state == "revoked":
            rf.finding(f"revoked by its owners in access review {s.revoked_by}",
                       "the access is removed; request it again in a new PR if it is still needed",
                       rule=REVOKED)
        elif s.state == "overdue" and cfg.overdue == "revoke":
            rf.finding(f"access review overdue: due {s.due:%Y-%m-%d}, deadline {s.deadline:%Y-%m-%d} passed "
                       f"with no review by team {s.team}",
                       "the access is removed; request it again in a new PR if it is still needed",
                       rule=OVERDUE)


def review_state(tree: Tree, files: list[RequestFile], org: OrgModel, now: datetime,
                 records: Iterable[Any] = (), held: Any = None) -> list[Status]:
    """Statuses of ``files`` from the tree's review files and git history."""
    ref = tree.ref or "HEAD"
    times = commit_times(tree.root, ref, REQUESTS_DIR, REVIEWS_DIR)  # one git log for both
    changed = {p: t for p, t in times.items() if p.startswith(REQUESTS_DIR + "/")}
    merged = {p: t for p, t in times.items() if p.startswith(REVIEWS_DIR + "/")}
    return statuses(files, org, now, read_reviews(tree, getattr(held, "reviews", None)), changed, merged, records)


def mark_tree(tree: Tree, files: list[RequestFile], org: OrgModel, now: datetime,
              records: Iterable[Any] = (), held: Any = None) -> list[Status]:
    """``review_state`` then ``mark``: what every writer calls after
    validation, with its held ``Overrides`` (tools.provision.unapproved)."""
    found = review_state(tree, files, org, now, records, held)
    mark(files, found, org)
    return found


# ---- the durable record of attestations ----------------------------------

REVIEWED, REVIEW_REVOKE = "reviewed", "review-revoke"


def added_reviews(root: Path, since: str | None, head: str) -> list[str]:
    """Review files a merge added (``since``..``head``); none without a start."""
    if not since or not since.strip("0") or not head:
        return []
    out = git(root, "diff", "--name-only", "--diff-filter=A", "--no-renames", since, head, "--", REVIEWS_DIR,
              check=False)
    return sorted(p for p in out.splitlines() if p.endswith(".yaml"))


def entry_grant(e: Entry) -> Grant:
    provider = PurePosixPath(e.request).parts[1] if len(PurePosixPath(e.request).parts) > 1 else ""
    return Grant(provider, e.target, e.principal, e.kind, e.entitlement, None, e.request)


def beneficiaries(req: AccessRequest | ServiceAccount | None, org: OrgModel) -> set[str]:
    """Logins (lower-case) that benefit from a request: its requester and its
    principal, or every member of a group principal. They cannot attest it."""
    if req is None:
        return set()
    out = {req.requester.lower()} if isinstance(req.requester, str) else set()
    principal = getattr(req, "principal", None)
    if principal is not None and principal.type == "user":
        person = org.people.get(str(principal.id).lower())
        if person:
            out.add(person.github.lower())
    if principal is not None and principal.type == "group" and principal.id in org.teams:
        out |= {m.lower() for m in org.teams[principal.id].members}
    return out


def attesters(approvers: Iterable[str], req: AccessRequest | ServiceAccount | None, org: OrgModel
              ) -> tuple[str, ...]:
    """The approvers who attest a request's grants, counted as the review
    policy counts them (access.rules.access_reviews; a test compares the
    two): members of its owning team who do not benefit from it, or of the
    security team when the whole owning team benefits; privileged access
    also needs an independent security member. Empty: nobody attested it."""
    if req is None:
        return ()
    security = org.security_team
    team = _owning_team(req, org, org.target(req.provider, req.target if isinstance(req, ServiceAccount)
                                             else (req.grants[0].target if req.grants else "")))

    def members(key: str) -> set[str]:
        return {m.lower() for m in org.teams[key].members} if key in org.teams else set()

    mine = beneficiaries(req, org)
    pool = (members(team) - mine) or (members(security) - mine)
    given = {a.lower() for a in approvers}
    found = given & pool
    from_security = given & (members(security) - mine)
    if not found or (tier_of(req, org) == "privileged" and not from_security):
        return ()
    privileged = tier_of(req, org) == "privileged"
    return tuple(sorted(found | (from_security if privileged else set())))


def record_attestations(journal: Any, tree: Tree, paths: Iterable[str], org: OrgModel) -> int:
    """One durable-record line per entry of each merged review: ``reviewed``
    (keep) or ``review-revoke``, with the review file as the reason and, as
    approvers, the review PR's approvers who attest that entry (``attesters``).
    Returns how many lines were written."""
    n = 0
    saved = journal.prov
    try:
        for path in paths:
            review = parse_review(path, tree.read_text(path))
            for e in review.entries:
                req = load.read(tree, e.request).request if tree.exists(e.request) else None
                if saved.approvers is not None:
                    journal.prov = replace(saved, approvers=attesters(saved.approvers, req, org))
                journal.event(REVIEWED if e.decision == "keep" else REVIEW_REVOKE, entry_grant(e), path, True)
                n += 1
    finally:
        journal.prov = saved
    return n
