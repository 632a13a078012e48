"""The demo's HTTP services really go down and come back on the same port."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from lambdafail.sandbox.webservice import WebService


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_stop_closes_the_port_and_start_reuses_it() -> None:
    with WebService("primary") as svc:
        port = svc.port
        assert _get(svc.url) == 200
        svc.stop()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(svc.url, timeout=2)
        svc.start()
        assert svc.port == port
        assert _get(svc.url) == 200


def test_degrade_answers_503_until_healed() -> None:
    with WebService("standby") as svc:
        svc.degrade()
        assert _get(svc.url) == 503
        svc.heal()
        assert _get(svc.url) == 200
        assert svc.requests == 2
