"""Global settings shared by every command: where AWS is, how to print, how loud to fail.

Rule: one `Settings` object per process, filled by the CLI's global options (which may appear
before or after the command name) and read by everything else. No heavy imports here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Settings:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    output: str | None = None  # "table" | "json"
    no_color: bool = False
    debug: bool = False
    sandbox: bool = False
    sandbox_state_file: str | None = None
    # Set by tests to observe API calls; see aws.AwsContext.
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def json(self) -> bool:
        return self.resolved_output() == "json"

    def resolved_output(self) -> str:
        return self.output or os.environ.get("LAMBDAFAIL_OUTPUT") or "table"

    def color_enabled(self) -> bool:
        return not (self.no_color or os.environ.get("NO_COLOR"))


_current = Settings()


def current() -> Settings:
    return _current


def reset() -> Settings:
    global _current
    _current = Settings()
    return _current


def default_topology_file() -> Path:
    return Path(os.environ.get("LAMBDAFAIL_FILE") or "lambdafail.yaml")
