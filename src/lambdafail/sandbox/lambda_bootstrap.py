"""The sandbox's function bootstrap: runs one deployed handler in its own interpreter.

Started by `lambda_runner` as `python -I -S lambda_bootstrap.py` (isolated, no site-packages),
it reads one JSON request per line on stdin and writes one JSON outcome per line on stdout; the
handler's prints go to stderr (the function's log). Rule: stdlib only, and the function sees what
it would see on AWS Lambda — the deployed zip first, then the packages Lambda's runtime provides
(the AWS SDK), then the standard library — never the host's site-packages, so neither a second
copy of lambdafail (an editable or wheel install) nor anything else the host has installed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from typing import Any, TextIO

END_MARK = "\x00lambdafail-end\n"


class Context:
    """The subset of Lambda's context object that handlers use."""

    def __init__(self, c: dict[str, str], deadline: float) -> None:
        self.function_name = c["function_name"]
        self.function_version = c["function_version"]
        self.invoked_function_arn = c["invoked_function_arn"]
        self.memory_limit_in_mb = c["memory_limit_in_mb"]
        self.aws_request_id = c["aws_request_id"]
        self.log_group_name = c["log_group_name"]
        self.log_stream_name = c["log_stream_name"]
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _emit(out: TextIO, doc: dict[str, Any]) -> None:
    # The end-of-log marker goes first, so the parent holds every log line of this
    # invocation once it has the outcome.
    sys.stderr.write(END_MARK)
    sys.stderr.flush()
    out.write(json.dumps(doc) + "\n")
    out.flush()


def main() -> None:
    first = json.loads(sys.stdin.readline())
    code_dir = first["code_dir"]
    # Only the interpreter's own standard library survives from the initial path (-S dropped
    # site-packages); the zip goes first, as LAMBDA_TASK_ROOT does on AWS.
    stdlib = [p for p in sys.path if p and os.path.abspath(p) != os.path.abspath(code_dir)]
    sys.path[:] = [code_dir, *first.get("runtime_paths", []), *stdlib]
    os.chdir(code_dir)
    out = sys.stdout
    sys.stdout = sys.stderr

    module_name, _, func_name = first["handler"].rpartition(".")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except Exception as e:
        traceback.print_exc()
        _emit(out, {"ok": False, "errorType": "Runtime.ImportModuleError",
                    "errorMessage": f"Unable to import module '{module_name}': {e}"})
        return

    req: dict[str, Any] | None = first
    while req is not None:
        timeout = float(req["timeout"])

        def on_timeout(timeout: float = timeout) -> None:
            _emit(out, {"ok": False, "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {timeout:.2f} seconds"})
            os._exit(0)  # like Lambda, a timed-out environment is thrown away

        deadline = time.monotonic() + timeout
        timer = threading.Timer(timeout, on_timeout)
        timer.daemon = True
        timer.start()
        try:
            event = json.loads(req["payload"]) if req["payload"].strip() else {}
            result = func(event, Context(req["context"], deadline))
            text = json.dumps(result)
        except Exception as e:
            traceback.print_exc()
            timer.cancel()
            _emit(out, {"ok": False, "errorType": type(e).__name__, "errorMessage": str(e),
                        "stackTrace": traceback.format_tb(e.__traceback__)})
        else:
            timer.cancel()
            _emit(out, {"ok": True, "payload": text})
        line = sys.stdin.readline()
        req = json.loads(line) if line.strip() else None


if __name__ == "__main__":
    main()
