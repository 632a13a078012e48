"""The README's two quickstart commands are the real set-up: CI runs the second one verbatim."""

from __future__ import annotations

import re

from conftest import ROOT


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README has no quickstart block"
    return [ln for ln in block.group(1).splitlines() if ln and not ln.startswith("#")]


def test_quickstart_has_two_commands() -> None:
    assert len(_commands()) == 2


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_cmd = _commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci


def test_first_command_installs_the_sandbox_extra() -> None:
    assert "[sandbox]" in _commands()[0]
