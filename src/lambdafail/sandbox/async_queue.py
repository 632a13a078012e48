"""Lambda's asynchronous invocation queue: retries of function errors, event age, on-failure.

Fills a moto gap: moto 5.2.1 stores a function's event invoke configuration but never acts on
it (an asynchronous invocation that fails is simply gone). Rule: as AWS documents
(docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), an asynchronous
invocation (EventBridge's, or `InvocationType=Event`) whose function returns an error — its
code's or the runtime's, such as a timeout — is run again up to `MaximumRetryAttempts` times
(default 2), one minute before the first retry and two minutes before the second; an event
older than `MaximumEventAgeInSeconds` (default 6 h) is not run again. Either way it is then
discarded — or, with an `OnFailure` destination, an invocation record goes there (condition
`RetriesExhausted` or `EventAgeExceeded`). Delays and ages run `time_scale` times faster, like
schedules. The configuration is read for the invoked qualifier (an alias's, as lambdafail puts
it on `live`), then the unqualified function's. stdlib + the sandbox's own modules only.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdafail.sandbox import backends
from lambdafail.sandbox.activity import ActivityLog

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600
# AWS: one minute before the first retry, two minutes before the second (schedule seconds).
RETRY_DELAYS_S = (60.0, 120.0)
# The smallest real gap between two attempts, whatever the time scale.
MIN_REAL_DELAY_S = 0.1


@dataclass
class Outcome:
    """What one attempt answered (the part of `InvokeResult` the queue needs)."""

    ok: bool
    payload: bytes
    function_error: str | None
    executed_version: str


@dataclass(order=True)
class _Attempt:
    due: float
    seq: int
    event: _Event = field(compare=False)


@dataclass
class _Event:
    region: str
    name: str
    qualifier: str | None
    payload: bytes
    source: str
    request_id: str
    queued_at: float  # monotonic
    attempts: int = 0


@dataclass
class Failed:
    """One event the queue gave up on (kept for tests: `AsyncQueue.failed`)."""

    request_id: str
    function: str
    condition: str  # RetriesExhausted | EventAgeExceeded
    attempts: int
    destination: str | None
    payload: bytes = b""


class AsyncQueue:
    """Holds asynchronous invocations until they succeed, run out of retries or age out.

    `run(region, name, qualifier, payload, on_done)` is the runner's: it runs one attempt on
    the runner's pool and calls `on_done(Outcome | None)` (None: the function is gone).
    """

    def __init__(self, run: Callable[[str, str, str | None, bytes,
                                      Callable[[Outcome | None], None]], bool],
                 log: ActivityLog, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self._run = run
        self.log = log
        self.time_scale = time_scale
        self.clock = clock
        self._heap: list[_Attempt] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.failed: list[Failed] = []

    # -- public --------------------------------------------------------------------------------
    def submit(self, region: str, name: str, qualifier: str | None, payload: bytes,
               source: str) -> str:
        """Queue one asynchronous invocation; returns its request id."""
        event = _Event(region, name, qualifier, payload, source, str(uuid.uuid4()), self.clock())
        self._schedule(event, 0.0)
        return event.request_id

    def waiting(self) -> int:
        """Attempts queued for later (retries waiting out their delay)."""
        with self._cv:
            return len(self._heap)

    def shutdown(self) -> None:
        with self._cv:
            self._closed = True
            self._heap.clear()
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the queue -------------------------------------------------------------------------------
    def _schedule(self, event: _Event, delay: float) -> None:
        with self._cv:
            if self._closed:
                return
            if delay <= 0:
                due = self.clock()
            else:
                due = self.clock() + max(delay / self.time_scale, MIN_REAL_DELAY_S)
            heapq.heappush(self._heap, _Attempt(due, next(self._seq), event))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="sandbox-async",
                                                daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._closed and (not self._heap or self._heap[0].due > self.clock()):
                    wait = self._heap[0].due - self.clock() if self._heap else None
                    self._cv.wait(timeout=wait)
                if self._closed:
                    return
                attempt = heapq.heappop(self._heap)
            try:
                self._start(attempt.event)
            except Exception as e:  # keep the queue running for the other events
                self.log.write("ERROR", f"async queue: {type(e).__name__}: {e}",
                               attempt.event.name)

    def _start(self, event: _Event) -> None:
        config = event_invoke_config(event.region, event.name, event.qualifier)
        max_age = float(config.get("MaximumEventAgeInSeconds") or DEFAULT_MAX_AGE_S)
        if event.attempts and self._age(event) > max_age:
            self._give_up(event, config, "EventAgeExceeded", None)
            return
        event.attempts += 1

        def done(outcome: Outcome | None) -> None:
            self._finished(event, outcome)

        if not self._run(event.region, event.name, event.qualifier, event.payload, done):
            self.log.write("DROPPED", f"{event.source}: {event.request_id}: function "
                           f"{_label(event)} not found (async)")

    def _age(self, event: _Event) -> float:
        """Age in schedule seconds (the sandbox's clock runs `time_scale` times faster)."""
        return (self.clock() - event.queued_at) * self.time_scale

    def _finished(self, event: _Event, outcome: Outcome | None) -> None:
        if outcome is None or outcome.ok:
            return
        config = event_invoke_config(event.region, event.name, event.qualifier)
        retries = config.get("MaximumRetryAttempts")
        retries = DEFAULT_RETRIES if retries is None else int(retries)
        if event.attempts > retries:
            self._give_up(event, config, "RetriesExhausted", outcome)
            return
        delay = RETRY_DELAYS_S[min(event.attempts - 1, len(RETRY_DELAYS_S) - 1)]
        max_age = float(config.get("MaximumEventAgeInSeconds") or DEFAULT_MAX_AGE_S)
        if self._age(event) + delay > max_age:
            # The retry would come after the event's maximum age: AWS discards it then.
            self._give_up(event, config, "EventAgeExceeded", outcome)
            return
        self.log.write("RETRY", f"{event.request_id}: attempt {event.attempts} failed "
                       f"({outcome.function_error}); retry in {delay:g} s (schedule time)",
                       event.name)
        self._schedule(event, delay)

    def _give_up(self, event: _Event, config: dict[str, Any], condition: str,
                 outcome: Outcome | None) -> None:
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination") or None
        self.failed.append(Failed(event.request_id, event.name, condition, event.attempts,
                                  destination, event.payload))
        if destination is None:
            self.log.write("DISCARD", f"{event.request_id}: {condition} after "
                           f"{event.attempts} attempt(s); no on-failure destination", event.name)
            return
        record = invocation_record(event.region, event.name, event.qualifier, event.request_id,
                                   condition, event.attempts, event.payload, outcome)
        note = send_to_destination(event.region, destination, json.dumps(record))
        self.log.write("ONFAIL", f"{event.request_id}: {condition} after {event.attempts} "
                       f"attempt(s) -> {destination}: {note}", event.name)


def event_invoke_config(region: str, name: str, qualifier: str | None) -> dict[str, Any]:
    """The function's event invoke configuration for `qualifier` (or unqualified); {} if none."""
    backend = backends.lambda_backend(region)
    for ref in ([f"{name}:{qualifier}"] if qualifier else []) + [name]:
        try:
            fn = backend.get_function(ref)
        except Exception:
            continue
        configs = getattr(fn, "event_invoke_config", None) or []
        if configs:
            return dict(configs[-1].config)
    return {}


def invocation_record(region: str, name: str, qualifier: str | None, request_id: str,
                      condition: str, attempts: int, payload: bytes,
                      outcome: Outcome | None) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination (its documented shape)."""
    arn = (f"arn:aws:lambda:{region}:{backends.ACCOUNT_ID}:function:{name}:"
           f"{qualifier or '$LATEST'}")
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {"requestId": request_id, "functionArn": arn,
                           "condition": condition, "approximateInvokeCount": attempts},
        "requestPayload": _json_or_text(payload),
    }
    if outcome is not None:
        context: dict[str, Any] = {"statusCode": 200,
                                   "executedVersion": outcome.executed_version}
        if outcome.function_error:
            context["functionError"] = outcome.function_error
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(outcome.payload)
    return record


def send_to_destination(region: str, arn: str, body: str) -> str:
    """Deliver an invocation record to an SQS queue (what lambdafail uses); a note for the log."""
    parts = arn.split(":")
    if len(parts) > 5 and parts[2] == "sqs":
        try:
            backends.sqs_send(parts[3] or region, parts[5], body)
        except Exception as e:  # a missing queue loses the record, as on AWS
            return f"not delivered: {type(e).__name__}: {e}"
        return "sent"
    return "destination type not supported by the sandbox (record dropped)"


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def _label(event: _Event) -> str:
    return event.name + (f":{event.qualifier}" if event.qualifier else "")
