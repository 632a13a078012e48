"""The orchestrator's deployment zip: the installed `lambdafail.runtime` package plus the
compiled topology, built byte-for-byte deterministically.

Rule: same runtime sources + same compiled topology → same bytes → same sha256, so an unchanged
deploy uploads nothing and publishes no version. Entries are sorted, timestamps and permissions
fixed, the config JSON canonical (sorted keys, no whitespace).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lambdafail

CONFIG_NAME = "lambdafail_config.json"
HANDLER = "lambdafail.runtime.handler.handle"
RUNTIME = "python3.12"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


@dataclass(frozen=True)
class Package:
    zip_bytes: bytes
    sha256_b64: str  # what Lambda reports as CodeSha256
    config_sha256: str  # hex sha256 of the canonical config JSON

    @property
    def size(self) -> int:
        return len(self.zip_bytes)


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def source_files() -> list[tuple[str, bytes]]:
    """(arcname, content) of every file shipped: lambdafail/__init__.py + runtime/*.py."""
    pkg_dir = Path(lambdafail.__file__).resolve().parent
    files = [("lambdafail/__init__.py", (pkg_dir / "__init__.py").read_bytes())]
    runtime_dir = pkg_dir / "runtime"
    for path in sorted(runtime_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        arc = "lambdafail/runtime/" + path.relative_to(runtime_dir).as_posix()
        files.append((arc, path.read_bytes()))
    return files


def build(compiled: dict[str, Any]) -> Package:
    """Zip the runtime and `compiled` (docs/architecture.md, "Compiled topology")."""
    config = canonical_json(compiled)
    entries = [*source_files(), (CONFIG_NAME, config)]
    buf = io.BytesIO()
    # Stored, not deflated: deflate's output differs between zlib builds (zlib, zlib-ng), and
    # two operators' machines must build the same bytes or each deploy would publish a new
    # version. ~100 KB uncompressed is still tiny next to Lambda's 50 MB limit.
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for arc, data in sorted(entries):
            info = zipfile.ZipInfo(arc, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16  # -rw-r--r--, independent of the local umask
            info.create_system = 3  # unix, whatever the building OS
            zf.writestr(info, data)
    raw = buf.getvalue()
    return Package(zip_bytes=raw,
                   sha256_b64=base64.b64encode(hashlib.sha256(raw).digest()).decode(),
                   config_sha256=hashlib.sha256(config).hexdigest())
