"""Desired state: every valid, unexpired request on a branch, as Grants.

This is the one place where request files become cloud-level grants
(account names become account ids, service-account references gain the
identity they point at). Plan, apply, reconcile and audit all start here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tools.core.model import Grant
from tools.core.orgmodel import OrgModel
from tools.request.grants import request_grants, service_account_grant
from tools.request.load import RequestFile, ServiceAccount
from tools.request.validate import INCOMPLETE_IMPORT


@dataclass(frozen=True)
class DesiredState:
    grants: tuple[Grant, ...]
    skipped: tuple[str, ...]  # request files left out (invalid or expired)


def desired(files: list[RequestFile], org: OrgModel, now: datetime) -> DesiredState:
    """Grants of files with no findings whose expiry is still ahead.

    An invalid file contributes nothing (validation already blocks it from
    merging); an expired one is what the expire job revokes. An imported
    file still waiting for its owner keeps its access as found (no expiry):
    adopting the pipeline must not revoke anything on day one.
    """
    grants: list[Grant] = []
    skipped: list[str] = []
    for rf in files:
        req = rf.request
        if req is None or any(f.rule != INCOMPLETE_IMPORT for f in rf.findings) or (
                req.expires is not None and req.expires <= now):
            skipped.append(rf.path)
            continue
        if isinstance(req, ServiceAccount):
            target = org.target(req.provider, req.target)
            grants.append(service_account_grant(req, target))
        else:
            grants.extend(request_grants(req, org))
    return DesiredState(tuple(sorted(grants, key=lambda g: g.key)), tuple(skipped))

