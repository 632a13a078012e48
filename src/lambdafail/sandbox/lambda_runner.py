"""Running Lambda functions in the sandbox: the deployed orchestrator for real, others on cue.

Fills a moto gap: moto 5.2.1 never runs function code without docker (Invoke just echoes the
payload). Rule: lambdafail's orchestrator (handler `lambdafail.runtime.handler.handle`) runs
from the code of the *deployed* version — the zip bytes moto stores for the resolved version or
alias, extracted once per CodeSha256 — never from the working tree, in a separate isolated
interpreter (`python -I`) with the function's environment, the sandbox endpoint and the
function's Timeout. Every other function answers as its `LAMBDAFAIL_SANDBOX_RESPONSE`
environment variable or `lambdafail:sandbox-response` tag says (docs/sandbox.md). Tested with
moto 5.2.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdafail.sandbox import backends
from lambdafail.sandbox.activity import ActivityLog

ORCHESTRATOR_HANDLER = "lambdafail.runtime.handler.handle"
RESPONSE_ENV = "LAMBDAFAIL_SANDBOX_RESPONSE"
RESPONSE_TAG = "lambdafail:sandbox-response"
# Interpreter start-up plus imports are not part of Lambda's timeout (the bootstrap enforces
# the Timeout from the handler call); this only bounds a wedged interpreter.
_STARTUP_ALLOWANCE_S = 30.0

# Runs in the child interpreter. The handler's prints go to stderr (the function's log);
# stdout carries exactly one JSON line: the outcome.
_BOOTSTRAP = r"""
import importlib, json, os, sys, threading, time, traceback
req = json.loads(sys.stdin.read())
code_dir = req["code_dir"]
# The deployed zip comes first; any other copy of the package (an editable install of the
# working tree) is removed so the zip's code is the only one importable, as on AWS.
sys.path[:] = [code_dir] + [p for p in sys.path if p != code_dir and not (
    p and os.path.isfile(os.path.join(p, req["top_package"], "__init__.py")))]
os.chdir(code_dir)
out = sys.stdout
sys.stdout = sys.stderr

def emit(doc):
    out.write(json.dumps(doc) + "\n")
    out.flush()

timeout = float(req["timeout"])
def on_timeout():
    emit({"ok": False, "errorType": "Sandbox.Timedout",
          "errorMessage": "Task timed out after %.2f seconds" % timeout})
    os._exit(0)

class Context:
    def __init__(self, c, deadline):
        self.function_name = c["function_name"]
        self.function_version = c["function_version"]
        self.invoked_function_arn = c["invoked_function_arn"]
        self.memory_limit_in_mb = c["memory_limit_in_mb"]
        self.aws_request_id = c["aws_request_id"]
        self.log_group_name = c["log_group_name"]
        self.log_stream_name = c["log_stream_name"]
        self._deadline = deadline
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

module_name, _, func_name = req["handler"].rpartition(".")
try:
    func = getattr(importlib.import_module(module_name), func_name)
    event = json.loads(req["payload"]) if req["payload"].strip() else {}
except Exception as e:
    traceback.print_exc()
    emit({"ok": False, "errorType": "Runtime.ImportModuleError",
          "errorMessage": "Unable to import module '%s': %s" % (module_name, e)})
    sys.exit(0)
deadline = time.monotonic() + timeout
timer = threading.Timer(timeout, on_timeout)
timer.daemon = True
timer.start()
try:
    result = func(event, Context(req["context"], deadline))
    text = json.dumps(result)
except Exception as e:
    traceback.print_exc()
    emit({"ok": False, "errorType": type(e).__name__, "errorMessage": str(e),
          "stackTrace": traceback.format_tb(e.__traceback__)})
else:
    emit({"ok": True, "payload": text})
timer.cancel()
"""


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
                 log: ActivityLog, max_processes: int = 4):
        self.endpoint_url = endpoint_url
        self.time_scale = time_scale
        self.code_cache = code_cache
        self.log = log
        # Bounded: at most this many function interpreters at once, so a 2-core box stays calm.
        self._slots = threading.BoundedSemaphore(max_processes)
        self._pool = ThreadPoolExecutor(max_workers=max_processes,
                                        thread_name_prefix="sandbox-invoke")
        self._extract_lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._procs_lock = threading.Lock()
        self._closed = False
        self._pending = 0
        self.invocations = 0

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
            self._submit(fn, payload)
            return InvokeResult(202, b"", executed_version=version)
        return self._run(fn, payload)

    def invoke_async(self, region: str, name: str, qualifier: str | None, payload: bytes,
                     source: str) -> bool:
        """EventBridge-style asynchronous invoke. False when the function does not exist."""
        fn = backends.get_function(region, name, qualifier)
        if fn is None:
            self.log.write("DROPPED", f"{source}: function {name}"
                           f"{':' + qualifier if qualifier else ''} not found")
            return False
        return self._submit(fn, payload)

    def idle(self) -> bool:
        """No asynchronous invocation queued or running."""
        with self._procs_lock:
            return self._pending == 0

    def shutdown(self) -> None:
        self._closed = True
        with self._procs_lock:
            procs = list(self._procs)
        for p in procs:
            p.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- behaviour per function ----------------------------------------------------------------
    def _submit(self, fn: Any, payload: bytes) -> bool:
        if self._closed:
            return False
        with self._procs_lock:
            self._pending += 1
        try:
            self._pool.submit(self._run_logged, fn, payload)
        except RuntimeError:  # pool shut down while stopping
            with self._procs_lock:
                self._pending -= 1
            return False
        return True

    def _run_logged(self, fn: Any, payload: bytes) -> None:
        try:
            self._run(fn, payload)
        except Exception as e:  # never kill a pool thread silently
            self.log.write("ERROR", f"invoke failed: {type(e).__name__}: {e}", fn.function_name)
        finally:
            with self._procs_lock:
                self._pending -= 1

    def _run(self, fn: Any, payload: bytes) -> InvokeResult:
        self.invocations += 1
        request_id = str(uuid.uuid4())
        version = str(fn.version)
        if fn.handler == ORCHESTRATOR_HANDLER and fn.package_type == "Zip":
            return self._run_code(fn, payload, request_id)
        return self._scripted_answer(fn, payload, request_id, version)

    def _scripted_answer(self, fn: Any, payload: bytes, request_id: str,
                         version: str) -> InvokeResult:
        """A function the sandbox does not run: answer as configured (default: echo)."""
        cue = (fn.environment_vars or {}).get(RESPONSE_ENV) or (fn.tags or {}).get(RESPONSE_TAG)
        cue = (cue or "ok").strip()
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
        return env

    def _run_code(self, fn: Any, payload: bytes, request_id: str) -> InvokeResult:
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
            "top_package": str(fn.handler).split(".", 1)[0],
            "payload": payload.decode("utf-8", "replace"),
            "context": {
                "function_name": name, "function_version": version,
                "invoked_function_arn": str(fn.function_arn),
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
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOTSTRAP], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(code_dir),
                env=self._environment(fn, code_dir))
            with self._procs_lock:
                self._procs.add(proc)
            try:
                out, err = proc.communicate(json.dumps(request).encode(),
                                            timeout=timeout + _STARTUP_ALLOWANCE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                out = json.dumps({"ok": False, "errorType": "Sandbox.Timedout",
                                  "errorMessage": f"Task timed out after {timeout:.2f} "
                                  "seconds"}).encode()
            finally:
                with self._procs_lock:
                    self._procs.discard(proc)
        for line in err.decode("utf-8", "replace").splitlines():
            self.log.write("LOG", line, name)
        elapsed_ms = (time.monotonic() - started) * 1000
        outcome = _last_json_line(out)
        if outcome is None:
            outcome = {"ok": False, "errorType": "Runtime.ExitError",
                       "errorMessage": f"the function's interpreter exited "
                       f"(code {proc.returncode}) without a result"}
        status = "ok" if outcome.get("ok") else f"error {outcome.get('errorType')}"
        self.log.write("END", f"RequestId: {request_id} Duration: {elapsed_ms:.0f} ms {status}",
                       name)
        if outcome.get("ok"):
            return InvokeResult(200, str(outcome.get("payload", "null")).encode(),
                                executed_version=version)
        return InvokeResult(200, _error_payload(
            str(outcome.get("errorType")), str(outcome.get("errorMessage")), request_id,
            outcome.get("stackTrace")), function_error="Unhandled", executed_version=version)


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
