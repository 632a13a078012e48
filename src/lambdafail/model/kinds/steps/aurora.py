"""Recovery step `aurora`: make a cluster the writer of an Aurora global database.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, plan
line); its runtime twin is `lambdafail/runtime/steps/aurora.py`. `mode: switchover` (planned:
SwitchoverGlobalCluster, no data lost, needs a healthy primary) or `mode: failover`
(unplanned: FailoverGlobalCluster with AllowDataLoss, for a primary Region that is down; it
must be asked for with `allow_data_loss: true`). A target that already is the writer is done.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from lambdafail.model.arns import Where, statement
from lambdafail.model.kinds.steps.base import StepKind, StepSpec

# DB and global cluster identifiers: 1-63 letters, digits and hyphens, a letter first, no
# two hyphens in a row, no hyphen last.
IDENT_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,62}(?<!-)$")
CLUSTER_ARN_RE = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:(?P<id>[^:]+)$")


class AuroraStep(StepSpec):
    global_cluster: str = Field(description="Global database cluster identifier.")
    target: str = Field(description="ARN of the secondary DB cluster to make the writer.")
    mode: Literal["switchover", "failover"] = Field(default="switchover", description=
                                                    "`switchover`: planned, no data loss; "
                                                    "`failover`: unplanned, may lose data.")
    allow_data_loss: bool = Field(default=False, description="Must be true with `mode: "
                                  "failover` (AWS's AllowDataLoss).")
    timeout_seconds: float = Field(default=900, gt=0, le=900, description="For the request "
                                   "and the wait for the new writer.")
    every_seconds: float = Field(default=15, gt=0, le=60, description="Time between "
                                 "DescribeGlobalClusters checks (divided by "
                                 "LAMBDAFAIL_TIME_SCALE).")

    @field_validator("global_cluster")
    @classmethod
    def _global(cls, v: str) -> str:
        if not IDENT_RE.match(v):
            raise ValueError(f"not a global cluster identifier (1-63 letters, digits and "
                             f"hyphens, a letter first): {v!r}")
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        m = CLUSTER_ARN_RE.match(v)
        if not m or not IDENT_RE.match(m.group("id")):
            raise ValueError(f"not a DB cluster ARN (arn:aws:rds:<region>:<account>:cluster:"
                             f"<id>; AWS finds the cluster in its Region by its ARN): {v!r}")
        return v

    @model_validator(mode="after")
    def _loss(self) -> AuroraStep:
        if self.mode == "failover" and not self.allow_data_loss:
            raise ValueError("`mode: failover` may lose the writes the old primary had not "
                             "replicated: set `allow_data_loss: true`, or use `mode: "
                             "switchover` (no data loss; needs a healthy primary)")
        if self.mode == "switchover" and self.allow_data_loss:
            raise ValueError("`allow_data_loss` is for `mode: failover`; a switchover never "
                             "loses data")
        return self


def global_cluster_arn(where: Where, ident: str) -> str:
    # Global clusters belong to no Region: their ARN has an empty region field.
    return where.arn("rds", f"global-cluster:{ident.lower()}", regional=False)


class Aurora(StepKind[AuroraStep]):
    kind = "aurora"
    key = "aurora"
    model = AuroraStep

    def compile(self, step: AuroraStep) -> dict[str, Any]:
        return {"global_cluster": step.global_cluster, "target": step.target,
                "mode": step.mode, "allow_data_loss": step.allow_data_loss,
                "every_seconds": step.every_seconds}

    def starts_standby(self, step: AuroraStep) -> bool:
        return True

    def iam_statements(self, steps: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        # Switchover/FailoverGlobalCluster are authorized on the global cluster and on the
        # DB cluster they promote; DescribeGlobalClusters on the global cluster.
        globals_ = sorted({global_cluster_arn(where, str(s["global_cluster"])) for s in steps})
        def switch(mode: str, sid: str, action: str) -> list[dict[str, Any]]:
            steps_ = [s for s in steps if s["mode"] == mode]
            return statement(sid, [action], sorted(
                {global_cluster_arn(where, str(s["global_cluster"])) for s in steps_}
                | {str(s["target"]) for s in steps_}))
        return [*switch("switchover", "RecoveryAuroraSwitchover", "rds:SwitchoverGlobalCluster"),
                *switch("failover", "RecoveryAuroraFailover", "rds:FailoverGlobalCluster"),
                *statement("RecoveryAuroraDescribe", ["rds:DescribeGlobalClusters"],
                           globals_)]

    def line(self, step: dict[str, Any]) -> str:
        how = "switchover" if step["mode"] == "switchover" else "failover (data loss allowed)"
        return (f"aurora {how} of {step['global_cluster']} to {step['target']} (until it is "
                f"the writer)")


KIND = Aurora()
