"""Regional web endpoints in the sandbox (`lambdafail web`, sandbox/regional_web.py): a health
URL served by the sandbox answers 200 `ok`, or the status set for it; while its region is dark
its connection is cut off as an AWS request signed for that region is; other regions' endpoints
and the control path carry on. Driven through the real CLI and plain HTTP against an in-process
sandbox."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from conftest import run_cli
from lambdafail.sandbox import control, regional_web
from lambdafail.sandbox.server import Sandbox

DARK, LIT = "us-east-1", "us-west-2"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()


def web(sandbox: Sandbox, *args: str) -> tuple[int, Any, str]:
    r = run_cli("--endpoint-url", sandbox.endpoint_url, "-o", "json", "web", *args, timeout=60)
    doc = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None
    return r.returncode, doc, r.stderr


def test_an_endpoint_answers_ok_then_what_it_is_set_to(sandbox: Sandbox) -> None:
    url = regional_web.url(sandbox.endpoint_url, DARK, "web")
    assert get(url) == (200, "ok\n")
    rc, doc, err = web(sandbox, DARK, "web", "--status", "503")
    assert rc == 0, err
    assert doc == {"endpoint": {"region": DARK, "name": "web", "status": 503, "requests": 1},
                   "url": url}
    assert get(url) == (503, "failing\n")
    assert get(url.replace("/healthz", "/any/deeper/path")) == (503, "failing\n")
    rc, doc, err = web(sandbox, DARK, "web", "--healthy")
    assert rc == 0 and doc["endpoint"]["status"] == 200, err
    assert get(url) == (200, "ok\n")
    rc, doc, err = web(sandbox)
    assert rc == 0, err
    assert doc == {"endpoints": [{"region": DARK, "name": "web", "status": 200,
                                  "requests": 4}]}
    # Text: REGION NAME prints the URL alone on stdout, for a topology's `url:`.
    r = run_cli("--endpoint-url", sandbox.endpoint_url, "web", LIT, "api", timeout=60)
    assert r.returncode == 0 and r.stdout == url.replace(f"/{DARK}/web/", f"/{LIT}/api/") + "\n"


def test_a_dark_regions_endpoints_are_cut_off_and_the_others_answer(sandbox: Sandbox) -> None:
    dark_url = regional_web.url(sandbox.endpoint_url, DARK, "web")
    lit_url = regional_web.url(sandbox.endpoint_url, LIT, "web")
    control.outages(sandbox.endpoint_url, {"region": DARK})
    refused_before = sandbox.outages.snapshot()[0]["refused"]
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(dark_url, timeout=10)
    # An encoded region is the same region: it is cut off too.
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(dark_url.replace("us-east-1", "us-east-%31"), timeout=10)
    assert sandbox.outages.snapshot()[0]["refused"] == refused_before + 2
    assert get(lit_url) == (200, "ok\n")
    # Its control path is the sandbox's, not the endpoint: it still answers.
    assert control.web(sandbox.endpoint_url, DARK, "web", 503)["endpoint"] == {
        "region": DARK, "name": "web", "status": 503, "requests": 0}
    control.outages(sandbox.endpoint_url, {"region": DARK, "end": True})
    assert get(dark_url) == (503, "failing\n")


@pytest.mark.parametrize(("args", "said"), [
    (["us-moon-1", "web"], "not an AWS region"),
    ([DARK], "give REGION and NAME"),
    ([DARK, "we/b"], "not an endpoint name"),
    ([DARK, "web", "--status", "99"], "status must be an integer in [200, 599]"),
    ([DARK, "web", "--status", "503", "--healthy"], "not both"),
    (["--status", "503"], "need REGION and NAME"),
])
def test_bad_web_requests_are_usage_errors(sandbox: Sandbox, args: list[str], said: str) -> None:
    rc, _, err = web(sandbox, *args)
    assert rc == 2 and said in err and "Traceback" not in err, err
    assert sandbox.web.snapshot() == []


def test_web_endpoints_need_the_sandbox() -> None:
    r = run_cli("web", DARK, "web", timeout=60)
    assert r.returncode == 2
    assert "only in the sandbox" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("path", "body", "code"), [
    (f"/{DARK}/web", b'{"status": 700}', 400), (f"/{DARK}/web", b'{"status": true}', 400),
    (f"/{DARK}/web", b'{"status": 503, "x": 1}', 400), (f"/{DARK}/web", b"not json", 400),
    (f"/{DARK}/web", b'[503]', 400), ("/us-moon-1/web", b'{"status": 503}', 404),
    (f"/{DARK}/-web", b'{"status": 503}', 404), (f"/{DARK}", b'{"status": 503}', 404),
    ("", b'{"status": 503}', 405),
])
def test_the_web_control_path_refuses_what_it_cannot_honour(sandbox: Sandbox, path: str,
                                                            body: bytes, code: int) -> None:
    req = urllib.request.Request(sandbox.endpoint_url + regional_web.WEB_PATH + path,
                                 data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == code
    why = json.loads(err.value.read())["error"]
    assert why and "Traceback" not in why
    assert sandbox.web.snapshot() == []
