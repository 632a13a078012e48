"""The topology: the YAML file's model, its loading with locations, and its compilation.

Rules: the pydantic models are the single definition of the format (`lambdafail schema` prints
them); `load()` turns any input, however hostile, into a `Topology` or a `TopologyError` listing
every problem with file:line:col, YAML path and hint; `compile_topology()` produces the JSON the
orchestrator runs (the contract with `lambdafail.runtime`, documented in docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from lambdafail.model import capacity, naming, regions
from lambdafail.model.common import ARN_RE, Invalid, Strict
from lambdafail.model.kinds import ROUTERS, RouterSpec, router_kind_of
from lambdafail.model.kinds.signals import SIGNALS, SignalSpec, signal_kind_of
from lambdafail.model.kinds.steps import STEPS, StepSpec, compile_step
from lambdafail.model.kinds.targets import TARGETS, TargetSpec, target_kind_of, target_value
from lambdafail.model.placement import OrchestratorPlacement, compiled_vpc
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


#: A region name botocore knows (checked with a hint naming the closest ones).
RegionName = Annotated[str, AfterValidator(regions.checked)]


class Control(Strict):
    """Where lambdafail's own resources live (the orchestrator, its state table, bus, rules):
    best in a region none of the primaries is in, so the watcher outlives their region."""

    regions: list[RegionName] = Field(
        min_length=1, max_length=3, description="The control region, or three: an "
        "orchestrator in each, sharing a DynamoDB global table with multi-Region strong "
        "consistency (three regions of one MRSC region set). The first is where deploy "
        "creates the table and where the CLI reads first.")

    @field_validator("regions")
    @classmethod
    def _region_set(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise Invalid(f"a control region is listed twice: {v}", hint="list each once")
        if len(v) == 2:
            raise Invalid("two control regions cannot share strongly consistent state: DynamoDB's "
                          "multi-Region strong consistency needs three regions",
                          hint="list one control region, or three of one region set "
                          "(docs/placement.md)")
        if len(v) == 3 and regions.mrsc_set_of(v) is None:
            sets = "; ".join(f"{k}: {', '.join(sorted(m))}"
                             for k, m in regions.MRSC_REGION_SETS.items())
            raise Invalid(f"{', '.join(v)} are not in one region set of DynamoDB's multi-Region "
                          "strong consistency", hint=f"pick three of one set — {sets}")
        return v


class Topology(Strict):
    """A lambdafail topology file (version 1)."""

    version: Literal[1] = 1
    name: str = Field(pattern=NAME_RE, description="Prefix of every physical name: "
                      "lambdafail-<name>-...; lowercase letters, digits, dashes, ≤ 32.")
    region: str | None = Field(default=None, description="AWS region (or --region / AWS_REGION).")
    control: Control | None = Field(default=None, description="Where the orchestrator and "
                                    "its state live (default: `region`).")
    notify: Notify = Notify()
    log_retention_days: int = Field(default=30, description="How long the orchestrator's log "
                                    "group keeps its logs (one of CloudWatch Logs' values).")
    history_retention_days: int = Field(
        default=365, ge=1, le=3650, description="How long transition-log and audit entries, "
        "and superseded deployed configurations, stay in the state table before DynamoDB's TTL "
        "deletes them (the current state is never expired).")
    orchestrator: OrchestratorPlacement = Field(
        default_factory=OrchestratorPlacement, description="Where the orchestrator function "
        "runs (a VPC's subnets and security groups).")
    defaults: Defaults = Defaults()
    services: dict[Annotated[str, Field(pattern=SERVICE_RE)], Service] = Field(min_length=1)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise Invalid(f"{v} is not a retention CloudWatch Logs offers",
                          hint="one of " + ", ".join(map(str, LOG_RETENTION_DAYS)))
        return v

    _region = field_validator("region")(staticmethod(regions.checked))

    @property
    def control_region(self) -> str | None:
        """Where the orchestrator and its state live: the (first) control region, else
        `region`. With several, the state table is created here and the CLI reads here
        first."""
        return self.control.regions[0] if self.control is not None else self.region

    @property
    def control_regions(self) -> list[str]:
        """Every region an orchestrator runs in (one, or three sharing a global table)."""
        if self.control is not None:
            return list(self.control.regions)
        return [self.region] if self.region else []

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
        from lambdafail.model.checks import _dotted, semantic_problems

        problems = semantic_problems(self)
        if problems:
            raise ValueError("; ".join(f"{_dotted(p.path)}: {p.message}" for p in problems))
        return self


def _recovery_json(rec: Recovery) -> RecoveryCfg:
    return {"failover": [compile_step(item.spec) for item in rec.failover],
            "failback": [compile_step(item.spec) for item in rec.failback]}


def placed(topo: Topology, region: str | None) -> str | None:
    """Where a target or router lives, when that is not the control region (None: there).
    With several control regions every orchestrator acts from its own: always explicit."""
    where = region or (topo.region if topo.control is not None else None)
    if len(topo.control_regions) > 1:
        return where
    return where if where is not None and where != topo.control_region else None


def _target_json(topo: Topology, t: Target) -> TargetCfg:
    cfg = target_kind_of(t).compile(t)
    if (where := placed(topo, t.region)) is not None:
        cfg["region"] = where
    return cfg


def _router_json(topo: Topology, name: str, svc: Service) -> dict[str, Any]:
    targets = {"primary": target_value(svc.primary), "standby": target_value(svc.standby)}
    kind = router_kind_of(svc.router)
    cfg = kind.with_names(kind.compile(svc.router, targets), topo.name, name)
    if kind.acts_in_control:
        return cfg  # the orchestrator's own region, whatever `region:` the topology has
    if kind.regional and (where := placed(topo, svc.router.region)):
        cfg["region"] = where  # the runtime's clients and IAM's ARNs for it use this region
    return cfg


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
            "primary": _target_json(topo, svc.primary),
            "standby": _target_json(topo, svc.standby),
            "health": {"interval": h.interval, "interval_seconds": secs,
                       "timeout_seconds": h.timeout_seconds,
                       "failure_threshold": h.failure_threshold,
                       "recovery_threshold": h.recovery_threshold,
                       "probes_per_tick": h.probes_per_tick, "metrics": h.metrics},
            "policy": {"cooldown_seconds": p.cooldown_seconds, "failback": p.failback,
                       "rto_seconds": p.rto_seconds},
            "signals": signals,
            "router": _router_json(topo, name, svc),
            "recovery": _recovery_json(svc.recovery),
        }
    schedules = _split_schedules(schedules, services)
    out: CompiledTopology = {
        "format": 1,
        "topology": topo.name,
        "region": topo.control_region,
        "table": naming.table_name(topo.name),
        "bus": naming.bus_name(topo.name),
        "function": naming.function_name(topo.name),
        "sns_topic_arn": topo.notify.sns_topic_arn,
        "log_retention_days": topo.log_retention_days,
        "history_retention_days": topo.history_retention_days,
        "vpc": compiled_vpc(topo.orchestrator),
        "schedules": schedules,
        "services": services,
    }
    if len(topo.control_regions) > 1:
        # Only with several: a single-region topology's document (and its hash) is unchanged.
        out["control_regions"] = topo.control_regions
    return out


def compiled_document(topo: Topology, region: str | None = None) -> dict[str, Any]:
    """`compile_topology()` as the JSON document deploy ships, stores and diffs, with the
    region filled in when given (the runtime needs to know where its resources are). Typed as
    a plain document: the contract was checked when the compiler built it."""
    compiled = compile_topology(topo)
    if region is not None:
        compiled["region"] = region
    return cast("dict[str, Any]", compiled)
