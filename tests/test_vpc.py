"""`orchestrator: {vpc: ...}`: the function runs in the subnets, its role may manage its
network interfaces, the operator's deploy policy may describe the VPC, and leaving the VPC is
an ordinary update. In-process moto (a real EC2 VPC, subnets and security group)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdafail.cli.main import run
from lambdafail.model import naming
from lambdafail.model.placement import ENI_ACTIONS
from oncall_support import Env


def _network(ctx: Any) -> tuple[list[str], str]:
    ec2 = ctx.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    sg = ec2.create_security_group(GroupName="lf-orchestrator", Description="x",
                                   VpcId=vpc)["GroupId"]
    return subnets, sg


def _vpc_block(subnets: list[str], sg: str) -> str:
    return (f"orchestrator:\n  vpc:\n    subnet_ids: [{', '.join(reversed(subnets))}]\n"
            f"    security_group_ids: [{sg}]\n")


def test_vpc_placement_deploys_converges_and_leaves(mocked_aws: None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    env = Env(tmp_path)
    try:
        ctx = env.ctx()
        subnets, sg = _network(ctx)
        plain = env.file.read_text()
        env.file.write_text(plain + _vpc_block(subnets, sg))
        f = str(env.file)
        assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
        lam = ctx.client("lambda")
        cfg = lam.get_function_configuration(FunctionName=naming.function_name(env.name))
        assert sorted(cfg["VpcConfig"]["SubnetIds"]) == sorted(subnets)
        assert cfg["VpcConfig"]["SecurityGroupIds"] == [sg]
        iam = ctx.client("iam")
        role = naming.role_name(env.name)
        doc = iam.get_role_policy(RoleName=role, PolicyName=naming.INLINE_POLICY)[
            "PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        [eni] = [s for s in doc["Statement"] if s.get("Sid") == "VpcNetworkInterfaces"]
        assert sorted(eni["Action"]) == sorted(ENI_ACTIONS) and eni["Resource"] == "*"
        capsys.readouterr()
        assert run(["plan", "-f", f, "--detailed-exitcode"]) == 0  # converged, order ignored

        capsys.readouterr()
        assert run(["permissions", "-f", f, "--for", "deploy", "-o", "json"]) == 0
        policy = json.loads(capsys.readouterr().out)["deploy"]
        [vpc_st] = [s for s in policy["Statement"] if s["Sid"] == "VpcPlacement"]
        assert vpc_st["Action"] == ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                                    "ec2:DescribeVpcs"]

        env.file.write_text(plain)  # out of the VPC again
        assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
        cfg = lam.get_function_configuration(FunctionName=naming.function_name(env.name))
        assert not (cfg.get("VpcConfig") or {}).get("SubnetIds")
        doc = iam.get_role_policy(RoleName=role, PolicyName=naming.INLINE_POLICY)[
            "PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        assert not any(s.get("Sid") == "VpcNetworkInterfaces" for s in doc["Statement"])
        assert run(["plan", "-f", f, "--detailed-exitcode"]) == 0
    finally:
        env.close()
