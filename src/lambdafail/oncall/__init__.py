"""The on-call core: gather status, read the transition log, switch by hand, roll back.

Rules: no click, no rich (render.py draws, commands/*.py talk to the user); every AWS call goes
through an `AwsContext` so it is counted (status makes a constant number of calls whatever the
number of services); manual switches run the orchestrator's own transition code
(`lambdafail.runtime.transitions`) with the operator's credentials, so they work when the
orchestrator, EventBridge or Lambda is impaired; a refusal or a lost race is a result, not an
exception — the command decides the words and the exit code.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambdafail.aws import call
from lambdafail.base.errors import AwsError, UsageError
from lambdafail.deploy.planner import CONFIG_SHA_ENV
from lambdafail.model import naming

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext

# The heartbeat is stale when older than this many probe intervals (the dead-man's switch).
STALE_FACTOR = 2
SIDES = ("primary", "standby")


# --------------------------------------------------------------------------------------------
# small helpers


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    # Same shape as the runtime's (milliseconds): sorts as text against log sort keys.
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_iso(text: Any) -> datetime | None:
    """Parse the ISO-8601 UTC strings the state table holds; None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def age_seconds(text: Any, now: datetime) -> float | None:
    t = parse_iso(text)
    return None if t is None else round(max(0.0, (now - t).total_seconds()), 1)


def config_sha256(compiled: dict[str, Any]) -> str:
    """sha256 of the canonical compiled topology: what deploy embeds and records."""
    from lambdafail.deploy.package import canonical_json

    return hashlib.sha256(canonical_json(compiled)).hexdigest()


def other(side: str) -> str:
    return "standby" if side == "primary" else "primary"


def longest_silence(compiled: Mapping[str, Any]) -> int:
    """The longest a healthy orchestrator goes without a tick: any schedule's tick refreshes
    the heartbeat, so the smallest of the schedules' longest gaps (a topology compiled before
    gaps were recorded has its fixed interval only)."""
    gaps = [int(s.get("max_gap_seconds", s["interval_seconds"]))
            for s in compiled.get("schedules", {}).values()]
    return min(gaps) if gaps else 60


# The heartbeat holds whole seconds and is written during the tick, not at its start.
HEARTBEAT_SLACK_SECONDS = 2


def stale_after_seconds(compiled: Mapping[str, Any]) -> int:
    """The dead-man's switch: no tick for this long means the orchestrator is not running.

    Twice the longest silence between ticks (`longest_silence`: for a cron that fires at 08:00
    and 08:30 only, 23.5 h). In the sped-up sandbox the interval is scaled like its
    scheduler (never more than one tick a second) and the heartbeat's whole-second rounding
    matters, so a slack is added there. Shared by status and drill.
    """
    from lambdafail.base.settings import time_scale

    scale = time_scale()
    if scale <= 1.0:
        return STALE_FACTOR * longest_silence(compiled)
    spacing = max(longest_silence(compiled) / scale, 1.0)
    return math.ceil(STALE_FACTOR * spacing + HEARTBEAT_SLACK_SECONDS)


# --------------------------------------------------------------------------------------------
# deployment rollback: move the orchestrator's `live` alias to an earlier published version


@dataclass(frozen=True)
class VersionInfo:
    version: str
    code_sha256: str
    config_sha256: str | None
    description: str
    last_modified: str
    environment: dict[str, str]
    settings: dict[str, Any]  # runtime, handler, timeout, memory


@dataclass
class DeploymentRollbackPlan:
    function: str
    alias: str
    current: VersionInfo
    target: VersionInfo
    alias_revision: str
    differences: list[tuple[str, str, str]] = field(default_factory=list)  # what, now, after

    @property
    def noop(self) -> bool:
        return self.current.version == self.target.version


def _version_info(cfg: dict[str, Any]) -> VersionInfo:
    env = dict((cfg.get("Environment") or {}).get("Variables") or {})
    desc = str(cfg.get("Description") or "")
    sha = env.get(CONFIG_SHA_ENV) or _sha_from_description(desc)
    return VersionInfo(
        version=str(cfg.get("Version")),
        code_sha256=str(cfg.get("CodeSha256") or ""),
        config_sha256=sha,
        description=desc,
        last_modified=str(cfg.get("LastModified") or ""),
        environment=env,
        settings={k: cfg.get(k) for k in ("Runtime", "Handler", "Timeout", "MemorySize")},
    )


def _sha_from_description(desc: str) -> str | None:
    # Deploy may also write "... config sha256 <hex>" into the version description.
    for word in desc.replace("=", " ").replace(":", " ").split():
        if len(word) == 64 and all(c in "0123456789abcdef" for c in word):
            return word
    return None


def _diff_versions(a: VersionInfo, b: VersionInfo) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    if a.code_sha256 != b.code_sha256:
        out.append(("code sha256", a.code_sha256, b.code_sha256))
    if a.config_sha256 != b.config_sha256:
        out.append(("compiled topology sha256", a.config_sha256 or "?", b.config_sha256 or "?"))
    if a.description != b.description:
        out.append(("description", a.description, b.description))
    for k in sorted(set(a.settings) | set(b.settings)):
        if a.settings.get(k) != b.settings.get(k):
            out.append((k, str(a.settings.get(k)), str(b.settings.get(k))))
    for k in sorted(set(a.environment) | set(b.environment)):
        if k == CONFIG_SHA_ENV:
            continue
        if a.environment.get(k) != b.environment.get(k):
            out.append((f"env {k}", a.environment.get(k, "-"), b.environment.get(k, "-")))
    out.append(("published", a.last_modified, b.last_modified))
    return out


def plan_deployment_rollback(ctx: AwsContext, compiled: dict[str, Any],
                             to_version: str | None = None) -> DeploymentRollbackPlan:
    """Find the version `live` points at and the one to go back to (previous, or `to_version`)."""
    fn = str(compiled["function"])
    lam = ctx.client("lambda")
    alias = call(lam, "get_alias", resource=fn, FunctionName=fn, Name=naming.ALIAS)
    current_v = str(alias["FunctionVersion"])
    configs: dict[str, dict[str, Any]] = {}
    marker: str | None = None
    while True:  # paginated; a long-lived function has many versions
        kw: dict[str, Any] = {"FunctionName": fn, "MaxItems": 50}
        if marker:
            kw["Marker"] = marker
        page = call(lam, "list_versions_by_function", resource=fn, **kw)
        for v in page.get("Versions", []):
            if v.get("Version") != "$LATEST":
                configs[str(v["Version"])] = v
        marker = page.get("NextMarker")
        if not marker:
            break
    if current_v not in configs:
        raise AwsError(f"alias {naming.ALIAS} of {fn} points at version {current_v}, which "
                       f"is not listed", hint="re-run; if it persists, check the function in "
                       "the Lambda console")
    if to_version is None:
        earlier = sorted((int(v) for v in configs if v.isdigit() and int(v) < int(current_v)),
                         reverse=True)
        if not earlier:
            raise UsageError(f"{fn}: version {current_v} is the first published version; "
                             "there is nothing to roll back to",
                             hint="`lambdafail deploy` publishes a new version from the file")
        target_v = str(earlier[0])
    else:
        target_v = to_version.strip()
        if target_v not in configs:
            known = ", ".join(sorted(configs, key=lambda v: int(v) if v.isdigit() else 0))
            raise UsageError(f"{fn} has no published version {target_v!r}",
                             hint=f"published versions: {known}")
    current = _version_info(configs[current_v])
    target = _version_info(configs[target_v])
    differences = _diff_versions(current, target)
    if current.config_sha256 and target.config_sha256 and \
            current.config_sha256 != target.config_sha256:
        # The topology fields that move back with the code (deploy keeps each compiled
        # topology by hash in the state table).
        from lambdafail.deploy.inventory import config_items
        from lambdafail.deploy.planner import diff

        shas = {current.config_sha256, target.config_sha256}
        try:
            kept = config_items(ctx, str(compiled["table"]), shas)
        except AwsError:
            kept = {}  # the table may be gone; the hashes above still say what moves
        if shas <= set(kept):
            differences += [(f"config.{d.field}", json.dumps(d.before), json.dumps(d.after))
                            for d in diff(kept[current.config_sha256],
                                          kept[target.config_sha256])]
    return DeploymentRollbackPlan(function=fn, alias=naming.ALIAS, current=current,
                                  target=target, alias_revision=str(alias.get("RevisionId", "")),
                                  differences=differences)


def apply_deployment_rollback(ctx: AwsContext, plan: DeploymentRollbackPlan) -> str:
    """Move the alias (conditional on the revision we planned from); return the read-back."""
    lam = ctx.client("lambda")
    kw: dict[str, Any] = {"FunctionName": plan.function, "Name": plan.alias,
                          "FunctionVersion": plan.target.version}
    if plan.alias_revision:
        # RevisionId makes the move conditional: if someone deployed or rolled back since we
        # read the alias, Lambda refuses (PreconditionFailedException) instead of clobbering.
        kw["RevisionId"] = plan.alias_revision
    try:
        call(lam, "update_alias", resource=plan.function, **kw)
    except AwsError as e:
        if e.code == "PreconditionFailedException":
            raise UsageError(f"the alias {plan.alias} of {plan.function} changed while we were "
                             "looking (someone deployed or rolled back); nothing was changed",
                             hint="re-run `lambdafail rollback --deployment` to see the new "
                             "state") from e
        raise
    after = call(lam, "get_alias", resource=plan.function, FunctionName=plan.function,
                 Name=plan.alias)
    return str(after["FunctionVersion"])


# --------------------------------------------------------------------------------------------
# status: the data model (render.py turns it into a table or the JSON document)


@dataclass(frozen=True)
class LiveProbe:
    ok: bool
    detail: str
    latency_ms: float | None


@dataclass(frozen=True)
class SideStatus:
    ok: bool | None  # None: never probed
    at: str | None
    age_seconds: float | None
    detail: str
    failures: int
    successes: int
    latency_ms: float | None
    fault_until: str | None = None  # a drill forces this side unhealthy until then
    live: LiveProbe | None = None  # --probe: probed from the operator's machine just now


@dataclass(frozen=True)
class TransitionInfo:
    id: str
    at: str | None
    age_seconds: float | None
    from_: str
    to: str
    reason: str
    actor: str


@dataclass(frozen=True)
class DrillInfo:
    drill_id: str
    owner: str
    started_at: str | None
    age_seconds: float | None


@dataclass
class ServiceStatus:
    name: str
    deployed: bool  # a state item exists
    active: str | None
    since: str | None
    since_age_seconds: float | None
    phase: str | None
    pending: dict[str, Any] | None
    primary: SideStatus
    standby: SideStatus
    last_transition: TransitionInfo | None
    drill: DrillInfo | None
    rules: dict[str, str]  # rule name -> ENABLED | DISABLED | MISSING
    blocked: str | None
    problems: list[str] = field(default_factory=list)  # why it is not healthy, in words

    @property
    def healthy(self) -> bool:
        return not self.problems


@dataclass
class OrchestratorStatus:
    function: str
    deployed_version: str | None
    last_tick_at: str | None
    last_tick_age_seconds: float | None
    stale_after_seconds: int
    fresh: bool
    drift: bool | None  # None: cannot tell (nothing deployed)
    deployed_config_sha256: str | None
    file_config_sha256: str
    heartbeat_version: str | None
    problems: list[str] = field(default_factory=list)


@dataclass
class StatusReport:
    topology: str
    region: str
    generated_at: str
    orchestrator: OrchestratorStatus
    services: list[ServiceStatus]
    api_calls: int = 0

    @property
    def healthy(self) -> bool:
        return self.orchestrator.fresh and all(s.healthy for s in self.services)


# --------------------------------------------------------------------------------------------
# history and manual switches: results


@dataclass(frozen=True)
class LogEntry:
    committed_at: str
    service: str
    transition_id: str
    from_: str
    to: str
    reason: str
    actor: str
    started_at: str | None
    evidence: dict[str, Any]
    kind: str = "transition"  # runtime.state.LOG_KINDS
    drill_id: str = ""


@dataclass
class SwitchOutcome:
    """What a failover / rollback did, in words a person at 3 a.m. can act on."""

    action: str  # failover | rollback
    service: str
    outcome: str  # switched | noop | lost_race | refused | router_failed
    from_: str | None
    to: str | None
    active: str | None  # where the state table says traffic points now
    phase: str | None
    transition_id: str | None
    actor: str
    reason: str
    forced: bool
    verified: bool  # the router's read-back confirms traffic points at `active`
    read_back: str | None
    message: str
    next_step: str = ""


# --------------------------------------------------------------------------------------------
# adapters onto the runtime (the same code the orchestrator runs)


@contextmanager
def _runtime(ctx: AwsContext, compiled: Mapping[str, Any]) -> Iterator[None]:
    """Runtime code run here with the operator's clients: a failure leaves as the AwsError of
    the call that really failed, a missing state table as the one "not deployed" error."""
    from lambdafail.aws import runtime_errors

    table = str(compiled["table"])
    with runtime_errors(ctx, {"dynamodb": table},
                        special=lambda err: _not_deployed(ctx, compiled, err)):
        yield


def _not_deployed(ctx: AwsContext, compiled: Mapping[str, Any], err: AwsError) -> AwsError | None:
    """The one check for "this topology is not deployed here": its state table is missing."""
    table = str(compiled["table"])
    if err.code != "ResourceNotFoundException" or err.resource != table:
        return None
    return AwsError(f"state table {table} not found: topology {compiled['topology']!r} is not "
                    f"deployed in {ctx.region} ({err.operation} failed)",
                    hint="check -f, --region and --endpoint-url; `lambdafail deploy` creates it",
                    operation=err.operation, resource=table, code=err.code)


def store_for(ctx: AwsContext, compiled: dict[str, Any]) -> Any:
    """The orchestrator's StateStore over this topology's table, on the operator's client."""
    from lambdafail.runtime.state import StateStore

    return StateStore(str(compiled["table"]), ctx.client("dynamodb"))


def clients_for(ctx: AwsContext) -> Any:
    """A runtime `Clients` whose clients are the CLI's (counted, retried, same endpoint)."""
    from lambdafail.runtime.config import Clients

    class _CtxClients(Clients):
        def get(self, service: str) -> Any:
            return ctx.client(service)

        def get_single_shot(self, service: str) -> Any:
            from lambdafail.runtime.config import single_shot_config

            return ctx.session.client(service, endpoint_url=ctx.endpoint_url,
                                      config=single_shot_config())

    return _CtxClients(region=ctx.region, endpoint_url=ctx.endpoint_url)


def _drill_locks(store: Any) -> dict[str, dict[str, Any]]:
    # StateStore reads one drill lock per get_item; status needs them all in ONE query.
    items = store._query(KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": {"S": "drill"}})
    return {str(i["sk"]): i for i in items}


def compiled_for(topo: Any, region: str) -> dict[str, Any]:
    """The compiled topology as deploy builds it (region filled from the session if unset)."""
    from lambdafail.model.topology import compile_topology

    compiled = compile_topology(topo)
    compiled["region"] = region
    return compiled


# --------------------------------------------------------------------------------------------
# status: gather


def _side_status(h: Any, faults: dict[str, float], side: str, now: datetime,
                 ticked_at: str | None = None) -> SideStatus:
    deadline = faults.get(side)
    fault_until = None
    if deadline is not None and now.timestamp() < float(deadline):
        fault_until = iso(datetime.fromtimestamp(float(deadline), UTC))
    # The orchestrator rewrites a service item only when something changed, so the item's
    # probe time is that of the last change; the heartbeat says when its rule last ticked
    # (every service of a rule is probed before that write). The later of the two is true.
    at = h.at
    if h.ok is not None and ticked_at and (at is None or str(ticked_at) > str(at)):
        at = str(ticked_at)
    return SideStatus(ok=h.ok, at=at, age_seconds=age_seconds(at, now), detail=h.detail,
                      failures=h.failures, successes=h.successes,
                      latency_ms=h.latency_ms if h.ok is not None else None,
                      fault_until=fault_until)


def _list_rules(ctx: AwsContext, bus: str, prefix: str) -> dict[str, str] | None:
    """name -> state of our rules on `bus` (≤ 300 rules per bus: at most 3 pages). None: no bus."""
    events = ctx.client("events")
    out: dict[str, str] = {}
    token: str | None = None
    for _ in range(10):
        kw: dict[str, Any] = {"NamePrefix": prefix, "EventBusName": bus, "Limit": 100}
        if token:
            kw["NextToken"] = token
        try:
            page = call(events, "list_rules", resource=bus, **kw)
        except AwsError as e:
            if e.code == "ResourceNotFoundException":
                return None
            raise
        for r in page.get("Rules", []):
            out[str(r["Name"])] = str(r.get("State", "ENABLED"))
        token = page.get("NextToken")
        if not token:
            break
    return out


def _orchestrator_config(ctx: AwsContext, fn: str) -> dict[str, Any] | None:
    # One call: get_function_configuration on the alias returns the version it points at
    # (Version) and that version's environment, where deploy records the config sha256.
    try:
        cfg: dict[str, Any] = call(ctx.client("lambda"), "get_function_configuration",
                                   resource=f"{fn}:{naming.ALIAS}", FunctionName=fn,
                                   Qualifier=naming.ALIAS)
    except AwsError as e:
        if e.code == "ResourceNotFoundException":
            return None
        raise
    return cfg


def gather_status(ctx: AwsContext, compiled: dict[str, Any], *, probe: bool = False,
                  now: datetime | None = None) -> StatusReport:
    """Everything `status` shows, in a constant number of API calls (6; `--probe` adds the
    probes themselves). The independent reads run concurrently: status answers in about the
    time of its slowest call."""
    from concurrent.futures import ThreadPoolExecutor

    calls_before = len(ctx.calls)
    store = store_for(ctx, compiled)
    topo_name = str(compiled["topology"])
    prefix = naming.rule_prefix(topo_name)
    fn = str(compiled["function"])

    def guarded(f: Any) -> Any:
        with _runtime(ctx, compiled):
            return f()

    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="status") as pool:
        f_states = pool.submit(guarded, store.load_all)
        f_beat = pool.submit(guarded, store.heartbeat_item)
        f_drills = pool.submit(guarded, lambda: _drill_locks(store))
        f_default = pool.submit(_list_rules, ctx, "default", prefix)
        f_bus = pool.submit(_list_rules, ctx, str(compiled["bus"]), prefix)
        f_fn = pool.submit(_orchestrator_config, ctx, fn)
        f_probe = pool.submit(_probe_everything, ctx, compiled) if probe else None
        states = f_states.result()
        beat = f_beat.result()
        drills = f_drills.result()
        rules: dict[str, str] = {}
        for fut in (f_default, f_bus):
            got = fut.result()
            rules.update(got or {})
        fn_cfg = f_fn.result()
        live = f_probe.result() if f_probe is not None else {}

    now = now or utcnow()
    orch = _orchestrator_status(compiled, fn, beat, fn_cfg, now)
    services: list[ServiceStatus] = []
    for name in sorted(compiled["services"]):
        services.append(_service_status(name, compiled["services"][name], states.get(name),
                                        drills.get(name), rules, live, compiled, now,
                                        beat=beat))
    return StatusReport(topology=topo_name, region=str(compiled.get("region") or ctx.region),
                        generated_at=iso(now), orchestrator=orch, services=services,
                        api_calls=len(ctx.calls) - calls_before)


def _probe_everything(ctx: AwsContext, compiled: dict[str, Any]) -> dict[Any, Any]:
    from lambdafail.runtime.probes import probe_all

    targets: dict[Hashable, tuple[Mapping[str, Any], float]] = {
        (name, side): (svc[side], float(svc["health"]["timeout_seconds"]))
               for name, svc in compiled["services"].items() for side in SIDES}
    needs_lambda = any(cfg.get("kind") == "lambda" for cfg, _ in targets.values())
    longest = max(timeout for _, timeout in targets.values())
    return dict(probe_all(targets, lambda_client=_probe_lambda(ctx, longest) if needs_lambda
                          else None))


def _probe_lambda(ctx: AwsContext, timeout: float) -> Any:
    """A Lambda client for health probes from this machine: one attempt, a read timeout of
    the probe's own, so a hung standby cannot keep the CLI alive after it has answered."""
    from lambdafail.runtime.config import single_shot_config

    return ctx.session.client("lambda", endpoint_url=ctx.endpoint_url,
                              config=single_shot_config(max(1.0, timeout)))


def _orchestrator_status(compiled: dict[str, Any], fn: str, beat: dict[str, Any] | None,
                         fn_cfg: dict[str, Any] | None, now: datetime) -> OrchestratorStatus:
    stale_after = stale_after_seconds(compiled)
    file_sha = config_sha256(compiled)
    last_at = str(beat["last_tick_at"]) if beat and beat.get("last_tick_at") else None
    if beat and last_at is None and beat.get("last_tick_epoch") is not None:
        last_at = iso(datetime.fromtimestamp(float(beat["last_tick_epoch"]), UTC))
    tick_age = age_seconds(last_at, now)
    fresh = tick_age is not None and tick_age <= stale_after
    deployed_sha: str | None = None
    version: str | None = None
    problems: list[str] = []
    if fn_cfg is not None:
        version = str(fn_cfg.get("Version"))
        deployed_sha = _version_info(fn_cfg).config_sha256
    else:
        problems.append(f"function {fn} (alias {naming.ALIAS}) not found: the orchestrator is "
                        "not deployed")
    if deployed_sha is None and beat:
        deployed_sha = str(beat.get("config_sha256") or "") or None
    drift = None if deployed_sha is None else deployed_sha != file_sha
    if beat and fn_cfg is not None and beat.get("function_version") and str(
            beat["function_version"]) not in (version, "$LATEST", naming.ALIAS) and fresh:
        problems.append(f"the last tick ran version {beat['function_version']}, the alias "
                        f"points at {version} (a deploy or rollback is taking effect)")
    return OrchestratorStatus(function=fn, deployed_version=version, last_tick_at=last_at,
                              last_tick_age_seconds=tick_age, stale_after_seconds=stale_after,
                              fresh=fresh, drift=drift, deployed_config_sha256=deployed_sha,
                              file_config_sha256=file_sha,
                              heartbeat_version=str(beat.get("function_version") or "") or None
                              if beat else None, problems=problems)


def _service_rules(name: str, svc: dict[str, Any], compiled: dict[str, Any]) -> list[str]:
    names = [str(s["rule"]) for s in svc.get("signals", []) if s.get("rule")]
    for rule, sched in compiled.get("schedules", {}).items():
        if name in sched.get("services", []):
            names.insert(0, str(rule))
    return names


def _service_status(name: str, svc: dict[str, Any], st: Any, drill: dict[str, Any] | None,
                    rules: dict[str, str], live: dict[Any, Any], compiled: dict[str, Any],
                    now: datetime, beat: dict[str, Any] | None = None) -> ServiceStatus:
    my_rules = {r: rules.get(r, "MISSING") for r in _service_rules(name, svc, compiled)}
    drill_info = None
    if drill and float(drill.get("lock_expires_epoch") or 0) > now.timestamp():
        drill_info = DrillInfo(drill_id=str(drill.get("drill_id", "")),
                               owner=str(drill.get("owner", "")),
                               started_at=drill.get("started_at"),
                               age_seconds=age_seconds(drill.get("started_at"), now))
    problems: list[str] = []
    if st is None:
        empty = SideStatus(ok=None, at=None, age_seconds=None, detail="", failures=0,
                           successes=0, latency_ms=None)
        sides = {s: _with_live(empty, live.get((name, s))) for s in SIDES}
        problems.append("no state item: not deployed (run `lambdafail deploy`)")
        return ServiceStatus(name=name, deployed=False, active=None, since=None,
                             since_age_seconds=None, phase=None, pending=None,
                             primary=sides["primary"], standby=sides["standby"],
                             last_transition=None, drill=drill_info, rules=my_rules,
                             blocked=None, problems=problems)
    ticked_at = _rule_tick(name, compiled, beat)
    sides = {s: _with_live(_side_status(st.health[s], st.faults, s, now, ticked_at),
                           live.get((name, s)))
             for s in SIDES}
    lt = None
    if st.last_transition:
        t = st.last_transition
        lt = TransitionInfo(id=str(t.get("id", "")), at=t.get("at"),
                            age_seconds=age_seconds(t.get("at"), now),
                            from_=str(t.get("from", "")), to=str(t.get("to", "")),
                            reason=str(t.get("reason", "")), actor=str(t.get("actor", "")))
    if st.phase == "switching":
        p = st.pending or {}
        err = f" (last error: {p['last_error']})" if p.get("last_error") else ""
        problems.append(f"switch to {p.get('to', '?')} pending: the router has not confirmed"
                        f"{err}")
    elif st.active != "primary":
        problems.append(f"running on the {st.active}")
    prim = sides["primary"]
    if prim.ok is False:
        # Counters stop at their thresholds (the orchestrator does not rewrite a steady item).
        at_cap = prim.failures >= int(svc["health"]["failure_threshold"])
        problems.append(f"primary failing ({'≥' if at_cap else ''}{prim.failures} consecutive): "
                        f"{prim.detail}"[:200])
    if prim.live is not None and not prim.live.ok:
        problems.append(f"primary probe failed just now: {prim.live.detail}"[:200])
    for rule, state in sorted(my_rules.items()):
        if state != "ENABLED":
            problems.append(f"rule {rule} is {state}")
    return ServiceStatus(name=name, deployed=True, active=st.active, since=st.since,
                         since_age_seconds=age_seconds(st.since, now), phase=st.phase,
                         pending=st.pending, primary=sides["primary"],
                         standby=sides["standby"], last_transition=lt, drill=drill_info,
                         rules=my_rules, blocked=st.blocked, problems=problems)


def _rule_tick(name: str, compiled: dict[str, Any], beat: dict[str, Any] | None) -> str | None:
    """When the schedule rule that probes `name` last ticked (from the heartbeat), if known."""
    from lambdafail.runtime.state import tick_attribute

    if not beat:
        return None
    for rule, sched in compiled.get("schedules", {}).items():
        if name in sched.get("services", []):
            got = beat.get(tick_attribute(str(rule)))
            return str(got) if got else None
    return None


def _with_live(s: SideStatus, result: Any) -> SideStatus:
    if result is None:
        return s
    from dataclasses import replace

    return replace(s, live=LiveProbe(ok=bool(result.ok), detail=str(result.detail),
                                     latency_ms=round(float(result.latency_ms), 1)))


# --------------------------------------------------------------------------------------------
# history


def history(ctx: AwsContext, compiled: dict[str, Any], service: str | None = None,
            since: datetime | None = None, limit: int | None = 50,
            kind: str | None = "transition") -> list[LogEntry]:
    """The log, newest first (one paginated Query): entries of `kind`, None for every kind."""
    if service is not None and service not in compiled["services"]:
        known = ", ".join(sorted(compiled["services"]))
        raise UsageError(f"no service {service!r} in topology {compiled['topology']!r}",
                         hint=f"services: {known}")
    store = store_for(ctx, compiled)
    with _runtime(ctx, compiled):
        items = store.log(service=service, since=since.timestamp() if since else None, limit=limit,
                          kind=kind)
    return [LogEntry(committed_at=str(i.get("committed_at") or str(i["sk"]).split("#")[0]),
                     service=str(i.get("service", "")),
                     transition_id=str(i.get("transition_id", "")),
                     from_=str(i.get("from", "")), to=str(i.get("to", "")),
                     reason=str(i.get("reason", "")), actor=str(i.get("actor", "")),
                     started_at=i.get("started_at"), evidence=dict(i.get("evidence") or {}),
                     kind=str(i.get("kind", "transition")), drill_id=str(i.get("drill_id", "")))
            for i in items]


# --------------------------------------------------------------------------------------------
# failover / rollback: a manual switch through the orchestrator's own transition code


def router_hint(router_cfg: dict[str, Any], side: str) -> str:
    """Where to look by hand to see (or set) which side the router points at."""
    kind = router_cfg.get("kind")
    if kind == "ssm":
        value = router_cfg.get("values", {}).get(side, "?")
        return f"the SSM parameter {router_cfg['parameter']} (for {side} it holds {value!r})"
    if kind == "route53":
        value = router_cfg.get("values", {}).get(side, "?")
        return (f"the {router_cfg.get('type', 'CNAME')} record {router_cfg['record']} in hosted "
                f"zone {router_cfg['zone_id']} (for {side}: {value!r})")
    if kind == "rules":
        rules = router_cfg.get("rules", {})
        on = ", ".join(rules.get(side, [])) or "-"
        off = ", ".join(rules.get(other(side), [])) or "-"
        return (f"the EventBridge rules on bus {router_cfg.get('bus', 'default')} (for {side}: "
                f"ENABLED {on}; DISABLED {off})")
    return f"your hook function {router_cfg.get('function')} (it was asked to switch to {side})"


def _service_cfg(compiled: dict[str, Any], service: str) -> dict[str, Any]:
    services: dict[str, Any] = compiled["services"]
    if service not in services:
        known = ", ".join(sorted(services))
        raise UsageError(f"no service {service!r} in topology {compiled['topology']!r}",
                         hint=f"services: {known}")
    cfg: dict[str, Any] = services[service]
    return cfg


def _read_state(ctx: AwsContext, compiled: dict[str, Any], store: Any, service: str) -> Any:
    table = str(compiled["table"])
    with _runtime(ctx, compiled):
        st = store.get(service)
    if st is None:
        raise UsageError(f"{service} has no state item in {table}: it has not been deployed",
                         hint="run `lambdafail deploy` first (it seeds every service)")
    return st


# Asked once the switch is decided, before any write; raises to cancel.
Confirm = Callable[[str], None] | None


def failover(ctx: AwsContext, compiled: dict[str, Any], service: str, *, note: str,
             force: bool = False, actor: str | None = None,
             confirm: Confirm = None) -> SwitchOutcome:
    """Switch `service` to its standby by hand (reason `manual`)."""
    svc = _service_cfg(compiled, service)
    store = store_for(ctx, compiled)
    st = _read_state(ctx, compiled, store, service)
    if st.phase != "switching" and st.active == "standby":
        return _verify_noop(ctx, svc, service, "failover", st, actor or "", note,
                            "already on the standby; nothing to do (to return to the primary: "
                            "`lambdafail rollback`)")
    return _manual_switch(ctx, compiled, svc, store, st, service, "standby", action="failover",
                          reason="manual", note=note, force=force, actor=actor, confirm=confirm)


def rollback(ctx: AwsContext, compiled: dict[str, Any], service: str, *, note: str,
             force: bool = False, actor: str | None = None,
             confirm: Confirm = None) -> SwitchOutcome:
    """Fail `service` back to its primary by hand (reason `rollback`).

    On-call reads rollback as "back to the primary", so that is all it ever does: moving to
    the standby is only `failover`, whoever made the last transition. Already on the primary
    (and not mid-switch): it says so and the command exits 0. A switch stuck half-way towards
    the standby is cancelled; one stuck towards the primary is finished.
    """
    svc = _service_cfg(compiled, service)
    store = store_for(ctx, compiled)
    st = _read_state(ctx, compiled, store, service)
    if st.phase != "switching" and st.active == "primary":
        return _verify_noop(ctx, svc, service, "rollback", st, actor or "", note,
                            f"{service} is already on the primary; nothing to do (to move it "
                            "to the standby: `lambdafail failover`)")
    return _manual_switch(ctx, compiled, svc, store, st, service, "primary", action="rollback",
                          reason="rollback", note=note, force=force, actor=actor,
                          confirm=confirm)


def _notifier(ctx: AwsContext, compiled: Mapping[str, Any], caller_arn: str) -> Any:
    """The orchestrator's notifier, from here: a manual switch is published like any other."""
    from lambdafail.runtime.transitions import Notifier

    parts = caller_arn.split(":")
    return Notifier(compiled.get("sns_topic_arn"), lambda: ctx.client("sns"), _quiet_logger(),
                    events_client=lambda: ctx.client("events"),
                    context={"topology": str(compiled["topology"]), "region": ctx.region,
                             "account": parts[4] if len(parts) > 4 else ""})


def _quiet_logger() -> Any:
    # The runtime logs JSON lines to stdout (CloudWatch in Lambda); on the CLI stdout belongs
    # to the table or the JSON document, so its lines go to stderr only with --debug.
    import sys

    from lambdafail.base import settings
    from lambdafail.runtime.log import Logger

    if settings.current().debug:  # --debug or LAMBDAFAIL_DEBUG=1
        return Logger(sink=lambda line: print(line, file=sys.stderr))
    return Logger(sink=lambda line: None)


def _router(ctx: AwsContext, svc: dict[str, Any], st: Any) -> Any:
    from lambdafail.runtime.routers import make_router

    return make_router(svc["router"], clients_for(ctx), confirmed=st.active)


def _read_back(router: Any) -> tuple[str | None, str]:
    try:
        return router.read_back(), ""
    except Exception as e:
        return None, str(e)


def _verify_noop(ctx: AwsContext, svc: dict[str, Any], service: str, action: str, st: Any,
                 actor: str, note: str, message: str) -> SwitchOutcome:
    seen, err = _read_back(_router(ctx, svc, st))
    verified = seen == st.active
    out = SwitchOutcome(action=action, service=service, outcome="noop", from_=st.active,
                        to=st.active, active=st.active, phase=st.phase, transition_id=None,
                        actor=actor, reason=note, forced=False, verified=verified,
                        read_back=seen, message=message)
    if not verified:
        out.message += (f"; but the router's read-back says {seen or 'neither side'}"
                        + (f" ({err})" if err else "")
                        + f": check {router_hint(svc['router'], st.active)}")
    return out


def _manual_switch(ctx: AwsContext, compiled: dict[str, Any], svc: dict[str, Any], store: Any,
                   st: Any, service: str, to_side: str, *, action: str, reason: str,
                   note: str, force: bool, actor: str | None,
                   confirm: Confirm) -> SwitchOutcome:
    from lambdafail.runtime.probes import probe_all
    from lambdafail.runtime.transitions import forced_failure, record_probe, request_switch

    if not note.strip():
        raise UsageError(f"{action} needs a reason", hint="add --reason \"why you are doing "
                         "this\" (it is recorded in the transition log)")
    who = actor or ctx.caller_arn()
    now = utcnow().timestamp()
    evidence: dict[str, Any] = {"note": note, "operator": who, "via": "lambdafail CLI"}
    if not force and st.active != to_side:
        # "Healthy now": a drill's fault flag wins; otherwise probe the target from here.
        result = forced_failure(st, to_side, now)
        if result is None:
            timeout = float(svc["health"]["timeout_seconds"])
            lam = (_probe_lambda(ctx, timeout) if svc[to_side].get("kind") == "lambda"
                   else None)
            # probe_all bounds the probe in wall time, even a Lambda invoke that hangs.
            result = probe_all({to_side: (svc[to_side], timeout)}, lambda_client=lam)[to_side]
        evidence["probe"] = result.to_dict()
        record_probe(st, to_side, result, now)
        if not result.ok:
            return SwitchOutcome(
                action=action, service=service, outcome="refused", from_=st.active, to=to_side,
                active=st.active, phase=st.phase, transition_id=None, actor=who, reason=note,
                forced=False, verified=False, read_back=None,
                message=f"refused: the {to_side} is not healthy now ({result.detail}); "
                        f"{service} stays on {st.active}",
                next_step="fix the target, or re-run with --force to switch anyway (recorded)")
    if confirm is not None:
        confirm(f"{action}: switch {service} from {st.active} to {to_side}"
                + (" WITHOUT checking its health (--force)" if force else "") + "?")
    router = _router(ctx, svc, st)
    with _runtime(ctx, compiled):
        res = request_switch(store, router, svc, service, to_side, reason=reason, actor=who,
                             evidence=evidence, force=force, automatic=False,
                             state=st, logger=_quiet_logger(),
                             notify=_notifier(ctx, compiled, who))
        final = res.state if res.state is not None else store.get(service)
    active = final.active if final else None
    phase = final.phase if final else None
    tid = None
    if res.transition:
        tid = str(res.transition.get("transition_id") or res.transition.get("id") or "") or None
    out = SwitchOutcome(action=action, service=service, outcome=res.status, from_=st.active,
                        to=to_side, active=active, phase=phase, transition_id=tid, actor=who,
                        reason=note, forced=force, verified=False, read_back=None,
                        message=res.message)
    if res.status in ("switched", "noop"):
        seen, err = _read_back(router)
        out.read_back = seen
        out.verified = seen == to_side
        if res.status == "noop":
            out.message = (f"nothing to do: {service} is already on {to_side} (another operator "
                           "or the orchestrator got there first)")
        if not out.verified:
            out.message += (f"; but the router's read-back now says {seen or 'neither side'}"
                            + (f" ({err})" if err else ""))
            out.next_step = f"check {router_hint(svc['router'], to_side)}"
    elif res.status == "router_failed":
        seen, _ = _read_back(router)
        out.read_back = seen
        was = st.active
        out.message = (f"router failed midway: state is `switching` to {to_side}; traffic may "
                       f"still point at {was} (read-back: {seen or 'unknown'}). {res.message}")
        out.next_step = f"check {router_hint(svc['router'], to_side)}"
    elif res.status == "lost_race":
        out.message = f"lost a race: {res.message}"
        out.next_step = "run `lambdafail status` to see who won and where traffic points"
    elif res.status == "refused":
        out.next_step = "re-run with --force to switch anyway (recorded)"
    return out
