"""Runtime router `route53`: UPSERT the record to the side's value; read back the record set.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/route53.py`.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers.base import RouterBase, router_error, side_of


def _norm_name(name: str) -> str:
    # Route 53 returns names lower-cased, with a trailing dot, and some characters as \ooo
    # octal escapes (e.g. "*" as \052).
    return name.rstrip(".").lower().replace("\\052", "*")


class Route53Switch(RouterBase):
    kind = "route53"

    def __init__(self, cfg: dict[str, Any], route53_client: Any) -> None:
        self.zone_id = str(cfg["zone_id"])
        self.record = str(cfg["record"])
        self.type = str(cfg["type"])
        self.ttl = int(cfg["ttl"])
        self.values: dict[str, str] = dict(cfg["values"])
        self.r53 = route53_client

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        try:
            self.r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={
                "Comment": f"lambdafail: {side}",
                "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": self.record, "Type": self.type, "TTL": self.ttl,
                    "ResourceRecords": [{"Value": self.values[side]}]}}]})
        except Exception as e:
            raise router_error(f"route53 ChangeResourceRecordSets UPSERT {self.record}", e) from e

    def read_back(self) -> str | None:
        try:
            resp = self.r53.list_resource_record_sets(
                HostedZoneId=self.zone_id, StartRecordName=self.record,
                StartRecordType=self.type, MaxItems="1")
        except Exception as e:
            raise router_error(f"route53 ListResourceRecordSets {self.record}", e) from e
        for rrs in resp.get("ResourceRecordSets", []):
            if _norm_name(rrs["Name"]) == _norm_name(self.record) and rrs["Type"] == self.type:
                vals = [r["Value"] for r in rrs.get("ResourceRecords", [])]
                if len(vals) != 1:
                    return None
                norm = {s: v.rstrip(".").lower() for s, v in self.values.items()}
                return side_of(vals[0].rstrip(".").lower(), norm)
        return None

    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None) -> Route53Switch:
        return cls(cfg, clients.get("route53"))
