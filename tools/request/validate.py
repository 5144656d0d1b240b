"""Layer two of validation: what the schema cannot know.

Checks each loaded request against the org model (targets, catalog,
principals, expiry limits) and against every other request (duplicate
grants, service accounts referenced but not defined). All findings of all
files are gathered; nothing stops at the first error.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from tools.core.errors import Finding
from tools.core.model import KINDS
from tools.core.orgmodel import OrgModel
from tools.request.load import AccessRequest, RequestFile, ServiceAccount, path_parts

PUBLIC_PRINCIPALS = {"allusers", "allauthenticatedusers", "*"}


def validate(files: list[RequestFile], org: OrgModel, now: datetime) -> None:
    """Append semantic findings to each file that passed the schema."""
    accounts = {sa.request.ref: sa for sa in files if isinstance(sa.request, ServiceAccount)}
    seen: dict[tuple, tuple[str, int | None]] = {}
    names: dict[str, str] = {}
    for rf in files:
        req = rf.request
        if req is None:
            continue
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
                       "choose a future date; access cannot be backdated", at=("expires",), rule=EXPIRED)
        if isinstance(req, ServiceAccount):
            _service_account(rf, req, org, provider, target_name, now, names)
        else:
            _access_request(rf, req, org, provider, target_name, now, accounts, seen)


INCOMPLETE_IMPORT = "incomplete-import"
# Rules the writers act on (tools.provision.holds): the org model withdrew
# what a file relies on (its access is revoked), or the file has expired.
# Every other finding is about the file's own content, and holds its access.
WITHDRAWN = "org-model"
EXPIRED = "expired"


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
                     target_name: str, now: datetime, names: dict[str, str]) -> None:
    field = "account" if sa.provider == "aws" else "project"
    if sa.provider != provider:
        rf.finding(f"a {sa.provider} service account cannot live under requests/{provider}/",
                   f"move it to requests/{sa.provider}/<{field}>/", at=("provider",))
    if sa.target != target_name:
        rf.finding(f"{field} {sa.target!r} differs from the folder {target_name!r}",
                   f"set {field}: {target_name} or move the file", at=(field,))
    if sa.owner is not None and sa.owner not in org.teams:
        rf.finding(f"owner team {sa.owner!r} does not exist",
                   "use one of: " + ", ".join(sorted(org.teams)), at=("owner",), rule=WITHDRAWN)
    limit = int(org.setting("service_accounts", "max_hours", default=8760))
    if sa.expires is not None and sa.expires - now > timedelta(hours=limit):
        rf.finding(f"service accounts may live at most {limit // 24} days",
                   f"set expires no later than {(now + timedelta(hours=limit)):%Y-%m-%d}", at=("expires",),
                   rule=WITHDRAWN)
    if sa.ref in names:
        rf.finding(f"service account {sa.ref} is also defined in {names[sa.ref]}",
                   "keep one definition", at=("name",))
    names.setdefault(sa.ref, rf.path)


def _access_request(rf: RequestFile, req: AccessRequest, org: OrgModel, provider: str,
                    target_name: str, now: datetime, accounts: dict, seen: dict) -> None:
    p = req.principal
    if not p.id.isascii():
        rf.finding(f"principal {str(p)!r} has non-ASCII characters",
                   "write identifiers in plain ASCII; look-alike letters are refused", at=("principal",))
        return
    protected = org.setting("organization", "protected_principals", default=[]) or []
    if p.id.lower() in PUBLIC_PRINCIPALS:
        rf.finding("public principals are never granted access", "name a person, team or service account", at=("principal",))
    elif str(p) in protected:
        rf.finding(f"{p} is one of the pipeline's own identities (protected_principals); no request may "
                   "grant it access", "name a person, team or service account of your own", at=("principal",))
    elif p.type == "user":
        person = org.people.get(p.id)
        domain = p.id.rpartition("@")[2]
        if domain not in org.domains:
            rf.finding(f"{p.id} is outside the organisation's domains ({', '.join(org.domains)})",
                       "only Acme identities can receive access", at=("principal",))
        elif person is None:
            rf.finding(f"{p.id} is not in policies/data/people.yaml", "check the spelling of the email",
                       at=("principal",), rule=WITHDRAWN)
        elif not person.active:
            rf.finding(f"{p.id} is not an active person", "inactive people cannot receive access",
                       at=("principal",), rule=WITHDRAWN)
    elif p.type == "group" and p.id not in org.teams:
        rf.finding(f"team {p.id!r} does not exist", "use one of: " + ", ".join(sorted(org.teams)),
                   at=("principal",), rule=WITHDRAWN)
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
        if entry is None or not target.manages(g.kind, g.entitlement):
            offered = sorted(e for k, e in ((c.kind, c.entitlement) for c in org.catalog.values())
                             if k == g.kind and target.manages(k, e))
            rf.finding(f"{kind.entitlement_field} {g.entitlement!r} is not requestable in {target_name}",
                       "choose one of: " + (", ".join(offered) or "(none here)"), at=at + (kind.entitlement_field,),
                       rule=WITHDRAWN)
            continue
        hours = entry.max_hours if hours is None else min(hours, entry.max_hours)
        key = (provider, target.id, str(p), g.kind, g.entitlement)
        if key in seen and seen[key][0] != rf.path:
            rf.finding(f"the same grant ({g.entitlement} for {p}) is already requested in {seen[key][0]}",
                       "keep one request per grant; extend the existing one instead", at=at)
        seen.setdefault(key, (rf.path, rf.line(*at)))
    if req.break_glass:
        hours = min(hours or 10**6, int(org.setting("break_glass", "max_hours", default=4)))
    if hours is not None and req.expires is not None and req.expires - now > timedelta(hours=hours):
        rf.finding(f"expires is more than {_human(hours)} away, the maximum for what is asked",
                   f"set expires no later than {(now + timedelta(hours=hours)):%Y-%m-%dT%H:%MZ}", at=("expires",),
                   rule=WITHDRAWN)


def _human(hours: int) -> str:
    return f"{hours // 24} days" if hours % 24 == 0 and hours >= 48 else f"{hours} hours"


def findings(files: list[RequestFile], only: set[str] | None = None) -> list[Finding]:
    out = [f for rf in files if only is None or rf.path in only for f in rf.findings]
    return sorted(out, key=lambda f: (f.file, f.line or 0))
