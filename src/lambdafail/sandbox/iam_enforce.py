"""`lambdafail sandbox --enforce-iam`: every request is authorized as AWS would, or refused.

Rule: the caller is the identity whose access key signed the request — an IAM user (its
inline, attached and group policies), an assumed-role session (its role's inline and attached
policies; the orchestrator runs as one, see `role_credentials`) or the sandbox's account root
(the key `testing`, allowed everything as root is). Each action the request needs
(`iam_request`) is decided by `iam_policy.decide` against those policies and the resource's
own policy where lambdafail sets one (the event bus); a refusal is AWS's AccessDenied in the
service's own error shape, naming the principal, action and resource. moto's own
access-control mode (`INITIAL_NO_AUTH_ACTION_COUNT`) is not used: it compares resources only
with "*", evaluates no conditions outside trust policies, names Lambda's Invoke
`lambda:Invoke` and is process-wide. Signatures are not verified (docs/sandbox.md).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from lambdafail.sandbox import backends
from lambdafail.sandbox.iam_policy import Decision, Need, Principal, decide, parse
from lambdafail.sandbox.iam_request import Call, identify, needs

# The sandbox's account root: the default fake credentials every tool starts with.
ROOT_KEYS = frozenset({"testing"})
_ROOT = Principal(arn=f"arn:aws:iam::{backends.ACCOUNT_ID}:root", account=backends.ACCOUNT_ID,
                  kind="Account")


@dataclass(frozen=True)
class Refusal:
    status: int
    body: bytes
    headers: dict[str, str]
    message: str = ""


@dataclass(frozen=True)
class Verdict:
    """The answer to send instead of the call's (refused), or None: let it through — and
    then whether to strip the function's tags from GetFunction's answer."""

    refusal: Refusal | None = None
    hide_tags: bool = False


def _iam() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[backends.ACCOUNT_ID]["global"]


def _sts() -> Any:
    from moto.sts.models import sts_backends

    return sts_backends[backends.ACCOUNT_ID]["aws"]


def _managed_docs(attached: Any) -> list[list[dict[str, Any]]]:
    out = []
    for mp in attached.values():
        version = next((v for v in mp.versions if v.is_default), None)
        if version is not None:
            out.append(parse(unquote(str(version.document))))
    return out


def identity(access_key: str) -> tuple[Principal, list[list[dict[str, Any]]]] | None:
    """Who owns `access_key`, and their identity-based policies; None for an unknown key."""
    if access_key in ROOT_KEYS:
        return _ROOT, []
    iam = _iam()
    for user in list(iam.users.values()):
        if any(k.access_key_id == access_key and k.status == "Active"
               for k in user.access_keys):
            docs = [parse(unquote(str(d))) for d in user.policies.values()]
            docs += _managed_docs(user.managed_policies)
            for group in iam.get_groups_for_user(user.name):
                docs += [parse(unquote(str(d))) for d in group.policies.values()]
                docs += _managed_docs(group.managed_policies)
            return Principal(arn=user.arn, account=backends.ACCOUNT_ID, kind="User"), docs
    for session in list(_sts().assumed_roles):
        if session.access_key_id == access_key:
            role_arn = str(session.role_arn)
            role = next((r for r in list(iam.roles.values()) if r.arn == role_arn), None)
            if role is None:
                return None  # the role was deleted: its sessions stop working
            docs = [parse(unquote(str(d))) for d in role.policies.values()]
            docs += _managed_docs(role.managed_policies)
            return Principal(arn=role_arn, session_arn=str(session.arn),
                             account=backends.ACCOUNT_ID, kind="AssumedRole"), docs
    return None


def _role_path(name: str) -> str:
    role = backends.iam_role(name)
    return str(role.path) if role is not None else "/"


def _resource_policy(need: Need, region: str) -> list[dict[str, Any]] | None:
    """The resource-based policy lambdafail relies on: an event bus's (PutEvents)."""
    if need.action != "events:PutEvents" or not need.resources:
        return None
    bus = need.resources[0].rsplit("/", 1)[-1]
    found = backends.events(region).event_buses.get(bus)
    policy = getattr(found, "policy", None) if found is not None else None
    return parse(str(policy)) if policy else None


class Enforcer:
    """Decides each request; keeps the last refusals for tests and the activity log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.refused: list[str] = []
        # Requests allowed, per principal ARN (a role's sessions count as the role).
        self.allowed: dict[str, int] = {}
        self._credentials: dict[str, dict[str, str]] = {}

    def check(self, *, access_key: str, signing_name: str, region: str, method: str,
              path: str, query: str, headers: dict[str, str], body: bytes) -> Verdict:
        """Allowed, or the AccessDenied (or unknown-key) answer to send."""
        call = identify(signing_name, method, path, query, headers, body)
        if call is None:
            return Verdict()  # not an API request botocore knows (e.g. /moto-api)
        who = identity(access_key)
        if who is None:
            return Verdict(_error(call, 403, "InvalidClientTokenId" if call.protocol == "query"
                                  else "UnrecognizedClientException",
                                  "The security token included in the request is invalid."))
        principal, docs = who
        if principal.kind == "Account":
            return Verdict()
        wanted = needs(call, region, backends.ACCOUNT_ID, _role_path)
        for need in wanted:
            context = {**principal.context(), "aws:requestedregion": (region,), **need.context}
            full = Need(need.action, need.resources, context)
            decision = decide(full, docs, _resource_policy(full, region), principal)
            if decision.effect != "allow":
                message = _message(principal, full, decision)
                with self._lock:
                    self.refused.append(message)
                return Verdict(_error(call, 400 if call.protocol in ("json", "cbor") else 403,
                                      _denied_code(call), message))
        with self._lock:
            self.allowed[principal.arn] = self.allowed.get(principal.arn, 0) + 1
        hide = False
        if call.service == "lambda" and call.operation == "GetFunction" and wanted:
            # AWS returns a function's tags in GetFunction only to callers allowed
            # lambda:ListTags, silently.
            tags = Need("lambda:ListTags", wanted[0].resources, principal.context())
            hide = decide(tags, docs, None, principal).effect != "allow"
        return Verdict(hide_tags=hide)

    def role_credentials(self, role_arn: str, session: str) -> dict[str, str] | None:
        """Temporary credentials of the function's role, as Lambda gives its runtime (one
        session per role and sandbox: a warm interpreter keeps its configuration)."""
        with self._lock:
            if role_arn in self._credentials:
                return self._credentials[role_arn]
        if not any(r.arn == role_arn for r in list(_iam().roles.values())):
            return None
        assumed = _sts().assume_role(region_name="us-east-1", role_session_name=session[:64],
                                     role_arn=role_arn, policy="", duration=43200,
                                     external_id="")
        creds = {"AWS_ACCESS_KEY_ID": str(assumed.access_key_id),
                 "AWS_SECRET_ACCESS_KEY": str(assumed.secret_access_key),
                 "AWS_SESSION_TOKEN": str(assumed.session_token)}
        with self._lock:
            self._credentials[role_arn] = creds
        return creds


def _message(principal: Principal, need: Need, decision: Decision) -> str:
    who = principal.session_arn or principal.arn
    on = f" on resource: {need.resources[0]}" if need.resources else ""
    why = (f"with an explicit deny in a {decision.where} policy" if decision.explicit
           else f"because no identity-based policy allows the {need.action} action")
    return f"User: {who} is not authorized to perform: {need.action}{on} {why}"


def _denied_code(call: Call) -> str:
    if call.service == "sns":
        return "AuthorizationError"
    if call.service in ("iam", "sts", "route53", "sqs") or call.protocol == "query":
        return "AccessDenied"
    return "AccessDeniedException"


def _cbor_map(doc: dict[str, str]) -> bytes:
    """A CBOR map of short text strings (all an error body needs)."""
    def text(s: str) -> bytes:
        raw = s.encode()
        n = len(raw)
        head = (bytes([0x60 | n]) if n < 24 else bytes([0x78, n]) if n < 256
                else bytes([0x79]) + n.to_bytes(2, "big"))
        return head + raw
    return bytes([0xA0 | len(doc)]) + b"".join(text(k) + text(v) for k, v in doc.items())


def _error(call: Call, status: int, code: str, message: str) -> Refusal:
    refusal = _shaped(call, status, code, message)
    return Refusal(refusal.status, refusal.body, refusal.headers, f"{code}: {message}")


def _shaped(call: Call, status: int, code: str, message: str) -> Refusal:
    if call.protocol == "json":
        return Refusal(400, json.dumps({"__type": code, "message": message}).encode(),
                       {"Content-Type": "application/x-amz-json-1.1",
                        "x-amzn-query-error": f"{code};Sender"})
    if call.protocol == "cbor":
        return Refusal(400, _cbor_map({"__type": code, "message": message}),
                       {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
    if call.protocol == "rest-json":
        return Refusal(status, json.dumps({"Type": "User", "Message": message}).encode(),
                       {"x-amzn-ErrorType": code, "Content-Type": "application/json"})
    safe = message.replace("&", "&amp;").replace("<", "&lt;")
    return Refusal(status, (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                            f"<Message>{safe}</Message></Error><RequestId>sandbox</RequestId>"
                            "</ErrorResponse>").encode(), {"Content-Type": "text/xml"})
