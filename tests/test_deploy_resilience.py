"""Crash-anywhere convergence and throttling, against in-process moto.

Crash-anywhere: the k-th mutating call succeeds and then the process "dies" (an exception raised
from botocore's after-call hook, so AWS did change); re-running deploy must end exactly where an
uninterrupted deploy ends — same resources, configs, targets, permissions, tags, same alias
version (interrupted deploys reuse the version they published, by fingerprint).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto import mock_aws

from deploy_support import context, deploy, multi, replan, snapshot
from lambdafail.aws import AwsContext, is_mutating


class Crash(Exception):
    """The process died right after a mutating call took effect."""


class CrashingContext(AwsContext):
    """An AwsContext whose clients die after the k-th mutating call."""

    crash_at: int = 0
    seen: int = 0

    def client(self, service: str, region: str | None = None) -> Any:
        fresh = service not in self._clients
        c = super().client(service, region)
        if fresh:
            c.meta.events.register("after-call.*.*", self._after)
        return c

    def _after(self, model: Any = None, **_: Any) -> None:
        if model is not None and is_mutating(model.name):
            self.seen += 1
            if self.seen == self.crash_at:
                raise Crash(f"crash after mutating call #{self.seen}: {model.name}")


def _crashing(k: int) -> CrashingContext:
    base = context()
    ctx = CrashingContext(region="us-east-1", _session=base.session)
    ctx.crash_at = k
    return ctx


def _reference() -> tuple[dict[str, Any], int]:
    with mock_aws():
        _, _, ctx = deploy(multi())
        return snapshot("multi"), len(ctx.mutating_calls())


_REF: dict[str, Any] = {}


def reference() -> tuple[dict[str, Any], int]:
    if not _REF:
        _REF["snap"], _REF["n"] = _reference()
    return _REF["snap"], _REF["n"]


# Crash after each mutating call a from-scratch deploy of multi.yaml makes (counted in moto at
# collection time, so the test follows the file).
CRASH_POINTS = range(1, reference()[1] + 1)


def test_deploy_crash_points_cover_every_mutating_call() -> None:
    assert len(CRASH_POINTS) >= 30


@pytest.mark.parametrize("k", CRASH_POINTS)
def test_deploy_crash_anywhere_then_redeploy_converges(k: int) -> None:
    ref, _ = reference()
    with mock_aws():
        ctx = _crashing(k)
        with pytest.raises(Crash):
            deploy(multi(), ctx)
        assert ctx.seen == k
        deploy(multi())
        assert snapshot("multi") == ref
        assert replan(multi()).pending == []


# ------------------------------------------------------------------------- throttling


def _throttle_every(nth: int, counter: dict[str, int]) -> Any:
    """A before-send hook answering every nth request with a throttling error, in the
    service's own wire format, so botocore's standard retry mode must retry it."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def __init__(self, body: bytes):
            self.body = body

        def stream(self, **_: Any) -> Any:
            yield self.body

    def hook(request: Any, **kw: Any) -> Any:
        counter["requests"] += 1
        if counter["requests"] % nth:
            return None
        counter["throttled"] += 1
        # botocore runs every before-send handler and keeps the first answer; moto's handler
        # runs too, so point the request where moto does not answer: the throttled call then
        # has no effect, as on AWS.
        request.url = "http://throttled.invalid/"
        protocol = kw["event_name"]  # before-send.<service>.<op>
        service = protocol.split(".")[1]
        if service in ("iam", "sts", "sns", "route-53"):  # the XML protocols
            body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                    b"<Message>Rate exceeded</Message></Error><RequestId>x</RequestId>"
                    b"</ErrorResponse>")
            headers = {"Content-Type": "text/xml"}
        else:
            body = json.dumps({"__type": "ThrottlingException",
                               "message": "Rate exceeded"}).encode()
            headers = {"Content-Type": "application/x-amz-json-1.1",
                       "x-amzn-ErrorType": "ThrottlingException",
                       "x-amzn-query-error": "ThrottlingException;Sender"}
        return AWSResponse(request.url, 400, headers, Raw(body))

    return hook


class ThrottledContext(AwsContext):
    hook: Any = None

    def client(self, service: str, region: str | None = None) -> Any:
        fresh = service not in self._clients
        c = super().client(service, region)
        if fresh:
            c.meta.events.register("before-send.*.*", self.hook)
        return c


def test_deploy_succeeds_under_throttling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    # Keep the test fast: botocore's backoff still runs, its sleeps don't.
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
    counter = {"requests": 0, "throttled": 0}
    with mock_aws():
        ctx = ThrottledContext(region="us-east-1", _session=context().session)
        ctx.hook = _throttle_every(3, counter)
        plan, outcome, _ = deploy(multi(), ctx)
        assert len(outcome.done) == len(plan.pending)
        assert counter["throttled"] >= 20
        again = ThrottledContext(region="us-east-1", _session=context().session)
        again.hook = ctx.hook
        _, outcome2, _ = deploy(multi(), again)
        assert outcome2.done == [] and again.mutating_calls() == []
        assert replan(multi()).pending == []


def _refuse(code: str, message: str) -> Any:
    """A before-call hook answering DynamoDB PutItem with an error, as AWS would."""

    class Http:
        status_code = 400

    def hook(**_: Any) -> Any:
        return Http(), {"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}

    return hook


@pytest.mark.parametrize(("code", "again"), [
    ("ValidationException", "re-running as is fails the same way"),
    ("ProvisionedThroughputExceededException", "re-running the command continues from here"),
])
def test_deploy_error_hint_says_whether_re_running_helps(code: str, again: str) -> None:
    from lambdafail.base.errors import AwsError
    from lambdafail.cli.commands.plan import execute
    from lambdafail.deploy.inventory import plan_for

    with mock_aws():
        ctx = AwsContext(region="us-east-1", _session=context().session)
        ctx.client("dynamodb").meta.events.register("before-call.dynamodb.PutItem",
                                                    _refuse(code, "refused"))
        plan, pkg = plan_for(ctx, multi())
        with pytest.raises(AwsError) as got:
            execute(ctx, plan, pkg)
    assert got.value.code == code and again in got.value.hint
