"""Runtime router `ssm`: PutParameter (Overwrite) the side's value; read back GetParameter.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/ssm.py`. A parameter this router had to create (someone deleted it)
is tagged as the topology's, so `destroy --delete-state` finds it.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers.base import (
    Reading,
    RouterBase,
    error_code,
    router_error,
    side_of,
)

# GetParameters takes at most 10 names a call.
GET_PARAMETERS_MAX = 10


class SsmSwitch(RouterBase):
    kind = "ssm"

    def __init__(self, cfg: dict[str, Any], ssm_client: Any,
                 tags: dict[str, str] | None = None) -> None:
        self.parameter = str(cfg["parameter"])
        self.values: dict[str, str] = dict(cfg["values"])
        self.ssm = ssm_client
        self.tags = dict(tags or {})

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        try:
            resp = self.ssm.put_parameter(Name=self.parameter, Value=self.values[side],
                                          Type="String", Overwrite=True)
        except Exception as e:
            raise router_error(f"ssm PutParameter {self.parameter}", e) from e
        # PutParameter refuses Tags together with Overwrite, and a parameter's versions start
        # again at 1 when it is created: version 1 after an overwrite means we just made it.
        if self.tags and int((resp or {}).get("Version") or 0) == 1:
            try:
                self.ssm.add_tags_to_resource(
                    ResourceType="Parameter", ResourceId=self.parameter,
                    Tags=[{"Key": k, "Value": v} for k, v in sorted(self.tags.items())])
            except Exception as e:
                raise router_error(f"ssm AddTagsToResource {self.parameter}", e) from e

    def read_back(self) -> str | None:
        try:
            value = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except Exception as e:
            if error_code(e) == "ParameterNotFound":
                return None
            raise router_error(f"ssm GetParameter {self.parameter}", e) from e
        return side_of(value, self.values)

    @classmethod
    def read_many(cls, cfgs: list[dict[str, Any]], clients: Clients) -> list[Reading]:
        """Every router's parameter with GetParameters, 10 names a call (⌈distinct / 10⌉ calls);
        a name in InvalidParameters does not exist."""
        # Per region (a router may act in another region than the orchestrator's).
        values: dict[tuple[str | None, str], str] = {}
        # A call that fails leaves only its own names unread (a region out, say), not all.
        unread: dict[tuple[str | None, str], str] = {}
        for region in sorted({c.get("region") for c in cfgs}, key=str):
            ssm = clients.get("ssm", region)
            names = sorted({str(c["parameter"]) for c in cfgs if c.get("region") == region})
            for i in range(0, len(names), GET_PARAMETERS_MAX):
                chunk = names[i:i + GET_PARAMETERS_MAX]
                try:
                    got = ssm.get_parameters(Names=chunk)
                except Exception as e:
                    why = str(router_error(f"ssm GetParameters in {region or 'this region'}", e))
                    unread.update({(region, n): why for n in chunk})
                    continue
                for p in got.get("Parameters", []):
                    values[(region, str(p["Name"]))] = str(p["Value"])
        out = []
        for c in cfgs:
            name = str(c["parameter"])
            if (c.get("region"), name) in unread:
                out.append(Reading(None, readable=False,
                                   seen=f"cannot read: {unread[(c.get('region'), name)]}"))
            elif (c.get("region"), name) not in values:
                out.append(Reading(None, found=False, seen=f"SSM parameter {name} does not exist"))
            else:
                value = values[(c.get("region"), name)]
                out.append(Reading(side_of(value, dict(c["values"])),
                                   seen=f"SSM parameter {name} = {value!r}"))
        return out

    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None,
              tags: dict[str, str] | None = None) -> SsmSwitch:
        return cls(cfg, clients.get("ssm", cfg.get("region")), tags)
