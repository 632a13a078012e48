"""Per-step timings of the demo's pilot-light plan, measured by `lambdafail drill`.

Usage: .venv/bin/python bench/pilot_drill_bench.py [RUNS]   (default 3)
Starts the sandbox in-process (time scale 60, as the demo), the demo's pilot service (a
primary web service, a standby that is off, the loopback starter and the real step function
`demo-start-standby`), deploys it, then drills it RUNS times through the real CLI — each time
with the standby off again first — and prints each drill's detect / steps / switch split and
every step's duration from its report.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from lambdafail import demo, demo_pilot
from lambdafail.cli.main import run
from lambdafail.sandbox.server import Sandbox
from lambdafail.sandbox.webservice import WebService


def main(runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="pilot-drill-"))
    sandbox = Sandbox(time_scale=demo.DEFAULT_TIME_SCALE, state_file=work / "sandbox.json",
                      region=demo.REGION)
    url = sandbox.start()
    primary = WebService("pilot-primary").start()
    standby = WebService("pilot-standby").start()
    standby.stop()
    starter = demo_pilot.Starter(standby)
    os.environ["LAMBDAFAIL_SANDBOX_STATE"] = str(sandbox.state_file)
    try:
        from lambdafail.aws import AwsContext

        ctx = AwsContext(region=demo.REGION, endpoint_url=url,
                         credentials=dict(demo.SANDBOX_CREDENTIALS))
        demo_pilot.create_function(ctx)
        f = work / "lambdafail.yaml"
        body = demo.topology_yaml(primary.url, "http://127.0.0.1:9/", "").split("services:")[0]
        f.write_text(body + "services:\n" + demo_pilot.service_yaml(primary.url, standby.url,
                                                                     starter.url))
        assert run(["--sandbox", "deploy", "--yes", "-f", str(f), "-o", "json"]) == 0
        time.sleep(3)  # the first ticks
        for i in range(runs):
            standby.stop()
            time.sleep(demo.COOLDOWN_SECONDS + 2)  # the cooldown, and the standby seen down
            out = work / f"drill-{i + 1}"
            code = run(["--sandbox", "drill", demo_pilot.SERVICE, "--yes", "--timeout", "60",
                        "--report-dir", str(out), "-f", str(f), "-o", "json"])
            doc = json.loads((out / "report.json").read_text())
            t = doc["timings"]
            steps = ", ".join(f"{s['kind']} {s['duration_s']:.2f} s"
                              for s in doc["recovery"]["failover"]["steps"])
            print(f"drill {i + 1}: exit {code}; detect {t['time_to_detect_s']:.2f} s, decide "
                  f"{t['decide_s']:.2f} s, steps "
                  f"{t['steps_s']:.2f} s ({steps}), switch {t['switch_after_steps_s']:.2f} s, "
                  f"total {t['total_s']:.2f} s (RTO {doc['rto_seconds']:g} s)", flush=True)
    finally:
        starter.stop()
        primary.stop()
        standby.stop()
        sandbox.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
