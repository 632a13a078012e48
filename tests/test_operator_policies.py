"""Operator policies past IAM's managed-policy quota (6,144 characters): `permissions
--managed` splits each into documents that fit, granting exactly the same — tested on
configs/multi.yaml's services repeated up to 250 times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deploy_support import multi_scaled_text
from lambdafail.cli.main import run
from lambdafail.deploy import iam, permissions
from lambdafail.model.loader import load_text
from lambdafail.model.topology import compile_topology

WHERE = iam.Where("aws", "us-east-1", "123456789012")


def _grants(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    out = set()
    for d in docs:
        for st in d["Statement"]:
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            cond = json.dumps(st.get("Condition"), sort_keys=True)
            out |= {(a, r, cond) for a in acts for r in res}
    return out


@pytest.mark.parametrize("n", [1, 100, 250])
def test_split_operator_policies_fit_and_grant_the_same(n: int) -> None:
    compiled = compile_topology(load_text(multi_scaled_text(n), "m.yaml"))
    compiled["region"] = "us-east-1"
    sizes = {}
    for role, doc in permissions.all_policies(dict(compiled), WHERE).items():
        parts = iam.split_managed(doc)
        assert all(iam.policy_size(p) <= iam.MANAGED_QUOTA for p in parts)
        assert _grants(parts) == _grants([doc])  # nothing lost, nothing added
        for p in parts:
            sids = [st["Sid"] for st in p["Statement"]]
            assert len(sids) == len(set(sids))
        if iam.policy_size(doc) <= iam.MANAGED_QUOTA - 200:
            assert parts == [doc]
        assert iam.split_managed(doc) == parts  # deterministic
        sizes[role] = (permissions.action_count(doc), iam.policy_size(doc),
                       [iam.policy_size(p) for p in parts])
    print(f"{n} services: {sizes}")
    if n == 250:
        assert all(len(s[2]) > 1 for r, s in sizes.items() if r != "deploy")


def test_permissions_managed_cli_at_250_services(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(multi_scaled_text(250))
    capsys.readouterr()
    assert run(["permissions", "-f", str(f), "--account", "123456789012", "--managed",
                "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"deploy", "oncall", "drill"}
    for role, parts in doc.items():
        assert isinstance(parts, list) and parts
        assert all(iam.policy_size(p) <= iam.MANAGED_QUOTA for p in parts), role
    assert run(["permissions", "-f", str(f), "--account", "123456789012", "--for",
                "oncall"]) == 0
    captured = capsys.readouterr()
    assert "`--managed` splits it" in captured.err
