"""`lambdafail permissions`: the operator policies cover every call the CLI makes.

Rule: the coverage test records every API call of a real deploy, status, history, failover,
rollback, drill and destroy through the CLI against the sandbox (LAMBDAFAIL_CALL_LOG), and
checks each against the policy `permissions -o json` prints for that command's role.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from conftest import CONFIGS, run_cli, wait_until
from lambdafail.aws import actions, translate_exception
from lambdafail.deploy import iam, permissions
from lambdafail.model import naming
from lambdafail.model.loader import load
from lambdafail.model.topology import compile_topology
from lambdafail.runtime.state import StateStore
from lambdafail.sandbox.server import Sandbox
from lambdafail.sandbox.webservice import WebService
from sandbox_support import Clients, uid
from test_e2e_sandbox import _topology

WHERE = iam.Where("aws", "us-east-1", "123456789012")


def _compiled(path: Path = CONFIGS / "multi.yaml") -> dict[str, Any]:
    compiled = compile_topology(load(str(path)))
    compiled["region"] = "us-east-1"
    return compiled


def test_every_call_a_role_makes_is_in_the_action_table() -> None:
    for role, calls in permissions.CALLS.items():
        for service, op in calls:
            assert actions.needs(service, op) is not None, (role, service, op)


def test_policies_are_scoped_to_the_topology_and_carry_passrole_and_listtags() -> None:
    docs = permissions.all_policies(_compiled(), WHERE)
    assert list(docs) == ["deploy", "oncall", "drill"]
    deploy = docs["deploy"]
    for action in ("lambda:ListTags", "lambda:TagResource", "iam:PassRole", "iam:TagRole",
                   "dynamodb:TagResource", "sqs:TagQueue", "events:TagResource",
                   "ssm:AddTagsToResource", "logs:TagResource"):
        assert permissions.allows(deploy, action), action
    unscoped = [st for st in deploy["Statement"] if st["Resource"] == "*"]
    assert [st["Action"] for st in unscoped] == [
        ["events:ListRules", "iam:ListPolicies", "logs:DescribeLogGroups",
         "ssm:DescribeParameters"]]
    passrole = next(st for st in deploy["Statement"] if st["Sid"] == "PassRoleToLambda")
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService":
                                                      "lambda.amazonaws.com"}}
    assert passrole["Resource"].endswith(":role/lambdafail-multi-orchestrator")
    # On-call may write the state and move routers, not deploy anything.
    oncall = docs["oncall"]
    assert not permissions.allows(oncall, "lambda:CreateFunction")
    assert not permissions.allows(oncall, "iam:PassRole")
    assert permissions.allows(oncall, "ssm:PutParameter")
    assert not permissions.allows(oncall, "cloudwatch:SetAlarmState")
    assert permissions.allows(docs["drill"], "cloudwatch:SetAlarmState")
    assert permissions.allows(docs["drill"], "events:PutEvents")
    # Deterministic.
    assert permissions.all_policies(_compiled(), WHERE) == docs


def test_access_denied_names_the_missing_action_and_the_docs() -> None:
    e = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                    "GetFunction")
    err = translate_exception(e, operation="get_function", service="lambda", api="GetFunction")
    assert err is not None
    assert "lambda:GetFunction" in err.hint and "docs/permissions.md" in err.hint
    e = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "CreateRole")
    err = translate_exception(e, service="iam")
    assert err is not None and "iam:CreateRole, iam:TagRole" in err.hint


def test_permissions_cli_json_and_for(tmp_path: Path) -> None:
    r = run_cli("permissions", "-f", str(CONFIGS / "multi.yaml"), "--account", "123456789012",
                "-o", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"deploy", "oncall", "drill"}
    assert doc == permissions.all_policies(_compiled(), WHERE)
    r = run_cli("permissions", "-f", str(CONFIGS / "multi.yaml"), "--account", "123456789012",
                "--for", "oncall", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert list(json.loads(r.stdout)) == ["oncall"]
    r = run_cli("permissions", "-f", str(CONFIGS / "multi.yaml"), "--account", "12")
    assert r.returncode == 2 and "lambdafail: hint:" in r.stderr


def _calls(log: Path) -> set[tuple[str, str]]:
    if not log.exists():
        return set()
    return {(d["service"], d["operation"])
            for d in map(json.loads, log.read_text().splitlines())}


def test_every_call_of_the_cli_is_granted_by_the_printed_policy(
        tmp_path: Path, sandbox: Sandbox) -> None:
    name = uid("perm").replace("-", "")[:20]
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(sandbox.state_file)}
    logs = {role: tmp_path / f"{role}.calls" for role in permissions.ROLES}
    aws = Clients(sandbox.endpoint_url)
    store = StateStore(naming.table_name(name), aws("dynamodb"))

    def cli(role: str, *args: str) -> str:
        r = run_cli("--sandbox", *args, env={**env, "LAMBDAFAIL_CALL_LOG": str(logs[role])},
                    timeout=180)
        assert r.returncode in (0, 7), (args, r.stderr)
        return r.stderr

    def cooled() -> bool:
        st = store.get("web")
        return st is not None and (st.last_transition_epoch() or 0) + 1 < time.time()

    with WebService("primary") as primary, WebService("standby") as standby:
        f = _topology(tmp_path / "lambdafail.yaml", name, primary.url, standby.url)
        cli("deploy", "plan", "-f", f)
        err = cli("deploy", "deploy", "-f", f, "--yes", "--allow-missing")
        # The sandbox refuses a new table's first UpdateContinuousBackups, as AWS may: the
        # bounded retry says so on screen.
        assert "backups not enabled yet; retrying point-in-time recovery" in " ".join(err.split())
        cli("deploy", "deploy", "-f", f, "--yes", "--allow-missing")  # reads all back
        wait_until(lambda: (st := store.get("web")) is not None and st.health["standby"].ok,
                   timeout=60, what="the first probe tick")
        cli("oncall", "status", "-f", f)
        cli("oncall", "failover", "web", "-f", f, "--reason", "perm test", "--yes")
        wait_until(cooled, timeout=10, what="the cooldown")
        cli("oncall", "rollback", "web", "-f", f, "--reason", "perm test", "--yes")
        cli("oncall", "history", "web", "-f", f)
        wait_until(cooled, timeout=10, what="the cooldown")
        cli("drill", "drill", "web", "-f", f, "--yes", "--timeout", "30", "--scenario", "event",
            "--report-dir", str(tmp_path / "report"))
        cli("deploy", "destroy", "-f", f, "--yes", "--delete-state")

    r = run_cli("--sandbox", "permissions", "-f", f, "-o", "json", env=env)
    assert r.returncode == 0, r.stderr
    docs = json.loads(r.stdout)
    for role, log in logs.items():
        made = _calls(log)
        assert made, role
        print(role, len(made), "distinct calls")
        for service, op in sorted(made):
            need = actions.needs(service, op)
            assert need is not None, f"{role}: {service}:{op} is not in aws.actions"
            assert (service, op) in permissions.CALLS[role], f"{role}: {service}:{op}"
            for action, _ in need:
                assert permissions.allows(docs[role], action), f"{role}: {action} ({op})"
