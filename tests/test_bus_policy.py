"""The topology bus's resource policy: only the named senders (and lambdafail's orchestrator
roles) may put the events that fail services over.

Rule: the pure tests read the policy document `deploy` writes and evaluate it with the
sandbox's IAM evaluation (AWS's logic: within one account an identity Allow suffices unless a
policy denies); the round trip deploys it to moto and reads it back; the enforcing-sandbox
test is in test_iam_enforce.py.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from deploy_support import deploy, destroy, multi, replan
from lambdafail.deploy.bus_policy import bus_policy, normalize, parse
from lambdafail.model.arns import Where
from lambdafail.model.loader import load_text
from lambdafail.model.topology import compile_topology
from lambdafail.sandbox.iam_policy import Need, Principal, decide

WHERE = Where("aws", "us-east-1", "123456789012")
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/lambdafail-multi-events"
ANYONE = [[{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]]
OPS = "arn:aws:iam::123456789012:role/ops-tooling"
_CHECKOUT = "          source: [shop.checkout]\n          detail-type: [Server failure]\n"


def _compiled(edit: Any = None) -> dict[str, Any]:
    return dict(compile_topology(multi(edit=edit)))


def _put(doc: dict[str, Any], principal: Principal, source: str) -> str:
    need = Need("events:PutEvents", (BUS,), {**principal.context(),
                                            "events:source": (source,)})
    return decide(need, ANYONE, doc["Statement"], principal).effect


def _user(name: str) -> Principal:
    return Principal(arn=f"arn:aws:iam::123456789012:user/{name}", account="123456789012")


def _role(name: str) -> Principal:
    return Principal(arn=f"arn:aws:iam::123456789012:role/{name}", account="123456789012",
                     session_arn=f"arn:aws:sts::123456789012:assumed-role/{name}/s",
                     kind="AssumedRole")


def test_forged_sources_are_denied_to_anyone_but_the_orchestrator_roles() -> None:
    doc = bus_policy(_compiled(), WHERE)
    assert doc is not None and normalize(doc) == doc
    assert {st["Effect"] for st in doc["Statement"]} == {"Deny"}
    # Allowed events:PutEvents on every bus by its identity policy, a user still cannot
    # put what a signal listens to: the explicit Deny wins.
    for source in ("shop.checkout", "shop.catalog", "shop.payments.eu"):
        assert _put(doc, _user("someone"), source) == "deny", source
        assert _put(doc, _role("lambdafail-multi-orchestrator"), source) == "allow", source
    assert _put(doc, _user("someone"), "shop.unwatched") == "allow"  # fails nothing over
    assert _put(doc, _role("lambdafail-other-orchestrator"), "shop.checkout") == "allow"


def test_named_senders_may_send_only_what_every_matching_signal_allows() -> None:
    def edit(text: str) -> str:
        return text.replace(_CHECKOUT, f"{_CHECKOUT}        senders: [{OPS}]\n")
    compiled = _compiled(edit)
    [sig] = [s for s in compiled["services"]["checkout"]["signals"] if s["kind"] == "event"]
    assert sig["senders"] == [OPS]
    doc = bus_policy(compiled, WHERE)
    assert doc is not None
    assert _put(doc, _role("ops-tooling"), "shop.checkout") == "allow"
    assert _put(doc, _role("ops-tooling"), "shop.catalog") == "deny"  # not its signal's
    assert _put(doc, _user("someone"), "shop.checkout") == "deny"

    # A second signal on the same source without that sender: denied (it would fire too).
    text = """\
version: 1
name: two
region: us-east-1
services:
  a:
    primary: {url: "https://a.example.com/"}
    standby: {url: "https://a-dr.example.com/"}
    signals: [{event: {source: [shop.x]}, senders: ["OPS"]}]
    router: {ssm_parameter: /two/a}
  b:
    primary: {url: "https://b.example.com/"}
    standby: {url: "https://b-dr.example.com/"}
    signals: [{event: {detail-type: [anything]}}, {event: {source: [aws.health]}}]
    router: {ssm_parameter: /two/b}
""".replace("OPS", OPS)
    two = compile_topology(load_text(text, "two.yaml"))
    doc = bus_policy(dict(two), WHERE)
    assert doc is not None
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/lambdafail-two-events"
    # b's pattern names no source: every source is guarded, for everyone but the roles.
    need = Need("events:PutEvents", (bus,), {**_role("ops-tooling").context(),
                                            "events:source": ("shop.x",)})
    assert decide(need, ANYONE, doc["Statement"], _role("ops-tooling")).effect == "deny"
    # AWS service events arrive on the default bus: b's aws.health signal adds nothing.
    assert all("aws.health" not in json.dumps(st) for st in doc["Statement"])


def test_a_topology_without_event_signals_puts_no_bus_policy() -> None:
    text = """\
version: 1
name: quiet
region: us-east-1
services:
  a:
    primary: {url: "https://a.example.com/"}
    standby: {url: "https://a-dr.example.com/"}
    router: {ssm_parameter: /quiet/a}
"""
    assert bus_policy(dict(compile_topology(load_text(text, "q.yaml"))), WHERE) is None


def test_invalid_senders_are_refused_by_validate() -> None:
    text = """\
version: 1
name: bad
region: us-east-1
services:
  a:
    primary: {url: "https://a.example.com/"}
    standby: {url: "https://a-dr.example.com/"}
    signals: [{event: {source: [shop.x]}, senders: ["ops-team"]}]
    router: {ssm_parameter: /bad/a}
"""
    from lambdafail.base.errors import TopologyError

    with pytest.raises(TopologyError) as e:
        load_text(text, "bad.yaml")
    [problem] = e.value.problems
    print(problem)
    assert "'ops-team' is not an IAM user, role or account-root ARN" in str(problem.message)
    assert "senders" in str(problem.path) and problem.line == 8


@pytest.mark.usefixtures("mocked_aws")
def test_deploy_puts_the_policy_reads_it_back_and_destroy_removes_it() -> None:
    deploy(multi())
    ev = boto3.client("events", region_name="us-east-1")
    got = parse(ev.describe_event_bus(Name="lambdafail-multi-events")["Policy"])
    assert got == bus_policy(_compiled(), WHERE)
    assert replan(multi()).pending == []  # read back equal: a no-op

    def edit(text: str) -> str:
        return text.replace(_CHECKOUT, f"{_CHECKOUT}        senders: [{OPS}]\n")
    plan = replan(multi(edit=edit))
    [bus] = [c for c in plan.pending if c.kind == "bus"]
    assert {d.field.split(".")[0].split("[")[0] for d in bus.diffs} == {"policy"}
    deploy(multi(edit=edit))
    got = parse(ev.describe_event_bus(Name="lambdafail-multi-events")["Policy"])
    assert OPS in json.dumps(got)
    assert replan(multi(edit=edit)).pending == []
    destroy(multi(edit=edit))
    assert "lambdafail-multi-events" not in {b["Name"] for b in ev.list_event_buses()["EventBuses"]}


def test_a_bus_policy_over_eventbridges_quota_is_refused_with_its_size() -> None:
    from lambdafail.base.errors import UsageError

    services = {f"s{i}": {"signals": [{"kind": "event", "pattern": {"source": [f"shop.s{i}"]},
                                       "senders": [f"arn:aws:iam::123456789012:role/r{i}"]}]}
                for i in range(200)}
    with pytest.raises(UsageError) as e:
        bus_policy({"bus": "lambdafail-big-events", "services": services}, WHERE)
    assert "over EventBridge's 10,240-character quota (200 distinct sender lists)" in str(e.value)
    assert e.value.exit_code == 2
