"""The lambda_concurrency and aurora recovery steps against the sandbox, which answers the
calls moto lacks as AWS does (sandbox/recovery_apis.py): provisioned concurrency IN_PROGRESS
then READY, a global database's switch under way (FailoverState) then the new writer; and
Auto Scaling's size check. The steps run with the orchestrator's own clients on real time,
their intervals divided by the sandbox's time scale (60: AWS's minute is a second here)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdafail.runtime.config import Clients as RuntimeClients
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.steps import StepEnv, StepFailed, step_runner
from lambdafail.sandbox.server import Sandbox
from sandbox_support import REGION, Clients, make_zip

WEST = "us-west-2"


def _env(sandbox: Sandbox, progress_log: list[float] | None = None) -> StepEnv:
    return StepEnv(service="checkout", transition_id="t-1", plan="failover",
                   clients=RuntimeClients(region=REGION, endpoint_url=sandbox.endpoint_url),
                   probe=lambda: ProbeResult(True, 200, 1.0, "ok"), clock=time.time,
                   sleep=time.sleep, deadline=time.time() + 60, time_scale=sandbox.time_scale,
                   keepalive=(progress_log.append if progress_log is not None
                              else lambda _s: None))


def run(sandbox: Sandbox, cfg: dict[str, Any], renewed: list[float] | None = None
        ) -> dict[str, Any]:
    return step_runner(cfg).run(cfg, _env(sandbox, renewed), {}, 0)


# --- lambda_concurrency ------------------------------------------------------------------------

@pytest.fixture
def function(aws: Clients) -> Iterator[Any]:
    iam, lam = aws("iam"), aws("lambda")
    role = iam.create_role(RoleName="api-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName="api", Runtime="python3.12", Role=role, Handler="h.h",
                        Code={"ZipFile": make_zip({"h.py": "def h(e, c):\n    return 1\n"})})
    version = lam.publish_version(FunctionName="api")["Version"]
    lam.create_alias(FunctionName="api", Name="live", FunctionVersion=version)
    yield lam


PC = {"kind": "lambda_concurrency", "function": "api", "qualifier": "live", "concurrency": 5,
      "every_seconds": 10, "timeout_seconds": 600, "retries": 0}


def test_provisioned_concurrency_is_put_and_the_step_waits_for_ready(
        sandbox: Sandbox, function: Any) -> None:
    renewed: list[float] = []
    t0 = time.monotonic()
    assert run(sandbox, PC, renewed) == {"concurrency": 5, "allocated": 5}
    took = time.monotonic() - t0
    # IN_PROGRESS for AWS's minute (a second here): the step checked more than once.
    assert renewed and took >= 0.9
    got = function.get_provisioned_concurrency_config(FunctionName="api", Qualifier="live")
    assert (got["Status"], got["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 5)
    # Again (a resumed step): nothing is put (a put restarts the allocation), READY already.
    time.sleep(1.1)  # LastModified has second resolution
    assert run(sandbox, PC) == {"concurrency": 5, "allocated": 5}
    again = function.get_provisioned_concurrency_config(FunctionName="api", Qualifier="live")
    assert again["LastModified"] == got["LastModified"] and again["Status"] == "READY"


def test_a_resumed_step_waits_for_the_allocation_in_progress_instead_of_refused_put(
        sandbox: Sandbox, function: Any) -> None:
    function.put_provisioned_concurrency_config(FunctionName="api", Qualifier="live",
                                                ProvisionedConcurrentExecutions=5)
    with pytest.raises(ClientError, match="ResourceConflictException"):
        function.put_provisioned_concurrency_config(FunctionName="api", Qualifier="live",
                                                    ProvisionedConcurrentExecutions=5)
    assert run(sandbox, PC) == {"concurrency": 5, "allocated": 5}


def test_concurrency_zero_removes_the_configuration(sandbox: Sandbox, function: Any) -> None:
    run(sandbox, PC)
    assert run(sandbox, {**PC, "concurrency": 0}) == {"concurrency": 0}
    with pytest.raises(ClientError, match="ProvisionedConcurrencyConfigNotFoundException"):
        function.get_provisioned_concurrency_config(FunctionName="api", Qualifier="live")
    assert run(sandbox, {**PC, "concurrency": 0}) == {"concurrency": 0}  # already gone


def test_provisioned_concurrency_on_latest_or_a_missing_function_fails(
        sandbox: Sandbox, function: Any) -> None:
    with pytest.raises(StepFailed, match="InvalidParameterValueException"):
        run(sandbox, {**PC, "qualifier": "$LATEST"})
    with pytest.raises(StepFailed, match="ResourceNotFoundException"):
        run(sandbox, {**PC, "function": "nope"})


# --- aurora ------------------------------------------------------------------------------------

@pytest.fixture
def global_db(aws: Clients) -> Iterator[tuple[Any, str, str]]:
    east = aws("rds")
    west_rds = boto3.client("rds", endpoint_url=aws.url, region_name=WEST,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    east.create_global_cluster(GlobalClusterIdentifier="shop", Engine="aurora-postgresql")
    arns = []
    for rds, name in ((east, "shop-east"), (west_rds, "shop-west")):
        arns.append(rds.create_db_cluster(
            DBClusterIdentifier=name, Engine="aurora-postgresql", GlobalClusterIdentifier="shop",
            MasterUsername="admin", MasterUserPassword="secret-password")["DBCluster"][
            "DBClusterArn"])
    yield east, arns[0], arns[1]


def _writer(rds: Any) -> tuple[str, Any]:
    (g,) = rds.describe_global_clusters(GlobalClusterIdentifier="shop")["GlobalClusters"]
    (w,) = [m["DBClusterArn"] for m in g["GlobalClusterMembers"] if m["IsWriter"]]
    return w, g.get("FailoverState")


def aurora(target: str, mode: str = "switchover") -> dict[str, Any]:
    return {"kind": "aurora", "global_cluster": "shop", "target": target, "mode": mode,
            "allow_data_loss": mode == "failover", "every_seconds": 15,
            "timeout_seconds": 900, "retries": 0}


def test_a_switchover_is_requested_and_the_step_waits_for_the_new_writer(
        sandbox: Sandbox, global_db: tuple[Any, str, str]) -> None:
    rds, east, west = global_db
    assert _writer(rds) == (east, None)
    renewed: list[float] = []
    assert run(sandbox, aurora(west), renewed) == {"writer": west, "mode": "switchover"}
    assert renewed  # it waited through the switch (AWS's minutes: 2 s here)
    assert _writer(rds) == (west, None)
    # Done already: recognised, nothing requested (a second request would be refused).
    assert run(sandbox, aurora(west), renewed) == {"writer": west, "mode": "switchover"}
    with pytest.raises(ClientError, match="InvalidGlobalClusterStateFault"):
        rds.switchover_global_cluster(GlobalClusterIdentifier="shop",
                                      TargetDbClusterIdentifier=west)


def test_a_switch_under_way_to_the_target_is_waited_for_and_one_elsewhere_fails(
        sandbox: Sandbox, global_db: tuple[Any, str, str]) -> None:
    rds, east, west = global_db
    rds.failover_global_cluster(GlobalClusterIdentifier="shop", TargetDbClusterIdentifier=west,
                                AllowDataLoss=True)
    writer, state = _writer(rds)
    assert writer == east and state["Status"] == "failing-over"
    assert state["ToDbClusterArn"] == west and state["IsDataLossAllowed"] is True
    with pytest.raises(StepFailed, match=r"switch to .*shop-west is under way"):
        run(sandbox, aurora(east))
    assert run(sandbox, aurora(west, "failover")) == {"writer": west, "mode": "failover"}
    assert _writer(rds) == (west, None)


def test_an_aurora_step_naming_a_cluster_outside_the_global_database_fails(
        sandbox: Sandbox, global_db: tuple[Any, str, str]) -> None:
    _rds, _east, west = global_db
    with pytest.raises(StepFailed, match="is not a member"):
        run(sandbox, aurora(west.replace("shop-west", "other")))
    with pytest.raises(StepFailed, match="DescribeGlobalClusters: GlobalClusterNotFoundFault"):
        run(sandbox, {**aurora(west), "global_cluster": "nope"})


def test_describe_global_clusters_answers_only_the_named_one_as_aws_does(
        sandbox: Sandbox, global_db: tuple[Any, str, str]) -> None:
    rds, _east, _west = global_db
    rds.create_global_cluster(GlobalClusterIdentifier="other", Engine="aurora-postgresql")
    assert [g["GlobalClusterIdentifier"] for g in rds.describe_global_clusters(
        GlobalClusterIdentifier="other")["GlobalClusters"]] == ["other"]
    assert len(rds.describe_global_clusters()["GlobalClusters"]) == 2


# --- Auto Scaling's size check -----------------------------------------------------------------

def test_the_sandbox_refuses_a_desired_capacity_above_the_max_as_aws_does(
        sandbox: Sandbox, aws: Clients) -> None:
    asg = aws("autoscaling")
    asg.create_launch_configuration(LaunchConfigurationName="web", ImageId="ami-12345678",
                                    InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName="web-dr", LaunchConfigurationName="web",
                                  MinSize=0, MaxSize=1, AvailabilityZones=[f"{REGION}a"])
    cfg = {"kind": "autoscaling", "group": "web-dr", "desired": 2, "min": 0, "max": None,
           "every_seconds": 10, "timeout_seconds": 60, "retries": 0}
    with pytest.raises(StepFailed, match=r"UpdateAutoScalingGroup: ValidationError: .*Desired "
                                         r"capacity:2 must be between the specified min "
                                         r"size:0 and max size:1"):
        run(sandbox, cfg)
    with pytest.raises(StepFailed, match=r"ValidationError: .*Max size: 1 must be above Min "
                                         r"size: 2"):
        run(sandbox, {**cfg, "min": 2})
    assert run(sandbox, {**cfg, "max": 2}) == {"desired": 2, "in_service": 2}
