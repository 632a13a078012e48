"""The drill's record: the append-only journal, and the Recorder of phases, checks and milestones.

Rule: every record is written (flushed and fsynced) the moment it happens, so a crashed drill
still leaves a journal; a phase's status is decided here, from its checks, and nowhere else.
No AWS, no click/rich.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdafail.drill.report import PHASES
from lambdafail.runtime.clock import iso

Listener = Callable[[dict[str, Any]], None]


class DrillInterrupted(BaseException):
    """SIGTERM (or a second Ctrl-C) during a drill. A BaseException like KeyboardInterrupt, so
    no `except Exception` on the way swallows it and the `finally` restore always runs."""


class PhaseFailed(Exception):
    """A phase did not succeed; the drill goes straight to restore and grade."""


class Journal:
    """Append-only JSON lines, flushed and fsynced after every record (crash-proof)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, default=str, sort_keys=False)
        with self._lock:
            if self._f.closed:
                return
            self._f.write(line + "\n")
            self._f.flush()
            os.fsync(self._f.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._f.closed:
                self._f.close()


def read_journal(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a journal; a torn last line (crash mid-write) is ignored."""
    out: list[dict[str, Any]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


# ------------------------------------------------------------------------- phases & grading


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Phase:
    name: str
    status: str = "skipped"  # passed | failed | skipped | interrupted
    started: float | None = None
    ended: float | None = None
    detail: str = ""
    checks: list[Check] = field(default_factory=list)
    skip: bool = False  # set inside the phase: it ends as "skipped" (on purpose), not "passed"

    def to_dict(self, origin: float) -> dict[str, Any]:
        def off(t: float | None) -> float | None:
            return None if t is None else round(t - origin, 3)

        return {"name": self.name, "status": self.status,
                "started_at": None if self.started is None else iso(self.started),
                "ended_at": None if self.ended is None else iso(self.ended),
                "start_s": off(self.started), "end_s": off(self.ended),
                "detail": self.detail, "checks": [c.to_dict() for c in self.checks]}


class Recorder:
    """Phases, checks and milestones as they happen, each one sent to the journal and the
    listener at once."""

    def __init__(self, drill_id: str, clock: Callable[[], float],
                 sinks: list[Listener]) -> None:
        self.drill_id = drill_id
        self.clock = clock
        self.sinks = sinks
        self.origin = clock()
        self.phases: dict[str, Phase] = {n: Phase(n) for n in PHASES}
        self.milestones: dict[str, float] = {}
        self.current: Phase | None = None

    def emit(self, kind: str, **fields: Any) -> None:
        t = self.clock()
        rec = {"at": iso(t), "epoch": round(t, 3), "offset_s": round(t - self.origin, 3),
               "drill_id": self.drill_id, "kind": kind, **fields}
        for sink in self.sinks:
            sink(rec)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        ph = self.phases[name]
        ph.started = self.clock()
        ph.status = "running"
        self.current = ph
        self.emit("phase-start", phase=name)
        try:
            yield ph
        except (KeyboardInterrupt, DrillInterrupted):
            ph.status = "interrupted"
            ph.detail = ph.detail or "interrupted (Ctrl-C / SIGTERM)"
            raise
        except PhaseFailed as e:
            ph.status = "failed"
            ph.detail = str(e)
            raise
        except Exception as e:
            ph.status = "failed"
            ph.detail = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            raise
        else:
            ph.status = "passed" if all(c.ok for c in ph.checks) else "failed"
            if ph.skip and ph.status == "passed":
                ph.status = "skipped"
            if ph.status == "failed" and not ph.detail:
                ph.detail = "; ".join(f"{c.name}: {c.detail}" for c in ph.checks if not c.ok)
        finally:
            ph.ended = self.clock()
            self.current = None
            self.emit("phase-end", phase=name, status=ph.status, detail=ph.detail)

    def check(self, name: str, ok: bool, detail: str = "") -> Check:
        c = Check(name, ok, detail)
        if self.current is not None:
            self.current.checks.append(c)
        self.emit("check", phase=self.current.name if self.current else None, name=name, ok=ok,
                  detail=detail)
        return c

    def milestone(self, name: str, at: float | None = None) -> None:
        if name in self.milestones:
            return
        t = self.clock() if at is None else at
        self.milestones[name] = t
        self.emit("milestone", name=name, milestone_at=iso(t),
                  milestone_offset_s=round(t - self.origin, 3))

    def note(self, text: str, level: str = "info") -> None:
        self.emit("note", text=text, level=level)
