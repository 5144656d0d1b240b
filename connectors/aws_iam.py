"""IAM in one account: group membership, CI roles and their policies.

Translates between canonical grants and IAM calls. Only the managed scope is
read: the groups the org model lists, and the roles under the pipeline's own
path (``/accessctl/``), which it created. A CI role's expiry lives in its
trust policy (``DateLessThan aws:CurrentTime``), so AWS itself refuses the
role after expiry even if the pipeline is down; the tags only mirror it.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError

from tools.core.model import Change, Grant, Target

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
MANAGED_BY = "accessctl"
REVOKE_POLICY_NAME = "AWSRevokeOlderSessions"  # the name the IAM console uses
# Live-only kinds: access on a pipeline-owned CI role that no request can ask
# for (an inline policy, a foreign trust statement). Always drift.
INLINE_KIND = "aws-role-inline-policy"
TRUST_KIND = "aws-role-trust"


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def role_name_of(principal: str) -> str:
    """serviceAccount:<account name>/<role name> → role name."""
    return principal.partition(":")[2].rpartition("/")[2]


# ---- trust policy -----------------------------------------------------------

def oidc_subject(repository: str, ref: str) -> str:
    """GitHub's OIDC ``sub`` claim for a ref (``repo:O/R:ref:refs/heads/main``) or an
    environment (``repo:O/R:environment:prod``), as GitHub documents its subject claims:
    https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims"""
    if ref.startswith("environment:"):
        return f"repo:{repository}:environment:{ref[len('environment:'):]}"
    return f"repo:{repository}:ref:{ref}"


def trust_policy(account_id: str, repository: str, ref: str, expires: datetime | None) -> dict[str, Any]:
    """GitHub Actions OIDC trust for one repository and ref (or environment),
    until ``expires``. A ref ending in ``*`` is a prefix: StringLike."""
    sub = oidc_subject(repository, ref)
    condition: dict[str, Any] = {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"}}
    condition.setdefault("StringLike" if sub.endswith("*") else "StringEquals", {})[f"{GITHUB_OIDC_HOST}:sub"] = sub
    if expires is not None:
        condition["DateLessThan"] = {"aws:CurrentTime": iso(expires)}
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }]}


def agent_trust_policy(runtime: str, expires: datetime | None) -> dict[str, Any]:
    """An agent role's trust: only the named runtime role may assume it
    (``sts:AssumeRole``), until ``expires``. The runtime is a role ARN in one
    of the organisation's accounts (the policy's nhi-runtime-external rule)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": runtime}, "Action": "sts:AssumeRole"}
    if expires is not None:
        statement["Condition"] = {"DateLessThan": {"aws:CurrentTime": iso(expires)}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def trust_for(grant: Grant, account_id: str) -> dict[str, Any]:
    """The trust policy a role grant asks for: the agent runtime's, else GitHub OIDC's."""
    if grant.attr("use") == "agent" and grant.attr("runtime"):
        return agent_trust_policy(grant.attr("runtime") or "", grant.expires)
    return trust_policy(account_id, grant.attr("oidc_repository") or "", grant.attr("oidc_ref") or "",
                        grant.expires)


def _runtime_statement(statement: Any, runtime: str | None) -> bool:
    """The statement ``agent_trust_policy`` writes for ``runtime``."""
    return (bool(runtime) and isinstance(statement, dict) and statement.get("Effect") == "Allow"
            and statement.get("Principal") == {"AWS": runtime}
            and statement.get("Action") in ("sts:AssumeRole", ["sts:AssumeRole"]))


def parse_trust(document: Any) -> tuple[str, str, datetime | None]:
    """(repository, ref, expiry) from a trust policy written by ``trust_policy``.

    Anything unexpected gives empty strings, which the diff then reports as a
    changed attribute to be rewritten, instead of failing the whole read.
    """
    if isinstance(document, str):
        document = json.loads(document)
    repository, ref, expires = "", "", None
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for st in statements if isinstance(statements, list) else [statements]:
        cond = st.get("Condition", {}) if isinstance(st, dict) else {}
        sub = (cond.get("StringEquals", {}).get(f"{GITHUB_OIDC_HOST}:sub")
               or cond.get("StringLike", {}).get(f"{GITHUB_OIDC_HOST}:sub") or "")
        if isinstance(sub, str) and sub.startswith("repo:") and ":ref:" in sub:
            repository, _, ref = sub[len("repo:"):].partition(":ref:")
        elif isinstance(sub, str) and sub.startswith("repo:") and ":environment:" in sub:
            repository, _, env = sub[len("repo:"):].partition(":environment:")
            ref = f"environment:{env}"
        when = cond.get("DateLessThan", {}).get("aws:CurrentTime")
        if isinstance(when, str):
            try:
                expires = parse_iso(when)
            except ValueError:
                expires = None
    return repository, ref, expires


def _agent_settings(grant: Grant) -> dict[str, Any]:
    """CreateRole parameters of an agent role: its session length (IAM's
    MaxSessionDuration, 3600..43200 seconds) and the org's permissions boundary."""
    if grant.attr("use") != "agent":
        return {}
    out: dict[str, Any] = {"MaxSessionDuration": int(grant.attr("max_session_minutes") or 60) * 60}
    if grant.attr("permissions_boundary"):
        out["PermissionsBoundary"] = grant.attr("permissions_boundary")
    return out


class NotOurs(Exception):
    """A role exists under the name the pipeline wants, but the pipeline did not create it."""


def is_ours(role: dict[str, Any], path: str) -> bool:
    """The pipeline's marker on a role: its path and the ``managed-by`` tag. Both,
    because either alone can be set by anyone who can create roles."""
    tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
    return role.get("Path") == path and tags.get("managed-by") == MANAGED_BY


def role_tags(grant: Grant) -> list[dict[str, str]]:
    tags = {"owner": grant.attr("owner") or "", "managed-by": MANAGED_BY}
    if grant.attr("use") == "agent":
        # which trust statement is the pipeline's own: every other one is drift
        tags |= {"use": "agent", "runtime": grant.attr("runtime") or ""}
    if grant.request:
        tags["request"] = grant.request
    if grant.expires is not None:
        tags["expires"] = iso(grant.expires)
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


# ---- reads ------------------------------------------------------------------

def read_group_members(iam, target: Target) -> list[Grant]:
    grants: list[Grant] = []
    for group in target.managed.get("aws-iam-group", ()):
        try:
            for page in iam.get_paginator("get_group").paginate(GroupName=group):
                for user in page["Users"]:
                    grants.append(Grant("aws", target.id, f"user:{user['UserName'].lower()}",
                                        "aws-iam-group", group))
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
    return grants


def read_roles(iam, target: Target, path: str, page_size: int | None = None) -> list[Grant]:
    """CI roles under ``path`` and the managed policies attached to them.

    Two paginated passes per account whatever the number of roles:
    ``list_roles`` (trust policy, description) and
    ``get_account_authorization_details`` (tags, attached policies), instead
    of two more calls per role."""
    config = {"PageSize": page_size} if page_size else {}
    roles = [role for page in iam.get_paginator("list_roles").paginate(PathPrefix=path, PaginationConfig=config)
             for role in page["Roles"] if role.get("Path") == path]  # a deeper path is not ours either
    if not roles:
        return []
    details = {d["RoleName"]: d for page in iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["Role"], PaginationConfig=config) for d in page["RoleDetailList"] if d.get("Path") == path}
    grants: list[Grant] = []
    for role in roles:
        name = role["RoleName"]
        detail = details.get(name, {})
        if not is_ours(detail, path):
            continue  # under our path but without our tag: not ours, never read, changed or deleted
        tags = {t["Key"]: t["Value"] for t in detail.get("Tags", [])}
        repository, ref, expires = parse_trust(role.get("AssumeRolePolicyDocument", {}))
        principal = f"serviceAccount:{target.name}/{name}"
        attrs = {"owner": tags.get("owner", ""), "purpose": role.get("Description", ""),
                 "oidc_repository": repository, "oidc_ref": ref}
        runtime = tags.get("runtime") if tags.get("use") == "agent" else None
        if tags.get("use") == "agent":
            statements = _statements(role.get("AssumeRolePolicyDocument", {}))
            attrs |= {"use": "agent",
                      "runtime": runtime if any(_runtime_statement(st, runtime) for st in statements) else "",
                      "max_session_minutes": str(int(role.get("MaxSessionDuration", 3600)) // 60),
                      "permissions_boundary": (detail.get("PermissionsBoundary") or {}).get(
                          "PermissionsBoundaryArn", "")}
        grants.append(Grant("aws", target.id, principal, "aws-ci-role", name, expires,
                            tags.get("request"), tuple(sorted(attrs.items()))))
        # The pipeline owns this identity whole: every attached policy (inside
        # the managed scope or not), every inline policy and every trust
        # statement besides its own is live access, so the diff reports an
        # unrequested one as extra and --mode fix removes it.
        for pol in detail.get("AttachedManagedPolicies", []):
            grants.append(Grant("aws", target.id, principal, "aws-role-policy", pol["PolicyArn"]))
        for inline in detail.get("RolePolicyList", []):
            if inline.get("PolicyName") != REVOKE_POLICY_NAME:  # the expire job's own session cut-off
                grants.append(Grant("aws", target.id, principal, INLINE_KIND, inline["PolicyName"]))
        for statement in foreign_statements(role.get("AssumeRolePolicyDocument", {}), target.id, runtime):
            grants.append(Grant("aws", target.id, principal, TRUST_KIND, statement))
    return grants


def _is_ours(statement: Any, account_id: str) -> bool:
    """A statement of the shape ``trust_policy`` writes: GitHub's OIDC
    provider of this account, AssumeRoleWithWebIdentity, a sub condition."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    action = statement.get("Action")
    sub = ((statement.get("Condition") or {}).get("StringEquals") or {}).get(f"{GITHUB_OIDC_HOST}:sub")
    return (principal == {"Federated": f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"}
            and action in ("sts:AssumeRoleWithWebIdentity", ["sts:AssumeRoleWithWebIdentity"])
            and isinstance(sub, str) and sub.startswith("repo:"))


def _statements(document: Any) -> list[Any]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [statements] if isinstance(statements, dict) else list(statements)


def foreign_statements(document: Any, account_id: str, runtime: str | None = None) -> list[str]:
    """Trust statements the pipeline did not write, each as canonical JSON
    (the grant's entitlement, so the same statement always has the same key).
    ``runtime``: an agent role's runtime ARN (its tag), whose AssumeRole
    statement is the pipeline's own; any other principal is extra trust."""
    return [json.dumps(st, sort_keys=True, separators=(",", ":")) for st in _statements(document)
            if not _is_ours(st, account_id) and not _runtime_statement(st, runtime)]


# ---- writes -----------------------------------------------------------------

class IamWriter:
    """The write side for one account. Each method performs one change and
    returns the number of API calls it made; errors propagate to the caller,
    which turns them into a failed ChangeResult."""

    def __init__(self, iam, account_id: str, path: str, sleep: Callable[[float], None] = time.sleep,
                 consistency_attempts: int = 5, consistency_delay: float = 0.5,
                 trust_check: Callable[[str | None, str | None], str | None] | None = None,
                 runtime_check: Callable[[str], bool] | None = None):
        """``trust_check(repository, ref)`` says why a CI role may not trust them
        (tools.core.ownership.oidc_problem with the org model), or None."""
        self.iam, self.account_id, self.path = iam, account_id, path
        self.trust_check = trust_check
        self.runtime_check = runtime_check  # account id -> is it one of the organisation's accounts
        self.sleep, self.attempts, self.delay = sleep, consistency_attempts, consistency_delay
        self.calls = 0
        self.created: set[str] = set()  # roles created by this writer: may not be visible yet
        self.verified: set[str] = set()  # roles found to carry the pipeline's marker

    def _call(self, method: str, **kwargs) -> Any:
        self.calls += 1
        return getattr(self.iam, method)(**kwargs)

    def _settled(self, method: str, **kwargs) -> Any:
        """Retry NoSuchEntity briefly for a role this writer just created: IAM
        is eventually consistent, so it may not be visible to the next call
        yet. Anything else missing (a user, a group) fails at once."""
        if kwargs.get("RoleName") not in self.created:
            return self._call(method, **kwargs)
        for attempt in range(self.attempts):
            try:
                return self._call(method, **kwargs)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity" or attempt == self.attempts - 1:
                    raise
                self.sleep(self.delay * (attempt + 1))
        raise AssertionError("unreachable")

    def group_member(self, change: Change, add: bool) -> None:
        user = change.grant.principal.partition(":")[2]
        if add:
            self._call("add_user_to_group", GroupName=change.grant.entitlement, UserName=user)
        else:
            try:
                self._call("remove_user_from_group", GroupName=change.grant.entitlement, UserName=user)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":  # already gone: converged
                    raise

    def role_policy(self, change: Change, add: bool) -> None:
        role = role_name_of(change.grant.principal)
        if add:
            self.owned(role)  # a policy is attached only to a role the pipeline created
            self._settled("attach_role_policy", RoleName=role, PolicyArn=change.grant.entitlement)
        else:
            try:
                self._call("detach_role_policy", RoleName=role, PolicyArn=change.grant.entitlement)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise

    def _trust(self, grant: Grant) -> str:
        return json.dumps(trust_for(grant, self.account_id))

    def _check_trust(self, grant: Grant) -> None:
        if grant.attr("use") == "agent" and grant.attr("runtime"):
            account = (grant.attr("runtime") or "").split(":")[4:5]
            if self.runtime_check and account and not self.runtime_check(account[0]):
                raise NotOurs(f"agent role {grant.entitlement}: runtime {grant.attr('runtime')} is not in an "
                              "account of the organisation; the trust was not written")
            return
        if self.trust_check:
            problem = self.trust_check(grant.attr("oidc_repository"), grant.attr("oidc_ref"))
            if problem:
                raise NotOurs(f"CI role {grant.entitlement}: {problem}; the trust was not written")

    def owned(self, name: str) -> None:
        """Raise NotOurs unless role ``name`` carries the pipeline's marker
        (checked once per role and run; a role this run created is ours)."""
        if name in self.created or name in self.verified:
            return
        role = self._settled("get_role", RoleName=name)["Role"]
        if is_ours(role, self.path):
            self.verified.add(name)
        else:
            raise NotOurs(f"role {name} exists but was not created by accessctl (path {role.get('Path')}, "
                          f"no managed-by: {MANAGED_BY} tag); the pipeline never adopts, re-trusts or "
                          "re-describes it: choose another name for the CI role, or delete the existing role")

    def create_role(self, grant: Grant) -> None:
        self._check_trust(grant)
        try:
            self._call("create_role", Path=self.path, RoleName=grant.entitlement,
                       AssumeRolePolicyDocument=self._trust(grant),
                       Description=grant.attr("purpose") or "", Tags=role_tags(grant), **_agent_settings(grant))
            self.created.add(grant.entitlement)
        except ClientError as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            self.update_role(grant, None)  # a crash after create: bring ours to the desired shape

    def update_role(self, grant: Grant, current: Grant | None) -> None:
        name = grant.entitlement
        self._check_trust(grant)
        self.owned(name)
        self._settled("update_assume_role_policy", RoleName=name, PolicyDocument=self._trust(grant))
        settings = _agent_settings(grant)
        if current is None or current.attr("purpose") != grant.attr("purpose") or (
                settings and current.attr("max_session_minutes") != grant.attr("max_session_minutes")):
            self._settled("update_role", RoleName=name, Description=grant.attr("purpose") or "",
                          **{k: v for k, v in settings.items() if k == "MaxSessionDuration"})
        if "PermissionsBoundary" in settings and (
                current is None or current.attr("permissions_boundary") != grant.attr("permissions_boundary")):
            self._settled("put_role_permissions_boundary", RoleName=name,
                          PermissionsBoundary=settings["PermissionsBoundary"])
        self._settled("tag_role", RoleName=name, Tags=role_tags(grant))
        if grant.expires is None or not grant.request:
            stale = [k for k, missing in (("expires", grant.expires is None), ("request", not grant.request))
                     if missing]
            self._settled("untag_role", RoleName=name, TagKeys=stale)

    def remove_inline_policy(self, change: Change) -> None:
        try:
            self._call("delete_role_policy", RoleName=role_name_of(change.grant.principal),
                       PolicyName=change.grant.entitlement)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise

    def remove_trust_statement(self, change: Change) -> None:
        """Rewrite the trust policy without one foreign statement (read
        fresh, so a concurrent edit of the other statements is kept)."""
        role = role_name_of(change.grant.principal)
        document = self._call("get_role", RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [st for st in statements
                if json.dumps(st, sort_keys=True, separators=(",", ":")) != change.grant.entitlement]
        if len(kept) == len(statements):
            return  # already gone: converged
        self._call("update_assume_role_policy", RoleName=role,
                   PolicyDocument=json.dumps(dict(document, Statement=kept)))

    def delete_role(self, grant: Grant) -> None:
        name = grant.entitlement
        try:
            self.owned(name)
            for page in self.iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
                self.calls += 1
                for pol in page["AttachedPolicies"]:
                    self._call("detach_role_policy", RoleName=name, PolicyArn=pol["PolicyArn"])
            for page in self.iam.get_paginator("list_role_policies").paginate(RoleName=name):
                self.calls += 1
                for policy_name in page["PolicyNames"]:
                    self._call("delete_role_policy", RoleName=name, PolicyName=policy_name)
            self._call("delete_role", RoleName=name)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":  # already deleted: converged
                raise

    def revoke_sessions(self, role_name: str, at: datetime) -> None:
        """Deny everything to sessions issued before ``at`` (AWS's documented
        "revoke active sessions" pattern); new sessions are unaffected."""
        document = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": iso(at)}},
        }]}
        self._call("put_role_policy", RoleName=role_name, PolicyName=REVOKE_POLICY_NAME,
                   PolicyDocument=json.dumps(document))
