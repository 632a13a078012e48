"""The first probe round after a cold start, per Python version (the runtimes deploy selects).

Usage: .venv/bin/python bench/probe_cold_bench.py [--targets N] [--runs R] [--src DIR]
                                                  [PYTHON ...]
Each run is a fresh interpreter (a cold start) that imports lambdafail.runtime.probes from
DIR (default: this checkout's src; pass an older checkout's src to compare) and times two
`probe_all` rounds of N concurrent probes (default 32, the pool's size) against a loopback HTTP
server in this process: the first round pays for building the HTTP(S) opener, the second does
not. Plain HTTP is enough to reproduce the cost: urllib's opener always carries an
HTTPSHandler, and since Python 3.12 building one creates its SSL context (loading the CA
store). The runtime's probes need only the stdlib, so any interpreter works (no boto3). Prints
the median of R runs (default 5) per interpreter; defaults: this interpreter, and pyenv's
3.12 / 3.13 when present. CPU share matters: Lambda at 256 MB gets a fraction of a core, so
expect these times several fold there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from runtime_support import Behaviour, http_server  # noqa: E402

PYENV = [Path("/root/.pyenv/versions/3.12.1/bin/python3.12"),
         Path("/root/.pyenv/versions/3.13.0/bin/python3.13")]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from lambdafail.runtime.probes import probe_all
imported = time.perf_counter()
url, n = sys.argv[1], int(sys.argv[2])
targets = {i: ({"kind": "url", "url": f"{url}?{i}", "expect_status": 200}, 10.0)
           for i in range(n)}
out = {"import_ms": (imported - t0) * 1000}
for name in ("first_ms", "second_ms"):
    start = time.perf_counter()
    results = probe_all(targets)
    out[name] = (time.perf_counter() - start) * 1000
    out["ok"] = out.get("ok", True) and all(r.ok for r in results.values())
print(json.dumps(out))
"""


def _version(python: str) -> str:
    return subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()


def _run(python: str, src: Path, url: str, n: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([python, "-c", CHILD, url, str(n)], capture_output=True, text=True,
                          env=env, timeout=120)
    if proc.returncode:
        raise SystemExit(f"{python} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pythons", nargs="*")
    ap.add_argument("--targets", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    args = ap.parse_args()
    pythons = args.pythons or [sys.executable, *(str(p) for p in PYENV if p.exists())]
    with http_server(Behaviour(200, b"ok")) as url:
        print(f"cold first probe round, {args.targets} concurrent loopback probes, "
              f"median of {args.runs} fresh interpreters, src={args.src}")
        for python in pythons:
            runs = [_run(python, args.src, url, args.targets) for _ in range(args.runs)]
            med = {k: statistics.median(r[k] for r in runs)
                   for k in ("import_ms", "first_ms", "second_ms")}
            ok = all(r["ok"] for r in runs)
            print(f"  Python {_version(python):8} first round {med['first_ms']:7.1f} ms   "
                  f"second round {med['second_ms']:6.1f} ms   import {med['import_ms']:5.1f} ms"
                  f"   (min/max first: {min(r['first_ms'] for r in runs):.1f}/"
                  f"{max(r['first_ms'] for r in runs):.1f})" + ("" if ok else "  PROBES FAILED"))


if __name__ == "__main__":
    main()
