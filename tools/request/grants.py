"""A request's grants at cloud level: account names become account ids and a
service account becomes the identity grant it defines. Policy input and desired
state both derive grants here, so they can never disagree."""
from __future__ import annotations

from tools.core.model import IDENTITY_KINDS, Grant, Target
from tools.core.orgmodel import OrgModel
from tools.request.load import AccessRequest, ServiceAccount, path_parts


def service_account_grant(sa: ServiceAccount, target: Target) -> Grant:
    """The identity itself as a grant. Only attributes the file states are
    compared, so an imported identity awaiting its owner matches as found."""
    attrs = {"owner": sa.owner, "purpose": sa.purpose}
    if sa.provider == "aws":
        attrs |= {"oidc_repository": sa.oidc_repository, "oidc_ref": sa.oidc_ref}
    return Grant(sa.provider, target.id, sa.ref, IDENTITY_KINDS[sa.provider], sa.name,
                 sa.expires, sa.path, tuple(sorted((k, v) for k, v in attrs.items() if v)))


def request_grants(req: AccessRequest, org: OrgModel) -> list[Grant]:
    provider, target_name, _ = path_parts(req.path)
    target = org.target(provider, target_name)
    if target is None:
        return []
    return [Grant(provider, target.id, str(req.principal), g.kind, g.entitlement, req.expires, req.path)
            for g in req.grants]
