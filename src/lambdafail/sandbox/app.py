"""The sandbox's WSGI layer in front of moto: the few calls it answers itself or checks first.

Rule: it intercepts only EventBridge PutEvents (delivery.py), Lambda Invoke (lambda_runner.py),
CloudWatch SetAlarmState (alarms.py), DynamoDB TransactWriteItems with a ClientRequestToken
(idempotency.py), DynamoDB requests naming a global table, answered by the table's home
Region (global_tables.py), what recovery steps need and moto lacks (recovery_apis.py), the
region-outage control path (outages.py), the regional web endpoints and their control
(regional_web.py), the sandbox-only DNS answer and request log (dns.py, activity.py), Route
53's health checks (dns.py patches moto's handlers) — and checks IAM (iam_enforce.py, with
--enforce-iam), IAM's and the
services' quotas (quotas.py, service_quotas.py) and eventual consistency (consistency.py)
before moto sees a request; everything else goes to moto untouched.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from lambdafail.sandbox import (
    alarms,
    backends,
    idempotency,
    metric_alarms,
    outages,
    quotas,
    regional_web,
    service_quotas,
)
from lambdafail.sandbox.consistency import Consistency
from lambdafail.sandbox.control_paths import DNS_PATH, REQUESTS_PATH, ControlPaths
from lambdafail.sandbox.global_tables import GlobalTables
from lambdafail.sandbox.iam_enforce import Enforcer, Verdict
from lambdafail.sandbox.recovery_apis import RecoveryApis
from lambdafail.sandbox.wsgi import StartResponse, WsgiApp
from lambdafail.sandbox.wsgi import read_body as _read_body
from lambdafail.sandbox.wsgi import respond as _respond

if TYPE_CHECKING:
    from lambdafail.sandbox.server import Sandbox


_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_DYNAMODB_TARGET = "DynamoDB_20120810."
_SCOPE = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")
# Sandbox-only endpoints (not AWS APIs): what Route 53 would answer, and the request log.


def _region_and_service(environ: dict[str, Any], default: str) -> tuple[str, str]:
    m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (m.group("region"), m.group("service")) if m else (default, "")


class SandboxApp(ControlPaths):
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
        self.global_tables = GlobalTables(sandbox.outages.dark)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == outages.CONTROL_PATH:
            return self.outage_control(environ, start_response)
        if path == regional_web.WEB_PATH or path.startswith(regional_web.WEB_PATH + "/"):
            return self.regional_web(environ, start_response, path)
        if path == DNS_PATH:
            return self.dns_answer(environ, start_response)
        if path == REQUESTS_PATH:
            return self.request_log(environ, start_response)
        self._log_request(environ)
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
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(_DYNAMODB_TARGET):
            replicated = self._global_table(environ, start_response)
            if replicated is not None:
                return replicated
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

    def _log_request(self, environ: dict[str, Any]) -> None:
        """The request log (activity.RequestLog): every signed request, by its operation."""
        from lambdafail.sandbox.iam_request import SERVICES, identify

        m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not m:
            return
        headers = {"X-Amz-Target": environ.get("HTTP_X_AMZ_TARGET", ""),
                   "Content-Type": environ.get("CONTENT_TYPE", "")}
        try:
            got = identify(m.group("service"), environ.get("REQUEST_METHOD", "GET"),
                           environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""),
                           headers, _read_body(environ))
        except Exception:  # an unparsable request is still a request
            got = None
        service = SERVICES.get(m.group("service"), (m.group("service"), ""))[0]
        self.sandbox.requests.write(service, got.operation if got else "?", m.group("region"),
                                    m.group("key"))

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

    def _global_table(self, environ: dict[str, Any],
                      start_response: StartResponse) -> list[bytes] | None:
        """global_tables.py: a request naming a global table, answered by its home Region."""
        op = environ.get("HTTP_X_AMZ_TARGET", "")[len(_DYNAMODB_TARGET):]
        if environ.get("REQUEST_METHOD") != "POST" or (
                op != "UpdateTable" and not self.global_tables.registry.all()):
            return None
        try:
            doc = json.loads(_read_body(environ) or b"{}")
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        region = _region_and_service(environ, self.sandbox.region)[0]
        with self._ddb_lock:
            got = self.global_tables.answer(
                op, region, doc, lambda home, action, req: self._moto_as(environ, home, action,
                                                                         req))
        if got is None:
            return None
        status, headers, out = got
        start_response(status, headers)
        return [out]

    def _moto_as(self, request: dict[str, Any], region: str, op: str,
                 doc: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """moto's answer to DynamoDB `op` with `doc`, signed for `region` (the caller holds the
        DynamoDB lock): the current request, re-addressed."""
        env = dict(request)
        m = _SCOPE.search(env.get("HTTP_AUTHORIZATION", ""))
        auth = env.get("HTTP_AUTHORIZATION", "")
        env["HTTP_AUTHORIZATION"] = (
            auth[:m.start("region")] + region + auth[m.end("region"):] if m else
            f"AWS4-HMAC-SHA256 Credential=testing/20000101/{region}/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0")
        raw = json.dumps(doc).encode()
        env.update({"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw)),
                    "HTTP_X_AMZ_TARGET": _DYNAMODB_TARGET + op})
        got: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            got.update(status=status, headers=list(headers))
            return lambda data: None

        body = b"".join(self.moto_app(env, capture))
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
