"""Probes against hostile targets: wall time against the timeout, and threads left behind.

Run: .venv/bin/python bench/hostile_bench.py [--rounds N] [--timeout S]

For each loopback target — one that trickles its status line and headers a byte every 0.2 s,
one that sends headers then trickles a long body (probed with `body_contains`, so the body is
read), one that accepts and never answers, and a closed port — it runs N probe rounds through
`probe_all` (the code both the orchestrator's tick and the CLI's `status --probe` / `failover`
use) and prints the maximum wall time of a round against the configured timeout, and the
probe threads alive before, right after and 5 s after the rounds (a leak grows with N).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lambdafail.runtime.probes import probe_all  # noqa: E402
from runtime_support import HostileServer, closed_port_url  # noqa: E402


def probe_threads() -> int:
    """Threads of the probe pool (the hostile servers' own threads are not counted)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith("probe"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=1.0)
    args = ap.parse_args()
    print(f"{'target':<18} {'rounds':>6} {'timeout':>8} {'max round':>10} "
          f"{'probe threads before':>21} {'after':>6} {'settled':>8}")
    for mode in ("headers", "body", "silent", "closed"):
        server = HostileServer(mode) if mode != "closed" else None
        url = server.url if server else closed_port_url()
        target = {"kind": "url", "url": url, "expect_status": 200,
                  "body_contains": "needle" if mode == "body" else None}
        before = probe_threads()
        worst = 0.0
        for _ in range(args.rounds):
            t0 = time.monotonic()
            result = probe_all({"t": (target, args.timeout)})["t"]
            worst = max(worst, time.monotonic() - t0)
            assert not result.ok
        after = probe_threads()
        deadline = time.monotonic() + 5
        while probe_threads() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        settled = probe_threads()
        print(f"{mode:<18} {args.rounds:>6} {args.timeout:>7g}s {worst:>9.2f}s "
              f"{before:>21} {after:>6} {settled:>8}")
        if server:
            server.close()


if __name__ == "__main__":
    main()
