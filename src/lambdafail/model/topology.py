"""The topology: the YAML file's model, its loading with locations, and its compilation.

Rules: the pydantic models are the single definition of the format (`lambdafail schema` prints
them); `load()` turns any input, however hostile, into a `Topology` or a `TopologyError` listing
every problem with file:line:col, YAML path and hint; `compile_topology()` produces the JSON the
orchestrator runs (the contract with `lambdafail.runtime`, documented in docs/architecture.md).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from lambdafail.model import capacity, naming
from lambdafail.model.common import ARN_RE, RULE_NAME_RE, Invalid, Strict
from lambdafail.model.kinds import ROUTERS, RouterSpec, router_kind_of
from lambdafail.model.kinds.signals import SIGNALS, SignalSpec, signal_kind_of
from lambdafail.model.kinds.steps import STEPS, StepSpec, compile_step, step_kind_of
from lambdafail.model.kinds.targets import TARGETS, TargetSpec, target_kind_of, target_value
from lambdafail.model.schedule import schedule_gaps
from lambdafail.runtime.compiled import (
    CompiledTopology,
    RecoveryCfg,
    ScheduleCfg,
    ServiceCfg,
    SignalCfg,
    TargetCfg,
)

NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"
SERVICE_RE = r"^[a-z0-9]([a-z0-9_-]{0,38}[a-z0-9])?$"
#: The orchestrator probes every target within one tick; the Lambda's own limit is 900 s and
#: several probe rounds are spread over the first 50 s of a tick (see Health.probes_per_tick).
PROBE_SPREAD_SECONDS = 50
MetricsMode = Literal["state", "probes", "none"]


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


#: What a primary or standby is: one of the kinds registered in `lambdafail.model.kinds.targets`.
Target = TargetSpec
#: A failure signal: one of the kinds registered in `lambdafail.model.kinds.signals`.
Signal = SignalSpec


# PutRetentionPolicy's allowed values (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)

#: A service's router: one of the kinds registered in `lambdafail.model.kinds`.
Router = RouterSpec


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


def _keyed_union(members: dict[str, type[Any]], error_type: str, what: str,
                 labels: dict[str, str] | None = None) -> Any:
    """A union of models picked by which key is present (`members`: key → model), whose
    error names every allowed key: `a router is a mapping with one of `ssm_parameter`, …`,
    or, with `labels`, says what each key is: `a target is a mapping with `url` (HTTP probe)
    or `lambda` (function probe)`."""
    keys = list(members)
    if labels is not None:
        said = [f"`{key}` ({labels[key]})" for key in keys]
        message = (f"{what} is a mapping with " + ", ".join(said[:-1]) + f" or {said[-1]}")
    else:
        message = (f"{what} is a mapping with one of "
                   + ", ".join(f"`{key}`" for key in keys[:-1]) + f" or `{keys[-1]}`")
    return Annotated[
        Union[tuple(Annotated[m, Tag(m.__name__)] for m in members.values())],  # noqa: UP007
        Discriminator(
            _kind_by_key({key: m.__name__ for key, m in members.items()}),
            custom_error_type=error_type,
            custom_error_message=message,
        ),
    ]


def _router_field() -> Any:
    return _keyed_union({k.key: k.model for k in ROUTERS}, "router_kind", "a router")


if TYPE_CHECKING:
    _RouterField = RouterSpec
    _TargetField = TargetSpec
    _SignalField = SignalSpec
else:
    _RouterField = _router_field()
    _TargetField = _keyed_union({k.key: k.model for k in TARGETS}, "target_kind", "a target",
                                {k.key: k.label for k in TARGETS})
    _SignalField = _keyed_union({k.key: k.model for k in SIGNALS}, "signal_kind", "a signal",
                                {k.key: k.label for k in SIGNALS})


class StepItem(Strict):
    """One item of a recovery plan: a mapping with one step kind's key (`- wait: {...}`)."""

    @property
    def spec(self) -> StepSpec:
        value = getattr(self, "step")  # noqa: B009 - the field each kind's item defines
        assert isinstance(value, StepSpec)
        return value


#: Per step kind, the item model `{<key>: <the kind's model>}`.
_STEP_ITEMS: dict[str, type[StepItem]] = {
    k.key: create_model(f"{k.model.__name__}Item", __base__=StepItem,
                        step=(k.model, Field(alias=k.key)))
    for k in STEPS
}


def _step_field() -> Any:
    return _keyed_union(dict(_STEP_ITEMS), "step_kind", "a recovery step")


if TYPE_CHECKING:
    _StepField = StepItem
else:
    _StepField = _step_field()


class Recovery(Strict):
    """What runs around a switch: `failover` steps before the router moves to the standby (a
    cold standby is started here), `failback` steps after traffic is back on the primary."""

    failover: list[_StepField] = Field(default_factory=list, max_length=20, description=
                                       "Run in order before the router switches to the "
                                       "standby; a failed step blocks the switch.")
    failback: list[_StepField] = Field(default_factory=list, max_length=20, description=
                                       "Run in order after the router is back on the primary "
                                       "(e.g. scale the standby down).")


class Service(Strict):
    primary: _TargetField = Field(description="Where traffic goes normally.")
    standby: _TargetField = Field(description="Where traffic goes after a failover.")
    signals: list[_SignalField] = Field(default_factory=list, description="Alarms and events "
                                        "that trigger a failover besides the probes.")
    router: _RouterField = Field(description="How traffic is switched.")
    recovery: Recovery = Field(default_factory=Recovery, description="Recovery steps run "
                               "around a switch (a cold standby is started before it).")
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
    claimed: dict[str, str] = {}
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
            kind = signal_kind_of(sig)
            claim = kind.claim(sig)
            if claim is not None:
                key, said = claim
                if key in claimed and claimed[key] != name:
                    out.append(SemanticProblem(
                        (*base, "signals", i, kind.key),
                        f"{said} is already a signal of service {claimed[key]!r}; the "
                        f"orchestrator finds the service by {kind.key} name",
                        f"give each service its own {kind.key}"))
                claimed.setdefault(key, name)
        out.extend(_recovery_problems(name, svc.recovery))
        route = _route_key(svc)
        if route is not None:
            if route in routes:
                out.append(SemanticProblem(
                    (*base, "router"), f"service {routes[route]!r} already switches {route}; "
                    "two services would fight over it", "give each service its own router"))
            routes.setdefault(route, name)
    out.extend(_physical_name_problems(topo))
    return out


def _recovery_problems(name: str, rec: Recovery) -> list[SemanticProblem]:
    """A failover plan that starts the standby must judge it (a `wait` after the last step
    that starts it) before the router moves; a failback plan runs once traffic is home, when
    there is no standby to wait for."""
    out: list[SemanticProblem] = []
    base: tuple[str | int, ...] = ("services", name, "recovery")
    steps = [item.spec for item in rec.failover]
    starts = [i for i, s in enumerate(steps) if step_kind_of(s).starts_standby(s)]
    if starts and not any(step_kind_of(s).judges_standby for s in steps[starts[-1] + 1:]):
        i = starts[-1]
        key = step_kind_of(steps[i]).key
        out.append(SemanticProblem(
            (*base, "failover", i, key),
            f"step {i + 1} ({key}) starts the standby but no `wait` step follows it: the "
            "router would switch to a standby nobody has seen healthy",
            "add `- wait: {healthy: 2, timeout_seconds: 120}` after it (or, for a function "
            "that starts nothing, set `starts_standby: false`)"))
    for i, item in enumerate(rec.failback):
        kind = step_kind_of(item.spec)
        if kind.judges_standby:
            out.append(SemanticProblem(
                (*base, "failback", i, kind.key),
                f"a `{kind.key}` step judges the standby, but failback steps run after "
                "traffic is back on the primary", "remove it from the failback plan"))
    return out


def _recovery_json(rec: Recovery) -> RecoveryCfg:
    return {"failover": [compile_step(item.spec) for item in rec.failover],
            "failback": [compile_step(item.spec) for item in rec.failback]}


def _route_key(svc: Service) -> str | None:
    return router_kind_of(svc.router).route_key(svc.router)


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
            names.append(("rule", signal_kind_of(sig).rule_name(topo.name, name, i)))
    out: list[SemanticProblem] = []
    for kind, physical in names:
        limit = _PHYSICAL_LIMITS[kind]
        if len(physical) > limit or not RULE_NAME_RE.match(physical[:64] or "-"):
            out.append(SemanticProblem(
                ("name",), f"the {kind} name {physical!r} would break AWS's limit "
                f"({limit} characters of [.-_A-Za-z0-9])", "use a shorter topology name"))
    return out


def _target_json(t: Target) -> TargetCfg:
    return target_kind_of(t).compile(t)


def _router_json(svc: Service) -> dict[str, Any]:
    targets = {"primary": target_value(svc.primary), "standby": target_value(svc.standby)}
    return router_kind_of(svc.router).compile(svc.router, targets)


def _split_schedules(schedules: dict[str, ScheduleCfg],
                     services: dict[str, ServiceCfg]) -> dict[str, ScheduleCfg]:
    """Each schedule as rules that one invocation each can carry (model/capacity.py)."""
    out: dict[str, ScheduleCfg] = {}
    for rule, sched in schedules.items():
        names = sched["services"]
        size = min(capacity.services_per_invocation(
            float(services[s]["health"]["timeout_seconds"]),
            int(services[s]["health"]["probes_per_tick"])) for s in names)
        for i in range(0, len(names), size):
            name = naming.fit_rule_name(capacity.shard_name(rule, i // size))
            out[name] = ScheduleCfg(expression=sched["expression"],
                                    interval_seconds=sched["interval_seconds"],
                                    max_gap_seconds=sched["max_gap_seconds"],
                                    services=names[i:i + size])
    return out


def compile_topology(topo: Topology) -> CompiledTopology:
    """The runtime's view of the topology (JSON-ready, deterministic key order).

    This document is embedded in the orchestrator's zip; its shape is the contract described
    in docs/architecture.md ("Compiled topology").
    """
    services: dict[str, ServiceCfg] = {}
    schedules: dict[str, ScheduleCfg] = {}
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
        signals: list[SignalCfg] = []
        for i, sig in enumerate(svc.signals):
            kind = signal_kind_of(sig)
            signals.append(kind.compile(sig, kind.rule_name(topo.name, name, i)))
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
            "recovery": _recovery_json(svc.recovery),
        }
    schedules = _split_schedules(schedules, services)
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


def compiled_document(topo: Topology, region: str | None = None) -> dict[str, Any]:
    """`compile_topology()` as the JSON document deploy ships, stores and diffs, with the
    region filled in when given (the runtime needs to know where its resources are). Typed as
    a plain document: the contract was checked when the compiler built it."""
    compiled = compile_topology(topo)
    if region is not None:
        compiled["region"] = region
    return cast("dict[str, Any]", compiled)
