"""The error family and the exit-code contract.

Rule: every failure a user can cause or meet is a `LambdafailError` carrying a message, an
optional hint and its exit code; only `cli.main()` turns one into text and a process exit.
This module imports nothing heavy: the CLI loads it on every start.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes (docs/commands.md). Scripts rely on these numbers."""

    OK = 0
    BUG = 1
    USAGE = 2
    AWS = 3
    CHANGES_PENDING = 4
    DRILL_FAILED = 5
    RESTORE_INCOMPLETE = 6
    DEGRADED = 7
    AT_RISK = 8  # status: nothing degraded, but a service has no working standby (or unknown)
    INTERRUPTED = 130


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    message: str
    path: str = ""  # YAML path, e.g. services.checkout.health.failure_threshold
    file: str = ""
    line: int = 0  # 1-based; 0 when unknown
    column: int = 0  # 1-based; 0 when unknown
    hint: str = ""

    def location(self) -> str:
        parts = [self.file or "<input>"]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        return ":".join(parts)

    def render(self) -> str:
        where = self.location()
        text = f"{where}: {self.path + ': ' if self.path else ''}{self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class LambdafailError(Exception):
    """Base of every expected failure. `exit_code` decides the process status."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str, hint: str = "", *, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(LambdafailError):
    """Bad flags, missing files, refusals that need a flag (`--yes`, `--force`)."""

    exit_code = ExitCode.USAGE


class TopologyError(LambdafailError):
    """The topology file is invalid. Carries every problem found, not just the first."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[Problem], file: str = ""):
        self.problems = problems
        self.file = file
        n = len(problems)
        super().__init__(
            f"{file or 'topology'} is invalid: {n} problem{'s' if n != 1 else ''}",
            hint="fix the problems listed above; `lambdafail schema` prints the full format",
        )


class AwsError(LambdafailError):
    """An AWS API call failed: names the call, the resource and what to check."""

    exit_code = ExitCode.AWS

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        operation: str = "",
        resource: str = "",
        code: str = "",
    ):
        self.operation = operation
        self.resource = resource
        self.code = code
        super().__init__(message, hint)


class ConflictError(LambdafailError):
    """Lost a race on the state table (someone else changed the service first)."""

    exit_code = ExitCode.AWS


class OwnershipError(AwsError):
    """A resource with our name exists but is not tagged as ours: never taken over."""


class RestoreIncomplete(LambdafailError):
    """A switch or a drill's restore stopped midway: the message says what is left to do."""

    exit_code = ExitCode.RESTORE_INCOMPLETE
