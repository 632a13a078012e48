"""The topology: the YAML file's model, its loading with locations, and its compilation.

Rules: the pydantic models are the single definition of the format (`lambdafail schema` prints
them); `load()` turns any input, however hostile, into a `Topology` or a `TopologyError` listing
every problem with file:line:col, YAML path and hint; `compile_topology()` produces the JSON the
orchestrator runs (the contract with `lambdafail.runtime`, documented in docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lambdafail.model import naming
from lambdafail.model.schedule import schedule_gaps

NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"
SERVICE_RE = r"^[a-z0-9]([a-z0-9_-]{0,38}[a-z0-9])?$"
LAMBDA_NAME_RE = re.compile(
    r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"
)
ARN_RE = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")
RULE_NAME_RE = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
BUS_NAME_RE = re.compile(r"^([/.\-_A-Za-z0-9]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/"
                         r"[/.\-_A-Za-z0-9]{1,256})$")
SSM_NAME_RE = re.compile(r"^/?[A-Za-z0-9_.\-/]{1,1011}$")
ALARM_NAME_MAX = 255
#: The orchestrator probes every target within one tick; the Lambda's own limit is 900 s and
#: several probe rounds are spread over the first 50 s of a tick (see Health.probes_per_tick).
PROBE_SPREAD_SECONDS = 50
MetricsMode = Literal["state", "probes", "none"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Health(Strict):
    """How targets are probed. Any field may be set in defaults or per service."""

    interval: str = Field(default="rate(1 minute)", description="EventBridge schedule expression "
                          "for the probe tick: rate(...) or 6-field cron(...).")
    timeout_seconds: float = Field(default=3, gt=0, le=60, description="Per-probe timeout.")
    failure_threshold: int = Field(default=3, ge=1, le=100, description="Consecutive primary "
                                   "failures that trigger a failover.")
    recovery_threshold: int = Field(default=3, ge=1, le=100, description="Consecutive primary "
                                    "successes needed before an automatic failback.")
    probes_per_tick: int = Field(default=1, ge=1, le=6, description="Probe rounds inside one tick "
                                 "(spread over the interval's first 50 s): faster detection "
                                 "than the 1-minute schedule floor, for longer Lambda time.")
    metrics: MetricsMode = Field(default="state", description="CloudWatch metrics per service "
                                 "(each billed per month, docs/cost.md): `state` one State "
                                 "metric; `probes` also ProbeLatency and Healthy per side "
                                 "(4 more); `none` no metric.")

    @field_validator("interval")
    @classmethod
    def _schedule(cls, v: str) -> str:
        schedule_gaps(v)  # AWS's grammar, and a schedule that repeats
        return v


class HealthOverride(Strict):
    interval: str | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=60)
    failure_threshold: int | None = Field(default=None, ge=1, le=100)
    recovery_threshold: int | None = Field(default=None, ge=1, le=100)
    probes_per_tick: int | None = Field(default=None, ge=1, le=6)
    metrics: MetricsMode | None = None

    @field_validator("interval")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is not None:
            schedule_gaps(v)
        return v


class Policy(Strict):
    cooldown_seconds: int = Field(default=300, ge=0, le=86400, description="No transition sooner "
                                  "than this after the last one (no flapping).")
    failback: Literal["manual", "auto"] = Field(default="manual", description="auto: return to the "
                                                "primary after recovery_threshold successes.")
    rto_seconds: int = Field(default=180, ge=1, le=86400, description="Recovery time objective, "
                             "graded by `lambdafail drill`.")


class PolicyOverride(Strict):
    cooldown_seconds: int | None = Field(default=None, ge=0, le=86400)
    failback: Literal["manual", "auto"] | None = None
    rto_seconds: int | None = Field(default=None, ge=1, le=86400)


class Defaults(Strict):
    health: Health = Health()
    policy: Policy = Policy()


SECRET_QUERY_RE = re.compile(
    r"(?i)(^|[_-])(token|secret|password|passwd|pwd|api[_-]?key|apikey|access[_-]?key|"
    r"signature|sig|auth|credential|session)([_-]|$)|^x-amz-")


def _redact(url: str) -> str:
    """The URL without its userinfo and query, for error messages that do not leak it."""
    from urllib.parse import urlsplit

    p = urlsplit(url)
    host = p.hostname or ""
    port = f":{p.port}" if p.port else ""
    return f"{p.scheme}://{host}{port}{p.path}" + ("?…" if p.query else "")


class UrlTarget(Strict):
    url: str = Field(description="HTTP(S) URL probed with GET.")
    expect_status: int = Field(default=200, ge=100, le=599)
    body_contains: str | None = Field(default=None, description="Healthy only if the body has this.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {v!r}")
        try:
            _ = parts.port
        except ValueError as e:
            raise ValueError(f"bad port in URL {v!r}") from e
        # Probe URLs are configuration, not secrets: they are stored in clear in the deployed
        # zip, the state table and the logs. Refuse what looks like a credential.
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"URL {_redact(v)} carries credentials (user:password@); they would "
                             "be stored in clear in the function's code, the state table and "
                             "the logs — probe an endpoint that needs no credentials")
        for key, _value in parse_qsl(parts.query, keep_blank_values=True):
            if SECRET_QUERY_RE.search(key):
                raise ValueError(f"URL {_redact(v)} carries a secret-looking query parameter "
                                 f"{key!r}; it would be stored in clear in the function's "
                                 "code, the state table and the logs — probe an endpoint that "
                                 "needs no credentials")
        return v


class LambdaTarget(Strict):
    lambda_: str = Field(alias="lambda", description="Function name or ARN, invoked with a "
                         "ping payload; a FunctionError means unhealthy.")

    @field_validator("lambda_")
    @classmethod
    def _name(cls, v: str) -> str:
        if not LAMBDA_NAME_RE.match(v):
            raise ValueError(f"not a Lambda function name or ARN: {v!r}")
        return v


Target = UrlTarget | LambdaTarget


class AlarmSignal(Strict):
    alarm: str = Field(description="CloudWatch alarm name: ALARM fails over, OK recovers.")
    mode: Literal["failover", "failure"] = Field(default="failover", description="failover: act at "
                                                 "once; failure: count as one failed probe.")

    @field_validator("alarm")
    @classmethod
    def _alarm(cls, v: str) -> str:
        if not v or len(v) > ALARM_NAME_MAX:
            raise ValueError("alarm names are 1-255 characters")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
            raise ValueError(f"alarm name {v!r} contains control characters")
        return v


class Invalid(ValueError):
    """A value AWS would refuse; `hint` says what it accepts (the loader shows both)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def aws_service_source(pattern: dict[str, Any]) -> bool | None:
    """True when every `source` the pattern matches is an AWS service's (`aws.…`), False when
    none is, None when it mixes both. AWS service events arrive only on the default bus."""
    sources = pattern.get("source")
    values = sources if isinstance(sources, list) else []
    if not values:
        return False
    flags = {(v.startswith("aws.") if isinstance(v, str)
              else str(v.get("prefix", "")).startswith("aws.") if isinstance(v, dict)
              else False) for v in values}
    return flags.pop() if len(flags) == 1 else None


class EventSignal(Strict):
    event: dict[str, Any] = Field(description="EventBridge event pattern, matched on the "
                                  "topology's bus; a pattern on AWS service events (`source: "
                                  "[aws.…]`) is matched on the default bus, where they arrive.")
    mode: Literal["failover", "failure"] = "failover"

    @field_validator("event")
    @classmethod
    def _pattern(cls, v: dict[str, Any]) -> dict[str, Any]:
        from lambdafail.runtime.patterns import PatternError, validate_pattern

        try:
            validate_pattern(v)
        except PatternError as e:
            raise ValueError(f"invalid event pattern: {e}") from None
        if aws_service_source(v) is None:
            raise Invalid("the pattern's sources mix AWS services (aws.…) and your own",
                          hint="AWS service events arrive only on the default bus and yours "
                               "on the topology's bus: make them two signals")
        return v


Signal = AlarmSignal | EventSignal


# PutRetentionPolicy's allowed values (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
SSM_MAX_LEVELS = 15
# AWS counts a parameter name's length with its full ARN: at most 1011 characters.
SSM_ARN_MAX = 1011


def ssm_name_problem(name: str) -> str:
    """Why SSM's PutParameter would refuse `name` (its documented naming rules), or ""."""
    from lambdafail.model import regions

    bare = name.lstrip("/")
    if not SSM_NAME_RE.match(name) or "//" in name or not bare:
        return "only letters, digits, _ . - and / (no empty level)"
    if "/" in bare and not name.startswith("/"):
        return "a name with levels must start with /"
    levels = bare.rstrip("/").split("/")
    if name.endswith("/"):
        return "it must not end with /"
    if len(levels) > SSM_MAX_LEVELS:
        return f"{len(levels)} levels; SSM allows at most {SSM_MAX_LEVELS}"
    if bare.lower().startswith(("aws", "ssm")):
        return "names starting with aws or ssm (any case) are reserved"
    room = SSM_ARN_MAX - regions.longest_arn_prefix("ssm", "parameter/")
    if len(bare) > room:
        return (f"{len(bare)} characters; with its ARN (counted against SSM's {SSM_ARN_MAX}) "
                f"at most {room} fit in every region")
    return ""


class SsmRouter(Strict):
    ssm_parameter: str = Field(description="String parameter holding the active endpoint.")
    values: dict[Literal["primary", "standby"], str] | None = Field(default=
        None, description="Values to write; default: each target's URL or function.")

    @field_validator("ssm_parameter")
    @classmethod
    def _name(cls, v: str) -> str:
        problem = ssm_name_problem(v)
        if problem:
            raise Invalid(f"not a valid SSM parameter name: {v!r}: {problem}",
                          hint="letters, digits and _ . - in up to 15 levels separated by /, "
                               "starting with / when there is more than one level, not "
                               "starting with aws or ssm")
        return v


class Route53Spec(Strict):
    zone_id: str = Field(pattern=r"^(/hostedzone/)?Z[A-Z0-9]{1,31}$")
    record: str = Field(min_length=1, max_length=253)
    type: Literal["CNAME", "A", "AAAA"] = "CNAME"
    ttl: int = Field(default=60, ge=0, le=86400)
    primary: str = Field(min_length=1)
    standby: str = Field(min_length=1)


class Route53Router(Strict):
    route53: Route53Spec


class RulesSpec(Strict):
    primary: list[str] = Field(default_factory=list)
    standby: list[str] = Field(default_factory=list)
    bus: str = "default"

    @field_validator("primary", "standby")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not RULE_NAME_RE.match(name):
                raise ValueError(f"not a valid EventBridge rule name: {name!r}")
            # lambdafail's own rules (the probe tick, signals) must never be switched off
            # by a failover: the first one would stop the watcher itself.
            if name.startswith(f"{naming.PREFIX}-"):
                raise ValueError(f"rule {name!r} is named like lambdafail's own rules "
                                 f"({naming.PREFIX}-<topology>-…); a router may only switch "
                                 "your application's rules")
        return v

    @field_validator("bus")
    @classmethod
    def _bus(cls, v: str) -> str:
        if not BUS_NAME_RE.match(v):
            raise ValueError(f"not an EventBridge bus name or ARN: {v!r}")
        return v

    @model_validator(mode="after")
    def _some(self) -> RulesSpec:
        if not self.primary and not self.standby:
            raise ValueError("name at least one rule for primary or standby")
        return self


class RulesRouter(Strict):
    rules: RulesSpec


class HookRouter(Strict):
    hook: str = Field(description="Lambda function (ARN or name) invoked synchronously with "
                      "the transition; it must return without FunctionError.")

    @field_validator("hook")
    @classmethod
    def _fn(cls, v: str) -> str:
        if not LAMBDA_NAME_RE.match(v):
            raise ValueError(f"not a Lambda function name or ARN: {v!r}")
        return v


Router = SsmRouter | Route53Router | RulesRouter | HookRouter


def _kind_by_key(keys: dict[str, str]) -> Any:
    """A discriminator picking the union member by which key is present, so a mistake is
    reported against the member the user meant instead of against every member."""

    def pick(value: Any) -> str | None:
        if isinstance(value, dict):
            for key, tag in keys.items():
                if key in value:
                    return tag
            return None
        name = type(value).__name__
        return name if name in keys.values() else None

    return pick


_TargetField = Annotated[
    Annotated[UrlTarget, Tag("UrlTarget")] | Annotated[LambdaTarget, Tag("LambdaTarget")],
    Discriminator(
        _kind_by_key({"url": "UrlTarget", "lambda": "LambdaTarget"}),
        custom_error_type="target_kind",
        custom_error_message="a target is a mapping with `url` (HTTP probe) or `lambda` "
        "(function probe)",
    ),
]
_SignalField = Annotated[
    Annotated[AlarmSignal, Tag("AlarmSignal")] | Annotated[EventSignal, Tag("EventSignal")],
    Discriminator(
        _kind_by_key({"alarm": "AlarmSignal", "event": "EventSignal"}),
        custom_error_type="signal_kind",
        custom_error_message="a signal is a mapping with `alarm` (CloudWatch alarm name) or "
        "`event` (EventBridge event pattern)",
    ),
]
_RouterField = Annotated[
    Annotated[SsmRouter, Tag("SsmRouter")]
    | Annotated[Route53Router, Tag("Route53Router")]
    | Annotated[RulesRouter, Tag("RulesRouter")]
    | Annotated[HookRouter, Tag("HookRouter")],
    Discriminator(
        _kind_by_key({"ssm_parameter": "SsmRouter", "route53": "Route53Router",
                      "rules": "RulesRouter", "hook": "HookRouter"}),
        custom_error_type="router_kind",
        custom_error_message="a router is a mapping with one of `ssm_parameter`, `route53`, "
        "`rules` or `hook`",
    ),
]


class Service(Strict):
    primary: _TargetField = Field(description="Where traffic goes normally.")
    standby: _TargetField = Field(description="Where traffic goes after a failover.")
    signals: list[_SignalField] = Field(default_factory=list, description="Alarms and events "
                                        "that trigger a failover besides the probes.")
    router: _RouterField = Field(description="How traffic is switched.")
    health: HealthOverride = HealthOverride()
    policy: PolicyOverride = PolicyOverride()


class Notify(Strict):
    sns_topic_arn: str | None = None

    @field_validator("sns_topic_arn")
    @classmethod
    def _arn(cls, v: str | None) -> str | None:
        if v is not None and not (ARN_RE.match(v) and v.split(":")[2] == "sns"):
            raise ValueError(f"not an SNS topic ARN: {v!r}")
        return v


class Topology(Strict):
    """A lambdafail topology file (version 1)."""

    version: Literal[1] = 1
    name: str = Field(pattern=NAME_RE, description="Prefix of every physical name: "
                      "lambdafail-<name>-...; lowercase letters, digits, dashes, ≤ 32.")
    region: str | None = Field(default=None, description="AWS region (or --region / AWS_REGION).")
    notify: Notify = Notify()
    log_retention_days: int = Field(default=30, description="How long the orchestrator's log "
                                    "group keeps its logs (one of CloudWatch Logs' values).")
    defaults: Defaults = Defaults()
    services: dict[Annotated[str, Field(pattern=SERVICE_RE)], Service] = Field(min_length=1)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise Invalid(f"{v} is not a retention CloudWatch Logs offers",
                          hint="one of " + ", ".join(map(str, LOG_RETENTION_DAYS)))
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        from lambdafail.model import regions

        if v is not None and regions.partition_of(v) is None:
            raise Invalid(f"not an AWS region: {v!r}", hint=regions.unknown_region_hint(v))
        return v

    def health(self, service: str) -> Health:
        override = self.services[service].health.model_dump(exclude_none=True)
        return self.defaults.health.model_copy(update=override)

    def policy(self, service: str) -> Policy:
        override = self.services[service].policy.model_dump(exclude_none=True)
        return self.defaults.policy.model_copy(update=override)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Topology:
        # The loader defers these to report each one at its own file:line (semantic_problems);
        # any other caller gets them as one validation error.
        if isinstance(info.context, dict) and info.context.get("defer_checks"):
            return self
        problems = semantic_problems(self)
        if problems:
            raise ValueError("; ".join(f"{_dotted(p.path)}: {p.message}" for p in problems))
        return self


@dataclass(frozen=True)
class SemanticProblem:
    """A problem that needs the whole topology to see (defaults merged, services compared)."""

    path: tuple[str | int, ...]
    message: str
    hint: str = ""


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def semantic_problems(topo: Topology) -> list[SemanticProblem]:
    """Checks across fields: distinct targets, timeouts that fit, no shared alarms or router
    resources between services, physical names within AWS limits."""
    out: list[SemanticProblem] = []
    alarms: dict[str, str] = {}
    routes: dict[str, str] = {}
    for name, svc in topo.services.items():
        base: tuple[str | int, ...] = ("services", name)
        if type(svc.primary) is type(svc.standby) and target_value(svc.primary) == target_value(
            svc.standby
        ):
            out.append(SemanticProblem(
                (*base, "standby"), "standby is the same target as primary "
                f"({target_value(svc.primary)}); a failover would change nothing",
                "point standby at a different URL or function"))
        h = topo.health(name)
        try:
            # Rounds must end before the next tick, which may come after the shortest gap.
            secs = schedule_gaps(h.interval).min_seconds
        except ValueError:
            continue  # reported on the field itself
        budget = (PROBE_SPREAD_SECONDS / h.probes_per_tick if h.probes_per_tick > 1
                  else min(secs, 900) - 5)
        if h.timeout_seconds >= budget:
            where = ("services", name, "health") if svc.health.timeout_seconds is not None \
                else ("defaults", "health")
            out.append(SemanticProblem(
                (*where, "timeout_seconds"),
                f"timeout_seconds {h.timeout_seconds:g} does not fit in the probe interval of "
                f"service {name!r} ({h.interval}, {h.probes_per_tick} probe round(s) per tick: "
                f"{budget:g} s each)",
                f"use a timeout below {budget:g} s, fewer probes_per_tick or a longer interval"))
        for i, sig in enumerate(svc.signals):
            if isinstance(sig, AlarmSignal):
                if sig.alarm in alarms and alarms[sig.alarm] != name:
                    out.append(SemanticProblem(
                        (*base, "signals", i, "alarm"),
                        f"alarm {sig.alarm!r} is already a signal of service "
                        f"{alarms[sig.alarm]!r}; the orchestrator finds the service by alarm "
                        "name", "give each service its own alarm"))
                alarms.setdefault(sig.alarm, name)
        route = _route_key(svc)
        if route is not None:
            if route in routes:
                out.append(SemanticProblem(
                    (*base, "router"), f"service {routes[route]!r} already switches {route}; "
                    "two services would fight over it", "give each service its own router"))
            routes.setdefault(route, name)
    out.extend(_physical_name_problems(topo))
    return out


def _route_key(svc: Service) -> str | None:
    r = svc.router
    if isinstance(r, SsmRouter):
        return f"SSM parameter {'/' + r.ssm_parameter.lstrip('/')}"
    if isinstance(r, Route53Router):
        record = r.route53.record.rstrip(".").lower()
        return f"record {record} {r.route53.type} in zone {r.route53.zone_id}"
    return None


_PHYSICAL_LIMITS = {
    "function": naming.FUNCTION_NAME_MAX, "rule": naming.RULE_NAME_MAX,
    "table": naming.TABLE_NAME_MAX, "bus": naming.BUS_NAME_MAX,
}


def _physical_name_problems(topo: Topology) -> list[SemanticProblem]:
    """Every name lambdafail will create, checked against AWS's limits and characters.

    naming.py shortens long names with a hash, so this only fires if that contract breaks; it
    is the offline guarantee that deploy will not meet a ValidationException on a name."""
    names: list[tuple[str, str]] = [
        ("function", naming.function_name(topo.name)),
        ("function", naming.role_name(topo.name)),
        ("table", naming.table_name(topo.name)),
        ("bus", naming.bus_name(topo.name)),
    ]
    for name, svc in topo.services.items():
        h = topo.health(name)
        with contextlib.suppress(ValueError):
            names.append(("rule", naming.schedule_rule_name(topo.name, h.interval)))
        for i, sig in enumerate(svc.signals):
            make = naming.alarm_rule_name if isinstance(sig, AlarmSignal) \
                else naming.event_rule_name
            names.append(("rule", make(topo.name, name, i)))
    out: list[SemanticProblem] = []
    for kind, physical in names:
        limit = _PHYSICAL_LIMITS[kind]
        if len(physical) > limit or not RULE_NAME_RE.match(physical[:64] or "-"):
            out.append(SemanticProblem(
                ("name",), f"the {kind} name {physical!r} would break AWS's limit "
                f"({limit} characters of [.-_A-Za-z0-9])", "use a shorter topology name"))
    return out


def target_value(t: Target) -> str:
    return t.url if isinstance(t, UrlTarget) else t.lambda_


def _target_json(t: Target) -> dict[str, Any]:
    if isinstance(t, UrlTarget):
        return {"kind": "url", "url": t.url, "expect_status": t.expect_status,
                "body_contains": t.body_contains}
    return {"kind": "lambda", "function": t.lambda_}


def _router_json(svc: Service) -> dict[str, Any]:
    r = svc.router
    if isinstance(r, SsmRouter):
        values = r.values or {}
        return {"kind": "ssm", "parameter": r.ssm_parameter,
                "values": {"primary": values.get("primary", target_value(svc.primary)),
                           "standby": values.get("standby", target_value(svc.standby))}}
    if isinstance(r, Route53Router):
        s = r.route53
        zone = s.zone_id.removeprefix("/hostedzone/")
        record = s.record if s.record.endswith(".") else s.record + "."
        return {"kind": "route53", "zone_id": zone, "record": record, "type": s.type,
                "ttl": s.ttl, "values": {"primary": s.primary, "standby": s.standby}}
    if isinstance(r, RulesRouter):
        return {"kind": "rules", "bus": r.rules.bus,
                "rules": {"primary": list(r.rules.primary), "standby": list(r.rules.standby)}}
    return {"kind": "hook", "function": r.hook}


def compile_topology(topo: Topology) -> dict[str, Any]:
    """The runtime's view of the topology (JSON-ready, deterministic key order).

    This document is embedded in the orchestrator's zip; its shape is the contract described
    in docs/architecture.md ("Compiled topology").
    """
    services: dict[str, Any] = {}
    schedules: dict[str, dict[str, Any]] = {}
    for name in sorted(topo.services):
        svc = topo.services[name]
        h = topo.health(name)
        p = topo.policy(name)
        gaps = schedule_gaps(h.interval)
        secs = gaps.min_seconds
        rule = naming.schedule_rule_name(topo.name, h.interval)
        sched = schedules.setdefault(rule, {"expression": h.interval, "interval_seconds": secs,
                                            "max_gap_seconds": gaps.max_seconds,
                                            "services": []})
        sched["services"].append(name)
        signals: list[dict[str, Any]] = []
        for i, sig in enumerate(svc.signals):
            if isinstance(sig, AlarmSignal):
                signals.append({"kind": "alarm", "alarm_name": sig.alarm, "mode": sig.mode,
                                "rule": naming.alarm_rule_name(topo.name, name, i)})
            else:
                signals.append({"kind": "event", "pattern": sig.event, "mode": sig.mode,
                                "rule": naming.event_rule_name(topo.name, name, i)})
        services[name] = {
            "primary": _target_json(svc.primary),
            "standby": _target_json(svc.standby),
            "health": {"interval": h.interval, "interval_seconds": secs,
                       "timeout_seconds": h.timeout_seconds,
                       "failure_threshold": h.failure_threshold,
                       "recovery_threshold": h.recovery_threshold,
                       "probes_per_tick": h.probes_per_tick, "metrics": h.metrics},
            "policy": {"cooldown_seconds": p.cooldown_seconds, "failback": p.failback,
                       "rto_seconds": p.rto_seconds},
            "signals": signals,
            "router": _router_json(svc),
        }
    return {
        "format": 1,
        "topology": topo.name,
        "region": topo.region,
        "table": naming.table_name(topo.name),
        "bus": naming.bus_name(topo.name),
        "function": naming.function_name(topo.name),
        "sns_topic_arn": topo.notify.sns_topic_arn,
        "log_retention_days": topo.log_retention_days,
        "schedules": schedules,
        "services": services,
    }
