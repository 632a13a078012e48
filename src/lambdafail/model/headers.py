"""Probe headers: plain values, or references to Secrets Manager secrets and SSM parameters.

Rule: the topology (and so the zip, the stored configuration, plans and diffs) holds only the
references — `{secret: <secret ARN>}` or `{ssm: /parameter/name}`, each with an optional
non-secret `prefix` (`"Bearer "`) — never a secret's value; the orchestrator and the CLI resolve
them at probe time (runtime/secrets.py). A header whose name says it carries a credential
(Authorization, Cookie, *-Api-Key, *token*, …) must be a reference: a plain value there would be
a secret in clear.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from lambdafail.model.common import SSM_NAME_RE, Strict

# A Secrets Manager ARN, complete: its name ends in the 6 random characters AWS appends, so
# IAM can name exactly that secret (a partial ARN needs a `-??????` wildcard).
SECRET_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-"
    r"[A-Za-z0-9]{6}$")
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")  # an RFC 9110 token
SENSITIVE_HEADER_RE = re.compile(
    r"(?i)^(authorization|proxy-authorization|cookie)$|(^|[_-])(token|secret|password|passwd|"
    r"api[_-]?key|apikey|key|auth|credential|session|signature)([_-]|$)")
# Headers the probe sets itself, or that HTTP frames by: a topology cannot override them.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection",
                              "user-agent"})
MAX_HEADERS = 10


class SecretHeader(Strict):
    """A header value read from AWS at probe time."""

    secret: str | None = Field(default=None, description="Secrets Manager secret ARN (complete, "
                               "with its 6-character suffix); the header is its SecretString.")
    ssm: str | None = Field(default=None, description="SSM parameter name (a SecureString, "
                            "read WithDecryption); the header is its value.")
    prefix: str = Field(default="", max_length=64, description="Text before the value, e.g. "
                        "'Bearer ' (not a secret: stored in clear).")

    @model_validator(mode="after")
    def _one(self) -> SecretHeader:
        if (self.secret is None) == (self.ssm is None):
            raise ValueError("a header reference names exactly one of `secret: <ARN>` or "
                             "`ssm: /parameter/name`")
        if self.secret is not None and not SECRET_ARN_RE.match(self.secret):
            raise ValueError(f"not a complete Secrets Manager secret ARN: {self.secret!r} "
                             "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)")
        if self.ssm is not None and (not SSM_NAME_RE.match(self.ssm)
                                     or not self.ssm.startswith("/")):
            raise ValueError(f"not an SSM parameter name: {self.ssm!r} (/path/to/parameter)")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in self.prefix):
            raise ValueError("a header prefix cannot contain control characters")
        return self


HeaderValue = str | SecretHeader


def check_headers(v: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
    """A field validator's body for `headers`."""
    if len(v) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} probe headers")
    seen: set[str] = set()
    for name, value in v.items():
        if not HEADER_NAME_RE.match(name):
            raise ValueError(f"not an HTTP header name: {name!r}")
        if name.lower() in seen:
            raise ValueError(f"header {name!r} is given twice")
        seen.add(name.lower())
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by the probe itself")
        if isinstance(value, str):
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise ValueError(f"header {name!r}: the value contains control characters")
            if SENSITIVE_HEADER_RE.search(name):
                raise ValueError(f"header {name!r} looks like a credential; a plain value "
                                 "would be stored in clear in the function's code, the state "
                                 "table and the logs — use {secret: <secret ARN>} or "
                                 "{ssm: /parameter/name}")
    return v


def compile_headers(v: dict[str, HeaderValue]) -> dict[str, dict[str, str]]:
    """The compiled shape: name → {"value"} | {"secret", "prefix"} | {"ssm", "prefix"}."""
    out: dict[str, dict[str, str]] = {}
    for name, value in v.items():
        if isinstance(value, str):
            out[name] = {"value": value}
        elif value.secret is not None:
            out[name] = {"secret": value.secret, "prefix": value.prefix}
        else:
            assert value.ssm is not None
            out[name] = {"ssm": value.ssm, "prefix": value.prefix}
    return out


def referenced(compiled: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Every secret ARN and SSM parameter name the compiled topology's probes read."""
    secrets: set[str] = set()
    params: set[str] = set()
    for svc in compiled["services"].values():
        for side in ("primary", "standby"):
            for ref in (svc[side].get("headers") or {}).values():
                if "secret" in ref:
                    secrets.add(ref["secret"])
                elif "ssm" in ref:
                    params.add(ref["ssm"])
    return sorted(secrets), sorted(params)


__all__ = [
    "HeaderValue",
    "SecretHeader",
    "check_headers",
    "compile_headers",
    "field_validator",
    "referenced",
]
