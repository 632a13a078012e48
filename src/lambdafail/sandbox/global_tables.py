"""DynamoDB global tables with multi-Region strong consistency (MRSC), which moto 5.2.1 lacks.

Job: UpdateTable's `ReplicaUpdates` + `MultiRegionConsistency: STRONG` turns a table into an
MRSC global table of exactly three Regions of one Region set; then the table exists in each of
them (DescribeTable, ListTables, CreateTable's `ResourceInUseException`) and every data-plane
request sent to any of them acts on one store, moto's table in the Region it was created in
(its home): every Region reads the latest write and conditions check the latest version.

Rule: a request naming a global table is answered here, in full, by moto's home-Region table
(the request is re-signed for the home Region; ARNs in control-plane answers are turned back
into the request's Region). What AWS refuses on MRSC tables is refused here: transactions,
enabling TTL, DeleteTable while replicas exist, adding replicas; a write (and a strongly
consistent read) needs a majority of the three Regions lit (outages.py). Requests naming no
global table are left alone. The caller holds the sandbox's DynamoDB lock around `answer`.
The registry is process-wide, as moto's state is; an entry whose home table moto no longer
has (deleted, or moto reset) is forgotten.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdafail.sandbox import backends

Answer = tuple[str, list[tuple[str, str]], bytes]  # status line, headers, body
#: moto's answer to (Region, operation, request document) for the home Region.
Moto = Callable[[str, str, dict[str, Any]], Answer]

#: AWS: an MRSC global table spans exactly three Regions of one of these sets.
REGION_SETS: dict[str, frozenset[str]] = {
    "US": frozenset({"us-east-1", "us-east-2", "us-west-2"}),
    "EU": frozenset({"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}),
    "AP": frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}),
}
MRSC_REGIONS = 3

_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})
_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})
_TRANSACTIONS = frozenset({"TransactWriteItems", "TransactGetItems"})
_ONE_TABLE = frozenset({"DescribeTable", "UpdateTable", "DeleteTable", "UpdateTimeToLive",
                        "DescribeTimeToLive", "PutItem", "UpdateItem", "DeleteItem",
                        "GetItem", "Query", "Scan"})
_DESCRIBED = ("Table", "TableDescription")
_JSON = "application/x-amz-json-1.0"


@dataclass(frozen=True)
class GlobalTable:
    name: str
    home: str
    replicas: tuple[str, ...]  # the other two Regions, sorted
    table: Any = field(compare=False)  # moto's home Table: the entry lives while moto keeps it

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.home, *self.replicas)

    def arn(self, region: str) -> str:
        return f"arn:aws:dynamodb:{region}:{backends.ACCOUNT_ID}:table/{self.name}"


class Registry:
    """The global tables of this process: (Region, name) → its table, for all three Regions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_home: dict[tuple[str, str], GlobalTable] = {}

    def add(self, gt: GlobalTable) -> None:
        with self._lock:
            self._by_home[(gt.home, gt.name)] = gt

    def remove(self, gt: GlobalTable) -> None:
        with self._lock:
            self._by_home.pop((gt.home, gt.name), None)

    def all(self) -> list[GlobalTable]:
        with self._lock:
            entries = list(self._by_home.values())
        live = []
        for gt in entries:
            if backends.dynamodb_table(gt.home, gt.name) is gt.table:
                live.append(gt)
            else:
                self.remove(gt)
        return live

    def find(self, region: str, name: str) -> GlobalTable | None:
        """The global table of that name with a replica in `region` (home included)."""
        for gt in self.all():
            if gt.name == name and region in gt.regions:
                return gt
        return None


REGISTRY = Registry()


def error(code: str, message: str, status: int = 400) -> Answer:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                       "message": message}).encode()
    reason = {400: "Bad Request", 500: "Internal Server Error"}.get(status, "")
    return (f"{status} {reason}", [("Content-Type", _JSON),
                                   ("x-amzn-RequestId", str(uuid.uuid4())),
                                   ("Content-Length", str(len(body)))], body)


def _ok(doc: dict[str, Any]) -> Answer:
    body = json.dumps(doc).encode()
    return ("200 OK", [("Content-Type", _JSON), ("x-amzn-RequestId", str(uuid.uuid4())),
                       ("Content-Length", str(len(body)))], body)


def _validation(message: str) -> Answer:
    return error("ValidationException", message)


def _name(ref: object) -> str:
    """A table name from a TableName value: a name or (AWS accepts both) a table ARN."""
    text = str(ref or "")
    return text.split(":table/", 1)[1] if text.startswith("arn:") and ":table/" in text else text


def _region_set(region: str) -> str | None:
    return next((k for k, v in REGION_SETS.items() if region in v), None)


class GlobalTables:
    def __init__(self, dark: Callable[[str], bool], registry: Registry = REGISTRY):
        self.dark = dark
        self.registry = registry

    def answer(self, op: str, region: str, doc: dict[str, Any], moto: Moto) -> Answer | None:
        """The answer to a DynamoDB request `op` sent to `region`, or None: not about a
        global table, moto answers it as it is. `moto` answers this request re-addressed."""
        if op == "ListTables":
            return self._list_tables(region, doc)
        if op == "CreateTable":
            gt = self.registry.find(region, _name(doc.get("TableName")))
            if gt is None or region == gt.home:
                return None  # in the home Region moto itself says the table exists
            return error("ResourceInUseException", f"Table already exists: {gt.name}")
        if op == "UpdateTable" and "ReplicaUpdates" in doc:
            return self._replica_updates(region, doc, moto)
        if op in _TRANSACTIONS:
            return self._transaction(region, doc)
        if op in _ONE_TABLE:
            gt = self.registry.find(region, _name(doc.get("TableName")))
            return None if gt is None else self._one_table(op, region, doc, gt, moto)
        if op in ("BatchGetItem", "BatchWriteItem"):
            return self._batch(op, region, doc, moto)
        return None

    # -- data plane ----------------------------------------------------------------------------
    def _no_majority(self, gt: GlobalTable, region: str, op: str, consistent: bool) -> Answer | None:
        """AWS: an MRSC write (and a strongly consistent read) is acknowledged by a majority
        of the three Regions; with two of them unreachable it fails (HTTP 500)."""
        if op not in _WRITES and not (op in _READS and consistent):
            return None
        dark = [r for r in gt.regions if r != region and self.dark(r)]
        if (len(gt.regions) - len(dark)) * 2 > len(gt.regions):
            return None
        return error("InternalServerError",
                     f"Internal server error: table {gt.name} cannot reach a majority of its "
                     f"Regions ({', '.join(sorted(dark))} unreachable)", 500)

    def _one_table(self, op: str, region: str, doc: dict[str, Any], gt: GlobalTable,
                   moto: Moto) -> Answer:
        if op == "DeleteTable":
            return _validation(f"Table {gt.name} has replicas in "
                               f"{', '.join(r for r in gt.regions if r != region)}: remove "
                               "them first (UpdateTable ReplicaUpdates Delete) before "
                               "deleting the table")
        if op == "UpdateTimeToLive" and (doc.get("TimeToLiveSpecification") or {}).get(
                "Enabled") is True:
            return _validation("Time to Live is not supported on multi-Region strongly "
                               "consistent tables")
        refused = self._no_majority(gt, region, op, doc.get("ConsistentRead") is True)
        if refused is not None:
            return refused
        got = moto(gt.home, op, {**doc, "TableName": gt.name})
        return self._decorate(got, gt, region) if op in ("DescribeTable", "UpdateTable") \
            else got

    def _batch(self, op: str, region: str, doc: dict[str, Any], moto: Moto) -> Answer | None:
        items = doc.get("RequestItems")
        if not isinstance(items, dict):
            return None
        found = {ref: self.registry.find(region, _name(ref)) for ref in items}
        tables = {gt for gt in found.values() if gt is not None}
        if not tables:
            return None
        for gt in sorted(tables, key=lambda t: t.name):
            consistent = op == "BatchGetItem" and any(
                isinstance(v, dict) and v.get("ConsistentRead") is True
                for ref, v in items.items() if found[ref] is gt)
            refused = self._no_majority(gt, region, op, consistent)
            if refused is not None:
                return refused
        homes = {gt.home for gt in tables}
        if homes == {region}:
            return moto(region, op, doc)
        if len(homes) > 1 or None in found.values():
            return _validation("The sandbox cannot mix, in one batch sent to a replica "
                               "Region, global tables of another home Region with other "
                               "tables: send one batch per table")
        home = homes.pop()
        renamed = {gt.name: items[ref] for ref, gt in found.items() if gt is not None}
        return moto(home, op, {**doc, "RequestItems": renamed})

    def _transaction(self, region: str, doc: dict[str, Any]) -> Answer | None:
        for entry in doc.get("TransactItems") or []:
            if not isinstance(entry, dict):
                continue
            for action in entry.values():
                if isinstance(action, dict) and self.registry.find(
                        region, _name(action.get("TableName"))) is not None:
                    return _validation("Transactions are not supported on multi-Region "
                                       "strongly consistent tables")
        return None

    # -- control plane -------------------------------------------------------------------------
    def _decorate(self, got: Answer, gt: GlobalTable, region: str,
                  table_status: str | None = None, replica_status: str = "ACTIVE") -> Answer:
        """A DescribeTable / UpdateTable answer as seen from `region`: its ARNs, the other
        Regions as replicas, the table's consistency mode."""
        status, _, body = got
        if not status.startswith("200"):
            return got
        doc = json.loads(body)
        for key in _DESCRIBED:
            desc = doc.get(key)
            if isinstance(desc, dict):
                desc = _rearn(desc, gt.arn(gt.home), gt.arn(region))
                desc["Replicas"] = [{"RegionName": r, "ReplicaStatus": replica_status}
                                    for r in gt.regions if r != region]
                desc["MultiRegionConsistency"] = "STRONG"
                desc["GlobalTableVersion"] = "2019.11.21"
                if table_status is not None:
                    desc["TableStatus"] = table_status
                doc[key] = desc
        return _ok(doc)

    def _list_tables(self, region: str, doc: dict[str, Any]) -> Answer | None:
        extra = sorted(gt.name for gt in self.registry.all()
                       if region in gt.replicas)
        if not extra:
            return None
        own = backends.dynamodb_table_names(region)
        names = own + [n for n in extra if n not in own]
        start = 0
        after = doc.get("ExclusiveStartTableName")
        if after:
            start = names.index(after) + 1 if after in names else len(names)
        limit = doc.get("Limit")
        page = names[start:start + limit] if isinstance(limit, int) and limit > 0 \
            else names[start:]
        out: dict[str, Any] = {"TableNames": page}
        if page and start + len(page) < len(names):
            out["LastEvaluatedTableName"] = page[-1]
        return _ok(out)

    def _replica_updates(self, region: str, doc: dict[str, Any], moto: Moto) -> Answer:
        name = _name(doc.get("TableName"))
        updates = doc.get("ReplicaUpdates")
        if not isinstance(updates, list) or not updates or not all(
                isinstance(u, dict) and len(u) == 1 for u in updates):
            return _validation("ReplicaUpdates must list one Create or Delete per entry")
        kinds = {next(iter(u)) for u in updates}
        targets = [str((u[k] or {}).get("RegionName") or "") for u in updates for k in u]
        gt = self.registry.find(region, name)
        if kinds == {"Delete"}:
            if gt is None:
                return _validation(f"Table {name} has no replicas to delete")
            return self._delete_replicas(region, gt, targets, moto)
        if kinds != {"Create"}:
            return _validation("ReplicaUpdates: only Create (to make the table a global "
                               "table) or Delete (of all its replicas) in one request")
        if gt is not None:
            return _validation(f"Table {name} is a multi-Region strongly consistent global "
                               "table: replicas cannot be added to it")
        return self._create_replicas(region, name, targets, doc.get("MultiRegionConsistency"),
                                     moto)

    def _create_replicas(self, region: str, name: str, targets: list[str],
                         consistency: object, moto: Moto) -> Answer:
        table = backends.dynamodb_table(region, name)
        if table is None:
            return error("ResourceNotFoundException",
                         f"Requested resource not found: Table: {name} not found")
        if consistency != "STRONG":
            return _validation("The sandbox emulates only multi-Region strongly consistent "
                               "global tables: MultiRegionConsistency must be STRONG")
        regions = {region, *targets}
        home_set = _region_set(region)
        if len(targets) != len(set(targets)) or region in targets:
            return _validation("Each replica Region must be named once, and not the table's "
                               f"own Region ({region})")
        if len(regions) != MRSC_REGIONS:
            return _validation("A multi-Region strongly consistent global table needs exactly "
                               f"{MRSC_REGIONS} Regions: the table's Region and "
                               f"{MRSC_REGIONS - 1} replicas (got {len(regions)})")
        if home_set is None or not regions <= REGION_SETS[home_set]:
            return _validation("The Regions of a multi-Region strongly consistent global "
                               "table must all be in one Region set: " + "; ".join(
                                   f"{k}: {', '.join(sorted(v))}"
                                   for k, v in REGION_SETS.items()))
        if len(table) > 0:
            return _validation(f"Table {name} is not empty: only an empty table can be made "
                               "a multi-Region strongly consistent global table")
        if table.indexes:
            return _validation("Multi-Region strongly consistent global tables do not "
                               "support local secondary indexes")
        taken = [r for r in targets if backends.dynamodb_table(r, name) is not None]
        if taken:
            return _validation(f"Table {name} already exists in {', '.join(sorted(taken))}")
        gt = GlobalTable(name, region, tuple(sorted(targets)), table)
        self.registry.add(gt)
        described = moto(region, "DescribeTable", {"TableName": name})
        out = self._decorate(described, gt, region, "UPDATING", "CREATING")
        return _renamed(out, "Table", "TableDescription")

    def _delete_replicas(self, region: str, gt: GlobalTable, targets: list[str],
                         moto: Moto) -> Answer:
        if region != gt.home:
            return _validation(f"The sandbox removes the replicas of {gt.name} only from its "
                               f"home Region {gt.home}")
        if sorted(targets) != list(gt.replicas):
            return _validation("The replicas of a multi-Region strongly consistent global "
                               f"table are removed together: delete {', '.join(gt.replicas)} "
                               "in one request")
        described = moto(gt.home, "DescribeTable", {"TableName": gt.name})
        out = self._decorate(described, gt, region, "UPDATING", "DELETING")
        self.registry.remove(gt)
        return _renamed(out, "Table", "TableDescription")


def _rearn(value: Any, old: str, new: str) -> Any:
    """`value` with every string starting with the home ARN turned into the Region's ARN."""
    if isinstance(value, str):
        return new + value[len(old):] if value.startswith(old) else value
    if isinstance(value, dict):
        return {k: _rearn(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rearn(v, old, new) for v in value]
    return value


def _renamed(got: Answer, old: str, new: str) -> Answer:
    """DescribeTable's `Table` as UpdateTable's `TableDescription`."""
    status, _, body = got
    if not status.startswith("200"):
        return got
    doc = json.loads(body)
    doc[new] = doc.pop(old)
    return _ok(doc)
