"""Drill reports: report.json, report.md, junit.xml and timeline.svg from one report document.

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

SCHEMA = "lambdafail.drill.report/1"
PHASES = ("precheck", "inject", "observe", "verify", "restore", "grade")
PHASE_STATUSES = ("passed", "failed", "skipped", "interrupted")
MILESTONES = ("injected", "first_failure_seen", "transition_committed", "router_verified",
              "http_verified", "fault_cleared", "primary_restored", "lock_released")
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


def _s(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f} s"
    return str(v)


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
        f"- Drill id: `{_v(report.get('drill_id'))}`",
        f"- Scenario: `{_v(report.get('scenario'))}`" + (" (dry run)" if report.get("dry_run")
                                                         else ""),
        f"- When and where: {context_line(report)}",
        f"- Started: {_v(report.get('started_at'))}",
        f"- Ended: {report.get('ended_at') or '— (did not finish)'}",
        f"- Operator: {report.get('operator') or '—'}",
        f"- Exit code: {_v(g.get('exit_code'))}",
        f"- Measured: {split_line(report)}",
        "",
        "## Grade",
        "",
        "| measure | value |",
        "|---|---|",
        f"| time to detect (injected → first failure seen) | {_s(t.get('time_to_detect_s'))} |",
        f"| time to switch (first failure seen → router verified) | "
        f"{_s(t.get('time_to_switch_s'))} |",
        *([f"| of which: decide (first failure seen → plan started) | "
           f"{_s(t.get('decide_s'))} |",
           f"| of which: the failover steps (first start → last end) | {_s(t['steps_s'])} |",
           f"| of which: switch after the steps (→ router verified) | "
           f"{_s(t.get('switch_after_steps_s'))} |"] if t.get("steps_s") is not None else []),
        f"| total (injected → router verified) | {_s(t.get('total_s'))} |",
        f"| RTO | {float(report.get('rto_seconds') or 0):g} s |",
        f"| RTO met | {_s(None if g.get('rto_met') is None else ('yes' if g['rto_met'] else 'no'))}"
        " |",
        f"| result | **{result}** |",
        "",
    ]
    reasons = g.get("reasons") or []
    if reasons:
        lines += ["Why:", ""] + [f"- {x}" for x in reasons] + [""]
    lines += ["## Phases", "", "| phase | status | start | end | detail |", "|---|---|---|---|---|"]
    for ph in report.get("phases", []):
        lines.append(f"| {ph['name']} | {ph['status']} | {_off(ph.get('start_s'))} | "
                     f"{_off(ph.get('end_s'))} | {_md_escape(ph.get('detail') or '')} |")
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
        lines.append(f"| {_off(off)} | {label} | {at or '—'} |")
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


def _v(v: Any) -> str:
    """A value for a reader: never the word None."""
    return "—" if v is None else str(v)


def _off(v: Any) -> str:
    return "—" if v is None else f"+{float(v):.2f} s"


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
        "skipped": str(skipped), "time": f"{_total_time(phases):.3f}",
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


def _total_time(phases: Sequence[Mapping[str, Any]]) -> float:
    ends = [float(p["end_s"]) for p in phases if p.get("end_s") is not None]
    return max(ends) if ends else 0.0


# ---------------------------------------------------------------------------------------- SVG

_SVG_NS = "http://www.w3.org/2000/svg"
_COLORS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e",
           "interrupted": "#ef6c00"}
# Status said in words and a symbol beside each bar: the picture must read in greyscale.
_MARKS = {"passed": "✓ passed", "failed": "✗ FAILED", "skipped": "– skipped",
          "interrupted": "! INTERRUPTED", "running": "… running"}
_DETECT, _SWITCH = "#6a1b9a", "#00838f"


def context_line(report: Mapping[str, Any]) -> str:
    """Date · environment · region · versions, as the report's context knows them."""
    c = report.get("context") or {}
    parts = [str(report.get("started_at") or "")[:19].replace("T", " ") + " UTC"]
    for key, label in (("environment", ""), ("region", ""), ("lambdafail_version", "lambdafail "),
                       ("orchestrator_version", "orchestrator version ")):
        if c.get(key):
            parts.append(f"{label}{c[key]}")
    return " · ".join(parts)


def split_line(report: Mapping[str, Any]) -> str:
    t = report.get("timings", {}) or {}
    g = report.get("grade", {}) or {}
    rto = float(report.get("rto_seconds") or 0)
    met = g.get("rto_met")
    verdict = "no switch measured" if met is None else "RTO met" if met else "RTO MISSED"
    return (f"detect {_s(t.get('time_to_detect_s'))} + switch {_s(t.get('time_to_switch_s'))}"
            f" = total {_s(t.get('total_s'))} · RTO {rto:g} s: {verdict}")


def to_svg(report: Mapping[str, Any]) -> str:
    """Phases as bars on a time axis (seconds since the drill started), each with its status in
    words beside it; the measured outage (detect + switch) as its own bar, red past the RTO;
    milestones as ticks with their labels on a leader line from the tick; the RTO deadline
    (injected + rto_seconds) as a dashed red line; a legend; context and the split in the title."""
    ET.register_namespace("", _SVG_NS)
    ns = f"{{{_SVG_NS}}}"
    phases: Sequence[Mapping[str, Any]] = report.get("phases", [])
    ms: Mapping[str, Any] = report.get("milestones", {}) or {}
    g = report.get("grade", {}) or {}
    rto = float(report.get("rto_seconds") or 0)
    injected = ms.get("injected")
    rto_at = float(injected["offset_s"]) + rto if injected else None
    horizon = max([_total_time(phases), 1.0] + ([rto_at] if rto_at is not None else [])) * 1.05
    left, right, top, row = 110, 170, 92, 28
    width = 960
    plot = width - left - right
    shown = [k for k in MILESTONES if ms.get(k)]
    steps = plan.bars(report.get("recovery") or {})
    rows = len(phases) + len(steps) + 1  # the phases, each recovery step, the measured outage
    axis_y = top + row * rows + 8
    height = axis_y + 34 + 16 * len(shown) + 40

    def x(sec: float) -> float:
        return left + plot * (sec / horizon)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
        e = ET.SubElement(parent, ns + tag, {k.rstrip("_").replace("_", "-"): str(v)
                                             for k, v in attrs.items()})
        if text is not None:
            e.text = text
        return e

    svg = ET.Element(ns + "svg", {"width": str(width), "height": str(height),
                                  "viewBox": f"0 0 {width} {height}",
                                  "font-family": "sans-serif", "font-size": "12"})
    result = str(g.get("result", "")).upper()
    el(svg, "title", f"lambdafail drill {report.get('service')}: {result} — {split_line(report)}")
    el(svg, "rect", x=0, y=0, width=width, height=height, fill="#ffffff")
    el(svg, "text", f"{report.get('topology')}/{report.get('service')} — "
       f"{report.get('scenario')} drill — {result}", x=left, y=20, font_size=15,
       font_weight="bold", fill=_COLORS["passed"] if g.get("passed") else _COLORS["failed"])
    el(svg, "text", context_line(report), x=left, y=38, fill="#333")
    el(svg, "text", split_line(report), x=left, y=56, fill="#333", class_="split")
    # Legend: every colour and line the picture uses, named.
    leg = el(svg, "g", class_="legend")
    lx = left
    for status in ("passed", "failed", "skipped", "interrupted"):
        el(leg, "rect", x=lx, y=66, width=12, height=12, fill=_COLORS[status])
        el(leg, "text", status, x=lx + 16, y=77)
        lx += 24 + 7 * len(status) + 12
    for color, name in ((_DETECT, "detect"), (_SWITCH, "switch")):
        el(leg, "rect", x=lx, y=66, width=12, height=12, fill=color)
        el(leg, "text", name, x=lx + 16, y=77)
        lx += 24 + 7 * len(name) + 12
    el(leg, "line", x1=lx, y1=72, x2=lx + 20, y2=72, stroke="#1565c0")
    el(leg, "text", "milestone", x=lx + 24, y=77)
    lx += 24 + 7 * 9 + 12
    el(leg, "line", x1=lx, y1=72, x2=lx + 20, y2=72, stroke="#c62828",
       stroke_dasharray="6,4", stroke_width=2)
    el(leg, "text", "RTO deadline", x=lx + 24, y=77)
    el(svg, "line", x1=left, y1=axis_y, x2=left + plot, y2=axis_y, stroke="#333")
    step = _nice_step(horizon)
    tick = 0.0
    while tick <= horizon:
        el(svg, "line", x1=f"{x(tick):.1f}", y1=axis_y, x2=f"{x(tick):.1f}", y2=axis_y + 4,
           stroke="#333")
        el(svg, "text", f"{tick:g}s", x=f"{x(tick):.1f}", y=axis_y + 16, text_anchor="middle")
        tick += step
    for i, ph in enumerate(phases):
        y = top + row * i
        status = str(ph["status"])
        grp = el(svg, "g", class_="phase", data_phase=ph["name"], data_status=status)
        el(grp, "text", str(ph["name"]), x=left - 8, y=y + 17, text_anchor="end")
        a, b = ph.get("start_s"), ph.get("end_s")
        if a is not None:
            a_f = float(a)
            b_f = float(b) if b is not None else a_f
            failed = status in ("failed", "interrupted")
            rect = el(grp, "rect", x=f"{x(a_f):.1f}", y=y + 4,
                      width=f"{max(2.0, x(b_f) - x(a_f)):.1f}", height=row - 8,
                      fill=_COLORS.get(status, "#607d8b"),
                      stroke="#000" if failed else "none", stroke_width=2 if failed else 0)
            el(rect, "title", f"{ph['name']}: {status}"
               + (f" — {ph['detail']}" if ph.get("detail") else ""))
            dur = f" {max(0.0, b_f - a_f):.2f} s" if b is not None else ""
        else:
            dur = ""
        el(grp, "text", _MARKS.get(status, status) + dur, x=left + plot + 8, y=y + 17,
           class_="status", fill=_COLORS.get(status, "#333"),
           font_weight="bold" if status in ("failed", "interrupted") else "normal")
    for i, (label, a_f, b_f, status, took) in enumerate(steps):
        y = top + row * (len(phases) + i)
        grp = el(svg, "g", class_="step", data_step=label, data_status=status)
        el(grp, "text", label, x=left - 8, y=y + 17, text_anchor="end", font_size=11)
        ok = status == "done"
        el(grp, "rect", x=f"{x(a_f):.1f}", y=y + 8, width=f"{max(2.0, x(b_f) - x(a_f)):.1f}",
           height=row - 16, fill=_COLORS["passed" if ok else "failed"], opacity="0.7")
        el(grp, "text", ("✓ " if ok else "✗ ") + status + (f" {took:.2f} s" if took is not None
                                                           else ""),
           x=left + plot + 8, y=y + 17, class_="status",
           fill=_COLORS["passed" if ok else "failed"])
    # The measured outage: injected → first failure seen (detect) → router verified (switch).
    y = top + row * (len(phases) + len(steps))
    grp = el(svg, "g", class_="measured")
    el(grp, "text", "outage", x=left - 8, y=y + 17, text_anchor="end", font_weight="bold")
    seen, routed = ms.get("first_failure_seen"), ms.get("router_verified")
    if injected and seen:
        a_f, b_f = float(injected["offset_s"]), float(seen["offset_s"])
        el(grp, "rect", x=f"{x(a_f):.1f}", y=y + 4, width=f"{max(2.0, x(b_f) - x(a_f)):.1f}",
           height=row - 8, fill=_DETECT, class_="detect")
    if seen and routed:
        a_f, b_f = float(seen["offset_s"]), float(routed["offset_s"])
        el(grp, "rect", x=f"{x(a_f):.1f}", y=y + 4, width=f"{max(2.0, x(b_f) - x(a_f)):.1f}",
           height=row - 8, fill=_SWITCH, class_="switch")
    met = g.get("rto_met")
    if met is False and rto_at is not None and routed:
        # Past the deadline the bar turns red: an RTO miss is visible without reading.
        a_f, b_f = rto_at, float(routed["offset_s"])
        el(grp, "rect", x=f"{x(a_f):.1f}", y=y + 4, width=f"{max(2.0, x(b_f) - x(a_f)):.1f}",
           height=row - 8, fill=_COLORS["failed"], stroke="#000", stroke_width=2,
           class_="over-rto")
    total = (report.get("timings") or {}).get("total_s")
    text = ("✗ not measured" if met is None else
            f"✓ {_s(total)} ≤ RTO" if met else f"✗ {_s(total)} > RTO: MISSED")
    el(grp, "text", text, x=left + plot + 8, y=y + 17, class_="status",
       fill=_COLORS["passed"] if met else _COLORS["failed"], font_weight="bold")
    if rto_at is not None:
        el(svg, "line", x1=f"{x(rto_at):.1f}", y1=top - 2, x2=f"{x(rto_at):.1f}", y2=axis_y,
           stroke="#c62828", stroke_dasharray="6,4", stroke_width=2, class_="rto")
        # Above the bars, below the legend: the label never covers a phase.
        el(svg, "text", f"RTO {rto:g} s", x=f"{x(rto_at) + 4:.1f}", y=top - 4, fill="#c62828",
           font_size=11)
    y = axis_y + 36
    for key in shown:
        off = float(ms[key]["offset_s"])
        # The tick runs from the top of the plot down to its own label: label and tick share x.
        el(svg, "line", x1=f"{x(off):.1f}", y1=top, x2=f"{x(off):.1f}", y2=y - 10,
           stroke="#1565c0", stroke_width=1, opacity="0.6", class_="milestone",
           data_milestone=key)
        el(svg, "circle", cx=f"{x(off):.1f}", cy=y - 4, r=3, fill="#1565c0")
        # Labels right of the middle hang to the left, so none runs off the picture.
        anchor = "end" if x(off) > left + plot / 2 else "start"
        dx = -6 if anchor == "end" else 6
        el(svg, "text", f"{key.replace('_', ' ')} +{off:.2f} s", x=f"{x(off) + dx:.1f}", y=y,
           fill="#1565c0", text_anchor=anchor, class_="milestone-label", data_milestone=key)
        y += 16
    ET.indent(svg)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode") \
        + "\n"


def _nice_step(horizon: float) -> float:
    raw = horizon / 8
    for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if s >= raw:
            return float(s)
    return 3600.0 * (int(raw // 3600) + 1)
