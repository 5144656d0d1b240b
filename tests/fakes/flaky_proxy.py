"""A loopback HTTP proxy that drops connections on purpose.

Put in front of an emulator (the GCP REST fake), it forwards each request
unless the test's ``plan`` says otherwise for it:

- ``reset``: the connection is reset (TCP RST, ``SO_LINGER`` 0) before the
  request reaches the emulator: nothing happened there.
- ``reset-after``: the request is forwarded and the emulator answers, then
  the connection is reset before a byte of the answer reaches the client:
  the write happened, the client cannot know. This is the case that tests
  whether a retried write can be duplicated.
- ``hold``: the request is kept waiting (``reached`` is set), never
  forwarded: the moment to kill the client mid-call.

The client library under test is the real one (google-api-core's REST
transport over ``requests``); the proxy only cuts the wire under it.
"""
from __future__ import annotations

import http.client
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


@dataclass
class Seen:
    method: str
    path: str
    outcome: str  # forward | reset | reset-after
    status: int | None  # the emulator's answer (None: it never saw the request)


@dataclass
class FlakyProxy:
    upstream: str  # http://127.0.0.1:PORT
    plan: Callable[[str, str, int], str]  # (method, path, nth request with this method+path) -> outcome
    seen: list[Seen] = field(default_factory=list)
    reached: threading.Event = field(default_factory=threading.Event)  # a ``hold`` request arrived
    release: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "FlakyProxy":
        proxy = self
        counts: dict[tuple[str, str], int] = {}
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client pools connections

            def log_message(self, *_):  # quiet
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = (self.command, self.path.split("?", 1)[0])
                with lock:
                    counts[key] = counts.get(key, 0) + 1
                    outcome = proxy.plan(self.command, key[1], counts[key])
                if outcome in ("reset", "hold"):
                    proxy.seen.append(Seen(self.command, key[1], outcome, None))
                    if outcome == "hold":
                        proxy.reached.set()
                        proxy.release.wait(120)
                    return self._reset()
                up = urlsplit(proxy.upstream)
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                proxy.seen.append(Seen(self.command, key[1], outcome, resp.status))
                if outcome == "reset-after":
                    return self._reset()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _reset(self) -> None:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()  # RST: the client reads "connection reset by peer"

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # the reset sockets complain on flush
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def count(self, suffix: str, outcome: str | None = None) -> int:
        """Requests whose path ends with ``suffix`` (e.g. ``:setIamPolicy``)."""
        return sum(1 for s in self.seen if s.path.endswith(suffix) and (outcome is None or s.outcome == outcome))
