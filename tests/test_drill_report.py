"""Drill reports and the pure parts of the drill: journal, timings, grading, sample events."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from lambdafail.base.errors import UsageError
from lambdafail.drill import report
from lambdafail.drill.grading import grade, timings
from lambdafail.drill.journal import Journal, Phase, Recorder, read_journal
from lambdafail.drill.report import PHASES
from lambdafail.drill.scenarios import sample_event

SVG = "{http://www.w3.org/2000/svg}"


def _doc(**over: Any) -> dict[str, Any]:
    """A report as Drill.run() builds it, from a Recorder driven by a fake clock."""
    now = [1_700_000_000.0]

    def clock() -> float:
        return now[0]

    rec = Recorder("checkout-x", clock, [])
    for name, dur in (("precheck", 0.4), ("inject", 0.1), ("observe", 2.5), ("verify", 0.2),
                      ("restore", 1.0), ("grade", 0.0)):
        with rec.phase(name):
            if name == "inject":
                rec.milestone("injected")
            rec.check(f"{name} ok", True, "fine | with a pipe")
            now[0] += dur
            if name == "observe":
                rec.milestone("first_failure_seen", at=now[0] - 1.5)
                rec.milestone("transition_committed", at=now[0] - 0.2)
                rec.milestone("router_verified")
    t = timings(rec.milestones)
    g = grade(rec.phases, t, 30.0, True, True)
    doc: dict[str, Any] = {
        "schema": report.SCHEMA, "drill_id": "checkout-x", "topology": "shop",
        "service": "checkout", "scenario": "primary-down", "operator": "me@host",
        "dry_run": False, "started_at": "2023-11-14T22:13:20.000Z",
        "ended_at": "2023-11-14T22:13:24.200Z", "timeout_s": 60.0, "rto_seconds": 30.0,
        "phases": [p.to_dict(rec.origin) for p in rec.phases.values()],
        "milestones": {k: ({"at": "2023-11-14T22:13:21.000Z",
                            "offset_s": round(rec.milestones[k] - rec.origin, 3)}
                           if k in rec.milestones else None) for k in report.MILESTONES},
        "timings": t,
        "restore": {"requested": True, "ok": True, "path": "lambdafail.oncall.rollback",
                    "left": [], "instructions": []},
        "other_services": {"checked": ["search"], "changed": []},
        "grade": g, "journal": "/tmp/j.jsonl",
        "context": {"environment": "sandbox", "region": "eu-west-1",
                    "lambdafail_version": "0.1.0", "orchestrator_version": "7"},
    }
    doc.update(over)
    return doc


def test_drill_report_json_matches_the_documented_schema(tmp_path: Path) -> None:
    doc = _doc()
    paths = report.write_all(doc, tmp_path / "r")
    loaded = json.loads(Path(paths["report.json"]).read_text())
    assert report.validate(loaded) == []
    assert loaded["grade"]["result"] == "pass"
    assert sorted(paths) == sorted(report.FILES)


def test_drill_report_validate_finds_problems() -> None:
    doc = _doc()
    doc["grade"]["passed"] = "yes"
    doc["phases"][0]["status"] = "weird"
    doc["milestones"]["bogus"] = None
    del doc["timings"]
    problems = report.validate(doc)
    assert any("grade.passed" in p for p in problems)
    assert any("phases[0].status" in p for p in problems)
    assert any("bogus" in p for p in problems)
    assert any("timings" in p for p in problems)
    assert report.validate([]) == ["report: not an object"]


def test_drill_report_junit_parses_with_one_case_per_phase() -> None:
    doc = _doc()
    root = ET.fromstring(report.to_junit(doc))
    suite = root.find("testsuite")
    assert suite is not None
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["precheck", "inject", "observe", "verify", "restore", "rto"]
    assert suite.get("failures") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["scenario"] == "primary-down"


def test_drill_report_junit_marks_a_failed_drill() -> None:
    doc = _doc()
    doc["phases"][2]["status"] = "failed"
    doc["phases"][2]["detail"] = "timed out"
    doc["grade"] = {"result": "fail", "passed": False, "rto_met": False,
                    "reasons": ["RTO missed"], "exit_code": 5}
    suite = ET.fromstring(report.to_junit(doc)).find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "2"
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["observe", "rto"]


def test_drill_report_svg_is_well_formed_with_every_phase_and_the_rto_line() -> None:
    doc = _doc()
    root = ET.fromstring(report.to_svg(doc))
    assert root.tag == f"{SVG}svg"
    phases = [g.get("data-phase") for g in root.iter(f"{SVG}g") if g.get("class") == "phase"]
    assert phases == list(PHASES)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for name in PHASES:
        assert name in texts
    assert "RTO 30 s" in texts
    assert any(ln.get("class") == "rto" for ln in root.iter(f"{SVG}line"))


def test_drill_report_markdown_is_readable() -> None:
    md = report.to_markdown(_doc())
    assert md.startswith("# Drill report: checkout (shop) — PASS")
    assert "| time to detect" in md and "| RTO | 30 s |" in md
    assert "fine \\| with a pipe" in md  # table cells escaped
    left = report.to_markdown(_doc(restore={"requested": False, "ok": None, "path": None,
                                            "left": ["x"], "instructions": []}))
    assert "LEFT FAILED OVER" in left
    bad = report.to_markdown(_doc(restore={"requested": True, "ok": False, "path": None,
                                           "left": ["still on standby"],
                                           "instructions": ["lambdafail rollback checkout"]}))
    assert "INCOMPLETE" in bad and "1. lambdafail rollback checkout" in bad


def test_drill_timings_and_grade() -> None:
    ms = {"injected": 10.0, "first_failure_seen": 12.0, "router_verified": 15.5}
    t = timings(ms)
    assert t == {"time_to_detect_s": 2.0, "time_to_switch_s": 3.5, "total_s": 5.5}
    phases = {n: Phase(n, status="passed") for n in PHASES}
    assert grade(phases, t, 10, True, True)["result"] == "pass"
    missed = grade(phases, t, 5, True, True)
    assert missed["result"] == "fail" and missed["exit_code"] == 5 and missed["rto_met"] is False
    assert grade(phases, t, 10, True, False)["exit_code"] == 6
    assert grade(phases, t, 10, True, True, interrupted=True)["exit_code"] == 130
    assert grade(phases, t, 10, True, False, interrupted=True)["exit_code"] == 6
    phases["verify"].status = "failed"
    assert grade(phases, t, 10, True, True)["passed"] is False
    none = grade({n: Phase(n, status="passed") for n in PHASES}, timings({"injected": 1.0}),
                 10, True, True)
    assert none["passed"] is False and none["rto_met"] is None


def test_drill_journal_is_written_and_fsynced_as_it_goes(tmp_path: Path) -> None:
    j = Journal(tmp_path / "d" / "journal.jsonl")
    rec = Recorder("d1", lambda: 5.0, [j.write])
    with pytest.raises(RuntimeError), rec.phase("precheck"):
        rec.check("a", True)
        # Readable before the phase ends (a crash here still leaves the record).
        assert [r["kind"] for r in read_journal(j.path)] == ["phase-start", "check"]
        raise RuntimeError("boom")
    with open(j.path, "a") as f:
        f.write('{"torn')  # a crash mid-write
    recs = read_journal(j.path)
    assert recs[-1]["kind"] == "phase-end" and recs[-1]["status"] == "failed"
    assert "boom" in recs[-1]["detail"]
    j.close()


def test_drill_sample_event_matches_the_signal() -> None:
    ev = sample_event({"source": ["shop.checkout"], "detail-type": ["Server failure"],
                       "detail": {"host": [{"prefix": "web-"}]}})
    assert ev["source"] == "shop.checkout" and ev["detail"]["host"].startswith("web-")
    with pytest.raises(UsageError):
        sample_event({"source": ["a"], "detail": {"n": [{"numeric": [">", 5]}]}})


def _svg_texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if cls is None or t.get("class") == cls]


def test_drill_svg_says_each_status_in_words_with_a_legend_and_the_context() -> None:
    doc = _doc()
    doc["phases"][2].update(status="failed", detail="timed out")
    root = ET.fromstring(report.to_svg(doc))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "phase"]
    for g in groups:
        words = [t.text or "" for t in g.iter(f"{SVG}text") if t.get("class") == "status"]
        assert len(words) == 1 and g.get("data-status", "x").lower()[:4] in words[0].lower()
    observe = next(g for g in groups if g.get("data-phase") == "observe")
    assert "✗ FAILED" in "".join(t.text or "" for t in observe.iter(f"{SVG}text"))
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    names = [t.text for t in legend.iter(f"{SVG}text")]
    assert names == ["passed", "failed", "skipped", "interrupted", "detect", "switch",
                     "milestone", "RTO deadline"]
    head = " ".join(_svg_texts(root)[:3])
    for part in ("2023-11-14 22:13:20 UTC", "sandbox", "eu-west-1", "lambdafail 0.1.0",
                 "orchestrator version 7", "detect ", "+ switch ", "= total"):
        assert part in head, (part, head)


def test_drill_svg_shows_an_rto_miss_in_red_and_not_only_by_colour() -> None:
    doc = _doc(rto_seconds=1.0)
    doc["grade"] = {"result": "fail", "passed": False, "rto_met": False,
                    "reasons": ["RTO missed"], "exit_code": 5}
    root = ET.fromstring(report.to_svg(doc))
    measured = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "measured")
    rects = {r.get("class"): r for r in measured.iter(f"{SVG}rect")}
    assert set(rects) == {"detect", "switch", "over-rto"}
    assert rects["over-rto"].get("fill") == "#c62828"
    assert any("MISSED" in t for t in _svg_texts(root, "status"))
    assert "RTO MISSED" in " ".join(_svg_texts(root, "split"))


def test_drill_svg_milestone_labels_sit_at_their_ticks() -> None:
    root = ET.fromstring(report.to_svg(_doc()))
    lines = {ln.get("data-milestone"): ln for ln in root.iter(f"{SVG}line")
             if ln.get("class") == "milestone"}
    labels = {t.get("data-milestone"): t for t in root.iter(f"{SVG}text")
              if t.get("class") == "milestone-label"}
    assert set(lines) == set(labels) and lines
    for key, ln in lines.items():
        lab = labels[key]
        assert abs(float(lab.get("x", 0)) - float(ln.get("x1", 0))) <= 6
        # The tick runs down to its own label (no label floats away from its line).
        assert 0 < float(lab.get("y", 0)) - float(ln.get("y2", 0)) <= 12
        assert key.replace("_", " ") in (lab.text or "")


def test_drill_reports_never_print_none() -> None:
    """A drill stopped at the pre-check: nothing measured, no restore path, no context."""
    doc = _doc(milestones={k: None for k in report.MILESTONES},
               timings={"time_to_detect_s": None, "time_to_switch_s": None, "total_s": None},
               restore={"requested": True, "ok": True, "path": None, "left": [],
                        "instructions": []},
               ended_at=None, context={})
    doc["grade"] = {"result": "fail", "passed": False, "rto_met": None,
                    "reasons": ["precheck failed"], "exit_code": 5}
    for text in (report.to_markdown(doc), report.to_junit(doc), report.to_svg(doc)):
        assert "None" not in text
