"""`lambdafail sandbox`: run the local AWS emulation in the foreground until Ctrl-C.

Rule: thin — the work is `lambdafail.sandbox.server.Sandbox`. stdout carries only the
`export AWS_ENDPOINT_URL=...` line (or the JSON state with `-o json`) so a shell can `eval` it;
everything else goes to stderr. SIGINT and SIGTERM stop it cleanly (exit 0).
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options


@click.command("sandbox", help="Run a local AWS emulation (moto) that runs lambdafail for real: "
               "events reach Lambda targets, the deployed orchestrator runs, schedules fire, "
               "alarms emit events. Other commands reach it with --sandbox. Needs "
               "`pip install 'lambdafail[sandbox]'`.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")
@click.option("--time-scale", type=float, default=1.0, show_default=True,
              help="Speed schedules up: 60 makes rate(1 minute) fire every second "
              "(never more often than once a second).")
@click.option("--state-file", type=click.Path(dir_okay=False), default=None,
              envvar="LAMBDAFAIL_SANDBOX_STATE",
              help="Where to write the endpoint for --sandbox (default: "
              "~/.cache/lambdafail/sandbox.json).")
@click.option("--enforce-iam", is_flag=True, default=False,
              help="Authorize every request as AWS IAM would: operators by the policies of "
              "the IAM user whose access keys they use, the orchestrator by its role's "
              "(docs/sandbox.md). The key `testing` is the account root.")
@global_options
def command(port: int, time_scale: float, state_file: str | None, enforce_iam: bool) -> int:
    import signal
    import sys
    import threading

    from lambdafail.base import settings
    from lambdafail.cli.commands.common import emit_json, is_json
    from lambdafail.sandbox.server import Sandbox

    sandbox = Sandbox(port=port, time_scale=time_scale,
                      state_file=state_file or settings.current().sandbox_state_file,
                      region=settings.current().region or "us-east-1",
                      enforce_iam=enforce_iam)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        url = sandbox.start()
        for note in sandbox.notes:
            click.echo(f"lambdafail: warning: {note}", err=True)
        if is_json():
            emit_json(dict(sandbox.state(), state_file=str(sandbox.state_file)))
        else:
            click.echo(f"export AWS_ENDPOINT_URL={url}")
            sys.stdout.flush()
            click.echo(f"lambdafail sandbox listening on {url} (region {sandbox.region}, "
                       f"time scale {sandbox.time_scale:g})\n"
                       f"  state file: {sandbox.state_file}  (other commands: --sandbox)\n"
                       f"  log file:   {sandbox.log_file}\n"
                       + ("  IAM enforced: AWS_ACCESS_KEY_ID=testing is the account root; "
                          "other keys are IAM users' access keys\n" if enforce_iam else
                          "  credentials: any (e.g. AWS_ACCESS_KEY_ID=testing "
                          "AWS_SECRET_ACCESS_KEY=testing)\n") +
                       "Ctrl-C to stop.", err=True)
        while not stop.wait(0.5):
            pass
        click.echo("lambdafail: stopping the sandbox", err=True)
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
