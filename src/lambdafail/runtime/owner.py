"""The ownership tags lambdafail puts on what it creates: one definition.

Rule: stdlib only, no imports; `lambdafail.model.naming` re-exports these, and the
orchestrator's routers tag whatever they have to recreate with `owner_tags`.
"""

from __future__ import annotations

TAG_TOPOLOGY = "lambdafail:topology"
TAG_SERVICE = "lambdafail:service"


def owner_tags(topology: str, service: str) -> dict[str, str]:
    return {TAG_TOPOLOGY: topology, TAG_SERVICE: service}
