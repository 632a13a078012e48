"""The runtime stands alone inside Lambda: stdlib + boto3 only, and a cheap import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

BLOCKER = textwrap.dedent("""
    import importlib.abc, sys, json, time

    BLOCKED = {"click", "rich", "yaml", "pydantic", "pydantic_core", "moto"}

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not available inside Lambda")
            return None

    sys.meta_path.insert(0, Blocker())
    t = time.perf_counter()
    import lambdafail.runtime.handler
    took = time.perf_counter() - t
    import lambdafail.runtime.patterns, lambdafail.runtime.probes, lambdafail.runtime.routers
    import lambdafail.runtime.state, lambdafail.runtime.transitions, lambdafail.runtime.log
    print(json.dumps({"seconds": took, "boto3": "boto3" in sys.modules,
                      "mods": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
""")


def test_runtime_imports_without_cli_dependencies() -> None:
    proc = subprocess.run([sys.executable, "-c", BLOCKER],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["mods"] == []
    # boto3 is imported on first use, not at import time (cold starts stay cheap).
    assert out["boto3"] is False
    assert out["seconds"] < 1.0


PING = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    cfg = Path(sys.argv[1])
    cfg.write_text(json.dumps({"format": 1, "topology": "t", "table": "x", "region": "us-east-1",
                               "schedules": {}, "services": {}}))
    os.environ["LAMBDAFAIL_CONFIG_PATH"] = str(cfg)
    from lambdafail.runtime.handler import handle
    out = handle({"lambdafail": "ping"}, None)
    print(json.dumps({"out": out, "boto3": "boto3" in sys.modules}))
""")


def test_runtime_ping_touches_no_aws(tmp_path: object) -> None:
    proc = subprocess.run([sys.executable, "-c", PING, f"{tmp_path}/lambdafail_config.json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["out"]["ok"] is True and len(res["out"]["config_sha256"]) == 64
    assert res["boto3"] is False
