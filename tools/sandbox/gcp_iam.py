"""IAM admin v1 (service accounts) of the GCP fake, served over gRPC.

``IAMClient`` has no REST transport, so this half of the fake answers gRPC;
``FakeGcp`` (gcp.py) mixes it in and owns the state (``accounts``,
``policies``, the lock). Rules, each from ``iam.v1.json`` (the discovery
document google-api-python-client ships): account ids 6-30 characters of
``[a-z]([-a-z0-9]*[a-z0-9])``, descriptions at most 256 UTF-8 bytes, list
pages of at most 100; deleting an account leaves ``deleted:serviceAccount:…``
in the policies that named it (``Binding.members`` in cloudresourcemanager.v3.json).
"""
from __future__ import annotations

import base64
import json
import os
import re
import threading
from typing import Any, Callable

from connectors.gcp_emulation import MessageToDict, empty_pb2, grpc, iam

HTTP_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
               409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
GRPC_CODE = {400: grpc.StatusCode.INVALID_ARGUMENT, 403: grpc.StatusCode.PERMISSION_DENIED,
             404: grpc.StatusCode.NOT_FOUND, 409: grpc.StatusCode.ABORTED,
             429: grpc.StatusCode.RESOURCE_EXHAUSTED, 500: grpc.StatusCode.INTERNAL,
             503: grpc.StatusCode.UNAVAILABLE}
MESSAGES = {409: "There were concurrent policy changes. Please retry the whole read-modify-write "
                 "with exponential backoff.",
            429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.",
            503: "The service is currently unavailable."}
ACCOUNT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SA_PATH = re.compile(r"^projects/([^/]+)/serviceAccounts/([^/]+)$")
SERVICE = "google.iam.admin.v1.IAM"


class ApiError(Exception):
    """An error answer, as HTTP status (REST) or the matching gRPC code."""

    def __init__(self, status: int, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or GRPC_CODE.get(status, grpc.StatusCode.UNKNOWN)


def _etag() -> str:
    return base64.b64encode(os.urandom(8)).decode()



class IamAdmin:
    """The service-account RPCs; expects ``accounts``, ``policies``, ``_lock``,
    ``_unseen``, ``propagation``, ``_enter`` and ``_record`` from FakeGcp."""

    accounts: dict[str, dict[str, iam.ServiceAccount]]
    policies: dict[str, dict[str, Any]]
    _lock: threading.RLock
    _unseen: dict[str, int]
    propagation: int
    _enter: Callable[[str], None]
    _record: Callable[..., None]

    # ---- IAM admin: service accounts ---------------------------------------
    def _grpc_handler(self) -> grpc.GenericRpcHandler:
        def rpc(method: str, req_type: Any, fn: Callable, resp_ser: Callable) -> grpc.RpcMethodHandler:
            def handle(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    self._enter(method)
                    response = fn(request)
                    self._record("grpc", method, "", _json(request), _json(response))
                    return response
                except ApiError as err:
                    context.abort(err.code, err.message)
            return grpc.unary_unary_rpc_method_handler(handle, request_deserializer=req_type.deserialize,
                                                       response_serializer=resp_ser)
        sa_out = iam.ServiceAccount.serialize
        empty_out = empty_pb2.Empty.SerializeToString
        return grpc.method_handlers_generic_handler(SERVICE, {
            "CreateServiceAccount": rpc("CreateServiceAccount", iam.CreateServiceAccountRequest,
                                        self._rpc_create, sa_out),
            "GetServiceAccount": rpc("GetServiceAccount", iam.GetServiceAccountRequest,
                                     lambda r: _copy(self._find_sa(r.name)), sa_out),
            "ListServiceAccounts": rpc("ListServiceAccounts", iam.ListServiceAccountsRequest,
                                       self._rpc_list, iam.ListServiceAccountsResponse.serialize),
            "PatchServiceAccount": rpc("PatchServiceAccount", iam.PatchServiceAccountRequest,
                                       self._rpc_patch, sa_out),
            "DisableServiceAccount": rpc("DisableServiceAccount", iam.DisableServiceAccountRequest,
                                         lambda r: self._set_disabled(r.name, True), empty_out),
            "EnableServiceAccount": rpc("EnableServiceAccount", iam.EnableServiceAccountRequest,
                                        lambda r: self._set_disabled(r.name, False), empty_out),
            "DeleteServiceAccount": rpc("DeleteServiceAccount", iam.DeleteServiceAccountRequest,
                                        self._rpc_delete, empty_out),
        })

    def _rpc_create(self, req: iam.CreateServiceAccountRequest) -> iam.ServiceAccount:
        project = req.name.removeprefix("projects/")
        if not req.name.startswith("projects/") or not project:
            raise ApiError(400, f"Invalid project resource name {req.name!r}.")
        if not ACCOUNT_ID.match(req.account_id):
            raise ApiError(400, f"Invalid account id {req.account_id!r}: 6-30 characters, lowercase "
                                "letters, digits and hyphens, starting with a letter.")
        if len(req.service_account.description.encode()) > 256:
            raise ApiError(400, "Service account description must be at most 256 bytes.")
        with self._lock:
            sa = self._create_sa(project, req.account_id, req.service_account.display_name,
                                 req.service_account.description)
            if self.propagation:
                self._unseen[sa.email] = self.propagation
            return _copy(sa)

    def _create_sa(self, project: str, account_id: str, display_name: str, description: str) -> iam.ServiceAccount:
        if project not in self.accounts:
            raise ApiError(404, f"Project {project!r} not found.")
        email = f"{account_id}@{project}.iam.gserviceaccount.com"
        if email in self.accounts[project]:
            raise ApiError(409, f"Service account {account_id} already exists within project "
                                f"projects/{project}.", grpc.StatusCode.ALREADY_EXISTS)
        # A fresh 21-digit id each time: a re-created account is a different principal.
        unique = str(1 + int.from_bytes(os.urandom(9), "big") % (10**21 - 1)).rjust(21, "1")
        sa = iam.ServiceAccount(name=f"projects/{project}/serviceAccounts/{email}", project_id=project,
                                unique_id=unique, email=email, display_name=display_name,
                                description=description, oauth2_client_id=unique, etag=b"MDEwMjE5MjA=")
        self.accounts[project][email] = sa
        return sa

    def _find_sa(self, name: str) -> iam.ServiceAccount:
        m = SA_PATH.match(name)
        if not m:
            raise ApiError(400, f"Invalid service account name {name!r}.")
        project, ident = m.groups()
        with self._lock:
            pools = self.accounts.values() if project == "-" else [self.accounts.get(project, {})]
            for pool in pools:
                for sa in pool.values():
                    if ident in (sa.email, sa.unique_id):
                        return sa
        raise ApiError(404, f"Unknown service account {name}.")

    def _rpc_list(self, req: iam.ListServiceAccountsRequest) -> iam.ListServiceAccountsResponse:
        project = req.name.removeprefix("projects/")
        with self._lock:
            if project not in self.accounts:
                raise ApiError(404, f"Project {project!r} not found.")
            accounts = sorted(self.accounts[project].values(), key=lambda s: s.email)
        size = min(req.page_size or 20, 100)
        try:
            start = int(base64.urlsafe_b64decode(req.page_token).decode()) if req.page_token else 0
        except ValueError:
            raise ApiError(400, "Invalid page token.") from None
        page = accounts[start:start + size]
        token = base64.urlsafe_b64encode(str(start + size).encode()).decode() if start + size < len(accounts) else ""
        return iam.ListServiceAccountsResponse(accounts=[_copy(a) for a in page],
                                               next_page_token=token)

    def _rpc_patch(self, req: iam.PatchServiceAccountRequest) -> iam.ServiceAccount:
        paths = list(req.update_mask.paths)
        if not paths:
            raise ApiError(400, "update_mask is required.")
        with self._lock:
            sa = self._find_sa(req.service_account.name)
            for path in paths:
                if path == "description":
                    if len(req.service_account.description.encode()) > 256:
                        raise ApiError(400, "Service account description must be at most 256 bytes.")
                    sa.description = req.service_account.description
                elif path in ("display_name", "displayName"):
                    sa.display_name = req.service_account.display_name
                else:
                    raise ApiError(400, f"Field {path!r} cannot be updated.")
            return _copy(sa)

    def _set_disabled(self, name: str, disabled: bool) -> empty_pb2.Empty:
        with self._lock:
            self._find_sa(name).disabled = disabled
        return empty_pb2.Empty()

    def _rpc_delete(self, req: iam.DeleteServiceAccountRequest) -> empty_pb2.Empty:
        with self._lock:
            sa = self._find_sa(req.name)
            del self.accounts[sa.project_id][sa.email]
            self._unseen.pop(sa.email, None)
            # its keys and its own policy go with it
            getattr(self, "sa_keys", {}).pop(sa.email, None)
            getattr(self, "sa_policies", {}).pop(sa.email, None)
            # Bindings keep a deleted account as `deleted:serviceAccount:{emailid}?uid={uniqueid}`
            # (cloudresourcemanager.v3.json, schemas.Binding.properties.members); a new account
            # with the same name does not inherit them.
            gone, remains = f"serviceAccount:{sa.email}", f"deleted:serviceAccount:{sa.email}?uid={sa.unique_id}"
            for policy in self.policies.values():
                for b in policy["bindings"]:
                    if gone in b["members"]:
                        b["members"] = [remains if m == gone else m for m in b["members"]]
                        policy["etag"] = _etag()
        return empty_pb2.Empty()


def _json(message: Any) -> dict:
    """A gRPC message in its JSON mapping (camelCase), as the REST API would carry it."""
    if hasattr(type(message), "to_json"):  # proto-plus
        return json.loads(type(message).to_json(message))
    return MessageToDict(message)


def _copy(sa: iam.ServiceAccount) -> iam.ServiceAccount:
    """A detached copy (proto-plus wraps, it does not copy, a message passed in)."""
    return iam.ServiceAccount.deserialize(iam.ServiceAccount.serialize(sa))
