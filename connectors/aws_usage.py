"""When AWS last saw the pipeline's identities used: read for access reviews
(``review open``) and ``audit report --live``, never by plan or apply.

- CI and agent roles: IAM's ``RoleLastUsed`` (LastUsedDate, Region). It is
  read from ``GetAccountAuthorizationDetails`` (``RoleDetail.RoleLastUsed``),
  which answers for every role of the account in one paginated call, rather
  than one ``GetRole`` per role: the same field, fewer calls.
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_RoleDetail.html
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_RoleLastUsed.html
  ("Activity is only reported for the trailing 400 days.")
- Integration users: ``GetAccessKeyLastUsed`` on the key the pipeline keeps
  (the user's ``key-id`` tag, read from the same batch call's UserDetailList).
  IAM has no batch form: one call per integration.
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccessKeyLastUsed.html
  (LastUsedDate is absent for a key never used; Region and ServiceName say "N/A".)
- People: IAM reports no use per group membership, Identity Center none per
  account assignment, so their grants say "not reported".

A managed policy on a role (or on an integration user) is used through that
identity's sessions; IAM does not say which policy a session used, so such a
grant shows the identity's last use and says it is the identity's.

moto 5.2.5 (the sandbox) sets ``RoleLastUsed.LastUsedDate`` when a request is
signed with credentials from ``sts:AssumeRole``/``AssumeRoleWithWebIdentity``
of that role, but never its ``Region``; it reports key use in full.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from connectors.aws_iam import is_ours as is_our_role
from connectors.aws_integration import is_ours as is_our_user
from connectors.aws_sso import KIND as SSO_KIND
from tools.core.model import AWS_INTEGRATION_KIND, Grant, Target
from tools.core.usage import NEVER, UNKNOWN, LastUsed, not_reported, used

ROLE_SOURCE = "IAM RoleLastUsed"
KEY_SOURCE = "IAM GetAccessKeyLastUsed"
PAGE = 1000  # GetAccountAuthorizationDetails' largest MaxItems
_PEOPLE = {
    "aws-iam-group": "IAM does not report use per group membership",
    SSO_KIND: "Identity Center does not report use per account assignment",
}


def identity_name(grant: Grant) -> str | None:
    """The role or user a grant is about, when it is one of the pipeline's identities."""
    return grant.principal.rpartition("/")[2] if grant.principal.startswith("serviceAccount:") else None


def read_last_used(iam: Any, target: Target, grants: Sequence[Grant], path: str) -> dict[tuple, LastUsed]:
    """Grant key → last use, for every grant given. One batch read of the
    account (only when an identity is asked about) plus one call per
    integration user."""
    out: dict[tuple, LastUsed] = {}
    names = {n for g in grants if (n := identity_name(g))}
    roles: dict[str, dict] = {}
    users: dict[str, dict] = {}
    kinds = {g.kind for g in grants if identity_name(g)}
    # roles unless only integrations are asked about, users unless only roles are
    # (a policy grant's principal may be either)
    wanted = [f for f, other in (("Role", {AWS_INTEGRATION_KIND}), ("User", {"aws-ci-role"}))
              if not kinds <= other]
    if names and wanted:
        for page in iam.get_paginator("get_account_authorization_details").paginate(
                Filter=wanted, PaginationConfig={"PageSize": PAGE}):
            roles.update({r["RoleName"]: r for r in page.get("RoleDetailList", [])
                          if r["RoleName"] in names and is_our_role(r, path)})
            for u in page.get("UserDetailList", []):
                tags = {t["Key"]: t["Value"] for t in u.get("Tags", [])}
                if u["UserName"] in names and is_our_user(u, tags, path):
                    users[u["UserName"]] = tags
    keys: dict[str, LastUsed] = {}  # user name -> its key's last use, asked once
    for g in grants:
        name = identity_name(g)
        if g.kind in _PEOPLE or name is None:
            out[g.key] = not_reported(_PEOPLE.get(g.kind, "AWS does not report use for this kind of grant"))
        elif name in roles:
            out[g.key] = _role(roles[name], g)
        elif name in users:
            if name not in keys:
                keys[name] = _key(iam, users[name])
            out[g.key] = _through(keys[name], g, "user")
        else:
            out[g.key] = LastUsed(UNKNOWN, None, "", f"no pipeline role or integration user {name} in the account")
    return out


def _role(detail: dict, grant: Grant) -> LastUsed:
    last = detail.get("RoleLastUsed") or {}
    when = last.get("LastUsedDate")
    if when is None:
        value = LastUsed(NEVER, None, ROLE_SOURCE, "no use in the trailing 400 days IAM tracks")
    else:
        value = used(_utc(when), ROLE_SOURCE, f"in {last['Region']}" if last.get("Region") else "")
    return _through(value, grant, "role")


def _key(iam: Any, tags: dict[str, str]) -> LastUsed:
    kid = tags.get("key-id")
    if not kid:
        return LastUsed(UNKNOWN, None, "", "the pipeline has issued no key to this integration")
    last = iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
    when = last.get("LastUsedDate")
    if when is None:
        return LastUsed(NEVER, None, KEY_SOURCE, f"key {kid} never used")
    where = " ".join(x for x in (f"{last.get('ServiceName')}" if last.get("ServiceName") not in (None, "N/A") else "",
                                 f"in {last['Region']}" if last.get("Region") not in (None, "N/A") else "") if x)
    return used(_utc(when), KEY_SOURCE, f"key {kid}" + (f" by {where}" if where else ""))


def _through(value: LastUsed, grant: Grant, what: str) -> LastUsed:
    """The identity's own grant gets the value as is; a policy on it gets the
    identity's value, saying so."""
    if grant.kind in ("aws-ci-role", AWS_INTEGRATION_KIND):
        return value
    detail = f"the {what}'s last use; IAM does not report it per attached policy"
    return LastUsed(value.state, value.at, value.source, "; ".join(x for x in (value.detail, detail) if x))


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
