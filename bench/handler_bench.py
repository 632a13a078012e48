"""Orchestrator footprint: zip size, handler import time, and time to process one failure event.

Run: .venv/bin/python bench/handler_bench.py [--events N] [--imports N]

- zip size: `lambdafail.package.build()` of configs/example.yaml (what `deploy` uploads);
- import time: `import lambdafail.runtime.handler` from the extracted zip in a fresh interpreter
  with click/rich/yaml/pydantic blocked (median of N), and boto3's own import for comparison
  (the handler defers it to the first AWS call);
- failure event: `Orchestrator.handle()` of a matching failure event against in-process moto
  (median of N): the failover path (dedup, read, `switching` write, SSM put + read-back, the
  commit and its log entry) and the duplicate path; with the AWS calls each makes. moto's own request
  handling is inside these numbers, so they are an upper bound of the handler's own work.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

IMPORT_SNIPPET = """
import importlib.abc, sys, time
class B(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"click", "rich", "yaml", "pydantic"}:
            raise ImportError(name)
sys.meta_path.insert(0, B())
t = time.perf_counter()
import %s
print(time.perf_counter() - t)
"""


def zip_and_imports(runs: int) -> dict[str, Any]:
    from lambdafail.deploy import package
    from lambdafail.model import loader, topology

    topo = loader.load(ROOT / "configs" / "example.yaml")  # type: ignore[attr-defined]
    pkg = package.build(topology.compile_topology(topo))
    out: dict[str, Any] = {"zip_bytes": pkg.size}
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(__import__("io").BytesIO(pkg.zip_bytes)) as zf:
            zf.extractall(tmp)
            out["zip_files"] = len(zf.namelist())
            out["unzipped_bytes"] = sum(i.file_size for i in zf.infolist())
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = tmp
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # like a cold start: no cached bytecode
        for module in ("lambdafail.runtime.handler", "boto3"):
            times = []
            for _ in range(runs):
                proc = subprocess.run([sys.executable, "-c", IMPORT_SNIPPET % module],
                                      capture_output=True, text=True, env=env, cwd=tmp,
                                      check=True)
                times.append(float(proc.stdout.strip()))
            out[f"import_ms_{module}"] = round(statistics.median(times) * 1000, 1)
    return out


def event_timings(n: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from lambdafail.runtime import transitions as tr
    from lambdafail.runtime.routers import make_router
    from runtime_support import compiled, make_env, service_cfg

    sig = {"kind": "event", "pattern": {"source": ["shop.checkout"],
                                        "detail-type": ["Server failure"]},
           "mode": "failover", "rule": "lambdafail-shop-checkout-event-0"}
    with mock_aws():
        env = make_env(compiled({"checkout": service_cfg(signals=[sig], cooldown=0)}))
        calls: list[str] = []
        for client in (env.store.ddb, env.ssm.inner):
            client.meta.events.register(
                "before-call", lambda model, **_: calls.append(model.name))
        orch = env.orchestrator()
        cfg = env.config.services["checkout"]
        env.tick()
        failover: list[float] = []
        dup: list[float] = []
        n_calls: dict[str, list[str]] = {}
        for i in range(n):
            event = {"version": "0", "id": f"e{i}", "detail-type": "Server failure",
                     "source": "shop.checkout", "account": "123456789012",
                     "time": "2024-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
                     "detail": {}}
            calls.clear()
            t = time.perf_counter()
            res = orch.handle(event)
            failover.append(time.perf_counter() - t)
            assert res["actions"][0]["status"] == "switched", res
            n_calls["failover"] = list(calls)
            calls.clear()
            t = time.perf_counter()
            orch.handle(event)
            dup.append(time.perf_counter() - t)
            n_calls["duplicate"] = list(calls)
            env.clock.advance(1)
            tr.request_switch(env.store, make_router(cfg["router"], env.clients), cfg,
                              "checkout", "primary", reason="rollback", actor="bench",
                              now=env.clock(), logger=env.logger)
            env.clock.advance(1)
        _ = boto3
    return {
        "events": n,
        "failover_event_ms_median": round(statistics.median(failover) * 1000, 2),
        "failover_event_ms_p90": round(sorted(failover)[int(n * 0.9) - 1] * 1000, 2),
        "duplicate_event_ms_median": round(statistics.median(dup) * 1000, 2),
        "aws_calls": {k: v for k, v in n_calls.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--imports", type=int, default=9)
    args = ap.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result = {"python": sys.version.split()[0], **zip_and_imports(args.imports),
              **event_timings(args.events)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
