"""The command-line entry point: a thin click group.

Rules: global options are defined once (`global_options`) and accepted before or after the
command name; commands live in `lambdafail.commands.<name>` and are imported only when run
(so `--help` stays fast); `main()` is the only place that turns errors into messages and exit
codes. Nothing heavy (boto3, rich, pydantic) is imported at module level.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from lambdafail import __version__
from lambdafail.base import settings
from lambdafail.base.errors import ExitCode, LambdafailError, TopologyError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

# name -> short help. The module lambdafail.commands.<name with - as _> holds `command`.
COMMANDS: dict[str, str] = {
    "init": "Write an annotated starter topology file.",
    "schema": "Print the topology's JSON Schema.",
    "validate": "Check a topology file offline; list every problem.",
    "plan": "Show what deploy would change (read-only).",
    "deploy": "Create or update what watches the topology.",
    "destroy": "Delete everything the topology owns.",
    "permissions": "Print the IAM policies operators need for the topology.",
    "status": "Show each service's state, the verdict first (exit 0/8/7).",
    "history": "Show the transition log, newest first.",
    "failover": "Switch a service to its standby by hand.",
    "rollback": "Undo a service's last transition, or a deployment.",
    "pause": "Hold a service's automatic switching for a while.",
    "resume": "End a pause: the orchestrator may switch again.",
    "approve": "Decide a recovery plan's approval step (--deny to refuse).",
    "drill": "Rehearse an outage and grade it against the RTO.",
    "sandbox": "Run a local AWS emulation (moto) that runs lambdafail for real.",
    "demo": "Run the whole loop on the local sandbox in one command.",
    "outage": "Sandbox only: black a region out, or light it again.",
    "web": "Sandbox only: regional web endpoints that fail with their region.",
}


# name -> examples shown at the end of `lambdafail NAME --help` (commands that run them work
# when pasted, given the file: -f defaults to $LAMBDAFAIL_FILE or ./lambdafail.yaml).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "init": ("lambdafail init shop.yaml", "lambdafail init - > shop.yaml"),
    "schema": ("lambdafail schema > lambdafail.schema.json",),
    "validate": ("lambdafail validate -f shop.yaml",),
    "plan": ("lambdafail plan -f shop.yaml", "lambdafail plan -f shop.yaml --detailed-exitcode"),
    "deploy": ("lambdafail deploy -f shop.yaml", "lambdafail --sandbox deploy -f shop.yaml --yes"),
    "destroy": ("lambdafail destroy -f shop.yaml", "lambdafail destroy -f shop.yaml --delete-state"),
    "permissions": ("lambdafail permissions -f shop.yaml --for oncall",
                    "lambdafail permissions -f shop.yaml --account 123456789012 -o json"),
    "status": ("lambdafail status -f shop.yaml", "lambdafail status -f shop.yaml -o wide --probe",
               "lambdafail status -f shop.yaml --watch",
               "lambdafail status -f shop.yaml --fail-on failed_over,blocked,stale -o json"),
    "history": ("lambdafail history -f shop.yaml --since 2h",
                "lambdafail history -f shop.yaml checkout -o json"),
    "failover": ('lambdafail failover -f shop.yaml checkout --reason "INC-42" --dry-run',
                 'lambdafail failover -f shop.yaml checkout --reason "INC-42"'),
    "rollback": ('lambdafail rollback -f shop.yaml checkout --reason "primary fixed, INC-42"',
                 "lambdafail rollback -f shop.yaml --deployment --dry-run",
                 'lambdafail rollback -f shop.yaml checkout --abandon --reason "zone deleted"'),
    "pause": ('lambdafail pause -f shop.yaml checkout --for 2h --reason "DB migration"',
              'lambdafail pause -f shop.yaml --all --for 30m --reason "INC-42"'),
    "resume": ("lambdafail resume -f shop.yaml checkout", "lambdafail resume -f shop.yaml --all"),
    "approve": ('lambdafail approve -f shop.yaml checkout --reason "DB replica checked, INC-42"',
                'lambdafail approve -f shop.yaml checkout --deny --reason "primary is back"'),
    "drill": ("lambdafail drill -f shop.yaml checkout",
              "lambdafail --sandbox drill -f shop.yaml checkout --yes --report-dir out",
              "lambdafail drill -f shop.yaml --scenario region-outage --outage-region us-east-1"),
    "sandbox": ("lambdafail sandbox", "lambdafail sandbox --time-scale 60"),
    "demo": ("lambdafail demo",),
    "outage": ("lambdafail --sandbox outage us-east-1 --for 5m",
               "lambdafail --sandbox outage us-east-1 --end", "lambdafail --sandbox outage"),
    "web": ("lambdafail --sandbox web us-east-1 checkout",
            "lambdafail --sandbox web us-east-1 checkout --status 503",
            "lambdafail --sandbox web us-east-1 checkout --healthy", "lambdafail --sandbox web"),
}


def _set(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        # Flags and options may be given on the group and on the command. A value typed on the
        # command line wins; one that only came from the environment never overwrites a typed
        # one (the command's copy of an option sees the same environment variable again).
        if value is None or value is False:
            return
        current = settings.current()
        source = ctx.get_parameter_source(param.name) if param.name else None
        typed = source is click.core.ParameterSource.COMMANDLINE
        if not typed and getattr(current, attr) not in (None, False):
            return
        setattr(current, attr, value)

    return callback


def global_options(f: F) -> F:
    """Attach the global options to a group or command (used for both, so order is free)."""
    opts = [
        click.option("--region", expose_value=False, callback=_set("region"), is_eager=True,
                     help="AWS region; must agree with the topology's `region:` if it has one "
                     "(default: the topology's, else AWS_REGION / AWS_DEFAULT_REGION)."),
        click.option("--profile", envvar="AWS_PROFILE", expose_value=False,
                     callback=_set("profile"), help="AWS profile.", is_eager=True),
        click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", expose_value=False,
                     callback=_set("endpoint_url"), is_eager=True,
                     help="Send AWS calls here (a moto server, the sandbox)."),
        click.option("--sandbox", is_flag=True, default=False, expose_value=False,
                     callback=_set("sandbox"), is_eager=True,
                     help="Talk to the running `lambdafail sandbox`."),
        click.option("--output", "-o", type=click.Choice(["table", "wide", "json"]),
                     expose_value=False, callback=_set("output"), is_eager=True,
                     help="table for people (wide: every column), json for scripts (stdout "
                     "carries only the JSON)."),
        click.option("--no-color", is_flag=True, default=False, expose_value=False,
                     callback=_set("no_color"), is_eager=True, help="No colour (also NO_COLOR)."),
        click.option("--debug", is_flag=True, default=False, expose_value=False,
                     callback=_set("debug"), is_eager=True,
                     help="Show tracebacks and AWS call details."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def topology_file_option(f: F) -> F:
    return click.option(
        "-f", "--file", "file", type=click.Path(dir_okay=False), envvar="LAMBDAFAIL_FILE",
        default="lambdafail.yaml", show_default=True, help="Topology file.",
    )(f)


def require_text(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A free-text option that must say something when given (`--reason ''` says nothing)."""
    if value is None:
        return None
    from lambdafail.base.text import terminal_safe

    # Recorded in the log and shown to others: no escape sequences reach their terminals.
    value = terminal_safe(value).strip()
    if not value:
        raise click.BadParameter("must not be empty")
    return value


def require_finite(ctx: click.Context, param: click.Parameter,
                   value: float | None) -> float | None:
    """click's FloatRange lets `nan` and `inf` through; durations must be real numbers."""
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds")
    return value


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"lambdafail.cli.commands.{cmd_name.replace('-', '_')}")
        command: click.Command = module.command
        if command.epilog is None and cmd_name in EXAMPLES:
            # \b keeps click from re-wrapping the lines.
            command.epilog = "\b\nExamples:\n" + "\n".join(
                f"  {line}" for line in EXAMPLES[cmd_name])
        return command

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
            raise UsageError(f"no such command {name!r}",
                             hint=f"did you mean `lambdafail {close[0]}`?" if close
                             else "`lambdafail --help` lists the commands")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table, so `--help` imports no command module.
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="lambdafail")
@global_options
def cli() -> None:
    """lambdafail keeps services on AWS available: it watches a primary and a standby, fails
    over exactly once when the primary dies, lets on-call see and steer it, and rehearses
    outages on purpose.

    Exit codes: 0 ok, 1 bug, 2 usage or invalid topology, 3 AWS error, 4 changes pending,
    5 drill failed, 6 restore incomplete, 7 degraded, 8 at risk, 130 interrupted.
    """


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def report_error(err: LambdafailError) -> None:
    if isinstance(err, TopologyError) and len(err.problems) == 1 and not err.problems[0].line:
        # A file that cannot be read at all: one plain sentence, not a list of one.
        p = err.problems[0]
        _stderr(f"lambdafail: error: {p.location()}: {p.message}")
        if p.hint:
            _stderr(f"lambdafail: hint: {p.hint}")
        return
    if isinstance(err, TopologyError):
        for p in err.problems:
            _stderr(p.render())
    _stderr(f"lambdafail: error: {err.message}")
    if err.hint:
        _stderr(f"lambdafail: hint: {err.hint}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and exit. The single place where errors become messages and exit codes."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Like main() but returns the exit code (tests call this in-process)."""
    settings.reset()
    try:
        settings.current().debug = settings.env_flag("LAMBDAFAIL_DEBUG")
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="lambdafail",
                      standalone_mode=False)
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.exceptions.Abort:
        _stderr("lambdafail: interrupted")
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        _stderr("lambdafail: interrupted")
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as e:
        # Every usage error in one form: `lambdafail: error:` / `lambdafail: hint:`.
        ctx = getattr(e, "ctx", None)
        where = ctx.command_path if ctx is not None else "lambdafail"
        _stderr(f"lambdafail: error: {e.format_message()}")
        _stderr(f"lambdafail: hint: see `{where} --help`")
        return int(ExitCode.USAGE)
    except LambdafailError as e:
        if settings.current().debug:
            import traceback

            traceback.print_exc()
        report_error(e)
        return int(e.exit_code)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as e:
        translated = _translate_foreign(e)
        if translated is not None:
            if settings.current().debug:
                import traceback

                traceback.print_exc()
            report_error(translated)
            return int(translated.exit_code)
        if settings.current().debug:
            import traceback

            traceback.print_exc()
        _stderr(f"lambdafail: error: internal error: {type(e).__name__}: {e}")
        _stderr("lambdafail: hint: this is a bug in lambdafail; re-run with --debug and report "
                "the traceback")
        return int(ExitCode.BUG)
    if isinstance(rv, int):
        return rv
    return int(ExitCode.OK)


def _translate_foreign(e: Exception) -> LambdafailError | None:
    """botocore errors that escaped aws.py's wrappers are still AWS errors (exit 3), not bugs."""
    if "botocore" not in sys.modules:
        return None
    from lambdafail.aws import translate_exception

    return translate_exception(e)
