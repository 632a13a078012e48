"""Mutation testing: change one thing in a module, run its fast tests, see whether they notice.

Usage:
    .venv/bin/python bench/mutation.py [MODULE ...] [--sample N] [--seed S] [--lines A-B]
                                       [--only N,M] [--timeout SECONDS] [--jobs J]
                                       [--json PATH] [--list]

MODULE is a key of MODULES (loader, planner, schedule, patterns, decisions, transitions; default: all).
Each mutant is one AST change — a comparison operator (`<` ↔ `<=`, `==` ↔ `!=`, `in` ↔
`not in`, `is` ↔ `is not`), a boolean operator (`and` ↔ `or`), an integer constant ± 1, `True`
↔ `False`, a `not` removed, a returned value replaced by `None` — written into a copy of
`src/` that goes first on PYTHONPATH, then the module's test files run with
`pytest -x -q -p no:cacheprovider` under a per-mutant timeout. The worktree is copied once at
the start (src, tests, configs) and never modified: editing it during a run changes nothing. A mutant is
killed when the tests fail (or time out: a mutant that hangs is noticed too), survived when
they pass. `--sample` picks N mutants per module at random (reproducible with `--seed`), and
`--lines` keeps only mutants on those lines: on two shared cores the whole set takes hours.

Not part of the test suite: it runs the suite, hundreds of times.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

#: module key -> (path under src/, the fast test files that exercise it, fastest killers first)
MODULES: dict[str, tuple[str, list[str]]] = {
    "loader": ("lambdafail/model/loader.py",
               ["tests/test_guards.py", "tests/test_validate_rules.py",
                "tests/test_loader_mutants.py", "tests/test_validate_fuzz.py",
                "tests/test_placement.py"]),
    "planner": ("lambdafail/deploy/planner.py",
                ["tests/test_guards.py", "tests/test_deploy_pure.py", "tests/test_schedule.py",
                 "tests/test_planner_mutants.py", "tests/test_control_regions.py",
                 "tests/test_recovery_pure.py",
                 "tests/test_recovery_kinds_pure.py", "tests/test_cost.py",
                 "tests/test_placement.py", "tests/test_capacity.py",
                 "tests/test_edit_safety.py", "tests/test_deploy_roundtrip.py"]),
    "schedule": ("lambdafail/model/schedule.py",
                 ["tests/test_schedule.py", "tests/test_guards.py",
                  "tests/test_validate_rules.py"]),
    "patterns": ("lambdafail/runtime/patterns.py",
                 ["tests/test_guards.py", "tests/test_patterns_conformance.py"]),
    "decisions": ("lambdafail/runtime/decisions.py",
                  ["tests/test_transitions_pure.py", "tests/test_recovery_pure.py",
                   "tests/test_runtime_hypothesis.py",
                   "tests/test_runtime_handler.py"]),
    "transitions": ("lambdafail/runtime/transitions.py",
                    ["tests/test_transitions_pure.py", "tests/test_runtime_transitions.py",
                     "tests/test_runtime_routers.py",
                     "tests/test_runtime_handler.py"]),
}

_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
         ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot,
         ast.IsNot: ast.Is}
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


@dataclass(frozen=True)
class Site:
    index: int
    line: int
    col: int
    what: str


class _Mutator(ast.NodeTransformer):
    """Walks the tree in a fixed order; numbers every possible change; applies number
    `target` (or none, when collecting)."""

    def __init__(self, target: int = -1) -> None:
        self.target = target
        self.sites: list[Site] = []

    def _site(self, node: ast.AST, what: str) -> bool:
        index = len(self.sites)
        self.sites.append(Site(index, getattr(node, "lineno", 0), getattr(node, "col_offset", 0),
                               what))
        return index == self.target

    # Docstrings, annotations and `if TYPE_CHECKING:` blocks are not behaviour.
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = node.returns  # annotation: untouched
        node.body = [self.visit(n) for n in node.body]
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.args = self.visit(node.args)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return node
        return self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node  # a docstring
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swap = _SWAP.get(type(op))
            if swap is not None and self._site(
                    node, f"{_SYMBOL[type(op)]} -> {_SYMBOL[swap]}"):
                node.ops[i] = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        is_and = isinstance(node.op, ast.And)
        if self._site(node, "and -> or" if is_and else "or -> and"):
            node.op = ast.Or() if is_and else ast.And()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, "not removed"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._site(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int):
            for delta in (1, -1):
                if self._site(node, f"{value} -> {value + delta}"):
                    return ast.copy_location(ast.Constant(value + delta), node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        returns_none = node.value is None or (isinstance(node.value, ast.Constant)
                                              and node.value.value is None)
        if not returns_none and self._site(node, "return value -> None"):
            node.value = None
        return node


def sites(source: str) -> list[Site]:
    m = _Mutator()
    m.visit(ast.parse(source))
    return m.sites


def mutant_source(source: str, index: int) -> str:
    tree = ast.parse(source)
    m = _Mutator(index)
    new = m.visit(copy.deepcopy(tree))
    ast.fix_missing_locations(new)
    return ast.unparse(new)


@dataclass
class Result:
    module: str
    index: int
    line: int
    what: str
    code: str
    status: str  # killed | timeout | survived | error
    seconds: float


_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def _kill_all() -> None:
    with _RUNNING_LOCK:
        for proc in _RUNNING:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # pytest and anything it started


def _run_tests(snapshot: Path, src_copy: Path, tests: list[str],
               timeout: float) -> tuple[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src_copy), PYTHONDONTWRITEBYTECODE="1")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                             *tests], cwd=snapshot, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout", time.monotonic() - start
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    took = time.monotonic() - start
    if code == 0:
        return "survived", took
    if code in (1, 2, 3):  # tests failed, interrupted (e.g. import error), internal error
        return "killed", took
    return "error", took


_SKIP = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".mypy_cache", ".ruff_cache",
                               ".pytest_cache", "*.egg-info")


def _snapshot() -> Path:
    """The worktree as it is now (what the run measures), outside the worktree."""
    tmp = Path(tempfile.mkdtemp(prefix="lambdafail-mutation-"))
    shutil.copytree(ROOT, tmp / "repo", ignore=_SKIP)  # test data included (tests/data)
    return tmp / "repo"


def _copy_src(snapshot: Path) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="lambdafail-mutant-"))
    shutil.copytree(snapshot / "src" / "lambdafail", tmp / "lambdafail", ignore=_SKIP)
    return tmp


def _parse_lines(text: str | None) -> set[int] | None:
    if not text:
        return None
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def run_module(snapshot: Path, key: str, *, sample: int | None, seed: int,
               lines: set[int] | None, timeout: float | None, jobs: int,
               only: set[int] | None = None,
               tests_override: list[str] | None = None) -> Iterator[Result]:
    rel, tests = MODULES[key]
    tests = tests_override or tests
    source = (snapshot / "src" / rel).read_text(encoding="utf-8")
    original = source.splitlines()
    chosen = [s for s in sites(source) if (lines is None or s.line in lines)
              and (only is None or s.index in only)]
    if sample is not None and sample < len(chosen):
        chosen = sorted(random.Random(f"{seed}:{key}").sample(chosen, sample),
                        key=lambda s: s.index)
    base_copy = _copy_src(snapshot)
    status, took = _run_tests(snapshot, base_copy, tests, timeout=600)
    shutil.rmtree(base_copy, ignore_errors=True)
    if status != "survived":
        raise SystemExit(f"{key}: the unmutated tests do not pass ({status}); fix that first")
    limit = timeout or max(60.0, 3 * took)
    print(f"{key}: {len(chosen)} mutants, tests {took:.1f} s unmutated, timeout {limit:.0f} s",
          file=sys.stderr, flush=True)

    def one(site: Site) -> Result:
        work = _copy_src(snapshot)
        try:
            (work / rel).write_text(mutant_source(source, site.index), encoding="utf-8")
            status, took = _run_tests(snapshot, work, tests, limit)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        code = original[site.line - 1].strip() if 0 < site.line <= len(original) else ""
        return Result(key, site.index, site.line, site.what, code, status, round(took, 1))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(one, chosen)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    ap.add_argument("--sample", type=int, help="mutants per module, chosen at random")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--lines", help="only mutants on these lines, e.g. 120-180,200 (one module)")
    ap.add_argument("--only", help="only these mutant numbers (#N in the output), e.g. 7,14")
    ap.add_argument("--timeout", type=float, help="seconds per mutant (default 3 x the tests)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    ap.add_argument("--tests", help="comma-separated test files instead of the module's list "
                    "(a quick first pass: re-run its survivors with --only and the full list)")
    ap.add_argument("--json", type=Path, help="write every result here")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    args = ap.parse_args(argv)
    keys = args.modules or list(MODULES)
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    lines = _parse_lines(args.lines)
    only = {int(n) for n in args.only.split(",")} if args.only else None
    if (lines is not None or only is not None) and len(keys) != 1:
        ap.error("--lines and --only need exactly one module")
    if args.list:
        for key in keys:
            source = (SRC / MODULES[key][0]).read_text(encoding="utf-8")
            for s in sites(source):
                if lines is None or s.line in lines:
                    print(f"{key}:{s.line}:{s.col} #{s.index} {s.what}")
        return 0
    results: list[Result] = []
    def stop(*_: object) -> None:
        _kill_all()  # first: the worker threads wait on these
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    snapshot = _snapshot()
    try:
        for key in keys:
            for r in run_module(snapshot, key, sample=args.sample, seed=args.seed, lines=lines,
                                timeout=args.timeout, jobs=args.jobs, only=only,
                                tests_override=args.tests.split(",") if args.tests else None):
                results.append(r)
                print(f"  {r.status:8} {key}:{r.line} #{r.index} {r.what}  ({r.seconds} s)",
                      file=sys.stderr, flush=True)
                if args.json:  # as it goes: an interrupted run keeps what it measured
                    args.json.write_text(json.dumps([asdict(x) for x in results], indent=1))
    finally:
        _kill_all()
        shutil.rmtree(snapshot.parent, ignore_errors=True)
    print("\n| module | mutants | killed | timeout | survived | error | kill rate |")
    print("|---|---|---|---|---|---|---|")
    for key in keys:
        mine = [r for r in results if r.module == key]
        n = {s: sum(r.status == s for r in mine) for s in ("killed", "timeout", "survived",
                                                           "error")}
        rate = (n["killed"] + n["timeout"]) / len(mine) if mine else 0.0
        print(f"| {key} | {len(mine)} | {n['killed']} | {n['timeout']} | {n['survived']} | "
              f"{n['error']} | {rate:.0%} |")
    survivors = [r for r in results if r.status in ("survived", "error")]
    if survivors:
        print("\nSurvivors:")
        for r in survivors:
            print(f"- {MODULES[r.module][0]}:{r.line} #{r.index} `{r.what}` in `{r.code}`"
                  + (" (error)" if r.status == "error" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
