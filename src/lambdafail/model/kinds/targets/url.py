"""The `url` target: an HTTP(S) endpoint probed with GET.

Rule: a probe URL is configuration, not a secret — it is stored in clear in the deployed zip,
the state table and the logs — so a URL that carries a credential is refused here. Credentials
go in `headers`, as references to Secrets Manager or SSM (model/headers.py).
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from lambdafail.model.headers import HeaderValue, check_headers, compile_headers
from lambdafail.model.kinds.targets.base import TargetKind, TargetSpec
from lambdafail.runtime.compiled import TargetCfg, UrlTargetCfg

SECRET_QUERY_RE = re.compile(
    r"(?i)(^|[_-])(token|secret|password|passwd|pwd|api[_-]?key|apikey|access[_-]?key|"
    r"signature|sig|auth|credential|session)([_-]|$)|^x-amz-")


def redact(url: str) -> str:
    """The URL without its userinfo and query, for error messages that do not leak it."""
    from urllib.parse import urlsplit

    p = urlsplit(url)
    host = p.hostname or ""
    port = f":{p.port}" if p.port else ""
    return f"{p.scheme}://{host}{port}{p.path}" + ("?…" if p.query else "")


class UrlTarget(TargetSpec):
    url: str = Field(description="HTTP(S) URL probed with GET.")
    expect_status: int = Field(default=200, ge=100, le=599)
    body_contains: str | None = Field(default=None, description="Healthy only if the body has this.")
    headers: dict[str, HeaderValue] = Field(
        default_factory=dict, description="Request headers: a plain value, or {secret: <secret "
        "ARN>} / {ssm: /parameter/name} (with an optional prefix) read at probe time.")

    _headers = field_validator("headers")(staticmethod(check_headers))

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {v!r}")
        try:
            _ = parts.port
        except ValueError as e:
            raise ValueError(f"bad port in URL {v!r}") from e
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"URL {redact(v)} carries credentials (user:password@); they would "
                             "be stored in clear in the function's code, the state table and "
                             "the logs — probe an endpoint that needs no credentials")
        for key, _value in parse_qsl(parts.query, keep_blank_values=True):
            if SECRET_QUERY_RE.search(key):
                raise ValueError(f"URL {redact(v)} carries a secret-looking query parameter "
                                 f"{key!r}; it would be stored in clear in the function's "
                                 "code, the state table and the logs — probe an endpoint that "
                                 "needs no credentials")
        return v


class Url(TargetKind[UrlTarget]):
    kind: ClassVar[str] = "url"
    key: ClassVar[str] = "url"
    label: ClassVar[str] = "HTTP probe"
    model = UrlTarget

    def value(self, target: UrlTarget) -> str:
        return target.url

    def compile(self, target: UrlTarget) -> TargetCfg:
        out: UrlTargetCfg = {"kind": "url", "url": target.url,
                             "expect_status": target.expect_status,
                             "body_contains": target.body_contains}
        if target.headers:  # only when given: an unchanged topology compiles to the same bytes
            out["headers"] = compile_headers(target.headers)
        return out


KIND = Url()
