"""Secret Manager v1 (REST) in the GCP fake, for google-cloud-secret-manager's
``transport="rest"``: the store a GCP integration's key lives in.

Shapes and rules from the published REST reference
(https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets
and .../projects.secrets.versions), as the client's REST transport sends them:

- ``POST /v1/projects/{p}/secrets?secretId={id}`` creates a Secret; ids are
  1-255 characters of ``[A-Za-z0-9_-]``; an existing id is 409 ALREADY_EXISTS;
  labels: keys and values of lowercase letters, digits, ``_`` and ``-``, at most
  63 characters (https://cloud.google.com/secret-manager/docs/labels);
  ``replication`` is required.
- ``POST …/secrets/{s}:addVersion`` with ``payload.data`` (base64), at most
  64 KiB (https://cloud.google.com/secret-manager/quotas).
- ``GET …/secrets/{s}/versions/{v|latest}:access``; a destroyed or missing
  version is 404 (``latest`` resolves to the newest enabled version).
- ``GET``/``PATCH`` (``updateMask``)/``DELETE`` ``…/secrets/{s}``; ``GET …/secrets``.
"""
from __future__ import annotations

import base64
import copy
import re
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from tools.sandbox.gcp_iam import ApiError

SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
LABEL = re.compile(r"^[a-z0-9_-]{0,63}$")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
MAX_PAYLOAD = 64 * 1024
ROUTES = [
    ("POST", re.compile(r"^/v1/projects/([^/]+)/secrets$"), "create"),
    ("GET", re.compile(r"^/v1/projects/([^/]+)/secrets$"), "list"),
    ("POST", re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+):addVersion$"), "add_version"),
    ("GET", re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)/versions/([^/:]+):access$"), "access"),
    ("GET", re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)$"), "get"),
    ("PATCH", re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)$"), "patch"),
    ("DELETE", re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)$"), "delete"),
]


class SecretManagerFake:
    """Expects ``accounts`` (the projects the fake hosts), ``_lock`` and ``_enter``."""

    accounts: dict[str, Any]
    _lock: threading.RLock
    _enter: Callable[[str], None]
    secrets: dict[str, dict[str, Any]]  # name -> {"secret": {...}, "versions": [{"name", "data", "state"}]}

    def _secrets_reset(self) -> None:
        self.secrets = {}

    def secret_manager(self, verb: str, path: str, query: dict[str, list[str]], body: dict) -> dict | None:
        """Serve one REST call; None when the path is not Secret Manager's."""
        for method, route, name in ROUTES:
            m = route.match(path)
            if m and method == verb:
                self._enter(f"secretmanager.{name}")
                project = m.group(1)
                if project not in self.accounts:
                    raise ApiError(403, f"Permission denied on project {project} (or it does not exist).")
                return getattr(self, f"_sm_{name}")(*m.groups(), query=query, body=body)
        return None

    def _sm_create(self, project: str, query: dict, body: dict) -> dict:
        sid = (query.get("secretId") or [""])[0]
        if not SECRET_ID.match(sid):
            raise ApiError(400, f"Invalid secret id {sid!r}: 1-255 characters of letters, digits, - and _.")
        if "replication" not in body:
            raise ApiError(400, "Secret.replication is required.")
        _check_labels(body.get("labels") or {})
        name = f"projects/{project}/secrets/{sid}"
        with self._lock:
            if name in self.secrets:
                raise ApiError(409, f"Secret [{name}] already exists.")
            secret = {"name": name, "replication": body["replication"], "labels": body.get("labels") or {},
                      "annotations": body.get("annotations") or {}, "createTime": _now(), "etag": '"1"'}
            self.secrets[name] = {"secret": secret, "versions": []}
            return copy.deepcopy(secret)

    def _sm_list(self, project: str, query: dict, body: dict) -> dict:
        # filter: only the `labels.<key>=<value>` form the connector uses
        # (https://cloud.google.com/secret-manager/docs/filtering); anything else is refused
        wanted = (query.get("filter") or [""])[0]
        key = value = None
        if wanted:
            m = re.match(r"^labels\.([a-z][a-z0-9_-]*)\s*[=:]\s*([a-z0-9_-]*)$", wanted)
            if not m:
                raise ApiError(400, f"This fake only understands filters of the form labels.KEY=VALUE, not {wanted!r}.")
            key, value = m.groups()
        with self._lock:
            found = [copy.deepcopy(s["secret"]) for n, s in sorted(self.secrets.items())
                     if n.startswith(f"projects/{project}/secrets/")
                     and (key is None or s["secret"]["labels"].get(key) == value)]
        return {"secrets": found, "totalSize": len(found)} if found else {}

    def _find(self, project: str, sid: str) -> dict:
        name = f"projects/{project}/secrets/{sid}"
        if name not in self.secrets:
            raise ApiError(404, f"Secret [{name}] not found or has no versions.")
        return self.secrets[name]

    def _sm_add_version(self, project: str, sid: str, query: dict, body: dict) -> dict:
        data = (body.get("payload") or {}).get("data") or ""
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raise ApiError(400, "payload.data must be base64.") from None
        if len(raw) > MAX_PAYLOAD:
            raise ApiError(400, f"Secret payload is {len(raw)} bytes, over the limit of {MAX_PAYLOAD}.")
        with self._lock:
            entry = self._find(project, sid)
            number = len(entry["versions"]) + 1
            version = {"name": f"{entry['secret']['name']}/versions/{number}", "state": "ENABLED",
                       "createTime": _now(), "data": data}
            entry["versions"].append(version)
            return {k: v for k, v in version.items() if k != "data"}

    def _sm_access(self, project: str, sid: str, ver: str, query: dict, body: dict) -> dict:
        with self._lock:
            entry = self._find(project, sid)
            live = [v for v in entry["versions"] if v["state"] == "ENABLED"]
            pick = live[-1:] if ver == "latest" else [v for v in live if v["name"].endswith(f"/versions/{ver}")]
            if not pick:
                raise ApiError(404, f"Secret Version [{entry['secret']['name']}/versions/{ver}] not found.")
            return {"name": pick[0]["name"], "payload": {"data": pick[0]["data"]}}

    def _sm_get(self, project: str, sid: str, query: dict, body: dict) -> dict:
        with self._lock:
            return copy.deepcopy(self._find(project, sid)["secret"])

    def _sm_patch(self, project: str, sid: str, query: dict, body: dict) -> dict:
        mask = [p for p in ",".join(query.get("updateMask") or []).split(",") if p]
        if not mask:
            raise ApiError(400, "updateMask is required.")
        with self._lock:
            secret = self._find(project, sid)["secret"]
            for field in mask:
                if field not in ("labels", "annotations"):
                    raise ApiError(400, f"Field {field!r} cannot be updated here.")
                if field == "labels":
                    _check_labels(body.get("labels") or {})
                secret[field] = body.get(field) or {}
            return copy.deepcopy(secret)

    def _sm_delete(self, project: str, sid: str, query: dict, body: dict) -> dict:
        with self._lock:
            self._find(project, sid)
            del self.secrets[f"projects/{project}/secrets/{sid}"]
        return {}

    def secret_value(self, project: str, sid: str) -> bytes | None:
        """The latest enabled version's bytes (for tests), or None."""
        with self._lock:
            entry = self.secrets.get(f"projects/{project}/secrets/{sid}")
            live = [v for v in (entry or {}).get("versions", []) if v["state"] == "ENABLED"]
            return base64.b64decode(live[-1]["data"]) if live else None


def _check_labels(labels: dict) -> None:
    for k, v in labels.items():
        if not LABEL_KEY.match(str(k)) or not LABEL.match(str(v)):
            raise ApiError(400, f"Invalid label {k}={v!r}: lowercase letters, digits, _ and -, at most 63 "
                                "characters (https://cloud.google.com/secret-manager/docs/labels).")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
