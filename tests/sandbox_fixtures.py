"""Fixtures of the test_sandbox_* modules: an in-process sandbox and clients pointed at it.

Rule: each test gets a fresh sandbox, stopped (and moto's process-wide state reset) after it.
Loaded as a pytest plugin by conftest.py; a module defining its own `aws` fixture (the
runtime tests use in-process moto) overrides this one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_until
from lambdafail.runtime.state import ServiceState, StateStore
from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, running_sandbox

# The time scale of `sandbox_proc`: rate(1 minute) ticks once a second.
PROC_TIME_SCALE = 60.0


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    yield from running_sandbox(tmp_path)


@pytest.fixture
def enforced_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox with `--enforce-iam`: the key `testing` is root, IAM users' keys (see
    `sandbox_support.iam_user`) get what their policies allow, the orchestrator its role's."""
    yield from running_sandbox(tmp_path, enforce_iam=True)


@pytest.fixture
def aws(sandbox: Sandbox) -> Clients:
    return Clients(sandbox.endpoint_url)


@pytest.fixture
def sandbox_proc(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`lambdafail sandbox --enforce-iam` in its own process (the real CLI), at
    PROC_TIME_SCALE; yields the process and its state file (LAMBDAFAIL_SANDBOX_STATE for the
    CLI calls). The CLI signs as the account root (`testing`); the orchestrator runs as its
    role, so every tick is authorized against the role deploy made."""
    state = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdafail", "sandbox", "--port", "0", "--time-scale",
         str(PROC_TIME_SCALE), "--state-file", str(state), "--enforce-iam"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        wait_until(lambda: state.exists() or proc.poll() is not None, timeout=30,
                   what="the sandbox's state file")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield proc, state
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    # The orchestrator was never refused anything its role should have granted.
    log = state.with_suffix(".log")
    refused = [line for line in (log.read_text().splitlines() if log.exists() else [])
               if "DENIED" in line and ":assumed-role/lambdafail-" in line]
    assert refused == [], refused


Wait = Callable[[Callable[[ServiceState], Any], float, str], None]


def region_client(endpoint: str, service: str, region: str) -> Any:
    """A plain boto3 client (not lambdafail's) for `service` in `region` of the sandbox at
    `endpoint`: one attempt, the sandbox's root keys."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


def state_waiter(store: StateStore, service: str) -> Wait:
    """Wait on the state table directly (cheap, in-process) before asking the CLI once:
    every CLI call is a fresh interpreter, too slow to poll with on a loaded 2-core box."""
    def wait(ok: Callable[[ServiceState], Any], timeout: float, what: str) -> None:
        def check() -> bool:
            st: ServiceState | None = store.get(service)
            return st is not None and bool(ok(st))
        wait_until(check, timeout=timeout, interval=0.05, what=what)
    return wait


def sandbox_topology(path: Path, name: str, services: str, threshold: int = 2,
                     rto_seconds: int = 30) -> str:
    """A topology for `sandbox_proc` tests: probes every minute (every second at the time
    scale), 1 s timeouts, a 1 s cooldown, manual failback; `services` is the YAML under
    `services:` (indented two spaces). Returns the path as text."""
    path.write_text(f"""\
version: 1
name: {name}
region: us-east-1
defaults:
  health: {{interval: rate(1 minute), timeout_seconds: 1, failure_threshold: {threshold},
           recovery_threshold: 2}}
  policy: {{cooldown_seconds: 1, failback: manual, rto_seconds: {rto_seconds}}}
services:
{services}""")
    return str(path)
