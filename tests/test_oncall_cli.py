"""The on-call commands through the real CLI subprocess against the session moto server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from oncall_support import Env


@pytest.mark.e2e
def test_oncall_cli_against_moto_server(moto_server: str, tmp_path: Path) -> None:
    env = Env(tmp_path)
    url = ("--endpoint-url", moto_server)
    f = str(env.file)
    try:
        r = run_cli("deploy", "-f", f, "--yes", *url)
        assert r.returncode == 0, r.stderr
        # Deployed but never ticked: the dead-man's switch says so, exit 7.
        r = run_cli("status", "-f", f, "-o", "json", *url)
        assert r.returncode == 7, r.stderr
        doc = json.loads(r.stdout)
        assert doc["orchestrator"]["fresh"] is False and doc["services"][0]["active"] == "primary"
        r = run_cli("failover", "-f", f, "checkout", "--reason", "e2e", "--yes", *url)
        assert r.returncode == 0, r.stderr
        assert "traffic points at standby" in r.stderr
        r = run_cli("status", "-f", f, "--no-color", *url, env={"COLUMNS": "200"})
        assert r.returncode == 7 and "✗ failed_over" in r.stdout and "standby" in r.stdout
        r = run_cli("rollback", "-f", f, "checkout", "--reason", "e2e done", "--yes", *url)
        assert r.returncode == 0, r.stderr
        r = run_cli("rollback", "-f", f, "checkout", "--reason", "again", "--yes", *url)
        assert r.returncode == 0 and "already on the primary" in r.stderr
        r = run_cli("history", "-f", f, "-o", "json", *url)
        assert r.returncode == 0, r.stderr
        assert [t["reason"] for t in json.loads(r.stdout)["transitions"]] == ["rollback",
                                                                              "manual"]
    finally:
        env.close()
