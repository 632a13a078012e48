"""The plan's vocabulary: a resource (desired or observed), a field diff, a change, a conflict,
what the inventory observed, and the plan itself.

Rule: plain data, no I/O; the planner builds them, the executor and the renderers read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdafail.model import naming
from lambdafail.model.arns import Where


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """Tags as AWS's create calls take them ([{Key, Value}], sorted)."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """AWS's tag list as a mapping."""
    return {t["Key"]: t["Value"] for t in tags or []}


@dataclass
class Resource:
    """One thing a topology owns (desired) or that the inventory found (actual)."""

    kind: str
    name: str
    spec: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    service: str | None = None
    # Actual only: handles the executor needs (queue URL, published versions, ARNs...).
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    @property
    def owner(self) -> str | None:
        return self.tags.get(naming.TAG_TOPOLOGY)


@dataclass(frozen=True)
class FieldDiff:
    field: str
    before: Any
    after: Any


@dataclass
class Change:
    action: str  # create | update | delete | no-op
    kind: str
    name: str
    service: str | None = None
    diffs: list[FieldDiff] = field(default_factory=list)
    desired: Resource | None = None
    actual: Resource | None = None
    note: str = ""

    @property
    def want(self) -> Resource:
        assert self.desired is not None
        return self.desired

    @property
    def have(self) -> Resource:
        assert self.actual is not None
        return self.actual

    def changed(self, *prefixes: str) -> bool:
        """Whether a diff touches one of the fields (or what is under them)."""
        return any(d.field == p or d.field.startswith(p + ".") or d.field.startswith(p + "[")
                   for d in self.diffs for p in prefixes)

    def tags_changed(self) -> bool:
        return any(d.field.startswith("tags.") for d in self.diffs)


@dataclass(frozen=True)
class Conflict:
    kind: str
    name: str
    owner: str | None  # the topology tag it carries, None when untagged

    @property
    def message(self) -> str:
        who = f"topology {self.owner!r}" if self.owner else "no lambdafail:topology tag"
        return f"{self.kind} {self.name} exists and is not ours ({who}); left alone"


@dataclass
class Actual:
    """What the inventory observed for a topology."""

    topology: str
    partition: str
    region: str
    account: str
    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    # What the observation had to wait for or could not be sure of (plan shows them).
    notes: list[str] = field(default_factory=list)
    # Pre-flight: referenced resources that do not exist ({kind, name, used_by, message}).
    missing: list[dict[str, str]] = field(default_factory=list)
    # The compiled topology the live function runs (from its config item), when known: plans
    # show a function update as the topology fields that changed, not just a new hash.
    deployed_config: dict[str, Any] | None = None
    # service -> when its drill lock expires (epoch seconds), from the state table.
    drills: dict[str, float] = field(default_factory=dict)

    @property
    def where(self) -> Where:
        return Where(self.partition, self.region, self.account)


@dataclass
class Plan:
    topology: str
    region: str
    account: str
    changes: list[Change]
    conflicts: list[Conflict]
    mode: str = "deploy"  # deploy | destroy
    actual: Actual | None = None  # what the plan was made from (the executor's handles)
    # Edits of services that are not steady on their primary (deploy/guard.py): refused
    # unless forced, then shown as what deploy will do.
    hazards: list[Any] = field(default_factory=list)
    forced: bool = False
    # The control region the topology is deployed in, when it is not this plan's region.
    control_moved_from: str | None = None

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "no-op"]

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0, "no-op": 0}
        for c in self.changes:
            out[c.action] += 1
        return out


# ---------------------------------------------------------------- desired state
