"""Fixtures of the test_sandbox_* modules: an in-process sandbox and clients pointed at it.

Rule: each test gets a fresh sandbox, stopped (and moto's process-wide state reset) after it.
Loaded as a pytest plugin by conftest.py; a module defining its own `aws` fixture (the
runtime tests use in-process moto) overrides this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, running_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    yield from running_sandbox(tmp_path)


@pytest.fixture
def aws(sandbox: Sandbox) -> Clients:
    return Clients(sandbox.endpoint_url)
