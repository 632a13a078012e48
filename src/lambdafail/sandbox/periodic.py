"""A sandbox thread that does one step every `tick` seconds until stopped (the scheduler, the
alarm evaluator).

Rule: a step that raises is logged and the loop goes on; `stop()` waits for the thread a
bounded time.
"""

from __future__ import annotations

import threading

from lambdafail.sandbox.activity import ActivityLog


class Periodic:
    #: The thread's name and the word its errors are logged with.
    what: str = "periodic"

    def __init__(self, log: ActivityLog, tick: float) -> None:
        self.log = log
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.what}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as e:  # keep going: one bad round must not stop the sandbox
                self.log.write("ERROR", f"{self.what}: {type(e).__name__}: {e}")
            self._stop.wait(self.tick)
