"""StateStore against moto: one-query loads, log order, event dedup, drill locks, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdafail.runtime.state import ServiceState, StateConflict, StateStore, table_definition
from lambdafail.runtime.transitions import new_pending

T0 = 1_700_000_000.0


@pytest.fixture
def store() -> Iterator[StateStore]:
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(**table_definition("t"))
        yield StateStore("t", ddb)


class CountingDdb:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)


def test_runtime_state_seed_load_all_one_query(store: StateStore) -> None:
    names = [f"svc{i:03d}" for i in range(60)]
    for n in names:
        assert store.seed(n, T0)
    assert not store.seed("svc000", T0 + 5)  # never resets live state
    store.mark_event("e1", T0)  # other item kinds don't leak into the service query
    counting = CountingDdb(store.ddb)
    states = StateStore("t", counting).load_all()
    assert sorted(states) == names
    assert counting.calls == ["query"]
    st = states["svc000"]
    assert (st.active, st.phase, st.version) == ("primary", "steady", 1)
    assert st.since == "2023-11-14T22:13:20.000Z"


def test_runtime_state_save_is_conditional_on_version(store: StateStore) -> None:
    store.seed("a", T0)
    st = store.get("a")
    assert st is not None
    st.health["primary"].failures = 2
    store.save(st, 1)
    stale = ServiceState(service="a")
    with pytest.raises(StateConflict):
        store.save(stale, 1)
    got = store.get("a")
    assert got is not None and got.version == 2 and got.health["primary"].failures == 2


def test_runtime_state_commit_once_and_log_newest_first(store: StateStore) -> None:
    store.seed("a", T0)
    store.seed("b", T0)
    for i, (svc, to) in enumerate([("a", "standby"), ("b", "standby"), ("a", "primary")]):
        st = store.get(svc)
        assert st is not None
        pending = new_pending(st, to, reason="manual", actor="me", evidence={"n": i},
                              now=T0 + i)
        st.phase, st.pending = "switching", pending
        store.save(st, st.version)
        store.commit(svc, pending, T0 + 10 + i)
        with pytest.raises(StateConflict):
            store.commit(svc, pending, T0 + 20 + i)  # already committed: never twice
    log = store.log()
    assert [(i["service"], i["to"]) for i in log] == [("a", "primary"), ("b", "standby"),
                                                      ("a", "standby")]
    assert [i["evidence"]["n"] for i in store.log(service="a")] == [2, 0]
    assert len(store.log(limit=2)) == 2
    assert [i["to"] for i in store.log(since=T0 + 11)] == ["primary", "standby"]
    st = store.get("a")
    assert st is not None and st.active == "primary" and st.previous_active == "standby"
    assert st.last_transition is not None and st.last_transition["reason"] == "manual"


def test_runtime_state_mark_event_dedup_and_ttl(store: StateStore) -> None:
    assert store.mark_event("e1", T0)
    assert not store.mark_event("e1", T0 + 60)
    # Past its TTL an old mark is free even if DynamoDB has not deleted it yet.
    assert store.mark_event("e1", T0 + 25 * 3600)
    store.unmark_event("e1")
    assert store.mark_event("e1", T0 + 25 * 3600)


def test_runtime_state_drill_lock(store: StateStore) -> None:
    assert store.acquire_drill_lock("a", "d1", "alice", 600, now=T0)
    assert store.acquire_drill_lock("a", "d1", "alice", 600, now=T0 + 1)  # re-entrant
    assert not store.acquire_drill_lock("a", "d2", "bob", 600, now=T0 + 2)
    assert not store.release_drill_lock("a", "d2")
    lock = store.drill_lock("a")
    assert lock is not None and lock["owner"] == "alice"
    assert store.acquire_drill_lock("a", "d2", "bob", 600, now=T0 + 700)  # expired lock is free
    assert store.release_drill_lock("a", "d2")
    assert store.drill_lock("a") is None


def test_runtime_state_faults_and_heartbeat(store: StateStore) -> None:
    store.seed("a", T0)
    store.set_fault("a", "primary", T0 + 100)
    store.set_fault("a", "standby", T0 + 50)
    st = store.get("a")
    assert st is not None and st.faults == {"primary": T0 + 100, "standby": T0 + 50}
    assert st.faulted("primary", T0 + 99) and not st.faulted("primary", T0 + 100)
    store.clear_fault("a", "standby")
    st = store.get("a")
    assert st is not None and st.faults == {"primary": T0 + 100}
    store.clear_fault("a")
    st = store.get("a")
    assert st is not None and st.faults == {}
    with pytest.raises(ValueError):
        store.set_fault("a", "both", T0)
    store.heartbeat(T0, "abc", "3")
    store.heartbeat(T0 + 60, "abc", "3")
    hb = store.heartbeat_item()
    assert hb is not None and hb["ticks"] == 2 and hb["last_tick_epoch"] == int(T0 + 60)
