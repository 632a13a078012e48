"""The orchestrator's configuration (the compiled topology) and its lazily created AWS clients.

Rules: the compiled topology is read from `lambdafail_config.json` next to the `lambdafail`
package (the zip root) or from `$LAMBDAFAIL_CONFIG_PATH`, once per cold start; boto3 is imported
and clients are created only when first used (a client created before moto starts, or at import
time, would reach for real AWS and slow the cold start); any client can be injected.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "lambdafail_config.json"
ENV_CONFIG_PATH = "LAMBDAFAIL_CONFIG_PATH"
SIDES = ("primary", "standby")


class ConfigError(RuntimeError):
    """The embedded configuration is missing or unreadable (a packaging bug, not user input)."""


@dataclass(frozen=True)
class LoadedConfig:
    data: dict[str, Any]
    sha256: str
    path: str

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        services: dict[str, dict[str, Any]] = self.data["services"]
        return services

    @property
    def topology(self) -> str:
        return str(self.data.get("topology", ""))


def config_path() -> Path:
    env = os.environ.get(ENV_CONFIG_PATH)
    if env:
        return Path(env)
    import lambdafail

    return Path(lambdafail.__file__).resolve().parent.parent / CONFIG_FILE


def load_config(path: Path | None = None) -> LoadedConfig:
    p = path or config_path()
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the compiled topology at {p}: {e}") from e
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"{p} is not valid JSON: {e}") from e
    if not isinstance(data, dict) or data.get("format") != 1 or "services" not in data:
        raise ConfigError(f"{p} is not a lambdafail compiled topology (format 1)")
    return LoadedConfig(data=data, sha256=hashlib.sha256(raw).hexdigest(), path=str(p))


@dataclass
class Clients:
    """boto3 clients created on first use; `overrides` injects ready-made ones (tests, the CLI).

    Inside Lambda the region and credentials come from the environment; `endpoint_url` points
    every client at a moto server in the sandbox.
    """

    region: str | None = None
    endpoint_url: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _made: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, service: str, region: str | None = None) -> Any:
        """The client for `service` in the orchestrator's region, or in `region` (a router or
        target placed elsewhere: docs/placement.md). Overrides are keyed `service` or
        `service@region`."""
        region = None if region == self.region else region
        key = service if region is None else f"{service}@{region}"
        if key in self.overrides:
            return self.overrides[key]
        with self._lock:
            client = self._made.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                # Short timeouts: a tick must finish well inside the Lambda timeout, and
                # standard retries already back off on throttling.
                cfg = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=15,
                             max_pool_connections=50)
                client = boto3.client(service,  # type: ignore[call-overload]
                                      region_name=region or self.region,
                                      endpoint_url=self.endpoint_url, config=cfg)
                self._made[key] = client
            return client

    def get_single_shot(self, service: str, read_timeout: float | None = None,
                        region: str | None = None) -> Any:
        """A client for calls that must not be repeated behind our back (a user's hook, a
        recovery step's function): no automatic retry, and a read timeout shorter than a
        switch's lease unless `read_timeout` (a recovery step's own timeout) says otherwise."""
        region = None if region == self.region else region
        override = service if region is None else f"{service}@{region}"
        if override in self.overrides:
            return self.overrides[override]
        timeout = HOOK_READ_TIMEOUT_SECONDS if read_timeout is None else read_timeout
        key = f"{override}#single-shot#{timeout:g}"
        with self._lock:
            client = self._made.get(key)
            if client is None:
                import boto3

                client = boto3.client(service,  # type: ignore[call-overload]
                                      region_name=region or self.region,
                                      endpoint_url=self.endpoint_url,
                                      config=single_shot_config(timeout))
                self._made[key] = client
            return client


# A hook is invoked synchronously while its switch's 30 s lease is held: it must answer (or
# fail) well inside it, and botocore must not re-send a slow invoke on its own.
HOOK_READ_TIMEOUT_SECONDS = 20


def single_shot_config(read_timeout: float = HOOK_READ_TIMEOUT_SECONDS) -> Any:
    from botocore.config import Config

    return Config(retries={"total_max_attempts": 1}, connect_timeout=min(5.0, read_timeout),
                  read_timeout=read_timeout)
