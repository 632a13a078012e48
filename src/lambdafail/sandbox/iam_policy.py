"""IAM policy evaluation for the sandbox: does a set of policy documents allow one request?

Rule: pure (no moto, no I/O). It follows AWS's policy evaluation logic for one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any applicable policy wins; otherwise an Allow in an identity-based policy
or in the resource's policy (naming the caller as principal) allows; otherwise the request is
implicitly denied. Action and NotAction, Resource and NotResource (with `*` and `?`
wildcards, actions case-insensitive), Principal in resource policies, and the condition
operators lambdafail's policies use (String*, Arn*, Bool, Null, with ForAllValues/ForAnyValue
and IfExists) are evaluated. A condition on a key the sandbox does not supply (not in
`KNOWN_KEYS`) is taken as satisfied, for Allow and for Deny alike: docs/sandbox.md lists it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ALLOW, DENY, NEUTRAL = "allow", "deny", "neutral"

# Condition keys the sandbox puts in a request's context when AWS would; a missing one of
# these is absent as on AWS (the condition is false, a negated operator true).
KNOWN_KEYS = frozenset({
    "aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:username",
    "aws:userid", "aws:sourceaccount", "aws:requestedregion", "iam:passedtoservice",
    "events:source", "events:detail-type", "events:eventbusinvocation",
    "route53:changeresourcerecordsetsnormalizedrecordnames",
    "route53:changeresourcerecordsetsrecordtypes",
    "route53:changeresourcerecordsetsactions",
    "cloudwatch:namespace",
})


@dataclass(frozen=True)
class Need:
    """One action a request needs, on its resources (any may match; None: not derived, so
    the Resource element is not compared) with the request's condition context."""

    action: str
    resources: tuple[str, ...] | None
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _pattern(text: str, case: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run (ARN segments included), ? one character; nothing else.
    return re.compile(fnmatch.translate(text), 0 if case else re.IGNORECASE)


def _glob(pattern: str, value: str, case: bool = True) -> bool:
    if "[" in pattern:  # fnmatch would read [..] as a class; IAM does not
        pattern = pattern.replace("[", "[[]")
    return _pattern(pattern, case).match(value) is not None


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, list) else [v]


def parse(doc: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """A policy document (JSON text, URL-decoded, or a dict) as its list of statements."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    assert isinstance(doc, Mapping)
    return [dict(s) for s in _as_list(doc.get("Statement"))]


def _matches_action(st: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in st:
        return not any(_glob(p, action, case=False) for p in _as_list(st["NotAction"]))
    return any(_glob(p, action, case=False) for p in _as_list(st.get("Action")))


def _matches_resource(st: Mapping[str, Any], resources: tuple[str, ...] | None) -> bool:
    if resources is None:
        return True
    if "NotResource" in st:
        pats = _as_list(st["NotResource"])
        return any(not any(_glob(p, r) for p in pats) for r in resources)
    pats = _as_list(st.get("Resource"))
    return any(_glob(p, r) for p in pats for r in resources)


def matches_principal(st: Mapping[str, Any], principal: Principal) -> bool:
    """A resource policy statement's Principal (or NotPrincipal) names the caller."""
    if "NotPrincipal" in st:
        return not _names(st["NotPrincipal"], principal)
    return _names(st.get("Principal"), principal)


def _names(element: Any, principal: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for value in _as_list(element.get("AWS")):
        v = str(value)
        if v == "*" or v in principal.names():
            return True
    return False


_OPS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda a, b: a == b,
    "StringEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StringLike": lambda a, b: _glob(b, a),
    "ArnEquals": lambda a, b: a == b,
    "ArnLike": lambda a, b: _glob(b, a),
    "Bool": lambda a, b: a.lower() == b.lower(),
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase":
            "StringEqualsIgnoreCase", "StringNotLike": "StringLike",
            "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def _condition_holds(op: str, key: str, expected: list[str],
                     context: Mapping[str, tuple[str, ...]]) -> bool:
    qualifier = ""
    if ":" in op:
        qualifier, op = op.split(":", 1)
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    k = key.lower()
    if k not in KNOWN_KEYS:
        return True  # not modelled by the sandbox: docs/sandbox.md
    values = context.get(k)
    if op == "Null":
        return (values is None) == (expected[0].lower() == "true")
    negated = op in _NEGATED
    base = _OPS.get(_NEGATED.get(op, op))
    if base is None:
        return True  # an operator lambdafail's policies do not use: not modelled
    if values is None:
        if if_exists:
            return True
        return qualifier == "ForAllValues" or negated

    def one(v: str) -> bool:
        hit = any(base(v, e) for e in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue" or len(values) != 1:
        return any(one(v) for v in values)
    return one(values[0])


def _conditions_hold(st: Mapping[str, Any], context: Mapping[str, tuple[str, ...]]) -> bool:
    cond = st.get("Condition") or {}
    context = {k.lower(): v for k, v in context.items()}  # keys are case-insensitive
    for op, keys in dict(cond).items():
        for key, expected in dict(keys).items():
            if not _condition_holds(op, key, [str(e) for e in _as_list(expected)], context):
                return False
    return True


@dataclass(frozen=True)
class Principal:
    """Who signed the request: an IAM user, an assumed-role session, or the account root."""

    arn: str  # user/role ARN as aws:PrincipalArn gives it (a role, not its session)
    session_arn: str = ""  # arn:aws:sts::<account>:assumed-role/<role>/<session>
    account: str = ""
    kind: str = "User"  # aws:PrincipalType: User, AssumedRole, Account

    def names(self) -> set[str]:
        out = {self.arn, self.account, f"arn:aws:iam::{self.account}:root"}
        if self.session_arn:
            out.add(self.session_arn)
        return out

    def context(self) -> dict[str, tuple[str, ...]]:
        return {"aws:principalarn": (self.arn,), "aws:principalaccount": (self.account,),
                "aws:principaltype": (self.kind,)}


def statement_effect(st: Mapping[str, Any], need: Need) -> str:
    if not _matches_action(st, need.action) or not _matches_resource(st, need.resources):
        return NEUTRAL
    if not _conditions_hold(st, need.context):
        return NEUTRAL
    return DENY if str(st.get("Effect")) == "Deny" else ALLOW


@dataclass(frozen=True)
class Decision:
    effect: str  # ALLOW or DENY
    explicit: bool = False  # denied by a Deny statement (not merely by no Allow)
    where: str = ""  # "identity-based" or "resource-based" policy, for the message


def decide(need: Need, identity: Iterable[list[dict[str, Any]]],
           resource_policy: list[dict[str, Any]] | None, principal: Principal) -> Decision:
    """AWS's evaluation for a request within one account (no SCPs, boundaries or sessions
    policies: lambdafail uses none)."""
    allowed = False
    for statements in identity:
        for st in statements:
            effect = statement_effect(st, need)
            if effect == DENY:
                return Decision(DENY, True, "identity-based")
            allowed = allowed or effect == ALLOW
    for st in resource_policy or []:
        if not matches_principal(st, principal):
            continue
        effect = statement_effect(st, need)
        if effect == DENY:
            return Decision(DENY, True, "resource-based")
        allowed = allowed or effect == ALLOW
    return Decision(ALLOW) if allowed else Decision(DENY, False, "identity-based")
