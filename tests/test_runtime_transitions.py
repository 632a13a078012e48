"""The exactly-once switch (`runtime.transitions`) driven directly, against moto's DynamoDB:
manual requests against a pending switch, retries of a conflicting save, commit retries, a
lost lease, the hook router's read-back, and a drill's fault flag in the health check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdafail.runtime.decisions import record_probe, target_healthy
from lambdafail.runtime.notify import Notifier
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.routers import HookSwitch
from lambdafail.runtime.routers.base import RouterBase
from lambdafail.runtime.state import ServiceState, StateConflict, StateStore
from lambdafail.runtime.transitions import (
    COMMIT_ATTEMPTS,
    LEASE_SECONDS,
    _bind,
    request_switch,
    resume,
)
from runtime_support import REGION, compiled, make_env, service_cfg


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


class Router(RouterBase):
    """A router that remembers where it points; `read` overrides its read-back."""

    kind = "fake"

    def __init__(self, side: str = "primary", read: str | bool | None = False) -> None:
        self.side = side
        self.read = read
        self.applied: list[str] = []

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        self.applied.append(side)
        self.side = side

    def read_back(self) -> str | None:
        return self.side if self.read is False else self.read  # type: ignore[return-value]


class Flaky(StateStore):
    """A StateStore whose save / commit / take_lease / get fail as scripted."""

    def __init__(self, inner: StateStore, **fail: list[BaseException]) -> None:
        super().__init__(inner.table, inner.ddb)
        self.fail = fail
        self.calls: dict[str, int] = {}

    def _maybe(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        queue = self.fail.get(name) or []
        if queue:
            raise queue.pop(0)

    def save(self, state: ServiceState, expected_version: int) -> ServiceState:
        self._maybe("save")
        return super().save(state, expected_version)

    def commit(self, service: str, pending: dict[str, Any], committed_at: float,
               token: str | None = None) -> dict[str, Any]:
        self._maybe("commit")
        return super().commit(service, pending, committed_at, token)

    def take_lease(self, service: str, pending_id: str, lease_until: float, now: float) -> None:
        self._maybe("take_lease")
        super().take_lease(service, pending_id, lease_until, now)

    def get(self, service: str) -> ServiceState | None:
        self._maybe("get")
        return super().get(service)


def _store() -> tuple[StateStore, dict[str, Any]]:
    env = make_env(compiled({"checkout": service_cfg()}))
    return env.store, env.config.data["services"]["checkout"]


def _switch(store: StateStore, cfg: dict[str, Any], router: Any, to: str = "standby",
            **kw: Any) -> Any:
    return request_switch(store, router, cfg, "checkout", to, reason="manual", actor="op",
                          force=True, **kw)


def _stuck(store: StateStore, cfg: dict[str, Any], now: float) -> dict[str, Any]:
    """A switch to the standby left pending by an actor that died (its lease has lapsed)."""
    res = _switch(store, cfg, Router(read=None), now=now)
    assert res.status == "router_failed"
    st = store.get("checkout")
    assert st is not None and st.pending is not None
    pending: dict[str, Any] = st.pending
    return pending


def test_a_manual_request_for_the_pending_side_finishes_that_switch(aws: None) -> None:
    store, cfg = _store()
    pending = _stuck(store, cfg, now=1000.0)
    router = Router()
    res = _switch(store, cfg, router, "standby", now=1000.0 + LEASE_SECONDS + 1)
    assert res.status == "switched" and router.applied == ["standby"]
    assert res.transition["transition_id"] == pending["id"]  # the same switch, finished


def test_a_manual_request_for_the_other_side_cancels_a_stuck_switch(aws: None) -> None:
    store, cfg = _store()
    stuck = _stuck(store, cfg, now=1000.0)
    router = Router()
    res = _switch(store, cfg, router, "primary", now=1000.0 + LEASE_SECONDS + 1)
    assert res.status == "switched" and router.applied == ["primary"]
    assert res.transition["transition_id"] != stuck["id"]
    assert (res.transition["from"], res.transition["to"]) == ("primary", "primary")


def test_a_manual_request_while_the_lease_is_held_is_a_lost_race(aws: None) -> None:
    store, cfg = _store()
    _stuck(store, cfg, now=1000.0)
    st = store.get("checkout")
    assert st is not None
    store.take_lease("checkout", str(st.pending["id"]), 2000.0 + LEASE_SECONDS, 2000.0)  # type: ignore[index]
    res = _switch(store, cfg, Router(), "primary", now=2000.0 + 1)
    assert res.status == "lost_race" and "being applied by op" in res.message


def test_a_manual_save_that_keeps_conflicting_gives_up_after_four_reads(aws: None) -> None:
    store, cfg = _store()
    flaky = Flaky(store, save=[StateConflict("x") for _ in range(4)])
    res = _switch(flaky, cfg, Router(), now=1000.0)
    assert res.status == "lost_race" and "kept changing" in res.message
    assert flaky.calls["save"] == 4
    flaky = Flaky(store, save=[StateConflict("x") for _ in range(3)])
    assert _switch(flaky, cfg, Router(), now=1000.0).status == "switched"


def test_a_commit_is_tried_three_times(aws: None) -> None:
    assert COMMIT_ATTEMPTS == 3
    store, cfg = _store()
    flaky = Flaky(store, commit=[RuntimeError("throttled"), RuntimeError("throttled")])
    assert _switch(flaky, cfg, Router(), now=1000.0).status == "switched"
    assert flaky.calls["commit"] == 3


def test_a_commit_conflict_is_ours_only_if_the_state_says_so(aws: None) -> None:
    """A conflict after a lost reply is a success only when the state shows our commit; if
    the state cannot be read, it is not assumed."""
    store, cfg = _store()
    flaky = Flaky(store, commit=[RuntimeError("reply lost"), StateConflict("x")],
                  get=[RuntimeError("unreadable")])
    res = _switch(flaky, cfg, Router(), now=1000.0, state=store.get("checkout"))
    assert res.status == "lost_race"


def test_resume_that_loses_the_lease_is_a_lost_race(aws: None) -> None:
    store, cfg = _store()
    _stuck(store, cfg, now=1000.0)
    st = store.get("checkout")
    assert st is not None
    flaky = Flaky(store, take_lease=[StateConflict("taken")])
    res = resume(flaky, Router(), "checkout", st, now=1000.0 + LEASE_SECONDS + 1)
    assert res.status == "lost_race" and "took over" in res.message


def test_a_read_back_that_sees_neither_side_says_so(aws: None) -> None:
    store, cfg = _store()
    res = _switch(store, cfg, Router(read=None), now=1000.0)
    assert res.status == "router_failed"
    assert "router read-back says neither side, expected standby" in res.message


def test_the_hook_read_back_starts_from_the_committed_side(aws: None) -> None:
    lam = boto3.client("lambda", region_name=REGION)
    st = ServiceState(service="checkout", active="standby")
    fresh = HookSwitch({"function": "hook"}, lam)
    _bind(fresh, st)
    assert fresh.read_back() == "standby"
    known = HookSwitch({"function": "hook"}, lam, confirmed="primary")
    _bind(known, st)
    assert known.read_back() == "primary"  # what the hook last confirmed wins


def test_a_drill_fault_makes_a_target_unhealthy() -> None:
    st = ServiceState(service="checkout", active="primary")
    st.health["standby"].ok = True
    assert target_healthy(st, "standby", 100.0) is True
    st.faults["standby"] = 200.0
    assert target_healthy(st, "standby", 100.0) is False
    assert target_healthy(st, "standby", 300.0) is True  # the fault has lapsed


def test_sns_subjects_are_ascii_one_line_and_at_most_99_characters(aws: None) -> None:
    # SNS: "must be ASCII text ... must not include line breaks ... less than 100 characters".
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="lambdafail-shop-notify")["TopicArn"]
    notifier = Notifier(topic, sns)
    notifier.publish("é checkout\nboth down " + "x" * 150, {"event": "both_down"})
    notifier.publish("y" * 99, {"event": "both_down"})
    subjects = [s["subject"] for s in notifier.sent]
    assert subjects[0] == ("? checkout both down " + "x" * 150)[:99]
    assert subjects[1] == "y" * 99  # the longest subject SNS takes is kept whole
    assert all(len(s) == 99 and s.isascii() and "\n" not in s for s in subjects)


def test_an_automatic_request_within_the_cooldown_is_refused(aws: None) -> None:
    # The orchestrator's decide() already waits out the cooldown; request_switch checks it
    # again on the state it re-reads (another actor may have switched in between).
    store, cfg = _store()
    assert _switch(store, cfg, Router(), "standby", now=1000.0).status == "switched"
    up = ProbeResult(ok=True, latency_ms=1.0, detail="up")
    res = request_switch(store, Router(side="standby"), cfg, "checkout", "primary",
                         reason="probe", actor="orchestrator", automatic=True, now=1010.0,
                         probe=lambda side: up)
    assert (res.status, res.message) == ("refused", "cooldown: 290s left")
    res = request_switch(store, Router(side="standby"), cfg, "checkout", "primary",
                         reason="probe", actor="orchestrator", automatic=True, now=1300.0,
                         probe=lambda side: up)
    assert res.status == "switched"


# -- a switch while a drill holds the service ------------------------------------------------

def test_a_switch_while_a_drill_holds_the_lock_is_the_drills(aws: None) -> None:
    store, cfg = _store()
    now = 1_700_000_000.0
    assert store.acquire_drill_lock("checkout", "drill-7", "op", 600, now=now)
    res = request_switch(store, Router(), cfg, "checkout", "standby", reason="probe",
                         actor="fn", force=True, automatic=True, now=now)
    assert res.status == "switched" and res.transition is not None
    # The orchestrator reacting to the injected fault: logged as the drill's, what detected
    # it kept.
    assert res.transition["reason"] == "drill"
    assert res.transition["evidence"]["drill_id"] == "drill-7"
    assert res.transition["evidence"]["detected_by"] == "probe"


def test_a_manual_switch_during_a_drill_keeps_its_reason_and_names_the_drill(aws: None) -> None:
    store, cfg = _store()
    now = 1_700_000_000.0
    assert store.acquire_drill_lock("checkout", "drill-8", "op", 600, now=now)
    res = _switch(store, cfg, Router(), now=now)
    assert res.status == "switched" and res.transition is not None
    assert res.transition["reason"] == "manual"
    assert res.transition["evidence"]["drill_id"] == "drill-8"
    assert "detected_by" not in res.transition["evidence"]


@pytest.mark.parametrize("ago", [120, 60])  # long lapsed; lapsing this very second
def test_a_lapsed_drill_lock_claims_nothing(aws: None, ago: int) -> None:
    store, cfg = _store()
    now = 1_700_000_000.0
    assert store.acquire_drill_lock("checkout", "drill-9", "op", 60, now=now - ago)
    res = request_switch(store, Router(), cfg, "checkout", "standby", reason="probe",
                         actor="fn", force=True, automatic=True, now=now)
    assert res.status == "switched" and res.transition is not None
    assert res.transition["reason"] == "probe"
    assert "drill_id" not in res.transition["evidence"]


def test_only_a_switch_or_a_noop_is_ok() -> None:
    from lambdafail.runtime.transitions import SwitchResult

    statuses = ("switched", "noop", "lost_race", "refused", "router_failed", "recovering",
                "blocked", "abandoned")
    assert [s for s in statuses if SwitchResult(s, "checkout", "").ok] == ["switched", "noop"]


# -- what a request checks before it starts a switch -------------------------------------------

def test_a_request_for_the_side_already_active_is_a_noop(aws: None) -> None:
    store, cfg = _store()
    res = request_switch(store, Router(), cfg, "checkout", "primary", reason="manual",
                         actor="op", now=1_700_000_000.0)
    assert (res.status, res.message) == ("noop", "checkout already on primary")


def test_a_request_for_an_unhealthy_target_is_refused_and_does_not_probe_again(
        aws: None) -> None:
    store, cfg = _store()
    now = 1_700_000_000.0
    st = store.get_or_seed("checkout", now)
    record_probe(st, "standby", ProbeResult(ok=False, latency_ms=1.0, detail="HTTP 503"), now)
    store.save(st, st.version)
    probed: list[str] = []

    def probe(side: str) -> ProbeResult:
        probed.append(side)
        return ProbeResult(ok=True, latency_ms=1.0, detail="up")

    router = Router()
    res = request_switch(store, router, cfg, "checkout", "standby", reason="manual",
                         actor="op", now=now, probe=probe)
    assert res.status == "refused"
    assert res.message.startswith("standby is not healthy (HTTP 503)")
    assert probed == [] and router.applied == []


def test_a_forced_switch_says_so_in_its_evidence(aws: None) -> None:
    store, cfg = _store()
    res = _switch(store, cfg, Router(), now=1_700_000_000.0)
    assert res.status == "switched" and res.transition is not None
    assert res.transition["evidence"]["forced"] is True


def test_a_stuck_switch_whose_lease_ends_this_second_is_cancelled_not_raced(aws: None) -> None:
    store, cfg = _store()
    now = 1_700_000_000.0
    pending = _stuck(store, cfg, now)
    lease_end = float(pending["lease_until"])
    res = _switch(store, cfg, Router(side="standby"), to="primary", now=lease_end)
    assert res.status == "switched", res.message
