"""A loopback stand-in for an OPA server's REST API, strict about the calls.

It implements the documented endpoints accessctl uses
(https://www.openpolicyagent.org/docs/latest/rest-api/): list policies
(GET /v1/policies), create or update a policy (PUT /v1/policies/<id>, body
``text/plain`` Rego, 200 ``{}``), delete a policy (DELETE, 200 ``{}``),
create or overwrite a document (PUT /v1/data/<path>, JSON body, 204) and get
a document with input (POST /v1/data/<path>, ``{"input": …}``, 200
``{"result": …}`` or ``{}`` when undefined). Anything else is recorded as a
protocol error and answered 404/405 the way OPA does. Decisions come from
the real OPA engine in-process, so the stub answers exactly as OPA would.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    content_type: str | None


@dataclass
class OpaStub:
    policies: dict[str, str] = field(default_factory=dict)  # id -> Rego
    data: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # protocol violations seen
    # Injected answers: "METHOD /path-prefix" -> (status, body). A dict body is
    # sent as JSON, bytes as they are (a proxy's HTML page, say).
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _engine: Any = None

    def engine(self):
        if self._engine is None:
            from opa_bindings import OpaEngine
            engine = OpaEngine()
            for pid, src in sorted(self.policies.items()):
                engine.add_policy(pid, src)
            engine.add_data(self.data)
            self._engine = engine
        return self._engine

    def start(self) -> "OpaStub":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, payload: Any | None) -> None:
                raw = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _record(self) -> bool:
                """Record the call; True when an injected answer was sent."""
                stub.calls.append(Call(self.command, self.path, self.headers.get("Content-Type")))
                for key, (status, body) in stub.answers.items():
                    method, _, prefix = key.partition(" ")
                    if method == self.command and self.path.startswith(prefix):
                        self._body()
                        if isinstance(body, bytes):
                            self.send_response(status)
                            self.send_header("Content-Type", "text/html")
                            self.send_header("Content-Length", str(len(body)))
                            self.end_headers()
                            self.wfile.write(body)
                        else:
                            self._send(status, body)
                        return True
                return False

            def do_GET(self):
                if self._record():
                    return
                if self.path.rstrip("/") == "/v1/policies":
                    return self._send(200, {"result": [{"id": pid, "raw": src} for pid, src in stub.policies.items()]})
                stub.errors.append(f"GET {self.path}")
                self._send(404, {"code": "resource_not_found", "message": "not found"})

            def do_PUT(self):
                if self._record():
                    return
                body = self._body()
                if self.path.startswith("/v1/policies/"):
                    if not (self.headers.get("Content-Type") or "").startswith("text/plain"):
                        stub.errors.append(f"PUT {self.path} without Content-Type text/plain")
                    pid = self.path[len("/v1/policies/"):]
                    try:
                        from opa_bindings import OpaEngine
                        with OpaEngine() as check:
                            check.add_policy(pid, body.decode())
                    except Exception as exc:
                        return self._send(400, {"code": "invalid_parameter", "message": str(exc)})
                    stub.policies[pid] = body.decode()
                    stub._engine = None
                    return self._send(200, {})
                if self.path.startswith("/v1/data/"):
                    try:
                        value = json.loads(body)
                    except json.JSONDecodeError:
                        stub.errors.append(f"PUT {self.path} with a body that is not JSON")
                        return self._send(400, {"code": "invalid_parameter", "message": "body is not JSON"})
                    node = stub.data
                    parts = [p for p in self.path[len("/v1/data/"):].split("/") if p]
                    for part in parts[:-1]:
                        node = node.setdefault(part, {})
                    node[parts[-1]] = value
                    stub._engine = None
                    return self._send(204, None)
                stub.errors.append(f"PUT {self.path}")
                self._send(405, {"code": "invalid_parameter", "message": "method not allowed"})

            def do_DELETE(self):
                if self._record():
                    return
                pid = self.path[len("/v1/policies/"):] if self.path.startswith("/v1/policies/") else None
                if pid is None or pid not in stub.policies:
                    return self._send(404, {"code": "resource_not_found", "message": f"storage_not_found_error: policy id {pid!r}"})
                del stub.policies[pid]
                stub._engine = None
                self._send(200, {})

            def do_POST(self):
                if self._record():
                    return
                body = self._body()
                if not self.path.startswith("/v1/data/"):
                    stub.errors.append(f"POST {self.path}")
                    return self._send(404, {"code": "resource_not_found", "message": "not found"})
                try:
                    payload = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    stub.errors.append(f"POST {self.path} with a body that is not JSON")
                    return self._send(400, {"code": "invalid_parameter", "message": "body is not JSON"})
                if set(payload) - {"input"}:
                    stub.errors.append(f"POST {self.path} with keys {sorted(payload)}, not {{'input'}}")
                from opa_bindings import OpaError, OpaUndefinedError
                doc = self.path[len("/v1/data/"):].split("?")[0].strip("/").replace("/", ".")
                try:
                    result = stub.engine().eval_document(doc, payload.get("input"))
                except OpaUndefinedError:
                    return self._send(200, {})
                except OpaError as exc:
                    # OPA's writer.ErrorAuto for a topdown error: 500, ErrorV1
                    # {code: internal_error, message, errors: [...]}.
                    return self._send(500, {"code": "internal_error",
                                            "message": "error(s) occurred while evaluating query",
                                            "errors": [{"code": "eval_error", "message": str(exc)}]})
                self._send(200, {"result": result})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
