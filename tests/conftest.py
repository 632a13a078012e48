"""Shared fixtures: fake credentials, in-process moto, one moto server subprocess per session.

Rule: no test ever reaches real AWS — credentials are fake, and every client is created after
moto is active or points at the local moto server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
# Fixtures shared by several test modules, each defined once in its own module.
pytest_plugins = ["sandbox_fixtures", "drill_fixtures", "oncall_support"]

# AWS-verified EventBridge pattern cases (tests/data/eventbridge-patterns/README.md says whence).
CONFORMANCE = ROOT / "tests" / "data" / "eventbridge-patterns" / "cases.json"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`LAMBDAFAIL_TEST_ORDER=reverse` or `shuffle:SEED` reorders the collected tests, to prove
    that no test depends on another having run before it (`.ci/run` runs both)."""
    order = os.environ.get("LAMBDAFAIL_TEST_ORDER", "")
    if order == "reverse":
        items.reverse()
    elif order.startswith("shuffle:"):
        import random

        random.Random(order.partition(":")[2]).shuffle(items)
    elif order:
        raise pytest.UsageError(
            f"LAMBDAFAIL_TEST_ORDER={order!r}: expected 'reverse' or 'shuffle:SEED'")


@pytest.fixture(autouse=True)
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("LAMBDAFAIL_FILE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


@pytest.fixture
def mocked_aws() -> Iterator[None]:
    """In-process moto for the duration of one test."""
    from moto import mock_aws

    with mock_aws():
        yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "") -> None:  # type: ignore[no-untyped-def]
    """Poll `predicate` until it is truthy or the deadline passes (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One real moto server subprocess per test session, on a free loopback port."""
    port = free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    try:
        wait_until(up, timeout=30, what="moto server")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (python -m lambdafail)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "lambdafail", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env, input=input)
