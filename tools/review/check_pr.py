"""The PR check's verdict, assembled from what the other stages found.

Pure: given the PR context, the policy decisions, the validation findings
and the plan, say what the PR needs next. No I/O, so every wording of the
headline and every approval case is a table-driven test away.

The policy decides *whether* a file is allowed; this module only explains
the decision. It re-reads the reviews to show, for each one, whether it
counted and why not (older commit, the beneficiary, outside the owning
teams), and turns approval violations into the one thing to ask for
("Needs one more approval from @acme/security").
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from tools.core import workflow_commands
from tools.core.errors import Finding
from tools.core.model import Action
from tools.core.pr_context import PRContext
from tools.provision.plan import Plan

APPROVAL_RULES = frozenset({"approval-owner-missing", "approval-security-missing", "approval-not-independent",
                            "rules-change-approval-missing", "removal-approval-missing",
                            "review-approval-missing"})
# The request field a policy rule is about, so an annotation lands on its line.
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    "expiry-missing": (), "expiry-past": ("expires",), "expiry-too-long": ("expires",),
    "break-glass-too-long": ("expires",), "identity-expiry-too-long": ("expires",),
    "privileged-ticket-required": ("ticket",), "production-ticket-required": ("ticket",),
    "principal-public": ("principal",), "principal-external": ("principal",),
    "principal-unknown": ("principal",), "catalog-unknown-target": ("grants",),
    "catalog-not-requestable": ("grants",), "sod-conflict": ("grants",),
    "identity-owner-unknown": ("owner",), "identity-oidc-trust": ("oidc",),
    "identity-user-managed-keys": ("user_managed_keys",),
}
PROTECTED_PREFIXES = ("policies/", ".github/", "connectors/", "tools/")
WORDS = {1: "one", 2: "two", 3: "three"}
# Which validation finding a headline names first: what makes the file
# unreadable as a request, then who and what it asks for, then when.
FINDING_RANK = {"invalid": 0, "schema": 0, "principal-public": 1, "principal-external": 1,
                "principal-unknown": 1, "catalog-not-requestable": 1, "identity-owner-unknown": 1,
                "expiry-past": 2, "expiry-too-long": 2, "break-glass-too-long": 2,
                "identity-expiry-too-long": 2, "incomplete-import": 2}


@dataclass(frozen=True)
class Org:
    """What the check needs from the base commit's org model."""

    teams: Mapping[str, str]  # team key -> GitHub team "org/slug"
    security_team: str  # team key
    leads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # team key -> lead logins (lower case)
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # team key -> member logins (lower case)

    def mention(self, key: str) -> str:
        return "@" + self.teams.get(key, key)

    def has(self, key: str, review_teams: Iterable[str]) -> bool:
        """Mirror of lib.in_team: the key, "org/slug" or "slug" names the team."""
        full = self.teams.get(key, key)
        names = {key, full, full.rsplit("/", 1)[-1]}
        return any(t in names for t in review_teams)


@dataclass(frozen=True)
class ReviewNote:
    """One reviewer's latest approval, and whether it counted for this file."""

    user: str
    commit_id: str | None
    teams: tuple[str, ...]
    counted: bool
    why: str = ""  # why not counted

    def as_json(self) -> dict[str, Any]:
        return {"user": self.user, "commit_id": self.commit_id, "teams": list(self.teams),
                "counted": self.counted, "why": self.why or None}


@dataclass(frozen=True)
class Ask:
    """``count`` more approvals from any of ``who`` (team keys), or from a
    lead of that team when ``role`` is "lead"."""

    count: int
    who: tuple[str, ...]
    role: str = "member"

    def text(self, org: Org, with_count: bool = True) -> str:
        n = WORDS.get(self.count, str(self.count))
        who = " or ".join(org.mention(t) for t in self.who)
        if self.role == "lead":
            who = "a lead of " + who
        return f"{n} more approval{'s' if self.count > 1 else ''} from {who}" if with_count else f"{n} from {who}"


@dataclass
class FileResult:
    file: str
    allow: bool
    status: str  # allowed | needs-approval | denied
    violations: list[dict[str, Any]]  # policy violations, each with "line"
    validation: list[Finding]
    waived: list[dict[str, Any]] = field(default_factory=list)
    post_incident_review: bool = False
    required: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)  # the policy input's request
    reviews: list[ReviewNote] = field(default_factory=list)
    asks: list[Ask] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # plain sentences (rules change: who joins which team)
    kind: str = "request"  # request | removal (a request file deleted or moved) | rules (files outside requests/)
    # | review (a file under reviews/: an access review, tools.provision.review_inputs)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "allow": self.allow, "status": self.status,
                "violations": self.violations, "validation": [f.as_json() for f in self.validation],
                "waived": self.waived, "post_incident_review": self.post_incident_review,
                "required_approvals": self.required}


@dataclass
class PlanSection:
    """The cloud changes the merge would make: ``live`` (read from the
    clouds), ``desired`` (base vs head desired state, when no credentials),
    ``mixed`` (some providers each way) or ``none`` (no request touched)."""

    source: str
    plan: Plan
    note: str | None = None


@dataclass
class Verdict:
    verdict: str  # allowed | needs-approval | denied | no-requests
    allow: bool
    headline: str
    next_step: str
    pr: PRContext
    org: Org
    files: list[FileResult]
    plan: PlanSection
    removed: list[str]  # request files the PR deletes
    rules_from: str
    engine: str
    other_files: list[str]  # changed files outside requests/
    impact: Any = None  # tools.review.impact.Impact for a rules change: information, never the verdict
    people: str = ""  # Markdown: what a people.yaml / teams.yaml change does (tools/review/people_impact.py)


def _excluded(pr: PRContext, request: Mapping[str, Any], logins_by_email: Mapping[str, str],
              org: Org | None = None) -> dict[str, str]:
    """login -> why their approval cannot count (they are a party to the request)."""
    roles: dict[str, list[str]] = {}
    principal = request.get("principal") or {}
    if principal.get("type") == "user":
        login = logins_by_email.get(str(principal.get("id", "")).lower())
        if login:
            roles.setdefault(login.lower(), []).append("the beneficiary")
    if principal.get("type") == "group" and org is not None:
        for login in org.members.get(str(principal.get("id", "")), ()):
            roles.setdefault(login, []).append(f"a member of group:{principal.get('id')} (a beneficiary)")
    if request.get("requester"):
        roles.setdefault(str(request["requester"]).lower(), []).append("the requester")
    roles.setdefault(pr.author.lower(), []).append("the PR author")
    return {login: " and ".join(dict.fromkeys(r)) + ": a party to the request cannot approve it"
            for login, r in roles.items()}


def review_notes(pr: PRContext, request: Mapping[str, Any], required: Mapping[str, Any], org: Org,
                 logins_by_email: Mapping[str, str]) -> list[ReviewNote]:
    """Each approving reviewer once (their latest approval), counted as the
    policy counts it: head commit, not the author/requester/beneficiary,
    not withdrawn later, and in a team that must approve."""
    excluded = _excluded(pr, request, logins_by_email, org)
    relevant = list(required.get("teams", []))
    if required.get("security"):
        relevant.append(org.security_team)
    latest: dict[str, tuple[int, Any]] = {}
    for i, r in enumerate(pr.reviews):
        if r.state == "APPROVED":
            latest[r.user.lower()] = (i, r)
    notes = []
    for user, (i, r) in sorted(latest.items(), key=lambda kv: kv[1][0]):
        later = [x.state for x in pr.reviews[i + 1:] if x.user.lower() == user
                 and x.state in ("CHANGES_REQUESTED", "DISMISSED")]
        if r.commit_id is None:  # GitHub answers null when the reviewed commit is gone
            why = f"approved a commit that no longer exists, not the head {pr.head_sha[:7]}"
        elif r.commit_id != pr.head_sha:
            why = f"approved an older commit ({r.commit_id[:7]}), not the head {pr.head_sha[:7]}"
        elif user in excluded:
            why = excluded[user]
        elif later:
            why = "withdrawn: requested changes later" if later[-1] == "CHANGES_REQUESTED" else "dismissed"
        elif not any(org.has(t, r.teams) for t in relevant):
            why = "not in a team that must approve (" + ", ".join(org.mention(t) for t in relevant) + ")"
        else:
            why = ""
        notes.append(ReviewNote(r.user, r.commit_id, tuple(r.teams), not why, why))
    return notes


def asks_for(required: Mapping[str, Any], notes: list[ReviewNote], org: Org) -> list[Ask]:
    """What is still missing, mirroring rule 7: each owning team approves at
    least once, and the team plus security (when needed) reach the count."""
    need = int(required.get("approvals", 0) or 0)
    security = org.security_team if required.get("security") else None
    counted = [n for n in notes if n.counted]

    def members(team: str) -> set[str]:
        return {n.user.lower() for n in counted if org.has(team, n.teams)}

    asks: list[Ask] = []
    for team in required.get("teams", []):
        pool = members(team) | (members(security) if security else set())
        named = []
        if not members(team):
            named.append(Ask(1, (team,)))
        if security and not members(security) and security != team:
            named.append(Ask(1, (security,)))
        rest = need - len(pool) - len(named)
        if rest > 0:
            who = (team, security) if security and security != team else (team,)
            same = next((a for a in named if a.who == who), None)
            named = [Ask(a.count + rest, who) if a is same else a for a in named] if same else \
                [*named, Ask(rest, who)]
        asks.extend(a for a in named if a not in asks)
    if security and not required.get("teams"):  # nobody independent owns it: security gives them all
        rest = need - len(members(security))
        if rest > 0:
            asks.append(Ask(rest, (security,)))
    return asks


def file_result(decision: Any, findings: list[Finding], pr: PRContext, org: Org,
                logins_by_email: Mapping[str, str], lines: Mapping[tuple[str, str], int]) -> FileResult:
    """One changed request file: its decision explained."""
    request = (decision.input or {}).get("request", {}) if decision.input else {}
    # A problem both validate and the policy see (a too-long expiry, an
    # unknown principal) is listed once, as the policy's violation. One the
    # policy waived is not among ``findings`` at all: validation set it
    # aside by the same test (tools/core/waivers.py).
    policy_rules = {v.get("rule") for v in decision.violations}
    findings = [f for f in findings if f.rule not in policy_rules]
    violations = [dict(v, line=lines.get((decision.file, v.get("rule", "")), 1)) for v in decision.violations
                  if not (findings and v.get("rule") == "invalid-request")]
    notes = review_notes(pr, request, decision.required_approvals, org, logins_by_email) if request else []
    hard = [v for v in violations if v.get("rule") not in APPROVAL_RULES]
    allow = decision.allow and not findings
    status = "allowed" if allow else "denied" if hard or findings else "needs-approval"
    asks = asks_for(decision.required_approvals, notes, org) if status == "needs-approval" else []
    return FileResult(decision.file, allow, status, violations, findings, list(decision.waived),
                      decision.post_incident_review, dict(decision.required_approvals), dict(request),
                      notes, asks)


def _latest_approvals(pr: PRContext) -> list[tuple[str, int, Any]]:
    latest: dict[str, tuple[int, Any]] = {}
    for i, r in enumerate(pr.reviews):
        if r.state == "APPROVED":
            latest[r.user.lower()] = (i, r)
    return [(u, i, r) for u, (i, r) in sorted(latest.items(), key=lambda kv: kv[1][0])]


def _stale_or_withdrawn(pr: PRContext, user: str, i: int, r: Any) -> str:
    if r.commit_id != pr.head_sha:
        return f"approved an older commit ({r.commit_id[:7]}), not the head {pr.head_sha[:7]}"
    later = [x.state for x in pr.reviews[i + 1:] if x.user.lower() == user
             and x.state in ("CHANGES_REQUESTED", "DISMISSED")]
    if later:
        return "withdrawn: requested changes later" if later[-1] == "CHANGES_REQUESTED" else "dismissed"
    return ""


def rules_notes(pr: PRContext, required: Mapping[str, Any], org: Org) -> list[ReviewNote]:
    """Each approver of a rules change, counted as rule_changes counts it."""
    excluded = set(required.get("excluded", []))
    security = org.security_team
    leads, owners = dict(required.get("leads") or {}), dict(required.get("owners") or {})
    relevant = [org.mention(security)] + [f"a lead of {org.mention(t)}" for t in leads] + \
        [org.mention(t) for t in owners]
    notes = []
    for user, i, r in _latest_approvals(pr):
        why = _stale_or_withdrawn(pr, user, i, r)
        if not why and user in excluded:
            why = ("the PR author: cannot approve their own change" if user == pr.author.lower() else
                   "named by the change (joins a team, becomes a lead or benefits from a waiver): cannot approve it")
        if not why and not (org.has(security, r.teams) or any(user in org.leads.get(t, ()) for t in leads)
                            or any(org.has(t, r.teams) for t in owners)):
            why = "not in a team that must approve (" + ", ".join(relevant) + ")"
        notes.append(ReviewNote(r.user, r.commit_id, tuple(r.teams), not why, why))
    return notes


def extra_result(file: str, result: Mapping[str, Any], pr: PRContext, org: Org,
                 logins_by_email: Mapping[str, str], details: list[str] | None = None) -> FileResult:
    """The rules change or one removed request file: its decision explained."""
    violations = [dict(v, line=1) for v in result.get("violations", [])]
    required = dict(result.get("required_approvals") or {})
    allow = bool(result.get("allow"))
    hard = [v for v in violations if v.get("rule") not in APPROVAL_RULES]
    status = "allowed" if allow else "denied" if hard else "needs-approval"
    if required.get("kind") == "rules":
        notes = rules_notes(pr, required, org)
        asks = [Ask(int(m["count"]), tuple(m["from"]), m.get("role", "member"))
                for m in (v.get("missing") for v in violations) if isinstance(m, dict)]
    else:
        notes = review_notes(pr, {}, required, org, logins_by_email) if required else []
        asks = asks_for(required, notes, org)
    kind = ("rules" if required.get("kind") == "rules" or details is not None else
            "review" if required.get("kind") == "review" else "removal")
    return FileResult(file, allow, status, violations, [], list(result.get("waived", [])), False, required,
                      {}, notes, asks if status == "needs-approval" else [], list(details or []), kind)


def needs_text(asks: list[Ask], org: Org) -> str:
    total = sum(a.count for a in asks)
    if len(asks) == 1:
        return "Needs " + asks[0].text(org)
    parts = [a.text(org, with_count=False) for a in asks]
    return f"Needs {total} more approvals: " + ", ".join(parts[:-1]) + " and " + parts[-1]


def headline(files: list[FileResult], removed: list[str], other: list[str], org: Org) -> tuple[str, str, str]:
    """(verdict, first line, next step)."""
    if not files:
        if removed:
            return ("no-requests", f"No request to evaluate: this PR only removes access ({len(removed)} "
                    "request file(s) deleted)", "A code owner of each folder reviews the removal.")
        if any(p.startswith(PROTECTED_PREFIXES) or p.endswith("CODEOWNERS") for p in other):
            return ("no-requests", "No request files changed: this changes the rules or the pipeline",
                    f"{org.mention(org.security_team)} reviews it (CODEOWNERS).")
        return "no-requests", "No request files changed: nothing to evaluate", "Nothing to do."
    # The most fundamental problem first: a file that is not a valid request
    # (wrong folder, bad YAML, unknown field) before what the policy says of it.
    for f in files:
        if f.validation:
            first = min(f.validation, key=lambda x: (FINDING_RANK.get(x.rule, 1), x.line or 0))
            where = f"{f.file}:{first.line}" if first.line else f.file
            return "denied", f"Denied: invalid request {where}: {first.message}", first.fix or \
                "Run `accessctl validate` locally and fix each error."
    for f in files:
        hard = [v for v in f.violations if v.get("rule") not in APPROVAL_RULES]
        if hard:
            v = hard[0]
            more = sum(len([x for x in g.violations if x.get("rule") not in APPROVAL_RULES]) for g in files) - 1
            extra = f" (and {more} more below)" if more > 0 else ""
            return "denied", f"Denied: {v.get('message', v.get('rule'))}{extra}", v.get("remediation", "")
    pending = [f for f in files if not f.allow]
    if pending:
        asks: list[Ask] = []
        for f in pending:
            asks.extend(a for a in f.asks if a not in asks)
        if asks:
            return "needs-approval", needs_text(asks, org), \
                "Ask them to review and approve the latest commit; the check re-runs on each review."
        v = pending[0].violations[0] if pending[0].violations else {}
        return "needs-approval", f"Needs approval: {v.get('message', 'see below')}", v.get("remediation", "")
    what = "request(s)" if all(f.kind == "request" for f in files) else "change(s)"
    return "allowed", f"Allowed: {len(files)} {what} pass every policy with the required approvals", \
        "Merge to apply; the applier makes exactly the changes planned below."


def assemble(pr: PRContext, files: list[FileResult], plan: PlanSection, org: Org, rules_from: str,
             engine: str, impact: Any = None) -> Verdict:
    removed = sorted(f.path for f in pr.files if f.path.startswith("requests/") and f.status == "removed")
    other = sorted(f.path for f in pr.files if not f.path.startswith("requests/"))
    verdict, first, next_step = headline(files, removed, other, org)
    return Verdict(verdict, verdict in ("allowed", "no-requests"), first, next_step, pr, org, files, plan,
                   removed, rules_from, engine, other, impact)


def relabel_intent(plan: Plan, invalid: Iterable[str] = ()) -> Plan:
    """A desired-vs-desired plan says what the PR changes in intent: a
    removal is a request file no longer granting, not drift on main; a file
    that is invalid at the head grants nothing until it is fixed."""
    invalid = set(invalid)

    def why(c: Any) -> str:
        if c.grant.request in invalid:
            return f"{c.grant.request} is invalid at the head: it grants nothing until fixed"
        return f"{c.grant.request or 'a request'} no longer grants this"
    changes = [replace(c, reason=why(c)) if c.action is Action.REMOVE else c for c in plan.changes]
    return replace(plan, changes=changes)


def approvals_json(verdict: Verdict) -> dict[str, Any]:
    return {"head_sha": verdict.pr.head_sha, "files": [{
        "file": f.file, "required": f.required,
        "approved_by": [n.user for n in f.reviews if n.counted],
        "ignored": [{"user": n.user, "why": n.why} for n in f.reviews if not n.counted],
        "missing": [{"count": a.count, "from": [verdict.org.teams.get(t, t) for t in a.who]} for a in f.asks],
    } for f in verdict.files]}


@dataclass(frozen=True)
class Annotation:
    file: str
    line: int
    message: str

    def command(self) -> str:
        """The ``::error`` workflow command line, escaped as GitHub documents."""
        return (f"::error file={workflow_commands.escape_property(self.file)},line={self.line}::"
                f"{workflow_commands.escape_data(self.message)}")

    def emit(self) -> None:
        """Write the ``::error`` workflow command past the output guard."""
        workflow_commands.command("error", self.message, file=self.file, line=self.line)


def annotations(verdict: Verdict) -> list[Annotation]:
    out = []
    for f in verdict.files:
        for finding in f.validation:
            out.append(Annotation(f.file, finding.line or 1, finding.message + (f" — {finding.fix}" if finding.fix else "")))
        for v in f.violations:
            if f.kind == "rules":  # about the whole PR, not a file: the comment and status carry it
                continue
            out.append(Annotation(f.file, int(v.get("line") or 1),
                                  f"{v.get('title', v.get('rule'))}: {v.get('message', '')} — {v.get('remediation', '')}"))
    return out
