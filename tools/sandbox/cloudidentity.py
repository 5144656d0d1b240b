"""A loopback fake of the Cloud Identity Groups API v1 (group memberships only).

Why: ``accessctl teams apply`` converges Google Groups through the Cloud
Identity Groups API, and no offline fake of it exists. The connector drives
the real ``google-api-python-client`` (static discovery document
``cloudidentity.v1.json``) against this server; the contract test checks
every response served here against that same discovery document's schemas.

Served (paths and shapes from https://cloud.google.com/identity/docs/reference/rest):
- ``GET  /v1/groups:lookup?groupKey.id=EMAIL`` -> ``{"name": "groups/ID"}``
- ``GET  /v1/groups/ID/memberships`` (``pageSize``, ``pageToken``, ``view``)
- ``POST /v1/groups/ID/memberships`` -> a done ``Operation`` holding the Membership
- ``DELETE /v1/groups/ID/memberships/MID`` -> a done ``Operation``
Every rule below cites the reference page it follows. Not modelled: group
creation, roles other than their names, nested groups, the ``FULL`` view's
extra fields, long-running (not yet done) operations.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

DOCS = "https://cloud.google.com/identity/docs/reference/rest/v1/groups.memberships"
STAMP = "2026-11-22T12:00:00Z"
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}
# groups.memberships/list: "If unspecified, defaults to 200 for GroupView.BASIC
# and to 50 for GroupView.FULL. Must not be greater than 1000 for
# GroupView.BASIC or 500 for GroupView.FULL."
PAGE_DEFAULT = {"BASIC": 200, "FULL": 50}
PAGE_MAX = {"BASIC": 1000, "FULL": 500}
# MembershipRole.name: "Must be one of OWNER, MANAGER, MEMBER."
ROLES = {"OWNER", "MANAGER", "MEMBER"}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class FakeCloudIdentity:
    """``FakeCloudIdentity().start()``; point the connector at ``url``
    (``ACCESSCTL_CLOUDIDENTITY_ENDPOINT``). ``add_group(email, members)``
    seeds a group; ``members(email)`` reads one back; ``calls`` counts
    requests by ``"METHOD name"``; ``journal`` (when a list) keeps every
    exchange for the contract test."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.groups: dict[str, str] = {}  # group email (lower) -> "groups/ID"
        self.memberships: dict[str, dict[str, dict[str, Any]]] = {}  # "groups/ID" -> member email -> Membership
        self.calls: Counter[str] = Counter()
        self.journal: list[dict[str, Any]] | None = None
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # ---- test switches ---------------------------------------------------
    def add_group(self, email: str, members: list[str] = ()) -> str:
        with self.lock:
            name = self.groups.setdefault(email.lower(), f"groups/0{next(self._ids):05d}grp")
            self.memberships.setdefault(name, {})
            for m in members:
                self._create(name, {"preferredMemberKey": {"id": m}})
            return name

    def reset(self) -> None:
        with self.lock:
            self.groups.clear()
            self.memberships.clear()
            self.calls.clear()

    def env(self) -> dict[str, str]:
        """What a process needs to reach this fake instead of Google."""
        return {"ACCESSCTL_CLOUDIDENTITY_ENDPOINT": self.url}

    def members(self, email: str) -> list[str]:
        with self.lock:
            return sorted(self.memberships[self.groups[email.lower()]])

    def writes(self) -> int:
        return sum(n for k, n in self.calls.items() if not k.startswith("GET"))

    # ---- API -------------------------------------------------------------
    def lookup(self, query: dict[str, list[str]]) -> dict[str, Any]:
        # groups/lookup: "groupKey.id ... should be the email address of an
        # existing group"; an unknown key is NOT_FOUND.
        key = (query.get("groupKey.id") or [""])[0].lower()
        if not key:
            raise ApiError(400, "Request contains an invalid argument: groupKey.id is required.")
        if key not in self.groups:
            raise ApiError(404, "Requested entity was not found.")
        return {"name": self.groups[key]}

    def list(self, group: str, query: dict[str, list[str]]) -> dict[str, Any]:
        members = self._group(group)
        view = (query.get("view") or ["BASIC"])[0]
        if view not in PAGE_MAX:
            raise ApiError(400, f"Invalid value at 'view' ({view}).")
        size = int((query.get("pageSize") or [PAGE_DEFAULT[view]])[0] or PAGE_DEFAULT[view])
        if size < 0 or size > PAGE_MAX[view]:
            raise ApiError(400, f"pageSize must not be greater than {PAGE_MAX[view]} for the {view} view.")
        start = int((query.get("pageToken") or ["0"])[0] or 0)
        items = [members[k] for k in sorted(members)]
        page = items[start:start + size]
        out: dict[str, Any] = {"memberships": page} if page else {}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return out

    def create(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        self._group(group)
        membership = self._create(group, body)
        return {"done": True, "response": {
            "@type": "type.googleapis.com/google.apps.cloudidentity.groups.v1.Membership", **membership}}

    def delete(self, group: str, mid: str) -> dict[str, Any]:
        members = self._group(group)
        name = f"{group}/memberships/{mid}"
        email = next((e for e, m in members.items() if m["name"] == name), None)
        if email is None:  # memberships/delete on a name that does not exist
            raise ApiError(404, "Requested entity was not found.")
        del members[email]
        return {"done": True, "response": {"@type": "type.googleapis.com/google.protobuf.Empty"}}

    def _group(self, group: str) -> dict[str, dict[str, Any]]:
        if group not in self.memberships:
            raise ApiError(404, "Requested entity was not found.")
        return self.memberships[group]

    def _create(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        # Membership.preferredMemberKey: "Required. Immutable."
        key = (body.get("preferredMemberKey") or {}).get("id", "")
        if not isinstance(key, str) or "@" not in key:
            raise ApiError(400, "Request contains an invalid argument: preferredMemberKey.id must be an email.")
        # Membership.roles: "If unspecified, defaults to a single MembershipRole
        # with name MEMBER. Must not contain duplicate MembershipRoles with the same name."
        roles = body.get("roles") or [{"name": "MEMBER"}]
        names = [r.get("name") for r in roles]
        if len(set(names)) != len(names) or not set(names) <= ROLES:
            raise ApiError(400, f"Request contains an invalid argument: roles {names} (one each of {sorted(ROLES)}).")
        members = self.memberships[group]
        if key.lower() in members:  # memberships/create of an existing member: ALREADY_EXISTS (409)
            raise ApiError(409, "Error(4003): Cannot create membership 'member' because it already exists.")
        membership = {"name": f"{group}/memberships/1{next(self._ids):05d}mbr",
                      "preferredMemberKey": {"id": key.lower()},
                      "roles": [{"name": n} for n in names], "type": "USER",
                      "createTime": STAMP, "updateTime": STAMP}
        members[key.lower()] = membership
        return membership

    # ---- server ----------------------------------------------------------
    def start(self) -> "FakeCloudIdentity":
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-cloudidentity").start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeCloudIdentity":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, str, Any]:
        """Route one request: (status, method id, payload)."""
        routes = [("GET", r"/v1/groups:lookup", "groups.lookup", lambda: self.lookup(query)),
                  ("GET", r"/v1/(groups/[^/]+)/memberships", "groups.memberships.list",
                   lambda g: self.list(g, query)),
                  ("POST", r"/v1/(groups/[^/]+)/memberships", "groups.memberships.create",
                   lambda g: self.create(g, body if isinstance(body, dict) else {})),
                  ("DELETE", r"/v1/(groups/[^/]+)/memberships/([^/]+)", "groups.memberships.delete",
                   lambda g, m: self.delete(g, m))]
        for verb, pattern, op, fn in routes:
            m = re.fullmatch(pattern, path)
            if verb == method and m:
                with self.lock:
                    self.calls[f"{method} {op}"] += 1
                    try:
                        return 200, op, fn(*m.groups())
                    except ApiError as err:
                        return err.status, op, _error(err.status, err.message)
        return 404, "", _error(404, f"No route for {method} {path}.")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # FINDINGS: loopback stalls ~48 ms per call without TCP_NODELAY
    owner: FakeCloudIdentity

    def _do(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlparse(self.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(400, _error(400, "Invalid JSON payload received."))
        status, op, payload = self.owner.serve(self.command, url.path, parse_qs(url.query), body)
        if self.owner.journal is not None and op:
            self.owner.journal.append({"method": op, "status": status, "response": payload})
        self._send(status, payload)

    do_GET = do_POST = do_DELETE = _do  # noqa: N815 (http.server naming)

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _error(status: int, message: str) -> dict:
    """google.rpc.Status over HTTP, as every Google REST API answers errors."""
    return {"error": {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}}
