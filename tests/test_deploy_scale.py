"""The largest topology `validate` accepts: it deploys, plans clean, and shows in `status`.

The loader's node budget (MAX_NODES values after alias expansion, an alias-bomb guard) is what
bounds a topology's service count: a service needs at least 7 values (its mapping; primary and
standby, each a mapping and a URL; the router, a mapping and a hook). A YAML anchor keeps that
many services well inside the file-size cap. In-process moto; the deploy is slow (~1 min).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdafail.aws import AwsContext
from lambdafail.cli.main import run
from lambdafail.deploy.inventory import config_items
from lambdafail.model import capacity, loader
from lambdafail.oncall import common

NODES_PER_SERVICE = 7
OVERHEAD_NODES = 3  # the document's mapping, `name`, the `services` mapping


def largest_service_count() -> int:
    return (loader.MAX_NODES - OVERHEAD_NODES) // NODES_PER_SERVICE


def write_services(path: Path, count: int) -> Path:
    lines = ["name: big", "region: us-east-1", "services:",
             "  s0: &svc {primary: {url: 'http://127.0.0.1:9/p'}, "
             "standby: {url: 'http://127.0.0.1:9/s'}, router: {hook: big-switch}}"]
    lines += [f"  s{i}: *svc" for i in range(1, count)]
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size <= loader.MAX_BYTES
    return path


def _json(text: str) -> Any:
    return json.loads(text[text.index("{"):])


def test_one_service_more_than_the_largest_is_refused_with_the_number(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_services(tmp_path / "big.yaml", largest_service_count() + 1)
    assert run(["validate", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"more than {loader.MAX_NODES} values" in " ".join(err.split())


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 2 minutes on two shared cores; the suite's 240 s is for others
@pytest.mark.usefixtures("mocked_aws")
def test_the_largest_topology_validate_accepts_deploys_and_reads_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    count = largest_service_count()
    path = write_services(tmp_path / "big.yaml", count)
    assert run(["validate", "-f", str(path), "-o", "json"]) == 0
    assert len(_json(capsys.readouterr().out)["services"]) == count

    assert run(["deploy", "-f", str(path), "--yes", "--allow-missing", "-o", "json"]) == 0
    capsys.readouterr()
    # Re-planning reads the deployed topology back from the state table: nothing to change.
    assert run(["plan", "-f", str(path), "--detailed-exitcode", "-o", "json"]) == 0
    capsys.readouterr()

    ctx = AwsContext(region="us-east-1")
    compiled = common.compiled_for(loader.load(str(path)), "us-east-1")
    sha = common.config_sha256(compiled)
    kept = config_items(ctx, str(compiled["table"]), {sha})
    assert kept == {sha: compiled}
    # Far past what one DynamoDB item holds as a JSON string (400 KB).
    assert len(json.dumps(compiled)) > 10 * 400 * 1024
    # Every tick invocation carries no more than one invocation can (model/capacity.py), and
    # each of those rules exists on the default bus.
    size = capacity.services_per_invocation(3.0)
    assert all(len(s["services"]) <= size for s in compiled["schedules"].values())
    assert len(compiled["schedules"]) == -(-count // size)
    events = ctx.client("events")
    names = set()
    for page in events.get_paginator("list_rules").paginate(NamePrefix="lambdafail-big-tick-"):
        names |= {r["Name"] for r in page["Rules"]}
    assert names == set(compiled["schedules"])

    code = run(["status", "-f", str(path), "-o", "json"])
    cap = capsys.readouterr()
    assert code in (0, 7), cap.err[-3000:]
    doc = _json(cap.out)
    assert len(doc["services"]) == count
    assert {s["active"] for s in doc["services"]} == {"primary"}
    assert doc["orchestrator"]["drift"] is False
    # Deployed but never ticked: the orchestrator is reported stale (degraded), not an error.
    assert code == 7 and doc["orchestrator"]["fresh"] is False
