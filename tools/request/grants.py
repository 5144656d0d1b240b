"""A request's grants at cloud level: account names become account ids and a
service account becomes the identity grant it defines. Policy input and desired
state both derive grants here, so they can never disagree."""
from __future__ import annotations

from tools.core.model import Grant, Target, identity_kind
from tools.core.orgmodel import OrgModel
from tools.request.load import AccessRequest, ServiceAccount, path_parts


def service_account_grant(sa: ServiceAccount, target: Target) -> Grant:
    """The identity itself as a grant. Only attributes the file states are
    compared, so an imported identity awaiting its owner matches as found.

    ``use`` is an attribute only for agents and integrations: CI roles and
    workload accounts keep the attributes they always had, so files written
    before `use` existed plan no change. An agent carries its runtime and
    session length (and on AWS the org's permissions boundary); an
    integration its vendor and rotation, compared against the tags the
    connector writes, so an edited tag is drift."""
    attrs = {"owner": sa.owner, "purpose": sa.purpose}
    if sa.provider == "aws" and sa.use != "integration":
        attrs |= {"oidc_repository": sa.oidc_repository, "oidc_ref": sa.oidc_ref}
    if sa.use == "agent":
        attrs |= {"use": "agent", "runtime": sa.runtime,
                  "max_session_minutes": str(sa.max_session_minutes) if sa.max_session_minutes else None}
        if sa.provider == "aws":
            attrs["permissions_boundary"] = target.agent_boundary or None
    elif sa.use == "integration":
        # "key": the one key exists and is younger than rotate_days; a live
        # key that is due or missing is drift, and applying it rotates.
        attrs |= {"use": "integration", "vendor": sa.vendor, "key": "current",
                  "rotate_days": str(sa.rotate_days) if sa.rotate_days else None}
        if sa.provider == "aws":
            attrs.pop("purpose")  # an IAM user has no description; the request file keeps it
    return Grant(sa.provider, target.id, sa.ref, identity_kind(sa.provider, sa.use), sa.name,
                 sa.expires, sa.path, tuple(sorted((k, v) for k, v in attrs.items() if v)))


def request_grants(req: AccessRequest, org: OrgModel) -> list[Grant]:
    provider, target_name, _ = path_parts(req.path)
    target = org.target(provider, target_name)
    if target is None:
        return []
    return [Grant(provider, target.id, str(req.principal), g.kind, g.entitlement, req.expires, req.path)
            for g in req.grants]
