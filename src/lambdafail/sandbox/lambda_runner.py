"""Running Lambda functions in the sandbox: the deployed orchestrator for real, others on cue.

Fills a moto gap: moto 5.2.1 never runs function code without docker (Invoke just echoes the
payload). Rule: lambdafail's orchestrator (handler `lambdafail.runtime.handler.handle`) runs
from the code of the *deployed* version — the zip bytes moto stores for the resolved version or
alias, extracted once per CodeSha256 — never from the working tree, in a separate isolated
interpreter (`python -I -S`, see `lambda_bootstrap`) that sees the zip and the AWS SDK as
Lambda's runtime provides it — nothing else of the host's packages, whatever the install mode —
with the function's environment, the sandbox endpoint and the function's Timeout; so does any
Python zip function whose `LAMBDAFAIL_SANDBOX_RESPONSE` variable (or `lambdafail:sandbox-response`
tag) is `run`. Every other function answers as that variable or tag says (docs/sandbox.md).
Tested with moto 5.2.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdafail.sandbox import backends, emf
from lambdafail.sandbox.activity import ActivityLog
from lambdafail.sandbox.async_queue import AsyncQueue, Outcome
from lambdafail.sandbox.lambda_bootstrap import END_MARK

ORCHESTRATOR_HANDLER = "lambdafail.runtime.handler.handle"
RESPONSE_ENV = "LAMBDAFAIL_SANDBOX_RESPONSE"
RESPONSE_TAG = "lambdafail:sandbox-response"
# This cue runs the function's own Python code from its zip, as the orchestrator's is run (a
# recovery step's function that really starts something on loopback).
RUN_CUE = "run"
# Interpreter start-up plus imports are not part of Lambda's timeout (the bootstrap enforces
# the Timeout from the handler call); this only bounds a wedged interpreter.
_STARTUP_ALLOWANCE_S = 30.0
# A warm interpreter unused this long is stopped (Lambda also reclaims idle environments).
_IDLE_SECONDS = 120.0

# Runs in the child interpreter (a real module, so linters and type checkers see it).
_BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
# What AWS Lambda's Python runtime provides besides the standard library: the AWS SDK and its
# dependencies. The function's interpreter sees these and the deployed zip, nothing else.
_RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
_END_MARK = END_MARK.encode()


class _Worker:
    """One warm interpreter running one deployed version: one invocation at a time.

    Like a Lambda execution environment, it is reused for later invocations of the same
    code and configuration (module state survives, cold start is paid once) and thrown away
    after a timeout or a crash.
    """

    def __init__(self, key: tuple[str, ...], proc: subprocess.Popen[bytes], name: str,
                 log: ActivityLog, region: str = "us-east-1"):
        self.region = region
        self.key = key
        self.proc = proc
        self.last_used = time.monotonic()
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._log_ends = threading.Semaphore(0)
        threading.Thread(target=self._pump_stdout, daemon=True,
                         name=f"sandbox-fn-out-{name}").start()
        threading.Thread(target=self._pump_stderr, args=(name, log), daemon=True,
                         name=f"sandbox-fn-log-{name}").start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self, name: str, log: ActivityLog) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line == _END_MARK:
                self._log_ends.release()
                continue
            text = line.decode("utf-8", "replace").rstrip("\n")
            # What CloudWatch Logs does with an EMF line: its metrics become datapoints.
            emf.ingest_emf(self.region, text)
            log.write("LOG", text, name)
        self._log_ends.release()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, request: dict[str, Any], wait: float) -> dict[str, Any] | None:
        """Send one request; the outcome line, or None if the interpreter died without one."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                raise TimeoutError from None
            if line is None:
                return None
            doc = _last_json_line(line)
            if doc is not None:
                self.last_used = time.monotonic()
                self._log_ends.acquire(timeout=2.0)  # the invocation's log lines are in
                return doc

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@dataclass
class InvokeResult:
    status: int
    payload: bytes
    function_error: str | None = None  # "Unhandled" as AWS sends it
    executed_version: str = "$LATEST"


def _error_payload(error_type: str, message: str, request_id: str,
                   trace: list[str] | None = None) -> bytes:
    doc: dict[str, Any] = {"errorMessage": message, "errorType": error_type,
                           "requestId": request_id}
    if trace:
        doc["stackTrace"] = trace
    return json.dumps(doc).encode()


class LambdaRunner:
    """Invokes functions for the sandbox's HTTP layer and for event delivery."""

    def __init__(self, *, endpoint_url: str, time_scale: float, code_cache: Path,
                 log: ActivityLog, max_processes: int = 4,
                 credentials: Callable[[str, str], dict[str, str] | None] | None = None):
        self.endpoint_url = endpoint_url
        # With IAM enforced: (role ARN, session name) -> the role's temporary credentials.
        self.credentials = credentials
        self.time_scale = time_scale
        self.code_cache = code_cache
        self.log = log
        # Bounded: at most this many function interpreters at once, so a 2-core box stays calm.
        self._slots = threading.BoundedSemaphore(max_processes)
        self._pool = ThreadPoolExecutor(max_workers=max_processes,
                                        thread_name_prefix="sandbox-invoke")
        self._extract_lock = threading.Lock()
        self._runtime: Path | None = None
        self._procs_lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self.cold_starts = 0
        self._closed = False
        self._pending = 0
        self.invocations = 0
        # Asynchronous invocations go through Lambda's queue: retries, event age, on-failure.
        self.async_queue = AsyncQueue(self._attempt, log, time_scale)

    # -- public ------------------------------------------------------------------------------
    def invoke(self, region: str, name: str, qualifier: str | None, payload: bytes,
               invocation_type: str = "RequestResponse") -> InvokeResult | None:
        """Invoke like the Lambda API; None when the function (or qualifier) does not exist."""
        fn = backends.get_function(region, name, qualifier)
        if fn is None:
            return None
        version = str(fn.version)
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", executed_version=version)
        if invocation_type == "Event":
            self.async_queue.submit(region, name, qualifier, payload, source="Invoke (Event)")
            return InvokeResult(202, b"", executed_version=version)
        return self._run(fn, payload, qualifier)

    def invoke_async(self, region: str, name: str, qualifier: str | None, payload: bytes,
                     source: str) -> bool:
        """EventBridge-style asynchronous invoke. False when the function does not exist."""
        fn = backends.get_function(region, name, qualifier)
        if fn is None:
            self.log.write("DROPPED", f"{source}: function {name}"
                           f"{':' + qualifier if qualifier else ''} not found")
            return False
        self.async_queue.submit(region, name, qualifier, payload, source=source)
        return True

    def idle(self) -> bool:
        """No asynchronous invocation queued or running (retries waiting out their delay
        are not counted: `async_queue.waiting()`)."""
        with self._procs_lock:
            return self._pending == 0

    def shutdown(self) -> None:
        self._closed = True
        self.async_queue.shutdown()
        with self._procs_lock:
            workers = self._idle + list(self._busy)
            self._idle = []
        for w in workers:
            w.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- behaviour per function ----------------------------------------------------------------
    def _attempt(self, region: str, name: str, qualifier: str | None, payload: bytes,
                 done: Callable[[Outcome | None], None]) -> bool:
        """One attempt of a queued asynchronous invocation, on the pool; False if not run."""
        fn = backends.get_function(region, name, qualifier)
        if fn is None or self._closed:
            return False
        with self._procs_lock:
            self._pending += 1
        try:
            self._pool.submit(self._run_logged, fn, payload, done, qualifier)
        except RuntimeError:  # pool shut down while stopping
            with self._procs_lock:
                self._pending -= 1
            return False
        return True

    def _run_logged(self, fn: Any, payload: bytes, done: Callable[[Outcome | None], None],
                    qualifier: str | None = None) -> None:
        outcome: Outcome | None = None
        try:
            r = self._run(fn, payload, qualifier)
            outcome = Outcome(r.function_error is None, r.payload, r.function_error,
                              r.executed_version)
        except Exception as e:  # never kill a pool thread silently
            self.log.write("ERROR", f"invoke failed: {type(e).__name__}: {e}", fn.function_name)
        try:
            done(outcome)  # queues a retry before this attempt stops counting as pending
        except Exception as e:
            self.log.write("ERROR", f"async queue: {type(e).__name__}: {e}", fn.function_name)
        finally:
            with self._procs_lock:
                self._pending -= 1

    def _run(self, fn: Any, payload: bytes, qualifier: str | None = None) -> InvokeResult:
        self.invocations += 1
        request_id = str(uuid.uuid4())
        version = str(fn.version)
        if fn.package_type == "Zip" and (fn.handler == ORCHESTRATOR_HANDLER
                                         or _cue(fn).lower() == RUN_CUE):
            return self._run_code(fn, payload, request_id, qualifier)
        return self._scripted_answer(fn, payload, request_id, version)

    def _scripted_answer(self, fn: Any, payload: bytes, request_id: str,
                         version: str) -> InvokeResult:
        """A function the sandbox does not run: answer as configured (default: echo)."""
        cue = _cue(fn)
        name = fn.function_name
        if cue.lower() == "ok":
            self.log.write("INVOKE", f"{request_id} v{version}: echo (scripted ok)", name)
            return InvokeResult(200, payload or b"{}", executed_version=version)
        if cue.lower() == "error":
            self.log.write("INVOKE", f"{request_id} v{version}: scripted error", name)
            return InvokeResult(200, _error_payload(
                "Sandbox.ScriptedError",
                f"{RESPONSE_ENV}/{RESPONSE_TAG} says this function fails", request_id),
                function_error="Unhandled", executed_version=version)
        self.log.write("INVOKE", f"{request_id} v{version}: scripted answer", name)
        return InvokeResult(200, cue.encode(), executed_version=version)

    def _code_dir(self, fn: Any) -> Path:
        """The deployed zip, extracted once per CodeSha256 (atomic rename; safe to share)."""
        sha = str(fn.code_sha_256 or "").replace("/", "_").replace("+", "-") or "empty"
        target = self.code_cache / sha
        with self._extract_lock:
            if not target.is_dir():
                self.code_cache.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(dir=self.code_cache, prefix=".extract-"))
                try:
                    with zipfile.ZipFile(_bytes_io(fn.code_bytes)) as zf:
                        zf.extractall(tmp)  # strips absolute paths and "..": no zip-slip
                    os.replace(tmp, target)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
        return target

    def _runtime_dir(self) -> Path:
        """A directory holding (as links) exactly the packages Lambda's runtime provides.

        The host's site-packages holds them beside everything else (click, pydantic, an
        installed lambdafail), so it cannot go on the function's path as a whole. Built once
        per set of host paths, atomically, and shared by every function interpreter.
        """
        with self._extract_lock:
            if self._runtime is not None:
                return self._runtime
            found: dict[str, Path] = {}
            for name in _RUNTIME_PROVIDED:
                spec = importlib.util.find_spec(name)
                if spec is None or spec.origin is None:
                    continue  # e.g. no six: nothing of the SDK needs it on this host
                origin = Path(spec.origin)
                found[name] = origin.parent if origin.name == "__init__.py" else origin
            digest = hashlib.sha256(
                json.dumps({k: str(v) for k, v in found.items()}).encode()).hexdigest()[:16]
            target = self.code_cache / f"runtime-provided-{digest}"
            if not target.is_dir():
                self.code_cache.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(dir=self.code_cache, prefix=".runtime-"))
                for path in found.values():
                    (tmp / path.name).symlink_to(path, target_is_directory=path.is_dir())
                try:
                    os.replace(tmp, target)
                except OSError:  # another sandbox sharing the cache made it first
                    shutil.rmtree(tmp, ignore_errors=True)
            self._runtime = target
            return target

    def _environment(self, fn: Any, code_dir: Path) -> dict[str, str]:
        env = {k: str(v) for k, v in (fn.environment_vars or {}).items()}
        keep = {k: os.environ[k] for k in ("PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP", "LANG")
                if k in os.environ}
        region = str(fn.region)
        env.update(keep)
        # AWS reserves these names: the function cannot override them, and neither can we
        # let the operator's shell leak in (a real profile or endpoint must never be used).
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_LAMBDA_FUNCTION_NAME": str(fn.function_name),
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time or 'python'}",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": str(fn.handler),
            "LAMBDAFAIL_TIME_SCALE": repr(self.time_scale),
            "LAMBDAFAIL_SANDBOX": "1",
            "PYTHONUNBUFFERED": "1",
        })
        if self.credentials is not None:
            # As Lambda does: the runtime holds the execution role's session credentials
            # (a role that no longer exists gives none, and every call is refused).
            env.update(self.credentials(str(fn.role), str(fn.function_name)) or {
                "AWS_ACCESS_KEY_ID": "ASIA-ROLE-NOT-FOUND", "AWS_SESSION_TOKEN": "none"})
        return env

    def _run_code(self, fn: Any, payload: bytes, request_id: str,
                  qualifier: str | None = None) -> InvokeResult:
        name, version = str(fn.function_name), str(fn.version)
        timeout = float(fn.timeout or 3)
        try:
            code_dir = self._code_dir(fn)
        except (zipfile.BadZipFile, OSError) as e:
            self.log.write("ERROR", f"{request_id}: cannot unpack the deployed zip: {e}", name)
            return InvokeResult(200, _error_payload("Runtime.InvalidZip", str(e), request_id),
                                function_error="Unhandled", executed_version=version)
        request = {
            "code_dir": str(code_dir), "handler": str(fn.handler), "timeout": timeout,
            "runtime_paths": [str(self._runtime_dir())],
            "payload": payload.decode("utf-8", "replace"),
            "context": {
                "function_name": name, "function_version": version,
                "invoked_function_arn": _invoked_arn(fn, qualifier),
                "memory_limit_in_mb": str(fn.memory_size), "aws_request_id": request_id,
                "log_group_name": f"/aws/lambda/{name}",
                "log_stream_name": f"sandbox/{request_id}",
            },
        }
        self.log.write("START", f"RequestId: {request_id} Version: {version} "
                       f"Code: {str(fn.code_sha_256)[:12]}", name)
        started = time.monotonic()
        with self._slots:
            if self._closed:
                return InvokeResult(200, _error_payload(
                    "Sandbox.Stopped", "the sandbox is stopping", request_id),
                    function_error="Unhandled", executed_version=version)
            env = self._environment(fn, code_dir)
            key = (name, version, str(fn.code_sha_256), json.dumps(env, sort_keys=True))
            worker = self._acquire(key, name, code_dir, env, str(getattr(fn, "region", "")
                                                                 or "us-east-1"))
            outcome: dict[str, Any] | None
            try:
                outcome = worker.call(request, timeout + _STARTUP_ALLOWANCE_S)
            except TimeoutError:
                outcome = {"ok": False, "errorType": "Sandbox.Timedout",
                           "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
            self._release(worker)
        elapsed_ms = (time.monotonic() - started) * 1000
        if outcome is None:
            outcome = {"ok": False, "errorType": "Runtime.ExitError",
                       "errorMessage": f"the function's interpreter exited "
                       f"(code {worker.proc.returncode}) without a result"}
        status = "ok" if outcome.get("ok") else f"error {outcome.get('errorType')}"
        self.log.write("END", f"RequestId: {request_id} Duration: {elapsed_ms:.0f} ms {status}",
                       name)
        if outcome.get("ok"):
            return InvokeResult(200, str(outcome.get("payload", "null")).encode(),
                                executed_version=version)
        return InvokeResult(200, _error_payload(
            str(outcome.get("errorType")), str(outcome.get("errorMessage")), request_id,
            outcome.get("stackTrace")), function_error="Unhandled", executed_version=version)

    def _acquire(self, key: tuple[str, ...], name: str, code_dir: Path,
                 env: dict[str, str], region: str = "us-east-1") -> _Worker:
        """A warm interpreter for exactly this code and configuration, or a cold start."""
        now = time.monotonic()
        stale: list[_Worker] = []
        found: _Worker | None = None
        with self._procs_lock:
            keep: list[_Worker] = []
            for w in self._idle:
                if not w.alive() or now - w.last_used > _IDLE_SECONDS or (
                        w.key[0] == key[0] and w.key != key):
                    stale.append(w)  # dead, idle too long, or an older deployment
                elif found is None and w.key == key:
                    found = w
                else:
                    keep.append(w)
            self._idle = keep
            if found is not None:
                self._busy.add(found)
        for w in stale:
            w.kill()
        if found is not None:
            return found
        self.cold_starts += 1
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(_BOOTSTRAP)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(code_dir), env=env)
        worker = _Worker(key, proc, name, self.log, region)
        with self._procs_lock:
            self._busy.add(worker)
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._procs_lock:
            self._busy.discard(worker)
            if worker.alive() and not self._closed:
                self._idle.append(worker)
                return
        worker.kill()


def _cue(fn: Any) -> str:
    """What a function's sandbox cue says (the variable wins over the tag); `ok` if none."""
    cue = (fn.environment_vars or {}).get(RESPONSE_ENV) or (fn.tags or {}).get(RESPONSE_TAG)
    return str(cue or "ok").strip()


def _last_json_line(out: bytes) -> dict[str, Any] | None:
    for line in reversed(out.decode("utf-8", "replace").splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "ok" in doc:
            return doc
    return None


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def _invoked_arn(fn: Any, qualifier: str | None) -> str:
    """The ARN the caller invoked, as Lambda's context gives it: the function's unqualified
    ARN, plus `:<alias or version>` when the caller named one."""
    base = str(fn.function_arn).split(":function:")[0] + f":function:{fn.function_name}"
    return f"{base}:{qualifier}" if qualifier else base
