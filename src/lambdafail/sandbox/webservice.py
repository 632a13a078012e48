"""Small HTTP services on loopback whose health can be switched off and on for real.

Rule: `stop()` really closes the listening socket (probes see connection refused, as with a dead
host), `start()` binds the same port again; `degrade()` keeps it up but answers 503. Used by
`lambdafail demo` and the end-to-end tests; stdlib only.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        # A prober that gave up (its budget ended on a loaded machine) closed the socket
        # before the answer: not this service's failure, and no traceback on the terminal.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class WebService:
    """An HTTP service on 127.0.0.1 answering `GET /healthz` (and any path) with its name."""

    def __init__(self, name: str, port: int = 0):
        self.name = name
        self.port = port
        self.status = 200
        self.requests = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> WebService:
        if self._server is not None:
            return self
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.requests += 1
                body = f"{service.name} {'ok' if service.status < 400 else 'failing'}\n".encode()
                self.send_response(service.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"webservice-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def degrade(self, status: int = 503) -> None:
        self.status = status

    def heal(self) -> None:
        self.status = 200

    def __enter__(self) -> WebService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
