"""API calls and wall time of a from-scratch deploy of configs/multi.yaml and of a no-op
re-deploy, against a moto server.

Usage: .venv/bin/python bench/deploy_bench.py [RUNS]   (default 3; prints the median)
Starts its own moto server on a free port; each run deploys a fresh uniquely named copy of
multi.yaml in-process (plan + apply, as `lambdafail deploy --yes` does, without interpreter
start-up), then deploys it again unchanged. Calls are counted by lambdafail's AwsContext,
split into mutating and read-only.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _moto import start_moto

ROOT = Path(__file__).resolve().parent.parent


def deploy_once(endpoint: str, text: str) -> tuple[float, list[tuple[str, str]], list[str]]:
    from lambdafail.aws import AwsContext, is_mutating
    from lambdafail.deploy.executor import Executor
    from lambdafail.deploy.inventory import plan_for
    from lambdafail.model.loader import load_text

    topo = load_text(text, "multi.yaml")
    ctx = AwsContext(region="us-east-1", endpoint_url=endpoint)
    start = time.perf_counter()
    plan, pkg = plan_for(ctx, topo)
    Executor(ctx, plan, pkg).apply()
    seconds = time.perf_counter() - start
    return seconds, ctx.calls, [op for _, op in ctx.calls if is_mutating(op)]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    proc, endpoint = start_moto()
    try:
        fresh: list[float] = []
        noop: list[float] = []
        for _ in range(runs):
            name = f"bench-{uuid.uuid4().hex[:6]}"
            text = (ROOT / "configs" / "multi.yaml").read_text()
            text = text.replace("name: multi", f"name: {name}").replace("/multi/", f"/{name}/")
            t1, calls1, mut1 = deploy_once(endpoint, text)
            t2, calls2, mut2 = deploy_once(endpoint, text)
            fresh.append(t1)
            noop.append(t2)
        print(f"from-scratch deploy: {len(calls1)} calls ({len(mut1)} mutating, "
              f"{len(calls1) - len(mut1)} read-only), median {statistics.median(fresh):.2f}s "
              f"over {runs} runs")
        print("  mutating:", dict(sorted(Counter(mut1).items())))
        print(f"no-op re-deploy:     {len(calls2)} calls ({len(mut2)} mutating, "
              f"{len(calls2) - len(mut2)} read-only), median {statistics.median(noop):.2f}s")
        print("  read-only:", dict(sorted(Counter(op for _, op in calls2).items())))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
