"""AWS's eventual consistency and in-progress states that moto 5.2.1 does not have.

Rule: each emulation is one documented AWS behaviour, checked before (refusals) or applied
after (answers) moto handles the request, so deploy's bounded waits run locally as on AWS:

- SQS: "You must wait 60 seconds after deleting a queue before you can create another queue
  with the same name" (CreateQueue → `QueueDeletedRecently`). The 60 s run `time_scale` times
  faster, like the sandbox's schedules (at least 1 s real).
- Lambda: after UpdateFunctionCode / UpdateFunctionConfiguration the function's
  `LastUpdateStatus` is `InProgress` for a while; meanwhile another update or PublishVersion
  is refused with `ResourceConflictException` (HTTP 409). The sandbox holds it `UPDATE_SECONDS`
  of real time and reports `InProgress` in GetFunction / GetFunctionConfiguration ($LATEST).
- DynamoDB: tag reads are eventually consistent: ListTagsOfResource on a table created less
  than `TAG_LAG_SECONDS` ago answers no tags (AWS: tags may take a moment to appear).

Only the JSON protocols boto3 uses are recognised (SQS JSON, Lambda REST-JSON, DynamoDB JSON).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

SQS_RECREATE_SECONDS = 60.0
UPDATE_SECONDS = 1.0
TAG_LAG_SECONDS = 1.0
_MIN_REAL_S = 1.0

_FUNCTION_PATH = re.compile(
    r"^/2015-03-31/functions/(?P<name>[^/]+)(?P<rest>/code|/configuration|/versions)?/?$")


def _function_name(raw: str) -> str:
    """A function name from a path segment: a name, `name:qualifier` or an ARN."""
    from urllib.parse import unquote

    text = unquote(raw)
    if text.startswith("arn:"):
        parts = text.split(":")
        return parts[6] if len(parts) > 6 else text
    return text.split(":")[0]


Answer = tuple[str, list[tuple[str, str]], bytes]  # status line, headers, body

_WATCHED_TARGETS = ("AmazonSQS.CreateQueue", "AmazonSQS.DeleteQueue",
                    "DynamoDB_20120810.CreateTable", "DynamoDB_20120810.ListTagsOfResource")


def _reply(status: int, body: bytes, headers: dict[str, str]) -> Answer:
    reason = {200: "OK", 400: "Bad Request", 409: "Conflict"}.get(status, "")
    hdrs = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()),
            **headers, "Content-Length": str(len(body))}
    return f"{status} {reason}", list(hdrs.items()), body


class Consistency:
    """The sandbox's clock of recent deletions, updates and creations (thread-safe)."""

    def __init__(self, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.time_scale = time_scale
        self.clock = clock
        self._lock = threading.Lock()
        self._deleted_queues: dict[tuple[str, str], float] = {}
        self._updating: dict[tuple[str, str], float] = {}
        self._tables: dict[tuple[str, str], float] = {}

    def answer(self, *, method: str, path: str, target: str, query: str, region: str,
               body: Callable[[], bytes], moto: Callable[[], Answer]) -> Answer | None:
        """The sandbox's answer to a call this module shapes, or None: moto answers as is.
        `body()` reads the request body (leaving it for moto); `moto()` is moto's answer."""
        if target in _WATCHED_TARGETS:
            try:
                doc = json.loads(body() or b"{}")
            except ValueError:
                return None
            return self._json_call(target, region, doc, moto)
        fn = self.lambda_request(method, path) if not target else None
        if fn is None:
            return None
        op, name = fn
        if op in ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"):
            if self.updating(region, name):
                return _reply(*self.conflict(region, name))
            if op == "PublishVersion":
                return None
            status, headers, out = moto()
            if status.startswith("200"):
                self.function_updated(region, name)
            return status, headers, out
        if not self.updating(region, name) or "Qualifier=" in query:
            return None
        status, headers, out = moto()
        if status.startswith("200"):
            out = self.in_progress(out, op)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(out))))
        return status, headers, out

    def _json_call(self, target: str, region: str, doc: dict[str, Any],
                   moto: Callable[[], Answer]) -> Answer | None:
        if target == "AmazonSQS.CreateQueue":
            refused = self.queue_refusal(region, doc)
            return None if refused is None else _reply(*refused)
        if target == "DynamoDB_20120810.ListTagsOfResource":
            if self.tags_not_visible(region, doc):
                return _reply(200, b'{"Tags": []}',
                              {"Content-Type": "application/x-amz-json-1.0"})
            return None
        status, headers, out = moto()
        if status.startswith("200"):
            if target == "AmazonSQS.DeleteQueue":
                self.queue_deleted(region, doc)
            else:
                self.table_created(region, str(doc.get("TableName") or ""))
        return status, headers, out

    # -- SQS ---------------------------------------------------------------------------------
    def queue_deleted(self, region: str, body: dict[str, Any]) -> None:
        name = str(body.get("QueueUrl") or "").rstrip("/").split("/")[-1]
        if name:
            with self._lock:
                self._deleted_queues[(region, name)] = self.clock()

    def queue_refusal(self, region: str, body: dict[str, Any]) -> tuple[int, bytes,
                                                                         dict[str, str]] | None:
        name = str(body.get("QueueName") or "")
        window = max(SQS_RECREATE_SECONDS / self.time_scale, _MIN_REAL_S)
        with self._lock:
            at = self._deleted_queues.get((region, name))
        if at is None or self.clock() - at >= window:
            return None
        doc = {"__type": "com.amazonaws.sqs#QueueDeletedRecently",
               "message": "You must wait 60 seconds after deleting a queue before you can "
                          "create another queue with the same name."}
        # SQS's JSON protocol is query-compatible: botocore reads the code from this header.
        return 400, json.dumps(doc).encode(), {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-query-error": "AWS.SimpleQueueService.QueueDeletedRecently;Sender"}

    # -- Lambda ------------------------------------------------------------------------------
    @staticmethod
    def lambda_request(method: str, path: str) -> tuple[str, str] | None:
        """(operation, function) for the Lambda calls this module cares about, else None."""
        m = _FUNCTION_PATH.match(path)
        if not m:
            return None
        name, rest = _function_name(m.group("name")), m.group("rest") or ""
        op = {("PUT", "/code"): "UpdateFunctionCode",
              ("PUT", "/configuration"): "UpdateFunctionConfiguration",
              ("POST", "/versions"): "PublishVersion",
              ("GET", "/configuration"): "GetFunctionConfiguration",
              ("GET", ""): "GetFunction"}.get((method, rest))
        return (op, name) if op else None

    def updating(self, region: str, name: str) -> bool:
        with self._lock:
            until = self._updating.get((region, name))
        return until is not None and self.clock() < until

    def function_updated(self, region: str, name: str) -> None:
        with self._lock:
            self._updating[(region, name)] = self.clock() + UPDATE_SECONDS

    @staticmethod
    def conflict(region: str, name: str) -> tuple[int, bytes, dict[str, str]]:
        arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        doc = {"Type": "User", "message": "The operation cannot be performed at this time. "
               f"An update is in progress for resource: {arn}"}
        return 409, json.dumps(doc).encode(), {"x-amzn-ErrorType": "ResourceConflictException"}

    @staticmethod
    def in_progress(body: bytes, op: str) -> bytes:
        """A GetFunction(Configuration) answer with the update still in progress."""
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        cfg = doc.get("Configuration", {}) if op == "GetFunction" else doc
        if not isinstance(cfg, dict) or cfg.get("Version", "$LATEST") != "$LATEST":
            return body
        cfg.update({"LastUpdateStatus": "InProgress",
                    "LastUpdateStatusReason": "The function is being updated.",
                    "LastUpdateStatusReasonCode": "Creating"})
        return json.dumps(doc).encode()

    # -- DynamoDB tags -------------------------------------------------------------------------
    def table_created(self, region: str, name: str) -> None:
        with self._lock:
            self._tables[(region, name)] = self.clock()

    def tags_not_visible(self, region: str, body: dict[str, Any]) -> bool:
        name = str(body.get("ResourceArn") or "").split("/")[-1]
        with self._lock:
            at = self._tables.get((region, name))
        return at is not None and self.clock() - at < TAG_LAG_SECONDS
