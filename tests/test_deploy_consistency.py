"""Deploy against AWS's eventual consistency, emulated by the sandbox (sandbox/consistency.py):
each wait is bounded and said on screen.

- SQS holds a deleted queue's name for 60 s: destroy then deploy at once waits and succeeds.
- Another update of the function in progress (ResourceConflictException): waited out, retried.
- A new table's tags read back empty for a moment: a quick re-plan reads them again instead of
  calling our own state table foreign.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lambdafail.aws import AwsContext
from lambdafail.deploy import inventory_table
from lambdafail.deploy.executor import Executor
from lambdafail.deploy.inventory import plan_for
from lambdafail.deploy.planner import Change
from lambdafail.model import naming
from lambdafail.model.loader import load
from lambdafail.runtime.table import table_definition
from lambdafail.sandbox.server import Sandbox
from oncall_support import unique, write_topology
from sandbox_support import running_sandbox


@pytest.fixture
def sandbox6(tmp_path: Path) -> Iterator[Sandbox]:
    # Time scale 6: SQS's 60 s hold on a deleted queue name lasts 10 s here.
    yield from running_sandbox(tmp_path, time_scale=6.0)


def _ctx(sb: Sandbox) -> AwsContext:
    return AwsContext(region="us-east-1", endpoint_url=sb.endpoint_url,
                      credentials={"aws_access_key_id": "testing",
                                   "aws_secret_access_key": "testing"})


def _apply(ctx: AwsContext, path: Path, mode: str = "deploy",
           on_start: object = None) -> list[str]:
    plan, pkg = plan_for(ctx, load(str(path)), mode=mode, delete_state=mode == "destroy")
    assert not plan.conflicts, plan.conflicts
    said: list[str] = []

    def progress(c: Change, status: str) -> None:
        said.append(f"{c.kind} {c.name}: {status}")
        if status == "start" and callable(on_start):
            on_start(c)

    Executor(ctx, plan, pkg if mode == "deploy" else None, progress).apply()
    return said


def _topology(tmp_path: Path, threshold: int = 3) -> tuple[str, Path]:
    name = unique("ec")
    return name, write_topology(tmp_path / f"{name}.yaml", name,
                                {"web": ("http://127.0.0.1:9/p", "http://127.0.0.1:9/s")},
                                threshold=threshold)


@pytest.mark.slow  # two deploys and a destroy against the sandbox, ~10 s waiting for SQS
def test_destroy_then_deploy_waits_for_the_queue_name(sandbox6: Sandbox, tmp_path: Path) -> None:
    ctx = _ctx(sandbox6)
    name, f = _topology(tmp_path)
    _apply(ctx, f)
    _apply(ctx, f, mode="destroy")
    said = _apply(ctx, f)
    waits = [s for s in said if "wait:" in s and naming.dlq_name(name) in s]
    assert waits and "deleted less than 60 s ago" in waits[0] and "at most 75s" in waits[0]
    sqs = ctx.client("sqs")
    assert sqs.get_queue_url(QueueName=naming.dlq_name(name))["QueueUrl"]
    assert not plan_for(ctx, load(str(f)))[0].pending  # converged


def test_a_concurrent_function_update_is_waited_out(sandbox: Sandbox, tmp_path: Path) -> None:
    ctx = _ctx(sandbox)
    name, f = _topology(tmp_path)
    _apply(ctx, f)
    write_topology(f, name, {"web": ("http://127.0.0.1:9/p", "http://127.0.0.1:9/s")},
                   threshold=4)  # a new configuration: new code and environment
    other = boto3.client("lambda", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing")

    def someone_else_updates(c: Change) -> None:
        if c.kind == "function":  # a console edit lands just before our update
            other.update_function_configuration(FunctionName=c.name, Description="console")

    said = _apply(ctx, f, on_start=someone_else_updates)
    assert any("another update is in progress" in s for s in said), said
    cfg = other.get_function_configuration(FunctionName=naming.function_name(name))
    assert cfg["Description"].startswith("lambdafail")  # ours was applied after theirs
    assert not plan_for(ctx, load(str(f)))[0].pending


def test_a_new_tables_missing_tags_are_read_again(sandbox: Sandbox, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _ctx(sandbox)
    name, f = _topology(tmp_path)
    ddb = ctx.client("dynamodb")
    # What a deploy interrupted right after CreateTable leaves: our table, tagged at creation.
    ddb.create_table(**table_definition(naming.table_name(name)),
                     Tags=[{"Key": k, "Value": v} for k, v in naming.tags(name).items()])
    plan, _ = plan_for(ctx, load(str(f)))
    assert not plan.conflicts
    assert plan.actual is not None
    [note] = plan.actual.notes
    assert naming.table_name(name) in note and "eventually consistent" in note
    assert note.endswith("tags found")

    # Without the re-read, the same moment makes our own table look foreign.
    monkeypatch.setattr(inventory_table, "TAG_RETRY_DELAYS", ())
    name2, f2 = _topology(tmp_path)
    ddb.create_table(**table_definition(naming.table_name(name2)),
                     Tags=[{"Key": k, "Value": v} for k, v in naming.tags(name2).items()])
    plan2, _ = plan_for(ctx, load(str(f2)))
    assert [c.name for c in plan2.conflicts] == [naming.table_name(name2)]
