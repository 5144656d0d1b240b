"""Team membership connectors: GitHub teams, Identity Center groups, Google Groups.

Each hides one system's SDK behind the narrow interface of
``tools.provision.teams_sync.TeamConnector``: ``members(group)`` (one
paginated read per team), ``add`` and ``remove`` (one write per difference).
Identities are lower-cased GitHub logins (GitHub) or emails (the others), as
the org model spells them, so the diff is plain set arithmetic.
"""
from __future__ import annotations

import itertools
import os
from typing import Any

from connectors import google_discovery
from tools.core.errors import UsageError
from tools.core.orgmodel import OrgModel

CLOUDIDENTITY_SCOPE = "https://www.googleapis.com/auth/cloud-identity.groups"


class GitHubTeams:
    """GitHub team membership through the REST API with the pipeline App's
    token: ``PUT``/``DELETE /orgs/{org}/teams/{slug}/memberships/{user}``
    need the organisation "Members" permission (write), which the Actions
    ``GITHUB_TOKEN`` never has (docs.github.com/rest/teams/members)."""

    system = "github"
    PERMISSIONS = {"members": ("organization members: read",),
                   "add": ("organization members: write",), "remove": ("organization members: write",)}

    def __init__(self, org: OrgModel, github: Any = None, repository: str | None = None, **_: Any):
        if github is None:  # a connectors.github.GitHubConnector from the Actions environment
            from tools.core.github_context import client
            github = client(repository or os.environ.get("GITHUB_REPOSITORY")
                            or f"{org.setting('organization', 'github_org', default='')}/access")
        if github is None:
            raise UsageError("GitHub teams need a token that can write organisation membership in "
                             "ACCESSCTL_GITHUB_TOKEN (the accessctl App's: organisation Members read and write); "
                             "the Actions GITHUB_TOKEN can never change teams")
        self.gh = github

    def members(self, group: str) -> list[str] | None:
        found = self.gh.team_members(group)
        return None if found is None else [m.lower() for m in found]

    def _write(self, verb: str, group: str, login: str) -> None:
        org, slug = group.split("/", 1)
        path = f"/orgs/{org}/teams/{slug}/memberships/{login}"
        body = {"role": "member"} if verb == "PUT" else None
        what = ("add " if verb == "PUT" else "remove ") + f"{login} {'to' if verb == 'PUT' else 'from'} team {group}"
        self.gh._call(what, lambda: self.gh._gh.requester.requestJsonAndCheck(verb, path, input=body))

    def add(self, group: str, member: str) -> None:
        self._write("PUT", group, member)

    def remove(self, group: str, member: str) -> None:
        self._write("DELETE", group, member)


class IdentityCenterGroups:
    """IAM Identity Center group membership through identitystore
    (``ListGroupMemberships``, ``CreateGroupMembership``,
    ``DeleteGroupMembership``); members are users by ``UserName`` (email),
    listed once per run so each team costs one read."""

    system = "identity-center"
    PERMISSIONS = {"members": ("sso:ListInstances", "identitystore:GetGroupId", "identitystore:ListUsers",
                               "identitystore:ListGroupMemberships"),
                   "add": ("identitystore:CreateGroupMembership",),
                   "remove": ("identitystore:DeleteGroupMembership", "identitystore:GetGroupMembershipId")}

    def __init__(self, org: OrgModel, session: Any = None, **_: Any):
        import boto3  # connectors own the SDKs
        region = org.setting("aws", "sso_instance_region", default="us-east-1")
        session = session or boto3.Session()
        self.sso = session.client("sso-admin", region_name=region)
        self.ids = session.client("identitystore", region_name=region)
        self._store: str | None = None
        self._users: dict[str, str] | None = None  # UserName (lower) -> UserId
        self._names: dict[str, str] = {}  # UserId -> UserName (lower)
        self._groups: dict[str, str] = {}  # DisplayName -> GroupId
        self._memberships: dict[tuple[str, str], str] = {}  # (GroupId, UserId) -> MembershipId

    def _store_id(self) -> str:
        if self._store is None:
            instances = self.sso.list_instances()["Instances"]
            if not instances:
                raise LookupError("no IAM Identity Center instance is visible to the applier")
            self._store = instances[0]["IdentityStoreId"]
        return self._store

    def _directory(self) -> dict[str, str]:
        if self._users is None:
            users: dict[str, str] = {}
            for page in self.ids.get_paginator("list_users").paginate(IdentityStoreId=self._store_id()):
                for u in page["Users"]:
                    users[u["UserName"].lower()] = u["UserId"]
            self._users, self._names = users, {v: k for k, v in users.items()}
        return self._users

    def _group(self, name: str) -> str | None:
        from botocore.exceptions import ClientError
        if name not in self._groups:
            try:
                self._groups[name] = self.ids.get_group_id(IdentityStoreId=self._store_id(), AlternateIdentifier={
                    "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}})["GroupId"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return None
                raise
        return self._groups[name]

    def members(self, group: str) -> list[str] | None:
        gid = self._group(group)
        if gid is None:
            return None
        self._directory()
        out = []
        for page in self.ids.get_paginator("list_group_memberships").paginate(
                IdentityStoreId=self._store_id(), GroupId=gid):
            for m in page["GroupMemberships"]:
                uid = (m.get("MemberId") or {}).get("UserId")
                if uid is None:
                    continue
                self._memberships[(gid, uid)] = m["MembershipId"]
                out.append(self._names.get(uid) or self._describe(uid))
        return out

    def _describe(self, uid: str) -> str:
        name = self.ids.describe_user(IdentityStoreId=self._store_id(), UserId=uid)["UserName"].lower()
        self._names[uid] = name
        return name

    def _ids(self, group: str, member: str) -> tuple[str, str]:
        gid = self._group(group)
        if gid is None:
            raise LookupError(f"Identity Center has no group {group}")
        uid = self._directory().get(member.lower())
        if uid is None:
            raise LookupError(f"{member} is not a user of the Identity Center identity store")
        return gid, uid

    def add(self, group: str, member: str) -> None:
        gid, uid = self._ids(group, member)
        out = self.ids.create_group_membership(IdentityStoreId=self._store_id(), GroupId=gid,
                                               MemberId={"UserId": uid})
        self._memberships[(gid, uid)] = out["MembershipId"]

    def remove(self, group: str, member: str) -> None:
        gid, uid = self._ids(group, member)
        mid = self._memberships.get((gid, uid))
        if mid is None:
            mid = self.ids.get_group_membership_id(IdentityStoreId=self._store_id(), GroupId=gid,
                                                   MemberId={"UserId": uid})["MembershipId"]
        self.ids.delete_group_membership(IdentityStoreId=self._store_id(), MembershipId=mid)
        self._memberships.pop((gid, uid), None)


class GoogleGroups:
    """Google Groups membership through the Cloud Identity Groups API v1,
    with google-api-python-client and its bundled (static, offline)
    discovery document; ``ACCESSCTL_CLOUDIDENTITY_ENDPOINT`` points it at
    the sandbox. Needs ``cloud-identity.groups`` scope and a Groups Admin
    (or group manager) role for the applier's identity."""

    system = "google-groups"
    # Google Groups are not governed by Cloud IAM permissions: the caller needs
    # the OAuth scope and an admin role (or the group's OWNER/MANAGER role);
    # https://cloud.google.com/identity/docs/how-to/setup#assigning_an_admin_role_to_the_service_account
    PERMISSIONS = {"members": ("OAuth scope cloud-identity.groups.readonly", "Groups Reader admin role"),
                   "add": ("OAuth scope cloud-identity.groups", "Groups Admin role (or group MANAGER)"),
                   "remove": ("OAuth scope cloud-identity.groups", "Groups Admin role (or group MANAGER)")}
    PAGE = 1000  # the maximum pageSize for the BASIC view

    def __init__(self, org: OrgModel | None = None, endpoint: str | None = None, **_: Any):
        endpoint = endpoint or os.environ.get("ACCESSCTL_CLOUDIDENTITY_ENDPOINT")
        self.api = google_discovery.build("cloudidentity", "v1", CLOUDIDENTITY_SCOPE, endpoint,
                                          "Cloud Identity Groups API", "ACCESSCTL_CLOUDIDENTITY_ENDPOINT")
        self._groups: dict[str, str] = {}  # email -> groups/ID
        self._memberships: dict[tuple[str, str], str] = {}  # (groups/ID, email) -> membership name

    def _group(self, email: str) -> str | None:
        from googleapiclient.errors import HttpError
        if email not in self._groups:
            try:
                self._groups[email] = self.api.groups().lookup(**{"groupKey_id": email}).execute(num_retries=3)["name"]
            except HttpError as exc:
                if exc.resp.status in (403, 404):  # an unknown group reads as 403 or 404
                    return None
                raise
        return self._groups[email]

    def members(self, group: str) -> list[str] | None:
        name = self._group(group)
        if name is None:
            return None
        out, token = [], None
        for _ in itertools.count():
            page = self.api.groups().memberships().list(parent=name, view="BASIC", pageSize=self.PAGE,
                                                        pageToken=token).execute(num_retries=3)
            for m in page.get("memberships", []):
                email = m["preferredMemberKey"]["id"].lower()
                self._memberships[(name, email)] = m["name"]
                out.append(email)
            token = page.get("nextPageToken")
            if not token:
                return out
        raise AssertionError("unreachable")

    def add(self, group: str, member: str) -> None:
        name = self._group(group)
        if name is None:
            raise LookupError(f"Google Group {group} does not exist")
        op = self.api.groups().memberships().create(parent=name, body={
            "preferredMemberKey": {"id": member}, "roles": [{"name": "MEMBER"}]}).execute(num_retries=3)
        self._memberships[(name, member.lower())] = op.get("response", {}).get("name", "")

    def remove(self, group: str, member: str) -> None:
        name = self._group(group)
        if name is None:
            raise LookupError(f"Google Group {group} does not exist")
        mname = self._memberships.get((name, member.lower())) or self.api.groups().memberships().lookup(
            parent=name, **{"memberKey_id": member}).execute(num_retries=3)["name"]
        self.api.groups().memberships().delete(name=mname).execute(num_retries=3)
        self._memberships.pop((name, member.lower()), None)
