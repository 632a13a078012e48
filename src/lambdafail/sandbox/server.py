"""The sandbox: moto's server in a thread, behind a small WSGI layer that adds what moto lacks
(app.py), a thread that fires schedules (scheduler.py) and a Lambda runner.

Rule: nothing here changes what
`deploy` creates: the same plan runs on AWS and in the sandbox. Usable in-process
(`with Sandbox() as url: ...`) by `lambdafail sandbox`, `demo` and tests. Tested with moto
5.2.1 (werkzeug 3.1); other versions start with a warning in `Sandbox.notes`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from lambdafail.base.errors import UsageError
from lambdafail.sandbox import backends, dns, metric_alarms, outages, regional_web
from lambdafail.sandbox.activity import ActivityLog, RequestLog
from lambdafail.sandbox.app import _SCOPE, SandboxApp
from lambdafail.sandbox.delivery import Delivered, Dispatcher
from lambdafail.sandbox.iam_enforce import Enforcer
from lambdafail.sandbox.lambda_runner import LambdaRunner
from lambdafail.sandbox.scheduler import Scheduler
from lambdafail.sandbox.statefile import default_state_file, write_state

_MAX_TIME_SCALE = 3600.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(url: str) -> bool:
    m = re.match(r"^https?://([^:/]+):(\d+)", url)
    if not m:
        return False
    try:
        with socket.create_connection((m.group(1), int(m.group(2))), timeout=0.5):
            return True
    except OSError:
        return False


class Sandbox:
    """A local AWS (moto) that runs lambdafail for real. `start()` returns the endpoint URL."""

    def __init__(self, port: int = 0, time_scale: float = 1.0,
                 state_file: str | Path | None = None, *, host: str = "127.0.0.1",
                 region: str = "us-east-1", write_state_file: bool = True,
                 tick: float = 0.1, max_processes: int = 4, enforce_iam: bool = False):
        if not 0 < time_scale <= _MAX_TIME_SCALE:
            raise UsageError(f"--time-scale must be > 0 and <= {_MAX_TIME_SCALE:g}, "
                             f"got {time_scale:g}",
                             hint="1 is real time; 60 makes rate(1 minute) fire every second")
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be 0..65535, got {port}",
                             hint="0 picks a free port")
        self.host = host
        self.port = port
        self.time_scale = float(time_scale)
        self.region = region
        self.state_file = Path(state_file) if state_file else default_state_file()
        self.log_file = self.state_file.with_suffix(".log")
        self.write_state_file = write_state_file
        self.tick = tick
        self.max_processes = max_processes
        self.notes: list[str] = []
        # --enforce-iam: requests are authorized against the caller's policies (iam_enforce).
        self.enforcer: Enforcer | None = Enforcer() if enforce_iam else None
        self.endpoint_url = ""
        self.log = ActivityLog()
        self.requests = RequestLog()
        self.outages = outages.Outages(self.time_scale)
        self.web = regional_web.WebEndpoints()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._runner: LambdaRunner | None = None
        self._dispatcher: Dispatcher | None = None
        self._scheduler: Scheduler | None = None
        self._evaluator: metric_alarms.Evaluator | None = None
        self._started = False
        self._lambda_config: dict[str, Any] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> str:
        if self._started:
            return self.endpoint_url
        note = backends.check_version()  # raises UsageError (exit 2) without moto
        if note:
            self.notes.append(note)
        self._refuse_if_running()
        self._lambda_config = backends.disable_lambda_docker()
        dns.install()  # health checks that follow their alarm (moto evaluates none)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        log = self.log
        dark = self.outages

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass  # one line per API call would drown the terminal

            def log_error(self, format: str, *args: Any) -> None:
                log.write("HTTP", format % args)

            def run_wsgi(self) -> None:
                # A dark region's endpoint does not answer: the connection is closed unanswered
                # — an AWS request signed for it, or a request to one of its regional web
                # endpoints (regional_web.py).
                m = _SCOPE.search(self.headers.get("Authorization", ""))
                region = (m.group("region") if m else
                          regional_web.served_region(unquote(urlsplit(self.path).path)))
                if region and dark.refuse(region):
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                super().run_wsgi()

        app = SandboxApp(DomainDispatcherApplication(create_backend_app), self)
        try:
            # werkzeug answers a taken port by printing to stderr and calling sys.exit(1).
            with contextlib.redirect_stderr(io.StringIO()):
                self._server = make_server(self.host, self.port, app, threaded=True,
                                           request_handler=QuietHandler)
        except (OSError, SystemExit) as e:
            backends.restore_lambda_config(self._lambda_config)
            why = e.strerror if isinstance(e, OSError) and e.strerror else "address in use"
            raise UsageError(f"cannot listen on {self.host}:{self.port}: {why}",
                             hint="pick another --port, or 0 for a free one") from None
        self.port = int(self._server.server_port)
        self.endpoint_url = f"http://{self.host}:{self.port}"
        if self.write_state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.log_file.write_text("")
            self.log.path = self.log_file
        self._runner = LambdaRunner(endpoint_url=self.endpoint_url, time_scale=self.time_scale,
                                    code_cache=self.state_file.parent / "sandbox-code",
                                    log=self.log, max_processes=self.max_processes,
                                    credentials=(self.enforcer.role_credentials
                                                 if self.enforcer is not None else None))
        self._dispatcher = Dispatcher(runner=self._runner, log=self.log,
                                      dark=self.outages.dark)
        self._scheduler = Scheduler(self._dispatcher, self.log, time_scale=self.time_scale,
                                    tick=self.tick, dark=self.outages.dark)
        dispatcher, region = self._dispatcher, self.region
        self._evaluator = metric_alarms.Evaluator(
            region, self.log, lambda event: dispatcher.deliver_to_bus(region, "default", event),
            self._scheduler.real_delay, app._alarm_lock, dark=self.outages.dark)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="sandbox-http", daemon=True)
        self._thread.start()
        self._scheduler.start()
        self._evaluator.start()
        self._started = True
        self.log.write("START", f"sandbox listening on {self.endpoint_url} "
                       f"(time scale {self.time_scale:g})")
        if self.write_state_file:
            write_state(self.state(), str(self.state_file))
        return self.endpoint_url

    def state(self) -> dict[str, Any]:
        """What the state file holds (and what `lambdafail sandbox -o json` prints)."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "pid": os.getpid(),
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "time_scale": self.time_scale,
            "enforce_iam": self.enforcer is not None,
            "log_file": str(self.log_file) if self.write_state_file else None,
        }

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._evaluator is not None:
            self._evaluator.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._runner is not None:
            self._runner.shutdown()
        if self._lambda_config is not None:
            backends.restore_lambda_config(self._lambda_config)
        self.log.write("STOP", "sandbox stopped")
        if self.write_state_file:
            self._remove_state_file()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _refuse_if_running(self) -> None:
        if not self.write_state_file or not self.state_file.exists():
            return
        try:
            other = json.loads(self.state_file.read_text())
            pid, url = int(other.get("pid", 0)), str(other.get("endpoint_url", ""))
        except (OSError, ValueError, TypeError):
            return  # unreadable: stale, overwrite it
        if pid and _pid_alive(pid) and _listening(url):
            raise UsageError(f"a sandbox is already running at {url} (pid {pid}, state file "
                             f"{self.state_file})",
                             hint="use that one, stop it with Ctrl-C, or pass --state-file "
                             "to run another")

    def _remove_state_file(self) -> None:
        try:
            current = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        if current.get("endpoint_url") == self.endpoint_url and current.get("pid") == os.getpid():
            self.state_file.unlink(missing_ok=True)

    # -- what tests and the demo look at ----------------------------------------------------------
    @property
    def runner(self) -> LambdaRunner:
        if self._runner is None:
            raise RuntimeError("the sandbox is not started")
        return self._runner

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("the sandbox is not started")
        return self._dispatcher

    @property
    def deliveries(self) -> list[Delivered]:
        return list(self._dispatcher.deliveries) if self._dispatcher else []

    def logs(self, function: str | None = None) -> list[str]:
        """Recent activity (deliveries, invocations, function output), oldest first."""
        return self.log.lines(function)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no asynchronous invocation is queued or running (for tests and demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._runner is None or self._runner.idle():
                return True
            time.sleep(0.02)
        return False
