"""Third-party integrations on GCP: a service account with one user-managed
key that lives only in Secret Manager (README, "Safety invariants" 8).

The secret ``accessctl-<account id>`` in the integration's project is both
the store and the integration's record: labels carry what labels can
(``managed-by``, ``use``, ``owner``), annotations the rest (vendor, request
path, expiry, rotate_days, the id of the key in use and of the previous one,
when it was rotated). GCP's own ``validAfterTime`` of the key in use gives
its age: older than ``rotate_days`` reads as ``key: due``, and applying the
desired ``current`` rotates it (new key, new secret version, the old key
kept for the org model's grace period, then deleted). Any other
user-managed key is a key the pipeline did not issue: drift
(connectors.gcp_sa.KEY_KIND).

The private key goes from ``CreateServiceAccountKey``'s answer straight into
``AddSecretVersion``; it is never returned, logged or recorded.
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import iam_admin_v1, secretmanager_v1
from google.protobuf import field_mask_pb2

from connectors import gcp_sa
from tools.core.model import Grant

KEY_CURRENT, KEY_DUE, KEY_MISSING = "current", "due", "missing"


def now() -> datetime:
    """The pipeline's clock (``ACCESSCTL_NOW`` when set, as the CLI's --now)."""
    text = os.environ.get("ACCESSCTL_NOW")
    if text:
        from tools.core.expiry import parse_expiry
        return parse_expiry(text)
    return datetime.now(timezone.utc)


def secret_id(account: str) -> str:
    return f"accessctl-{account}"


def _label(text: str) -> str:
    """A label value: lowercase letters, digits, - and _, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


class Secrets:
    """Secret Manager for the connector (REST transport; ACCESSCTL_GCP_ENDPOINT points it at the fake)."""

    def __init__(self, endpoint: str | None, call):
        self._endpoint, self._call, self._client = endpoint, call, None

    def client(self) -> secretmanager_v1.SecretManagerServiceClient:
        if self._client is None:
            endpoint = self._endpoint or os.environ.get("ACCESSCTL_GCP_ENDPOINT")
            if endpoint:
                self._client = secretmanager_v1.SecretManagerServiceClient(
                    credentials=AnonymousCredentials(), transport="rest",
                    client_options=ClientOptions(api_endpoint=endpoint))
            else:
                self._client = secretmanager_v1.SecretManagerServiceClient(transport="rest")
        return self._client

    def get(self, project: str, account: str) -> Any | None:
        try:
            return self._call(self.client().get_secret, {"name": f"projects/{project}/secrets/{secret_id(account)}"})
        except gexc.NotFound:
            return None

    def managed(self, project: str) -> dict[str, Any]:
        """Account id → the pipeline's integration secret, in one listing per
        project (not one read per service account)."""
        out: dict[str, Any] = {}
        token = ""
        while True:
            page = self._call(self.client().list_secrets, {
                "parent": f"projects/{project}", "filter": "labels.managed-by=accessctl", "page_token": token})
            for secret in page.secrets:
                sid = secret.name.rpartition("/")[2]
                if sid.startswith("accessctl-") and dict(secret.labels).get("use") == "integration":
                    out[sid.removeprefix("accessctl-")] = secret
            token = page.next_page_token
            if not token:
                return out

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.close()
            self._client = None


def integration_view(grant: Grant, secret: Any, keys: list[Any], grace: timedelta) -> tuple[Grant, set[str]]:
    """The identity with its integration attributes, and the key ids the
    pipeline keeps (the one in use, the previous one during its grace)."""
    notes = dict(secret.annotations)
    current = next((k for k in keys if gcp_sa.key_id(k.name) == notes.get("key-id")), None)
    rotate_days = int(notes.get("rotate-days") or 30)
    state = KEY_MISSING
    if current is not None:
        # on the pipeline's clock (see connectors/aws_integration.key_age): when it
        # issued this key, else GCP's validAfterTime
        issued = _parse(notes.get("rotated-at"))
        if issued is None:
            after = current.valid_after_time
            issued = after.astimezone(timezone.utc) if isinstance(after, datetime) else now()
        age = now() - issued
        state = KEY_DUE if age > timedelta(days=rotate_days) else KEY_CURRENT
    attrs = dict(grant.attributes) | {"use": "integration", "vendor": notes.get("vendor", ""),
                                      "rotate_days": notes.get("rotate-days", ""), "key": state}
    kept = {notes.get("key-id", "")}
    rotated = _parse(notes.get("rotated-at"))
    if notes.get("previous-key-id") and rotated and now() < rotated + grace:
        kept.add(notes["previous-key-id"])
    from dataclasses import replace
    return replace(grant, attributes=tuple(sorted(attrs.items()))), kept


def ensure(conn, grant: Grant, current: Grant | None, sa_name: str) -> None:
    """Create or update the secret, and rotate the key unless the one in use is current."""
    secrets: Secrets = conn.secrets
    project, account = grant.target, grant.entitlement
    secret = secrets.get(project, account)
    labels = {"managed-by": "accessctl", "use": "integration", "owner": _label(grant.attr("owner") or "")}
    notes = {"vendor": grant.attr("vendor") or "", "rotate-days": grant.attr("rotate_days") or "30",
             "request": grant.request or "", "expires": _iso(grant.expires) if grant.expires else ""}
    if secret is None:
        secret = conn._call(secrets.client().create_secret, {
            "parent": f"projects/{project}", "secret_id": secret_id(account),
            "secret": {"replication": {"automatic": {}}, "labels": labels, "annotations": notes}})
    else:
        merged = dict(secret.annotations) | notes
        if dict(secret.labels) != labels or dict(secret.annotations) != merged:
            conn._call(secrets.client().update_secret, {
                "secret": {"name": secret.name, "labels": labels, "annotations": merged},
                "update_mask": field_mask_pb2.FieldMask(paths=["labels", "annotations"])})
            secret = secrets.get(project, account)
    if current is not None and current.attr("key") == KEY_CURRENT and current.attr("use") == "integration":
        return
    rotate(conn, secret, sa_name)


def rotate(conn, secret: Any, sa_name: str) -> None:
    """New key into a new secret version; keys other than the one in use go first."""
    admin = conn._admin()
    notes = dict(secret.annotations)
    in_use = notes.get("key-id", "")
    keys = conn._call(admin.list_service_account_keys, iam_admin_v1.ListServiceAccountKeysRequest(
        name=sa_name, key_types=[gcp_sa.USER_MANAGED])).keys
    for k in keys:
        if gcp_sa.key_id(k.name) != in_use:
            try:
                conn._call(admin.delete_service_account_key, {"name": k.name})
            except gexc.NotFound:
                pass
    key = conn._call(admin.create_service_account_key, {"name": sa_name})
    new_id = gcp_sa.key_id(key.name)
    conn._call(conn.secrets.client().add_secret_version, {"parent": secret.name,
                                                          "payload": {"data": key.private_key_data}})
    del key  # nothing below may see the private key
    notes |= {"key-id": new_id, "rotated-at": _iso(now())}
    if in_use and any(gcp_sa.key_id(k.name) == in_use for k in keys):
        notes["previous-key-id"] = in_use
    else:
        notes.pop("previous-key-id", None)
    conn._call(conn.secrets.client().update_secret, {
        "secret": {"name": secret.name, "labels": dict(secret.labels), "annotations": notes},
        "update_mask": field_mask_pb2.FieldMask(paths=["annotations"])})


def remove(conn, project: str, account: str, sa_name: str) -> None:
    """Expiry or removal: every user-managed key and the secret go at once (the
    account itself is disabled, then deleted after the grace period)."""
    admin = conn._admin()
    keys = conn._call(admin.list_service_account_keys, iam_admin_v1.ListServiceAccountKeysRequest(
        name=sa_name, key_types=[gcp_sa.USER_MANAGED])).keys
    for k in keys:
        try:
            conn._call(admin.delete_service_account_key, {"name": k.name})
        except gexc.NotFound:
            pass
    try:
        conn._call(conn.secrets.client().delete_secret,
                   {"name": f"projects/{project}/secrets/{secret_id(account)}"})
    except gexc.NotFound:
        pass
