"""A drill always ends: the real CLI's drill in a subprocess against the moto server, killed
with SIGKILL (no `finally`, no restore), and the orchestrator's real handler ticking in this
process finishing the restore once the drill's recorded deadline has passed — service back on
the primary through the exactly-once switch (reason `drill-abandoned`), fault flags cleared,
lock and deadline gone, a history entry, and a notification on an SQS queue subscribed to the
topology's SNS topic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_until
from lambdafail.runtime.clock import parse_iso
from lambdafail.runtime.drill_guard import RESTORE_MARGIN_SECONDS
from test_drill_env import DrillEnv

TIMEOUT = 3  # the drill's --timeout: its restore deadline is 2 × 3 s + the margin after the lock


def _env(moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         failure_threshold: int) -> tuple[DrillEnv, str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    topic = f"alerts-{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:sns:us-east-1:123456789012:{topic}"
    env = DrillEnv(tmp_path, monkeypatch, endpoint_url=moto_server,
                   failure_threshold=failure_threshold, tick_every=0.2,
                   extra_yaml=f'notify: {{sns_topic_arn: "{arn}"}}\n').provision()
    assert env.client("sns").create_topic(Name=topic)["TopicArn"] == arn
    sqs = env.client("sqs")
    url = sqs.create_queue(QueueName=f"{topic}-q")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    env.client("sns").subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    return env, url


def _drill(env: DrillEnv, moto_server: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lambdafail", "drill", "-f", str(env.file), "checkout", "--yes",
         "--timeout", str(TIMEOUT), "--report-dir", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, AWS_ENDPOINT_URL=moto_server))


def _messages(env: DrillEnv, url: str, until: Any, timeout: float) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    sqs = env.client("sqs")

    def done() -> bool:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return bool(until(got))

    wait_until(done, timeout=timeout, what="the notifications")
    return got


def _history(env: DrillEnv, moto_server: str, kind: str) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "lambdafail", "history", "-f", str(env.file),
                        "checkout", "--kind", kind, "-o", "json"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, AWS_ENDPOINT_URL=moto_server))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    entries: list[dict[str, Any]] = doc["transitions"]
    return entries


@pytest.mark.slow
@pytest.mark.parametrize("when", ["after-the-switch", "during-observe"])
def test_a_killed_drill_is_restored_by_the_orchestrator_after_its_deadline(
        when: str, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    switches = when == "after-the-switch"
    # 100 consecutive failures: the orchestrator never switches, the drill is still observing.
    env, queue = _env(moto_server, tmp_path, monkeypatch, 2 if switches else 100)
    store = env.store()
    try:
        env.start().steady()
        proc = _drill(env, moto_server, tmp_path / "reports")
        try:
            if switches:
                wait_until(lambda: proc.poll() is not None
                           or (env.state().active == "standby"
                               and env.side_of_router() == "standby"),
                           timeout=30, what="the drill's failover")
            else:
                wait_until(lambda: proc.poll() is not None
                           or env.state().health["primary"].failures >= 1,
                           timeout=30, what="the injected fault to be seen")
            assert proc.poll() is None, "the drill ended by itself before the kill"
            proc.kill()
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        killed_at = time.time()
        st = env.state()
        assert st.faults and st.drill and store.drill_lock("checkout") is not None
        drill_id = st.drill["id"]
        restore_by = float(st.drill["restore_by"])
        started = float(store.drill_lock("checkout")["lock_expires_epoch"]) - (
            TIMEOUT * 2 + 60)  # the lock's own TTL: 2 × --timeout + 60 s
        # The deadline derives from the drill's windows, not from a constant.
        assert abs(restore_by - (started + TIMEOUT * 2 + RESTORE_MARGIN_SECONDS)) <= 2
        assert killed_at < restore_by
        wait_until(lambda: env.state().drill is None, timeout=restore_by - time.time() + 30,
                   what="the orchestrator to finish the abandoned drill")
        st = env.state()
        assert st.active == "primary" and st.phase == "steady" and not st.faults
        assert st.health["primary"].failures == 0
        assert env.side_of_router() == "primary"
        assert store.drill_lock("checkout") is None

        entries = _history(env, moto_server, "all")
        abandoned = [e for e in entries if e.get("kind") == "drill-abandoned"]
        # The orchestrator's identity (its handler runs here without a Lambda context).
        assert len(abandoned) == 1 and abandoned[0]["actor"].startswith("function:lambdafail-")
        assert abandoned[0]["actor"].endswith("-orchestrator")
        assert abandoned[0]["evidence"]["drill_id"] == drill_id
        # Not before the deadline: until then the drill might still be alive and restoring.
        assert parse_iso(abandoned[0]["committed_at"]) >= restore_by
        backs = [e for e in entries if e.get("kind", "transition") == "transition"
                 and e.get("to") == "primary"]
        if switches:
            assert [(b["reason"], b["actor"], b["evidence"]["drill_id"]) for b in backs] == [
                ("drill-abandoned", abandoned[0]["actor"], drill_id)]
        else:
            assert backs == []  # it never left the primary: nothing to fail back

        def complete(got: list[dict[str, Any]]) -> bool:
            subjects = [g["Subject"] for g in got]
            return any("drill abandoned" in s for s in subjects) and (
                not switches or any("standby -> primary (drill-abandoned)" in s
                                    for s in subjects))

        got = _messages(env, queue, complete, timeout=30)
        (note,) = [json.loads(g["Message"]) for g in got if "drill abandoned" in g["Subject"]]
        assert note["event"] == "drill-abandoned" and note["drill_id"] == drill_id
        assert note["status"] == "restored" and note["faults_cleared"] == ["primary"]
        if switches:
            assert note["fail_back"]["status"] == "switched"
        else:
            assert "fail_back" not in note
        assert not env.errors, env.errors
    finally:
        env.stop()
