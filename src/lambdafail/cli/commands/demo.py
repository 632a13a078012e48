"""`lambdafail demo`: the whole loop on the local sandbox, one command, nothing left running.

Thin: the flow is `lambdafail.demo.Demo`; this draws its progress (step headers and live waits
on stderr; the steps' own tables go to stdout as usual), prints the summary, and owns the
process-level concerns — SIGTERM becomes a clean stop, and `--keep` hands the sandbox over
until Ctrl-C. Needs `pip install 'lambdafail[sandbox]'` (exit 2 with that hint otherwise).

Rule: nothing is left running unless --keep; every step is the real command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lambdafail.cli.main import global_options

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from lambdafail.demo import DemoEvent, DemoResult


@click.command("demo", help="Run the whole loop on the local sandbox in one command, no "
               "account: start the sandbox and two local HTTP services, deploy, stop the "
               "primary for real and watch the orchestrator fail over, show status and "
               "history, restore and roll back, run a drill and write its reports. Stops "
               "everything at the end (unless --keep). Needs "
               "`pip install 'lambdafail[sandbox]'`.")
@click.option("--keep", is_flag=True, help="Leave the sandbox and the two services running "
              "for exploration (with --sandbox) until Ctrl-C.")
@click.option("--time-scale", type=click.FloatRange(min=1, max=120), default=60.0,
              show_default=True, help="Sandbox speed-up: 60 makes rate(1 minute) tick every "
              "second.")
@click.option("--dir", "workdir", type=click.Path(file_okay=False),
              help="Where to write the topology and the reports [default: "
              "~/.cache/lambdafail/demo/<time>/].")
@global_options
def command(keep: bool, time_scale: float, workdir: str | None) -> int:
    import signal
    from pathlib import Path

    from lambdafail.base import settings
    from lambdafail.base.errors import UsageError
    from lambdafail.cli import main as cli
    from lambdafail.cli.commands.common import console
    from lambdafail.demo import Demo, DemoOptions

    s = settings.current()
    if s.json:
        raise UsageError("demo draws for people; it has no JSON output",
                         hint="script the steps instead: `lambdafail --sandbox status -o json`")
    out, err = console(), console(stderr=True)
    opts = DemoOptions(time_scale=time_scale, workdir=Path(workdir) if workdir else None,
                       keep=keep, no_color=not s.color_enabled())
    view = _View(err)
    demo = Demo(opts, cli.run, view)

    def on_signal(signum: int, frame: object) -> None:
        # Unwinds through the finally below: nothing left running. Set for SIGINT too: a
        # process started in the background by a shell inherits SIGINT *ignored*. Raised
        # while a garbage collector's finalizer runs, it is "ignored" by Python: the view
        # raises it again at the demo's next event (every wait emits one every 0.1 s).
        view.interrupted = True
        f: Any = frame
        while f is not None:
            if f.f_code.co_filename.endswith("weakref.py"):
                return  # inside a finalizer: Python would print it and drop it
            f = f.f_back
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            result = demo.run()
        finally:
            view.stop()
        _summary(out, result)
        if keep:
            _hand_over(err, result)
    except KeyboardInterrupt:
        if not (keep and demo.result.wall_seconds):
            raise
        err.print("lambdafail: stopping the sandbox")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        demo.close()
    return 0


class _View:
    """Draws DemoEvents: step headers, the command being run, a live line while waiting."""

    def __init__(self, err: Console) -> None:
        self.err = err
        self.status: Status | None = None
        self.interrupted = False  # a signal arrived (see `command`'s on_signal)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def __call__(self, ev: DemoEvent) -> None:
        from rich.markup import escape

        if self.interrupted:
            raise KeyboardInterrupt
        if ev.kind == "wait":
            if not self.err.is_terminal:
                return  # no live line in a log; the "waited" line says how long it took
            text = f"{escape(ev.text)} [bold]{ev.elapsed:.1f} s[/bold]"
            if self.status is None:
                self.status = self.err.status(text)
                self.status.start()
            else:
                self.status.update(text)
            return
        self.stop()
        if ev.kind == "step":
            self.err.print()
            self.err.print(f"[bold]step {ev.step} · {escape(ev.text)}[/bold] "
                           f"[dim]+{ev.elapsed:.1f} s[/dim]", soft_wrap=True)
        elif ev.kind == "command":
            self.err.print(f"[bold cyan]$ {escape(ev.text)}[/bold cyan]", soft_wrap=True)
        elif ev.kind == "waited":
            self.err.print(f"[green]✓[/green] {escape(ev.text)}", soft_wrap=True)
        elif ev.kind == "warning":
            self.err.print(f"[yellow]lambdafail: warning: {escape(ev.text)}[/yellow]")
        else:
            self.err.print(f"  {escape(ev.text)}", soft_wrap=True)


def _summary(out: Console, r: DemoResult) -> None:
    from rich.markup import escape

    from lambdafail.demo import floor_text, next_steps

    def say(text: str = "") -> None:
        out.print(text, soft_wrap=True)  # paths stay whole, copy-pasteable

    def p(text: Any) -> str:
        return escape(str(text))

    switch = "—" if r.switch_seconds is None else f"{r.switch_seconds:.1f} s"
    say(f"[bold green]✓ demo finished in {r.wall_seconds:.1f} s[/bold green]")
    say(f"  failover: primary down → router on the standby in {switch} "
        f"({floor_text(r.time_scale)}; time scale {r.time_scale:g})")
    say(f"  rollback: traffic back on the primary; drill: "
              f"{'[green]PASS[/green]' if r.drill_passed else '[red]FAIL[/red]'}")
    if r.pilot_phases:
        say("  pilot light: " + ", ".join(f"{p(name.split(' (')[0])} {s:.2f} s"
                                           for name, s in r.pilot_phases))
    if r.region_switch_seconds is not None:
        say(f"  region outage: us-east-1 dark → router on the standby in "
            f"{r.region_switch_seconds:.1f} s, decided in us-west-2")
    say(f"  drill reports: {p(r.report_dir)}/ "
              f"({', '.join(p(n) for n in r.reports) or 'none'})")
    say(f"  topology: {p(r.topology_file)}")
    say(f"  sandbox log: {p(r.sandbox_log_file)}")
    say()
    for line in next_steps(r):
        say(p(line) if line.startswith(" ") else f"[bold]{p(line)}[/bold]")


def _hand_over(err: Console, r: DemoResult) -> None:
    import threading

    from rich.markup import escape

    f = escape(str(r.topology_file))
    lines = [
        "",
        f"[bold]--keep: the sandbox stays on {escape(r.sandbox_url)}[/bold] with the primary "
        f"({escape(r.primary_url)}) and the standby ({escape(r.standby_url)}). Try:",
        f"  lambdafail --sandbox status -f {f}",
        f"  lambdafail --sandbox history -f {f}",
        f"  lambdafail --sandbox failover web --reason test --yes -f {f}",
        f"  export AWS_ENDPOINT_URL={escape(r.sandbox_url)}   # for the aws CLI / boto3 (any "
        "credentials)",
        "Ctrl-C to stop.",
    ]
    for line in lines:
        err.print(line, soft_wrap=True)
    stop = threading.Event()
    while not stop.wait(0.5):
        pass
