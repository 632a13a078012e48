"""Where the orchestrator function runs: `orchestrator: {vpc: {subnet_ids, security_group_ids}}`.

Rule: the shapes and limits are Lambda's own (botocore's VpcConfig: at most 16 subnets and 5
security groups; IDs `subnet-…` / `sg-…`); a function in a VPC reaches AWS APIs only through
VPC endpoints or a NAT gateway (docs/topology.md says which). Pure, shared by the compiler,
the planner and IAM.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from lambdafail.model.common import Strict

SUBNET_RE = r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$"
SECURITY_GROUP_RE = r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$"
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5

# The execution role's part of AWSLambdaVPCAccessExecutionRole: Lambda creates and removes the
# function's network interfaces with the function's role. AWS scopes none of these usefully
# (DescribeNetworkInterfaces only works on "*").
ENI_ACTIONS = ("ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface",
               "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
               "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses")


class Vpc(Strict):
    subnet_ids: list[str] = Field(min_length=1, max_length=MAX_SUBNETS, description=(
        "Subnets the orchestrator's network interfaces go in (two or more Availability Zones "
        "for availability)."))
    security_group_ids: list[str] = Field(min_length=1, max_length=MAX_SECURITY_GROUPS,
                                          description="Security groups of those interfaces.")

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, v: list[str]) -> list[str]:
        return _ids(v, SUBNET_RE, "subnet")

    @field_validator("security_group_ids")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        return _ids(v, SECURITY_GROUP_RE, "security group")


class OrchestratorPlacement(Strict):
    vpc: Vpc | None = Field(default=None, description=(
        "Run the orchestrator in these subnets, to probe private endpoints. It then reaches "
        "AWS APIs only through VPC endpoints or a NAT gateway (docs/topology.md)."))


def _ids(values: list[str], pattern: str, what: str) -> list[str]:
    import re

    bad = [x for x in values if not re.match(pattern, x)]
    if bad:
        raise ValueError(f"not a {what} ID: {bad[0]!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"a {what} is listed twice")
    return values


def compiled_vpc(placement: OrchestratorPlacement) -> dict[str, Any] | None:
    """`vpc` of the compiled topology: sorted IDs (order never makes a change), or None."""
    if placement.vpc is None:
        return None
    return {"subnet_ids": sorted(placement.vpc.subnet_ids),
            "security_group_ids": sorted(placement.vpc.security_group_ids)}
