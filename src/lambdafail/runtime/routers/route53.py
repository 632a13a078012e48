"""Runtime router `route53`: UPSERT the record to the side's value; read back the record set.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/route53.py`.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers.base import Reading, RouterBase, error_code, router_error, side_of

# ListResourceRecordSets returns at most 300 record sets a page; status reads at most this many
# pages of a zone, then asks for the records it has not seen one by one.
ZONE_PAGES_MAX = 10


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
                return self._side([r["Value"] for r in rrs.get("ResourceRecords", [])])
        return None

    def _side(self, vals: list[str]) -> str | None:
        if len(vals) != 1:
            return None
        norm = {s: v.rstrip(".").lower() for s, v in self.values.items()}
        return side_of(vals[0].rstrip(".").lower(), norm)

    @classmethod
    def read_many(cls, cfgs: list[dict[str, Any]], clients: Clients) -> list[Reading]:
        """Each zone listed once (⌈its record sets / 300⌉ calls, at most ZONE_PAGES_MAX; a
        routed record past them is read on its own)."""
        r53 = clients.get("route53")
        routers = [cls(c, r53) for c in cfgs]
        seen: dict[str, dict[tuple[str, str], list[str]] | None] = {}
        for zone in sorted({r.zone_id for r in routers}):
            seen[zone] = _list_zone(r53, zone)
        out = []
        for r in routers:
            records = seen[r.zone_id]
            if records is None:
                out.append(Reading(None, found=False, seen=f"hosted zone {r.zone_id} does not exist"))
                continue
            key = (_norm_name(r.record), r.type)
            if key not in records and records.get(("", "truncated")) is not None:
                side = r.read_back()  # the zone is larger than we list: this record alone
                out.append(Reading(side, found=True, seen=f"{r.type} {r.record}"))
                continue
            vals = records.get(key)
            if vals is None:
                out.append(Reading(None, found=False, seen=f"{r.type} record {r.record} does not "
                                   f"exist in zone {r.zone_id}"))
            else:
                out.append(Reading(r._side(vals), seen=f"{r.type} {r.record} = {', '.join(vals)}"))
        return out

    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None,
              tags: dict[str, str] | None = None) -> Route53Switch:
        return cls(cfg, clients.get("route53"))


def _list_zone(r53: Any, zone: str) -> dict[tuple[str, str], list[str]] | None:
    """(normalised name, type) -> values of a zone's record sets; None: no such zone. The key
    ("", "truncated") is present when the zone had more pages than ZONE_PAGES_MAX."""
    out: dict[tuple[str, str], list[str]] = {}
    kw: dict[str, Any] = {"HostedZoneId": zone, "MaxItems": "300"}
    for _ in range(ZONE_PAGES_MAX):
        try:
            page = r53.list_resource_record_sets(**kw)
        except Exception as e:
            if error_code(e) == "NoSuchHostedZone":
                return None
            raise router_error(f"route53 ListResourceRecordSets {zone}", e) from e
        for rrs in page.get("ResourceRecordSets", []):
            out[(_norm_name(rrs["Name"]), rrs["Type"])] = [
                r["Value"] for r in rrs.get("ResourceRecords", [])]
        if not page.get("IsTruncated"):
            return out
        kw["StartRecordName"] = page["NextRecordName"]
        kw["StartRecordType"] = page["NextRecordType"]
    out[("", "truncated")] = []
    return out
