"""Load a topology file: YAML → located tree → pydantic model, or every problem at once.

Rules: never a traceback, whatever the bytes (size cap, UTF-8 only, no aliases beyond a small
budget, depth cap, duplicate keys are errors); every problem carries file:line:col, the YAML
path and a hint.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdafail.errors import Problem, TopologyError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 100_000


@dataclass
class Located:
    """The plain data plus where each YAML path starts (1-based line, column)."""

    data: Any
    marks: dict[tuple[str | int, ...], tuple[int, int]] = field(default_factory=dict)


class _Reject(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


def _construct(node: Any, path: tuple[str | int, ...], marks: dict[Any, tuple[int, int]],
               problems: list[Problem], file: str, budget: list[int]) -> Any:
    import yaml

    budget[0] += 1
    if budget[0] > MAX_NODES:
        raise _Reject(Problem("document too large after alias expansion (possible alias bomb)",
                              file=file, line=node.start_mark.line + 1,
                              hint="topology files do not need YAML aliases"))
    if len(path) > MAX_DEPTH:
        raise _Reject(Problem(f"document nested deeper than {MAX_DEPTH} levels", file=file,
                              line=node.start_mark.line + 1, path=_dotted(path)))
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                problems.append(Problem("mapping keys must be plain scalars", file=file,
                                        line=knode.start_mark.line + 1,
                                        column=knode.start_mark.column + 1, path=_dotted(path)))
                continue
            if knode.tag == "tag:yaml.org,2002:merge":
                problems.append(Problem("YAML merge keys (<<) are not supported", file=file,
                                        line=knode.start_mark.line + 1,
                                        column=knode.start_mark.column + 1, path=_dotted(path),
                                        hint="write the keys out"))
                continue
            key = _scalar(knode)
            if isinstance(key, str | int | float | bool) is False and key is not None:
                key = str(key)
            if key in seen:
                problems.append(Problem(
                    f"duplicate key {key!r} (first defined on line {seen[key]})", file=file,
                    line=knode.start_mark.line + 1, column=knode.start_mark.column + 1,
                    path=_dotted((*path, str(key))),
                    hint="YAML would silently keep only the last one; remove or rename one"))
                continue
            seen[key] = knode.start_mark.line + 1
            kpath = (*path, key if isinstance(key, str) else str(key))
            marks[kpath] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
            out[key] = _construct(vnode, kpath, marks, problems, file, budget)
            marks[kpath] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, (*path, i), marks, problems, file, budget)
                for i, v in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: Any) -> Any:
    import yaml

    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def parse(text: str, file: str = "<input>") -> Located:
    """YAML text → Located, or TopologyError. Safe on any input."""
    import yaml

    problems: list[Problem] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise TopologyError([Problem(f"not valid YAML: {e.problem or e.context}", file=file,
                                     line=(mark.line + 1) if mark else 0,
                                     column=(mark.column + 1) if mark else 0)], file) from None
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        raise TopologyError([Problem(f"not valid YAML: {e}", file=file)], file) from None
    if len(nodes) > 1:
        raise TopologyError([Problem("the file holds several YAML documents; use one",
                                     file=file, line=nodes[1].start_mark.line + 1)], file)
    if not nodes or nodes[0] is None:
        raise TopologyError([Problem("the file is empty", file=file,
                                     hint="`lambdafail init` writes a starter file")], file)
    marks: dict[tuple[str | int, ...], tuple[int, int]] = {}
    try:
        data = _construct(nodes[0], (), marks, problems, file, [0])
    except _Reject as r:
        raise TopologyError([r.problem], file) from None
    except (RecursionError, yaml.YAMLError, ValueError, TypeError) as e:
        raise TopologyError([Problem(f"cannot read YAML: {e}", file=file)], file) from None
    if problems:
        raise TopologyError(problems, file)
    if not isinstance(data, dict):
        raise TopologyError([Problem(f"the top level must be a mapping, not "
                                     f"{type(data).__name__}", file=file, line=1,
                                     hint="start with `version: 1` and `name: ...`")], file)
    return Located(data, marks)


def read_text(path: str) -> str:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise TopologyError([Problem(f"file is {size} bytes; the limit is {MAX_BYTES}",
                                         file=path)], path)
        raw = p.read_bytes()
    except FileNotFoundError:
        raise TopologyError([Problem("no such file", file=path,
                                     hint="pass -f FILE, or create one with `lambdafail init`")],
                            path) from None
    except IsADirectoryError:
        raise TopologyError([Problem("is a directory, not a file", file=path)], path) from None
    except OSError as e:
        raise TopologyError([Problem(f"cannot read: {e.strerror}", file=path)], path) from None
    if b"\x00" in raw:
        raise TopologyError([Problem("binary data (NUL bytes), not a YAML text file",
                                     file=path)], path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TopologyError([Problem(f"not UTF-8 text (byte {e.start})", file=path)],
                            path) from None


def _hint_for_unknown(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"allowed keys: {', '.join(sorted(allowed))}" if allowed else ""


def _allowed_keys(model_path: tuple[str | int, ...]) -> list[str]:
    """Field names allowed at a YAML path (best effort, for 'did you mean' hints)."""
    from lambdafail import topology as t

    def fields(model: type[Any]) -> list[str]:
        return [f.alias or n for n, f in model.model_fields.items()]

    p = [x for x in model_path if not isinstance(x, int)]
    if not p:
        return fields(t.Topology)
    if p[0] == "defaults":
        if len(p) == 1:
            return fields(t.Defaults)
        return fields(t.Health if p[1] == "health" else t.Policy)
    if p[0] == "notify":
        return fields(t.Notify)
    if p[0] == "services" and len(p) >= 2:
        rest = p[2:]
        if not rest:
            return fields(t.Service)
        head = rest[0]
        if head in ("primary", "standby"):
            return fields(t.UrlTarget) + fields(t.LambdaTarget)
        if head == "health":
            return fields(t.HealthOverride)
        if head == "policy":
            return fields(t.PolicyOverride)
        if head == "signals":
            return fields(t.AlarmSignal) + fields(t.EventSignal)
        if head == "router":
            if len(rest) >= 2 and rest[1] == "route53":
                return fields(t.Route53Spec)
            if len(rest) >= 2 and rest[1] == "rules":
                return fields(t.RulesSpec)
            return (fields(t.SsmRouter) + fields(t.Route53Router) + fields(t.RulesRouter)
                    + fields(t.HookRouter))
    return []


_UNION_TAGS = ("UrlTarget", "LambdaTarget", "AlarmSignal", "EventSignal", "SsmRouter",
               "Route53Router", "RulesRouter", "HookRouter")


def _problems_from(err: Any, located: Located, file: str) -> list[Problem]:
    """pydantic ValidationError → located problems, collapsing union noise."""
    by_path: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for e in err.errors(include_url=False):
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.split("[")[0]
                                                  in _UNION_TAGS))
        # function-after validators tag their own name in loc; drop those too
        loc = tuple(x for x in loc if not (isinstance(x, str) and x.startswith("function-")))
        by_path.setdefault(loc, []).append(e)
    out: list[Problem] = []
    for loc, errs in by_path.items():
        # For a union, prefer the branch whose problem is not "missing"/"extra" noise.
        kinds = {e["type"] for e in errs}
        chosen = errs
        if len(errs) > 1 and kinds - {"missing", "extra_forbidden"}:
            chosen = [e for e in errs if e["type"] not in ("missing", "extra_forbidden")]
        seen_msgs: set[str] = set()
        for e in chosen:
            msg, hint = _message(e, loc)
            if msg in seen_msgs:
                continue
            seen_msgs.add(msg)
            line, col = _locate(located, loc)
            out.append(Problem(msg, path=_dotted(loc), file=file, line=line, column=col,
                               hint=hint))
    # An unknown key next to a missing one in a union usually means a typo: keep both.
    out.sort(key=lambda p: (p.line, p.column, p.path))
    return out


def _message(e: dict[str, Any], loc: tuple[Any, ...]) -> tuple[str, str]:
    typ = e["type"]
    if typ == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        return f"unknown key `{key}`", _hint_for_unknown(key, _allowed_keys(loc[:-1]))
    if typ == "missing":
        return f"missing required key `{loc[-1]}`" if loc else "missing value", ""
    msg = str(e.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if typ == "string_pattern_mismatch" and loc and loc[0] == "services" and len(loc) == 2:
        return (f"service name {loc[1]!r} is not valid",
                "lowercase letters, digits, - and _, at most 40 characters")
    if typ == "string_pattern_mismatch" and loc == ("name",):
        return ("topology name is not valid",
                "lowercase letters, digits and -, 1-32 characters (it prefixes every "
                "AWS name lambdafail creates)")
    return msg, ""


def _locate(located: Located, loc: tuple[Any, ...]) -> tuple[int, int]:
    path = tuple(loc)
    while path:
        if path in located.marks:
            return located.marks[path]
        path = path[:-1]
    return located.marks.get((), (1, 1))


def load_text(text: str, file: str = "<input>") -> Any:
    """YAML text → Topology, or TopologyError listing every problem."""
    from pydantic import ValidationError

    from lambdafail.topology import Topology

    located = parse(text, file)
    try:
        return Topology.model_validate(located.data)
    except ValidationError as err:
        raise TopologyError(_problems_from(err, located, file), file) from None
    except (RecursionError, TypeError, OverflowError) as e:
        raise TopologyError([Problem(f"cannot interpret the document: {e}", file=file)],
                            file) from None


def load(path: str) -> Any:
    """Read and validate a topology file. Returns a `lambdafail.topology.Topology`."""
    return load_text(read_text(path), path)
