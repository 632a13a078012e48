"""The sandbox: moto's server in a thread, behind a small WSGI layer that adds what moto lacks.

Rule: the WSGI layer intercepts only four calls — EventBridge PutEvents (delivery.py), Lambda
Invoke (lambda_runner.py), CloudWatch SetAlarmState (alarms.py) and DynamoDB
TransactWriteItems with a ClientRequestToken (idempotency.py) — plus what recovery steps need
and moto lacks (recovery_apis.py: provisioned concurrency, global-database switches, Auto
Scaling's size check), and checks IAM's policy
quotas before moto sees a policy (quotas.py) and refuses a new table's first
UpdateContinuousBackups as AWS may (backups not yet enabled); everything else goes to moto untouched; a thread fires schedules (scheduler.py). Nothing here changes what
`deploy` creates: the same plan runs on AWS and in the sandbox. Usable in-process
(`with Sandbox() as url: ...`) by `lambdafail sandbox`, `demo` and tests. Tested with moto
5.2.1 (werkzeug 3.1); other versions start with a warning in `Sandbox.notes`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from lambdafail.base.errors import UsageError
from lambdafail.sandbox import (
    alarms,
    backends,
    idempotency,
    metric_alarms,
    outages,
    quotas,
    service_quotas,
)
from lambdafail.sandbox.activity import ActivityLog
from lambdafail.sandbox.consistency import Consistency
from lambdafail.sandbox.delivery import Delivered, Dispatcher
from lambdafail.sandbox.iam_enforce import Enforcer, Verdict
from lambdafail.sandbox.lambda_runner import LambdaRunner
from lambdafail.sandbox.recovery_apis import RecoveryApis
from lambdafail.sandbox.scheduler import Scheduler
from lambdafail.sandbox.statefile import default_state_file, write_state

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_DYNAMODB_TARGET = "DynamoDB_20120810."
_SCOPE = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")
_MAX_TIME_SCALE = 3600.0


def _region_and_service(environ: dict[str, Any], default: str) -> tuple[str, str]:
    m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (m.group("region"), m.group("service")) if m else (default, "")


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, so moto can still read it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _respond(start_response: StartResponse, status: int, body: bytes,
             headers: dict[str, str] | None = None) -> list[bytes]:
    reason = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
              403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(status, "")
    hdrs = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    hdrs.update(headers or {})
    hdrs["Content-Length"] = str(len(body))
    start_response(f"{status} {reason}", list(hdrs.items()))
    return [body]


def _outage_request(body: bytes) -> dict[str, Any]:
    """The control path's POST body, checked: {"region": a region botocore knows, "seconds":
    a finite number in (0, 7 days] or absent, "end": a boolean or absent}."""
    import math

    from lambdafail.model import regions

    try:
        req = json.loads(body or b"{}")
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(req, dict) or not isinstance(req.get("region"), str):
        raise ValueError('expected {"region": "<region>", "seconds"?: N, "end"?: true}')
    if regions.partition_of(req["region"]) is None:
        raise ValueError(f"not an AWS region: {req['region']!r}; "
                         + regions.unknown_region_hint(req["region"]))
    seconds = req.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                or not math.isfinite(seconds)
                                or not 0 < seconds <= outages.MAX_SECONDS):
        raise ValueError(f"seconds must be a number in (0, {outages.MAX_SECONDS}]")
    if not isinstance(req.get("end", False), bool):
        raise ValueError("end must be true or false")
    return req


class SandboxApp:
    """WSGI middleware in front of moto's DomainDispatcherApplication."""

    def __init__(self, moto_app: WsgiApp, sandbox: Sandbox):
        self.moto_app = moto_app
        self.sandbox = sandbox
        self._alarm_lock = threading.Lock()
        self.tokens = idempotency.Tokens()
        self._ddb_lock = threading.Lock()
        self._pitr_seen: set[str] = set()
        self.consistency = Consistency(sandbox.time_scale)
        self.recovery = RecoveryApis(moto_app, sandbox.region, sandbox.time_scale)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == outages.CONTROL_PATH:
            return self.outage_control(environ, start_response)
        if self.sandbox.enforcer is not None:
            verdict = self._authorize(environ, self.sandbox.enforcer)
            if verdict.refusal is not None:
                self.sandbox.log.write("DENIED", verdict.refusal.message)
                return _respond(start_response, verdict.refusal.status, verdict.refusal.body,
                                verdict.refusal.headers)
            if verdict.hide_tags:
                return self._without_tags(environ, start_response)
        answered = self._recovery_api(environ, start_response)
        if answered is not None:
            return answered
        over = self._service_quota(environ)
        if over is not None:
            return _respond(start_response, *over)
        settled = self._eventually(environ, start_response)
        if settled is not None:
            return settled
        if environ.get("REQUEST_METHOD") == "POST":
            path = environ.get("PATH_INFO", "")
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target == "AWSEvents.PutEvents":
                return self.put_events(environ, start_response)
            if target == idempotency.TARGET:
                return self.transact_write(environ, start_response)
            m = _INVOKE.match(path)
            if m:
                return self.invoke(environ, start_response, unquote(m.group("name")))
            if self._is_set_alarm_state(environ, path, target):
                return self.set_alarm_state(environ, start_response)
            if target == "DynamoDB_20120810.UpdateContinuousBackups":
                refused_pitr = self._pitr_not_yet(environ)
                if refused_pitr is not None:
                    return _respond(start_response, 400, refused_pitr,
                                    {"Content-Type": "application/x-amz-json-1.0"})
            refused = self._iam_quota(environ)
            if refused is not None:
                return _respond(start_response, 409, quotas.error_body(refused),
                                {"Content-Type": "text/xml"})
            if target.startswith(_DYNAMODB_TARGET):
                return self._dynamodb(environ, start_response)
        return self.moto_app(environ, start_response)

    def _authorize(self, environ: dict[str, Any], enforcer: Enforcer) -> Verdict:
        """--enforce-iam: the request's caller must be allowed every action it needs. An
        unsigned request (the moto API, a health check) is not an AWS API call: it passes."""
        m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not m:
            return Verdict()
        headers = {"X-Amz-Target": environ.get("HTTP_X_AMZ_TARGET", ""),
                   "Content-Type": environ.get("CONTENT_TYPE", "")}
        return enforcer.check(access_key=m.group("key"), signing_name=m.group("service"),
                              region=m.group("region"),
                              method=environ.get("REQUEST_METHOD", "GET"),
                              path=environ.get("PATH_INFO", ""),
                              query=environ.get("QUERY_STRING", ""), headers=headers,
                              body=_read_body(environ))

    def _without_tags(self, environ: dict[str, Any],
                      start_response: StartResponse) -> list[bytes]:
        """GetFunction's answer without `Tags`, for a caller not allowed lambda:ListTags."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            captured.update(status=status, headers=headers)
            return lambda _data: None

        body = b"".join(self.moto_app(environ, capture))
        try:
            doc = json.loads(body)
            if isinstance(doc, dict) and doc.pop("Tags", None) is not None:
                body = json.dumps(doc).encode()
        except ValueError:
            pass
        headers = [(k, v) for k, v in captured.get("headers", [])
                   if k.lower() != "content-length"] + [("Content-Length", str(len(body)))]
        start_response(captured.get("status", "500 Internal Server Error"), headers)
        return [body]

    def _moto(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """moto's whole answer (status line, headers, body), to inspect before sending it."""
        got: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            got.update(status=status, headers=list(headers))
            return lambda data: None

        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(_DYNAMODB_TARGET):
            with self._ddb_lock:
                body = b"".join(self.moto_app(environ, capture))
        else:
            body = b"".join(self.moto_app(environ, capture))
        return str(got.get("status", "500")), got.get("headers", []), body

    def _service_quota(self, environ: dict[str, Any]) -> service_quotas.Refusal | None:
        """service_quotas.py: rules per bus, targets per rule, a function's policy size."""
        return service_quotas.refusal(
            method=environ.get("REQUEST_METHOD", ""), path=environ.get("PATH_INFO", ""),
            target=environ.get("HTTP_X_AMZ_TARGET", ""), query=environ.get("QUERY_STRING", ""),
            region=_region_and_service(environ, self.sandbox.region)[0],
            body=lambda: _read_body(environ))

    def _eventually(self, environ: dict[str, Any],
                    start_response: StartResponse) -> list[bytes] | None:
        """consistency.py: the calls whose answers depend on what happened just before."""
        got = self.consistency.answer(
            method=environ.get("REQUEST_METHOD", ""), path=environ.get("PATH_INFO", ""),
            target=environ.get("HTTP_X_AMZ_TARGET", ""),
            query=environ.get("QUERY_STRING", ""),
            region=_region_and_service(environ, self.sandbox.region)[0],
            body=lambda: _read_body(environ), moto=lambda: self._moto(environ))
        if got is None:
            return None
        status, headers, out = got
        start_response(status, headers)
        return [out]

    def _recovery_api(self, environ: dict[str, Any],
                      start_response: StartResponse) -> Iterable[bytes] | None:
        """What recovery steps need that moto lacks (recovery_apis.py)."""
        region, service = _region_and_service(environ, self.sandbox.region)
        form = (_read_body(environ) if environ.get("CONTENT_TYPE", "").startswith(
            "application/x-www-form-urlencoded") and service in ("rds", "autoscaling") else None)
        return self.recovery.handle(environ, start_response, region, service, form)

    def outage_control(self, environ: dict[str, Any],
                       start_response: StartResponse) -> list[bytes]:
        """GET: the dark regions. POST {"region", "seconds"?: sandbox seconds, "end"?: true}:
        black a region out, or light it again; the answer is the dark regions after it (and,
        for an end, whether the region was dark)."""
        dark = self.sandbox.outages
        answer: dict[str, Any] = {}
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                req = _outage_request(_read_body(environ))
            except ValueError as e:
                return _respond(start_response, 400, json.dumps({"error": str(e)}).encode())
            region, seconds = req["region"], req.get("seconds")
            if req.get("end"):
                ended = dark.end(region)
                answer["ended"] = ended
                self.sandbox.log.write("OUTAGE", f"region {region} "
                                       + ("lit again" if ended else "was not dark"))
            else:
                dark.start(region, None if seconds is None else float(seconds))
                self.sandbox.log.write("OUTAGE", f"region {region} dark"
                                       + (f" for {float(seconds):g} s" if seconds else ""))
        answer["outages"] = dark.snapshot()
        return _respond(start_response, 200, json.dumps(answer).encode())

    def _dynamodb(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """One DynamoDB request at a time, answered in full inside the lock. DynamoDB applies
        each request atomically (a condition is checked and the write made as one); moto does
        not lock, so two concurrent conditional writes could both pass, and a Query racing a
        write can fail with HTTP 500."""
        with self._ddb_lock:
            return [b"".join(self.moto_app(environ, start_response))]

    # -- DynamoDB ClientRequestToken (idempotency.py) ---------------------------------------
    def transact_write(self, environ: dict[str, Any],
                       start_response: StartResponse) -> Iterable[bytes]:
        raw = _read_body(environ)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        token = body.get("ClientRequestToken") if isinstance(body, dict) else None
        if not token:
            return self._dynamodb(environ, start_response)
        region = _region_and_service(environ, self.sandbox.region)[0]
        digest = idempotency.fingerprint(body)
        seen = self.tokens.lookup(region, str(token))
        if seen is not None:
            if seen.fingerprint != digest:
                return _respond(start_response, 400, idempotency.mismatch_body(),
                                {"Content-Type": "application/x-amz-json-1.0"})
            start_response(seen.status, seen.headers)
            return [seen.body]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            captured.update(status=status, headers=list(headers))
            return start_response(status, headers, *rest)

        with self._ddb_lock:
            out = b"".join(self.moto_app(environ, capture))
        if str(captured.get("status", "")).startswith("200"):
            self.tokens.remember(region, str(token), digest, captured["status"],
                                 captured["headers"], out)
        return [out]
    def _pitr_not_yet(self, environ: dict[str, Any]) -> bytes | None:
        """A new table's first UpdateContinuousBackups is refused, as AWS may refuse it while
        the table's backups are still being enabled: deploy's bounded retry is exercised."""
        try:
            table = str(json.loads(_read_body(environ) or b"{}").get("TableName") or "")
        except ValueError:
            return None
        with self._alarm_lock:
            if not table or table in self._pitr_seen:
                return None
            self._pitr_seen.add(table)
        return json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#ContinuousBackupsUnavailableException",
            "message": f"Backups are being enabled for the table: {table}. Please retry later"
        }).encode()

    @staticmethod
    def _iam_quota(environ: dict[str, Any]) -> str | None:
        if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return None
        if _region_and_service(environ, "")[1] != "iam":
            return None
        form = {k: v[0] for k, v in parse_qs(_read_body(environ).decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        return quotas.refusal(form)

    # -- EventBridge -----------------------------------------------------------------------
    def put_events(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        region, _ = _region_and_service(environ, self.sandbox.region)
        try:
            entries = json.loads(_read_body(environ) or b"{}").get("Entries") or []
        except (ValueError, AttributeError):
            entries = None
        if not isinstance(entries, list) or not entries or len(entries) > 10:
            msg = ("1 validation error detected: Value at 'entries' failed to satisfy "
                   "constraint: Member must have length between 1 and 10")
            return _respond(start_response, 400, json.dumps(
                {"__type": "ValidationException", "message": msg}).encode(),
                {"Content-Type": "application/x-amz-json-1.1"})
        answer = self.sandbox.dispatcher.put_events(region, entries)
        return _respond(start_response, 200, json.dumps(answer).encode(),
                        {"Content-Type": "application/x-amz-json-1.1"})

    # -- Lambda ------------------------------------------------------------------------------
    def invoke(self, environ: dict[str, Any], start_response: StartResponse,
               name: str) -> Iterable[bytes]:
        region, _ = _region_and_service(environ, self.sandbox.region)
        if name.startswith("arn:") and len(name.split(":")) > 3:
            region = name.split(":")[3] or region
        qualifier = (parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier") or [None])[0]
        body = _read_body(environ)
        kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse"
        result = self.sandbox.runner.invoke(region, name, qualifier, body, kind)
        if result is None:
            # moto's docker-free backend would echo the payload even for a missing function.
            arn = name if name.startswith("arn:") else (
                f"arn:aws:lambda:{region}:{backends.ACCOUNT_ID}:function:{name}"
                f"{':' + qualifier if qualifier else ''}")
            missing = json.dumps({"Type": "User", "Message": f"Function not found: {arn}"})
            return _respond(start_response, 404, missing.encode(),
                            {"x-amzn-ErrorType": "ResourceNotFoundException"})
        headers = {"X-Amz-Executed-Version": result.executed_version}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        return _respond(start_response, result.status, result.payload, headers)

    # -- CloudWatch --------------------------------------------------------------------------
    @staticmethod
    def _is_set_alarm_state(environ: dict[str, Any], path: str, target: str) -> bool:
        if target.endswith(".SetAlarmState") or path.endswith("/operation/SetAlarmState"):
            return True  # JSON protocol, or smithy RPCv2 CBOR
        ctype = environ.get("CONTENT_TYPE", "")
        if ctype.startswith("application/x-www-form-urlencoded"):  # query protocol
            _, service = _region_and_service(environ, "")
            if service == "monitoring":
                form = parse_qs(_read_body(environ).decode("utf-8", "replace"))
                return form.get("Action") == ["SetAlarmState"]
        return False

    def set_alarm_state(self, environ: dict[str, Any],
                        start_response: StartResponse) -> Iterable[bytes]:
        region, _ = _region_and_service(environ, self.sandbox.region)
        # One at a time: the before/after comparison must see only this call's change.
        with self._alarm_lock:
            before = alarms.snapshot(region)
            chunks = self.moto_app(environ, start_response)
            try:
                body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            events = alarms.changed_alarm_events(region, before)
        for event in events:
            self.sandbox.log.write("ALARM", f"{event['detail']['alarmName']}: "
                                   f"{event['detail']['previousState']['value']} -> "
                                   f"{event['detail']['state']['value']}")
            self.sandbox.dispatcher.deliver_to_bus(region, "default", event)
            # AWS runs the new state's actions on SetAlarmState too.
            alarm = backends.cloudwatch(region).alarms.get(event["detail"]["alarmName"])
            if alarm is not None:
                metric_alarms.run_actions(region, alarm, event["detail"]["previousState"]
                                          ["value"], self.sandbox.log)
        return [body]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(url: str) -> bool:
    m = re.match(r"^https?://([^:/]+):(\d+)", url)
    if not m:
        return False
    try:
        with socket.create_connection((m.group(1), int(m.group(2))), timeout=0.5):
            return True
    except OSError:
        return False


class Sandbox:
    """A local AWS (moto) that runs lambdafail for real. `start()` returns the endpoint URL."""

    def __init__(self, port: int = 0, time_scale: float = 1.0,
                 state_file: str | Path | None = None, *, host: str = "127.0.0.1",
                 region: str = "us-east-1", write_state_file: bool = True,
                 tick: float = 0.1, max_processes: int = 4, enforce_iam: bool = False):
        if not 0 < time_scale <= _MAX_TIME_SCALE:
            raise UsageError(f"--time-scale must be > 0 and <= {_MAX_TIME_SCALE:g}, "
                             f"got {time_scale:g}",
                             hint="1 is real time; 60 makes rate(1 minute) fire every second")
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be 0..65535, got {port}",
                             hint="0 picks a free port")
        self.host = host
        self.port = port
        self.time_scale = float(time_scale)
        self.region = region
        self.state_file = Path(state_file) if state_file else default_state_file()
        self.log_file = self.state_file.with_suffix(".log")
        self.write_state_file = write_state_file
        self.tick = tick
        self.max_processes = max_processes
        self.notes: list[str] = []
        # --enforce-iam: requests are authorized against the caller's policies (iam_enforce).
        self.enforcer: Enforcer | None = Enforcer() if enforce_iam else None
        self.endpoint_url = ""
        self.log = ActivityLog()
        self.outages = outages.Outages(self.time_scale)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._runner: LambdaRunner | None = None
        self._dispatcher: Dispatcher | None = None
        self._scheduler: Scheduler | None = None
        self._evaluator: metric_alarms.Evaluator | None = None
        self._started = False
        self._lambda_config: dict[str, Any] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> str:
        if self._started:
            return self.endpoint_url
        note = backends.check_version()  # raises UsageError (exit 2) without moto
        if note:
            self.notes.append(note)
        self._refuse_if_running()
        self._lambda_config = backends.disable_lambda_docker()
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        log = self.log
        dark = self.outages

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass  # one line per API call would drown the terminal

            def log_error(self, format: str, *args: Any) -> None:
                log.write("HTTP", format % args)

            def run_wsgi(self) -> None:
                # A dark region's endpoint does not answer: the connection is closed unanswered.
                m = _SCOPE.search(self.headers.get("Authorization", ""))
                if m and dark.refuse(m.group("region")):
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                super().run_wsgi()

        app = SandboxApp(DomainDispatcherApplication(create_backend_app), self)
        try:
            # werkzeug answers a taken port by printing to stderr and calling sys.exit(1).
            with contextlib.redirect_stderr(io.StringIO()):
                self._server = make_server(self.host, self.port, app, threaded=True,
                                           request_handler=QuietHandler)
        except (OSError, SystemExit) as e:
            backends.restore_lambda_config(self._lambda_config)
            why = e.strerror if isinstance(e, OSError) and e.strerror else "address in use"
            raise UsageError(f"cannot listen on {self.host}:{self.port}: {why}",
                             hint="pick another --port, or 0 for a free one") from None
        self.port = int(self._server.server_port)
        self.endpoint_url = f"http://{self.host}:{self.port}"
        if self.write_state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.log_file.write_text("")
            self.log.path = self.log_file
        self._runner = LambdaRunner(endpoint_url=self.endpoint_url, time_scale=self.time_scale,
                                    code_cache=self.state_file.parent / "sandbox-code",
                                    log=self.log, max_processes=self.max_processes,
                                    credentials=(self.enforcer.role_credentials
                                                 if self.enforcer is not None else None))
        self._dispatcher = Dispatcher(runner=self._runner, log=self.log,
                                      dark=self.outages.dark)
        self._scheduler = Scheduler(self._dispatcher, self.log, time_scale=self.time_scale,
                                    tick=self.tick, dark=self.outages.dark)
        dispatcher, region = self._dispatcher, self.region
        self._evaluator = metric_alarms.Evaluator(
            region, self.log, lambda event: dispatcher.deliver_to_bus(region, "default", event),
            self._scheduler.real_delay, app._alarm_lock, dark=self.outages.dark)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="sandbox-http", daemon=True)
        self._thread.start()
        self._scheduler.start()
        self._evaluator.start()
        self._started = True
        self.log.write("START", f"sandbox listening on {self.endpoint_url} "
                       f"(time scale {self.time_scale:g})")
        if self.write_state_file:
            write_state(self.state(), str(self.state_file))
        return self.endpoint_url

    def state(self) -> dict[str, Any]:
        """What the state file holds (and what `lambdafail sandbox -o json` prints)."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "pid": os.getpid(),
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "time_scale": self.time_scale,
            "enforce_iam": self.enforcer is not None,
            "log_file": str(self.log_file) if self.write_state_file else None,
        }

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._evaluator is not None:
            self._evaluator.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._runner is not None:
            self._runner.shutdown()
        if self._lambda_config is not None:
            backends.restore_lambda_config(self._lambda_config)
        self.log.write("STOP", "sandbox stopped")
        if self.write_state_file:
            self._remove_state_file()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _refuse_if_running(self) -> None:
        if not self.write_state_file or not self.state_file.exists():
            return
        try:
            other = json.loads(self.state_file.read_text())
            pid, url = int(other.get("pid", 0)), str(other.get("endpoint_url", ""))
        except (OSError, ValueError, TypeError):
            return  # unreadable: stale, overwrite it
        if pid and _pid_alive(pid) and _listening(url):
            raise UsageError(f"a sandbox is already running at {url} (pid {pid}, state file "
                             f"{self.state_file})",
                             hint="use that one, stop it with Ctrl-C, or pass --state-file "
                             "to run another")

    def _remove_state_file(self) -> None:
        try:
            current = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        if current.get("endpoint_url") == self.endpoint_url and current.get("pid") == os.getpid():
            self.state_file.unlink(missing_ok=True)

    # -- what tests and the demo look at ----------------------------------------------------------
    @property
    def runner(self) -> LambdaRunner:
        if self._runner is None:
            raise RuntimeError("the sandbox is not started")
        return self._runner

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("the sandbox is not started")
        return self._dispatcher

    @property
    def deliveries(self) -> list[Delivered]:
        return list(self._dispatcher.deliveries) if self._dispatcher else []

    def logs(self, function: str | None = None) -> list[str]:
        """Recent activity (deliveries, invocations, function output), oldest first."""
        return self.log.lines(function)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no asynchronous invocation is queued or running (for tests and demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._runner is None or self._runner.idle():
                return True
            time.sleep(0.02)
        return False
