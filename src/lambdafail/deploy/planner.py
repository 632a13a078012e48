"""Desired vs actual → an ordered plan of changes. Pure: no I/O, no clock, no AWS.

Rules: `desired()` turns the compiled topology into the resources a topology owns, each with
the fields we compare (`spec`) and its tags; `plan()` compares them with what the inventory
observed and returns every change (create / update / delete / no-op) with field-level diffs,
in the order the executor must apply them: deletions first, in reverse dependency order, then
creations and updates in dependency order. A resource with our name that does not carry our
topology tag is never touched: it becomes a conflict.
"""

from __future__ import annotations

import json
from typing import Any

from lambdafail.deploy import cost, iam, kinds, watch
from lambdafail.deploy.bus_policy import bus_policy
from lambdafail.deploy.resources import Actual as Actual
from lambdafail.deploy.resources import Change as Change
from lambdafail.deploy.resources import Conflict as Conflict
from lambdafail.deploy.resources import FieldDiff as FieldDiff
from lambdafail.deploy.resources import Plan as Plan
from lambdafail.deploy.resources import Resource as Resource
from lambdafail.model import naming
from lambdafail.model.kinds import router_kind
from lambdafail.model.kinds.signals import signal_kind
from lambdafail.model.kinds.steps import step_kind
from lambdafail.runtime.table import TTL_ATTRIBUTE, key_schema_text, table_definition

# Dependency order. Creation walks it forwards, deletion backwards. What router kinds bring
# (deploy/kinds/: a dns_failover router's alarm, health check and records) goes where each of
# its kinds says.
KINDS = kinds.ordered(("queue", "bus", "table", "role", "policy", "loggroup", "function",
                       "alias", "permission", "rule", "alarm", "dashboard", "item",
                       "parameter"))
TAGGED = frozenset({"queue", "bus", "table", "role", "policy", "loggroup", "function", "rule",
                    "alarm", "parameter"} | {k.name for k in kinds.resource_kinds() if k.tagged})
# Kept by `destroy` unless --delete-state: the state, and what applications resolve through.
STATE_KINDS = frozenset({"table", "parameter"}
                        | {k.name for k in kinds.resource_kinds() if k.state})
# Ours although untagged: the log group Lambda made for our function before deploy created it
# itself, and what a router kind's AWS API tags only after creating it.
ADOPTED_UNTAGGED = frozenset({"loggroup"}
                             | {k.name for k in kinds.resource_kinds() if k.adopt_untagged})
# Created at the side the state says (their desired context gets `seed`).
SEEDED = frozenset(k.name for k in kinds.resource_kinds() if k.seeded)
CREATE_ONLY = frozenset({"item", "parameter"})  # seeded once, never overwritten
# Lambda's resource-based policy is capped at 20 KB; keep a margin for what others add.
POLICY_BUDGET = 18_000
# arm64: 20 % cheaper per GB-s than x86_64; the package is pure Python. Memory: cost.memory_for.
ARCHITECTURE = "arm64"
RUNTIME = "python3.12"
HANDLER = "lambdafail.runtime.handler.handle"


def table_home(compiled: dict[str, Any], region: str | None) -> tuple[str | None, list[str]]:
    """Where the state table is created, and its replica regions ([] for a single-region
    table). A deploy in a replica region leaves the table to the home region's deploy."""
    regions = list(compiled.get("control_regions") or [])
    if not regions:
        return region, []
    return regions[0], sorted(regions[1:])


def function_timeout(compiled: dict[str, Any]) -> int:
    """Enough for one tick, and for the longest recovery plan to run in one invocation (see
    docs/commands.md, "deploy"; a plan that outlives it is resumed by the next tick)."""
    # A step that waits for people (approval) checks once a round and holds no invocation.
    plans = [sum(float(st["timeout_seconds"]) * (1 + int(st["retries"])) for st in steps
                 if step_kind(str(st["kind"])).holds_invocation)
             for svc in compiled["services"].values() for steps in svc["recovery"].values()]
    longest_plan = max(plans, default=0.0)
    # A router that waits for its read-back (dns_failover: the alarm's move) waits inside a tick.
    wait = max((router_kind(str(svc["router"]["kind"])).switch_wait_seconds
                for svc in compiled["services"].values()), default=0.0)
    return max(min(900, _tick_timeout(compiled) + int(wait)), int(min(900, longest_plan + 10)))


def _tick_timeout(compiled: dict[str, Any]) -> int:
    from lambdafail.model.capacity import probe_waves

    healths = [s["health"] for s in compiled["services"].values()]
    max_timeout = max(float(h["timeout_seconds"]) for h in healths)
    if any(h["probes_per_tick"] > 1 for h in healths):
        # Rounds are spread over the interval's first 50 s, then the last may take a timeout.
        return int(min(900, max(30, 50 + max_timeout + 10)))
    # One round: its probes fill the pool `waves` times, each wave up to a timeout (the split
    # of large schedules bounds the waves, model/capacity.py); then one more for a retry.
    waves = max((probe_waves(len(s["services"])) for s in compiled["schedules"].values()),
                default=1)
    return int(min(900, max(30, (waves + 1) * max_timeout + 10)))


def fingerprint(function_spec: dict[str, Any]) -> str:
    """Identifies a function's code + configuration; stored in each published version's
    description so an alias (and a reusable version) can be matched without a diff."""
    import hashlib

    raw = json.dumps(function_spec, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


VERSION_PREFIX = "lambdafail fingerprint "


CONFIG_ITEM_PREFIX = "config#"
# The function's environment names the compiled topology it runs (status uses it for drift).
CONFIG_SHA_ENV = "LAMBDAFAIL_CONFIG_SHA256"


def config_item_name(config_sha256: str) -> str:
    return f"{CONFIG_ITEM_PREFIX}{config_sha256}"


# EventBridge invokes the function asynchronously: its RetryPolicy and DLQ cover delivery to
# Lambda only. An error inside the function is retried by Lambda (twice, within the event's
# age) and then, without a destination, dropped silently: failed events go to the DLQ.
ASYNC_RETRIES = 2
ASYNC_MAX_AGE_SECONDS = 3600


def async_invoke(dlq_arn: str) -> dict[str, Any]:
    """The alias's asynchronous invocation config, in the shape the inventory reads back."""
    return {"MaximumRetryAttempts": ASYNC_RETRIES,
            "MaximumEventAgeInSeconds": ASYNC_MAX_AGE_SECONDS, "OnFailure": dlq_arn}


def _signal_retry() -> dict[str, int]:
    return {"MaximumRetryAttempts": 24, "MaximumEventAgeInSeconds": 3600}


def desired(compiled: dict[str, Any], *, where: iam.Where, code_sha256: str,
            config_sha256: str) -> list[Resource]:
    """Every resource the compiled topology needs, in dependency order."""
    topo = compiled["topology"]
    tags = naming.tags(topo)
    fn = compiled["function"]
    bus = compiled["bus"]
    table = compiled["table"]
    mine = naming.own_region(compiled, where.region)
    role = naming.role_name(topo, mine)
    dlq = naming.dlq_name(topo)
    dlq_arn = where.arn("sqs", dlq)
    alias_arn = where.arn("lambda", f"function:{fn}:{naming.ALIAS}")
    out: list[Resource] = []

    # The DLQ's policy lets EventBridge deliver failed events from this topology's rules only.
    rule_pattern = [where.arn("events", f"rule/{naming.rule_prefix(topo)}*"),
                    where.arn("events", f"rule/{bus}/{naming.rule_prefix(topo)}*")]
    queue_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "EventBridgeDeadLetters", "Effect": "Allow",
                       "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": dlq_arn,
                       "Condition": {"ArnLike": {"aws:SourceArn": rule_pattern}}}],
    }
    out.append(Resource("queue", dlq, {"MessageRetentionPeriod": "1209600",
                                       "Policy": queue_policy}, dict(tags),
                        context={"arn": dlq_arn}))
    # Who may put the events that fail services over (deploy/bus_policy.py).
    out.append(Resource("bus", bus, {"policy": bus_policy(compiled, where)}, dict(tags)))
    definition = table_definition(table)
    home, replicas = table_home(compiled, where.region)
    if home == where.region:
        # Several control regions: one global table, created here with a replica in each of
        # the others (multi-Region strong consistency: no TTL there, so no ttl_attribute).
        out.append(Resource("table", table, {
            "billing_mode": definition["BillingMode"],
            "key_schema": key_schema_text(definition),
            "point_in_time_recovery": True,
            "ttl_attribute": None if replicas else TTL_ATTRIBUTE,
            **({"replicas": replicas, "consistency": "STRONG"} if replicas else {}),
        }, dict(tags)))
    role_arn = where.arn("iam", f"role/{role}", regional=False)
    inline, managed = iam.package(iam.orchestrator_policy(compiled, where))
    out.append(Resource("role", role, {
        "assume_role_policy": iam.trust_policy(),
        "inline_policy": inline,
    }, {**tags, naming.TAG_CONTROL_REGION: where.region}, context={"arn": role_arn}))
    # Past the inline quota: managed policies under lambdafail's path, attached to the role.
    for i, doc in enumerate(managed, 1):
        name = naming.managed_policy_name(topo, i, mine)
        path = naming.policy_path(topo, mine)
        arn = where.arn("iam", f"policy{path}{name}", regional=False)
        out.append(Resource("policy", name, {"document": doc, "attached": True}, dict(tags),
                            context={"arn": arn, "role": role, "path": path}))
    fn_spec = {
        "runtime": RUNTIME, "handler": HANDLER, "timeout": function_timeout(compiled),
        "memory_size": cost.memory_for(compiled), "architecture": ARCHITECTURE,
        "role": role_arn,
        "environment": {CONFIG_SHA_ENV: config_sha256},
        "code_sha256": code_sha256,
    }
    if compiled.get("vpc"):
        # Only when set: a function outside any VPC keeps the fingerprint it always had.
        fn_spec["vpc"] = dict(compiled["vpc"])
    # Created by deploy, not by Lambda's first log line: tagged, with a retention, destroyed.
    log_group = f"/aws/lambda/{fn}"
    out.append(Resource("loggroup", log_group,
                        {"retention_days": int(compiled.get("log_retention_days") or 30)},
                        dict(tags), context={"arn": iam.log_group_arn(where, fn)}))
    # "state" is compared, not fingerprinted: a function Lambda left Pending or Failed is not
    # deployed, whatever its configuration says.
    out.append(Resource("function", fn, {**fn_spec, "state": "ready"}, dict(tags)))
    out.append(Resource("alias", naming.ALIAS, {"fingerprint": fingerprint(fn_spec),
                                               "async_invoke": async_invoke(dlq_arn)},
                        context={"arn": alias_arn}))

    rules: list[Resource] = []
    for rule, sched in sorted(compiled["schedules"].items()):
        # A tick is superseded by the next one, which may come only after the longest gap;
        # AWS takes 60-86,400 s.
        longest = int(sched.get("max_gap_seconds", sched["interval_seconds"]))
        retry = {"MaximumRetryAttempts": 2,
                 "MaximumEventAgeInSeconds": max(60, min(longest, 86400))}
        rules.append(_rule(where, rule, "default", {"schedule_expression": sched["expression"]},
                           _tick_description(topo, sched["services"]),
                           alias_arn, dlq_arn, retry, {"lambdafail": "tick", "rule": rule},
                           tags, None))
    for svc_name, svc in sorted(compiled["services"].items()):
        for sig in svc["signals"]:
            r = signal_kind(sig["kind"]).rule(sig, topology=topo, service=svc_name, bus=bus)
            rules.append(_rule(where, sig["rule"], r.bus, {"event_pattern": r.pattern},
                               r.description, alias_arn, dlq_arn, _signal_retry(), None, tags,
                               svc_name))
    out.extend(_permissions(where, topo, bus, rules, alias_arn))
    out.extend(rules)
    # Watching the watcher: alarms on the orchestrator and its dashboard (deploy/watch.py).
    out.extend(watch.desired(compiled, lambda n: where.arn("cloudwatch", f"alarm:{n}")))
    # What router kinds need made ahead of time (deploy/kinds/).
    out.extend(kinds.desired(compiled, where))

    for svc_name, svc in sorted(compiled["services"].items()):
        out.append(Resource("item", svc_name, {"active": "primary"}, service=svc_name,
                            context={"note": recovery_note(svc)}))
    # The compiled topology of this version, kept (by hash) in the state table: what later
    # plans and deployment rollbacks diff against.
    out.append(Resource("item", config_item_name(config_sha256), {"compiled": compiled}))
    for svc_name, svc in sorted(compiled["services"].items()):
        seeded = router_kind(svc["router"]["kind"]).seeded_parameters(svc["router"])
        # A router placed in another region (docs/placement.md) has its parameter there.
        placed = {"region": svc["router"]["region"]} if svc["router"].get("region") else {}
        for param, value in seeded.items():
            out.append(Resource("parameter", param, {"value": value, **placed},
                                naming.tags(topo, svc_name), service=svc_name,
                                context={"router": svc["router"]}))
    return out


def recovery_note(svc: dict[str, Any]) -> str:
    """The service's recovery plans in one line each, for `plan` ("" without steps)."""
    lines = []
    for plan_name, when in (("failover", "before the switch"), ("failback", "after failback")):
        steps = svc["recovery"][plan_name]
        if steps:
            lines.append(f"{plan_name} steps ({when}): " + "; ".join(
                f"{i}. {step_kind(st['kind']).line(st)} (timeout {st['timeout_seconds']:g} s, "
                f"{st['retries']} retr{'y' if st['retries'] == 1 else 'ies'})"
                for i, st in enumerate(steps, 1)))
    return "\n".join(lines)


def _permissions(where: iam.Where, topo: str, bus: str, rules: list[Resource],
                 alias_arn: str) -> list[Resource]:
    """The Lambda permissions that let the rules invoke the alias.

    One per rule (SourceArn = that rule) while they fit the function's resource policy (20 KB).
    Past that, one per bus with a wildcard SourceArn (the condition is ArnLike): our name
    prefix on the default bus, and the topology's own bus, whose rules are all ours.
    """
    perms = [Resource("permission", naming.permission_id(r.name), {
        "principal": "events.amazonaws.com", "action": "lambda:InvokeFunction",
        "source_arn": r.context["arn"]}, service=r.service) for r in rules]
    size = sum(len(json.dumps(_statement(p.name, alias_arn, p.spec["source_arn"])))
               for p in perms)
    if size <= POLICY_BUDGET:
        return perms
    wide = {"default": iam.rule_arn(where, "default", f"{naming.rule_prefix(topo)}*"),
            bus: iam.rule_arn(where, bus, "*")}
    return [Resource("permission", naming.permission_id(f"{naming.base(topo)}-{name}-bus"), {
        "principal": "events.amazonaws.com", "action": "lambda:InvokeFunction",
        "source_arn": arn}) for name, arn in (("default", wide["default"]),
                                             ("events", wide[bus]))
            if any(r.spec["bus"] == (bus if name == "events" else "default") for r in rules)]


def _tick_description(topo: str, services: list[str]) -> str:
    """PutRule's Description is capped at 512 characters: name services while they fit."""
    text = f"lambdafail {topo}: probe tick for {', '.join(services)}"
    return text if len(text) <= 512 else f"lambdafail {topo}: probe tick for {len(services)} services"


def _statement(sid: str, alias_arn: str, source_arn: str) -> dict[str, Any]:
    """The statement Lambda stores for one rule's permission (used to size the policy)."""
    return {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": alias_arn,
            "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}}}


def _rule(where: iam.Where, name: str, bus: str, body: dict[str, Any], description: str, alias_arn: str,
          dlq_arn: str, retry: dict[str, int], static_input: dict[str, Any] | None,
          topo_tags: dict[str, str], service: str | None) -> Resource:
    target: dict[str, Any] = {"Id": naming.TARGET_ID, "Arn": alias_arn, "RetryPolicy": retry,
                              "DeadLetterConfig": {"Arn": dlq_arn}}
    if static_input is not None:
        target["Input"] = static_input
    spec = {"bus": bus, **body, "state": "ENABLED", "description": description,
            "target": target}
    tags = dict(topo_tags)
    if service:
        tags[naming.TAG_SERVICE] = service
    return Resource("rule", name, spec, tags, service=service,
                    context={"arn": iam.rule_arn(where, bus, name)})


# ---------------------------------------------------------------- comparison


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k in sorted(value):
            _flatten(value[k], f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = value


_MISSING = None


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[FieldDiff]:
    """Field-level differences, dotted paths, sorted."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(before, "", a)
    _flatten(after, "", b)
    return [FieldDiff(k, a.get(k, _MISSING), b.get(k, _MISSING))
            for k in sorted(set(a) | set(b)) if a.get(k, _MISSING) != b.get(k, _MISSING)]


def _config_diffs(deployed: dict[str, Any] | None, want: list[Resource]) -> list[FieldDiff]:
    """The compiled-topology fields a function update changes (display only: the update is
    already decided by the code/config hashes)."""
    new = next((r.spec["compiled"] for r in want
                if r.kind == "item" and r.name.startswith(CONFIG_ITEM_PREFIX)), None)
    if deployed is None or new is None:
        return []
    return [FieldDiff(f"config.{d.field}", d.before, d.after) for d in diff(deployed, new)]


def _tag_diffs(desired_tags: dict[str, str], actual_tags: dict[str, str]) -> list[FieldDiff]:
    # Only our keys matter; tags others add are left alone.
    return [FieldDiff(f"tags.{k}", actual_tags.get(k), v) for k, v in sorted(desired_tags.items())
            if actual_tags.get(k) != v]


def _state_side(service: str | None, actual: Actual) -> tuple[str, str]:
    """(active side, phase) of the service's state item; a new service: the primary."""
    item = actual.resources.get(("item", service or ""))
    if item is None:
        return "primary", "steady"
    return (str(item.spec.get("active") or "primary"),
            str(item.context.get("phase") or "steady"))


def seed_at_state_side(w: Resource, actual: Actual) -> Resource:
    """A router parameter is seeded where the state says traffic is: a service re-added or
    re-routed while on the standby starts on the standby, not at the primary."""
    side, _ = _state_side(w.service, actual)
    router = w.context.get("router")
    if side == "primary" or not router:
        return w
    value = router_kind(router["kind"]).seeded_parameters(router, side)[w.name]
    return Resource(w.kind, w.name, {**w.spec, "value": value}, w.tags, service=w.service,
                    context={**w.context, "note": f"seeded at the {side}: the state says "
                                                  f"{w.service} is on the {side}"})


def parameter_change(w: Resource, a: Resource, actual: Actual) -> Change | None:
    """An existing router parameter: None when it is a conflict (another topology's, or not
    lambdafail's and not adopted); else its tags (adoption) and, when the file changed the
    value of the side the state says and the parameter still holds the old one, that value.
    A value set by someone else is never overwritten."""
    topo = actual.topology
    router = w.context.get("router") or {}
    old_cfg = ((actual.deployed_config or {}).get("services", {}).get(w.service or "") or {})
    old_router = old_cfg.get("router") or {}
    # Untagged although the live function routes it: a router recreated it and stopped
    # before tagging it (PutParameter, then AddTagsToResource): ours, tagged again.
    retag = a.owner is None and old_router.get("parameter") == w.name
    adopting = a.owner is None and router and router_kind(router["kind"]).adopts(router)
    if a.owner != topo and not (adopting or retag):
        return None
    diffs = _tag_diffs(w.tags, a.tags)
    side, phase = _state_side(w.service, actual)
    want = router_kind(router["kind"]).seeded_parameters(router, side).get(w.name) \
        if router else None
    have = a.spec.get("value")
    old = (old_router.get("values") or {}).get(side) \
        if old_router.get("parameter") == w.name else None
    note = "adopted (adopt: true): tagged as this topology's; its value is kept" \
        if adopting else ""
    if retag and not adopting:
        note = "routed by the deployed topology but untagged (recreated by a switch): tagged"
    if (want is not None and have != want and not adopting and phase == "steady"
            and have == old):
        diffs.insert(0, FieldDiff("value", have, want))
        note = f"the file changed the {side}'s value (the state says {side})"
    elif want is not None and have != want and not adopting and have != old:
        note = "; ".join(x for x in (note, f"holds {have!r}, not the {side}'s value: left "
                                          "as is (status: misrouted)") if x)
    spec = {**w.spec, "value": want if any(d.field == "value" for d in diffs) else have}
    return Change("update" if diffs else "no-op", w.kind, w.name, w.service, diffs=diffs,
                  desired=Resource(w.kind, w.name, spec, w.tags, service=w.service,
                                   context=w.context), actual=a, note=note)


def _order(kind: str) -> int:
    return KINDS.index(kind)


def plan(want: list[Resource], actual: Actual, *, mode: str = "deploy",
         delete_state: bool = False) -> Plan:
    """Compare; return the ordered plan. mode "destroy" wants nothing (state kept unless
    `delete_state`)."""
    topo = actual.topology
    if mode == "destroy":
        want = []
    wanted = {r.key: r for r in want}
    conflicts: list[Conflict] = []
    foreign_function = False

    # Resources carrying our tag are ours; sub-resources (alias, permission) and items have no
    # tags and belong to us when their parent does (the inventory only reports ours).
    def ours(r: Resource) -> bool:
        # Adopted, tagged by the update (ADOPTED_UNTAGGED).
        adopted = r.kind in ADOPTED_UNTAGGED and r.owner is None
        return r.kind not in TAGGED or r.owner == topo or adopted

    updates: list[Change] = []
    for key, w in wanted.items():
        a = actual.resources.get(key)
        if a is None:
            if w.kind in ("alias", "permission") and foreign_function:
                continue
            if w.kind == "parameter":
                w = seed_at_state_side(w, actual)
            if w.kind in SEEDED:
                side, _ = _state_side(w.service, actual)
                w = Resource(w.kind, w.name, w.spec, w.tags, service=w.service,
                             context={**w.context, "seed": side})
            updates.append(Change("create", w.kind, w.name, w.service, desired=w,
                                  note=str(w.context.get("note") or "")))
            continue
        if w.kind == "parameter":
            change = parameter_change(w, a, actual)
            if change is None:
                conflicts.append(Conflict(a.kind, a.name, a.owner))
            else:
                updates.append(change)
            continue
        if not ours(a):
            conflicts.append(Conflict(a.kind, a.name, a.owner))
            if a.kind == "function":
                foreign_function = True
            continue
        if w.kind in CREATE_ONLY:
            updates.append(Change("no-op", w.kind, w.name, w.service, desired=w, actual=a,
                                  note=str(w.context.get("note") or "")))
            continue
        diffs = diff(a.spec, w.spec) + _tag_diffs(w.tags, a.tags)
        if w.kind == "function" and diffs:
            diffs += _config_diffs(actual.deployed_config, want)
        updates.append(Change("update" if diffs else "no-op", w.kind, w.name, w.service,
                              diffs=diffs, desired=w, actual=a))
    if foreign_function:
        updates = [c for c in updates if c.kind not in ("alias", "permission")]

    deletes: list[Change] = []
    for key, a in actual.resources.items():
        if key in wanted or not ours(a) or a.kind == "item":
            continue
        if a.kind in STATE_KINDS and mode == "destroy" and not delete_state:
            continue
        deletes.append(Change("delete", a.kind, a.name, a.service, actual=a))

    # What applications read (the router parameters) goes last: a destroy that stops midway
    # leaves them their endpoint while anything else is left.
    deletes.sort(key=lambda c: (c.kind == "parameter", -_order(c.kind), c.name))
    updates.sort(key=lambda c: (_order(c.kind), c.name))
    role = next((a for a in actual.resources.values() if a.kind == "role" and a.owner == topo),
                None)
    deployed_in = role.tags.get(naming.TAG_CONTROL_REGION) if role is not None else None
    return Plan(topology=topo, region=actual.region, account=actual.account,
                changes=deletes + updates, conflicts=conflicts, mode=mode, actual=actual,
                control_moved_from=deployed_in if deployed_in not in (None, actual.region)
                else None)
