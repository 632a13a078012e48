"""EventBridge's and Lambda's quotas: the sandbox refuses what AWS refuses (300 rules per bus,
5 targets per rule, a 20 KB function policy); validate refuses a topology needing more rules
on a bus than EventBridge allows; 250 services of configs/multi.yaml's shape stay within."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from deploy_support import multi_scaled_text
from lambdafail.cli.main import run
from lambdafail.deploy import quotas
from lambdafail.model.loader import load_text
from lambdafail.model.topology import compile_topology
from lambdafail.sandbox import service_quotas
from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, create_function, orchestrator_zip, uid


def test_sandbox_refuses_the_301st_rule_on_a_bus(sandbox: Sandbox, aws: Clients) -> None:
    ev = aws("events")
    bus = uid("bus")
    ev.create_event_bus(Name=bus)
    names = [uid("r") for _ in range(service_quotas.RULES_PER_BUS)]
    for name in names:
        ev.put_rule(Name=name, EventBusName=bus, EventPattern='{"source": ["x"]}')
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name=uid("r"), EventBusName=bus, EventPattern='{"source": ["x"]}')
    assert e.value.response["Error"]["Code"] == "LimitExceededException"
    # Updating one of the 300 is not a new rule; another bus has its own 300.
    ev.put_rule(Name=names[0], EventBusName=bus, EventPattern='{"source": ["y"]}')
    ev.put_rule(Name=uid("r"), EventPattern='{"source": ["x"]}')


def test_sandbox_refuses_a_sixth_target(sandbox: Sandbox, aws: Clients) -> None:
    ev = aws("events")
    rule = uid("r")
    ev.put_rule(Name=rule, EventPattern='{"source": ["x"]}')
    arn = "arn:aws:sqs:us-east-1:123456789012:q"
    ev.put_targets(Rule=rule, Targets=[{"Id": f"t{i}", "Arn": arn} for i in range(5)])
    ev.put_targets(Rule=rule, Targets=[{"Id": "t0", "Arn": arn}])  # a replacement is fine
    with pytest.raises(ClientError) as e:
        ev.put_targets(Rule=rule, Targets=[{"Id": "t5", "Arn": arn}])
    assert e.value.response["Error"]["Code"] == "LimitExceededException"


def test_sandbox_refuses_a_function_policy_over_20_kb(sandbox: Sandbox, aws: Clients) -> None:
    lam = aws("lambda")
    fn = create_function(aws, orchestrator_zip("def handle(e, c):\n    return 1\n"))
    added = 0
    with pytest.raises(ClientError) as e:
        for i in range(200):
            lam.add_permission(FunctionName=fn, StatementId=f"events-{i:03d}-{'x' * 60}",
                               Action="lambda:InvokeFunction",
                               Principal="events.amazonaws.com",
                               SourceArn=f"arn:aws:events:us-east-1:123456789012:rule/{'r' * 60}"
                                         f"-{i}")
            added += 1
    assert e.value.response["Error"]["Code"] == "PolicyLengthExceededException"
    policy = json.loads(lam.get_policy(FunctionName=fn)["Policy"])
    assert len(policy["Statement"]) == added and 40 < added < 200
    assert len(json.dumps(policy, separators=(",", ":"))) <= service_quotas.FUNCTION_POLICY_BYTES


def _topology_with_event_rules(n_services: int, signals_each: int) -> str:
    lines = ["version: 1", "name: many", "region: us-east-1", "services:"]
    for i in range(n_services):
        lines += [f"  s{i:03d}:", f"    primary: {{url: 'https://p{i}.example'}}",
                  f"    standby: {{url: 'https://s{i}.example'}}", "    signals:"]
        lines += [f"      - event: {{source: [shop.s{i}], detail-type: [t{k}]}}"
                  for k in range(signals_each)]
        lines += [f"    router: {{ssm_parameter: /many/s{i}}}"]
    return "\n".join(lines) + "\n"


def test_validate_refuses_more_rules_than_a_bus_holds(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "many.yaml"
    f.write_text(_topology_with_event_rules(151, 2))  # 302 rules on the topology's bus
    assert run(["validate", "-f", str(f)]) == 2
    err = capsys.readouterr().err
    assert "302 EventBridge rules on the lambdafail-many-events bus" in err
    assert "allows 300 rules per bus" in err and "Traceback" not in err
    f.write_text(_topology_with_event_rules(150, 2))  # exactly 300: fits
    assert run(["validate", "-f", str(f)]) == 0


def test_250_services_stay_within_the_rule_quotas() -> None:
    compiled = compile_topology(load_text(multi_scaled_text(250), "m.yaml"))
    counts = quotas.rules_per_bus(dict(compiled))
    assert counts["default"] == 128 and counts["lambdafail-multi-events"] == 188
    assert max(counts.values()) <= quotas.RULES_PER_BUS == service_quotas.RULES_PER_BUS
    quotas.check_rules(dict(compiled))
