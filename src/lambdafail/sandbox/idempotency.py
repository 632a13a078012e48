"""DynamoDB's ClientRequestToken for TransactWriteItems, which moto ignores.

AWS: a TransactWriteItems call that succeeded, resent with the same token within 10 minutes,
succeeds again without writing anything; the same token with other parameters within that
window is refused with IdempotentParameterMismatchException. The orchestrator relies on the
first half when a commit's reply is lost and botocore resends it.

Rule: only successful transactions are remembered (what AWS does with a token whose first
call failed is not stated plainly in its docs: the sandbox runs such a resend again, see
docs/sandbox.md); keyed by region and token; entries older than the window are forgotten.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 600.0
TARGET = "DynamoDB_20120810.TransactWriteItems"


def mismatch_body() -> bytes:
    return json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
        "message": "The request uses the same client token as a previous, but non-identical "
                   "request."}).encode()


def fingerprint(body: dict[str, object]) -> str:
    """The request without its token, canonical: two resends of one request match."""
    rest = {k: v for k, v in body.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


@dataclass
class Remembered:
    fingerprint: str
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    at: float


@dataclass
class Tokens:
    clock: Callable[[], float] = time.monotonic
    _seen: dict[tuple[str, str], Remembered] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(self, region: str, token: str) -> Remembered | None:
        with self._lock:
            now = self.clock()
            for key in [k for k, r in self._seen.items() if now - r.at > WINDOW_SECONDS]:
                del self._seen[key]
            return self._seen.get((region, token))

    def remember(self, region: str, token: str, fingerprint: str, status: str,
                 headers: list[tuple[str, str]], body: bytes) -> None:
        with self._lock:
            self._seen.setdefault((region, token), Remembered(
                fingerprint, status, headers, body, self.clock()))
