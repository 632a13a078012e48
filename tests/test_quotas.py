"""IAM's policy quotas: the orchestrator's permissions are packed to fit them, validate refuses
what cannot fit (with the numbers), and the sandbox enforces them as AWS does.

Rule: the 250-service deploy runs against the sandbox, which refuses an inline policy over
10,240 characters, a managed policy over 6,144 and an 11th attached policy (moto accepts all).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import run_cli
from deploy_support import multi_scaled_text
from lambdafail.aws import AwsContext
from lambdafail.deploy import iam
from lambdafail.deploy.executor import Executor
from lambdafail.deploy.inventory import plan_for
from lambdafail.model.loader import load_text
from lambdafail.model.topology import compile_topology
from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, running_sandbox, uid

WHERE = iam.Where("aws", "us-east-1", "123456789012")


@pytest.fixture
def slow_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    # Real time: no tick of 250 services fires while the test deploys and reads back.
    yield from running_sandbox(tmp_path, time_scale=1.0)


def _compiled(n: int) -> dict[str, object]:
    compiled = compile_topology(load_text(multi_scaled_text(n), "m.yaml"))
    compiled["region"] = "us-east-1"
    return compiled


@pytest.mark.parametrize("n", [1, 100, 250])
def test_packing_keeps_every_policy_within_its_quota(n: int) -> None:
    doc = iam.orchestrator_policy(_compiled(n), WHERE)  # type: ignore[arg-type]
    inline, managed = iam.package(doc)
    assert iam.policy_size(inline) <= iam.INLINE_QUOTA
    assert len(managed) <= iam.MANAGED_PER_ROLE
    assert all(iam.policy_size(m) <= iam.MANAGED_QUOTA for m in managed)
    # Nothing lost, nothing added: the same actions on the same resources.
    def grants(docs: list[dict[str, object]]) -> set[tuple[str, str]]:
        out = set()
        for d in docs:
            for st in d["Statement"]:  # type: ignore[attr-defined]
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                out |= {(a, r) for a in acts for r in res}
        return out
    assert grants([inline, *managed]) == grants([doc])
    sids = [st["Sid"] for d in (inline, *managed) for st in d["Statement"]]
    assert len(sids) == len(set(sids))
    assert iam.package(doc) == (inline, managed)  # deterministic
    print(f"{n} services: {iam.policy_size(doc)} chars → inline {iam.policy_size(inline)}, "
          f"managed {[iam.policy_size(m) for m in managed]}")


def test_validate_refuses_what_no_packing_fits_with_the_numbers(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(multi_scaled_text(500))
    r = run_cli("validate", "-f", str(f))
    assert r.returncode == 2
    assert "managed policies of at most 6,144" in r.stderr and "(500 services)" in r.stderr
    assert "lambdafail: hint: split the services" in r.stderr
    f.write_text(multi_scaled_text(250))
    assert run_cli("validate", "-f", str(f)).returncode == 0


def test_the_sandbox_refuses_what_iam_refuses(slow_sandbox: Sandbox) -> None:
    client = Clients(slow_sandbox.endpoint_url)("iam")
    role = uid("quota")
    client.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(iam.trust_policy()))

    def doc(n: int) -> str:
        arns = [f"arn:aws:ssm:us-east-1:123456789012:parameter/p{i:05d}" for i in range(n)]
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": arns}]}, indent=4)

    small, big = doc(100), doc(300)  # ~5.6k and ~16.5k characters without whitespace
    client.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=small)
    with pytest.raises(ClientError) as e:
        client.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=small)
    assert e.value.response["Error"]["Code"] == "LimitExceeded"  # the aggregate counts
    # Whitespace does not count: the indented document is well over 10,240 bytes as sent.
    assert len(small) > 6_144
    with pytest.raises(ClientError) as e:
        client.create_policy(PolicyName=uid("big"), PolicyDocument=big)
    assert e.value.response["Error"]["Code"] == "LimitExceeded"
    arns = [client.create_policy(PolicyName=uid("p"), PolicyDocument=doc(1))["Policy"]["Arn"]
            for _ in range(11)]
    for arn in arns[:10]:
        client.attach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        client.attach_role_policy(RoleName=role, PolicyArn=arns[10])
    assert e.value.response["Error"]["Code"] == "LimitExceeded"


@pytest.mark.timeout(900)
def test_250_services_deploy_within_the_quotas_plan_clean_and_destroy(
        slow_sandbox: Sandbox) -> None:
    name = uid("q").replace("-", "")[:16]
    text = multi_scaled_text(250, name).replace("https://", "http://127.0.0.1:9/")
    topo = load_text(text, "q.yaml")
    ctx = AwsContext(region="us-east-1", endpoint_url=slow_sandbox.endpoint_url,
                     credentials={"aws_access_key_id": "testing",
                                  "aws_secret_access_key": "testing"})
    plan, pkg = plan_for(ctx, topo)
    assert not plan.conflicts
    Executor(ctx, plan, pkg).apply()
    client = Clients(slow_sandbox.endpoint_url)("iam")
    role = f"lambdafail-{name}-orchestrator"
    inline = client.get_role_policy(RoleName=role, PolicyName="lambdafail-orchestrator")
    assert iam.policy_size(inline["PolicyDocument"]) <= iam.INLINE_QUOTA
    attached = client.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert 1 <= len(attached) <= iam.MANAGED_PER_ROLE
    assert all(p["PolicyArn"].split(":policy")[1].startswith(f"/lambdafail/{name}/")
               for p in attached)
    again, _ = plan_for(ctx, topo)
    assert again.pending == [], [(c.action, c.kind, c.name) for c in again.pending]
    # Fewer services: the surplus managed policies go, the role keeps what it needs.
    smaller = load_text(multi_scaled_text(40, name).replace("https://", "http://127.0.0.1:9/"),
                        "q.yaml")
    plan, pkg = plan_for(ctx, smaller)
    Executor(ctx, plan, pkg).apply()
    assert len(client.list_attached_role_policies(RoleName=role)["AttachedPolicies"]) == 1
    plan, _ = plan_for(ctx, smaller, mode="destroy", delete_state=True)
    Executor(ctx, plan, None).apply()
    left = client.list_policies(Scope="Local", PathPrefix=f"/lambdafail/{name}/")["Policies"]
    assert left == []
