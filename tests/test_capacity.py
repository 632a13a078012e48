"""Large schedules are split into rules one invocation can carry; a round's writes run side by
side and a first tick seeds each service with one call.

Pure checks of model/capacity.py and the compiler, then the real Orchestrator on in-process
moto (counts of calls, never time).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdafail.deploy.planner import function_timeout
from lambdafail.model import capacity
from lambdafail.model.loader import load_text
from lambdafail.model.topology import compile_topology
from lambdafail.runtime import probes
from lambdafail.runtime.config import Clients, LoadedConfig
from lambdafail.runtime.handler import Orchestrator
from lambdafail.runtime.log import Logger
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.state import StateStore, table_definition
from runtime_support import DDB_WRITES, record_calls, serialize_dynamodb


def topology(n: int, health: str = "") -> dict[str, Any]:
    lines = ["name: big", "region: us-east-1", "services:",
             "  s00000: &svc {primary: {url: 'http://127.0.0.1:9/p'}, "
             "standby: {url: 'http://127.0.0.1:9/s'}, router: {hook: big-switch}"
             + (f", health: {{{health}}}" if health else "") + "}"]
    lines += [f"  s{i:05d}: *svc" for i in range(1, n)]
    return compile_topology(load_text("\n".join(lines) + "\n", "big.yaml"))


def test_capacity_matches_the_probe_pool() -> None:
    import inspect

    default = inspect.signature(probes.probe_all).parameters["max_workers"].default
    assert default == capacity.PROBE_WORKERS


@given(timeout=st.floats(min_value=0.05, max_value=60), rounds=st.integers(1, 6))
def test_capacity_keeps_both_bounds(timeout: float, rounds: int) -> None:
    n = capacity.services_per_invocation(timeout, rounds)
    assert n >= 1
    if n > 1:  # one service always fits; beyond it both bounds hold
        cpu_ms = capacity.BASE_CPU_MS + 2 * n * capacity.CPU_MS_PER_PROBE
        assert cpu_ms <= timeout / 2 * 1000
        slot = capacity.ROUND_WINDOW_SECONDS / rounds
        assert capacity.probe_waves(n) * timeout <= max(slot, timeout)


def test_capacity_small_topology_keeps_its_one_rule() -> None:
    compiled = topology(10)
    assert list(compiled["schedules"]) == ["lambdafail-big-tick-60s"]
    assert len(compiled["schedules"]["lambdafail-big-tick-60s"]["services"]) == 10


def test_capacity_large_schedule_split_into_rules_that_fit() -> None:
    compiled = topology(600)
    size = capacity.services_per_invocation(3.0)
    rules = compiled["schedules"]
    assert len(rules) == math.ceil(600 / size) >= 3
    assert list(rules)[:3] == ["lambdafail-big-tick-60s", "lambdafail-big-tick-60s-2",
                               "lambdafail-big-tick-60s-3"]
    members = [s for r in rules.values() for s in r["services"]]
    assert sorted(members) == sorted(compiled["services"]) and len(set(members)) == 600
    assert all(len(r["services"]) <= size for r in rules.values())
    assert {r["expression"] for r in rules.values()} == {"rate(1 minute)"}
    # The function outlives a round whose probes fill the pool several times.
    waves = capacity.probe_waves(size)
    assert function_timeout(compiled) >= (waves + 1) * 3 + 10


def test_capacity_slow_probes_make_smaller_rules_and_a_longer_timeout() -> None:
    compiled = topology(400, "timeout_seconds: 20")
    size = capacity.services_per_invocation(20.0)
    assert size == capacity.PROBE_WORKERS  # two waves of 20 s fit in the 50 s window
    assert all(len(r["services"]) <= size for r in compiled["schedules"].values())
    assert function_timeout(compiled) == (capacity.probe_waves(size) + 1) * 20 + 10


@pytest.fixture
def moto_ddb() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        serialize_dynamodb(ddb)
        yield ddb


def _orchestrator(compiled: dict[str, Any], ddb: Any) -> Orchestrator:
    ddb.create_table(**table_definition(compiled["table"]))

    def healthy(targets: dict[Any, Any]) -> dict[Any, ProbeResult]:
        return {k: ProbeResult(True, 1.0, "HTTP 200") for k in targets}

    return Orchestrator(LoadedConfig(compiled, "test", "test"),
                        Clients(region="us-east-1", overrides={"dynamodb": ddb}),
                        prober=healthy, logger=Logger(sink=lambda _line: None))


def test_capacity_first_tick_seeds_each_service_with_one_call(moto_ddb: Any) -> None:
    compiled = topology(40)
    orch = _orchestrator(compiled, moto_ddb)
    calls: list[str] = []
    record_calls(moto_ddb, calls)
    result = orch.handle({"lambdafail": "tick", "rule": next(iter(compiled["schedules"]))})
    assert result["ok"] is True and result["actions"] == []
    assert calls.count("PutItem") == 40  # one conditional put per new service, no read-back
    assert calls.count("GetItem") == 0
    # Then each service's first observations (one write each) and the heartbeat.
    assert calls.count("UpdateItem") == 41
    assert len([c for c in calls if c in DDB_WRITES]) == 81
    states = orch.store.load_all()
    assert sorted(states) == sorted(compiled["services"])
    assert all(h.ok is True for s in states.values() for h in s.health.values())


def test_capacity_each_rule_ticks_only_its_own_services(moto_ddb: Any) -> None:
    compiled = topology(600)
    orch = _orchestrator(compiled, moto_ddb)
    second = list(compiled["schedules"])[1]
    read: list[int] = []
    moto_ddb.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: read.append(parsed["Count"]))
    result = orch.handle({"lambdafail": "tick", "rule": second})
    assert sum(read) == 0  # nothing seeded yet: the read found none of the other rules' items
    orch.store.seed("s00000", 0.0)  # a service of the first rule, sorted before this range
    read.clear()
    orch.handle({"lambdafail": "tick", "rule": second})
    assert sum(read) == len(compiled["schedules"][second]["services"])  # its own items only
    assert result["services"] == compiled["schedules"][second]["services"]
    assert sorted(orch.store.load_all()) == sorted(
        ["s00000", *compiled["schedules"][second]["services"]])


def test_capacity_seed_state_is_what_get_reads(moto_ddb: Any) -> None:
    moto_ddb.create_table(**table_definition("t"))
    store = StateStore("t", moto_ddb)
    made = store.seed_state("svc", 1_700_000_000.0)
    assert made is not None and made == store.get("svc")
    assert store.seed_state("svc", 1_700_000_100.0) is None  # exists: nothing written
