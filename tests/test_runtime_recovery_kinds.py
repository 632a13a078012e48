"""The autoscaling and ec2 recovery steps against in-process moto: the step really changes
moto's state (desired capacity, instance state), and its wait reads moto's answers.

moto reports new Auto Scaling instances InService and started instances `running` at once;
where a test needs the wait to wait, it puts moto's own records in AWS's in-between state
(`Pending`, `pending`) and lets them settle only when the step sleeps between checks. The
whole switch (`handle()`, the plan before the router, failback after) runs for autoscaling;
lambda_concurrency and aurora, which moto lacks, are tests/test_sandbox_recovery_kinds.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdafail.runtime.config import Clients
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.steps import OutOfTime, StepEnv, StepFailed, step_runner
from runtime_support import REGION, FakeClock
from test_runtime_recovery import WAIT, Killed, _env, _fail_primary

ACCOUNT = "123456789012"
IMAGE = "ami-12345678"  # moto does not check that the image exists


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    # moto's thousands of default AMIs take seconds to load per test; no step reads them.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


class Steps:
    """A StepEnv on a fake clock whose sleeps advance it and run `on_sleep` (AWS moving on)."""

    def __init__(self, **clients: Any) -> None:
        self.clock = FakeClock()
        self.sleeps: list[float] = []
        self.on_sleep: list[Any] = []
        self.renewed: list[float] = []
        self.env = StepEnv(service="checkout", transition_id="t-1", plan="failover",
                           clients=Clients(overrides=clients),
                           probe=lambda: ProbeResult(True, 200, 1.0, "ok"),
                           clock=self.clock, sleep=self._sleep, deadline=self.clock() + 800,
                           keepalive=self.renewed.append)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)
        for fn in self.on_sleep:
            fn()

    def run(self, cfg: dict[str, Any], progress: dict[str, Any] | None = None) -> dict[str, Any]:
        return step_runner(cfg).run(cfg, self.env, progress or {}, 0)


# --- autoscaling -------------------------------------------------------------------------------

def _group(desired: int = 0, max_size: int = 4) -> Any:
    asg = boto3.client("autoscaling", region_name=REGION)
    asg.create_launch_configuration(LaunchConfigurationName="web", ImageId=IMAGE,
                                    InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName="web-dr", LaunchConfigurationName="web",
                                  MinSize=0, MaxSize=max_size, DesiredCapacity=desired,
                                  AvailabilityZones=[f"{REGION}a"])
    return asg


def _sizes(asg: Any) -> tuple[int, int, int, list[str]]:
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-dr"])["AutoScalingGroups"][0]
    return (int(g["MinSize"]), int(g["DesiredCapacity"]), int(g["MaxSize"]),
            [i["LifecycleState"] for i in g["Instances"]])


def _asg_instances() -> list[Any]:
    from moto.autoscaling.models import autoscaling_backends

    return list(autoscaling_backends[ACCOUNT][REGION].autoscaling_groups["web-dr"]
                .instance_states)


ASG_UP = {"kind": "autoscaling", "group": "web-dr", "desired": 2, "min": 2, "max": None,
          "every_seconds": 10, "timeout_seconds": 600, "retries": 0}


def test_autoscaling_sets_the_sizes_and_waits_until_the_instances_are_in_service(
        aws: None) -> None:
    asg = _group()
    steps = Steps(autoscaling=asg)
    checks: list[str] = []
    asg.meta.events.register("after-call.autoscaling.DescribeAutoScalingGroups",
                             lambda **_: checks.append("describe"))
    # AWS launches instances Pending; here they come InService after two checks.
    asg.meta.events.register("after-call.autoscaling.UpdateAutoScalingGroup", lambda **_: [
        setattr(i, "lifecycle_state", "Pending") for i in _asg_instances()])
    settle = iter([False, True])

    def in_service() -> None:
        if next(settle, True):
            for i in _asg_instances():
                i.lifecycle_state = "InService"

    steps.on_sleep.append(in_service)
    out = steps.run(ASG_UP)
    assert out == {"desired": 2, "in_service": 2}
    assert len(checks) == 3 and steps.sleeps == [10, 10]
    assert _sizes(asg) == (2, 2, 4, ["InService", "InService"])
    assert steps.renewed == [25, 25]  # the interval and one call, renewed before each sleep
    # Again (a resumed step): harmless, done at the first check.
    assert steps.run(ASG_UP) == out and _sizes(asg)[1] == 2


def test_autoscaling_back_to_zero_waits_until_the_instances_are_gone(aws: None) -> None:
    asg = _group(desired=2)
    steps = Steps(autoscaling=asg)
    out = steps.run({**ASG_UP, "desired": 0, "min": 0})
    assert out == {"desired": 0, "in_service": 0}
    assert _sizes(asg) == (0, 0, 4, [])


def test_autoscaling_max_raises_the_groups_maximum(aws: None) -> None:
    # (AWS refuses a desired capacity above the group's max; moto does not check: the sandbox
    # does, tests/test_sandbox_recovery_kinds.py.)
    asg = _group(max_size=1)
    steps = Steps(autoscaling=asg)
    assert steps.run({**ASG_UP, "max": 3}) == {"desired": 2, "in_service": 2}
    assert _sizes(asg)[:3] == (2, 2, 3)


def test_autoscaling_times_out_from_the_first_start_and_ends_before_the_deadline(
        aws: None) -> None:
    asg = _group()
    asg.meta.events.register("after-call.autoscaling.UpdateAutoScalingGroup", lambda **_: [
        setattr(i, "lifecycle_state", "Pending") for i in _asg_instances()])
    steps = Steps(autoscaling=asg)
    started = {"started_at": "2023-11-14T22:13:20Z"}  # FakeClock's start: T0
    with pytest.raises(StepFailed, match=r"0 of 2 instances InService \(2 on the way\) after "
                                         r"60 s"):
        steps.run({**ASG_UP, "timeout_seconds": 60}, started)
    steps.env.deadline = steps.clock() + 15
    with pytest.raises(OutOfTime, match="resumed by the next tick"):
        steps.run(ASG_UP)


def test_autoscaling_on_a_missing_group_fails(aws: None) -> None:
    steps = Steps(autoscaling=boto3.client("autoscaling", region_name=REGION))
    with pytest.raises(StepFailed, match="web-dr"):
        steps.run(ASG_UP)


def test_a_switch_scales_the_group_up_first_and_failback_scales_it_down(aws: None) -> None:
    asg = _group()
    env, _inv, _ = _env({"failover": [ASG_UP, WAIT],
                         "failback": [{**ASG_UP, "desired": 0, "min": 0}]},
                        failback="auto", cooldown=0)
    env.clients.overrides["autoscaling"] = asg
    seen: list[str] = []
    asg.meta.events.register("before-call.autoscaling.UpdateAutoScalingGroup",
                             lambda **_: seen.append(env.param()))
    env.prober.set("checkout", standby=True)
    _fail_primary(env)
    assert env.active() == "standby" and _sizes(asg)[1:] == (2, 4, ["InService"] * 2)
    (item,) = env.store.log()
    assert item["recovery"]["steps"][0]["output"] == {"desired": 2, "in_service": 2}
    env.prober.set("checkout", primary=True)
    for _ in range(3):
        env.tick()
    assert env.active() == "primary" and _sizes(asg)[:2] == (0, 0)
    assert seen == ["P", "P"]  # before the router moved, and after it came home


# --- ec2 ---------------------------------------------------------------------------------------

def _instances(n: int = 2, state: str = "stopped") -> tuple[Any, list[str]]:
    ec2 = boto3.client("ec2", region_name=REGION)
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=IMAGE, MinCount=n, MaxCount=n,
                                                      InstanceType="t3.micro")["Instances"]]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=ids)
    return ec2, ids


def _states(ec2: Any, ids: list[str]) -> list[str]:
    resp = ec2.describe_instances(InstanceIds=ids)
    got = {i["InstanceId"]: i["State"]["Name"] for r in resp["Reservations"]
           for i in r["Instances"]}
    return [got[i] for i in ids]


def _moto_instance(instance_id: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[ACCOUNT][REGION].get_instance(instance_id)


def _ec2(ids: list[str], state: str = "running") -> dict[str, Any]:
    return {"kind": "ec2", "instances": ids, "state": state, "every_seconds": 5,
            "timeout_seconds": 300, "retries": 0}


def test_ec2_starts_the_instances_and_waits_until_they_run(aws: None) -> None:
    ec2, ids = _instances()
    steps = Steps(ec2=ec2)
    # AWS passes through `pending`; here the second instance stays there for one check.
    ec2.meta.events.register("after-call.ec2.StartInstances", lambda **_: setattr(
        _moto_instance(ids[1])._state, "name", "pending"))
    steps.on_sleep.append(lambda: setattr(_moto_instance(ids[1])._state, "name", "running"))
    assert steps.run(_ec2(ids)) == {"state": "running", "instances": 2}
    assert _states(ec2, ids) == ["running", "running"] and steps.sleeps == [5]
    # Starting running instances again (a resumed step) is harmless.
    assert steps.run(_ec2(ids)) == {"state": "running", "instances": 2}


def test_ec2_stops_them_for_the_failback(aws: None) -> None:
    ec2, ids = _instances(state="running")
    steps = Steps(ec2=ec2)
    assert steps.run(_ec2(ids, "stopped")) == {"state": "stopped", "instances": 2}
    assert _states(ec2, ids) == ["stopped", "stopped"]


def test_ec2_asks_again_once_a_stopping_instance_has_stopped(aws: None) -> None:
    ec2, ids = _instances(n=1)
    steps = Steps(ec2=ec2)
    starts: list[str] = []
    ec2.meta.events.register("before-call.ec2.StartInstances", lambda **_: starts.append("s"))
    # Still stopping when asked: AWS refuses to start it (IncorrectInstanceState), it stops.
    ec2.meta.events.register("after-call.ec2.StartInstances", lambda **_: setattr(
        _moto_instance(ids[0])._state, "name", "stopped") if len(starts) == 1 else None)
    assert steps.run(_ec2(ids)) == {"state": "running", "instances": 1}
    assert len(starts) == 2 and _states(ec2, ids) == ["running"]


def test_ec2_fails_on_a_terminated_or_unknown_instance(aws: None) -> None:
    ec2, ids = _instances(n=1)
    # (moto starts even a terminated instance; AWS refuses, and DescribeInstances says so.)
    ec2.meta.events.register("after-call.ec2.StartInstances", lambda **_: setattr(
        _moto_instance(ids[0])._state, "name", "terminated"))
    steps = Steps(ec2=ec2)
    with pytest.raises(StepFailed, match=f"{ids[0]} terminated"):
        steps.run(_ec2(ids))
    with pytest.raises(StepFailed, match=r"InvalidInstanceID\.NotFound"):
        steps.run(_ec2(["i-0123456789abcdef0"]))


def test_an_invocation_killed_inside_an_ec2_step_is_resumed_and_asks_again(aws: None) -> None:
    ec2, ids = _instances(n=1)
    step = _ec2(ids)
    env, _inv, _ = _env({"failover": [step, WAIT], "failback": []})
    env.clients.overrides["ec2"] = ec2
    starts: list[str] = []

    def started(**_: Any) -> None:
        starts.append(env.param())
        if len(starts) == 1:  # AWS is still starting it when the invocation dies
            _moto_instance(ids[0])._state.name = "pending"
            raise Killed()

    ec2.meta.events.register("after-call.ec2.StartInstances", started)
    env.prober.set("checkout", primary=False, standby=True)
    env.tick()
    env.tick()
    with pytest.raises(Killed):
        env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.phase == "switching" and st.pending is not None
    assert [s["status"] for s in st.pending["recovery"]["steps"]] == ["running", "todo"]
    # Once the dead invocation's lease lapsed, the next tick resumes the step: it asks again
    # (harmless), sees the instance running, then the wait, then the switch.
    env.clock.advance(120)
    env.tick()
    assert env.active() == "standby" and _states(ec2, ids) == ["running"]
    assert starts == ["P", "P"]
    (item,) = env.store.log()
    first = item["recovery"]["steps"][0]
    assert (first["status"], first["attempts"], first["resumed"]) == ("done", 1, 1)
    assert first["output"] == {"state": "running", "instances": 1}
