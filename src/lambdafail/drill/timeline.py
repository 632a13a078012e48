"""The drill's timeline.svg: phases as bars on a time axis, the measured outage, the RTO line.

Rule: a pure writer over the report.json document (stdlib xml.etree only); status is said in
words beside each bar so the picture reads in greyscale.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from lambdafail.drill import plan
from lambdafail.drill.report_text import MILESTONES, context_line, seconds, split_line, total_time

_SVG_NS = "http://www.w3.org/2000/svg"
_COLORS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e",
           "interrupted": "#ef6c00"}
# Status said in words and a symbol beside each bar: the picture must read in greyscale.
_MARKS = {"passed": "✓ passed", "failed": "✗ FAILED", "skipped": "– skipped",
          "interrupted": "! INTERRUPTED", "running": "… running"}
_DETECT, _SWITCH = "#6a1b9a", "#00838f"


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
    horizon = max([total_time(phases), 1.0] + ([rto_at] if rto_at is not None else [])) * 1.05
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
            f"✓ {seconds(total)} ≤ RTO" if met else f"✗ {seconds(total)} > RTO: MISSED")
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
