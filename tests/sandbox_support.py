"""Helpers for the sandbox tests: a running in-process Sandbox, clients for it, zips to deploy.

Rule: tests drive the real sandbox over HTTP with boto3 (fake credentials); moto's state is
process-wide, so every test names its resources with a fresh suffix.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from conftest import wait_until
from lambdafail.sandbox import backends
from lambdafail.sandbox.server import Sandbox

REGION = "us-east-1"
ACCOUNT = "123456789012"
ORCHESTRATOR_HANDLER = "lambdafail.runtime.handler.handle"


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Clients:
    def __init__(self, url: str):
        self.url = url
        self._cfg = Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=60)

    def __call__(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=self._cfg)


def running_sandbox(tmp_path: Path, time_scale: float = 60.0,
                    enforce_iam: bool = False) -> Iterator[Sandbox]:
    """Body of each test module's `sandbox` fixture: started, then stopped."""
    sb = Sandbox(time_scale=time_scale, state_file=tmp_path / "sandbox.json",
                 enforce_iam=enforce_iam)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
        # moto's state is process-wide: leave nothing (e.g. firing schedules) to the next test.
        backends.reset_all()


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in sorted(files.items()):
            zf.writestr(name, text)
    return buf.getvalue()


def zip_tree(root: Path) -> bytes:
    """Zip a directory the way a deploy would (the 'working tree' of a test)."""
    return make_zip({p.relative_to(root).as_posix(): p.read_text()
                     for p in sorted(root.rglob("*.py"))})


def role_arn(aws: Clients) -> str:
    name = uid("role")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    return str(aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=doc)["Role"]["Arn"])


def create_function(aws: Clients, zip_bytes: bytes, *, handler: str = ORCHESTRATOR_HANDLER,
                    env: dict[str, str] | None = None, timeout: int = 10,
                    tags: dict[str, str] | None = None, name: str | None = None) -> str:
    fname = name or uid("fn")
    kwargs: dict[str, Any] = {}
    if env:
        kwargs["Environment"] = {"Variables": env}
    if tags:
        kwargs["Tags"] = tags
    aws("lambda").create_function(FunctionName=fname, Runtime="python3.12", Role=role_arn(aws),
                                  Handler=handler, Code={"ZipFile": zip_bytes},
                                  Timeout=timeout, **kwargs)
    return fname


def queue(aws: Clients) -> tuple[str, str]:
    """(queue URL, queue ARN) of a fresh SQS queue."""
    name = uid("q")
    url = aws("sqs").create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def drain(aws: Clients, url: str) -> list[str]:
    """Every message currently in the queue (bodies), removed from it."""
    return [body for body, _ in drain_timed(aws, url)]


def drain_timed(aws: Clients, url: str) -> list[tuple[str, float]]:
    """Like drain, with each message's send time (epoch seconds), oldest first."""
    out: list[tuple[str, float]] = []
    while True:
        got = aws("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                         AttributeNames=["SentTimestamp"]).get("Messages", [])
        if not got:
            return sorted(out, key=lambda m: m[1])
        for m in got:
            out.append((m["Body"], int(m["Attributes"]["SentTimestamp"]) / 1000))
            aws("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


# A handler that reports what it received back into the sandbox (an SQS queue named by its
# REPORT_TO variable), proving it ran with the sandbox endpoint and credentials from its env.
REPORTING_HANDLER = '''
import json, os
import boto3

def handle(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["REPORT_TO"],
                                     MessageBody=json.dumps(event))
    return {"reported": True}
'''


def wait_for_reports(aws: Clients, url: str, count: int = 1, timeout: float = 20) -> list[Any]:
    """Wait (with a deadline) until the reporting handler has sent `count` events."""
    got: list[Any] = []

    def enough() -> bool:
        got.extend(json.loads(b) for b in drain(aws, url))
        return len(got) >= count

    wait_until(enough, timeout=timeout, what=f"{count} report(s) from the function")
    return got


def orchestrator_zip(handler_source: str) -> bytes:
    return make_zip({"lambdafail/__init__.py": "", "lambdafail/runtime/__init__.py": "",
                     "lambdafail/runtime/handler.py": handler_source})


def allow_events(aws: Clients, function: str, rule_arn: str) -> None:
    """What deploy does for each rule: let EventBridge invoke the function from that rule."""
    aws("lambda").add_permission(FunctionName=function, StatementId=uid("events"),
                                 Action="lambda:InvokeFunction",
                                 Principal="events.amazonaws.com", SourceArn=rule_arn)


def iam_user(aws: Clients, name: str, policy: dict[str, Any]) -> dict[str, str]:
    """An IAM user holding exactly `policy` (inline), created as the sandbox's root; the
    environment that makes the CLI (or boto3) sign as that user."""
    iam = aws("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="lambdafail", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    # No session token: an IAM user's long-term key is sent without one.
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "AWS_SESSION_TOKEN": "", "AWS_SECURITY_TOKEN": ""}
