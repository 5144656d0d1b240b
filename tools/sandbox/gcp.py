"""A loopback fake of the GCP APIs the connector uses.

Cloud Resource Manager v3 speaks REST (``ProjectsClient(transport="rest")``),
IAM admin v1 speaks gRPC only (``IAMClient`` has no REST transport), so the
fake runs one small HTTP server and one gRPC server on 127.0.0.1, both on
ephemeral ports. It follows the documented shapes and errors of the real
APIs (etag conflicts answer 409 ABORTED, conditions need policy version 3,
an unknown project answers 403), so tests drive the real client libraries
unmodified; the rules of a policy write are in gcp_rules.py, the
service-account RPCs in gcp_iam.py, and README.md lists what is and is not
modelled, with sources; Secret Manager (gcp_secrets.py) and Policy
Analyzer's activity query (gcp_activity.py) share the REST server. Test
switches: seed projects and policies, inject the next N responses of a
method as errors, run a hook before the next call (a concurrent writer),
count calls per method, read stored state back, reset.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections import Counter
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from connectors.gcp_emulation import grpc, iam
from tools.sandbox.gcp_activity import ActivityAnalyzerFake
from tools.sandbox.gcp_iam import HTTP_STATUS, MESSAGES, ApiError, IamAdmin, _copy, _etag
from tools.sandbox.gcp_sa_extras import ServiceAccountExtras
from tools.sandbox.gcp_secrets import SecretManagerFake
from tools.sandbox.gcp_rules import DEFAULT_MAX_POLICY_BYTES, SA_EMAIL, policy_error


class FakeGcp(IamAdmin, ServiceAccountExtras, SecretManagerFake, ActivityAnalyzerFake):
    """Resource Manager v3 (REST) and IAM admin v1 (gRPC) on loopback.

    ``FakeGcp(["proj-a"])`` then ``start()`` (or ``with``); point the
    connector at ``rest_url`` (ACCESSCTL_GCP_ENDPOINT) and ``grpc_target``
    (ACCESSCTL_GCP_IAM_ENDPOINT).
    """

    def __init__(self, projects: list[str] | None = None, propagation: int = 0,
                 max_policy_bytes: int = DEFAULT_MAX_POLICY_BYTES):
        """``propagation``: how many setIamPolicy calls naming a new service
        account still answer "does not exist" after it was created (IAM is
        eventually consistent); ``max_policy_bytes``: the policy size bound
        (an assumption, see tools/sandbox/gcp_rules.py)."""
        self.propagation = propagation
        self.max_policy_bytes = max_policy_bytes
        self._lock = threading.RLock()
        self._initial = list(projects or [])
        self.calls: Counter[str] = Counter()
        # Every successful exchange as JSON, when a list is set here: the contract
        # test checks each against Google's discovery documents.
        self.journal: list[dict[str, Any]] | None = None
        self._reset_state()
        self._http: ThreadingHTTPServer | None = None
        self._grpc: grpc.Server | None = None
        self.rest_url = ""
        self.grpc_target = ""

    # ---- lifecycle -------------------------------------------------------
    def start(self) -> "FakeGcp":
        fake = self

        class Handler(_RestHandler):
            owner = fake

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True, name="fake-gcp-rest").start()
        self.rest_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._grpc.add_generic_rpc_handlers((self._grpc_handler(), self._extras_handler()))
        port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        self.grpc_target = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._grpc:
            self._grpc.stop(grace=None)
            self._grpc = None

    def __enter__(self) -> "FakeGcp":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The environment variables that point accessctl at this fake."""
        return {"ACCESSCTL_GCP_ENDPOINT": self.rest_url, "ACCESSCTL_GCP_IAM_ENDPOINT": self.grpc_target}

    # ---- test switches ---------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._reset_state()

    def _reset_state(self) -> None:
        self.policies: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, iam.ServiceAccount]] = {}  # project -> email -> SA
        self._faults: dict[str, list[int]] = {}
        self._hooks: dict[str, list[Callable[[], None]]] = {}
        self._unseen: dict[str, int] = {}  # new accounts' emails -> setIamPolicy calls until visible
        self._extras_reset()
        self._secrets_reset()
        self._activity_reset()
        self.calls.clear()
        for p in self._initial:
            self.add_project(p)

    def add_project(self, project: str, bindings: list[dict] | None = None) -> None:
        with self._lock:
            self.accounts.setdefault(project, {})
            self.policies[project] = {"version": 1, "bindings": [], "etag": _etag()}
            if bindings is not None:
                self.seed_policy(project, bindings)

    def seed_policy(self, project: str, bindings: list[dict], audit_configs: list[dict] | None = None) -> None:
        """Replace a project's bindings as if someone set them outside the pipeline."""
        with self._lock:
            policy: dict[str, Any] = {"version": 3 if _has_conditions(bindings) else 1,
                                      "bindings": copy.deepcopy(bindings), "etag": _etag()}
            if audit_configs:
                policy["auditConfigs"] = copy.deepcopy(audit_configs)
            self.policies[project] = policy

    def policy(self, project: str) -> dict[str, Any]:
        """The stored policy exactly as held (a deep copy)."""
        with self._lock:
            return copy.deepcopy(self.policies[project])

    def inject(self, method: str, status: int, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` (409/429/503 …).

        ``method`` is ``getIamPolicy``/``setIamPolicy`` or an IAM admin RPC
        name such as ``CreateServiceAccount``."""
        with self._lock:
            self._faults.setdefault(method, []).extend([status] * times)

    def before_next(self, method: str, hook: Callable[[], None]) -> None:
        """Run ``hook`` just before the next ``method`` call is served (e.g. a
        concurrent writer changing the policy, so the etag really goes stale)."""
        with self._lock:
            self._hooks.setdefault(method, []).append(hook)

    def service_account(self, project: str, name: str) -> iam.ServiceAccount | None:
        with self._lock:
            sa = self.accounts.get(project, {}).get(f"{name}@{project}.iam.gserviceaccount.com")
            return _copy(sa) if sa is not None else None

    def seed_service_account(self, project: str, name: str, description: str = "",
                             disabled: bool = False) -> None:
        with self._lock:
            self._create_sa(project, name, name, description).disabled = disabled

    def delete_service_account(self, project: str, name: str) -> None:
        """Delete an account as someone in the console would (bindings keep its remains)."""
        self._rpc_delete(iam.DeleteServiceAccountRequest(
            name=f"projects/{project}/serviceAccounts/{name}@{project}.iam.gserviceaccount.com"))

    # ---- shared call bookkeeping ------------------------------------------
    def _record(self, http: str, method: str, path: str, request: Any, response: Any) -> None:
        with self._lock:
            if self.journal is not None:
                self.journal.append({"http": http, "method": method, "path": path,
                                     "request": copy.deepcopy(request), "response": copy.deepcopy(response)})

    def _enter(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1
            hooks = self._hooks.get(method)
            hook = hooks.pop(0) if hooks else None
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else None
        if hook:
            hook()
        if fault:
            raise ApiError(fault, MESSAGES.get(fault, HTTP_STATUS.get(fault, "error")))

    # ---- Resource Manager: getIamPolicy / setIamPolicy --------------------
    def get_iam_policy(self, project: str, body: dict) -> dict:
        self._enter("getIamPolicy")
        requested = int((body.get("options") or {}).get("requestedPolicyVersion") or 0)
        if requested not in (0, 1, 3):
            raise ApiError(400, f"Invalid requested policy version: {requested}.")
        with self._lock:
            policy = copy.deepcopy(self._project_policy(project))
        if requested < 3 and _has_conditions(policy["bindings"]):
            # What the real API does for old clients: conditions are hidden and
            # the role name marks the binding as conditional.
            for b in policy["bindings"]:
                cond = b.pop("condition", None)
                if cond:
                    digest = hashlib.sha256(json.dumps(cond, sort_keys=True).encode()).hexdigest()[:16]
                    b["role"] = f"{b['role']}_withcond_{digest}"
            policy["version"] = 1
        return policy

    def set_iam_policy(self, project: str, body: dict) -> dict:
        self._enter("setIamPolicy")
        new = body.get("policy") or {}
        mask = [p.strip() for p in (body.get("updateMask") or "bindings,etag").split(",") if p.strip()]
        bindings = new.get("bindings") or []
        version = int(new.get("version") or 0)
        with self._lock:
            current = self._project_policy(project)
            if new.get("etag") and new["etag"] != current["etag"]:
                raise ApiError(409, MESSAGES[409])
            if "bindings" in mask:
                error = policy_error(bindings, version, current["bindings"], self._account_state,
                                     self.max_policy_bytes)
                if error:
                    raise ApiError(400, error)
            if _has_conditions(current["bindings"]) and version != 3 and "bindings" in mask:
                raise ApiError(400, "The policy has conditional role bindings; requests that change "
                                    "it must use policy version 3.")
            stored = copy.deepcopy(current)
            if "bindings" in mask:
                stored["bindings"] = copy.deepcopy(bindings)
            if "auditConfigs" in mask:
                stored["auditConfigs"] = copy.deepcopy(new.get("auditConfigs") or [])
            stored["version"] = 3 if _has_conditions(stored["bindings"]) else 1
            stored["etag"] = _etag()
            self.policies[project] = stored
            return copy.deepcopy(stored)

    def _account_state(self, email: str) -> str:
        """For policy_error: does a service account named in a binding exist?
        Only accounts of projects this fake hosts can be judged."""
        m = SA_EMAIL.match(email)
        if not m or m.group(2) not in self.accounts:
            return "unknown"
        if email not in self.accounts[m.group(2)]:
            return "missing"
        if self._unseen.get(email, 0) > 0:
            self._unseen[email] -= 1
            return "propagating"
        return "ok"

    def _project_policy(self, project: str) -> dict:
        if project not in self.policies:
            raise ApiError(403, f"The caller does not have permission (project {project!r} "
                                "does not exist or you cannot see it).")
        return self.policies[project]


class _RestHandler(BaseHTTPRequestHandler):
    """``POST /v3/projects/{id}:getIamPolicy|setIamPolicy`` with JSON bodies."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body go out as separate writes: avoid 40 ms stalls
    owner: FakeGcp
    ROUTE = re.compile(r"^/v3/projects/([^/:]+):(getIamPolicy|setIamPolicy)$")

    def _secret_manager(self, verb: str, raw: bytes) -> bool:
        """Secret Manager's /v1 routes (tools/sandbox/gcp_secrets.py); False if not one."""
        url = urlparse(self.path)
        if not url.path.startswith("/v1/"):
            return False
        try:
            body = json.loads(raw or b"{}")
            response = self.owner.secret_manager(verb, url.path, parse_qs(url.query), body)
        except ValueError:
            self._send(400, _error(400, "Invalid JSON payload received."))
            return True
        except ApiError as err:
            self._send(err.status, _error(err.status, err.message))
            return True
        if response is None:
            return False
        self._send(200, response)
        return True

    def _policy_analyzer(self) -> bool:
        """Policy Analyzer's activities:query (tools/sandbox/gcp_activity.py); False if not one."""
        url = urlparse(self.path)
        try:
            response = self.owner.policy_analyzer("GET", url.path, parse_qs(url.query))
        except ApiError as err:
            self._send(err.status, _error(err.status, err.message))
            return True
        if response is None:
            return False
        self.owner._record("GET", "activities.query", url.path, parse_qs(url.query), response)
        self._send(200, response)
        return True

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_PATCH(self) -> None:  # noqa: N802
        if not self._secret_manager("PATCH", self._body()):
            self._send(404, _error(404, f"No route for {self.path}."))

    def do_DELETE(self) -> None:  # noqa: N802
        if not self._secret_manager("DELETE", self._body()):
            self._send(404, _error(404, f"No route for {self.path}."))

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        raw = self._body()
        if self._secret_manager("POST", raw):
            return
        m = self.ROUTE.match(urlparse(self.path).path)
        if not m:
            return self._send(404, _error(404, f"No route for {self.path}."))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, _error(400, "Invalid JSON payload received."))
        project, verb = m.groups()
        try:
            fn = self.owner.get_iam_policy if verb == "getIamPolicy" else self.owner.set_iam_policy
            response = fn(project, body)
            self.owner._record("POST", verb, urlparse(self.path).path, body, response)
            self._send(200, response)
        except ApiError as err:
            self._send(err.status, _error(err.status, err.message))

    def do_GET(self) -> None:  # noqa: N802
        if not self._policy_analyzer() and not self._secret_manager("GET", self._body()):
            self._send(404, _error(404, f"No route for {self.path}."))

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


def _error(status: int, message: str) -> dict:
    """Google's JSON error shape (google.rpc.Status over HTTP)."""
    return {"error": {"code": status, "message": message, "status": HTTP_STATUS.get(status, "UNKNOWN")}}


def _has_conditions(bindings: list[dict]) -> bool:
    return any(b.get("condition") for b in bindings)
