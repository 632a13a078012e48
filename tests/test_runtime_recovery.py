"""Recovery plans in the orchestrator, end to end through `handle()` against in-process moto.

The state table, the router (SSM), the step functions (Lambda, moto's no-docker backend),
SNS and SQS are moto's. The standby's probe is scripted: a botocore event on the moto Lambda
client plays the step function's effect (the standby comes up when it is invoked); the real
function starting a real server is tests/test_e2e_recovery.py on the sandbox.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.transitions import LEASE_SECONDS
from runtime_support import REGION, Env, ScriptedProber, compiled, make_env, service_cfg

START = {"kind": "lambda", "function": "start-standby", "payload": {"size": 2},
         "timeout_seconds": 30, "retries": 0}
WAIT = {"kind": "wait", "healthy": 2, "every_seconds": 5, "timeout_seconds": 60, "retries": 0}
STOP = {"kind": "lambda", "function": "stop-standby", "payload": {}, "timeout_seconds": 30,
        "retries": 0}


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def _functions(*names: str) -> Any:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="step-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(event, context):\n    return {'started': True}\n")
    lam = boto3.client("lambda", region_name=REGION)
    for name in names:
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                            Handler="h.h", Code={"ZipFile": buf.getvalue()})
    return lam


class Invocations:
    """Every Invoke the moto client sends (function, payload, router value at that moment);
    invoking `start-standby` brings the scripted standby up, as the real function would."""

    def __init__(self, lam: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        self.env: Env | None = None
        lam.meta.events.register("before-call.lambda.Invoke", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        assert self.env is not None
        body = json.loads(params["body"])
        self.calls.append({"function": params["url_path"].split("/")[3], "payload": body,
                           "router": self.env.param()})
        if "start-standby" in params["url_path"]:
            self.env.prober.set("checkout", standby=True)


class Killed(BaseException):
    """The invocation dies (Lambda's timeout, a crash): nothing after it runs."""


class CrashingProber(ScriptedProber):
    """Scripted probes that kill the invocation at the first probe of the standby made by a
    recovery step (one probe of one side, outside a round)."""

    crash = True

    def __call__(self, targets: Mapping[Hashable, tuple[Mapping[str, Any], float]]
                 ) -> dict[Hashable, ProbeResult]:
        if self.crash and list(targets) == [("checkout", "standby")]:
            self.crash = False
            raise Killed()
        return super().__call__(targets)


def _env(recovery: dict[str, Any], *, prober: ScriptedProber | None = None,
         functions: tuple[str, ...] = ("start-standby", "stop-standby"),
         sns: bool = False, **cfg: Any) -> tuple[Env, Invocations, Any]:
    lam = _functions(*functions)
    extra: dict[str, Any] = {"lambda": lam}
    queue = None
    topic = None
    if sns:
        sns_client = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns_client.create_topic(Name="oncall")["TopicArn"]
        qurl = sqs.create_queue(QueueName="oncall")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns_client.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
        extra["sns"] = sns_client
        queue = (sqs, qurl)
    env = make_env(compiled({"checkout": service_cfg(recovery=recovery, **cfg)},
                            sns_topic_arn=topic), extra_clients=extra)
    if prober is not None:
        env.prober = prober
    inv = Invocations(lam)
    inv.env = env
    # A cold standby: down until its plan starts it.
    env.prober.set("checkout", primary=True, standby=False)
    return env, inv, queue


def _fail_primary(env: Env, ticks: int = 3) -> None:
    env.prober.set("checkout", primary=False)
    for _ in range(ticks):
        env.tick()


def test_recovery_steps_run_in_order_before_the_router_switches(aws: None) -> None:
    env, inv, _ = _env({"failover": [START, WAIT], "failback": []})
    _fail_primary(env)
    assert env.active() == "standby" and env.param() == "S"
    # The step function ran once, before the switch, with an idempotency key.
    assert [c["function"] for c in inv.calls] == ["start-standby"]
    call = inv.calls[0]
    assert call["router"] == "P"
    assert call["payload"]["size"] == 2
    (item,) = env.store.log()
    key = call["payload"]["lambdafail"]["idempotency_key"]
    assert key == f"{item['transition_id']}-0"
    # The wait step judged the standby by probing it (2 healthy in a row), then the switch.
    steps = item["recovery"]["steps"]
    assert [s["kind"] for s in steps] == ["lambda", "wait"]
    assert [s["status"] for s in steps] == ["done", "done"]
    assert steps[1]["output"]["healthy_probes"] == 2
    assert steps[0]["finished_at"] <= steps[1]["started_at"] <= steps[1]["finished_at"]
    assert steps[1]["finished_at"] <= item["committed_at"]
    assert steps[0]["output"]["idempotency_key"] == key


def test_recovery_resumes_after_a_crash_without_rerunning_a_finished_step(aws: None) -> None:
    prober = CrashingProber()
    env, inv, _ = _env({"failover": [START, WAIT], "failback": []}, prober=prober)
    env.prober.set("checkout", primary=False)
    env.tick()
    env.tick()
    with pytest.raises(Killed):
        env.tick()  # killed inside the wait step, after the lambda step finished
    st = env.store.get("checkout")
    assert st is not None and st.phase == "switching" and env.param() == "P"
    assert st.pending is not None
    progress = st.pending["recovery"]
    assert [s["status"] for s in progress["steps"]] == ["done", "running"]
    # The next tick after the dead invocation's lease lapsed resumes at the wait step.
    env.clock.advance(float(WAIT["every_seconds"]) + LEASE_SECONDS + 1)
    env.tick()
    assert env.active() == "standby" and env.param() == "S"
    assert [c["function"] for c in inv.calls] == ["start-standby"]  # exactly once
    (item,) = env.store.log()
    steps = item["recovery"]["steps"]
    assert [s["status"] for s in steps] == ["done", "done"]
    assert steps[0]["attempts"] == 1 and steps[1]["resumed"] == 1 and steps[1]["attempts"] == 1


def test_a_failing_step_blocks_the_switch_and_notifies(aws: None) -> None:
    missing = {**START, "function": "not-deployed", "retries": 1}
    env, inv, queue = _env({"failover": [missing, WAIT], "failback": []}, sns=True)
    # moto's no-docker Lambda answers 200 for any function name; AWS answers these two
    # (docs/sandbox.md): a function error, then (the retry) a missing function.
    lam = env.clients.get("lambda")
    with Stubber(lam) as stub:
        body = json.dumps({"errorMessage": "boom"}).encode()
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": StreamingBody(io.BytesIO(body), len(body))})
        stub.add_client_error("invoke", "ResourceNotFoundException",
                              "Function not found: not-deployed", http_status_code=404)
        _fail_primary(env)
        stub.assert_no_pending_responses()
    st = env.store.get("checkout")
    assert st is not None and st.phase == "steady" and st.active == "primary"
    assert env.param() == "P" and env.ssm.puts == []  # the router never moved
    assert (st.blocked or "").startswith("recovery failed: failover step 1/2 (lambda)")
    assert "not-deployed" in (st.blocked or "")
    assert st.recovery is not None and st.recovery["steps"][0]["attempts"] == 2  # 1 retry
    assert "ResourceNotFoundException" in st.recovery["steps"][0]["error"]
    # (the stub answered exactly the two attempts: assert_no_pending_responses above)
    assert env.store.log() == []
    assert queue is not None
    sqs, qurl = queue
    msgs = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10)["Messages"]
    assert any("recovery failed" in json.loads(m["Body"])["Subject"] for m in msgs)
    # Still failing: the plan is not run again by itself (it may have started things).
    env.tick()
    env.tick()
    assert inv.calls == [] and env.active() == "primary"  # any new invoke would reach moto
    # The primary recovers: the block lifts.
    env.prober.set("checkout", primary=True)
    env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.blocked is None


def test_a_wait_timeout_blocks_the_switch(aws: None) -> None:
    env, inv, _ = _env({"failover": [{**START, "function": "stop-standby"}, WAIT],
                        "failback": []})
    _fail_primary(env)  # stop-standby does not bring the standby up
    st = env.store.get("checkout")
    assert st is not None and st.active == "primary" and env.param() == "P"
    assert (st.blocked or "").startswith("recovery failed: failover step 2/2 (wait)")
    assert "not healthy 2 time(s) in a row within 60 s" in (st.blocked or "")
    assert st.recovery is not None
    assert [s["status"] for s in st.recovery["steps"]] == ["done", "failed"]
    assert len(inv.calls) == 1


def test_failback_steps_run_after_the_router_is_back_on_the_primary(aws: None) -> None:
    env, inv, _ = _env({"failover": [START, WAIT], "failback": [STOP]}, failback="auto",
                       cooldown=0)
    _fail_primary(env)
    assert env.active() == "standby"
    env.prober.set("checkout", primary=True)
    for _ in range(3):
        env.tick()
    assert env.active() == "primary" and env.param() == "P"
    assert [c["function"] for c in inv.calls] == ["start-standby", "stop-standby"]
    assert inv.calls[1]["router"] == "P"  # after traffic is home
    back = env.store.log()[0]
    assert back["to"] == "primary"
    assert back["recovery"]["plan"] == "failback"
    assert [s["status"] for s in back["recovery"]["steps"]] == ["done"]


def _ecs_service(desired: int = 0) -> Any:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="shop")
    ecs.register_task_definition(family="checkout", containerDefinitions=[
        {"name": "app", "image": "checkout:1", "memory": 128}])
    ecs.create_service(cluster="shop", serviceName="checkout-dr", taskDefinition="checkout",
                       desiredCount=desired)
    return ecs


def _desired(ecs: Any) -> tuple[int, int]:
    svc = ecs.describe_services(cluster="shop", services=["checkout-dr"])["services"][0]
    return int(svc["desiredCount"]), int(svc["runningCount"])


ECS_UP = {"kind": "ecs", "cluster": "shop", "service": "checkout-dr", "desired": 2,
          "every_seconds": 5, "timeout_seconds": 300, "retries": 0}


def test_ecs_steps_scale_the_standby_up_before_the_switch_and_down_after_failback(
        aws: None) -> None:
    ecs = _ecs_service()
    env, _inv, _ = _env({"failover": [ECS_UP, WAIT], "failback": [{**ECS_UP, "desired": 0}]},
                        failback="auto", cooldown=0)
    env.clients.overrides["ecs"] = ecs
    env.prober.set("checkout", standby=True)  # moto runs the tasks at once
    _fail_primary(env)
    assert env.active() == "standby" and _desired(ecs) == (2, 2)
    (item,) = env.store.log()
    assert item["recovery"]["steps"][0]["output"] == {"desired": 2, "running": 2}
    env.prober.set("checkout", primary=True)
    for _ in range(3):
        env.tick()
    assert env.active() == "primary" and _desired(ecs) == (0, 0)


def test_an_ecs_step_on_a_missing_service_blocks_the_switch(aws: None) -> None:
    ecs = _ecs_service()
    env, _inv, _ = _env({"failover": [{**ECS_UP, "service": "nope"}, WAIT], "failback": []})
    env.clients.overrides["ecs"] = ecs
    _fail_primary(env)
    st = env.store.get("checkout")
    assert st is not None and st.active == "primary" and env.param() == "P"
    assert (st.blocked or "").startswith("recovery failed: failover step 1/2 (ecs)")
    assert "ServiceNotFoundException" in (st.blocked or "")
