"""The on-call commands through the real CLI subprocess against the session moto server."""

from __future__ import annotations

import json
import time
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
        # Audit: the deploy is in the same log, shown with --kind; actors are STS identities.
        r = run_cli("history", "-f", f, "-o", "json", "--kind", "all", *url)
        entries = json.loads(r.stdout)["transitions"]
        assert [e["kind"] for e in entries] == ["transition", "transition", "deploy"]
        assert all(e["actor"].startswith("arn:aws:") for e in entries)
        r = run_cli("history", "-f", f, "-o", "json", "--kind", "deploy", *url)
        assert [e["kind"] for e in json.loads(r.stdout)["transitions"]] == ["deploy"]
        # Text from users reaches no terminal raw: stripped from --reason on the way in, and
        # from what another writer put in the log on the way out.
        r = run_cli("failover", "-f", f, "checkout", "--reason", "x\x1b[2J\x07\u202ey", "--yes",
                    *url)
        assert r.returncode == 0, r.stderr
        store = env.store(env.ctx(moto_server))
        assert store.log(kind="transition")[0]["evidence"]["note"] == "x[2Jy"
        store.record("pause", actor="arn:aws:iam::1:user/\x1b]0;owned\x07eve", now=time.time(),
                     reason="\x1b[31mred\x1b[0m \x9b6n")
        r = run_cli("history", "-f", f, "--kind", "all", "--no-color", *url,
                    env={"COLUMNS": "200"})
        assert r.returncode == 0, r.stderr
        assert "pause" in r.stdout and "owned" in r.stdout
        assert not any(c in r.stdout for c in "\x1b\x07\x9b\u202e")
        r = run_cli("destroy", "-f", f, "--yes", *url)
        assert r.returncode == 0, r.stderr
        r = run_cli("history", "-f", f, "-o", "json", "--kind", "destroy", *url)
        assert [e["kind"] for e in json.loads(r.stdout)["transitions"]] == ["destroy"]
    finally:
        env.close()
