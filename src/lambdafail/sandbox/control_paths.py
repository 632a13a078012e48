"""The sandbox's own control paths (not AWS APIs): region outages, regional web endpoints,
the DNS answer of failover records, and the request log.

Rule: a mixin of `app.SandboxApp`; each path answers JSON (`{"error": …}` with a 4xx for bad
input) and is never cut off by an outage, except a regional endpoint itself (server.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from lambdafail.sandbox import outages, regional_web
from lambdafail.sandbox.wsgi import StartResponse
from lambdafail.sandbox.wsgi import read_body as _read_body
from lambdafail.sandbox.wsgi import respond as _respond

if TYPE_CHECKING:
    from lambdafail.sandbox.server import Sandbox

DNS_PATH = "/_lambdafail/dns"
REQUESTS_PATH = "/_lambdafail/requests"


def _outage_request(body: bytes) -> dict[str, Any]:
    """The control path's POST body, checked: {"region": a region botocore knows, "seconds":
    a finite number in (0, 7 days] or absent, "end": a boolean or absent}."""
    import math

    from lambdafail.model import regions

    try:
        req = json.loads(body or b"{}")
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(req, dict) or not isinstance(req.get("region"), str):
        raise ValueError('expected {"region": "<region>", "seconds"?: N, "end"?: true}')
    if regions.partition_of(req["region"]) is None:
        raise ValueError(f"not an AWS region: {req['region']!r}; "
                         + regions.unknown_region_hint(req["region"]))
    seconds = req.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                or not math.isfinite(seconds)
                                or not 0 < seconds <= outages.MAX_SECONDS):
        raise ValueError(f"seconds must be a number in (0, {outages.MAX_SECONDS}]")
    if not isinstance(req.get("end", False), bool):
        raise ValueError("end must be true or false")
    return req


class ControlPaths:
    sandbox: Sandbox

    def request_log(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """GET ?since=SEQ: the requests served after SEQ (all by default), oldest first."""
        raw = (parse_qs(environ.get("QUERY_STRING", "")).get("since") or ["0"])[0]
        try:
            since = int(raw)
        except ValueError:
            return _respond(start_response, 400, json.dumps(
                {"error": f"since must be an integer, got {raw!r}"}).encode())
        return _respond(start_response, 200, json.dumps(
            {"requests": self.sandbox.requests.since(since)}).encode())

    def dns_answer(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """GET ?zone=Z…&name=app.example.com&type=CNAME: what Route 53 would answer (dns.py)."""
        from lambdafail.sandbox import dns

        q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        missing = [k for k in ("zone", "name") if not q.get(k)]
        if missing:
            return _respond(start_response, 400, json.dumps(
                {"error": f"missing {', '.join(missing)}: ?zone=Z…&name=…&type=CNAME"}).encode())
        rtype = q.get("type", "CNAME").upper()
        try:
            got = dns.answer(q["zone"].removeprefix("/hostedzone/"), q["name"], rtype,
                             self.sandbox.outages.dark)
        except Exception as e:
            if type(e).__name__ != "NoSuchHostedZone":
                raise
            return _respond(start_response, 404, json.dumps(
                {"error": f"no hosted zone {q['zone']}"}).encode())
        return _respond(start_response, 200, json.dumps(
            {"zone": q["zone"], "name": q["name"], "type": rtype, **got}).encode())

    def outage_control(self, environ: dict[str, Any],
                       start_response: StartResponse) -> list[bytes]:
        """GET: the dark regions. POST {"region", "seconds"?: sandbox seconds, "end"?: true}:
        black a region out, or light it again; the answer is the dark regions after it (and,
        for an end, whether the region was dark)."""
        dark = self.sandbox.outages
        answer: dict[str, Any] = {}
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                req = _outage_request(_read_body(environ))
            except ValueError as e:
                return _respond(start_response, 400, json.dumps({"error": str(e)}).encode())
            region, seconds = req["region"], req.get("seconds")
            if req.get("end"):
                ended = dark.end(region)
                answer["ended"] = ended
                self.sandbox.log.write("OUTAGE", f"region {region} "
                                       + ("lit again" if ended else "was not dark"))
            else:
                dark.start(region, None if seconds is None else float(seconds))
                self.sandbox.log.write("OUTAGE", f"region {region} dark"
                                       + (f" for {float(seconds):g} s" if seconds else ""))
        answer["outages"] = dark.snapshot()
        return _respond(start_response, 200, json.dumps(answer).encode())

    def regional_web(self, environ: dict[str, Any], start_response: StartResponse,
                     path: str) -> list[bytes]:
        """regional_web.py: GET WEB_PATH lists the endpoints; a path below WEB_PATH/<region>/
        <name>/ is the endpoint (its status, `ok` or `failing`; a dark region's requests never
        get here: server.py cuts them off); WEB_PATH/<region>/<name> is its control (GET reads
        it, POST {"status": N} sets it)."""
        from lambdafail.model import regions

        web = self.sandbox.web
        method = environ.get("REQUEST_METHOD", "GET")
        if path in (regional_web.WEB_PATH, regional_web.WEB_PATH + "/"):
            if method != "GET":
                return _respond(start_response, 405, json.dumps(
                    {"error": f"{method} {path}: only GET lists the endpoints"}).encode())
            return _respond(start_response, 200, json.dumps(
                {"endpoints": web.snapshot()}).encode())
        got = regional_web.split(path)
        try:
            if got is None:
                raise ValueError(f"expected {regional_web.WEB_PATH}/<region>/<name>[/healthz]")
            region, name, served = got
            if regions.partition_of(region) is None:
                raise ValueError(f"not an AWS region: {region!r}; "
                                 + regions.unknown_region_hint(region))
            regional_web.check_name(name)
        except ValueError as e:
            return _respond(start_response, 404, json.dumps({"error": str(e)}).encode())
        if served:
            status = web.answer(region, name)
            body = (b"ok\n" if status < 400 else b"failing\n")
            return _respond(start_response, status, b"" if method == "HEAD" else body,
                            {"Content-Type": "text/plain"})
        if method == "POST":
            try:
                req = json.loads(_read_body(environ) or b"{}")
                if not isinstance(req, dict) or set(req) != {"status"}:
                    raise ValueError('expected {"status": N}')
                status = regional_web.check_status(req["status"])
            except ValueError as e:
                why = "the body is not JSON" if isinstance(e, json.JSONDecodeError) else str(e)
                return _respond(start_response, 400, json.dumps({"error": why}).encode())
            web.set(region, name, status)
            self.sandbox.log.write("WEB", f"{region}/{name} answers {status}")
        elif method != "GET":
            return _respond(start_response, 405, json.dumps(
                {"error": f"{method} {path}: GET reads the endpoint, POST sets it"}).encode())
        return _respond(start_response, 200, json.dumps(
            {"endpoint": web.describe(region, name),
             "url": regional_web.url(self.sandbox.endpoint_url, region, name)}).encode())
