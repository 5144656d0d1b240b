"""Third-party integrations on AWS: an IAM user, its one access key, and the
Secrets Manager secret that holds it (the one deliberate exception to "no
long-lived secrets", README "Safety invariants" 8).

The pipeline owns such a user whole, like a CI role: it lives under the
pipeline's path with the ``managed-by`` tag, and every access key on it that
the pipeline did not issue (the ``key-id`` tag), or an old key past its
rotation grace, is live access nobody requested: the diff reports it as
extra and ``--mode fix`` deletes it. The key's freshness is an attribute of
the identity (``key``: ``current`` / ``due`` / ``missing``), so a key older
than ``rotate_days`` is drift too, and applying the desired ``current``
rotates it: new key, secret updated, old key kept for the org model's grace
period, then deleted.

The secret access key goes from ``CreateAccessKey``'s answer straight into
``PutSecretValue``; it is never returned, logged, tagged or recorded.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from tools.core.model import AWS_INTEGRATION_KIND, Grant, Target

MANAGED_BY = "accessctl"
KEY_KIND = "aws-access-key"  # live only: a key on an integration user that the pipeline does not keep
USER_POLICY_KIND = "aws-role-policy"  # grants to an integration attach managed policies to its user
KEY_CURRENT, KEY_DUE, KEY_MISSING = "current", "due", "missing"


def now() -> datetime:
    """The pipeline's clock: ``ACCESSCTL_NOW`` when set (the demo and tests move
    it, as the CLI's --now does), else the real time."""
    text = os.environ.get("ACCESSCTL_NOW")
    if text:
        from tools.core.expiry import parse_expiry
        return parse_expiry(text)
    return datetime.now(timezone.utc)


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def secret_name(target: Target, user: str) -> str:
    """The convention: one secret per integration, named after account and user."""
    return f"accessctl/{target.name}/{user}"


def _error(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def is_ours(user: dict[str, Any], tags: dict[str, str], path: str) -> bool:
    return user.get("Path") == path and tags.get("managed-by") == MANAGED_BY and tags.get("use") == "integration"


def key_age(key: dict[str, Any], tags: dict[str, str]) -> timedelta:
    """How old the current key is, on the pipeline's clock: from the
    ``rotated-at`` the pipeline wrote when it issued this key, else from IAM's
    CreateDate. (The pipeline's clock can be moved, for the demo and tests,
    while IAM stamps CreateDate with the real one; in production they agree.)"""
    issued = _parse(tags.get("rotated-at")) if tags.get("key-id") == key["AccessKeyId"] else None
    if issued is None:
        created = key["CreateDate"]
        issued = (_parse(created) if isinstance(created, str) else created.astimezone(timezone.utc)) or now()
    return now() - issued


def read_integrations(iam, target: Target, path: str, grace: timedelta) -> list[Grant]:
    """Integration users under ``path`` that carry the pipeline's marker, with
    their key state, foreign or expired keys and attached policies."""
    grants: list[Grant] = []
    for page in iam.get_paginator("list_users").paginate(PathPrefix=path):
        for user in page["Users"]:
            if user.get("Path") != path:
                continue
            name = user["UserName"]
            tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]}
            if not is_ours(user, tags, path):
                continue
            principal = f"serviceAccount:{target.name}/{name}"
            keys = [k for p in iam.get_paginator("list_access_keys").paginate(UserName=name)
                    for k in p["AccessKeyMetadata"]]
            current = next((k for k in keys if k["AccessKeyId"] == tags.get("key-id")), None)
            rotate_days = int(tags.get("rotate-days") or 30)
            state = KEY_MISSING if current is None else (
                KEY_DUE if key_age(current, tags) > timedelta(days=rotate_days) else KEY_CURRENT)
            attrs = {"owner": tags.get("owner", ""), "use": "integration", "vendor": tags.get("vendor", ""),
                     "rotate_days": tags.get("rotate-days", ""), "key": state}
            grants.append(Grant("aws", target.id, principal, AWS_INTEGRATION_KIND, name,
                                _parse(tags.get("expires")), tags.get("request"), tuple(sorted(attrs.items()))))
            rotated = _parse(tags.get("rotated-at"))
            for k in keys:
                kid = k["AccessKeyId"]
                if kid == tags.get("key-id"):
                    continue
                if kid == tags.get("previous-key-id") and rotated and now() < rotated + grace:
                    continue  # the vendor's grace period to pick up the new key
                grants.append(Grant("aws", target.id, principal, KEY_KIND, kid))
            for pol in [p for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=name)
                        for p in page["AttachedPolicies"]]:
                grants.append(Grant("aws", target.id, principal, USER_POLICY_KIND, pol["PolicyArn"]))
    return grants


def integration_users(iam, path: str) -> set[str]:
    """Names of the pipeline's integration users in one account."""
    out = set()
    for page in iam.get_paginator("list_users").paginate(PathPrefix=path):
        for user in page["Users"]:
            tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user["UserName"])["Tags"]}
            if is_ours(user, tags, path):
                out.add(user["UserName"])
    return out


class NotOursUser(Exception):
    """A user exists under the wanted name, but the pipeline did not create it."""


class IntegrationWriter:
    """Writes for integration users in one account: IAM plus Secrets Manager."""

    def __init__(self, iam, secrets, target: Target, path: str):
        self.iam, self.secrets, self.target, self.path = iam, secrets, target, path
        self.calls = 0

    def _call(self, client, method: str, **kwargs) -> Any:
        self.calls += 1
        return getattr(client, method)(**kwargs)

    def _tags(self, grant: Grant) -> dict[str, str]:
        tags = {"managed-by": MANAGED_BY, "use": "integration", "owner": grant.attr("owner") or "",
                "vendor": grant.attr("vendor") or "", "rotate-days": grant.attr("rotate_days") or "30"}
        if grant.request:
            tags["request"] = grant.request
        if grant.expires is not None:
            tags["expires"] = iso(grant.expires)
        return tags

    def _owned(self, name: str) -> dict[str, str]:
        user = self._call(self.iam, "get_user", UserName=name)["User"]
        tags = {t["Key"]: t["Value"] for t in self._call(self.iam, "list_user_tags", UserName=name)["Tags"]}
        if not is_ours(user, tags, self.path):
            raise NotOursUser(f"IAM user {name} exists but was not created by accessctl; the pipeline never "
                              "adopts it or issues keys for it: choose another name, or delete the user")
        return tags

    def create(self, grant: Grant) -> None:
        name = grant.entitlement
        try:
            self._call(self.iam, "create_user", Path=self.path, UserName=name,
                       Tags=[{"Key": k, "Value": v} for k, v in sorted(self._tags(grant).items())])
        except ClientError as exc:
            if _error(exc) != "EntityAlreadyExists":
                raise
            self._owned(name)  # a crash after create: ours, carry on; anyone else's: refuse
        self.rotate(grant)

    def update(self, grant: Grant, current: Grant | None) -> None:
        name = grant.entitlement
        self._owned(name)
        self._call(self.iam, "tag_user", UserName=name,
                   Tags=[{"Key": k, "Value": v} for k, v in sorted(self._tags(grant).items())])
        if current is None or current.attr("key") != KEY_CURRENT:
            self.rotate(grant)
        self._tag_secret(grant)

    def rotate(self, grant: Grant) -> None:
        """Issue a new key into the secret; the previous one stays for the
        grace period (read_integrations then reports it for deletion).

        Order matters for a crash: key, then secret, then the ``key-id`` tag.
        A key not yet tagged is foreign at the next read and deleted, and the
        identity reads ``missing``, so the next run issues a fresh one."""
        name = grant.entitlement
        tags = {t["Key"]: t["Value"] for t in self._call(self.iam, "list_user_tags", UserName=name)["Tags"]}
        previous = tags.get("key-id")
        live = {k["AccessKeyId"] for k in self._call(self.iam, "list_access_keys", UserName=name)["AccessKeyMetadata"]}
        for kid in sorted(live - {previous}):
            # IAM allows two keys per user: anything but the key in use goes first
            self._delete_key(name, kid)
        key = self._call(self.iam, "create_access_key", UserName=name)["AccessKey"]
        value = json.dumps({"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]})
        del key  # nothing below may see the secret half
        self._put_secret(grant, value)
        new_tags = {"key-id": json.loads(value)["AccessKeyId"], "rotated-at": iso(now())}
        if previous in live:
            new_tags["previous-key-id"] = previous
        self._call(self.iam, "tag_user", UserName=name, Tags=[{"Key": k, "Value": v} for k, v in new_tags.items()])
        if previous not in live and "previous-key-id" in tags:
            self._call(self.iam, "untag_user", UserName=name, TagKeys=["previous-key-id"])

    def _secret_tags(self, grant: Grant) -> list[dict[str, str]]:
        tags = {"managed-by": MANAGED_BY, "owner": grant.attr("owner") or "", "vendor": grant.attr("vendor") or "",
                "request": grant.request or "", "expires": iso(grant.expires) if grant.expires else ""}
        return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]

    def _put_secret(self, grant: Grant, value: str) -> None:
        name = secret_name(self.target, grant.entitlement)
        try:
            self._call(self.secrets, "put_secret_value", SecretId=name, SecretString=value)
        except ClientError as exc:
            if _error(exc) != "ResourceNotFoundException":
                raise
            self._call(self.secrets, "create_secret", Name=name, SecretString=value, Tags=self._secret_tags(grant),
                       Description=f"accessctl: access key of integration {grant.entitlement} "
                                   f"({grant.attr('vendor') or 'vendor'})")

    def _tag_secret(self, grant: Grant) -> None:
        try:
            self._call(self.secrets, "tag_resource", SecretId=secret_name(self.target, grant.entitlement),
                       Tags=self._secret_tags(grant))
        except ClientError as exc:
            if _error(exc) != "ResourceNotFoundException":
                raise

    def _delete_key(self, user: str, kid: str) -> None:
        try:
            self._call(self.iam, "delete_access_key", UserName=user, AccessKeyId=kid)
        except ClientError as exc:
            if _error(exc) != "NoSuchEntity":
                raise

    def remove_key(self, grant: Grant) -> None:
        self._delete_key(grant.principal.rpartition("/")[2], grant.entitlement)

    def user_policy(self, grant: Grant, add: bool) -> None:
        user = grant.principal.rpartition("/")[2]
        if add:
            self._owned(user)
            self._call(self.iam, "attach_user_policy", UserName=user, PolicyArn=grant.entitlement)
            return
        try:
            self._call(self.iam, "detach_user_policy", UserName=user, PolicyArn=grant.entitlement)
        except ClientError as exc:
            if _error(exc) != "NoSuchEntity":
                raise

    def delete(self, grant: Grant) -> None:
        """Expiry or removal: every key, every policy, the user, then the secret."""
        name = grant.entitlement
        try:
            self._owned(name)
            for k in self._call(self.iam, "list_access_keys", UserName=name)["AccessKeyMetadata"]:
                self._delete_key(name, k["AccessKeyId"])
            for p in self._call(self.iam, "list_attached_user_policies", UserName=name)["AttachedPolicies"]:
                self._call(self.iam, "detach_user_policy", UserName=name, PolicyArn=p["PolicyArn"])
            for pname in self._call(self.iam, "list_user_policies", UserName=name)["PolicyNames"]:
                self._call(self.iam, "delete_user_policy", UserName=name, PolicyName=pname)
            self._call(self.iam, "delete_user", UserName=name)
        except ClientError as exc:
            if _error(exc) != "NoSuchEntity":
                raise
        try:
            # no recovery window: the key in it is already deleted, and a
            # secret "scheduled for deletion" would still be readable meanwhile
            self._call(self.secrets, "delete_secret", SecretId=secret_name(self.target, name),
                       ForceDeleteWithoutRecovery=True)
        except ClientError as exc:
            if _error(exc) != "ResourceNotFoundException":
                raise
