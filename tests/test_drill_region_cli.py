"""`lambdafail drill --scenario region-outage --outage-region REGION`: what it refuses, through
the real CLI, before any AWS call (exit 2, a clear error, never a traceback). The drill itself
runs end to end in tests/test_e2e_region_outage.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli


def _topology(path: Path) -> str:
    path.write_text("""\
version: 1
name: rgcli
region: us-east-1
control: {regions: [us-west-2]}
services:
  web:
    primary: {url: "http://127.0.0.1:9/healthz"}
    standby: {url: "http://127.0.0.1:10/healthz", region: us-east-2}
    router: {ssm_parameter: /rgcli/web/active, region: us-east-2}
  api:
    primary: {url: "http://127.0.0.1:11/healthz", region: eu-west-1}
    standby: {url: "http://127.0.0.1:12/healthz", region: us-east-2}
    router: {ssm_parameter: /rgcli/api/active, region: us-east-2}
""")
    return str(path)


@pytest.mark.parametrize(("args", "said"), [
    (["web", "--outage-region", "us-east-1"], "give SERVICE or --outage-region, not both"),
    (["--scenario", "event", "--outage-region", "us-east-1"],
     "--outage-region drills a region outage, not --scenario event"),
    (["--scenario", "primary-down", "--outage-region", "us-east-1"],
     "not --scenario primary-down"),
    (["--outage-region", "us-east-1", "--no-restore"], "--no-restore apply to the drill of one"),
    (["--outage-region", "us-east-1", "--abort", "--reason", "x"], "--abort, --reason apply"),
    (["--outage-region", "us-east-1", "--check-url", "http://x"], "--check-url apply"),
    (["--scenario", "region-outage"], "give SERVICE (or --scenario region-outage "
                                      "--outage-region REGION"),
    (["--outage-region", "us-moon-1"], "not an AWS region: 'us-moon-1'"),
    (["--outage-region", "ap-south-1", "--yes"],
     "no service of topology 'rgcli' has its primary in ap-south-1"),
])
def test_bad_region_drills_are_usage_errors(tmp_path: Path, args: list[str], said: str) -> None:
    f = _topology(tmp_path / "t.yaml")
    r = run_cli("drill", "-f", f, *args, timeout=60)
    assert r.returncode == 2, r.stderr
    assert said in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_no_primary_in_the_region_names_where_the_primaries_are(tmp_path: Path) -> None:
    f = _topology(tmp_path / "t.yaml")
    r = run_cli("drill", "-f", f, "--outage-region", "us-west-2", "--yes", timeout=60)
    assert r.returncode == 2, r.stderr
    assert "hint: primaries are in: eu-west-1, us-east-1" in r.stderr, r.stderr
