"""Published orchestrator versions, as a deployment rollback compares them.

Rules: pure — no I/O (deploy/rollback.py reads the versions, executor.py moves the alias);
the types here are results the renderers import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdafail.deploy.planner import CONFIG_SHA_ENV


@dataclass(frozen=True)
class VersionInfo:
    version: str
    code_sha256: str
    config_sha256: str | None
    description: str
    last_modified: str
    environment: dict[str, str]
    settings: dict[str, Any]  # runtime, handler, timeout, memory


@dataclass
class DeploymentRollbackPlan:
    function: str
    alias: str
    current: VersionInfo
    target: VersionInfo
    alias_revision: str
    differences: list[tuple[str, str, str]] = field(default_factory=list)  # what, now, after

    @property
    def noop(self) -> bool:
        return self.current.version == self.target.version


def version_info(cfg: dict[str, Any]) -> VersionInfo:
    env = dict((cfg.get("Environment") or {}).get("Variables") or {})
    desc = str(cfg.get("Description") or "")
    sha = env.get(CONFIG_SHA_ENV) or sha_from_description(desc)
    return VersionInfo(
        version=str(cfg.get("Version")),
        code_sha256=str(cfg.get("CodeSha256") or ""),
        config_sha256=sha,
        description=desc,
        last_modified=str(cfg.get("LastModified") or ""),
        environment=env,
        settings={k: cfg.get(k) for k in ("Runtime", "Handler", "Timeout", "MemorySize")},
    )


def sha_from_description(desc: str) -> str | None:
    # Deploy may also write "... config sha256 <hex>" into the version description.
    for word in desc.replace("=", " ").replace(":", " ").split():
        if len(word) == 64 and all(c in "0123456789abcdef" for c in word):
            return word
    return None


def diff_versions(a: VersionInfo, b: VersionInfo) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    if a.code_sha256 != b.code_sha256:
        out.append(("code sha256", a.code_sha256, b.code_sha256))
    if a.config_sha256 != b.config_sha256:
        out.append(("compiled topology sha256", a.config_sha256 or "?", b.config_sha256 or "?"))
    if a.description != b.description:
        out.append(("description", a.description, b.description))
    for k in sorted(set(a.settings) | set(b.settings)):
        if a.settings.get(k) != b.settings.get(k):
            out.append((k, str(a.settings.get(k)), str(b.settings.get(k))))
    for k in sorted(set(a.environment) | set(b.environment)):
        if k == CONFIG_SHA_ENV:
            continue
        if a.environment.get(k) != b.environment.get(k):
            out.append((f"env {k}", a.environment.get(k, "-"), b.environment.get(k, "-")))
    out.append(("published", a.last_modified, b.last_modified))
    return out
