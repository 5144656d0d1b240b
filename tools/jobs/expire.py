"""Which access has expired, which is about to, and what to do about it. Pure.

GCP already refuses expired bindings through their IAM condition and AWS
CI roles through their trust-policy condition; this is the second
enforcement, everywhere: revoke, disable then delete identities after a
grace period, remove the dead request files, and remind requesters once
before their access ends.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from tools.core.expiry import format_expiry
from tools.core.model import Action, Change, Grant, Target, Tier
from tools.core.orgmodel import OrgModel
from tools.request.grants import request_grants, service_account_grant
from tools.request.load import AccessRequest, RequestFile, ServiceAccount, path_parts


@dataclass(frozen=True)
class Expired:
    file: RequestFile
    grants: tuple[Grant, ...]
    reason: str | None = None  # set when withdrawn by an access review rather than by its expiry


def expired_requests(files: list[RequestFile], org: OrgModel, now: datetime) -> list[Expired]:
    out = []
    for rf in files:
        req = rf.request
        if req is None or req.expires is None or req.expires > now:
            continue
        out.append(Expired(rf, tuple(_grants_of(req, org))))
    return out


REVIEW_RULES = ("review-revoked", "review-overdue")  # tools.provision.access_reviews


def review_withdrawn(files: list[RequestFile], org: OrgModel, now: datetime) -> list[Expired]:
    """Requests an access review withdrew (revoked by the owners, or overdue
    past the deadline) that have not expired anyway: revoked and cleaned up
    like expired ones, with the review as the reason."""
    out = []
    for rf in files:
        req = rf.request
        first = next((f for f in rf.findings if f.rule in REVIEW_RULES), None)
        if req is None or first is None or (req.expires is not None and req.expires <= now):
            continue
        out.append(Expired(rf, tuple(_grants_of(req, org)), f"{first.message} ({rf.path})"))
    return out


def _grants_of(req: AccessRequest | ServiceAccount, org: OrgModel) -> list[Grant]:
    if isinstance(req, ServiceAccount):
        target = org.target(req.provider, req.target)
        return [service_account_grant(req, target)] if target else []
    return request_grants(req, org)


def revocations(expired: list[Expired], desired_keys: set, live: list[Grant],
                targets: dict[tuple[str, str], Target], created: Mapping[tuple, dict] | None = None,
                now: datetime | None = None) -> list[Change]:
    """Live grants of expired requests that no valid request still covers.

    Two sources say a grant has expired: its request file on main, and the
    durable record (``created``: grants the pipeline made, with their
    expiry), which still knows after the file has left main. Expiry ends
    access whatever the target's mode (additive included) and whoever the
    principal is: it is a decision already taken, not drift. Report-only
    targets are left alone unless the record shows the pipeline created the
    grant there. An identity already disabled is not disabled again.
    """
    why = {g.key: e.reason or f"expired {format_expiry(g.expires)} ({e.file.path})" for e in expired for g in e.grants}
    for key, g in (created or {}).items():
        ends = _when(g.get("expires"))
        if key not in why and ends is not None and now is not None and ends <= now:
            why[key] = (f"expired {format_expiry(ends)} (from the durable record; "
                        f"{g.get('request') or 'its request'} is no longer on main)")
    out = []
    for g in live:
        if g.key not in why or g.key in desired_keys:
            continue
        target = targets.get((g.provider, g.target))
        ours = g.key in (created or {})
        if target is None or (target.mode == "report-only" and not ours) or g.attr("disabled") == "true":
            continue
        out.append(Change(Action.REMOVE, g, g, why[g.key]))
    return sorted(out, key=lambda c: c.grant.key)


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def identities_past_grace(live: list[Grant], desired_keys: set, now: datetime, grace_days: int) -> list[Grant]:
    """Disabled, unrequested service accounts whose expiry is older than the grace period."""
    cutoff = now - timedelta(days=grace_days)
    return [g for g in live if g.kind == "gcp-service-account" and g.attr("disabled") == "true"
            and g.key not in desired_keys and g.expires is not None and g.expires <= cutoff]


@dataclass(frozen=True)
class Reminder:
    file: RequestFile
    requester: str
    expires: datetime
    renew_until: datetime
    branch: str
    text: str  # the renewed file


def reminders(files: list[RequestFile], org: OrgModel, now: datetime, days: int,
              read_text) -> list[Reminder]:
    """Requests ending within ``days`` that can be renewed by an ordinary PR.

    Privileged and break-glass access is meant to end: no reminder.
    """
    out = []
    for rf in files:
        req = rf.request
        if req is None or rf.findings or req.expires is None or req.requester is None:
            continue
        if not now < req.expires <= now + timedelta(days=days):
            continue
        hours = _max_hours(req, org)
        if hours is None:
            continue
        until = (now + timedelta(hours=hours)).replace(hour=0, minute=0, second=0, microsecond=0)
        if until <= req.expires:
            continue
        provider, target, name = path_parts(rf.path)
        branch = f"accessctl/renew/{provider}-{target}-{name}-{req.expires:%Y%m%d}"
        out.append(Reminder(rf, req.requester, req.expires, until, branch,
                            renewed_text(read_text(rf.path), until)))
    return out


def _max_hours(req: AccessRequest | ServiceAccount, org: OrgModel) -> int | None:
    if isinstance(req, ServiceAccount):
        hours = int(org.setting("service_accounts", "max_hours", default=8760))
        return min(hours, int(org.setting("tiers", req.use, "max_hours", default=hours)))  # agent/integration tier
    if req.break_glass:
        return None
    entries = [org.catalog.get((g.kind, g.entitlement)) for g in req.grants]
    if any(e is None or e.tier is Tier.PRIVILEGED for e in entries):
        return None
    return min(e.max_hours for e in entries)


_EXPIRES = re.compile(r"^(expires:\s*)(['\"]?)[^'\"\n#]+\2(\s*(#.*)?)$", re.M)


def renewed_text(text: str, until: datetime) -> str:
    """The file with only its ``expires`` line changed, so the renewal diff is one line."""
    return _EXPIRES.sub(lambda m: f'{m.group(1)}"{until:%Y-%m-%d}"{m.group(3)}', text, count=1)
