"""What moto lacks (or does not check) that recovery steps rely on, answered as AWS does.

Rule: the sandbox's WSGI layer hands these requests here before moto sees them; each answer
follows AWS's API reference (status, error code, shape), and AWS's slow transitions take
time, scaled like the sandbox's schedules:

- Lambda provisioned concurrency (moto 5.2.1 has none): Put/Get/DeleteProvisionedConcurrencyConfig
  on an alias or a published version (not $LATEST: InvalidParameterValueException),
  IN_PROGRESS for ALLOCATION_SECONDS, then READY with the requested amount allocated; a put
  while one is IN_PROGRESS is refused (ResourceConflictException).
- Aurora SwitchoverGlobalCluster / FailoverGlobalCluster (moto has global clusters, not these):
  a FailoverState (`switching-over` / `failing-over`) for SWITCH_SECONDS, shown in
  DescribeGlobalClusters, then the target is moto's writer; a second request meanwhile is
  refused (InvalidGlobalClusterStateFault). DescribeGlobalClusters answers only the named
  cluster (moto lists them all; an unknown one is GlobalClusterNotFoundFault, as AWS).
- UpdateAutoScalingGroup: AWS refuses a desired capacity outside [min, max] (ValidationError);
  moto accepts it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from lambdafail.sandbox import backends

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: AWS allocates provisioned concurrency over a minute or two; switches a global database
#: over a few minutes. Both divided by the sandbox's time scale.
ALLOCATION_SECONDS = 60.0
SWITCH_SECONDS = 120.0

_PROVISIONED = re.compile(r"^/2019-09-30/functions/(?P<name>[^/]+)/provisioned-concurrency/?$")
_RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
_ASG_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"


@dataclass
class _Provisioned:
    requested: int
    ready_at: float
    modified: str


@dataclass
class _Switch:
    from_arn: str
    to_arn: str
    status: str  # switching-over | failing-over
    data_loss: bool
    due: float


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _json(start_response: StartResponse, status: int, body: dict[str, Any] | None,
          error: str | None = None) -> list[bytes]:
    raw = json.dumps(body).encode() if body is not None else b""
    reason = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
              404: "Not Found", 409: "Conflict"}[status]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(raw))),
               ("x-amzn-RequestId", str(uuid.uuid4()))]
    if error:
        headers.append(("x-amzn-ErrorType", error))
    start_response(f"{status} {reason}", headers)
    return [raw]


def _xml_error(start_response: StartResponse, ns: str, status: int, code: str,
               message: str) -> list[bytes]:
    raw = (f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>{code}</Code>'
           f"<Message>{_escape(message)}</Message></Error><RequestId>{uuid.uuid4()}"
           f"</RequestId></ErrorResponse>").encode()
    start_response(f"{status} {'Not Found' if status == 404 else 'Bad Request'}",
                   [("Content-Type", "text/xml"), ("Content-Length", str(len(raw)))])
    return [raw]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class RecoveryApis:
    def __init__(self, moto_app: WsgiApp, region: str, time_scale: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.moto_app = moto_app
        self.region = region
        self.time_scale = time_scale
        self.clock = clock
        self._lock = threading.Lock()
        self._provisioned: dict[tuple[str, str, str], _Provisioned] = {}
        self._switches: dict[str, _Switch] = {}

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, environ: dict[str, Any], start_response: StartResponse, region: str,
               service: str, body: bytes | None) -> Iterable[bytes] | None:
        """The answer, or None to let moto answer. `body` is the (re-readable) form body of
        a query-protocol request, None otherwise."""
        m = _PROVISIONED.match(environ.get("PATH_INFO", ""))
        if m and environ.get("REQUEST_METHOD") in ("PUT", "GET", "DELETE"):
            return self._provisioned_concurrency(environ, start_response, region,
                                                 unquote(m.group("name")))
        if body is None or service not in ("rds", "autoscaling"):
            return None
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        action = form.get("Action", "")
        if service == "rds" and action in ("SwitchoverGlobalCluster", "FailoverGlobalCluster"):
            return self._switch(start_response, action, form)
        if service == "rds" and action == "DescribeGlobalClusters":
            return self._describe_global(environ, start_response,
                                         form.get("GlobalClusterIdentifier", "").lower())
        if service == "autoscaling" and action == "UpdateAutoScalingGroup":
            return self._check_sizes(start_response, region, form)
        return None

    # -- Lambda provisioned concurrency -----------------------------------------------------
    def _provisioned_concurrency(self, environ: dict[str, Any], start_response: StartResponse,
                                 region: str, name: str) -> list[bytes]:
        if name.startswith("arn:") and len(name.split(":")) > 3:
            region = name.split(":")[3] or region
        qualifier = (parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier") or [""])[0]
        if not qualifier or qualifier == "$LATEST":
            return _json(start_response, 400, {
                "Type": "User", "message": "Provisioned Concurrency Configs cannot be applied "
                "to unpublished function versions."}, "InvalidParameterValueException")
        if backends.get_function(region, name, qualifier) is None:
            return _json(start_response, 404, {
                "Type": "User", "Message": f"Function not found: {name}:{qualifier}"},
                "ResourceNotFoundException")
        key = (region, name.rsplit(":", 1)[-1] if name.startswith("arn:") else name, qualifier)
        method = environ["REQUEST_METHOD"]
        with self._lock:
            cfg = self._provisioned.get(key)
            if method == "DELETE":
                self._provisioned.pop(key, None)
                return _json(start_response, 204, None)
            if method == "GET":
                if cfg is None:
                    return _json(start_response, 404, {
                        "Type": "User", "message": "No Provisioned Concurrency Config found "
                        "for this function"}, "ProvisionedConcurrencyConfigNotFoundException")
                return _json(start_response, 200, self._pc_view(cfg))
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b"{}"
            try:
                want = int(json.loads(raw or b"{}").get("ProvisionedConcurrentExecutions"))
            except (TypeError, ValueError):
                want = 0
            if want < 1:
                return _json(start_response, 400, {
                    "Type": "User", "message": "1 validation error detected: Value at "
                    "'provisionedConcurrentExecutions' failed to satisfy constraint: Member "
                    "must have value greater than or equal to 1"}, "ValidationException")
            if cfg is not None and self.clock() < cfg.ready_at:
                return _json(start_response, 409, {
                    "Type": "User", "message": "The operation cannot be performed at this "
                    "time. An update is in progress for resource: " + name},
                    "ResourceConflictException")
            cfg = _Provisioned(want, self.clock() + ALLOCATION_SECONDS / self.time_scale,
                               _iso_now())
            self._provisioned[key] = cfg
            return _json(start_response, 202, self._pc_view(cfg))

    def _pc_view(self, cfg: _Provisioned) -> dict[str, Any]:
        ready = self.clock() >= cfg.ready_at
        return {"RequestedProvisionedConcurrentExecutions": cfg.requested,
                "AvailableProvisionedConcurrentExecutions": cfg.requested if ready else 0,
                "AllocatedProvisionedConcurrentExecutions": cfg.requested if ready else 0,
                "Status": "READY" if ready else "IN_PROGRESS", "LastModified": cfg.modified}

    # -- Aurora global databases ------------------------------------------------------------
    def _settle(self) -> None:
        """Finish the switches that are due: the target becomes moto's writer."""
        now = self.clock()
        for ident, sw in list(self._switches.items()):
            if now < sw.due:
                continue
            cluster = backends.global_cluster(ident)
            if cluster is not None:
                for arn, member in backends.global_members(cluster).items():
                    member.is_writer = arn == sw.to_arn
            del self._switches[ident]

    def _switch(self, start_response: StartResponse, action: str,
                form: dict[str, str]) -> list[bytes]:
        ident = form.get("GlobalClusterIdentifier", "").lower()
        target = form.get("TargetDbClusterIdentifier", "")
        data_loss = form.get("AllowDataLoss", "false").lower() == "true"
        with self._lock:
            self._settle()
            cluster = backends.global_cluster(ident)
            if cluster is None:
                return _xml_error(start_response, _RDS_NS, 404, "GlobalClusterNotFoundFault",
                                  f"Global cluster {ident} not found.")
            members = backends.global_members(cluster)
            if target not in members:
                return _xml_error(start_response, _RDS_NS, 404, "DBClusterNotFoundFault",
                                  f"DBCluster {target} is not a member of {ident}.")
            if ident in self._switches:
                return _xml_error(start_response, _RDS_NS, 400,
                                  "InvalidGlobalClusterStateFault",
                                  f"Global cluster {ident} is already being switched.")
            if members[target].is_writer:
                return _xml_error(start_response, _RDS_NS, 400,
                                  "InvalidGlobalClusterStateFault",
                                  f"{target} is already the primary cluster of {ident}.")
            if action == "FailoverGlobalCluster" and not data_loss \
                    and form.get("Switchover", "false").lower() != "true":
                return _xml_error(start_response, _RDS_NS, 400, "InvalidParameterCombination",
                                  "Specify AllowDataLoss or Switchover.")
            writer = next((a for a, m in members.items() if m.is_writer), "")
            status = "failing-over" if data_loss else "switching-over"
            self._switches[ident] = _Switch(writer, target, status, data_loss,
                                            self.clock() + SWITCH_SECONDS / self.time_scale)
            raw = (f'<{action}Response xmlns="{_RDS_NS}"><{action}Result><GlobalCluster>'
                   f"<GlobalClusterIdentifier>{_escape(ident)}</GlobalClusterIdentifier>"
                   f"<GlobalClusterArn>{_escape(str(cluster.arn))}</GlobalClusterArn>"
                   f"<Status>{cluster.status}</Status>{self._failover_state_xml(ident)}"
                   f"</GlobalCluster></{action}Result><ResponseMetadata><RequestId>"
                   f"{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>").encode()
        start_response("200 OK", [("Content-Type", "text/xml"),
                                  ("Content-Length", str(len(raw)))])
        return [raw]

    def _failover_state_xml(self, ident: str) -> str:
        sw = self._switches.get(ident)
        if sw is None:
            return ""
        return (f"<FailoverState><Status>{sw.status}</Status><FromDbClusterArn>"
                f"{_escape(sw.from_arn)}</FromDbClusterArn><ToDbClusterArn>"
                f"{_escape(sw.to_arn)}</ToDbClusterArn><IsDataLossAllowed>"
                f"{str(sw.data_loss).lower()}</IsDataLossAllowed></FailoverState>")

    def _describe_global(self, environ: dict[str, Any], start_response: StartResponse,
                         ident: str) -> list[bytes]:
        """moto's answer, with AWS's filter by identifier (moto lists every global cluster
        whatever the identifier; AWS answers GlobalClusterNotFoundFault for an unknown one)
        and the FailoverState of a switch under way."""
        with self._lock:
            self._settle()
            if ident and backends.global_cluster(ident) is None:
                return _xml_error(start_response, _RDS_NS, 404, "GlobalClusterNotFoundFault",
                                  f"Global cluster {ident} not found.")
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
                captured.update(status=status, headers=headers)
                return lambda _data: None

            body = b"".join(self.moto_app(environ, capture))
            if str(captured.get("status", "")).startswith("200"):
                body = self._rewrite(body, ident)
        headers = [(k, v) for k, v in captured.get("headers", [])
                   if k.lower() != "content-length"] + [("Content-Length", str(len(body)))]
        start_response(captured.get("status", "500 Internal Server Error"), headers)
        return [body]

    def _rewrite(self, body: bytes, ident: str) -> bytes:
        ns = f"{{{_RDS_NS}}}"
        ET.register_namespace("", _RDS_NS)
        root = ET.fromstring(body)
        for listing in root.iter(f"{ns}GlobalClusters"):
            for cluster in list(listing):
                this = (cluster.findtext(f"{ns}GlobalClusterIdentifier") or "").lower()
                if ident and this != ident:
                    listing.remove(cluster)
                elif this in self._switches:
                    cluster.append(ET.fromstring(self._failover_state_xml(this).replace(
                        "<FailoverState>", f'<FailoverState xmlns="{_RDS_NS}">', 1)))
        return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=False))

    # -- Auto Scaling -----------------------------------------------------------------------
    def _check_sizes(self, start_response: StartResponse, region: str,
                     form: dict[str, str]) -> list[bytes] | None:
        group = backends.autoscaling_group(region, form.get("AutoScalingGroupName", ""))
        if group is None:
            return None  # moto answers: not found

        def size(key: str, current: Any) -> int | None:
            v = form.get(key)
            return int(v) if v not in (None, "") else (None if current is None
                                                         else int(current))

        lo, hi = size("MinSize", group.min_size), size("MaxSize", group.max_size)
        desired = size("DesiredCapacity", group.desired_capacity)
        if lo is not None and hi is not None and lo > hi:
            return _xml_error(start_response, _ASG_NS, 400, "ValidationError",
                              f"Max size: {hi} must be above Min size: {lo}")
        if desired is not None and lo is not None and hi is not None \
                and not lo <= desired <= hi:
            return _xml_error(start_response, _ASG_NS, 400, "ValidationError",
                              f"Desired capacity:{desired} must be between the specified min "
                              f"size:{lo} and max size:{hi}")
        return None
