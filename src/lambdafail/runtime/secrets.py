"""Probe headers from Secrets Manager and SSM, resolved at probe time and kept only in memory.

Rule: a value read here goes into one place, the probe's request headers — never into a
ProbeResult, a log line, the state table, a notification or a report; errors name the header
and the reference, never a value. Values are cached per process (a Lambda container, a CLI
run) for at most `ttl` seconds, so a rotated secret is picked up within it; a round's
references are read in as few calls as AWS allows (`BatchGetSecretValue`, 20 secrets a call;
`GetParameters` WithDecryption, 10 names a call). An unreadable reference is a
`SecretUnreadable` — the probe did not run, which is no evidence about the target (the side
keeps its verdict: a missing secret never fails a healthy primary over). stdlib + boto3 only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

TTL_SECONDS = 300.0  # how long a value is trusted before it is read again (rotation)
ERROR_TTL_SECONDS = 30.0  # how long an unreadable reference is not asked again
SECRETS_PER_CALL = 20  # BatchGetSecretValue's SecretIdList maximum
PARAMETERS_PER_CALL = 10  # GetParameters' Names maximum


class SecretUnreadable(Exception):
    """A header's reference could not be read (the probe is not sent)."""

    def __init__(self, header: str, ref: str, code: str) -> None:
        self.header, self.ref, self.code = header, ref, code
        super().__init__(f"header {header}: {ref} not readable: {code}")


def _describe(ref: Mapping[str, str]) -> str:
    return f"secret {ref['secret']}" if "secret" in ref else f"ssm parameter {ref['ssm']}"


def _key(ref: Mapping[str, str]) -> tuple[str, str]:
    return ("secret", ref["secret"]) if "secret" in ref else ("ssm", ref["ssm"])


def _code(e: Exception) -> str:
    resp = getattr(e, "response", None) or {}
    return str(resp.get("Error", {}).get("Code") or type(e).__name__)


class HeaderResolver:
    """Resolves compiled `headers` (model/headers.py) to request headers, with a TTL cache.

    `client(service)` returns a boto3 client ("secretsmanager" / "ssm"), created on first use.
    """

    def __init__(self, client: Callable[[str], Any], *, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        # (kind, name) → (expires, value or None, error code or None)
        self._cache: dict[tuple[str, str], tuple[float, str | None, str | None]] = {}
        self.calls = 0  # AWS calls made (tests, bench)

    def prefetch(self, targets: Iterable[Mapping[str, Any]]) -> None:
        """Read every reference of `targets` that is not cached, in batched calls."""
        now = self.clock()
        want: set[tuple[str, str]] = set()
        for cfg in targets:
            for ref in (cfg.get("headers") or {}).values():
                if "value" in ref:
                    continue
                k = _key(ref)
                hit = self._cache.get(k)
                if hit is None or hit[0] <= now:
                    want.add(k)
        secrets = sorted(n for kind, n in want if kind == "secret")
        params = sorted(n for kind, n in want if kind == "ssm")
        for i in range(0, len(secrets), SECRETS_PER_CALL):
            self._read_secrets(secrets[i:i + SECRETS_PER_CALL])
        for i in range(0, len(params), PARAMETERS_PER_CALL):
            self._read_parameters(params[i:i + PARAMETERS_PER_CALL])

    def headers(self, cfg: Mapping[str, Any]) -> dict[str, str]:
        """The request headers of target `cfg`; raises SecretUnreadable."""
        refs: Mapping[str, Mapping[str, str]] = cfg.get("headers") or {}
        if not refs:
            return {}
        self.prefetch([cfg])  # a cache hit after the round's prefetch
        out: dict[str, str] = {}
        for name, ref in refs.items():
            if "value" in ref:
                out[name] = ref["value"]
                continue
            with self._lock:
                _, value, error = self._cache.get(_key(ref), (0.0, None, "NotRead"))
            if value is None:
                raise SecretUnreadable(name, _describe(ref), error or "NotRead")
            out[name] = ref.get("prefix", "") + value
        return out

    def _store(self, kind: str, name: str, value: str | None, error: str | None) -> None:
        ttl = self.ttl if value is not None else ERROR_TTL_SECONDS
        with self._lock:
            self._cache[(kind, name)] = (self.clock() + ttl, value, error)

    def _read_secrets(self, arns: list[str]) -> None:
        try:
            sm = self._client("secretsmanager")
            self.calls += 1
            resp = sm.batch_get_secret_value(SecretIdList=arns)
        except Exception:
            # No BatchGetSecretValue (a policy granting only GetSecretValue, an endpoint
            # without it): one GetSecretValue each, which names each secret's own error.
            for arn in arns:
                self._read_secret(sm if "sm" in locals() else None, arn)
            return
        found: set[str] = set()
        for sv in resp.get("SecretValues", []):
            arn = str(sv.get("ARN") or "")
            match = arn if arn in arns else next((a for a in arns if a == sv.get("Name")), arn)
            if "SecretString" in sv:
                self._store("secret", match, str(sv["SecretString"]), None)
            else:
                self._store("secret", match, None, "SecretBinaryNotSupported")
            found.add(match)
        for err in resp.get("Errors", []):
            sid = str(err.get("SecretId") or "")
            if sid in arns:
                self._store("secret", sid, None, str(err.get("ErrorCode") or "Error"))
                found.add(sid)
        for arn in arns:
            if arn not in found:
                self._store("secret", arn, None, "ResourceNotFoundException")

    def _read_secret(self, sm: Any, arn: str) -> None:
        try:
            sm = sm or self._client("secretsmanager")
            self.calls += 1
            sv = sm.get_secret_value(SecretId=arn)
        except Exception as e:
            self._store("secret", arn, None, _code(e))
            return
        if "SecretString" in sv:
            self._store("secret", arn, str(sv["SecretString"]), None)
        else:
            self._store("secret", arn, None, "SecretBinaryNotSupported")

    def _read_parameters(self, names: list[str]) -> None:
        try:
            ssm = self._client("ssm")
            self.calls += 1
            resp = ssm.get_parameters(Names=names, WithDecryption=True)
        except Exception as e:
            for n in names:
                self._store("ssm", n, None, _code(e))
            return
        found: set[str] = set()
        for p in resp.get("Parameters", []):
            name = str(p.get("Name") or "")
            self._store("ssm", name, str(p.get("Value") or ""), None)
            found.add(name)
        for n in resp.get("InvalidParameters", []):
            self._store("ssm", str(n), None, "ParameterNotFound")
            found.add(str(n))
        for n in names:
            if n not in found:
                self._store("ssm", n, None, "ParameterNotFound")
