"""What the sandbox's WSGI layers share: reading a request body moto can still read, and
answering a request the sandbox answers itself.

Rule: plain WSGI, stdlib only.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, so moto can still read it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def respond(start_response: StartResponse, status: int, body: bytes,
             headers: dict[str, str] | None = None) -> list[bytes]:
    from http import HTTPStatus

    reason = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
              403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(status, "")
    if not reason:
        with contextlib.suppress(ValueError):
            reason = HTTPStatus(status).phrase
    hdrs = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    hdrs.update(headers or {})
    hdrs["Content-Length"] = str(len(body))
    start_response(f"{status} {reason}", list(hdrs.items()))
    return [body]
