"""The CLI's contract: global options anywhere, version/help, -f default and env, colour, debug,
the exit-code table, error mapping, and a fast, light start.

Rule: through the real entry points (`cli.run` in-process, `python -m lambdafail` in a
subprocess for start-up time and imports); no AWS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from conftest import CONFIGS, ROOT
from lambdafail import __version__
from lambdafail.base import settings
from lambdafail.base.errors import ExitCode
from lambdafail.cli.main import COMMANDS, LazyGroup, global_options, run

EXAMPLE = str(CONFIGS / "example.yaml")


def test_cli_global_options_before_or_after_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--output", "json", "validate", "-f", EXAMPLE]) == 0
    before = capsys.readouterr().out
    assert run(["validate", "-f", EXAMPLE, "--output", "json"]) == 0
    after = capsys.readouterr().out
    assert run(["validate", "-o", "json", "-f", EXAMPLE]) == 0
    short = capsys.readouterr().out
    assert before == after == short
    assert json.loads(before)["valid"] is True


def test_cli_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lambdafail, version {__version__}"
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("validate", "init", "schema", "Exit codes", "--output", "--debug"):
        assert word in out
    assert run(["validate", "--help"]) == 0
    assert "-f, --file" in capsys.readouterr().out


def test_cli_file_default_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["validate"]) == 2
    assert "lambdafail.yaml: no such file" in capsys.readouterr().err
    (tmp_path / "lambdafail.yaml").write_text(Path(EXAMPLE).read_text())
    assert run(["validate"]) == 0
    assert capsys.readouterr().out.startswith("lambdafail.yaml: valid")
    monkeypatch.setenv("LAMBDAFAIL_FILE", str(CONFIGS / "multi.yaml"))
    assert run(["validate"]) == 0
    assert "topology 'multi'" in capsys.readouterr().out


def test_cli_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert run(["validate", "-f", EXAMPLE]) == 0
    assert settings.current().color_enabled()
    assert run(["validate", "-f", EXAMPLE, "--no-color"]) == 0
    assert not settings.current().color_enabled()
    assert run(["--no-color", "validate", "-f", EXAMPLE]) == 0
    assert not settings.current().color_enabled()
    monkeypatch.setenv("NO_COLOR", "1")
    assert run(["validate", "-f", EXAMPLE]) == 0
    assert not settings.current().color_enabled()


def _boom(*args: object, **kwargs: object) -> int:
    raise RuntimeError("kaboom")


def test_cli_internal_error_is_1_and_traceback_only_with_debug(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from lambdafail.cli.commands import validate

    monkeypatch.setattr(validate.command, "callback", _boom)
    assert run(["validate", "-f", EXAMPLE]) == ExitCode.BUG == 1
    err = capsys.readouterr().err
    assert "lambdafail: error: internal error: RuntimeError: kaboom" in err
    assert "Traceback" not in err
    assert run(["validate", "-f", EXAMPLE, "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "lambdafail: error: internal error: RuntimeError: kaboom" in err
    monkeypatch.setenv("LAMBDAFAIL_DEBUG", "1")
    assert run(["validate", "-f", EXAMPLE]) == 1
    assert "Traceback" in capsys.readouterr().err
    for off in ("0", "false", "no", ""):  # LAMBDAFAIL_DEBUG=0 means off, not "set"
        monkeypatch.setenv("LAMBDAFAIL_DEBUG", off)
        assert run(["validate", "-f", EXAMPLE]) == 1
        assert "Traceback" not in capsys.readouterr().err
    monkeypatch.setenv("LAMBDAFAIL_DEBUG", "maybe")
    assert run(["validate", "-f", EXAMPLE]) == 2
    assert "LAMBDAFAIL_DEBUG='maybe' is neither true nor false" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "error", "hint"), [
    (["stauts"], "no such command 'stauts'", "did you mean `lambdafail status`?"),
    (["hist"], "no such command 'hist'", "did you mean `lambdafail history`?"),
    (["frobnicate"], "no such command 'frobnicate'", "`lambdafail --help` lists the commands"),
    (["validate", "--bogus"], "No such option", "see `lambdafail validate --help`"),
    (["status", "-f", EXAMPLE, "one", "two"], "unexpected extra argument",
     "see `lambdafail status --help`"),
])
def test_cli_usage_errors_in_one_form(argv: list[str], error: str, hint: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == ExitCode.USAGE
    cap = capsys.readouterr()
    lines = cap.err.splitlines()
    assert lines[0].startswith("lambdafail: error: ") and error in lines[0], cap.err
    assert lines[1] == f"lambdafail: hint: {hint}", cap.err
    assert "Usage:" not in cap.err and "Error:" not in cap.err and cap.out == ""


def test_cli_invalid_output_env_is_an_error(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LAMBDAFAIL_OUTPUT", "yaml")
    assert run(["validate", "-f", EXAMPLE]) == ExitCode.USAGE
    assert "LAMBDAFAIL_OUTPUT='yaml' is not an output format" in capsys.readouterr().err
    monkeypatch.setenv("LAMBDAFAIL_OUTPUT", "JSON")
    assert run(["validate", "-f", EXAMPLE]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True


def test_cli_invalid_topology_traceback_only_with_debug(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nservices: {}\n")
    assert run(["validate", "-f", str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert run(["--debug", "validate", "-f", str(bad)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_cli_botocore_client_error_maps_to_3(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.exceptions import ClientError

    from lambdafail.cli.commands import validate

    def denied(*args: object, **kwargs: object) -> int:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no way"}},
                          "PutRule")

    monkeypatch.setattr(validate.command, "callback", denied)
    assert run(["validate", "-f", EXAMPLE]) == ExitCode.AWS == 3
    err = capsys.readouterr().err
    assert "lambdafail: error:" in err
    assert "AccessDeniedException" in err
    assert "Traceback" not in err


def test_cli_keyboard_interrupt_is_130(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from lambdafail.cli.commands import validate

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(validate.command, "callback", interrupted)
    assert run(["validate", "-f", EXAMPLE]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_cli_exit_code_table_matches_docs() -> None:
    documented = {0: "ok", 1: "internal error", 2: "usage error", 3: "AWS error",
                  4: "changes pending", 5: "drill failed", 6: "restore or rollback incomplete",
                  7: "degraded", 8: "at risk", 130: "interrupted"}
    assert {int(c) for c in ExitCode} == set(documented) == {0, 1, 2, 3, 4, 5, 6, 7, 8, 130}
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 130]
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.MULTILINE))
    assert {int(k) for k in rows} == set(documented)
    for code, words in documented.items():
        assert rows[str(code)].startswith(words), (code, rows[str(code)])


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("LAMBDAFAIL_DEBUG", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)


def test_cli_import_is_light() -> None:
    probe = ("import sys, lambdafail.cli; "
             "print(sorted(m for m in ('boto3', 'botocore', 'rich', 'pydantic', 'yaml') "
             "if m in sys.modules))")
    result = _python(probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_shell_completion_completes_commands_and_global_options() -> None:
    """click's completion protocol works through the real console entry point."""
    env = dict(os.environ, _LAMBDAFAIL_COMPLETE="bash_complete")
    words = subprocess.run([sys.executable, "-m", "lambdafail"], capture_output=True, text=True,
                           timeout=60, env=dict(env, COMP_WORDS="lambdafail st", COMP_CWORD="1"))
    assert words.returncode == 0
    assert "plain,status" in words.stdout.splitlines()
    opts = subprocess.run([sys.executable, "-m", "lambdafail"], capture_output=True, text=True,
                          timeout=60,
                          env=dict(env, COMP_WORDS="lambdafail status --ou", COMP_CWORD="2"))
    assert "plain,--output" in opts.stdout.splitlines()


def test_typed_global_options_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lambdafail --endpoint-url X status` must not be overridden by AWS_ENDPOINT_URL, which
    the command's own copy of the option reads again."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_PROFILE", "from-env")
    seen: dict[str, object] = {}

    @click.command("probe-settings")
    @global_options
    def probe() -> int:
        s = settings.current()
        seen.update(endpoint=s.endpoint_url, profile=s.profile)
        return 0

    monkeypatch.setitem(COMMANDS, "probe-settings", "test only")
    monkeypatch.setattr(LazyGroup, "get_command",
                        lambda self, ctx, name: probe if name == "probe-settings" else None)
    assert run(["--endpoint-url", "http://127.0.0.1:8", "--profile", "typed",
                "probe-settings"]) == 0
    assert seen == {"endpoint": "http://127.0.0.1:8", "profile": "typed"}
    assert run(["probe-settings"]) == 0
    assert seen == {"endpoint": "http://127.0.0.1:9", "profile": "from-env"}
    assert run(["probe-settings", "--endpoint-url", "http://127.0.0.1:7"]) == 0
    assert seen["endpoint"] == "http://127.0.0.1:7"


def test_region_follows_the_topology_not_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stray AWS_DEFAULT_REGION never moves a topology; a contradicting --region is refused."""
    from lambdafail.aws import AwsContext
    from lambdafail.base.errors import UsageError

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    settings.reset()
    assert AwsContext.from_settings(default_region="us-east-1").region == "us-east-1"
    assert AwsContext.from_settings(default_region=None).region == "eu-west-1"
    settings.current().region = "ap-south-1"
    with pytest.raises(UsageError, match="contradicts the topology's region us-east-1"):
        AwsContext.from_settings(default_region="us-east-1")
    assert AwsContext.from_settings(default_region=None).region == "ap-south-1"
    settings.reset()


@pytest.mark.parametrize("args", [
    ["drill", "-f", "x.yaml", "web", "--timeout", "nan"],
    ["drill", "-f", "x.yaml", "web", "--timeout", "inf"],
    ["failover", "-f", "x.yaml", "web", "--reason", "   "],
    ["rollback", "-f", "x.yaml", "web", "--reason", ""],
])
def test_meaningless_flag_values_are_usage_errors(args: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "Invalid value" in err and "Traceback" not in err


def test_history_since_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["history", "-f", str(CONFIGS / "example.yaml"), "--since", "99999999d"]) == 2
    assert "reaches before the year 1" in capsys.readouterr().err


def test_cli_help_examples_use_real_commands_and_options() -> None:
    """Every command's --help ends with examples, and every flag an example uses exists."""
    import shlex

    import click

    from lambdafail.cli.main import COMMANDS, EXAMPLES, cli

    assert set(EXAMPLES) == set(COMMANDS)
    ctx = click.Context(cli)
    group_opts = {o for p in cli.params for o in (*p.opts, *p.secondary_opts)}
    for name, examples in EXAMPLES.items():
        cmd = cli.get_command(ctx, name)
        assert cmd is not None and cmd.epilog and "Examples:" in cmd.epilog
        opts = group_opts | {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for line in examples:
            words = shlex.split(line.split(" > ")[0])
            assert words[0] == "lambdafail" and name in words, line
            assert {w for w in words if w.startswith("-") and w != "-"} <= opts, line
