"""Router kind `route53`: one record (CNAME, A or AAAA) of a hosted zone, UPSERTed per side.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, hint);
its runtime twin is `lambdafail/runtime/routers/route53.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lambdafail.model.arns import Where, normalized_record_name, statement
from lambdafail.model.common import Reference, Strict
from lambdafail.model.kinds.base import RouterKind, RouterSpec


class Route53Spec(Strict):
    zone_id: str = Field(pattern=r"^(/hostedzone/)?Z[A-Z0-9]{1,31}$")
    record: str = Field(min_length=1, max_length=253)
    type: Literal["CNAME", "A", "AAAA"] = "CNAME"
    ttl: int = Field(default=60, ge=0, le=86400)
    primary: str = Field(min_length=1)
    standby: str = Field(min_length=1)


class Route53Router(RouterSpec):
    route53: Route53Spec


class Route53(RouterKind[Route53Router]):
    kind = "route53"
    key = "route53"
    model = Route53Router
    regional = False  # ChangeResourceRecordSets is served from us-east-1 whatever the region

    def compile(self, router: Route53Router, targets: dict[str, str]) -> dict[str, Any]:
        s = router.route53
        zone = s.zone_id.removeprefix("/hostedzone/")
        record = s.record if s.record.endswith(".") else s.record + "."
        return {"kind": "route53", "zone_id": zone, "record": record, "type": s.type,
                "ttl": s.ttl, "values": {"primary": s.primary, "standby": s.standby}}

    def route_key(self, router: Route53Router) -> str | None:
        record = router.route53.record.rstrip(".").lower()
        return f"record {record} {router.route53.type} in zone {router.route53.zone_id}"

    def iam_statements(self, routers: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        zones = sorted({where.arn("route53", f"hostedzone/{r['zone_id']}", regional=False,
                                  account=False) for r in routers})
        records = sorted({normalized_record_name(r["record"]) for r in routers})
        record_types = sorted({str(r.get("type", "CNAME")).upper() for r in routers})
        out = statement("RouterZoneReads", ["route53:ListResourceRecordSets"], zones)
        # Only the routed records, only their types, only UPSERT (what the router sends): the
        # role cannot change any other record of the zone.
        out += statement("RouterZones", ["route53:ChangeResourceRecordSets"], zones, {
            "ForAllValues:StringEquals": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": records,
                "route53:ChangeResourceRecordSetsRecordTypes": record_types,
                "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}})
        if zones:
            # GetChange has no zone scope; change ids are the narrowest resource AWS offers.
            out += statement("RouterZoneChanges", ["route53:GetChange"],
                             [where.arn("route53", "change/*", regional=False, account=False)])
        return out

    def references(self, router: dict[str, Any]) -> list[Reference]:
        return [("hosted zone", str(router["zone_id"]), None)]

    def hint(self, router: dict[str, Any], side: str) -> str:
        value = router.get("values", {}).get(side, "?")
        return (f"the {router.get('type', 'CNAME')} record {router['record']} in hosted "
                f"zone {router['zone_id']} (for {side}: {value!r})")


KIND = Route53()
