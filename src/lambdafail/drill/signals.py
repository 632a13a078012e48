"""Signals during a drill: Ctrl-C, SIGTERM and SIGHUP become one `DrillInterrupted`.

Rule: the handler only records (it never does I/O); the restore is never cut short by a signal.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from lambdafail.drill.journal import DrillInterrupted

_TERMINATING = (signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


class SignalLatch:
    """Ctrl-C, SIGTERM and SIGHUP during a drill, handled so that nothing re-enters I/O.

    The handler only records the signal (a handler that wrote to the journal or the terminal
    could re-enter a write it interrupted, and deadlock); the first signal before the restore
    raises DrillInterrupted once, so the `finally` restore runs. Every later signal — and any
    during the restore, which must not be cut short — is only recorded, and noted in the journal
    by the main loop once the restore is done. Repeated signals never hang the drill or change
    its exit code (kill -9 still works; the fault and lock expire).
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.raised = False
        self.deferring = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)  # list.append: atomic, takes no lock
        if not self.raised and not self.deferring:
            self.raised = True
            raise DrillInterrupted(f"signal {signum}")

    def defer(self) -> None:
        """From now on signals are recorded, not obeyed (the restore is running)."""
        self.deferring = True

    def unheeded(self) -> list[int]:
        """Signals that did not interrupt anything: the restore finished first."""
        return self.received[1:] if self.raised else list(self.received)


@contextlib.contextmanager
def signal_latch() -> Iterator[SignalLatch]:
    """Install the latch for the drill's duration. Only the main thread may install handlers;
    elsewhere the latch is inert. A SIGINT that was ignored at start (a background job) stays
    ignored."""
    latch = SignalLatch()
    if threading.current_thread() is not threading.main_thread():
        yield latch
        return
    sigs = [s for s in (signal.SIGINT, *_TERMINATING)
            if not (s == signal.SIGINT and signal.getsignal(s) is signal.SIG_IGN)]
    # SIGHUP too: a closed terminal or a dropped SSH session must not skip the restore.
    old = {sig: signal.signal(sig, latch.on_signal) for sig in sigs}
    try:
        yield latch
    finally:
        if latch.received:
            # Signalled: the drill is over and the process on its way out; a signal arriving
            # between here and the exit must not kill it with another code. SIG_IGN, not a
            # Python handler: interpreter shutdown resets Python handlers to SIG_DFL.
            for sig in old:
                signal.signal(sig, signal.SIG_IGN)
        else:
            for sig, handler in old.items():
                signal.signal(sig, handler)

