"""AWS failures of runtime code run from the CLI: the error names the call that really failed,
and a topology that is not deployed is reported the same way by every command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdafail.cli import run
from oncall_support import Env, unique, write_topology


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def env(mocked_aws: None, tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    assert run(["deploy", "-f", str(e.file), "--yes", "-o", "json"]) == 0
    yield e
    e.close()


def _break(monkeypatch: pytest.MonkeyPatch, service: str, operation: str,
           fault: Callable[[], Exception]) -> None:
    """Every client of `service` the CLI makes from now on fails `operation` with `fault()`."""
    from lambdafail.aws import AwsContext

    original = AwsContext.client

    def client(self: AwsContext, name: str) -> Any:
        c = original(self, name)
        if name == service and not getattr(c, "_test_fault", False):
            def fail(**_: Any) -> None:
                raise fault()
            c.meta.events.register(f"before-call.{service}.{operation}", fail)
            c._test_fault = True
        return c

    monkeypatch.setattr(AwsContext, "client", client)


def test_failed_switch_names_the_call_that_failed(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The switch fails on its first write (an UpdateItem), not on the commit: the error says
    so, with AWS's code and the state table."""
    from botocore.exceptions import ClientError

    _break(monkeypatch, "dynamodb", "UpdateItem", lambda: ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "UpdateItem"))
    capsys.readouterr()
    assert run(["failover", "-f", str(env.file), "checkout", "--reason", "INC 1", "--yes"]) == 3
    err = capsys.readouterr().err
    table = f"lambdafail-{env.name}-state"
    assert f"UpdateItem on {table}: AccessDeniedException: not allowed" in err
    assert "TransactWriteItems" not in err and "Traceback" not in err
    assert "lack permission" in err  # the code's hint


def test_timed_out_call_is_named_from_the_call_in_flight(env: Env,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """A timeout carries no operation name: the call this thread had in flight is the one."""
    from botocore.exceptions import ReadTimeoutError

    _break(monkeypatch, "dynamodb", "UpdateItem",
           lambda: ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"))
    capsys.readouterr()
    assert run(["failover", "-f", str(env.file), "checkout", "--reason", "INC 2", "--yes"]) == 3
    err = capsys.readouterr().err
    assert f"UpdateItem on lambdafail-{env.name}-state: cannot reach AWS" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["status"], ["history"],
                                  ["failover", "checkout", "--reason", "x", "--yes"],
                                  ["rollback", "checkout", "--reason", "x", "--yes"]])
def test_not_deployed_is_one_error_everywhere(mocked_aws: None, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              argv: list[str]) -> None:
    name = unique()
    f = write_topology(tmp_path / "t.yaml", name, {"checkout": ("http://127.0.0.1:9/",
                                                                "http://127.0.0.1:9/x")})
    assert run([argv[0], "-f", str(f), *argv[1:]]) == 3
    err = capsys.readouterr().err
    assert (f"state table lambdafail-{name}-state not found: topology {name!r} is not deployed "
            "in us-east-1") in err
    assert "`lambdafail deploy` creates it" in err and "Traceback" not in err
