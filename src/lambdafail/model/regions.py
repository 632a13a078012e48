"""The AWS regions and partitions botocore knows, from its bundled partitions.json.

Rule: data only — the file is read as JSON, botocore is never imported (the model layer stays
free of AWS SDKs); read once per process. A region newer than the installed botocore is
unknown here: the hint says to upgrade botocore.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path


@functools.cache
def partitions() -> dict[str, tuple[str, ...]]:
    """Partition id (aws, aws-cn, aws-us-gov, ...) → its regions (without `*-global`)."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:  # pragma: no cover - botocore is a dependency
        return {}
    data = json.loads((Path(spec.origin).parent / "data" / "partitions.json").read_text())
    return {p["id"]: tuple(sorted(r for r in p.get("regions", {})
                                  if not r.endswith("-global")))
            for p in data["partitions"]}


def partition_of(region: str) -> str | None:
    return next((p for p, rs in partitions().items() if region in rs), None)


def all_regions() -> list[str]:
    return sorted(r for rs in partitions().values() for r in rs)


def unknown_region_hint(region: str) -> str:
    import difflib
    from importlib.metadata import version

    close = difflib.get_close_matches(region.strip().lower(), all_regions(), n=3, cutoff=0.6)
    near = f"did you mean {', '.join(close)}? " if close else ""
    return (f"{near}the {len(all_regions())} regions botocore {version('botocore')} knows "
            "are accepted; a region newer than that needs `pip install -U botocore`")


#: DynamoDB's multi-Region strong consistency (MRSC) runs a global table in three regions of one
#: of these sets (AWS: "Region sets" of MRSC global tables).
MRSC_REGION_SETS: dict[str, frozenset[str]] = {
    "US": frozenset({"us-east-1", "us-east-2", "us-west-2"}),
    "EU": frozenset({"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}),
    "AP": frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}),
}


def mrsc_set_of(regions: list[str]) -> str | None:
    """The MRSC region set holding every one of `regions`, or None."""
    return next((name for name, members in MRSC_REGION_SETS.items()
                 if set(regions) <= members), None)


def longest_arn_prefix(service: str, resource: str) -> int:
    """The longest `arn:<partition>:<service>:<region>:<account>:<resource>` prefix any known
    region gives (ARN-length limits checked before the region is known)."""
    return max((len(f"arn:{p}:{service}:{r}:123456789012:{resource}")
                for p, rs in partitions().items() for r in rs), default=0)


def checked(region: str | None) -> str | None:
    """A pydantic validator body: `region` unchanged, or Invalid naming the closest regions."""
    from lambdafail.model.common import Invalid

    if region is not None and partition_of(region) is None:
        raise Invalid(f"not an AWS region: {region!r}", hint=unknown_region_hint(region))
    return region
