"""Break-glass: switch a router directly when the state table cannot be reached (its control
region is out), and bring the log and the state up to date once it answers again.

Rules: no click, no rich. Only when the table does not answer — a table that answers means the
normal, exactly-once path must be used. The act is written to a local journal BEFORE the
router is touched, so nothing is lost if this process dies; the router is applied and read
back; a journal entry is removed only after it has been reconciled: an audit entry
(`break-glass`, deterministic id, written once) and, if the state still says otherwise, a
transition through the orchestrator's own switch code (reason `break-glass`). Any on-call
command that reaches the table reconciles (`reconcile`).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import AwsError, UsageError
from lambdafail.oncall.common import clients_for, header_resolver, store_for, utcnow
from lambdafail.oncall.model import SwitchOutcome

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext

#: How long the check that the table is out may take (one attempt, no retries).
TABLE_CHECK_TIMEOUT_SECONDS = 5.0


def journal_path() -> Path:
    """One journal per machine and user: `$XDG_CACHE_HOME/lambdafail/break-glass.json`."""
    base = os.environ.get("LAMBDAFAIL_BREAK_GLASS_JOURNAL")
    if base:
        return Path(base)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lambdafail" / "break-glass.json"


def _load() -> list[dict[str, Any]]:
    p = journal_path()
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read the break-glass journal {p}: {e}",
                         hint="fix or move the file; it lists router switches made without "
                              "the state table") from None
    return list(data) if isinstance(data, list) else []


def _save(entries: list[dict[str, Any]]) -> None:
    p = journal_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1))
    tmp.replace(p)


def pending(topology: str) -> list[dict[str, Any]]:
    """The topology's break-glass switches not yet reconciled into its log."""
    return [e for e in _load() if e.get("topology") == topology]


def _table_answers(ctx: AwsContext, compiled: dict[str, Any]) -> bool:
    """One bounded attempt at the table: False only when it cannot be reached at all."""
    ddb = ctx.single_shot_client("dynamodb", TABLE_CHECK_TIMEOUT_SECONDS)
    try:
        ddb.describe_table(TableName=str(compiled["table"]))
    except Exception as e:
        from lambdafail.aws import translate_exception

        err = translate_exception(e)
        return not (isinstance(err, AwsError) and err.code == "Connection")
    return True


def _caller(ctx: AwsContext, region: str | None) -> str:
    # STS is regional too: ask it where the router lives; never fail the switch for it.
    try:
        return str(ctx.client("sts", region).get_caller_identity()["Arn"])
    except Exception:
        return "unknown (STS unreachable)"


def failover(ctx: AwsContext, compiled: dict[str, Any], service: str, *, note: str,
             force: bool = False, confirm: Any = None) -> SwitchOutcome:
    """Point `service`'s router at its standby without the state table."""
    from lambdafail.oncall.switch import _read_back, _service_cfg, _target, router_hint
    from lambdafail.runtime.probes import probe_all
    from lambdafail.runtime.routers import make_router

    if not note.strip():
        raise UsageError("failover --break-glass needs a reason", hint="add --reason \"why\"")
    svc = _service_cfg(compiled, service)
    if _table_answers(ctx, compiled):
        raise UsageError(f"the state table {compiled['table']} answers: break-glass is only for "
                         "when it cannot be reached",
                         hint=f"use `lambdafail failover {service} --reason …` (exactly once, "
                              "recorded)")
    region = svc["router"].get("region")
    who = _caller(ctx, region)
    if not force:
        timeout = float(svc["health"]["timeout_seconds"])
        result = probe_all({"standby": (svc["standby"], timeout)},
                           resolver=header_resolver(ctx))["standby"]
        if not result.ok:
            return SwitchOutcome(
                action="failover", service=service, outcome="refused", from_=None,
                to="standby", active=None, phase=None, transition_id=None, actor=who,
                reason=note, forced=False, verified=False, read_back=None,
                message=f"refused: the standby is not healthy now ({result.detail})",
                next_step="fix it, or re-run with --force to switch anyway")
    if confirm is not None:
        confirm(f"BREAK-GLASS failover of {service} to the standby ({_target(svc['standby'])}) "
                f"in topology {compiled['topology']}, WITHOUT the state table (router: "
                f"{router_hint(svc['router'], 'standby')})?")
    now = utcnow()
    entry = {"id": uuid.uuid4().hex[:16], "topology": compiled["topology"], "service": service,
             "to": "standby", "actor": who, "reason": note, "at": now.isoformat(),
             "forced": force, "status": "applying"}
    entries = _load()
    entries.append(entry)
    _save(entries)  # before the router: a crash from here on is still on record
    router = make_router(svc["router"], clients_for(ctx), confirmed="standby")
    try:
        router.apply("standby")
    except Exception as e:
        entry["status"] = "router_failed"
        entry["error"] = str(e)
        _save(entries)
        return SwitchOutcome(
            action="failover", service=service, outcome="router_failed", from_=None,
            to="standby", active=None, phase=None, transition_id=entry["id"], actor=who,
            reason=note, forced=force, verified=False, read_back=None,
            message=f"break-glass: the router refused: {e}",
            next_step=f"set {router_hint(svc['router'], 'standby')} by hand")
    seen, err = _read_back(router)
    entry["status"] = "applied"
    entry["read_back"] = seen
    _save(entries)
    return SwitchOutcome(
        action="failover", service=service, outcome="switched", from_=None, to="standby",
        active="standby" if seen == "standby" else None, phase="break-glass",
        transition_id=entry["id"], actor=who, reason=note, forced=force,
        verified=seen == "standby", read_back=seen,
        message=f"break-glass: {service}'s router now points at the standby, without the state "
                f"table; recorded in {journal_path()} until the table answers"
                + ("" if seen == "standby" else f" (read-back: {seen or err or 'neither side'})"),
        next_step="once the control region answers, any `lambdafail status` writes it into "
                  "the log and the state")


def reconcile(ctx: AwsContext, compiled: dict[str, Any]) -> list[str]:
    """Write the topology's pending break-glass switches into its log and state; what was
    done, in words. A table that still does not answer leaves them pending (said)."""
    from lambdafail.oncall.switch import _notifier, _quiet_logger, _router
    from lambdafail.runtime.transitions import request_switch

    mine = pending(str(compiled["topology"]))
    if not mine:
        return []
    if not _table_answers(ctx, compiled):
        return [f"{len(mine)} break-glass switch(es) pending reconciliation ({journal_path()}): "
                "the state table does not answer yet"]
    store = store_for(ctx, compiled)
    said: list[str] = []
    done: set[str] = set()
    for e in mine:
        service = str(e["service"])
        svc = compiled["services"].get(service)
        detail = {k: e.get(k) for k in ("id", "to", "at", "read_back", "status", "forced")}
        from datetime import datetime

        at = datetime.fromisoformat(str(e["at"])).timestamp()
        store.record("break-glass", actor=str(e["actor"]), now=at,
                     service=service, reason=str(e["reason"]), detail=detail,
                     entry_id=str(e["id"]))
        st = store.get(service)
        if svc is not None and st is not None and st.phase == "steady" and st.active != e["to"] \
                and e.get("status") == "applied":
            res = request_switch(store, _router(ctx, svc, st), svc, service, str(e["to"]),
                                 reason="break-glass", actor=str(e["actor"]),
                                 evidence={"break_glass": detail, "note": e["reason"]},
                                 force=True, automatic=False, state=st,
                                 logger=_quiet_logger(),
                                 notify=_notifier(ctx, compiled, str(e["actor"])))
            if not res.ok:
                said.append(f"break-glass switch of {service} not reconciled yet: "
                            f"{res.message}")
                continue
            said.append(f"reconciled the break-glass switch of {service} (at {e['at']}): "
                        f"the log and the state now say {e['to']}")
        else:
            said.append(f"reconciled the break-glass switch of {service} (at {e['at']}) into "
                        "the log")
        done.add(str(e["id"]))
    _save([x for x in _load() if str(x.get("id")) not in done])
    return said
