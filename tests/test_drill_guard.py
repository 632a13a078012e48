"""The orchestrator's side of "a drill always ends" (runtime/drill_guard.py), in-process moto
with a scripted prober and a fake clock: nothing happens before the restore deadline; after it
the tick restores; a primary that is really down is not failed back to; a drill that ended
normally (or with --no-restore) leaves no mark to act on."""

from __future__ import annotations

from typing import Any

import pytest

from lambdafail.runtime import drill_guard
from runtime_support import Env, compiled, make_env, service_cfg

pytestmark = pytest.mark.usefixtures("mocked_aws")


def _drilled(env: Env, window: float = 100.0) -> tuple[str, float]:
    """A drill as `lambdafail drill` starts it: lock, deadline mark, primary fault; then the
    orchestrator fails over on the injected fault."""
    now = env.clock()
    assert env.store.acquire_drill_lock("checkout", "d-1", "arn:me", window + 60, now=now)
    drill_guard.mark(env.store, "checkout", "d-1", "arn:me", now + window, now)
    env.store.set_fault("checkout", "primary", now + window + 60)
    env.tick(advance=1)
    env.tick(advance=1)
    assert env.active() == "standby"
    return "d-1", now + window


def _log(env: Env, kind: str) -> list[dict[str, Any]]:
    return [e for e in env.store.log(kind=kind)]


def test_before_its_deadline_a_drill_is_left_alone_after_it_the_tick_fails_back() -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=2)}))
    env.tick()
    drill_id, restore_by = _drilled(env)
    while env.clock() < restore_by - 5:
        env.tick(advance=10)
        st = env.store.get("checkout")
        assert st is not None and st.drill is not None and st.active == "standby"
    env.clock.advance(restore_by - env.clock() + 1)
    result = env.tick(advance=1)
    assert {"service": "checkout", "status": "drill_abandoned",
            "message": f"drill {drill_id} abandoned: failed back to the primary, fault flags "
                       "cleared, lock released"} in result["actions"]
    st = env.store.get("checkout")
    assert st is not None and st.active == "primary" and not st.faults and st.drill is None
    assert env.param() == env.config.data["services"]["checkout"]["router"]["values"]["primary"]
    assert env.store.drill_lock("checkout") is None
    (back,) = [e for e in _log(env, "transition") if e["to"] == "primary"]
    assert back["reason"] == "drill-abandoned"
    assert back["actor"] == "function:lambdafail-shop-orchestrator"
    (entry,) = _log(env, "drill-abandoned")
    assert entry["evidence"]["status"] == "restored"
    metrics = [r for r in env.logger.emf_records() if "Failovers" in r]
    assert [m["reason"] for m in metrics] == ["drill", "drill-abandoned"]
    # It is done once: later ticks find no mark.
    for _ in range(3):
        assert not [a for a in env.tick()["actions"] if a["status"] == "drill_abandoned"]


def test_a_primary_really_down_at_the_deadline_is_not_failed_back_to() -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=2)}))
    env.tick()
    _, restore_by = _drilled(env)
    env.prober.set("checkout", primary=False)  # a real outage began during the drill
    env.clock.advance(restore_by - env.clock() + 1)
    env.tick(advance=1)
    st = env.store.get("checkout")
    assert st is not None and st.active == "standby" and not st.faults and st.drill is None
    assert env.param() == env.config.data["services"]["checkout"]["router"]["values"]["standby"]
    assert env.store.drill_lock("checkout") is None
    (entry,) = _log(env, "drill-abandoned")
    assert entry["evidence"]["status"] == "restored_on_standby"
    assert entry["evidence"]["fail_back"]["status"] == "skipped"


def test_a_drill_that_released_its_lock_leaves_nothing_for_the_orchestrator() -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=2)}))
    env.tick()
    _, restore_by = _drilled(env)
    # What the drill's restore (or --no-restore) does when it releases the lock.
    assert drill_guard.unmark(env.store, "checkout", "d-1")
    assert env.store.release_drill_lock("checkout", "d-1")
    assert not drill_guard.unmark(env.store, "checkout", "d-1")  # idempotent
    env.clock.advance(restore_by - env.clock() + 10)
    env.tick()
    assert env.active() == "standby"  # --no-restore: left failed over on purpose
    assert env.param() == env.config.data["services"]["checkout"]["router"]["values"]["standby"]
    assert _log(env, "drill-abandoned") == []
