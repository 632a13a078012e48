"""Route 53 failover as the sandbox serves it: health checks that follow their alarm, and the
answer Route 53's resolvers would give.

Fills moto gaps: moto 5.2.1 makes hosted zone ids that need not start with Z, drops a health
check's AlarmIdentifier and
InsufficientDataHealthStatus, never evaluates a health check (GetHealthCheckStatus always says
Success) and answers no DNS query. Rules: `install()` (idempotent, process-wide, as moto's
state is) makes CreateHealthCheck and UpdateHealthCheck keep both fields and return them in
HealthCheckConfig, and makes GetHealthCheckStatus of a CLOUDWATCH_METRIC health check follow
its alarm in moto's CloudWatch backend of the alarm's region — OK healthy, ALARM unhealthy,
INSUFFICIENT_DATA (or a dark region) as InsufficientDataHealthStatus says (LastKnownStatus:
the last status seen, healthy for a new one). `answer()` is what a resolver gets for a name and
type: a plain record set as is; of failover records, the PRIMARY while its health check is
healthy (or it has none), else the SECONDARY. Differences from AWS: the status changes the
moment the alarm does (AWS's checkers take up to about a minute), there is one observation
instead of one per checker region, and the TTL is not waited out. Tested with moto 5.2.1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lambdafail.sandbox import backends

_installed = False
_lock = threading.Lock()
# health check id -> its last status (True healthy), for LastKnownStatus.
_last_known: dict[str, bool] = {}


def install() -> None:
    """Patch moto's Route 53 handlers once (see the module docstring)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.route53.models import HealthCheck
        from moto.route53.responses import Route53

        base_config = HealthCheck.health_check_config.fget  # type: ignore[attr-defined]

        def health_check_config(self: Any) -> dict[str, Any]:
            cfg = dict(base_config(self))
            if getattr(self, "alarm_identifier", None):
                cfg["AlarmIdentifier"] = self.alarm_identifier
                for k in ("IPAddress", "Port", "RequestInterval", "FailureThreshold",
                          "MeasureLatency"):
                    cfg.pop(k, None)  # AWS returns none of these for a CLOUDWATCH_METRIC check
            if getattr(self, "insufficient_data_health_status", None):
                cfg["InsufficientDataHealthStatus"] = self.insufficient_data_health_status
            return cfg

        HealthCheck.health_check_config = property(health_check_config)  # type: ignore[assignment,method-assign]

        # AWS's hosted zone ids start with Z (a topology's zone_id is checked for it); moto's
        # are 22 random characters.
        import moto.route53.models as r53_models

        zone_id = r53_models.create_route53_zone_id

        def create_route53_zone_id(**kw: Any) -> str:
            got = str(zone_id(**kw))
            return got if got.startswith("Z") else "Z" + got[1:]

        r53_models.create_route53_zone_id = create_route53_zone_id

        create, update = Route53.create_health_check, Route53.update_health_check

        def create_health_check(self: Any) -> Any:
            result = create(self)
            config = self._get_param("HealthCheckConfig") or {}
            hc = self.backend.health_checks[_created_id(result)]
            hc.alarm_identifier = config.get("AlarmIdentifier")
            hc.insufficient_data_health_status = config.get("InsufficientDataHealthStatus")
            return result

        def update_health_check(self: Any) -> Any:
            result = update(self)
            hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
            for param, attr in (("AlarmIdentifier", "alarm_identifier"),
                                ("InsufficientDataHealthStatus",
                                 "insufficient_data_health_status")):
                if self._get_param(param) is not None:
                    setattr(hc, attr, self._get_param(param))
            hc.health_check_version = int(getattr(hc, "health_check_version", 1)) + 1
            return result

        def get_health_check_status(self: Any) -> Any:
            from moto.core.responses import ActionResult
            from moto.core.utils import utcnow

            hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
            healthy, why = status(hc)
            text = f"{'Success' if healthy else 'Failure'}: {why}"
            return ActionResult({"HealthCheckObservations": [{
                "Region": "us-east-1", "IPAddress": "127.0.13.37",
                "StatusReport": {"Status": text, "CheckedTime": utcnow()}}]})

        Route53.create_health_check = create_health_check  # type: ignore[method-assign]
        Route53.update_health_check = update_health_check  # type: ignore[method-assign]
        Route53.get_health_check_status = get_health_check_status  # type: ignore[method-assign]
        _installed = True


def _created_id(result: Any) -> str:
    return str(result.result["HealthCheck"].id)  # moto's ActionResult keeps what it was given


def status(hc: Any, dark: Callable[[str], bool] = lambda region: False) -> tuple[bool, str]:
    """(healthy, why) of a health check as the sandbox evaluates it."""
    ident = getattr(hc, "alarm_identifier", None)
    if getattr(hc, "type_", None) != "CLOUDWATCH_METRIC" or not ident:
        return True, "not evaluated by the sandbox (only CLOUDWATCH_METRIC health checks are)"
    region, name = str(ident.get("Region")), str(ident.get("Name"))
    state = None if dark(region) else getattr(
        backends.cloudwatch(region).alarms.get(name), "state_value", None)
    healthy: bool
    if state in ("OK", "ALARM"):
        healthy = state == "OK"
        why = f"alarm {name} in {region} is {state}"
    else:
        mode = getattr(hc, "insufficient_data_health_status", None) or "LastKnownStatus"
        healthy = (_last_known.get(str(hc.id), True) if mode == "LastKnownStatus"
                   else mode == "Healthy")
        why = (f"alarm {name} in {region} is {state or 'unreadable'}: "
               f"{mode} ({'healthy' if healthy else 'unhealthy'})")
    inverted = bool(getattr(hc, "inverted", False))
    healthy = healthy != inverted
    if state in ("OK", "ALARM"):
        _last_known[str(hc.id)] = healthy
    return healthy, why


def answer(zone_id: str, name: str, rtype: str,
           dark: Callable[[str], bool] = lambda region: False) -> dict[str, Any]:
    """What a resolver gets for `name` `rtype` from the zone: {"values", "ttl", "answered_by"
    (the SetIdentifier, or None), "why"}; values [] when nothing answers (NXDOMAIN/NODATA)."""
    from moto.route53.models import route53_backends

    want = name.rstrip(".").lower() + "."
    zone = route53_backends[backends.ACCOUNT_ID]["aws"].get_hosted_zone(zone_id)
    sets = [r for r in zone.rrsets if str(r.name).rstrip(".").lower() + "." == want
            and r.type == rtype]
    plain = [r for r in sets if not r.failover]
    if plain:
        r = plain[0]
        return {"values": list(r.records), "ttl": int(r.ttl or 0), "answered_by": None,
                "why": "a record without a routing policy"}
    by_role = {str(r.failover): r for r in sets}
    primary, secondary = by_role.get("PRIMARY"), by_role.get("SECONDARY")
    r53 = route53_backends[backends.ACCOUNT_ID]["aws"]
    if primary is not None:
        hc = r53.health_checks.get(primary.health_check_id) if primary.health_check_id else None
        healthy, why = (True, "the PRIMARY has no health check") if hc is None else status(
            hc, dark)
        if healthy or secondary is None:
            return {"values": list(primary.records), "ttl": int(primary.ttl or 0),
                    "answered_by": primary.set_identifier, "why": f"PRIMARY: {why}"}
        return {"values": list(secondary.records), "ttl": int(secondary.ttl or 0),
                "answered_by": secondary.set_identifier,
                "why": f"SECONDARY: the PRIMARY is unhealthy ({why})"}
    if secondary is not None:
        return {"values": list(secondary.records), "ttl": int(secondary.ttl or 0),
                "answered_by": secondary.set_identifier, "why": "SECONDARY: no PRIMARY record"}
    return {"values": [], "ttl": 0, "answered_by": None,
            "why": f"no {rtype} record {want} in zone {zone_id}"}
