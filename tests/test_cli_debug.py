"""`--debug` does what its help says: tracebacks (tests/test_cli_options.py) and AWS call
details, here against moto in-process."""

from __future__ import annotations

import pytest
from moto import mock_aws

from conftest import CONFIGS
from lambdafail.cli.main import run

EXAMPLE = str(CONFIGS / "example.yaml")


def test_debug_prints_every_aws_call_on_stderr_and_only_then(
        capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        assert run(["plan", "-f", EXAMPLE, "-o", "json"]) == 0
        quiet = capsys.readouterr()
        assert "lambdafail: debug:" not in quiet.err
        assert run(["--debug", "plan", "-f", EXAMPLE, "-o", "json"]) == 0
        loud = capsys.readouterr()
    lines = [ln for ln in loud.err.splitlines() if ln.startswith("lambdafail: debug: aws ")]
    assert "lambdafail: debug: aws sts GetCallerIdentity → 200" in lines
    # A read of something that does not exist yet shows AWS's error code.
    assert any(ln.startswith("lambdafail: debug: aws lambda GetFunction → 404 ") for ln in lines)
    assert loud.out == quiet.out  # stdout still carries only the JSON
