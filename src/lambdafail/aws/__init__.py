"""The only CLI-side module that imports boto3: sessions, clients, retries, error translation.

Rules: clients are created lazily (a client made before moto starts would reach real AWS);
every client uses botocore's `standard` retry mode; every botocore failure leaves here as an
`AwsError` naming the call, the resource and what to check — including the failures of runtime
code (state, transitions, routers) run with the CLI's clients (`runtime_errors`), which name
the call that really failed. Each `AwsContext` records the API
calls it makes (service, operation), so tests and benchmarks can count them; with
LAMBDAFAIL_CALL_LOG set, every call any client of the session makes is also appended to that
file as one JSON line {"service", "operation"} (the permissions test reads it). An AccessDenied
names the IAM actions the call needs (`aws.actions`) and points at docs/permissions.md.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lambdafail.base.errors import AwsError, LambdafailError, UsageError

# Operations that change something. Used to count mutating calls (a no-op deploy makes none).
_READ_PREFIXES = ("Describe", "Get", "List", "Query", "Scan", "BatchGet", "Test", "Head")


#: How long a control region may take to answer before the CLI tries the next one.
PROBE_SECONDS = 3.0


def is_mutating(operation: str) -> bool:
    return not operation.startswith(_READ_PREFIXES)


@dataclass
class AwsContext:
    """Where and as whom to call AWS. Build with `from_settings()` in commands."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None
    credentials: dict[str, str] | None = None  # explicit keys (sandbox); else the default chain
    calls: list[tuple[str, str]] = field(default_factory=list)
    debug: bool = False  # --debug: every AWS call and its answer on stderr
    _session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: threading.local = field(default_factory=threading.local)

    @classmethod
    def from_settings(cls, default_region: str | None = None) -> AwsContext:
        from lambdafail.base import settings as settings_mod

        s = settings_mod.current()
        endpoint = s.endpoint_url
        creds: dict[str, str] | None = None
        # The topology's region wins over the shell's AWS_REGION (a stray default region must
        # never deploy or fail over in the wrong place); a typed --region must agree with it.
        if default_region and s.region and s.region != default_region:
            raise UsageError(f"--region {s.region} contradicts the topology's region "
                             f"{default_region}",
                             hint="drop --region, or change `region:` in the topology file")
        region = (default_region or s.region or os.environ.get("AWS_REGION")
                  or os.environ.get("AWS_DEFAULT_REGION"))
        if s.sandbox:
            from lambdafail.sandbox.statefile import read_state

            st = read_state(s.sandbox_state_file)
            endpoint = st["endpoint_url"]
            region = region or st.get("region")
            # A sandbox enforcing IAM authorizes the caller's own keys (the usual chain:
            # an IAM user's AWS_ACCESS_KEY_ID/SECRET); otherwise any key will do.
            if not st.get("enforce_iam"):
                creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        if not region:
            raise UsageError("no AWS region", hint="set `region:` in the topology, --region, "
                             "or AWS_REGION")
        return cls(region=region, profile=s.profile, endpoint_url=endpoint, credentials=creds,
                   debug=s.debug)

    def in_region(self, region: str) -> AwsContext:
        """The same caller in another region (another control region's deploy); its calls
        are counted with this context's."""
        if region == self.region:
            return self
        return AwsContext(region=region, profile=self.profile, endpoint_url=self.endpoint_url,
                          credentials=self.credentials, calls=self.calls, debug=self.debug)

    def answering(self, regions: list[str], table: str) -> AwsContext:
        """The first of `regions` whose DynamoDB endpoint answers the state table (any answer
        counts, an error from the service too: only an unreachable endpoint is skipped); this
        context when none does, so its error says what is wrong. One small read a region
        tried (the heartbeat item's key, eventually consistent)."""
        from botocore.exceptions import BotoCoreError, ClientError

        for region in regions:
            ctx = self.in_region(region)
            try:
                ctx.single_shot_client("dynamodb", PROBE_SECONDS).get_item(
                    TableName=table, ProjectionExpression="pk",
                    Key={"pk": {"S": "orchestrator"}, "sk": {"S": "heartbeat"}})
                return ctx
            except ClientError:
                return ctx
            except BotoCoreError:  # connection refused, closed or timed out: the next one
                continue
        return self

    @property
    def session(self) -> Any:
        if self._session is None:
            import boto3

            creds = self.credentials or {}
            try:
                self._session = boto3.session.Session(
                    profile_name=self.profile, region_name=self.region,
                    aws_access_key_id=creds.get("aws_access_key_id"),
                    aws_secret_access_key=creds.get("aws_secret_access_key"))
            except Exception as e:  # ProfileNotFound and friends
                raise AwsError(f"cannot open AWS session: {e}",
                               hint="check --profile / AWS_PROFILE and ~/.aws/config") from e
            log = os.environ.get("LAMBDAFAIL_CALL_LOG")
            if log:
                # On the session, so clients made from it directly are logged too.
                self._session.events.register("before-call.*.*", _CallLog(log))
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """The (counted) client for `service` in this context's region, or in `region` (a
        router or target placed elsewhere)."""
        region = None if region == self.region else region
        key = service if region is None else f"{service}@{region}"
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                from botocore.config import Config

                attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 5)
                cfg = Config(retries={"mode": "standard", "max_attempts": attempts},
                             connect_timeout=5, read_timeout=30,
                             max_pool_connections=32)
                c = self.session.client(service, endpoint_url=self.endpoint_url, config=cfg,
                                        **({"region_name": region} if region else {}))
                c.meta.events.register("before-call.*.*", self._record)
                if self.debug:
                    c.meta.events.register("after-call.*.*", _print_call)
                self._clients[key] = c
            return c

    def single_shot_client(self, service: str, read_timeout: float,
                           region: str | None = None) -> Any:
        """A client that makes one attempt and gives up after `read_timeout` (health probes,
        a user's hook): botocore must not re-send such a call behind our back. Counted like
        every other client of this context; one per (service, timeout)."""
        region = None if region == self.region else region
        key = (service if region is None else f"{service}@{region}") + \
            f"#single-shot#{read_timeout:g}"
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                from lambdafail.runtime.config import single_shot_config

                c = self.session.client(service, endpoint_url=self.endpoint_url,
                                        config=single_shot_config(read_timeout),
                                        **({"region_name": region} if region else {}))
                c.meta.events.register("before-call.*.*", self._record)
                self._clients[key] = c
            return c

    def _record(self, model: Any = None, **_: Any) -> None:
        if model is not None:
            made = (model.service_model.service_name, model.name)
            self.calls.append(made)
            self._last.call = made  # per thread: status reads concurrently

    def last_call(self) -> tuple[str, str] | None:
        """(service, operation) of the latest API call this thread made through a client of
        this context: the one that failed, when a call raises."""
        made: tuple[str, str] | None = getattr(self._last, "call", None)
        return made

    @property
    def account_id(self) -> str:
        ident = call(self.client("sts"), "get_caller_identity")
        return str(ident["Account"])

    def caller_arn(self) -> str:
        ident = call(self.client("sts"), "get_caller_identity")
        return str(ident["Arn"])

    def mutating_calls(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if is_mutating(c[1])]


class _CallLog:
    """Appends each API call to a file, one JSON line each (LAMBDAFAIL_CALL_LOG)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, model: Any = None, **_: Any) -> None:
        if model is None:
            return
        line = json.dumps({"service": model.service_model.service_name,
                           "operation": model.name})
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def partition_for_region(region: str) -> str:
    """The partition (aws, aws-cn, aws-us-gov, ...) botocore's endpoint data puts `region` in;
    "aws" for a region it does not know (validate refuses those)."""
    import boto3

    try:
        return str(boto3.session.Session().get_partition_for_region(region))
    except Exception:  # UnknownRegionError and older botocore
        return "aws"


def known_regions() -> dict[str, list[str]]:
    """Every region botocore's partition data names, by partition."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return {p["partition"]: sorted(p.get("regions", {})) for p in data["partitions"]}


def _print_call(http_response: Any = None, parsed: Any = None, model: Any = None,
                **_: Any) -> None:
    """--debug's AWS call details: service, operation, HTTP status and AWS's error code."""
    import sys

    if model is None:
        return
    status = getattr(http_response, "status_code", "?")
    code = ((parsed or {}).get("Error") or {}).get("Code", "") if isinstance(parsed, dict) else ""
    print(f"lambdafail: debug: aws {model.service_model.service_name} {model.name} → {status}"
          + (f" {code}" if code else ""), file=sys.stderr)


def time_scale() -> float:
    """How much faster than real time schedules fire where we are talking to.

    1 on AWS. The sandbox runs sped up (`lambdafail sandbox --time-scale`): with `--sandbox` the
    scale is read from its state file (as `from_settings` reads its endpoint), otherwise from
    LAMBDAFAIL_TIME_SCALE (which the sandbox also gives the orchestrator). Freshness limits and
    polling follow it; cooldowns never do.
    """
    from lambdafail.base import settings as settings_mod

    s = settings_mod.current()
    if s.sandbox:
        from lambdafail.sandbox.statefile import read_state

        try:
            scale = float(read_state(s.sandbox_state_file).get("time_scale") or 1.0)
        except (TypeError, ValueError):
            scale = 1.0
        return scale if scale > 0 else 1.0
    from lambdafail.runtime.clock import time_scale as env_scale

    return env_scale()


def call(client: Any, operation: str, *, resource: str = "", **kwargs: Any) -> Any:
    """Call `client.operation(**kwargs)`; translate any botocore failure into an AwsError."""
    try:
        return getattr(client, operation)(**kwargs)
    except LambdafailError:
        raise
    except Exception as e:
        meta = getattr(client, "meta", None)
        service = str(meta.service_model.service_name) if meta is not None else ""
        api = str(meta.method_to_api_mapping.get(operation, operation)) if meta else operation
        err = translate_exception(e, operation=operation, resource=resource, service=service,
                                  api=api)
        if err is None:
            raise
        raise err from e


@contextmanager
def runtime_errors(ctx: AwsContext, resources: Mapping[str, str] | None = None,
                   special: Callable[[AwsError], LambdafailError | None] | None = None,
                   ) -> Iterator[None]:
    """Run runtime code (StateStore, transitions, routers) with `ctx`'s clients: whatever AWS
    failure comes out leaves as the AwsError of the call that really failed.

    The operation is the failing call's own (botocore's `operation_name`, or for a timeout the
    latest call this thread made); `resources` names the resource per service (e.g.
    {"dynamodb": table}); `special` may turn the AwsError into a more precise error."""
    try:
        yield
    except LambdafailError:
        raise
    except Exception as e:
        err = translate_runtime_error(ctx, e, resources or {})
        if err is None:
            raise
        better = special(err) if special is not None and isinstance(err, AwsError) else None
        raise (better or err) from e


def translate_runtime_error(ctx: AwsContext, e: BaseException,
                            resources: Mapping[str, str]) -> LambdafailError | None:
    from lambdafail.runtime.routers import RouterError, RouterNotFound

    if isinstance(e, RouterError):  # already names its call and resource
        hint = ("the router's resource does not exist: check the topology's router and that "
                "it was created" if isinstance(e, RouterNotFound)
                else denied_hint("", e.operation) if e.code in _DENIED
                else _HINTS.get(e.code, "see the AWS message above"))
        return AwsError(str(e), hint=hint, operation=e.operation, code=e.code)
    last = ctx.last_call()
    operation = str(getattr(e, "operation_name", "") or (last[1] if last else ""))
    service = last[0] if last and last[1] == operation else ""
    return translate_exception(e, operation=operation, resource=resources.get(service, ""),
                               service=service)


def error_code(e: BaseException) -> str:
    resp = getattr(e, "response", None)
    if isinstance(resp, dict):
        return str(resp.get("Error", {}).get("Code", ""))
    return ""


_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                     "AuthorizationError", "AuthorizationErrorException"})

_HINTS = {
    "UnrecognizedClientException": "the credentials are not valid for this account/region",
    "InvalidClientTokenId": "the credentials are not valid; check AWS_PROFILE / keys",
    "ExpiredToken": "the session has expired; log in again (aws sso login)",
    "ExpiredTokenException": "the session has expired; log in again (aws sso login)",
    "ThrottlingException": "AWS is throttling; wait a moment and re-run (work converges)",
    "ResourceNotFoundException": "the resource does not exist; has `lambdafail deploy` run?",
}


def denied_hint(service: str, operation: str) -> str:
    """The AccessDenied hint: which IAM actions the call needs, and where the policy is."""
    from lambdafail.aws.actions import actions_for

    api = _api_name(operation)
    wanted = actions_for(service, api)
    what = (f"{api} needs {', '.join(wanted)}" if wanted
            else "the credentials lack permission for this call")
    return (f"{what}; `lambdafail permissions` prints the policy this topology needs "
            "(docs/permissions.md explains each statement)")


def _api_name(operation: str) -> str:
    """A boto3 method name (get_function) as the API's operation name (GetFunction), for
    errors that did not come through `call` (which knows the client's own mapping)."""
    if not operation or operation[0].isupper():
        return operation
    return "".join(p.capitalize() for p in operation.split("_"))


def translate_exception(e: BaseException, *, operation: str = "",
                        resource: str = "", service: str = "",
                        api: str = "") -> LambdafailError | None:
    """Map botocore exceptions to AwsError; return None for anything else."""
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a hard dependency
        return None
    where = f"{operation} on {resource}" if operation and resource else operation or resource
    prefix = f"{where}: " if where else ""
    if isinstance(e, bx.ClientError):
        code = error_code(e)
        msg = e.response.get("Error", {}).get("Message", str(e))
        op = operation or getattr(e, "operation_name", "")
        hint = (denied_hint(service, api or op) if code in _DENIED
                else _HINTS.get(code, "see the AWS message above"))
        return AwsError(f"{prefix or (op + ': ' if op else '')}{code}: {msg}", hint=hint,
                        operation=op, resource=resource, code=code)
    if isinstance(e, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AwsError(f"{prefix}no AWS credentials found",
                        hint="configure credentials (aws configure / AWS_PROFILE), or use "
                        "--sandbox / --endpoint-url for a local emulation",
                        operation=operation, resource=resource, code="NoCredentials")
    if isinstance(e, bx.EndpointConnectionError | bx.ConnectionClosedError
                  | bx.ReadTimeoutError | bx.ConnectTimeoutError):
        return AwsError(f"{prefix}cannot reach AWS: {e}",
                        hint="check the network, --region and --endpoint-url (is the sandbox "
                        "running?)", operation=operation, resource=resource, code="Connection")
    if isinstance(e, bx.ProfileNotFound):
        return AwsError(str(e), hint="check --profile / AWS_PROFILE", code="ProfileNotFound")
    if isinstance(e, bx.BotoCoreError):
        return AwsError(f"{prefix}{e}", hint="re-run with --debug for details",
                        operation=operation, resource=resource, code=type(e).__name__)
    return None
