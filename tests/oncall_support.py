"""Helpers shared by the on-call tests (tests/test_oncall_*.py): topologies, seeding, reads.

Rule: everything goes through real code paths against moto; state is seeded either by the real
`deploy` or, for scale tests, with the runtime's own StateStore.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdafail.sandbox.webservice import WebService


def unique(prefix: str = "oc") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def write_topology(path: Path, name: str, services: dict[str, tuple[str, str]],
                   threshold: int = 3, interval: str = "rate(1 minute)") -> Path:
    lines = ["version: 1", f"name: {name}", "region: us-east-1", "defaults:", "  health:",
             f"    interval: {interval}", f"    failure_threshold: {threshold}",
             "    timeout_seconds: 2", "services:"]
    for svc, (primary, standby) in services.items():
        lines += [f"  {svc}:", f"    primary: {{url: \"{primary}\"}}",
                  f"    standby: {{url: \"{standby}\"}}",
                  "    signals:", f"      - event: {{source: [{name}.{svc}]}}",
                  f"    router: {{ssm_parameter: /{name}/{svc}/active}}"]
    path.write_text("\n".join(lines) + "\n")
    return path


class Env:
    """A deployed topology with two live HTTP targets per service."""

    def __init__(self, tmp_path: Path, services: tuple[str, ...] = ("checkout",)) -> None:
        self.name = unique()
        self.web: dict[tuple[str, str], WebService] = {}
        for svc in services:
            for side in ("primary", "standby"):
                self.web[(svc, side)] = WebService(f"{svc}-{side}").start()
        self.file = write_topology(tmp_path / f"{self.name}.yaml", self.name,
                                   {s: (self.web[(s, "primary")].url,
                                        self.web[(s, "standby")].url) for s in services})
        self.services = services

    def close(self) -> None:
        for w in self.web.values():
            w.stop()

    def ctx(self, endpoint_url: str | None = None) -> Any:
        from lambdafail.aws import AwsContext

        return AwsContext(region="us-east-1", endpoint_url=endpoint_url)

    def compiled(self, ctx: Any) -> dict[str, Any]:
        from lambdafail.model.loader import load
        from lambdafail.oncall import common

        return common.compiled_for(load(str(self.file)), ctx.region)

    def store(self, ctx: Any) -> Any:
        from lambdafail.runtime.state import StateStore

        return StateStore(f"lambdafail-{self.name}-state", ctx.client("dynamodb"))

    def beat(self, ctx: Any, age: float = 1.0, sha: str | None = None) -> None:
        from lambdafail.oncall import common

        compiled = self.compiled(ctx)
        self.store(ctx).heartbeat(time.time() - age,
                                  config_sha256=sha or common.config_sha256(compiled),
                                  function_version="1")

    def observe(self, ctx: Any, service: str, side: str, ok: bool, times: int = 1) -> None:
        """Record probe results the way the orchestrator does (runtime code, conditional save)."""
        from lambdafail.runtime.decisions import record_probe
        from lambdafail.runtime.probes import ProbeResult

        store = self.store(ctx)
        for _ in range(times):
            st = store.get(service)
            record_probe(st, side, ProbeResult(ok=ok, latency_ms=5.0,
                                               detail="HTTP 200" if ok else "HTTP 503"),
                         time.time())
            store.save(st, st.version)


def json_out(text: str) -> Any:
    return json.loads(text)


@pytest.fixture
def oncall_env(mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A deployed one-service topology on in-process moto, on a wide terminal (assertions on
    unwrapped words). Loaded as a pytest plugin by conftest.py."""
    from lambdafail.cli.main import run

    monkeypatch.setenv("COLUMNS", "200")
    e = Env(tmp_path)
    assert run(["deploy", "-f", str(e.file), "--yes", "-o", "json"]) == 0
    yield e
    e.close()
