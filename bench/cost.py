"""What the orchestrator costs on AWS: ticks run in-process on moto, counted, priced a month.

Run: .venv/bin/python bench/cost.py [--sizes 1,10,100,250] [--ticks 3] [--markdown]

For 1, 10, 100 and 250 services, healthy / one primary failing / all primaries failing, and
probes_per_tick 1 and 5, each case runs in its own interpreter (for its peak memory): the real
Orchestrator against in-process moto, probing real HTTP targets on loopback (a server in another
process: /ok answers 200, /fail 503), a fake clock (the waits between probe rounds are counted,
not slept). After warm-up ticks (first probes, counters to their thresholds, the failovers), it
measures steady ticks and counts:

- AWS calls by operation, DynamoDB read and write request units (sized from the items as
  DynamoDB sizes them: moto's ConsumedCapacity is not AWS's), log and EMF bytes, the distinct
  custom metrics emitted;
- CPU time per tick (moto's request handling included, so an upper bound of the handler's),
  and peak RSS (moto and the bench included: an upper bound of Lambda's "Max Memory Used");
- Lambda duration at each memory size, from the model in `lambdafail.cost` (round work scaled by
  the CPU share Lambda gives that size; the waits between rounds billed in full);

then prints the monthly bill at the list prices in `lambdafail.cost.PRICES` (us-east-1, dated)
next to Route 53 health checks for the same endpoints, and the estimate `plan` prints for the
same topology (the model, to compare with the measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import _moto  # noqa: E402,F401  (fake credentials before boto3 is used)

SCENARIOS = ("healthy", "one failing", "all failing")
WARMUP_TICKS = 6
PROBE_TIMEOUT = 2.0  # the bench's probes
PRICED_TIMEOUT = 3.0  # the topology default: what the memory size is chosen for
DEFAULT_ARCH = "arm64"

TARGET_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path.startswith("/ok") else 503
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
s.request_queue_size = 256
print(s.server_address[1], flush=True)
s.serve_forever()
"""


# --- DynamoDB item sizes (docs.aws.amazon.com/amazondynamodb/latest/developerguide/
#     CapacityUnitCalculations.html): names + values; numbers ~1 byte per 2 digits + 1;
#     maps and lists 3 bytes + 1 byte per element ------------------------------------------

def value_size(v: dict[str, Any]) -> int:
    (kind, x), = v.items()
    if kind in ("S", "B"):
        return len(x.encode() if isinstance(x, str) else x)
    if kind == "N":
        return len(str(x).strip("-").replace(".", "").lstrip("0")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(e) + 1 for k, e in x.items())
    if kind == "L":
        return 3 + sum(value_size(e) + 1 for e in x)
    return sum(len(str(e)) for e in x)  # sets


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


class Meter:
    """Counts a DynamoDB client's calls and request units, and CPU spent inside AWS calls."""

    def __init__(self, ddb: Any, other: list[Any], peek: Any) -> None:
        self.calls: dict[str, int] = {}
        self.wru = 0.0
        self.rru = 0.0
        self.cpu_in_calls = 0.0
        self._params: dict[str, Any] = {}
        self._t0 = 0.0
        self._peek = peek  # a second, unmetered client of the same moto backend
        for client in [ddb, *other]:
            client.meta.events.register("before-call", self._before)
            client.meta.events.register("after-call", self._after_any)
        ddb.meta.events.register("before-parameter-build.dynamodb", self._params_of)
        ddb.meta.events.register("after-call.dynamodb", self._units)

    def reset(self) -> None:
        self.calls, self.wru, self.rru, self.cpu_in_calls = {}, 0.0, 0.0, 0.0

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1
        self._t0 = time.process_time()

    def _after_any(self, **_: Any) -> None:
        self.cpu_in_calls += time.process_time() - self._t0

    def _params_of(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._params = dict(params)

    def _current(self, table: str, key: dict[str, Any]) -> int:
        got = self._peek.get_item(TableName=table, Key=key).get("Item")
        return item_size(got) if got else 0

    def _units(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        p, op = self._params, model.name
        if op == "Query":
            size = sum(item_size(i) for i in parsed.get("Items", []))
            self.rru += max(1, math.ceil(size / 4096))  # strongly consistent: 4 KB a unit
        elif op == "GetItem":
            self.rru += max(1, math.ceil(item_size(parsed.get("Item") or {}) / 4096))
        elif op == "PutItem":
            self.wru += max(1, math.ceil(item_size(p["Item"]) / 1024))
        elif op in ("UpdateItem", "DeleteItem"):
            self.wru += max(1, math.ceil(self._current(p["TableName"], p["Key"]) / 1024))
        elif op == "TransactWriteItems":
            for entry in p["TransactItems"]:
                (kind, body), = entry.items()
                size = (item_size(body["Item"]) if kind == "Put"
                        else self._current(body["TableName"], body["Key"]))
                self.wru += 2 * max(1, math.ceil(size / 1024))  # transactions: twice


# --- one case, in its own interpreter -------------------------------------------------------

def run_case(n: int, scenario: str, probes_per_tick: int, port: int, ticks: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from lambdafail.runtime.log import Logger
    from runtime_support import REGION, compiled, make_env, service_cfg

    base = f"http://127.0.0.1:{port}"

    def primary(i: int) -> str:
        failing = scenario == "all failing" or (scenario == "one failing" and i == 0)
        return f"{base}/{'fail' if failing else 'ok'}/p{i}"

    services = {f"svc{i:03d}": service_cfg(
        name=f"svc{i:03d}", probes_per_tick=probes_per_tick, timeout=PROBE_TIMEOUT,
        primary={"kind": "url", "url": primary(i), "expect_status": 200, "body_contains": None},
        standby={"kind": "url", "url": f"{base}/ok/s{i}", "expect_status": 200,
                 "body_contains": None}) for i in range(n)}
    data = compiled(services)
    log_bytes = {"emf": 0, "other": 0}

    def sink(line: str) -> None:
        log_bytes["emf" if line.startswith('{"_aws"') else "other"] += len(line) + 1

    with mock_aws():
        env = make_env(data)
        env.logger = Logger(sink=sink, keep=True)
        meter = Meter(env.store.ddb, [env.ssm.inner], boto3.client("dynamodb",
                                                                    region_name=REGION))
        orch = env.orchestrator(prober=None)  # the real concurrent HTTP probes
        for _ in range(WARMUP_TICKS):
            env.tick(orch)
        rss_start = _reset_peak_rss()
        meter.reset()
        log_bytes.update(emf=0, other=0)
        env.logger.records.clear()
        env.sleeps.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        rounds = 0
        for _ in range(ticks):
            rounds += int(env.tick(orch)["rounds"])
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        calls, wru, rru, cpu_in_calls = (dict(meter.calls), meter.wru, meter.rru,
                                         meter.cpu_in_calls)  # before the reads below
        metrics = {json.dumps([m["Name"] for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
                              + sorted((k, str(r[k])) for k in
                                       r["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]))
                   for r in env.logger.emf_records()}
        active = {s: env.active(s) for s in services}
        items = meter._peek.query(TableName=data["table"], KeyConditionExpression="pk = :pk",
                                  ExpressionAttributeValues={":pk": {"S": "service"}})["Items"]
        item_bytes = round(sum(map(item_size, items)) / max(len(items), 1))
    per = 1.0 / ticks
    return {
        "services": n, "scenario": scenario, "probes_per_tick": probes_per_tick,
        "rounds_per_tick": rounds * per,
        "calls_per_tick": {k: v * per for k, v in sorted(calls.items())},
        "aws_calls_per_tick": sum(calls.values()) * per,
        "wru_per_tick": wru * per, "rru_per_tick": rru * per,
        "emf_bytes_per_tick": log_bytes["emf"] * per,
        "other_log_bytes_per_tick": log_bytes["other"] * per,
        "metrics": len(metrics),
        "cpu_ms_per_tick": cpu * per * 1000, "cpu_ms_in_aws_calls_per_tick":
            cpu_in_calls * per * 1000,
        "wall_ms_per_tick_without_waits": wall * per * 1000,
        "waits_s_per_tick": sum(env.sleeps) * per,
        "on_standby": sum(1 for a in active.values() if a == "standby"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tick_rss_growth_mb": max(0.0, _status_mb("VmHWM") - rss_start),
        "service_item_bytes": item_bytes,
    }


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak_rss() -> float:
    """Reset the peak RSS (VmHWM) to the current RSS (Linux: clear_refs 5); returns it."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def baseline_rss() -> float:
    """Peak RSS of what Lambda itself would hold: the handler and boto3 with a client."""
    code = ("import resource, boto3, lambdafail.runtime.handler as h; "
            "boto3.client('dynamodb', region_name='us-east-1'); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


# --- pricing ----------------------------------------------------------------------------------

def monthly(case: dict[str, Any], memory_mb: int, arch: str) -> dict[str, Any]:
    from lambdafail.deploy import cost

    ticks = cost.SECONDS_PER_MONTH / 60.0
    rounds = max(1, round(case["rounds_per_tick"]))
    cpu_round = case["cpu_ms_per_tick"] / rounds
    seconds = cost.tick_seconds(60.0, rounds, 2 * case["services"], memory_mb, cpu_round)
    u = cost.Usage(requests=ticks, gb_seconds=ticks * seconds * memory_mb / 1024,
                   architecture=arch, wru=ticks * case["wru_per_tick"],
                   rru=ticks * case["rru_per_tick"],
                   log_bytes=ticks * (case["emf_bytes_per_tick"]
                                      + case["other_log_bytes_per_tick"]
                                      + cost.PLATFORM_LOG_BYTES),
                   metrics=case["metrics"])
    b = cost.bill(u)
    r53 = case["services"] * cost.route53_equivalent(
        [{"url": "http://a"}, {"url": "http://b"}], fast=case["probes_per_tick"] > 1)
    return {"bill": b, "tick_seconds": seconds, "round_seconds":
            cost.round_seconds(2 * case["services"], memory_mb, cpu_round), "route53": r53}


def case_topology(n: int, probes_per_tick: int) -> dict[str, Any]:
    from runtime_support import compiled, service_cfg

    return compiled({f"svc{i:03d}": service_cfg(name=f"svc{i:03d}",
                                                probes_per_tick=probes_per_tick,
                                                timeout=PRICED_TIMEOUT)
                     for i in range(n)})


def plan_estimate(n: int, probes_per_tick: int, memory_mb: int, arch: str) -> float:
    from lambdafail.deploy import cost

    return cost.estimate(case_topology(n, probes_per_tick), memory_mb, arch).bill["total"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10,100,250")
    ap.add_argument("--ticks", type=int, default=3)
    ap.add_argument("--memory", type=int, default=None,
                    help="price at this size (default: the size deploy chooses, "
                         "lambdafail.cost.memory_for)")
    ap.add_argument("--arch", default=DEFAULT_ARCH, choices=("arm64", "x86_64"))
    ap.add_argument("--markdown", action="store_true", help="tables for docs/cost.md")
    ap.add_argument("--json", action="store_true", help="the raw measurements")
    ap.add_argument("--case", nargs=4, metavar=("N", "SCENARIO", "PROBES", "PORT"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--from-json", metavar="FILE", help="report saved --json measurements")
    args = ap.parse_args()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        report(saved["cases"], saved["baseline_rss_mb"], args.memory, args.arch, args.markdown)
        return
    if args.case:
        n, scenario, probes, port = args.case
        print(json.dumps(run_case(int(n), scenario, int(probes), int(port), args.ticks)))
        return

    server = subprocess.Popen([sys.executable, "-c", TARGET_SERVER], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        cases = []
        for n in (int(x) for x in args.sizes.split(",")):
            for probes in (1, 5):
                for scenario in SCENARIOS:
                    if n == 1 and scenario == "one failing":
                        continue  # the same as all failing
                    out = subprocess.run(
                        [sys.executable, __file__, "--ticks", str(args.ticks), "--case",
                         str(n), scenario, str(probes), str(port)],
                        capture_output=True, text=True, timeout=1800,
                        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
                    if out.returncode:
                        raise SystemExit(f"case {n} {scenario} {probes} failed:\n{out.stderr}")
                    cases.append(json.loads(out.stdout))
                    print(f"measured {n:>3} services, {scenario:<11}, probes_per_tick "
                          f"{probes}", file=sys.stderr)
    finally:
        server.kill()
        server.wait(timeout=10)
    base_rss = baseline_rss()
    if args.json:
        print(json.dumps({"cases": cases, "baseline_rss_mb": base_rss}, indent=1))
        return
    report(cases, base_rss, args.memory, args.arch, args.markdown)


def report(cases: list[dict[str, Any]], base_rss: float, memory_mb: int, arch: str,
           markdown: bool) -> None:
    from lambdafail.deploy import cost

    def size(c: dict[str, Any]) -> int:
        return memory_mb or cost.memory_for(case_topology(c["services"], c["probes_per_tick"]))

    def row(cells: list[Any]) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |" if markdown else \
            "  ".join(f"{c!s:>12}" for c in cells)

    print(f"Prices: AWS us-east-1 list prices checked {cost.PRICES_CHECKED}, free tiers "
          "ignored:")
    for name, p in cost.PRICES.items():
        mark = " (assumption)" if p.assumption else ""
        print(f"  {name}: ${p.usd:.10g} per {p.unit} — {p.source}{mark}")
    print(f"Lambda at {memory_mb or 'the deployed'} MB, {arch}; probes and AWS calls "
          "assumed to wait "
          f"{cost.PROBE_WAIT_MS:g} ms / {cost.AWS_CALL_MS:g} ms (not measured: loopback and "
          "moto answer at once)\n")
    head = ["services", "case", "probes/tick", "AWS calls/tick", "DDB writes/tick",
            "WRU/tick", "RRU/tick", "log+EMF B/tick", "metrics", "CPU ms/tick",
            "RSS MB (est.)", "memory MB",
            "tick s", "$/month", "$/service", "Route 53 $/service", "plan $/month"]
    print(row(head))
    if markdown:
        print("|" + "---|" * len(head))
    for c in cases:
        m = monthly(c, size(c), arch)
        writes = sum(v for k, v in c["calls_per_tick"].items()
                     if k in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"))
        est = plan_estimate(c["services"], c["probes_per_tick"], size(c), arch) \
            if c["scenario"] == "healthy" else None
        print(row([c["services"], c["scenario"], c["probes_per_tick"],
                   f"{c['aws_calls_per_tick']:.0f}", f"{writes:.0f}",
                   f"{c['wru_per_tick']:.0f}", f"{c['rru_per_tick']:.0f}",
                   f"{c['emf_bytes_per_tick'] + c['other_log_bytes_per_tick']:,.0f}",
                   c["metrics"], f"{c['cpu_ms_per_tick']:.0f}",
                   f"{base_rss + c['tick_rss_growth_mb']:.0f}", size(c),
                   f"{m['tick_seconds']:.2f}", f"{m['bill']['total']:.2f}",
                   f"{m['bill']['total'] / c['services']:.3f}",
                   f"{m['route53'] / c['services']:.2f}",
                   "" if est is None else f"{est:.2f}"]))
    print(f"\nRSS MB (est.): peak RSS of the handler + boto3 + a client without moto "
          f"({base_rss:.0f} MB) plus the RSS growth measured during the ticks (moto's included)")
    print("\nRight-sizing (healthy cases): billed duration and $/month by memory size. The "
          f"deadline: a round's CPU work within half the probe timeout ({PRICED_TIMEOUT:g} s, "
          "the default), or CPU starvation reads as probe timeouts")
    head = ["services", "probes/tick", "memory MB", "CPU s/round", "round s", "tick s",
            "x86_64 $/month", "arm64 $/month", "fits"]
    print(row(head))
    if markdown:
        print("|" + "---|" * len(head))
    for c in cases:
        if c["scenario"] != "healthy":
            continue
        rounds = max(1, round(c["rounds_per_tick"]))
        for mb in cost.MEMORY_SIZES_MB:
            x86 = monthly(c, mb, "x86_64")
            arm = monthly(c, mb, "arm64")
            cpu = cost.cpu_seconds(2 * c["services"], mb, c["cpu_ms_per_tick"] / rounds)
            chosen = " (deploy)" if mb == size(c) else ""
            print(row([c["services"], c["probes_per_tick"], f"{mb}{chosen}", f"{cpu:.2f}",
                       f"{arm['round_seconds']:.2f}", f"{arm['tick_seconds']:.2f}",
                       f"{x86['bill']['total']:.2f}", f"{arm['bill']['total']:.2f}",
                       "yes" if cpu <= PRICED_TIMEOUT / 2 else "NO"]))


if __name__ == "__main__":
    main()
