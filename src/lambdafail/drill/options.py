"""What a drill is asked to do (`DrillOptions`) and what its restore achieved (`RestoreOutcome`).

Rule: plain data, no I/O: the CLI builds the options, the runner and the region drill read
them, the report embeds the outcome (`to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DrillOptions:
    service: str
    scenario: str = "primary-down"
    timeout: float = 300.0
    restore: bool = True
    report_dir: str | None = None
    inject_cmd: str | None = None
    restore_cmd: str | None = None
    check_url: str | None = None
    dry_run: bool = False
    operator: str = ""  # the STS caller identity running the drill
    topology_file: str = ""
    region: str = ""
    environment: str = ""  # "AWS account 123…", "sandbox", "endpoint http://…"
    # The global flags that reach the same AWS (--region, --endpoint-url, --profile, --sandbox):
    # every printed instruction carries them, so it works when pasted.
    connection: list[str] = field(default_factory=list)


@dataclass
class RestoreOutcome:
    requested: bool
    ok: bool | None = None  # None: nothing needed restoring
    path: str | None = None
    left: list[str] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "ok": self.ok, "path": self.path,
                "left": list(self.left), "instructions": list(self.instructions)}
