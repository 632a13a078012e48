"""The cost model: the bill from usage, the plan's estimate, the memory size deploy chooses."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_support import multi
from lambdafail.cli.main import run
from lambdafail.deploy import cost, planner
from lambdafail.model.topology import compile_topology
from oncall_support import json_out, unique, write_topology
from runtime_support import compiled, service_cfg


def _topology(n: int, **kw: object) -> dict[str, object]:
    return compiled({f"svc{i:03d}": service_cfg(name=f"svc{i:03d}", **kw)  # type: ignore[arg-type]
                     for i in range(n)})


def test_cost_bill_adds_up_at_list_prices() -> None:
    u = cost.Usage(requests=1e6, gb_seconds=1e5, architecture="arm64", wru=1e6, rru=1e6,
                   log_bytes=1e9, metrics=10)
    b = cost.bill(u)
    assert b["lambda_requests"] == pytest.approx(0.20)
    assert b["lambda_duration"] == pytest.approx(1.33334)
    assert b["dynamodb_writes"] == pytest.approx(0.625)
    assert b["dynamodb_reads"] == pytest.approx(0.125)
    assert b["logs"] == pytest.approx(0.50) and b["metrics"] == pytest.approx(3.0)
    assert b["total"] == pytest.approx(sum(v for k, v in b.items() if k != "total"))
    x86 = cost.bill(cost.Usage(gb_seconds=1e5, architecture="x86_64"))
    assert x86["lambda_duration"] > b["lambda_duration"]


def test_cost_route53_equivalent_counts_features() -> None:
    plain = {"url": "http://a.example.com/h"}
    tls_match = {"url": "https://a.example.com/h", "body_contains": "ok"}
    assert cost.route53_equivalent([plain, plain], fast=False) == pytest.approx(1.00)
    assert cost.route53_equivalent([tls_match], fast=True) == pytest.approx(3.50)
    assert cost.route53_equivalent([plain], fast=False, aws_endpoints=False) == 0.75


def test_cost_estimate_grows_with_services_and_probe_rounds() -> None:
    per = {n: cost.estimate(_topology(n), 128, "arm64") for n in (1, 10, 100)}
    totals = [per[n].bill["total"] for n in (1, 10, 100)]
    assert totals == sorted(totals) and totals[0] > 0
    # Steady state: one write a tick whatever the number of services.
    assert per[1].usage.wru == per[100].usage.wru == cost.SECONDS_PER_MONTH / 60
    assert per[100].usage.metrics == 100
    for n in (10, 100):  # cheaper per service than Route 53 checks of both endpoints
        assert per[n].bill["total"] / n < per[n].route53 / n
    fast = cost.estimate(_topology(10, probes_per_tick=5), 128, "arm64")
    assert fast.bill["lambda_duration"] > 10 * per[10].bill["lambda_duration"]
    assert fast.usage.rru == 5 * per[10].usage.rru


def test_cost_estimate_metrics_modes() -> None:
    data = _topology(3)
    modes = ("none", "state", "probes")
    for svc, mode in zip(data["services"].values(), modes, strict=True):  # type: ignore[attr-defined]
        svc["health"]["metrics"] = mode
    assert cost.estimate(data, 128, "arm64").usage.metrics == 0 + 1 + 5


def test_cost_memory_for_is_the_smallest_that_fits() -> None:
    assert cost.memory_for(_topology(1)) == 128
    assert cost.memory_for(compile_topology(multi())) == 128
    sizes = [cost.memory_for(_topology(n, timeout=3.0)) for n in (1, 10, 100, 250)]
    assert sizes == sorted(sizes) and sizes[-1] > 128
    # A shorter probe timeout leaves less room for CPU starvation: more memory.
    assert cost.memory_for(_topology(100, timeout=0.5)) >= cost.memory_for(_topology(100))
    for n, mb in zip((1, 10, 100, 250), sizes, strict=True):
        assert cost.cpu_seconds(2 * n, mb) <= 3.0 / 2 or mb == cost.MEMORY_SIZES_MB[-1]


def test_cost_function_spec_uses_the_chosen_size() -> None:
    from lambdafail.deploy.iam import Where

    data = compile_topology(multi())
    where = Where(partition="aws", region="us-east-1", account="123456789012")
    fn = next(r for r in planner.desired(data, where=where, code_sha256="x", config_sha256="y")
              if r.kind == "function")
    assert fn.spec["memory_size"] == cost.memory_for(data)
    assert fn.spec["architecture"] == "arm64"


def test_cost_plan_prints_the_estimate(mocked_aws: None, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    name = unique("cost")
    f = write_topology(tmp_path / "t.yaml", name,
                       {"a": ("http://127.0.0.1:9/p", "http://127.0.0.1:9/s"),
                        "b": ("https://127.0.0.1:9/p", "https://127.0.0.1:9/s")})
    assert run(["plan", "-f", str(f), "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "estimated AWS cost: $" in out and "for 2 services" in out
    assert "Route 53 health checks for the same endpoints: $4.00" in out
    assert run(["plan", "-f", str(f), "-o", "json"]) == 0
    doc = json_out(capsys.readouterr().out)
    assert doc["cost"]["route53_health_checks_usd_per_month"] == 4.0
    assert doc["cost"]["usd_per_month"] == pytest.approx(
        sum(doc["cost"]["items"].values()), abs=0.01)
