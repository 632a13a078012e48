"""Wall time and API calls of `lambdafail status` for N services against a moto server.

Usage: .venv/bin/python bench/status_bench.py [N ...]   (default: 1 100)
Starts its own moto server on a free port, seeds N services with the runtime's StateStore (table,
service items, heartbeat, rules) and their SSM router parameters, then times `gather_status` in-process (median of 5) and the
real CLI (`python -m lambdafail status`, which includes interpreter start-up).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _moto import start_moto


def seed(url: str, n: int, workdir: Path) -> tuple[Path, dict[str, object]]:
    from lambdafail.aws import AwsContext
    from lambdafail.model.loader import load
    from lambdafail.oncall import common
    from lambdafail.runtime.state import StateStore, table_definition

    name = f"bench{uuid.uuid4().hex[:6]}"
    lines = ["version: 1", f"name: {name}", "region: us-east-1", "services:"]
    for i in range(n):
        lines += [f"  svc{i:03d}:", "    primary: {url: \"http://127.0.0.1:9/p\"}",
                  "    standby: {url: \"http://127.0.0.1:9/s\"}",
                  "    signals:", f"      - event: {{source: [{name}.svc{i}]}}",
                  f"    router: {{ssm_parameter: /{name}/svc{i:03d}/active}}"]
    f = workdir / f"{name}.yaml"
    f.write_text("\n".join(lines) + "\n")
    ctx = AwsContext(region="us-east-1", endpoint_url=url)
    compiled = common.compiled_for(load(str(f)), "us-east-1")
    ddb = ctx.client("dynamodb")
    ddb.create_table(**table_definition(str(compiled["table"])))
    store = StateStore(str(compiled["table"]), ddb)
    services: dict[str, dict[str, object]] = compiled["services"]  # type: ignore[assignment]
    for svc in services:
        store.seed(svc, time.time())
    store.heartbeat(time.time(), common.config_sha256(compiled), "1")
    ssm = ctx.client("ssm")
    for cfg in services.values():  # the routers, at the primary: status reads them back
        router: dict[str, object] = cfg["router"]  # type: ignore[assignment]
        ssm.put_parameter(Name=str(router["parameter"]), Type="String", Overwrite=True,
                          Value=str(router["values"]["primary"]))  # type: ignore[index]
    events = ctx.client("events")
    events.create_event_bus(Name=str(compiled["bus"]))
    for rule in compiled["schedules"]:  # type: ignore[attr-defined]
        events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    for cfg in services.values():
        for sig in cfg["signals"]:  # type: ignore[attr-defined]
            events.put_rule(Name=sig["rule"], EventBusName=str(compiled["bus"]),
                            EventPattern='{"source": ["x"]}')
    return f, compiled


def main(sizes: list[int]) -> None:
    from lambdafail.aws import AwsContext
    from lambdafail.oncall import status

    proc, url = start_moto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{'services':>8} {'api calls':>9} {'in-process ms (median)':>24} "
                  f"{'CLI wall ms':>12}")
            for n in sizes:
                f, compiled = seed(url, n, Path(tmp))
                times = []
                calls = 0
                for _ in range(5):
                    ctx = AwsContext(region="us-east-1", endpoint_url=url)
                    t0 = time.perf_counter()
                    report = status.gather_status(ctx, compiled)
                    times.append((time.perf_counter() - t0) * 1000)
                    calls = report.api_calls
                t0 = time.perf_counter()
                r = subprocess.run([sys.executable, "-m", "lambdafail", "status", "-f", str(f),
                                    "--endpoint-url", url, "-o", "json"],
                                   capture_output=True, text=True)
                cli_ms = (time.perf_counter() - t0) * 1000
                assert r.returncode in (0, 7, 8), r.stderr  # 8: never probed here
                print(f"{n:>8} {calls:>9} {statistics.median(times):>24.0f} {cli_ms:>12.0f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 100])
