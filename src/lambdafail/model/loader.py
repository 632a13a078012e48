"""Load a topology file: YAML → located tree → pydantic model, or every problem at once.

Rules: never a traceback, whatever the bytes (size cap, UTF-8 only, no aliases beyond a small
budget, depth cap, duplicate keys are errors); every problem carries file:line:col, the YAML
path and a hint.
"""

from __future__ import annotations

import difflib
import functools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import Problem, TopologyError

if TYPE_CHECKING:
    from lambdafail.model.topology import Topology

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 100_000


@dataclass
class Located:
    """The plain data, where each YAML path starts (1-based line, column), and the problems
    found while reading it that do not stop validation (duplicate keys, odd keys, tags)."""

    data: Any
    marks: dict[tuple[str | int, ...], tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class _Reject(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


# Tags a plain YAML document produces; anything else (!!python/..., !Ref, !!set) is refused.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)


class _Builder:
    """Turns a composed node tree into plain data, recording marks and non-fatal problems.

    Aliases are expanded against a node budget (a "billion laughs" document is a few lines
    that expand to billions of nodes), and duplicate keys are reported, keeping the first."""

    def __init__(self, file: str) -> None:
        import yaml

        self.file = file
        self.marks: dict[tuple[str | int, ...], tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.budget = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def problem(self, message: str, node: Any, path: tuple[str | int, ...], hint: str = ""
                ) -> Problem:
        return Problem(message, path=_dotted(path), file=self.file,
                       line=node.start_mark.line + 1, column=node.start_mark.column + 1,
                       hint=hint)

    def build(self, node: Any, path: tuple[str | int, ...]) -> Any:
        import yaml

        self.budget += 1
        if self.budget > MAX_NODES:
            raise _Reject(self.problem(
                f"document expands to more than {MAX_NODES} values (an alias bomb?)", node, path,
                "topology files do not need YAML anchors and aliases"))
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _PLAIN_TAGS:
            self.problems.append(self.problem(f"YAML tag {node.tag!r} is not supported", node,
                                              path, "remove the tag; plain values only"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*path, i)) for i, v in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: Any, path: tuple[str | int, ...]) -> Any:
        import yaml

        if node.tag not in _PLAIN_TAGS:
            return node.value
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            self.problems.append(self.problem(f"cannot read value {node.value!r}: {e}",
                                              node, path))
            return node.value

    def _mapping(self, node: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
        import yaml

        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                self.problems.append(self.problem("YAML merge keys (<<) are not supported",
                                                  knode, path, "write the keys out"))
                continue
            if not isinstance(knode, yaml.ScalarNode):
                self.problems.append(self.problem("mapping keys must be plain scalars", knode,
                                                  path, "use a plain word as the key"))
                continue
            if knode.tag not in _PLAIN_TAGS:
                self.problems.append(self.problem(f"YAML tag {knode.tag!r} is not supported",
                                                  knode, path, "remove the tag"))
            key = self._scalar(knode, path)
            if not isinstance(key, str):
                # YAML 1.1 reads on/off/yes/no as booleans and 1 as an int.
                self.problems.append(self.problem(
                    f"key {knode.value!r} is read as a {type(key).__name__}, not a string",
                    knode, (*path, knode.value), f'quote it: "{knode.value}"'))
                key = str(knode.value)
            kpath = (*path, key)
            if key in seen:
                what = (f"duplicate service {key!r}" if path == ("services",)
                        else f"duplicate key {key!r}")
                self.problems.append(self.problem(
                    f"{what} (first defined on line {seen[key]})", knode, kpath,
                    "YAML would silently keep only the last one; remove or rename one"))
                continue
            seen[key] = knode.start_mark.line + 1
            self.marks[kpath] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
            out[key] = self.build(vnode, kpath)
        return out


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def _line(event: Any) -> int:
    return int(event.start_mark.line) + 1 if event.start_mark else 0


def _column(event: Any) -> int:
    return int(event.start_mark.column) + 1 if event.start_mark else 0


def _scan(text: str, file: str) -> None:
    """Stream the YAML events once, before building anything: refuses deep nesting and
    several documents without recursion (PyYAML's composer recurses per level)."""
    import yaml

    depth = 0
    documents = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _Reject(Problem("the file holds several YAML documents; use one",
                                      file=file, line=_line(event), column=_column(event),
                                      hint="remove the extra `---` section"))
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Reject(Problem(f"document nested deeper than {MAX_DEPTH} levels",
                                      file=file, line=_line(event), column=_column(event),
                                      hint="a topology is at most a few levels deep"))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse(text: str, file: str = "<input>") -> Located:
    """YAML text → Located, or TopologyError when the text cannot be read at all. Safe on any
    input; problems that still leave a readable document are returned in `Located.problems`."""
    import yaml

    def fail(problem: Problem) -> TopologyError:
        return TopologyError([problem], file)

    try:
        _scan(text, file)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            raise fail(Problem("the file is empty", file=file,
                               hint="`lambdafail init` writes a starter file"))
        builder = _Builder(file)
        data = builder.build(node, ())
    except _Reject as r:
        raise fail(r.problem) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise fail(Problem(f"not valid YAML: {e.problem or e.context}", file=file,
                           line=(mark.line + 1) if mark else 0,
                           column=(mark.column + 1) if mark else 0)) from None
    except yaml.YAMLError as e:
        raise fail(Problem(f"not valid YAML: {e}", file=file)) from None
    except (RecursionError, ValueError, TypeError, OverflowError) as e:
        raise fail(Problem(f"cannot read YAML: {type(e).__name__}: {e}", file=file)) from None
    if data is None:
        raise fail(Problem("the file is empty", file=file,
                           hint="`lambdafail init` writes a starter file"))
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise fail(Problem(f"the top level must be a mapping, not {kind}", file=file,
                           line=node.start_mark.line + 1, column=node.start_mark.column + 1,
                           hint="start with `version: 1`, `name: ...` and `services:`"))
    return Located(data, builder.marks, builder.problems)


def read_text(path: str) -> str:
    """The file's text, refusing what is not a small UTF-8 text file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            # Read one byte past the cap instead of trusting stat(): /dev/zero, pipes and
            # growing files have no honest size.
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise TopologyError([Problem("no such file", file=path,
                                     hint="pass -f FILE, or create one with `lambdafail init`")],
                            path) from None
    except IsADirectoryError:
        raise TopologyError([Problem("is a directory, not a file", file=path)], path) from None
    except OSError as e:
        raise TopologyError([Problem(f"cannot read: {e.strerror or e}", file=path)],
                            path) from None
    if len(raw) > MAX_BYTES:
        raise TopologyError([Problem(f"file is larger than the {MAX_BYTES}-byte limit",
                                     file=path, hint="a topology file is a few kilobytes")],
                            path)
    if b"\x00" in raw:
        raise TopologyError([Problem("binary data (NUL bytes), not a YAML text file",
                                     file=path)], path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise TopologyError([Problem(f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset "
                                     f"{e.start})", file=path, line=line, column=column,
                                     hint="save the file as UTF-8")], path) from None


def _hint_for_unknown(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"allowed keys: {', '.join(sorted(allowed))}" if allowed else ""


def _models_in(annotation: Any) -> list[type[Any]]:
    """The pydantic models a field's annotation holds, in declaration order: through
    Annotated, unions (a kind registry's order), Optional, lists and dict values."""
    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (typing.Union, types.UnionType, list):
        return [m for a in args for m in _models_in(a)]
    if origin is dict:
        return _models_in(args[1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _is_mapping(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return typing.get_origin(annotation) is dict


def _allowed_keys(model_path: tuple[str | int, ...]) -> list[str]:
    """Field names allowed at a YAML path (for 'did you mean' hints), read from the models
    themselves: a new kind's keys are known here without being listed."""
    from lambdafail.model import topology as t

    models: list[type[Any]] = [t.Topology]
    p = [x for x in model_path if not isinstance(x, int)]
    i = 0
    while i < len(p):
        found = [f for m in models for n, f in m.model_fields.items() if p[i] in (n, f.alias)]
        if not found:
            return []
        models = [m for f in found for m in _models_in(f.annotation)]
        if any(_is_mapping(f.annotation) for f in found):
            i += 1  # the next segment is the mapping's key (a service name)
            if i >= len(p):
                return []
        i += 1
    return [f.alias or n for m in models for n, f in m.model_fields.items()]


@functools.cache
def _union_tags() -> frozenset[str]:
    """The names pydantic puts in an error's loc for union members: every model a field of a
    service can hold when it can hold more than one."""
    from lambdafail.model import topology as t

    out: set[str] = set()
    for f in [*t.Service.model_fields.values(), *t.Recovery.model_fields.values()]:
        members = _models_in(f.annotation)
        if len(members) > 1:
            out.update(m.__name__ for m in members)
    return frozenset(out)


def _problems_from(err: Any, located: Located, file: str) -> list[Problem]:
    """pydantic ValidationError → located problems, collapsing union noise."""
    by_path: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for e in err.errors(include_url=False):
        # Union members, validator functions and dict keys tag themselves into loc.
        loc = _clean_loc(tuple(e["loc"]))
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


_KIND_HINTS = {
    "target_kind": "e.g. {url: https://app.example.com/healthz} or {lambda: my-function}",
    "signal_kind": "e.g. {alarm: checkout-5xx} or {event: {source: [shop.checkout]}}",
    "router_kind": "e.g. {ssm_parameter: /shop/checkout/active}",
    "step_kind": "e.g. {lambda: {function: start-standby}}, {ecs: {cluster: shop, service: "
                 "checkout-dr, desired: 2}} or {wait: {healthy: 2}}",
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"), "greater_than": ("greater than", "gt"),
    "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt"),
}


def _message(e: dict[str, Any], loc: tuple[Any, ...]) -> tuple[str, str]:
    typ = e["type"]
    ctx = e.get("ctx") or {}
    if typ == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        return f"unknown key `{key}`", _hint_for_unknown(key, _allowed_keys(loc[:-1]))
    if typ == "missing":
        return (f"missing required key `{loc[-1]}`" if loc else "missing value"), ""
    if typ in _KIND_HINTS:
        return str(e.get("msg")), _KIND_HINTS[typ]
    if typ in _BOUNDS:
        word, key = _BOUNDS[typ]
        return f"must be {word} {ctx.get(key)}, not {e.get('input')!r}", ""
    error = ctx.get("error")
    if typ == "value_error" and error is not None:
        # ScheduleError and friends carry their own hint.
        return str(error), str(getattr(error, "hint", "") or "")
    msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
    if typ == "string_pattern_mismatch" and len(loc) == 2 and loc[0] == "services":
        return (f"service name {loc[1]!r} is not valid",
                "lowercase letters, digits, - and _; 1-40 characters, starting and ending "
                "with a letter or digit")
    if typ == "string_pattern_mismatch" and loc == ("name",):
        return ("topology name is not valid",
                "lowercase letters, digits and -, 1-32 characters (it prefixes every "
                "AWS name lambdafail creates)")
    if typ == "string_pattern_mismatch" and loc and loc[-1] == "zone_id":
        return "not a Route 53 hosted zone id", "e.g. Z0123456789ABCDEFGHIJ"
    return msg, ""


def _locate(located: Located, loc: tuple[Any, ...]) -> tuple[int, int]:
    path = tuple(loc)
    while path:
        if path in located.marks:
            return located.marks[path]
        path = path[:-1]
    return located.marks.get((), (1, 1))


def _without(data: Any, paths: list[tuple[Any, ...]]) -> Any:
    """A deep copy of `data` with the values at `paths` removed (so defaults apply)."""
    import copy

    out = copy.deepcopy(data)
    # Longest paths and highest list indexes first, so earlier removals don't shift later ones.
    for path in sorted({p for p in paths if p}, key=lambda p: (len(p), str(p)), reverse=True):
        node = out
        for step in path[:-1]:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        last = path[-1]
        if isinstance(node, dict):
            node.pop(last, None)
        elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
            node[last] = None  # placeholder, removed below to keep indexes stable meanwhile
    return _drop_placeholders(out)


def _drop_placeholders(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_placeholders(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_drop_placeholders(v) for v in node if v is not None]
    return node


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(x for x in loc if not (isinstance(x, str) and (
        x.split("[")[0] in _union_tags() or x.startswith("function-") or x == "[key]")))


def _semantic(topo: Any, located: Located, file: str) -> list[Problem]:
    from lambdafail.model.checks import semantic_problems

    out = []
    for sp in semantic_problems(topo):
        line, col = _locate(located, sp.path)
        out.append(Problem(sp.message, path=_dotted(sp.path), file=file, line=line, column=col,
                           hint=sp.hint))
    return out


def _repair(data: Any, err: Any, context: dict[str, Any]) -> Topology | None:
    """The topology without its invalid values, if removing them (a few rounds at most) leaves
    a valid document; None otherwise (e.g. a required key is missing)."""
    from pydantic import ValidationError

    from lambdafail.model.topology import Topology

    failed: list[tuple[Any, ...]] = []
    for _ in range(3):
        errors = err.errors(include_url=False)
        if any(e["type"] == "missing" for e in errors):
            return None
        failed += [_clean_loc(tuple(e["loc"])) for e in errors]
        try:
            return Topology.model_validate(_without(data, failed), context=context)
        except ValidationError as again:
            err = again
        except (RecursionError, TypeError, ValueError):
            return None
    return None


def load_text(text: str, file: str = "<input>") -> Topology:
    """YAML text → Topology, or TopologyError listing every problem."""
    from pydantic import ValidationError

    from lambdafail.model.topology import Topology

    located = parse(text, file)
    problems = list(located.problems)
    context = {"defer_checks": True}
    try:
        topo = Topology.model_validate(located.data, context=context)
    except ValidationError as err:
        problems += _problems_from(err, located, file)
        # Checks across fields still run on the rest of the document: drop the values that
        # failed and validate again; if that passes, report the cross-field problems too.
        repaired = _repair(located.data, err, context)
        if repaired is not None:
            reported = {p.path for p in problems}
            problems += [p for p in _semantic(repaired, located, file)
                         if p.path not in reported]
    except (RecursionError, TypeError, OverflowError) as e:
        problems.append(Problem(f"cannot interpret the document: {e}", file=file))
    else:
        problems += _semantic(topo, located, file)
        if not problems:
            return topo
    problems.sort(key=lambda p: (p.line, p.column, p.path))
    raise TopologyError(problems, file)


def load(path: str) -> Topology:
    """Read and validate a topology file."""
    return load_text(read_text(path), path)
