"""A real install, as a user makes it: the wheel with the `sandbox` extra in a fresh venv outside
the checkout, then `lambdafail demo` from an unrelated directory must exit 0.

Rule: nothing of the development checkout is visible to the installed tool (no editable install,
no PYTHONPATH, a working directory elsewhere), so the sandbox's function runner must find the
deployed zip and the AWS SDK on its own, whatever the install mode. Runs once per Python this
machine has among the versions AWS Lambda's runtimes cover (the test interpreter always; 3.12
and 3.13 from PATH or pyenv when installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def _interpreters() -> dict[str, str]:
    found = {f"{sys.version_info[0]}.{sys.version_info[1]}": sys.executable}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in ("3.11", "3.12", "3.13"):
        if minor in found:
            continue
        # pyenv's own binaries first: its shims on PATH are slow scripts.
        candidates = [*sorted(str(p) for p in pyenv.glob(f"{minor}.*/bin/python{minor}")),
                      shutil.which(f"python{minor}")]
        for exe in filter(None, candidates):
            check = f"import sys; assert sys.version_info[:2] == ({minor.replace('.', ', ')})"
            probe = subprocess.run([exe, "-c", check], capture_output=True, timeout=30)
            if probe.returncode == 0:
                found[minor] = exe
                break
    return dict(sorted(found.items()))


PYTHONS = _interpreters()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(ROOT)], check=True, timeout=600, capture_output=True)
    (built,) = dist.glob("lambdafail-*.whl")
    return built


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("python", list(PYTHONS.values()), ids=[f"py{v}" for v in PYTHONS])
def test_wheel_install_runs_the_demo_from_anywhere(python: str, wheel: Path,
                                                   tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
         f"{wheel}[sandbox]"], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Only what a user's shell would have: no venv activated, nothing pointing at the checkout.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "LAMBDAFAIL_", "PYTEST", "COV_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    r = subprocess.run([str(venv / "bin" / "lambdafail"), "demo", "--dir", str(tmp_path / "out")],
                       cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"stdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-5000:]}"
    assert "✓ demo finished in" in r.stdout
    assert "DRILL PASS" in r.stderr
    # Every invocation of the deployed orchestrator imported and ran (the sandbox logs each).
    log = (tmp_path / "out" / "sandbox.log").read_text()
    assert re.search(r"END +lambdafail-demo-orchestrator RequestId: \S+ Duration: \d+ ms ok", log)
    assert "ModuleNotFoundError" not in log and "ImportModuleError" not in log, log[-3000:]
