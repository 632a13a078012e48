"""One probe tick of a large topology: how long it takes and how many probes it gets wrong.

Usage: .venv/bin/python bench/tick_scale_bench.py [--prober real|instant] [--server] N [N ...]
For each N: deploys N services (hook routers, both targets on one healthy loopback HTTP
server) in-process on moto with lambdafail's deploy, then runs one tick of the deployed
configuration with the real Orchestrator and reports its wall time against the function's
timeout (planner.function_timeout) and how many sides were NOT recorded healthy — every target
is up, so each one is a false failure. `--prober instant` replaces the probes with instant
successes to isolate the state table's share (one Query plus one UpdateItem per service).
In-process, moto's request handling is inside these numbers. `--server` runs moto in a
separate process instead and also reports the tick's CPU time in this process: what the
orchestrator itself spends (boto3, probes, decisions), the figure the deployed function pays
for. This box is not Lambda (256 MB gets a fraction of a core): read them as orders of
magnitude.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _moto  # sets fake credentials before boto3 is used; starts --server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from runtime_support import Behaviour, http_server  # noqa: E402


def one(n: int, url: str, prober: str, endpoint: str | None = None) -> str:
    import contextlib

    import boto3
    from moto import mock_aws

    from deploy_support import context, deploy
    from lambdafail.deploy.planner import function_timeout
    from lambdafail.model.loader import load_text
    from lambdafail.model.topology import compile_topology
    from lambdafail.runtime.config import Clients, LoadedConfig
    from lambdafail.runtime.handler import Orchestrator
    from lambdafail.runtime.log import Logger
    from lambdafail.runtime.probes import ProbeResult

    lines = ["name: big", "region: us-east-1", "services:",
             f"  s0: &svc {{primary: {{url: '{url}/p'}}, standby: {{url: '{url}/s'}}, "
             "router: {hook: big-switch}}"]
    lines += [f"  s{i}: *svc" for i in range(1, n)]
    from lambdafail.aws import AwsContext

    with mock_aws() if endpoint is None else contextlib.nullcontext():
        ctx = context() if endpoint is None else AwsContext(
            region="us-east-1", endpoint_url=endpoint,
            _session=boto3.session.Session(region_name="us-east-1"))
        topo = load_text("\n".join(lines) + "\n", "big.yaml")
        deploy(topo, ctx)
        compiled = compile_topology(topo)
        compiled["region"] = "us-east-1"
        clients = Clients(region="us-east-1", overrides={"dynamodb": ctx.client("dynamodb")})
        fake = None if prober == "real" else (
            lambda targets: {k: ProbeResult(True, 1.0, "HTTP 200") for k in targets})
        orch = Orchestrator(LoadedConfig(compiled, "bench", "bench"), clients, prober=fake,
                            logger=Logger(sink=lambda line: None))
        took = cpu = 0.0
        for rule in compiled["schedules"]:  # one invocation per tick rule, one after another
            start, cpu0 = time.perf_counter(), time.process_time()
            orch.tick(rule)
            took = max(took, time.perf_counter() - start)
            cpu = max(cpu, time.process_time() - cpu0)
        states = orch.store.load_all()
        wrong = sum(1 for st in states.values() for h in st.health.values() if h.ok is not True)
    mine = f"  cpu here {cpu:6.1f} s" if endpoint else ""
    return (f"  {n:6d} services  {len(compiled['schedules'])} rule(s)  longest tick {took:7.1f} s"
            f"{mine} (function timeout {function_timeout(compiled)} s)  sides not recorded "
            f"healthy: {wrong} of {2 * n}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("counts", nargs="+", type=int)
    ap.add_argument("--prober", choices=("real", "instant"), default="real")
    ap.add_argument("--server", action="store_true", help="moto in its own process")
    args = ap.parse_args()
    proc, endpoint = _moto.start_moto() if args.server else (None, None)
    try:
        with http_server(Behaviour(200, b"ok")) as healthz:
            url = healthz.removesuffix("/healthz")
            where = "moto server in another process" if endpoint else "in-process moto"
            print(f"first tick (every service seeded and written), {where}, "
                  f"prober: {args.prober}")
            for n in args.counts:
                print(one(n, url, args.prober, endpoint), flush=True)
    finally:
        if proc is not None:
            proc.kill()


if __name__ == "__main__":
    main()
