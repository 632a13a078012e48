"""Runtime router `dns_failover`: PutMetricData moves an alarm; Route 53 failover follows it.

Rule: stdlib + boto3 only; data-plane calls in the orchestrator's own (control) region only —
PutMetricData `lambdafail/PrimaryRouted` (1 primary, 0 standby) and DescribeAlarms — never a
Route 53 call and never a create: deploy made the alarm, the CLOUDWATCH_METRIC health check and
both failover records ahead of time (`lambdafail/model/kinds/dns_failover.py` has the model,
compile and IAM). The read-back is the alarm's state (OK: primary, ALARM: standby), waited for
at most READ_BACK_SECONDS after an apply, then RouterTimeout: the metric is in, the alarm has
not evaluated it yet, and the next attempt confirms it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers.base import (
    Reading,
    RouterBase,
    RouterNotFound,
    RouterTimeout,
    router_error,
)

NAMESPACE = "lambdafail"
METRIC = "PrimaryRouted"
VALUE = {"primary": 1.0, "standby": 0.0}
SIDE_OF_STATE = {"OK": "primary", "ALARM": "standby"}
# Below the switch's 30-s lease (transitions.LEASE_SECONDS): nobody else drives the router
# while we wait. CloudWatch evaluates the alarm once a 60-s period, so on AWS the first wait
# often ends in RouterTimeout and the next tick confirms; in the sandbox it moves in seconds.
READ_BACK_SECONDS = 20.0
POLL_SECONDS = 1.0
# DescribeAlarms takes at most 100 names a call.
DESCRIBE_MAX = 100


class DnsFailoverSwitch(RouterBase):
    kind = "dns_failover"

    def __init__(self, cfg: dict[str, Any], cloudwatch_client: Any, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 wait_seconds: float = READ_BACK_SECONDS) -> None:
        self.alarm = str(cfg["alarm"])
        self.dimensions: dict[str, str] = dict(cfg["dimensions"])
        self.record = str(cfg["record"])
        self.values: dict[str, str] = dict(cfg["values"])
        self.cw = cloudwatch_client
        self.clock = clock
        self.sleep = sleep
        self.wait_seconds = wait_seconds
        self._applied: str | None = None

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        try:
            self.cw.put_metric_data(Namespace=NAMESPACE, MetricData=[{
                "MetricName": METRIC, "Value": VALUE[side],
                "Dimensions": [{"Name": k, "Value": v}
                               for k, v in sorted(self.dimensions.items())]}])
        except Exception as e:
            raise router_error(f"cloudwatch PutMetricData {NAMESPACE}/{METRIC} = "
                               f"{VALUE[side]:g} ({self.alarm})", e) from e
        self._applied = side

    def _state(self) -> str:
        op = f"cloudwatch DescribeAlarms {self.alarm}"
        try:
            got = self.cw.describe_alarms(AlarmNames=[self.alarm], AlarmTypes=["MetricAlarm"])
        except Exception as e:
            raise router_error(op, e) from e
        alarms = got.get("MetricAlarms") or []
        if not alarms:
            raise RouterNotFound(f"{op}: the alarm does not exist (deploy creates it)",
                                 operation=op, code="ResourceNotFound")
        return str(alarms[0].get("StateValue") or "INSUFFICIENT_DATA")

    def read_back(self) -> str | None:
        state = self._state()
        want = self._applied
        if want is None:
            return SIDE_OF_STATE.get(state)
        deadline = self.clock() + self.wait_seconds
        while SIDE_OF_STATE.get(state) != want and self.clock() < deadline:
            self.sleep(POLL_SECONDS)
            state = self._state()
        if SIDE_OF_STATE.get(state) == want:
            return want
        raise RouterTimeout(
            f"alarm {self.alarm} is still {state} {self.wait_seconds:g} s after PutMetricData "
            f"{METRIC} = {VALUE[want]:g} (CloudWatch evaluates it once a 60-s period); the "
            f"record {self.record} follows once it is "
            f"{'OK' if want == 'primary' else 'ALARM'}: the next attempt confirms it",
            operation=f"cloudwatch DescribeAlarms {self.alarm}")

    @classmethod
    def read_many(cls, cfgs: list[dict[str, Any]], clients: Clients) -> list[Reading]:
        """Every router's alarm with DescribeAlarms, 100 names a call; a call that fails
        leaves only its own routers unread."""
        cw = clients.get("cloudwatch")
        names = sorted({str(c["alarm"]) for c in cfgs})
        states: dict[str, str] = {}
        unread: dict[str, str] = {}
        for i in range(0, len(names), DESCRIBE_MAX):
            chunk = names[i:i + DESCRIBE_MAX]
            try:
                got = cw.describe_alarms(AlarmNames=chunk, AlarmTypes=["MetricAlarm"])
            except Exception as e:
                why = str(router_error("cloudwatch DescribeAlarms", e))
                unread.update({n: why for n in chunk})
                continue
            for a in got.get("MetricAlarms") or []:
                states[str(a["AlarmName"])] = str(a.get("StateValue") or "INSUFFICIENT_DATA")
        out = []
        for c in cfgs:
            name = str(c["alarm"])
            if name in unread:
                out.append(Reading(None, readable=False, seen=f"cannot read: {unread[name]}"))
            elif name not in states:
                out.append(Reading(None, found=False, seen=f"alarm {name} does not exist"))
            else:
                side = SIDE_OF_STATE.get(states[name])
                dns = f"; {c['record']} answers {c['values'][side]}" if side else ""
                out.append(Reading(side, seen=f"alarm {name} {states[name]}{dns}"))
        return out

    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None,
              tags: dict[str, str] | None = None) -> DnsFailoverSwitch:
        # The orchestrator's own region: the alarm lives beside it.
        return cls(cfg, clients.get("cloudwatch"))
