"""The state table: per-service state, transition log, processed events, drill locks, heartbeat.

Rules: the table layout is the one in docs/architecture.md ("The state table"); every write to a
service item increments `version`, and every read-modify-write is conditional (on the version
read, or on the pending switch it completes), so two writers never both win; all services load
in ONE paginated Query (pk = "service"), the log in ONE Query (pk = "log"). stdlib + boto3 only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from lambdafail.runtime.clock import iso as iso
from lambdafail.runtime.clock import parse_iso as parse_iso
from lambdafail.runtime.config import SIDES
from lambdafail.runtime.ddb import conditional_failed as conditional_failed
from lambdafail.runtime.ddb import ddb_item, from_ddb_item, replicated_conflict
from lambdafail.runtime.service_state import VOLATILE_HEALTH as VOLATILE_HEALTH
from lambdafail.runtime.service_state import ServiceState as ServiceState
from lambdafail.runtime.service_state import SideHealth as SideHealth
from lambdafail.runtime.state_marks import EVENT_TTL_SECONDS as EVENT_TTL_SECONDS
from lambdafail.runtime.state_marks import Marks
from lambdafail.runtime.table import TTL_ATTRIBUTE as TTL_ATTRIBUTE
from lambdafail.runtime.table import key_schema_text as key_schema_text
from lambdafail.runtime.table import table_definition as table_definition

# What a log item records (`kind`; items written before kinds existed are transitions).
LOG_KINDS = ("transition", "deploy", "destroy", "deployment-rollback", "pause", "resume",
             "drill-abandoned", "break-glass",
             "approval")


def tick_attribute(rule: str) -> str:
    """The heartbeat attribute holding the last tick time of schedule rule `rule`."""
    return f"tick_at#{rule}"


class StateConflict(Exception):
    """A conditional write lost: someone changed the item since we read it."""



def transition_log_item(service: str, pending: dict[str, Any], committed_at: float,
                        expires_at: int | None = None) -> dict[str, Any]:
    """The log item a commit writes (deterministic: a retried commit writes the same one)."""
    at = iso(committed_at)
    return {
        # DynamoDB's TTL deletes it once the topology's history retention has passed.
        **({TTL_ATTRIBUTE: expires_at} if expires_at is not None else {}),
        "pk": "log", "sk": f"{at}#{service}#{pending['id']}", "kind": "transition",
        "service": service,
        "transition_id": pending["id"], "from": pending["from"], "to": pending["to"],
        "reason": pending["reason"], "actor": pending["actor"],
        "evidence": pending.get("evidence") or {}, "started_at": pending["started_at"],
        "committed_at": at,
        **({"drill_id": pending["evidence"]["drill_id"]}
           if (pending.get("evidence") or {}).get("drill_id") else {}),
        # The recovery plan that ran with this switch, step by step (`runtime/recovery.py`).
        **({"recovery": pending["recovery"]} if pending.get("recovery") else {}),
    }


class StateStore(Marks):
    """All reads and writes of one topology's state table (event marks and drill locks:
    `state_marks.Marks`)."""

    def __init__(self, table_name: str, dynamodb_client: Any,
                 retention_days: int | None = None) -> None:
        self.table = table_name
        self.ddb = dynamodb_client
        # Log entries (transitions, audit) expire this long after they were written; state,
        # heartbeat and drill items never do. None: no expiry (older callers, tests).
        self.retention_days = retention_days

    def log_expires_at(self, at: float) -> int | None:
        """The TTL epoch of a log entry written at `at`, or None (kept forever)."""
        return None if not self.retention_days else int(at) + int(self.retention_days) * 86400

    # -- reads --

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        args: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True, **kwargs}
        while True:
            resp = self.ddb.query(**args)
            for item in resp.get("Items", []):
                yield from_ddb_item(item)
            last = resp.get("LastEvaluatedKey")
            if not last:
                return
            args["ExclusiveStartKey"] = last

    def load_all(self, between: tuple[str, str] | None = None) -> dict[str, ServiceState]:
        """Every service item, or those whose names sort within `between` (inclusive): a
        split schedule's rule reads only its own stretch of the table, not every service."""
        if between is None:
            items = self._query(KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": "service"}})
        else:
            items = self._query(KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                                ExpressionAttributeValues={":pk": {"S": "service"},
                                                           ":a": {"S": between[0]},
                                                           ":b": {"S": between[1]}})
        return {st.service: st for st in map(ServiceState.from_item, items)}

    def get(self, service: str) -> ServiceState | None:
        resp = self.ddb.get_item(TableName=self.table, ConsistentRead=True,
                                 Key=ddb_item({"pk": "service", "sk": service}))
        item = resp.get("Item")
        return ServiceState.from_item(from_ddb_item(item)) if item else None

    def get_or_seed(self, service: str, now: float) -> ServiceState:
        st = self.get(service)
        if st is None:
            st = self.seed_state(service, now) or self.get(service)
        assert st is not None
        return st

    def seed_state(self, service: str, now: float) -> ServiceState | None:
        """Seed the service item; its state if this call created it (no read-back needed:
        the item is exactly what was written), None if it already existed."""
        item = self._seed_item(service, now)
        return ServiceState.from_item(item) if self._put_new(item) else None

    def heartbeat_item(self) -> dict[str, Any] | None:
        resp = self.ddb.get_item(TableName=self.table, ConsistentRead=True,
                                 Key=ddb_item({"pk": "orchestrator", "sk": "heartbeat"}))
        item = resp.get("Item")
        return from_ddb_item(item) if item else None

    def log(self, service: str | None = None, since: float | str | None = None,
            limit: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Log items, newest first; only those of `kind` when given (None: every kind)."""
        cond = "pk = :pk"
        values: dict[str, Any] = {":pk": {"S": "log"}}
        if since is not None:
            cond += " AND sk >= :since"
            values[":since"] = {"S": since if isinstance(since, str) else iso(since)}
        kwargs: dict[str, Any] = {"KeyConditionExpression": cond, "ScanIndexForward": False,
                                  "ExpressionAttributeValues": values}
        if service is not None:
            kwargs["FilterExpression"] = "#svc = :svc"
            kwargs["ExpressionAttributeNames"] = {"#svc": "service"}
            values[":svc"] = {"S": service}
        out: list[dict[str, Any]] = []
        for item in self._query(**kwargs):
            if kind is not None and item.get("kind", "transition") != kind:
                continue
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
        return out

    def record(self, kind: str, *, actor: str, now: float, service: str = "",
               reason: str = "", detail: dict[str, Any] | None = None,
               entry_id: str | None = None) -> dict[str, Any]:
        """Append a non-transition entry (deploy, destroy, …) to the same log. With
        `entry_id` the entry is written at most once (a retry of the same entry is a no-op)."""
        import uuid

        if kind not in LOG_KINDS or kind == "transition":
            raise ValueError(f"kind must be one of {', '.join(LOG_KINDS[1:])}")
        at = iso(now)
        item: dict[str, Any] = {
            "pk": "log", "sk": f"{at}#{service or '-'}#{entry_id or uuid.uuid4().hex[:16]}",
            "kind": kind, "service": service, "reason": reason or kind, "actor": actor,
            "committed_at": at, "evidence": detail or {}}
        expires = self.log_expires_at(now)
        if expires is not None:
            item[TTL_ATTRIBUTE] = expires
        if entry_id is None:
            self.ddb.put_item(TableName=self.table, Item=ddb_item(item))
            return item
        # The key is the entry's own time and id, so a retry meets the first write.
        try:
            self.ddb.put_item(TableName=self.table, Item=ddb_item(item),
                              ConditionExpression="attribute_not_exists(sk)")
        except Exception as e:
            if not conditional_failed(e):
                raise
        return item

    # -- writes --

    def seed(self, service: str, now: float) -> bool:
        """Create the service item (active = primary) unless it exists. True if created."""
        return self._put_new(self._seed_item(service, now))

    @staticmethod
    def _seed_item(service: str, now: float) -> dict[str, Any]:
        return {"pk": "service", "sk": service, "active": "primary", "phase": "steady",
                "version": 1, "since": iso(now),
                "health": {s: SideHealth().to_dict() for s in SIDES},
                "alarms": {}, "faults": {}}

    def _put_new(self, item: dict[str, Any]) -> bool:
        try:
            self.ddb.put_item(TableName=self.table, Item=ddb_item(item),
                              ConditionExpression="attribute_not_exists(pk)")
            return True
        except Exception as e:
            if conditional_failed(e):
                return False
            raise

    def save(self, state: ServiceState, expected_version: int) -> ServiceState:
        """Write observations and decisions (health, alarms, blocked, phase, pending).

        Conditional on `expected_version`; raises StateConflict if someone wrote first. Never
        touches `active` (only `commit` does) nor `faults` (only the drill does).
        """
        sets = ["health = :health", "alarms = :alarms", "alarm_edges = :edges",
                "phase = :phase", "version = :newv"]
        removes: list[str] = []
        values: dict[str, Any] = {
            ":health": {s: h.to_dict() for s, h in state.health.items()},
            ":alarms": state.alarms, ":edges": state.alarm_edges, ":phase": state.phase,
            ":newv": expected_version + 1, ":v": expected_version,
        }
        for attr in ("blocked", "pending"):
            value = getattr(state, attr)
            if value is None:
                removes.append(attr)
            else:
                sets.append(f"{attr} = :{attr}")
                values[f":{attr}"] = value
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self._update(state.service, expr, "version = :v", values)
        state.version = expected_version + 1
        return state

    def _update(self, service: str, expr: str, condition: str, values: dict[str, Any],
                names: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "Key": ddb_item({"pk": "service", "sk": service}),
            "UpdateExpression": expr, "ConditionExpression": condition,
            "ExpressionAttributeValues": ddb_item(values),
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            self.ddb.update_item(**kwargs)
        except Exception as e:
            # Another region writing the item at the same moment is a concurrent change too:
            # the caller re-reads and decides again.
            if conditional_failed(e) or replicated_conflict(e):
                raise StateConflict(f"{service}: the state changed concurrently") from e
            raise

    def take_lease(self, service: str, pending_id: str, lease_until: float, now: float) -> None:
        """Claim the right to (re)apply the router for a pending switch. StateConflict if held."""
        self._update(
            service,
            "SET pending.lease_until = :lease, pending.attempts = pending.attempts + :one, "
            "version = version + :one",
            "phase = :switching AND pending.id = :id AND pending.lease_until < :now",
            {":lease": lease_until, ":one": 1, ":switching": "switching", ":id": pending_id,
             ":now": now})

    def release_lease(self, service: str, pending_id: str, error: str,
                      lease_until: float = 0) -> None:
        """After a router failure: record why and free the lease (at once by default; at
        `lease_until` when the router may still be acting, e.g. a hook that timed out).
        Best effort: never raises, the lease lapses by itself anyway."""
        # A conflict or a transient error here changes nothing: the lease lapses by itself.
        with contextlib.suppress(Exception):
            self._update(service,
                         "SET pending.lease_until = :until, pending.last_error = :err, "
                         "version = version + :one",
                         "phase = :switching AND pending.id = :id",
                         {":until": lease_until, ":err": error[:1000], ":one": 1,
                          ":switching": "switching", ":id": pending_id})

    def save_progress(self, service: str, pending_id: str, progress: dict[str, Any],
                      lease_until: float, held: float) -> None:
        """Record a recovery plan's progress in the pending switch and set its lease, only
        while we still hold that lease (`held`): an actor whose lease lapsed and was taken
        over gets StateConflict and stops."""
        self._update(
            service,
            "SET pending.recovery = :rec, pending.lease_until = :lease, version = version + :one",
            "phase = :switching AND pending.id = :id AND pending.lease_until = :held",
            {":rec": progress, ":lease": lease_until, ":one": 1, ":switching": "switching",
             ":id": pending_id, ":held": held})

    def record_decision(self, service: str, pending_id: str, key: str,
                        decision: dict[str, Any]) -> None:
        """`lambdafail approve`: write a recovery step's decision into THAT pending switch,
        once (StateConflict if the switch is gone or changed, or the step was decided). The
        version bump makes a tick that read the item before re-read it."""
        self._update(
            service, "SET pending.#k = :d, version = version + :one",
            "phase = :switching AND pending.id = :id AND attribute_not_exists(pending.#k)",
            {":d": decision, ":one": 1, ":switching": "switching", ":id": pending_id},
            names={"#k": key})

    def abandon_switch(self, service: str, pending_id: str, held: float, blocked: str,
                       progress: dict[str, Any]) -> None:
        """A failed recovery plan: the router never moved, so the pending switch is dropped,
        the service is `blocked` with the step and its error, and the plan is kept as
        `recovery`. Conditional on still holding the lease (StateConflict otherwise)."""
        self._update(
            service,
            "SET phase = :steady, blocked = :blocked, recovery = :rec, version = version + :one "
            "REMOVE pending",
            "phase = :switching AND pending.id = :id AND pending.lease_until = :held",
            {":steady": "steady", ":blocked": blocked[:1000], ":rec": progress, ":one": 1,
             ":switching": "switching", ":id": pending_id, ":held": held})

    def commit(self, service: str, pending: dict[str, Any], committed_at: float,
               token: str | None = None) -> dict[str, Any]:
        """Complete a pending switch: the service item, then its log item.

        The service item's UpdateItem is the commit: conditional on the pending switch still
        being there (not on the version: probe ticks may have recorded observations
        meanwhile), so a switch commits exactly once. No transaction: DynamoDB's
        multi-Region strongly consistent global tables (several control regions) do not
        support them. The log item rides in `last_transition.unlogged` until it is written
        (PutItem, attribute_not_exists: a repeat is a no-op) and the marker removed; if this
        committer dies in between, the next `repair_unlogged` writes it. The same write units as
        the two-item transaction it replaces (measured: a failover tick costs 7 either way).

        `token` (one per committer) is kept in `last_transition.commit_token`: when a reply is
        lost and botocore resends, the resend fails its condition, and the committer tells
        its own commit (`committed_by`) from somebody else's by the token.
        """
        at = iso(committed_at)
        log_item = transition_log_item(service, pending, committed_at,
                                       self.log_expires_at(committed_at))
        last = {"id": pending["id"], "at": at, "from": pending["from"], "to": pending["to"],
                "reason": pending["reason"], "actor": pending["actor"], "unlogged": log_item}
        if token:
            last["commit_token"] = token
        values = {":to": pending["to"], ":steady": "steady", ":prev": pending["from"],
                  ":last": last, ":since": at, ":one": 1, ":switching": "switching",
                  ":id": pending["id"]}
        if pending["from"] == pending["to"]:
            # A cancelled switch: traffic never left; `since` stays.
            update_expr = ("SET active = :to, phase = :steady, last_transition = :last, "
                           "version = version + :one REMOVE pending, blocked, recovery")
            values.pop(":prev")
            values.pop(":since")
        else:
            update_expr = ("SET active = :to, phase = :steady, previous_active = :prev, "
                           "last_transition = :last, since = :since, version = version + :one "
                           "REMOVE pending, blocked, recovery")
        try:
            self.ddb.update_item(
                TableName=self.table, Key=ddb_item({"pk": "service", "sk": service}),
                UpdateExpression=update_expr,
                ConditionExpression="phase = :switching AND pending.id = :id",
                ExpressionAttributeValues=ddb_item(values))
        except Exception as e:
            if conditional_failed(e):
                raise StateConflict(f"{service}: switch {pending['id']} already committed or "
                                    "replaced") from e
            raise
        with contextlib.suppress(Exception):  # committed; a missed log write is repaired
            self.write_log(service, log_item)
        return log_item

    def write_log(self, service: str, log_item: dict[str, Any]) -> None:
        """Write a committed transition's log item and drop the `unlogged` marker."""
        try:
            self.ddb.put_item(TableName=self.table, Item=ddb_item(log_item),
                              ConditionExpression="attribute_not_exists(pk)")
        except Exception as e:
            if not conditional_failed(e):  # already written: a repeat
                raise
        try:
            self.ddb.update_item(
                TableName=self.table, Key=ddb_item({"pk": "service", "sk": service}),
                # UNLOGGED is one of DynamoDB's reserved words: named by placeholder.
                UpdateExpression="REMOVE last_transition.#u",
                ConditionExpression="last_transition.id = :id",
                ExpressionAttributeNames={"#u": "unlogged"},
                ExpressionAttributeValues=ddb_item({":id": log_item["transition_id"]}))
        except Exception as e:
            if not conditional_failed(e):  # a newer transition replaced it: nothing to drop
                raise

    def repair_unlogged(self, states: dict[str, ServiceState]) -> list[str]:
        """Write the log items of commits whose committer died before writing them; the
        services repaired. Costs nothing when there are none (the marker is in the item)."""
        repaired = []
        for name, st in states.items():
            pending_log = (st.last_transition or {}).get("unlogged")
            if isinstance(pending_log, dict):
                self.write_log(name, pending_log)
                st.last_transition = {k: v for k, v in (st.last_transition or {}).items()
                                      if k != "unlogged"}
                repaired.append(name)
        return repaired

    def heartbeat(self, now: float, config_sha256: str = "", function_version: str = "",
                  rule: str | None = None) -> None:
        """One write per tick: the orchestrator is alive, and (with `rule`) every service of
        that schedule rule was probed at `now` — status reads "last probed" from here."""
        expr = ("SET last_tick_at = :at, last_tick_epoch = :epoch, config_sha256 = :sha, "
                "function_version = :fv")
        kwargs: dict[str, Any] = {}
        if rule:
            expr += ", #rule_tick = :at"
            kwargs["ExpressionAttributeNames"] = {"#rule_tick": tick_attribute(rule)}
        self.ddb.update_item(
            TableName=self.table, Key=ddb_item({"pk": "orchestrator", "sk": "heartbeat"}),
            UpdateExpression=expr + " ADD ticks :one",
            ExpressionAttributeValues=ddb_item({":at": iso(now), ":epoch": int(now),
                                             ":sha": config_sha256, ":fv": function_version,
                                             ":one": 1}), **kwargs)

    def set_pause(self, service: str, pause: dict[str, Any] | None,
                  attempts: int = 10) -> ServiceState:
        """Set (or with None clear) the service's pause; returns the state written.

        Bumps the version, so an orchestrator tick that read the item before the pause loses
        its conditional write, re-reads and sees it."""
        for _ in range(attempts):
            st = self.get(service)
            if st is None:
                raise StateConflict(f"{service}: no state item (deploy seeds it)")
            values: dict[str, Any] = {":newv": st.version + 1, ":v": st.version}
            if pause is None:
                expr = "SET version = :newv REMOVE paused"
            else:
                expr = "SET paused = :p, version = :newv"
                values[":p"] = pause
            try:
                self._update(service, expr, "version = :v", values)
            except StateConflict:
                continue
            st.paused, st.version = pause, st.version + 1
            return st
        raise StateConflict(f"{service}: could not update the pause (too much contention)")

    def set_fault(self, service: str, side: str, deadline_epoch: float) -> None:
        """Mark `side` forced-unhealthy until `deadline_epoch` (its probes then report failure)."""
        if side not in SIDES:
            raise ValueError(f"side must be primary or standby, not {side!r}")
        self._set_faults(service, lambda f: {**f, side: float(deadline_epoch)})

    def clear_fault(self, service: str, side: str | None = None) -> None:
        """Remove the fault flag of `side` (both sides if None).

        The consecutive failures the fault produced are the drill's, not the target's: they
        are reset in the same write, so no failover follows the restore on stale evidence.
        """
        cleared = [s for s in SIDES if side is None or s == side]
        self._set_faults(service, lambda f: {k: v for k, v in f.items() if k not in cleared},
                         reset_failures=cleared)

    def _set_faults(self, service: str, change: Any, attempts: int = 10,
                    reset_failures: list[str] | None = None) -> None:
        for _ in range(attempts):
            st = self.get(service)
            if st is None:
                raise StateConflict(f"{service}: no state item (deploy seeds it)")
            expr = "SET faults = :f, version = :newv"
            values: dict[str, Any] = {":f": change(dict(st.faults)), ":newv": st.version + 1,
                                      ":v": st.version}
            if reset_failures and any(st.health[s].failures for s in reset_failures):
                for s in reset_failures:
                    st.health[s].failures = 0
                expr += ", health = :health"
                values[":health"] = {s: h.to_dict() for s, h in st.health.items()}
            try:
                self._update(service, expr, "version = :v", values)
                return
            except StateConflict:
                continue
        raise StateConflict(f"{service}: could not update fault flags (too much contention)")
