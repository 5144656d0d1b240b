"""Layer two of validation: what the schema cannot know.

Checks each loaded request against the org model (targets, catalog,
principals, expiry limits) and against every other request (duplicate
grants, service accounts referenced but not defined). All findings of all
files are gathered; nothing stops at the first error.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from tools.core import waivers
from tools.core.errors import Finding
from tools.core.limits import gcp_basic_role
from tools.core.model import KINDS
from tools.core.orgmodel import OrgModel
from tools.request import identities
from tools.request.load import AccessRequest, RequestFile, ServiceAccount, Waived, path_parts

PUBLIC_PRINCIPALS = {"allusers", "allauthenticatedusers", "*"}
# How the policy judges a role the catalog does not list (lib.strictest_tier).
STRICTEST_TIER = "privileged"


def validate(files: list[RequestFile], org: OrgModel, now: datetime, last: set[str] = frozenset()) -> None:
    """Append semantic findings to each file that passed the schema.

    Of two files asking for the same grant, the later one is refused; files
    named in ``last`` (what a PR changes) count as later than all others, so
    the new file is the duplicate, never the request already on main.

    A finding whose policy rule a waiver in force covers for that file (the
    policy's own test, tools/core/waivers.py) moves to ``rf.waived``: the
    policy waives it, so check-pr, apply and the jobs must not act on it."""
    waived = waivers.in_force(org.raw, now)
    accounts = {sa.request.ref: sa for sa in files if isinstance(sa.request, ServiceAccount)}
    seen: dict[tuple, tuple[str, int | None]] = {}
    names: dict[str, RequestFile] = {}
    # Whole requests first, so only they define what a partial one (a file
    # that already failed a check) is compared with; a broken file must
    # never make a valid one look like its duplicate.
    whole = [(rf, rf.request, True) for rf in files if rf.request is not None and rf.path not in last]
    whole += [(rf, rf.request, True) for rf in files if rf.request is not None and rf.path in last]
    partial = [(rf, rf.partial, False) for rf in files if rf.request is None and rf.partial is not None]
    for rf in files:
        if rf.request is None and rf.partial is None:
            _folder_only(rf, org)
    for rf, req, register in whole + partial:
        provider, target_name, _ = path_parts(rf.path)
        target = org.target(provider, target_name)
        if target is None:
            known = ", ".join(sorted(n for p, n in org.targets if p == provider))
            rf.finding(f"folder {target_name!r} is not a known {provider} target",
                       f"use one of: {known}", rule=WITHDRAWN)
            continue
        if req.imported:
            _incomplete_import(rf, req)
        if req.requester is not None and (
                not req.requester.isascii() or req.requester.lower() not in org.people_by_login):
            rf.finding(f"requester {req.requester!r} is not a person of the organisation",
                       "use your GitHub login as listed in policies/data/people.yaml", at=("requester",))
        if req.expires is not None and req.expires <= now:
            rf.finding(f"expires {req.expires:%Y-%m-%d %H:%M}Z is in the past",
                       "choose a future date; access cannot be backdated", at=("expires",), rule="expiry-past")
        if isinstance(req, ServiceAccount):
            _service_account(rf, req, org, provider, target_name, now, names if register else dict(names))
        else:
            _access_request(rf, req, org, provider, target_name, now, accounts, seen if register else dict(seen),
                            (CATALOG, rf.path) in waived)
    ended = waivers.ended(org.raw, now) if org.raw.get("waivers") else {}
    for rf in files:
        _set_aside(rf, waived, ended)


CATALOG = "catalog-not-requestable"


def _set_aside(rf: RequestFile, waived: dict[tuple[str, str], dict], ended: dict[tuple[str, str], dict]) -> None:
    """Move the findings a waiver in force covers to ``rf.waived``. Only rule
    ids the policy reports too (waivers.ALSO_VALIDATED): a finding of
    validation's own (a duplicate grant, a broken file) is never waivable.
    A finding back because its waiver ended says so (the writers revoke on
    it, and whoever loses the access reads why)."""
    keep, rf.waived = [], []
    for f in rf.findings:
        w = waived.get((f.rule, rf.path)) if f.rule in waivers.ALSO_VALIDATED else None
        if w is not None:
            rf.waived.append(Waived(f, str(w.get("owner")), str(w.get("expires"))))
            continue
        gone = ended.get((f.rule, rf.path)) if f.rule in waivers.ALSO_VALIDATED else None
        if gone is not None:
            f = replace(f, message=f"{f.message} (its waiver by {gone.get('owner')} ended {gone.get('expires')})")
        keep.append(f)
    rf.findings[:] = keep


def _folder_only(rf: RequestFile, org: OrgModel) -> None:
    """A file that could not be read as a request still has a folder to check."""
    provider, target_name, _ = path_parts(rf.path)
    if provider in ("aws", "gcp") and rf.path.endswith((".yaml", ".yml")):
        if org.target(provider, target_name) is None:
            known = ", ".join(sorted(n for p, n in org.targets if p == provider))
            rf.finding(f"folder {target_name!r} is not a known {provider} target", f"use one of: {known}")


INCOMPLETE_IMPORT = "incomplete-import"
# Rules the writers act on (tools.provision.invalid_files): the org model withdrew
# what a file relies on (its access is revoked), or the file has expired.
# Every other finding is about the file's own content, and holds its access.
WITHDRAWN = "org-model"
EXPIRED = "expiry-past"
# Findings that mean the org model (or time) withdrew the access, not that
# the file itself is broken: the policy's own rule ids where validation and
# policy report the same thing (the PR comment lists each problem once).
# tools.provision.invalid_files revokes on these and holds on every other finding.
REVOKING = frozenset({WITHDRAWN, EXPIRED, "principal-unknown", "catalog-not-requestable",
                      "identity-owner-unknown", "identity-expiry-too-long", "expiry-too-long",
                      "break-glass-too-long",
                      # tools.provision.access_reviews: the owners revoked it, or its review is overdue
                      "review-revoked", "review-overdue"})


def _incomplete_import(rf: RequestFile, req: AccessRequest | ServiceAccount) -> None:
    """Imported access is kept as it is, but cannot pass validation until an
    owner answers for it: say exactly which fields are still missing."""
    fields = (("owner", "purpose") if isinstance(req, ServiceAccount) else ("justification",))
    missing = [name for name, value in (("requester", req.requester),
                                        *((f, getattr(req, f)) for f in fields),
                                        ("expires", req.expires)) if value is None]
    if missing:
        rf.finding(f"imported access not yet answered for: {', '.join(missing)} missing",
                   f"an owner adds {' and '.join(f'`{m}`' for m in missing)} (expires: a date within the "
                   "role's maximum) and opens a PR", rule=INCOMPLETE_IMPORT)


def _service_account(rf: RequestFile, sa: ServiceAccount, org: OrgModel, provider: str,
                     target_name: str, now: datetime, names: dict[str, RequestFile]) -> None:
    field = "account" if sa.provider == "aws" else "project"
    if sa.provider != provider:
        rf.finding(f"a {sa.provider} service account cannot live under requests/{provider}/",
                   f"move it to requests/{sa.provider}/<{field}>/", at=("provider",))
    if sa.target != target_name:
        rf.finding(f"{field} {sa.target!r} differs from the folder {target_name!r}",
                   f"set {field}: {target_name} or move the file", at=(field,))
    if sa.owner is not None and sa.owner not in org.teams:
        rf.finding(f"owner team {sa.owner!r} does not exist",
                   "use one of: " + ", ".join(sorted(org.teams)), at=("owner",), rule="identity-owner-unknown")
    limit = int(org.setting("service_accounts", "max_hours", default=8760))
    if sa.expires is not None and sa.expires - now > timedelta(hours=limit):
        rf.finding(f"service accounts may live at most {limit // 24} days",
                   f"set expires no later than {(now + timedelta(hours=limit)):%Y-%m-%d}", at=("expires",),
                   rule="identity-expiry-too-long")
    identities.check(rf, sa, org)
    if sa.ref in names:
        # Both files are wrong together, whichever sorts first: a new file
        # re-defining an identity must not pass while the original breaks.
        first = names[sa.ref]
        rf.finding(f"service account {sa.ref} is also defined in {first.path}",
                   "keep one definition", at=("name",))
        first.finding(f"service account {sa.ref} is also defined in {rf.path}",
                      "keep one definition", at=("name",))
    names.setdefault(sa.ref, rf)


def _access_request(rf: RequestFile, req: AccessRequest, org: OrgModel, provider: str,
                    target_name: str, now: datetime, accounts: dict, seen: dict, unlisted_waived: bool = False) -> None:
    p = req.principal
    if not p.id.isascii():
        rf.finding(f"principal {str(p)!r} has non-ASCII characters",
                   "write identifiers in plain ASCII; look-alike letters are refused", at=("principal",))
        return
    protected = org.setting("organization", "protected_principals", default=[]) or []
    if p.id.lower() in PUBLIC_PRINCIPALS:
        rf.finding("public principals are never granted access", "name a person, team or service account", at=("principal",), rule="principal-public")
    elif str(p) in protected:
        rf.finding(f"{p} is one of the pipeline's own identities (protected_principals); no request may "
                   "grant it access", "name a person, team or service account of your own", at=("principal",))
    elif p.type == "user":
        person = org.people.get(p.id)
        domain = p.id.rpartition("@")[2]
        if domain not in org.domains:
            rf.finding(f"{p.id} is outside the organisation's domains ({', '.join(org.domains)})",
                       "only Acme identities can receive access", at=("principal",), rule="principal-external")
        elif person is None:
            rf.finding(f"{p.id} is not in policies/data/people.yaml", "check the spelling of the email", at=("principal",), rule="principal-unknown")
        elif not person.active:
            rf.finding(f"{p.id} is not an active person", "inactive people cannot receive access", at=("principal",), rule="principal-unknown")
    elif p.type == "group" and p.id not in org.teams:
        rf.finding(f"team {p.id!r} does not exist", "use one of: " + ", ".join(sorted(org.teams)), at=("principal",), rule="principal-unknown")
    elif p.type == "serviceAccount" and str(p) not in accounts:
        rf.finding(f"service account {p.id!r} is not defined by any ServiceAccount file",
                   "add requests/<provider>/<target>/<name>.yaml with kind: ServiceAccount first", at=("principal",))
    hours = None
    for g in req.grants:
        at = ("grants", g.index)
        kind = KINDS[g.kind]
        if kind.provider != provider or g.target != target_name:
            rf.finding(f"grant {g.index + 1} asks for {kind.provider} {kind.target_field} {g.target!r}, "
                       f"but this file is under requests/{provider}/{target_name}/",
                       "put each grant in the folder of its account or project", at=at + (kind.target_field,))
            continue
        if p.type not in kind.principal_types:
            rf.finding(f"{g.kind} cannot be granted to a {p.type}",
                       "allowed principals: " + ", ".join(kind.principal_types), at=at)
        entry = org.catalog.get((g.kind, g.entitlement))
        target = org.target(provider, target_name)
        basic = g.kind == "gcp-project-role" and gcp_basic_role(g.entitlement)
        if basic or entry is None or not target.manages(g.kind, g.entitlement):
            offered = sorted(e for k, e in ((c.kind, c.entitlement) for c in org.catalog.values())
                             if k == g.kind and target.manages(k, e) and not gcp_basic_role(e))
            if basic:
                rf.finding(f"role {g.entitlement!r} is not requestable in {target_name}: it is a GCP basic role, and "
                           "GCP refuses IAM conditions on basic roles, so the grant could not expire "
                           "(https://cloud.google.com/iam/docs/conditions-overview)",
                           "ask for the predefined role that covers the need; choose one of: "
                           + (", ".join(offered) or "(none here)"), at=at + (kind.entitlement_field,))
                continue
            rf.finding(f"{kind.entitlement_field} {g.entitlement!r} is not requestable in {target_name}",
                       "choose one of: " + (", ".join(offered) or "(none here)"), at=at + (kind.entitlement_field,),
                       rule=CATALOG)
            # As the policy judges it (lib.grant_max_hours): its catalog
            # entry's limit, or the strictest tier's for a role the catalog
            # does not list, whether or not the violation is waived.
            limit = entry.max_hours if entry is not None else int(org.raw["tiers"][STRICTEST_TIER]["max_hours"])
            hours = limit if hours is None else min(hours, limit)
            if not unlisted_waived:
                continue
            if not target.manages(g.kind, g.entitlement):
                # A waiver lifts the catalog's word, never the managed scope
                # (invariant 3): the pipeline neither reads nor writes there.
                rf.finding(f"{kind.entitlement_field} {g.entitlement!r} is outside the managed scope of {target_name}: "
                           "a waiver cannot widen what the pipeline manages",
                           f"ask the owners of {target_name} to add it to `managed` in policies/data/targets.yaml",
                           at=at + (kind.entitlement_field,), rule=WITHDRAWN)
                continue
        else:
            hours = entry.max_hours if hours is None else min(hours, entry.max_hours)
        key = (provider, target.id, str(p), g.kind, g.entitlement)
        if key in seen and seen[key][0] != rf.path:
            rf.finding(f"the same grant ({g.entitlement} for {p}) is already requested in {seen[key][0]}",
                       "keep one request per grant; extend the existing one instead", at=at)
        seen.setdefault(key, (rf.path, rf.line(*at)))
    # Two limits, each its own policy rule (expiry-too-long, break-glass-
    # too-long), so a waiver of one leaves the other standing.
    limits = [(hours, "expiry-too-long")] if hours is not None else []
    if req.break_glass:
        limits.append((int(org.setting("break_glass", "max_hours", default=4)), "break-glass-too-long"))
    for limit, rule in sorted(limits):
        if req.expires is not None and req.expires - now > timedelta(hours=limit):
            rf.finding(f"expires is more than {_human(limit)} away, the maximum for what is asked",
                       f"set expires no later than {(now + timedelta(hours=limit)):%Y-%m-%dT%H:%MZ}", at=("expires",),
                       rule=rule)


def _human(hours: int) -> str:
    return f"{hours // 24} days" if hours % 24 == 0 and hours >= 48 else f"{hours} hours"


def findings(files: list[RequestFile], only: set[str] | None = None) -> list[Finding]:
    out = [f for rf in files if only is None or rf.path in only for f in rf.findings]
    return sorted(out, key=lambda f: (f.file, f.line or 0))
