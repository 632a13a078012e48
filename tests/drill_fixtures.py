"""The `drill_env` fixture of the test_drill_* modules: a provisioned topology in moto.

Rule: each test gets its own environment, stopped after it. Loaded as a pytest plugin by
conftest.py so it is defined once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from test_drill_env import DrillEnv


@pytest.fixture
def drill_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              mocked_aws: None) -> Iterator[DrillEnv]:
    env = DrillEnv(tmp_path, monkeypatch).provision()
    try:
        yield env
    finally:
        env.stop()
