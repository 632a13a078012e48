"""What every part of the topology model shares: the strict base model and AWS's name grammars.

Rule: no model of its own here and no import from the rest of `lambdafail.model` but naming; the
kind modules (`model/kinds/`) and `topology.py` both build on it.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

LAMBDA_NAME_RE = re.compile(
    r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"
)
ARN_RE = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")
RULE_NAME_RE = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
BUS_NAME_RE = re.compile(r"^([/.\-_A-Za-z0-9]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/"
                         r"[/.\-_A-Za-z0-9]{1,256})$")
SSM_NAME_RE = re.compile(r"^/?[A-Za-z0-9_.\-/]{1,1011}$")


#: What a topology names but does not own, for plan's pre-flight (deploy/preflight.py):
#: (what it is: "alarm", "hosted zone", "function", "topic", "rule" or "ecs service"; its
#: name; its region, None for the topology's).
Reference = tuple[str, str, "str | None"]


class Invalid(ValueError):
    """A value AWS would refuse; `hint` says what it accepts (the loader shows both)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def lambda_name(v: str) -> str:
    """A field validator's body: `v` if it is a Lambda function name or ARN."""
    if not LAMBDA_NAME_RE.match(v):
        raise ValueError(f"not a Lambda function name or ARN: {v!r}")
    return v


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
