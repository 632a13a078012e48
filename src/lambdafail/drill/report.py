"""Drill reports: report.json, report.md, junit.xml and (drill/timeline.py) timeline.svg from one
report document.

Rule: pure writers over the documented report.json document (docs/drill.md, "report.json"),
stdlib only (json, xml.etree; the recovery plan's rows from the pure `drill.plan`). Every writer renders from the same dict, so a saved report.json
can be re-rendered later and the four files never disagree. No AWS, no click, no rich.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lambdafail.drill import plan
from lambdafail.drill.report_text import MILESTONES as MILESTONES
from lambdafail.drill.report_text import (
    context_line,
    dash_if_none,
    offset,
    seconds,
    split_line,
    total_time,
)
from lambdafail.drill.timeline import to_svg

SCHEMA = "lambdafail.drill.report/1"
PHASES = ("precheck", "inject", "observe", "verify", "restore", "grade")
PHASE_STATUSES = ("passed", "failed", "skipped", "interrupted")
RESULTS = ("pass", "fail", "restore-incomplete")

FILES = ("report.json", "report.md", "junit.xml", "timeline.svg")


def write_all(report: Mapping[str, Any], directory: str | os.PathLike[str]) -> dict[str, str]:
    """Write the four files into `directory` (created if missing); return name → path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    for name, text in (("report.json", to_json(report)), ("report.md", to_markdown(report)),
                       ("junit.xml", to_junit(report)), ("timeline.svg", to_svg(report))):
        p = d / name
        tmp = d / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)  # never a half-written report next to a finished one
        out[name] = str(p)
    return out


# --------------------------------------------------------------------------------------- JSON


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"


def validate(doc: Any) -> list[str]:
    """Check `doc` against the documented report.json schema; return the problems found.

    Hand-written rather than jsonschema (no new dependency); docs/drill.md is the prose form.
    """
    problems: list[str] = []

    def need(obj: Any, key: str, types: type | tuple[type, ...], where: str,
             nullable: bool = False) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            problems.append(f"{where}.{key}: missing")
            return None
        v = obj[key]
        if v is None and nullable:
            return None
        # bool is an int in Python: never accept it where a number is meant.
        if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            problems.append(f"{where}.{key}: expected {types}, got bool")
            return None
        if not isinstance(v, types):
            problems.append(f"{where}.{key}: expected {types}, got {type(v).__name__}")
            return None
        return v

    num = (int, float)
    if not isinstance(doc, dict):
        return ["report: not an object"]
    if need(doc, "schema", str, "report") not in (SCHEMA, None):
        problems.append(f"report.schema: expected {SCHEMA!r}")
    for key in ("drill_id", "topology", "service", "scenario", "started_at"):
        need(doc, key, str, "report")
    need(doc, "ended_at", str, "report", nullable=True)
    need(doc, "dry_run", bool, "report")
    need(doc, "journal", str, "report", nullable=True)
    need(doc, "rto_seconds", num, "report")
    phases = need(doc, "phases", list, "report")
    for i, ph in enumerate(phases or []):
        w = f"report.phases[{i}]"
        name = need(ph, "name", str, w)
        if name is not None and name not in PHASES:
            problems.append(f"{w}.name: unknown phase {name!r}")
        status = need(ph, "status", str, w)
        if status is not None and status not in PHASE_STATUSES:
            problems.append(f"{w}.status: unknown status {status!r}")
        need(ph, "started_at", str, w, nullable=True)
        need(ph, "ended_at", str, w, nullable=True)
        need(ph, "start_s", num, w, nullable=True)
        need(ph, "end_s", num, w, nullable=True)
        need(ph, "detail", str, w)
        checks = need(ph, "checks", list, w)
        for j, c in enumerate(checks or []):
            need(c, "name", str, f"{w}.checks[{j}]")
            need(c, "ok", bool, f"{w}.checks[{j}]")
            need(c, "detail", str, f"{w}.checks[{j}]")
    ms = need(doc, "milestones", dict, "report")
    if ms is not None:
        for key in MILESTONES:
            m = need(ms, key, dict, "report.milestones", nullable=True)
            if m is not None:
                need(m, "at", str, f"report.milestones.{key}")
                need(m, "offset_s", num, f"report.milestones.{key}")
        for key in ms:
            if key not in MILESTONES:
                problems.append(f"report.milestones.{key}: unknown milestone")
    t = need(doc, "timings", dict, "report")
    if t is not None:
        for key in ("time_to_detect_s", "time_to_switch_s", "total_s"):
            need(t, key, num, "report.timings", nullable=True)
    r = need(doc, "restore", dict, "report")
    if r is not None:
        need(r, "requested", bool, "report.restore")
        need(r, "ok", bool, "report.restore", nullable=True)
        need(r, "path", str, "report.restore", nullable=True)
        for key in ("left", "instructions"):
            items = need(r, key, list, "report.restore")
            for k, s in enumerate(items or []):
                if not isinstance(s, str):
                    problems.append(f"report.restore.{key}[{k}]: expected a string")
    g = need(doc, "grade", dict, "report")
    if g is not None:
        res = need(g, "result", str, "report.grade")
        if res is not None and res not in RESULTS:
            problems.append(f"report.grade.result: unknown result {res!r}")
        need(g, "passed", bool, "report.grade")
        need(g, "rto_met", bool, "report.grade", nullable=True)
        need(g, "exit_code", int, "report.grade")
        reasons = need(g, "reasons", list, "report.grade")
        for k, s in enumerate(reasons or []):
            if not isinstance(s, str):
                problems.append(f"report.grade.reasons[{k}]: expected a string")
    other = need(doc, "other_services", dict, "report")
    if other is not None:
        need(other, "checked", list, "report.other_services")
        need(other, "changed", list, "report.other_services")
    return problems


# ----------------------------------------------------------------------------------- Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Mapping[str, Any]) -> str:
    g = report.get("grade", {})
    t = report.get("timings", {})
    r = report.get("restore", {})
    result = str(g.get("result", "fail")).upper()
    lines = [
        f"# Drill report: {report.get('service')} ({report.get('topology')}) — {result}",
        "",
        f"- Drill id: `{dash_if_none(report.get('drill_id'))}`",
        f"- Scenario: `{dash_if_none(report.get('scenario'))}`"
        + (" (dry run)" if report.get("dry_run") else ""),
        f"- When and where: {context_line(report)}",
        f"- Started: {dash_if_none(report.get('started_at'))}",
        f"- Ended: {report.get('ended_at') or '— (did not finish)'}",
        f"- Operator: {report.get('operator') or '—'}",
        f"- Exit code: {dash_if_none(g.get('exit_code'))}",
        f"- Measured: {split_line(report)}",
        "",
        "## Grade",
        "",
        "| measure | value |",
        "|---|---|",
        f"| time to detect (injected → first failure seen) | {seconds(t.get('time_to_detect_s'))} |",
        f"| time to switch (first failure seen → router verified) | "
        f"{seconds(t.get('time_to_switch_s'))} |",
        *([f"| of which: decide (first failure seen → plan started) | "
           f"{seconds(t.get('decide_s'))} |",
           f"| of which: the failover steps (first start → last end) | {seconds(t['steps_s'])} |",
           f"| of which: switch after the steps (→ router verified) | "
           f"{seconds(t.get('switch_after_steps_s'))} |"] if t.get("steps_s") is not None else []),
        f"| total (injected → router verified) | {seconds(t.get('total_s'))} |",
        f"| RTO | {float(report.get('rto_seconds') or 0):g} s |",
        f"| RTO met | {seconds(None if g.get('rto_met') is None else ('yes' if g['rto_met'] else 'no'))}"
        " |",
        f"| result | **{result}** |",
        "",
    ]
    reasons = g.get("reasons") or []
    if reasons:
        lines += ["Why:", ""] + [f"- {x}" for x in reasons] + [""]
    lines += ["## Phases", "", "| phase | status | start | end | detail |", "|---|---|---|---|---|"]
    for ph in report.get("phases", []):
        lines.append(f"| {ph['name']} | {ph['status']} | {offset(ph.get('start_s'))} | "
                     f"{offset(ph.get('end_s'))} | {_md_escape(ph.get('detail') or '')} |")
    lines.append("")
    checks = [(ph["name"], c) for ph in report.get("phases", []) for c in ph.get("checks", [])]
    if checks:
        lines += ["## Checks", "", "| phase | check | ok | detail |", "|---|---|---|---|"]
        for name, c in checks:
            lines.append(f"| {name} | {_md_escape(c['name'])} | {'yes' if c['ok'] else 'NO'} | "
                         f"{_md_escape(c.get('detail') or '')} |")
        lines.append("")
    plans = report.get("recovery") or {}
    lines += plan.markdown(plans)
    lines += ["## Timeline", "", "| offset | milestone | at |", "|---|---|---|"]
    ms = report.get("milestones", {})
    rows = [(float(ms[k]["offset_s"]), k.replace("_", " "), str(ms[k]["at"]))
            for k in ms if ms[k]] + [(o, label, "") for o, label in plan.timeline_rows(plans)]
    for off, label, at in sorted(rows, key=lambda r: r[0]):
        lines.append(f"| {offset(off)} | {label} | {at or '—'} |")
    lines += ["", "## Restore", ""]
    if not r.get("requested", True):
        lines.append("**Restore was skipped on purpose (--no-restore): the service was LEFT "
                     "FAILED OVER to its standby.**")
        if r.get("instructions"):
            lines += [""] + [f"- `{x}`" for x in r["instructions"]]
    elif r.get("ok"):
        lines.append((f"Restored through `{r['path']}`" if r.get("path") else "Restored")
                     + ": fault cleared, primary active again, drill lock released.")
    elif r.get("ok") is None:
        lines.append("Nothing to restore: nothing was changed.")
    else:
        lines.append("**Restore is INCOMPLETE.** Left over:")
        lines += [""] + [f"- {x}" for x in r.get("left", [])]
        if r.get("instructions"):
            lines += ["", "To finish by hand:", ""]
            lines += [f"{i}. {x}" for i, x in enumerate(r["instructions"], 1)]
    other = report.get("other_services") or {}
    if other.get("checked"):
        lines += ["", "## Other services", "",
                  f"Checked untouched: {', '.join(other['checked'])}"
                  + (f"; CHANGED: {', '.join(other['changed'])}" if other.get("changed")
                     else " (none changed).")]
    if report.get("journal"):
        lines += ["", f"Journal: `{report['journal']}`"]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------- JUnit


def to_junit(report: Mapping[str, Any]) -> str:
    """One testsuite (the drill), one testcase per phase plus one for the grade."""
    g = report.get("grade", {})
    phases: Sequence[Mapping[str, Any]] = report.get("phases", [])
    name = f"drill.{report.get('topology')}.{report.get('service')}"
    cases: list[ET.Element] = []
    failures = 0
    skipped = 0
    for ph in phases:
        if ph["name"] == "grade":
            continue
        tc = ET.Element("testcase", {"classname": name, "name": ph["name"],
                                     "time": _dur(ph)})
        if ph["status"] in ("failed", "interrupted"):
            failures += 1
            f = ET.SubElement(tc, "failure", {"message": ph.get("detail") or ph["status"],
                                              "type": ph["status"]})
            f.text = "\n".join(f"{c['name']}: {'ok' if c['ok'] else 'FAILED'} {c['detail']}"
                               for c in ph.get("checks", []))
        elif ph["status"] == "skipped":
            skipped += 1
            ET.SubElement(tc, "skipped", {"message": ph.get("detail") or "skipped"})
        cases.append(tc)
    for plan_name, p in sorted((report.get("recovery") or {}).items()):
        for s in p.get("steps", []):
            tc = ET.Element("testcase", {"classname": f"{name}.{plan_name}",
                                         "name": f"step {s['step']} {s['kind']}",
                                         "time": f"{float(s.get('duration_s') or 0):.3f}"})
            if s["status"] == "failed":
                failures += 1
                ET.SubElement(tc, "failure", {"message": s.get("error") or "failed",
                                              "type": "step"})
            cases.append(tc)
    t = report.get("timings", {})
    total = t.get("total_s")
    tc = ET.Element("testcase", {"classname": name, "name": "rto",
                                 "time": f"{float(total or 0):.3f}"})
    if not g.get("passed"):
        failures += 1
        f = ET.SubElement(tc, "failure", {"message": f"drill {g.get('result') or 'fail'}",
                                          "type": str(g.get("result") or "fail")})
        f.text = "\n".join(g.get("reasons") or [])
    cases.append(tc)
    suite = ET.Element("testsuite", {
        "name": name, "tests": str(len(cases)), "failures": str(failures), "errors": "0",
        "skipped": str(skipped), "time": f"{total_time(phases):.3f}",
        "timestamp": str(report.get("started_at") or ""),
    })
    props = ET.SubElement(suite, "properties")
    # A value that was never measured is an empty string: CI parsers read "None" as text.
    pairs = ([(k, report.get(k)) for k in ("drill_id", "scenario", "rto_seconds")]
             + [(k, t.get(k)) for k in ("time_to_detect_s", "time_to_switch_s", "total_s",
                                        "decide_s", "steps_s", "switch_after_steps_s")
                if k in t]
             + sorted((report.get("context") or {}).items()))
    for key, value in pairs:
        ET.SubElement(props, "property", {"name": key, "value": "" if value is None
                                          else str(value)})
    suite.extend(cases)
    out = ET.SubElement(suite, "system-out")
    out.text = to_markdown(report)
    root = ET.Element("testsuites", {"name": "lambdafail drill", "tests": str(len(cases)),
                                     "failures": str(failures)})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _dur(ph: Mapping[str, Any]) -> str:
    a, b = ph.get("start_s"), ph.get("end_s")
    if a is None or b is None:
        return "0.000"
    return f"{max(0.0, float(b) - float(a)):.3f}"


