"""The compiled topology's contract: what `compile_topology()` writes and the orchestrator reads.

Rule: the one definition of the document's shape (docs/architecture.md, "Compiled topology"),
as TypedDicts both sides share: the compiler is type-checked against it, and the runtime reads
every field it names without restating a default (model defaults live in the pydantic models
only). stdlib only. A router's fields are its kind's (`model/kinds/<kind>.py` compile).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class UrlTargetCfg(TypedDict):
    kind: Literal["url"]
    url: str
    expect_status: int
    body_contains: str | None
    region: NotRequired[str]  # where it lives, when not the control region
    # Only when the target has headers (an unchanged topology compiles to the same bytes):
    # name → {"value"} | {"secret": ARN, "prefix"} | {"ssm": name, "prefix"} — references,
    # never a secret's value (runtime/secrets.py resolves them at probe time).
    headers: NotRequired[dict[str, dict[str, str]]]


class LambdaTargetCfg(TypedDict):
    kind: Literal["lambda"]
    function: str
    region: NotRequired[str]


TargetCfg = UrlTargetCfg | LambdaTargetCfg


class HealthCfg(TypedDict):
    interval: str
    interval_seconds: int
    timeout_seconds: float
    failure_threshold: int
    recovery_threshold: int
    probes_per_tick: int
    metrics: str


class PolicyCfg(TypedDict):
    cooldown_seconds: int
    failback: str
    rto_seconds: int


class AlarmSignalCfg(TypedDict):
    kind: Literal["alarm"]
    alarm_name: str
    mode: str
    rule: str


class EventSignalCfg(TypedDict):
    kind: Literal["event"]
    pattern: dict[str, Any]
    mode: str
    rule: str
    senders: list[str]  # principals the bus policy lets put these events (deploy/bus_policy)


SignalCfg = AlarmSignalCfg | EventSignalCfg


class RecoveryCfg(TypedDict):
    # Each step: {"kind", <the kind's fields>, "timeout_seconds", "retries"} — a step's fields
    # are its kind's (`model/kinds/steps/<kind>.py` compile).
    failover: list[dict[str, Any]]
    failback: list[dict[str, Any]]


class ServiceCfg(TypedDict):
    primary: TargetCfg
    standby: TargetCfg
    health: HealthCfg
    policy: PolicyCfg
    signals: list[SignalCfg]
    router: dict[str, Any]
    recovery: RecoveryCfg


class ScheduleCfg(TypedDict):
    expression: str
    interval_seconds: int
    max_gap_seconds: int
    services: list[str]


class CompiledTopology(TypedDict):
    control_regions: NotRequired[list[str]]  # several orchestrators; the table is global
    format: int
    topology: str
    region: str | None
    table: str
    bus: str
    function: str
    sns_topic_arn: str | None
    log_retention_days: int
    history_retention_days: int
    vpc: dict[str, list[str]] | None  # {"subnet_ids", "security_group_ids"}: deploy only
    schedules: dict[str, ScheduleCfg]
    services: dict[str, ServiceCfg]
