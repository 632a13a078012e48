"""Global settings shared by every command: where AWS is, how to print, how loud to fail.

Rule: one `Settings` object per process, filled by the CLI's global options (which may appear
before or after the command name) and read by everything else. No heavy imports here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

OUTPUTS = ("table", "wide", "json")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """A boolean environment variable: 1/true/yes/on or 0/false/no/off (or unset)."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    from lambdafail.base.errors import UsageError

    raise UsageError(f"{name}={value!r} is neither true nor false",
                     hint=f"set {name}=1 or {name}=0, or unset it")


@dataclass
class Settings:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    output: str | None = None  # "table" | "wide" (status: every column) | "json"
    no_color: bool = False
    debug: bool = False
    sandbox: bool = False
    sandbox_state_file: str | None = None

    @property
    def json(self) -> bool:
        return self.resolved_output() == "json"

    def resolved_output(self) -> str:
        if self.output:
            return self.output
        env = os.environ.get("LAMBDAFAIL_OUTPUT", "").strip().lower()
        if env and env not in OUTPUTS:
            from lambdafail.base.errors import UsageError

            raise UsageError(f"LAMBDAFAIL_OUTPUT={env!r} is not an output format",
                             hint=f"use one of {', '.join(OUTPUTS)}, or unset it")
        return env or "table"

    def color_enabled(self) -> bool:
        return not (self.no_color or os.environ.get("NO_COLOR"))


_current = Settings()


def current() -> Settings:
    return _current


def reset() -> Settings:
    global _current
    _current = Settings()
    return _current
