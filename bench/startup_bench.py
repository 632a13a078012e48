"""Benchmark: wall time of `lambdafail --help` (a fresh interpreter each run).

Run: .venv/bin/python bench/startup_bench.py [runs]. The CLI imports commands lazily and loads
boto3, rich and pydantic only inside commands, so this stays far below 0.3 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def main(runs: int = 20) -> None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lambdafail", "--help"], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - start)
    print(f"lambdafail --help: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms over {runs} runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
