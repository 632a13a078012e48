"""IAM quotas moto does not enforce, enforced as AWS does (docs/sandbox.md lists them).

Rule: pure checks on one IAM query-protocol request (its form fields) against moto's current
state, read through `backends`; a refusal is the error AWS returns (LimitExceeded, HTTP 409),
so lambdafail's packing of the orchestrator's permissions is tested for real:

- a role's inline policies together: 10,240 characters (PutRolePolicy);
- a managed policy: 6,144 characters (CreatePolicy, CreatePolicyVersion);
- managed policies attached to one role: 10 (AttachRolePolicy; AWS's default quota).

Sizes are counted as IAM counts them: without whitespace.
"""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from lambdafail.sandbox import backends

INLINE_PER_ROLE = 10_240
MANAGED_SIZE = 6_144
ATTACHED_PER_ROLE = 10


def _size(document: str) -> int:
    return sum(1 for ch in document if not ch.isspace())


def refusal(form: dict[str, str]) -> str | None:
    """The LimitExceeded message AWS would give this request, or None if it is within quota."""
    action = form.get("Action", "")
    if action == "PutRolePolicy":
        role = backends.iam_role(form.get("RoleName", ""))
        others = {} if role is None else {k: v for k, v in role.policies.items()
                                          if k != form.get("PolicyName")}
        total = _size(form.get("PolicyDocument", "")) + sum(map(_size, others.values()))
        if total > INLINE_PER_ROLE:
            return (f"Maximum policy size of {INLINE_PER_ROLE} bytes exceeded for role "
                    f"{form.get('RoleName')}")
    elif action in ("CreatePolicy", "CreatePolicyVersion"):
        if _size(form.get("PolicyDocument", "")) > MANAGED_SIZE:
            return f"Cannot exceed quota for PolicySize: {MANAGED_SIZE}"
    elif action == "AttachRolePolicy":
        role = backends.iam_role(form.get("RoleName", ""))
        if role is not None:
            attached = set(role.managed_policies)
            if form.get("PolicyArn") not in attached and len(attached) >= ATTACHED_PER_ROLE:
                return f"Cannot exceed quota for PoliciesPerRole: {ATTACHED_PER_ROLE}"
    return None


def error_body(message: str) -> bytes:
    return (f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
            f"<Type>Sender</Type><Code>LimitExceeded</Code><Message>{escape(message)}"
            f"</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
            ).encode()
