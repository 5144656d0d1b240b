"""The naive baselines: one read (and one write) per grant, as per-resource IaC does.

Terraform-style tools refresh every resource on its own (one
``ListGroupsForUser`` / ``ListAccountAssignments`` / ``getIamPolicy`` per
grant) and apply each resource on its own (an existence check, then the
write; on GCP a whole read-modify-write of the project policy per binding).
This module does exactly that with the same SDKs against the same
emulators, so the benchmark compares approaches, not machines. It can only
check grants it is told about: access nobody requested is invisible to it.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import boto3
import grpc
from botocore.exceptions import ClientError
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import iam_admin_v1, resourcemanager_v3
from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport
from google.iam.v1 import policy_pb2

from connectors import gcp_accounts
from connectors.aws_iam import role_name_of, role_tags, trust_policy
from connectors.gcp_policy import Members, expiry_condition
from tools.core.model import Grant
from tools.core.orgmodel import OrgModel


class Naive:
    """Per-grant reads and writes; AWS calls reported through ``on_client`` like the connector's."""

    def __init__(self, org: OrgModel, env: dict[str, str], on_client: Callable[[str, str, Any], None]):
        self.org, self.on_client, self.members = org, on_client, Members(org)
        self.session = boto3.Session(region_name="us-east-1")
        self._iam: dict[str, Any] = {}
        self._sso = self._client("sso-admin", "base")
        self._ids = self._client("identitystore", "base")
        inst = self._sso.list_instances()["Instances"][0]
        self.instance_arn, self.store_id = inst["InstanceArn"], inst["IdentityStoreId"]
        self.sets = {}
        for arn in self._sso.list_permission_sets(InstanceArn=self.instance_arn)["PermissionSets"]:
            ps = self._sso.describe_permission_set(InstanceArn=self.instance_arn, PermissionSetArn=arn)
            self.sets[ps["PermissionSet"]["Name"]] = arn
        self.rm = resourcemanager_v3.ProjectsClient(
            credentials=AnonymousCredentials(), transport="rest",
            client_options=ClientOptions(api_endpoint=env["ACCESSCTL_GCP_ENDPOINT"]))
        self.admin = iam_admin_v1.IAMClient(transport=IAMGrpcTransport(
            channel=grpc.insecure_channel(env["ACCESSCTL_GCP_IAM_ENDPOINT"])))

    def close(self) -> None:
        self.rm.transport.close()
        self.admin.transport.close()

    def _client(self, service: str, account: str, **creds: str) -> Any:
        client = self.session.client(service, **creds)
        self.on_client(service, account, client)
        return client

    def iam(self, account: str) -> Any:
        if account not in self._iam:
            sts = self._client("sts", "base")
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/accessctl-applier",
                                RoleSessionName="naive")["Credentials"]
            self._iam[account] = self._client("iam", account, aws_access_key_id=c["AccessKeyId"],
                                              aws_secret_access_key=c["SecretAccessKey"],
                                              aws_session_token=c["SessionToken"])
        return self._iam[account]

    # ---- one read per grant ------------------------------------------------
    def _principal_id(self, principal: str) -> tuple[str, str]:
        kind, _, name = principal.partition(":")
        if kind == "user":
            return "USER", self._ids.get_user_id(IdentityStoreId=self.store_id, AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": name}})["UserId"]
        return "GROUP", self._ids.get_group_id(IdentityStoreId=self.store_id, AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}})["GroupId"]

    def exists(self, g: Grant) -> bool:
        """Is this one grant live (with the expiry it should carry, where the cloud stores one)?"""
        try:
            if g.kind == "aws-iam-group":
                pages = self.iam(g.target).get_paginator("list_groups_for_user").paginate(
                    UserName=g.principal.partition(":")[2])
                return any(gr["GroupName"] == g.entitlement for p in pages for gr in p["Groups"])
            if g.kind == "aws-sso-assignment":
                _, pid = self._principal_id(g.principal)
                pages = self._sso.get_paginator("list_account_assignments").paginate(
                    InstanceArn=self.instance_arn, AccountId=g.target, PermissionSetArn=self.sets[g.entitlement])
                return any(a["PrincipalId"] == pid for p in pages for a in p["AccountAssignments"])
            if g.kind == "aws-role-policy":
                pages = self.iam(g.target).get_paginator("list_attached_role_policies").paginate(
                    RoleName=role_name_of(g.principal))
                return any(a["PolicyArn"] == g.entitlement for p in pages for a in p["AttachedPolicies"])
            if g.kind == "aws-ci-role":
                self.iam(g.target).get_role(RoleName=g.entitlement)
                return True
            if g.kind == "gcp-project-role":
                policy = self.rm.get_iam_policy(request={"resource": f"projects/{g.target}",
                                                         "options": {"requested_policy_version": 3}})
                member = self.members.to_member(g.principal)
                want = expiry_condition(g.request, g.expires).expression
                return any(b.role == g.entitlement and member in b.members and b.condition.expression == want
                           for b in policy.bindings)
            if g.kind == "gcp-service-account":
                self.admin.get_service_account(name=gcp_accounts.resource_name(g.target, g.entitlement))
                return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchEntity", "ResourceNotFoundException"):
                return False
            raise
        except gexc.NotFound:
            return False
        raise ValueError(f"no naive read for {g.kind}")

    # ---- one write per grant -----------------------------------------------
    def write(self, g: Grant) -> None:
        if g.kind == "aws-iam-group":
            self.iam(g.target).add_user_to_group(GroupName=g.entitlement, UserName=g.principal.partition(":")[2])
        elif g.kind == "aws-sso-assignment":
            ptype, pid = self._principal_id(g.principal)
            status = self._sso.create_account_assignment(
                InstanceArn=self.instance_arn, TargetId=g.target, TargetType="AWS_ACCOUNT",
                PermissionSetArn=self.sets[g.entitlement], PrincipalType=ptype,
                PrincipalId=pid)["AccountAssignmentCreationStatus"]
            self._sso.describe_account_assignment_creation_status(
                InstanceArn=self.instance_arn, AccountAssignmentCreationRequestId=status["RequestId"])
        elif g.kind == "aws-role-policy":
            self.iam(g.target).attach_role_policy(RoleName=role_name_of(g.principal), PolicyArn=g.entitlement)
        elif g.kind == "aws-ci-role":
            self.iam(g.target).create_role(
                Path="/accessctl/", RoleName=g.entitlement, Description=g.attr("purpose") or "",
                AssumeRolePolicyDocument=json.dumps(trust_policy(
                    g.target, g.attr("oidc_repository") or "", g.attr("oidc_ref") or "", g.expires)),
                Tags=role_tags(g))
        elif g.kind == "gcp-project-role":
            resource = f"projects/{g.target}"
            policy = self.rm.get_iam_policy(request={"resource": resource,
                                                     "options": {"requested_policy_version": 3}})
            cond = expiry_condition(g.request, g.expires)
            binding = policy_pb2.Binding(role=g.entitlement, members=[self.members.to_member(g.principal)])
            binding.condition.expression, binding.condition.title = cond.expression, cond.title
            binding.condition.description = cond.description
            policy.bindings.append(binding)
            policy.version = 3
            self.rm.set_iam_policy(request={"resource": resource, "policy": policy})
        elif g.kind == "gcp-service-account":
            self.admin.create_service_account(request={
                "name": f"projects/{g.target}", "account_id": g.entitlement,
                "service_account": {"display_name": g.entitlement, "description": gcp_accounts.describe(g)}})
        else:
            raise ValueError(f"no naive write for {g.kind}")

    def missing(self, grants: list[Grant]) -> list[Grant]:
        """The per-grant plan: every grant read on its own."""
        return [g for g in grants if not self.exists(g)]

    def apply(self, grants: list[Grant]) -> int:
        """Check then write each grant, identities first; returns the writes made."""
        order = {"aws-ci-role": 0, "gcp-service-account": 0}
        todo = self.missing(sorted(grants, key=lambda g: order.get(g.kind, 1)))
        for g in todo:
            self.write(g)
        return len(todo)
