"""The AWS connector: IAM groups, CI roles and policies, Identity Center.

Sessions: the base session comes from the environment (``AWS_ENDPOINT_URL``
is honoured by boto3 itself, so tests and the demo point it at moto); in each
account the applier role ``org.raw["aws"]["applier_role"]`` is assumed
through STS and the clients are cached per account. Identity Center lives in
the organisation's management account, reached from the base session.

Every change becomes a ChangeResult; one failure never stops the others.
"""
from __future__ import annotations

import os

import time
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from connectors.aws_iam import INLINE_KIND, TRUST_KIND, IamWriter, NotOurs, read_group_members, read_roles
from connectors.aws_integration import KEY_KIND, IntegrationWriter, NotOursUser, integration_users, read_integrations
from connectors.aws_sso import KIND as SSO_KIND
from connectors.aws_sso import IdentityCenter
from connectors.aws_usage import read_last_used
from connectors.ratelimit import Limiter
from tools.core.errors import UsageError
from tools.core.ownership import oidc_problem, reserved_name_problem
from tools.core.model import AWS_INTEGRATION_KIND, Action, Change, ChangeResult, Grant, Target
from tools.core.orgmodel import OrgModel
from tools.core.usage import LastUsed

# The service refuses more assignment operations in progress than this.
MAX_OUTSTANDING_ASSIGNMENTS = 15

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "session:assume-applier-role": ("sts:AssumeRole",),
    "read:aws-iam-group": ("iam:GetGroup",),
    "read:aws-ci-role": ("iam:ListRoles", "iam:GetAccountAuthorizationDetails"),
    "read:aws-role-policy": ("iam:GetAccountAuthorizationDetails",),
    "read:aws-sso-assignment": ("sso:ListInstances", "sso:ListPermissionSets", "sso:DescribePermissionSet",
                                "sso:ListAccountAssignments", "identitystore:ListUsers",
                                "identitystore:ListGroups", "identitystore:DescribeUser",
                                "identitystore:DescribeGroup"),
    "add:aws-iam-group": ("iam:AddUserToGroup",),
    "remove:aws-iam-group": ("iam:RemoveUserFromGroup",),
    "add:aws-sso-assignment": ("sso:CreateAccountAssignment", "sso:DescribeAccountAssignmentCreationStatus",
                               "identitystore:GetUserId", "identitystore:GetGroupId"),
    "remove:aws-sso-assignment": ("sso:DeleteAccountAssignment", "sso:DescribeAccountAssignmentDeletionStatus",
                                  "identitystore:GetUserId", "identitystore:GetGroupId"),
    "add:aws-ci-role": ("iam:CreateRole", "iam:GetRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy",
                        "iam:UpdateRole", "iam:PutRolePermissionsBoundary"),
    "update:aws-ci-role": ("iam:GetRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:TagRole",
                           "iam:UntagRole", "iam:PutRolePermissionsBoundary"),
    "remove:aws-ci-role": ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy",
                           "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole"),
    "add:aws-role-policy": ("iam:GetRole", "iam:AttachRolePolicy"),
    "remove:aws-role-policy": ("iam:DetachRolePolicy",),
    "remove:aws-role-inline-policy": ("iam:DeleteRolePolicy",),
    "remove:aws-role-trust": ("iam:GetRole", "iam:UpdateAssumeRolePolicy"),
    "revoke_role_sessions": ("iam:PutRolePolicy",),
    "read:aws-integration-user": ("iam:ListUsers", "iam:ListUserTags", "iam:ListAccessKeys",
                                  "iam:ListAttachedUserPolicies"),
    "add:aws-integration-user": ("iam:CreateUser", "iam:GetUser", "iam:ListUserTags", "iam:ListAccessKeys",
                                 "iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:TagUser", "iam:UntagUser",
                                 "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret",
                                 "secretsmanager:TagResource"),
    "update:aws-integration-user": ("iam:GetUser", "iam:ListUserTags", "iam:TagUser", "iam:UntagUser",
                                    "iam:ListAccessKeys", "iam:CreateAccessKey", "iam:DeleteAccessKey",
                                    "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret",
                                    "secretsmanager:TagResource"),
    "remove:aws-integration-user": ("iam:GetUser", "iam:ListUserTags", "iam:ListAccessKeys", "iam:DeleteAccessKey",
                                    "iam:ListAttachedUserPolicies", "iam:DetachUserPolicy", "iam:ListUserPolicies",
                                    "iam:DeleteUserPolicy", "iam:DeleteUser", "secretsmanager:DeleteSecret"),
    "remove:aws-access-key": ("iam:DeleteAccessKey",),
    "add:aws-role-policy-on-integration": ("iam:ListUsers", "iam:ListUserTags", "iam:GetUser",
                                           "iam:AttachUserPolicy"),
    "remove:aws-role-policy-on-integration": ("iam:ListUsers", "iam:ListUserTags", "iam:DetachUserPolicy"),
    # last use, for access reviews and `audit report --live` only (connectors/aws_usage.py)
    "usage:last-used": ("iam:GetAccountAuthorizationDetails", "iam:GetAccessKeyLastUsed"),
}

# Order inside one target: identities exist before policies are attached to
# them, and are deleted only after everything else about them is gone.
_ORDER = {("aws-ci-role", Action.ADD): 0, ("aws-ci-role", Action.UPDATE): 0, ("aws-ci-role", Action.REMOVE): 2,
          (AWS_INTEGRATION_KIND, Action.ADD): 0, (AWS_INTEGRATION_KIND, Action.UPDATE): 0,
          (AWS_INTEGRATION_KIND, Action.REMOVE): 2}


class AwsConnector:
    provider = "aws"
    PERMISSIONS: Mapping[str, tuple[str, ...]] = PERMISSIONS

    def __init__(self, org: OrgModel, *, session: boto3.Session | None = None,
                 retry_mode: str = "adaptive", max_attempts: int = 8,
                 sso_rate: float = 10.0, sso_burst: float = 1.0,
                 max_outstanding: int = MAX_OUTSTANDING_ASSIGNMENTS, poll_interval: float = 1.0,
                 role_page_size: int | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 on_client: Callable[[str, str, Any], None] | None = None,
                 role_session_seconds: int = 3600, **_: Any):
        """``on_client(service, account, client)`` is called once per client
        created, so tests and the benchmark can count calls or inject faults
        through botocore's own event hooks."""
        aws = org.raw.get("aws", {})
        self.org = org
        # The PR check plans with a read-only role of its own (README, "The
        # planning identity"), named by ACCESSCTL_AWS_ASSUME_ROLE in its workflow.
        self.applier_role: str = os.environ.get("ACCESSCTL_AWS_ASSUME_ROLE") or aws.get("applier_role",
                                                                                      "accessctl-applier")
        self.role_path: str = aws.get("ci_role_path", "/accessctl/")
        self.sso_region: str = aws.get("sso_instance_region", "us-east-1")
        self.session = session or boto3.Session()
        self.config = Config(retries={"mode": retry_mode, "max_attempts": max_attempts})
        self.limiter = Limiter(rate=sso_rate, burst=sso_burst,
                               max_outstanding=min(max_outstanding, MAX_OUTSTANDING_ASSIGNMENTS),
                               clock=clock, sleep=sleep)
        self.poll_interval, self.role_page_size, self.sleep = poll_interval, role_page_size, sleep
        self.on_client = on_client
        self.role_session_seconds = role_session_seconds
        self._iam: dict[str, Any] = {}
        self._secrets: dict[str, Any] = {}
        self._account_sessions: dict[str, boto3.Session] = {}
        self._integration_users: dict[str, set[str]] = {}
        # how long a rotated integration key keeps working (org model)
        self.key_grace = timedelta(hours=int(org.setting("organization", "key_rotation_grace_hours", default=24)))
        self._sts: Any = None
        self._sso: IdentityCenter | None = None

    # ---- clients ------------------------------------------------------------

    def _client(self, session: boto3.Session, service: str, account: str, region: str, **creds: str) -> Any:
        """One boto3 session serves every account (assumed-role credentials
        are passed per client): service models are loaded once."""
        client = session.client(service, region_name=region, config=self.config, **creds)
        if self.on_client:
            self.on_client(service, account, client)
        return client

    def iam(self, account_id: str) -> Any:
        """IAM client acting as the applier role in ``account_id`` (cached).

        Its credentials refresh themselves by assuming the role again shortly
        before they expire, so a run longer than the role's session (a large
        organisation's reconcile) does not fail half-way."""
        if account_id not in self._iam:
            if self._sts is None:
                self._sts = self._client(self.session, "sts", "base", self.sso_region)
            arn = f"arn:aws:iam::{account_id}:role/{self.applier_role}"

            def assume() -> dict[str, str]:
                c = self._sts.assume_role(RoleArn=arn, RoleSessionName="accessctl-applier",
                                          DurationSeconds=self.role_session_seconds)["Credentials"]
                return {"access_key": c["AccessKeyId"], "secret_key": c["SecretAccessKey"],
                        "token": c["SessionToken"], "expiry_time": c["Expiration"].isoformat()}

            core = botocore.session.Session()
            # share the base session's loaded service models: loading them is the slow part
            core.register_component("data_loader", self.session._session.get_component("data_loader"))
            core._credentials = RefreshableCredentials.create_from_metadata(
                metadata=assume(), refresh_using=assume, method="sts-assume-role")
            self._iam[account_id] = self._client(boto3.Session(botocore_session=core), "iam", account_id,
                                                 self.sso_region)
            self._account_sessions[account_id] = boto3.Session(botocore_session=core)
        return self._iam[account_id]

    def secrets(self, account_id: str) -> Any:
        """Secrets Manager in ``account_id``, as the applier role (the same
        refreshing credentials as its IAM client)."""
        if account_id not in self._secrets:
            self.iam(account_id)
            self._secrets[account_id] = self._client(self._account_sessions[account_id], "secretsmanager",
                                                     account_id, self.org.setting("aws", "secrets_region",
                                                                                  default=self.sso_region))
        return self._secrets[account_id]

    def identity_center(self) -> IdentityCenter:
        if self._sso is None:
            self._sso = IdentityCenter(
                self._client(self.session, "sso-admin", "base", self.sso_region),
                self._client(self.session, "identitystore", "base", self.sso_region),
                self.limiter, self.poll_interval, self.org.setting("aws", "sso_instance_arn"))
        return self._sso

    # ---- Connector interface -------------------------------------------------

    def read(self, target: Target) -> list[Grant]:
        """Live grants in the managed scope of one account, in one pass.

        A failed read is an environment problem (credentials, endpoint,
        missing applier role): one line naming the account, exit code 2."""
        try:
            iam = self.iam(target.id)
            grants = read_group_members(iam, target)
            grants += read_roles(iam, target, self.role_path, self.role_page_size)
            grants += read_integrations(iam, target, self.role_path, self.key_grace)
            if target.managed.get(SSO_KIND):
                grants += self.identity_center().read(target)
        except (ClientError, BotoCoreError, LookupError) as exc:
            raise UsageError(f"reading AWS account {target.name} ({target.id}) failed: {_short(exc)}; "
                             f"check the credentials, AWS_ENDPOINT_URL and the {self.applier_role} role") from None
        return sorted(grants, key=lambda g: g.key)

    def last_used(self, target: Target, grants: Sequence[Grant]) -> dict[tuple, LastUsed]:
        """When AWS last saw each grant used (connectors/aws_usage.py). Only
        ``review open`` and ``audit report --live`` call this; a failure is
        one line naming the account."""
        try:
            return read_last_used(self.iam(target.id), target, grants, self.role_path)
        except (ClientError, BotoCoreError) as exc:
            raise UsageError(f"reading last use in AWS account {target.name} ({target.id}) failed: "
                             f"{_short(exc)}") from None

    def apply(self, target: Target, changes: Sequence[Change]) -> list[ChangeResult]:
        results: dict[int, ChangeResult] = {}
        sso_changes: list[tuple[int, Change]] = []
        iam_changes: list[tuple[int, Change]] = []
        for i, change in enumerate(changes):
            problem = self._out_of_scope(target, change)
            if problem:
                results[i] = ChangeResult(change, False, problem)
            elif change.grant.kind == SSO_KIND:
                sso_changes.append((i, change))
            else:
                iam_changes.append((i, change))
        iam_changes.sort(key=lambda ic: _ORDER.get((ic[1].grant.kind, ic[1].action), 1))
        writer: IamWriter | None = None
        refused: set[str] = set()  # CI roles found not to be ours: nothing is attached to them
        for i, change in iam_changes:
            if change.grant.kind == "aws-role-policy" and change.grant.principal in refused:
                results[i] = ChangeResult(change, False, f"{_verb(change)} skipped: the role is not the "
                                                         "pipeline's (see its own change)")
                continue
            if self._is_integration(target, change):
                results[i] = self._apply_integration(target, change)
                if not results[i].ok and change.grant.kind == AWS_INTEGRATION_KIND:
                    refused.add(change.grant.principal)
                continue
            try:
                writer = writer or IamWriter(self.iam(target.id), target.id, self.role_path, self.sleep,
                                             trust_check=lambda repo, ref: oidc_problem(self.org.raw, repo, ref),
                                             runtime_check=self._own_account)
                before = writer.calls
                self._apply_iam(writer, change)
                results[i] = ChangeResult(change, True, None, writer.calls - before)
            except NotOurs as exc:
                results[i] = ChangeResult(change, False, str(exc))
                if change.grant.kind == "aws-ci-role":
                    refused.add(change.grant.principal)
            except (ClientError, BotoCoreError) as exc:
                results[i] = ChangeResult(change, False, f"{_verb(change)} failed: {_short(exc)}")
        if sso_changes:
            try:
                done = self.identity_center().apply(target, [c for _, c in sso_changes])
            except (ClientError, BotoCoreError, LookupError) as exc:
                done = [ChangeResult(c, False, _short(exc)) for _, c in sso_changes]
            for (i, _), result in zip(sso_changes, done):
                results[i] = result
        return [results[i] for i in range(len(changes))]

    def revoke_role_sessions(self, account_id: str, role_name: str, at: datetime) -> None:
        """Deny all to the role's sessions issued before ``at`` (used by the
        expire job: a removed trust stops new sessions, this stops live ones)."""
        try:
            IamWriter(self.iam(account_id), account_id, self.role_path, self.sleep).revoke_sessions(role_name, at)
        except (ClientError, BotoCoreError) as exc:
            raise UsageError(f"revoking sessions of role {role_name} in {account_id} failed: {_short(exc)}") from None

    # ---- helpers -------------------------------------------------------------

    def _is_integration(self, target: Target, change: Change) -> bool:
        """Changes that concern an integration user: the user itself, a key
        on it, or a managed policy attached to it (asked for as aws-role-policy)."""
        kind = change.grant.kind
        if kind in (AWS_INTEGRATION_KIND, KEY_KIND):
            return True
        if kind != "aws-role-policy":
            return False
        if target.id not in self._integration_users:
            self._integration_users[target.id] = integration_users(self.iam(target.id), self.role_path)
        return change.grant.principal.rpartition("/")[2] in self._integration_users[target.id]

    def _apply_integration(self, target: Target, change: Change) -> ChangeResult:
        writer = IntegrationWriter(self.iam(target.id), self.secrets(target.id), target, self.role_path)
        g = change.grant
        try:
            if g.kind == KEY_KIND:
                writer.remove_key(g)
            elif g.kind == "aws-role-policy":
                writer.user_policy(g, add=change.action is not Action.REMOVE)
            elif change.action is Action.ADD:
                writer.create(g)
                self._integration_users.setdefault(target.id, set()).add(g.entitlement)
            elif change.action is Action.UPDATE:
                writer.update(g, change.current)
            else:
                writer.delete(change.current or g)
        except NotOursUser as exc:
            return ChangeResult(change, False, str(exc), writer.calls)
        except (ClientError, BotoCoreError) as exc:
            return ChangeResult(change, False, f"{_verb(change)} failed: {_short(exc)}", writer.calls)
        return ChangeResult(change, True, None, writer.calls)

    def _own_account(self, account_id: str) -> bool:
        return self.org.target_by_id("aws", account_id) is not None

    def _out_of_scope(self, target: Target, change: Change) -> str | None:
        g = change.grant
        if g.provider != "aws" or g.target != target.id:
            return f"{g.provider}:{g.target} is not account {target.id}"
        if g.kind in ("aws-ci-role", AWS_INTEGRATION_KIND):
            # CI roles and integration users live under the pipeline's path; its own identities are never touched
            return reserved_name_problem(self.org.raw, "aws", g.entitlement)
        if g.kind == KEY_KIND:
            # a key the pipeline does not keep, on its own integration user: only ever deleted
            return None if change.action is Action.REMOVE and g.principal.startswith(f"serviceAccount:{target.name}/") \
                else f"{g.kind} {g.entitlement} can only be removed from an integration of {target.name}"
        owned_role = g.principal.startswith(f"serviceAccount:{target.name}/")
        if g.kind in (INLINE_KIND, TRUST_KIND) or (g.kind == "aws-role-policy" and change.action is Action.REMOVE):
            # the pipeline's own CI role: it removes anything on it nobody requested
            return None if owned_role and change.action is Action.REMOVE else \
                f"{g.kind} {g.entitlement} can only be removed from a CI role of {target.name}"
        if g.kind not in ("aws-iam-group", "aws-sso-assignment", "aws-role-policy"):
            return f"kind {g.kind} is not an AWS kind"
        if not target.manages(g.kind, g.entitlement):
            return f"{g.kind} {g.entitlement} is outside the managed scope of {target.name}"
        if g.kind == "aws-role-policy" and not g.principal.startswith(f"serviceAccount:{target.name}/"):
            return f"{g.principal} is not a CI role of {target.name}"
        if g.kind == "aws-role-policy":
            return reserved_name_problem(self.org.raw, "aws", g.principal.rpartition("/")[2])
        return None

    def _apply_iam(self, writer: IamWriter, change: Change) -> None:
        kind, action = change.grant.kind, change.action
        if kind == "aws-iam-group":
            writer.group_member(change, add=action is not Action.REMOVE)
        elif kind == "aws-role-policy":
            writer.role_policy(change, add=action is not Action.REMOVE)
        elif kind == INLINE_KIND:
            writer.remove_inline_policy(change)
        elif kind == TRUST_KIND:
            writer.remove_trust_statement(change)
        elif action is Action.ADD:
            writer.create_role(change.grant)
        elif action is Action.UPDATE:
            writer.update_role(change.grant, change.current)
        else:
            writer.delete_role(change.current or change.grant)


def _verb(change: Change) -> str:
    g = change.grant
    return f"{change.action.value} {g.kind} {g.entitlement} for {g.principal}"


def _short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0]
