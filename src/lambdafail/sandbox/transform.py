"""What a rule's target receives: Input, InputPath or InputTransformer applied to an event.

Fills a moto gap: moto 5.2.1 ignores a target's static `Input` (it sends the whole event) and
applies no transformer. Rule: pure and stdlib-only; follows the EventBridge documentation
("Transforming target input"), including the reserved variables `<aws.events.event>` (the
event without `detail`), `<aws.events.event.json>` (the whole event), `<aws.events.rule-name>`,
`<aws.events.rule-arn>` and `<aws.events.event.ingestion-time>`.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MISSING = object()
_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def json_path(doc: Any, path: str) -> Any:
    """Resolve a simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$['a-b']`); `_MISSING` if absent."""
    path = path.strip()
    if not path.startswith("$"):
        return _MISSING
    rest, cur, pos = path[1:], doc, 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if not m:
            return _MISSING
        key, index, quoted = m.groups()
        if index is not None:
            if not isinstance(cur, list) or int(index) >= len(cur):
                return _MISSING
            cur = cur[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(cur, dict) or name not in cur:
                return _MISSING
            cur = cur[name]
        pos = m.end()
    return cur


def _variables(event: dict[str, Any], paths: dict[str, str], rule_name: str,
               rule_arn: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, path in paths.items():
        values[name] = json_path(event, path)
    values["aws.events.rule-name"] = rule_name
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.event.ingestion-time"] = event.get("time", "")
    values["aws.events.event"] = {k: v for k, v in event.items() if k != "detail"}
    values["aws.events.event.json"] = event
    return values


def _in_string(text: str) -> list[bool]:
    """For each index of `text`: is it inside a JSON string literal?"""
    inside, escaped, flags = False, False, []
    for ch in text:
        flags.append(inside)
        if inside:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                inside = False
        elif ch == '"':
            inside = True
    return flags


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill `<name>` placeholders the way EventBridge does.

    Inside a JSON string a value is inserted as string content (escaped, no quotes); outside,
    as a JSON value (strings quoted, a missing path as null). A template that is not JSON at
    all (no leading `{`, `[` or `"`) is plain text and gets raw values.
    """
    stripped = template.lstrip()
    plain_text = stripped[:1] not in ("{", "[", '"')
    flags = _in_string(template)

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            return m.group(0)  # not a variable: AWS leaves unknown <words> alone
        value = values[name]
        if plain_text or flags[m.start()]:
            if value is _MISSING or value is None:
                return ""
            text = value if isinstance(value, str) else json.dumps(value)
            return text if plain_text else json.dumps(text)[1:-1]
        return "null" if value is _MISSING else json.dumps(value)

    return _PLACEHOLDER.sub(replace, template)


def target_input(target: dict[str, Any], event: dict[str, Any], rule_name: str,
                 rule_arn: str) -> str:
    """The exact text EventBridge sends to `target` for `event` (a PutTargets target dict)."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        value = json_path(event, str(target["InputPath"]))
        return "null" if value is _MISSING else json.dumps(value)
    transformer = target.get("InputTransformer")
    if transformer:
        paths = dict(transformer.get("InputPathsMap") or {})
        values = _variables(event, paths, rule_name, rule_arn)
        return render_template(str(transformer.get("InputTemplate", "")), values)
    return json.dumps(event, separators=(",", ":"))  # AWS sends compact JSON
