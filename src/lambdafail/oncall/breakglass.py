"""Break-glass: switch a router directly when the state table cannot be reached (its control
region is out), and bring the log and the state up to date once it answers again.

Rules: no click, no rich. Only when the table does not answer — a table that answers means the
normal, exactly-once path must be used. The act is written to a local journal BEFORE the
router is touched, so nothing is lost if this process dies; the router is applied and read
back; a journal entry is removed only after it has been reconciled: an audit entry
(`break-glass`, deterministic id, written once) and, only if the router still points where
break-glass put it and the state says otherwise, a transition through the orchestrator's own
switch code (reason `break-glass`) — reconciling never moves traffic. `status` reconciles, from
the machine whose journal holds the entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
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


#: What every journal entry carries; an entry without them is skipped (and said).
_KEYS = ("id", "topology", "service", "to", "actor", "reason", "at", "status")


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One writer at a time (two terminals on one machine): an advisory lock beside the file."""
    p = journal_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
    if not isinstance(data, list):
        raise UsageError(f"the break-glass journal {p} is not a list of entries",
                         hint="fix or move the file")
    return [e for e in data if isinstance(e, dict)]


def _save(entries: list[dict[str, Any]]) -> None:
    p = journal_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1))
    tmp.replace(p)


def _update(entry: dict[str, Any]) -> None:
    """Write `entry` (by id) into the journal, under the lock."""
    with _locked():
        entries = [e for e in _load() if e.get("id") != entry["id"]]
        _save([*entries, entry])


def pending(topology: str) -> list[dict[str, Any]]:
    """The topology's break-glass entries (switches and failed attempts) not yet reconciled
    into its log."""
    return [e for e in _load() if e.get("topology") == topology]


def pending_note(topology: str) -> str:
    """What status says when the table is out and entries wait; "" when none (or unreadable)."""
    try:
        waiting = pending(topology)
    except UsageError as e:
        return f"the break-glass journal cannot be read: {e.message}"
    switched = [e for e in waiting if e.get("status") == "applied"]
    failed = len(waiting) - len(switched)
    if not waiting:
        return ""
    return (f"{len(switched)} break-glass switch(es)"
            + (f" and {failed} failed attempt(s)" if failed else "")
            + f" pending reconciliation in {journal_path()}")


def _table_answers(ctx: AwsContext, compiled: dict[str, Any]) -> bool:
    """One bounded attempt at the call a failover needs first (GetItem, which the on-call
    policy grants): False when the table cannot be reached or answers with a server error,
    throttling or a timeout — a regional impairment looks like those more often than like a
    dead socket."""
    ddb = ctx.single_shot_client("dynamodb", TABLE_CHECK_TIMEOUT_SECONDS)
    try:
        ddb.get_item(TableName=str(compiled["table"]),
                     Key={"pk": {"S": "orchestrator"}, "sk": {"S": "heartbeat"}})
    except Exception as e:
        from lambdafail.aws import translate_exception

        status = int((getattr(e, "response", None) or {}).get("ResponseMetadata", {})
                     .get("HTTPStatusCode") or 0)
        err = translate_exception(e)
        code = err.code if isinstance(err, AwsError) else ""
        return not (code in _UNREACHABLE or status >= 500)
    return True


_UNREACHABLE = ("Connection", "RequestTimeout", "ServiceUnavailable", "InternalServerError",
                "ThrottlingException", "ProvisionedThroughputExceededException",
                "RequestLimitExceeded", "ReadTimeoutError", "ConnectTimeoutError")


def _caller(ctx: AwsContext, region: str | None) -> str:
    # STS is regional too: ask it where the router lives; never fail the switch for it.
    try:
        return str(ctx.client("sts", region).get_caller_identity()["Arn"])
    except Exception:
        return "unknown (STS unreachable)"


def failover(ctx: AwsContext, compiled: dict[str, Any], service: str, *, note: str,
             force: bool = False, confirm: Any = None) -> SwitchOutcome:
    """Point `service`'s router at its standby without the state table."""
    from lambdafail.model.kinds import router_kind
    from lambdafail.oncall.switch import _read_back, _service_cfg, _target, router_hint
    from lambdafail.runtime.probes import probe_all
    from lambdafail.runtime.routers import make_router, owner_tags

    if not note.strip():
        raise UsageError("failover --break-glass needs a reason", hint="add --reason \"why\"")
    svc = _service_cfg(compiled, service)
    if _table_answers(ctx, compiled):
        raise UsageError(f"the state table {compiled['table']} answers: break-glass is only for "
                         "when it cannot be reached",
                         hint=f"use `lambdafail failover {service} --reason …` (exactly once, "
                              "recorded)")
    region = svc["router"].get("region")
    if region is None and router_kind(str(svc["router"]["kind"])).regional:
        raise UsageError(f"the router of {service} lives in {ctx.region}, the control region "
                         "that does not answer: break-glass cannot reach it either",
                         hint=f"set {router_hint(svc['router'], 'standby')} by hand once "
                              f"{ctx.region} answers, or place routers beside the standbys "
                              "(docs/placement.md)")
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
    _update(entry)  # before the router: a crash from here on is still on record
    router = make_router(svc["router"], clients_for(ctx), confirmed="standby",
                         tags=owner_tags(str(compiled["topology"]), service))
    try:
        router.apply("standby")
    except Exception as e:
        entry["status"] = "router_failed"
        entry["error"] = str(e)
        _update(entry)
        return SwitchOutcome(
            action="failover", service=service, outcome="router_failed", from_=None,
            to="standby", active=None, phase=None, transition_id=entry["id"], actor=who,
            reason=note, forced=force, verified=False, read_back=None,
            message=f"break-glass: the router refused: {e}",
            next_step=f"set {router_hint(svc['router'], 'standby')} by hand")
    seen, err = _read_back(router)
    entry["status"] = "applied"
    entry["read_back"] = seen
    _update(entry)
    return SwitchOutcome(
        action="failover", service=service, outcome="switched", from_=None, to="standby",
        active="standby" if seen == "standby" else None, phase="break-glass",
        transition_id=entry["id"], actor=who, reason=note, forced=force,
        verified=seen == "standby", read_back=seen,
        message=f"break-glass: {service}'s router now points at the standby, without the state "
                f"table; recorded in {journal_path()} until the table answers"
                + ("" if seen == "standby" else f" (read-back: {seen or err or 'neither side'})"),
        next_step="once the control region answers, `lambdafail status` on this machine "
                  "writes it into the log and the state")


def reconcile(ctx: AwsContext, compiled: dict[str, Any]) -> list[str]:
    """Write the topology's pending break-glass entries into its log and, where the router
    still points where break-glass put it, the state; what was done, in words. Never moves
    traffic: a router that points elsewhere now is said, and left to an explicit command. A
    table that still does not answer, or an unreadable journal, leaves everything as it is
    (said)."""
    from datetime import datetime

    from lambdafail.oncall.switch import _notifier, _quiet_logger, _read_back, _router
    from lambdafail.runtime.transitions import request_switch

    topology = str(compiled["topology"])
    try:
        mine = pending(topology)
    except UsageError as err:
        return [f"break-glass journal not read: {err.message} ({err.hint})"]
    if not mine:
        return []
    if not _table_answers(ctx, compiled):
        return [pending_note(topology) + ": the state table does not answer yet"]
    store = store_for(ctx, compiled)
    said: list[str] = []
    done: set[str] = set()
    for ent in mine:
        if any(k not in ent for k in _KEYS):
            said.append(f"break-glass journal entry {ent.get('id', '?')} lacks "
                        f"{', '.join(k for k in _KEYS if k not in ent)}: skipped (fix or remove "
                        f"it in {journal_path()})")
            continue
        service = str(ent["service"])
        svc = compiled["services"].get(service)
        detail = {k: ent.get(k) for k in ("id", "to", "at", "read_back", "status", "forced",
                                        "error")}
        at = datetime.fromisoformat(str(ent["at"])).timestamp()
        store.record("break-glass", actor=str(ent["actor"]), now=at, service=service,
                     reason=str(ent["reason"]), detail=detail, entry_id=str(ent["id"]))
        done.add(str(ent["id"]))
        if ent["status"] != "applied":
            said.append(f"logged the failed break-glass attempt on {service} (at {ent['at']}): "
                        f"{ent.get('error') or ent['status']}")
            continue
        st = store.get(service)
        if svc is None or st is None or st.phase != "steady" or st.active == ent["to"]:
            said.append(f"reconciled the break-glass switch of {service} (at {ent['at']}) into "
                        "the log")
            continue
        router = _router(ctx, svc, st, topology)
        seen, why = _read_back(router)
        if seen != ent["to"]:
            said.append(f"logged the break-glass switch of {service} (at {ent['at']}); the "
                        f"router now says {seen or why or 'neither side'} and the state "
                        f"{st.active}: nothing moved — run `lambdafail failover` or "
                        "`rollback` to settle it")
            continue
        # The router already points there: the switch below writes the same value again
        # (idempotent) and records the transition exactly once.
        res = request_switch(store, router, svc, service, str(ent["to"]), reason="break-glass",
                             actor=str(ent["actor"]),
                             evidence={"break_glass": detail, "note": ent["reason"]},
                             force=True, automatic=False, state=st, logger=_quiet_logger(),
                             notify=_notifier(ctx, compiled, str(ent["actor"])))
        if not res.ok:
            done.discard(str(ent["id"]))
            said.append(f"break-glass switch of {service} not reconciled yet: {res.message}")
            continue
        said.append(f"reconciled the break-glass switch of {service} (at {ent['at']}): the log "
                    f"and the state now say {ent['to']}")
    with _locked():
        _save([x for x in _load() if str(x.get("id")) not in done])
    return said
