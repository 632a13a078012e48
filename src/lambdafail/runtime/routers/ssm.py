"""Runtime router `ssm`: PutParameter (Overwrite) the side's value; read back GetParameter.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/ssm.py`.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers.base import RouterBase, error_code, router_error, side_of


class SsmSwitch(RouterBase):
    kind = "ssm"

    def __init__(self, cfg: dict[str, Any], ssm_client: Any) -> None:
        self.parameter = str(cfg["parameter"])
        self.values: dict[str, str] = dict(cfg["values"])
        self.ssm = ssm_client

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        try:
            self.ssm.put_parameter(Name=self.parameter, Value=self.values[side], Type="String",
                                   Overwrite=True)
        except Exception as e:
            raise router_error(f"ssm PutParameter {self.parameter}", e) from e

    def read_back(self) -> str | None:
        try:
            value = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except Exception as e:
            if error_code(e) == "ParameterNotFound":
                return None
            raise router_error(f"ssm GetParameter {self.parameter}", e) from e
        return side_of(value, self.values)



    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None) -> SsmSwitch:
        return cls(cfg, clients.get("ssm", cfg.get("region")))
