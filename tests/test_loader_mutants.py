"""The loader's edges, pinned exactly: each test fixes a value a one-token change would move.

Rule: a mutation run over `model/loader.py` (bench/mutation.py) left these behaviours untested —
the size and depth caps at their boundary, the line:col of each refusal, what a tagged or
unreadable scalar becomes, the hint for an unknown key. Every assertion is an exact value.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdafail.base.errors import Problem, TopologyError
from lambdafail.model import loader
from lambdafail.model.loader import load_text, parse, read_text

VALID = """\
version: 1
name: shop
region: us-east-1
services:
  checkout:
    primary: {url: "https://checkout.example.com/healthz"}
    standby: {url: "https://checkout-dr.example.com/healthz"}
    router: {ssm_parameter: /shop/checkout/active}
"""


def refused(text: str) -> Problem:
    with pytest.raises(TopologyError) as info:
        parse(text, "t.yaml")
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def problems(text: str) -> list[Problem]:
    with pytest.raises(TopologyError) as info:
        load_text(text, "t.yaml")
    return list(info.value.problems)


def nested(levels: int, key: str = "a") -> str:
    """A mapping holding `levels - 1` nested flow sequences: `levels` levels in all."""
    return f"{key}: " + "[" * (levels - 1) + "1" + "]" * (levels - 1) + "\n"


# --- size ---------------------------------------------------------------------------------

def test_the_size_cap_is_one_million_bytes_inclusive(tmp_path: Path) -> None:
    assert loader.MAX_BYTES == 1_000_000
    body = "# pad\n"
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"a: 1\n" + b"#" * (1_000_000 - 6) + b"\n")
    assert exact.stat().st_size == 1_000_000
    assert read_text(str(exact)).startswith("a: 1\n")
    over = tmp_path / "over.yaml"
    over.write_bytes(exact.read_bytes() + body.encode()[:1])
    assert over.stat().st_size == 1_000_001
    with pytest.raises(TopologyError) as info:
        read_text(str(over))
    assert info.value.problems[0].message == "file is larger than the 1000000-byte limit"


def test_an_unreadable_path_says_why(tmp_path: Path) -> None:
    # chmod cannot refuse root; a symlink loop is refused for everyone.
    loop = tmp_path / "loop.yaml"
    os.symlink(loop, loop)
    with pytest.raises(TopologyError) as info:
        read_text(str(loop))
    assert info.value.problems[0].message == "cannot read: Too many levels of symbolic links"


def test_a_bad_byte_is_located_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_bytes(b"\nab\xff")
    with pytest.raises(TopologyError) as info:
        read_text(str(path))
    p = info.value.problems[0]
    assert (p.line, p.column) == (2, 3)
    assert p.message == "not UTF-8 text (byte 0xff at offset 3)"
    path.write_bytes(b"ab\xff")
    with pytest.raises(TopologyError) as info:
        read_text(str(path))
    assert (info.value.problems[0].line, info.value.problems[0].column) == (1, 3)


# --- structure ----------------------------------------------------------------------------

def test_depth_32_is_read_and_33_refused_where_it_starts() -> None:
    assert loader.MAX_DEPTH == 32
    assert parse(nested(32)).data is not None
    p = refused(nested(33))
    assert p.message == "document nested deeper than 32 levels"
    assert (p.line, p.column) == (1, 35)


def test_depth_counts_down_when_a_structure_closes() -> None:
    # 20 levels closed, then a sibling 20 levels deep: never deeper than 21 at once.
    text = nested(20) + nested(20, "b")
    assert len(parse(text).data) == 2
    # closing one level per end event (not two): a sibling after a shallow one still counts.
    p = refused("z: [1]\n" + nested(33))
    assert p.message == "document nested deeper than 32 levels"
    assert p.line == 2


def test_several_documents_are_refused_at_the_second() -> None:
    p = refused("a: 1\n---\nb: 2\n")
    assert p.message == "the file holds several YAML documents; use one"
    assert (p.line, p.column) == (2, 1)


def test_invalid_yaml_is_located_at_the_problem() -> None:
    p = refused("a: 1\nb: [1, 2\n")
    assert p.message.startswith("not valid YAML: ")
    assert (p.line, p.column) == (3, 1)
    p = refused("a:\n  - 1\n   b: 2\n")
    assert (p.line, p.column) == (3, 5)


# --- scalars ------------------------------------------------------------------------------

def test_a_tagged_scalar_keeps_its_text_and_is_a_problem() -> None:
    located = parse("a: !Ref foo\n")
    assert located.data == {"a": "foo"}
    assert [(p.message, p.line, p.column, p.path) for p in located.problems] == [
        ("YAML tag '!Ref' is not supported", 1, 4, "a")]


def test_an_unreadable_value_keeps_its_text() -> None:
    located = parse("when: 2001-13-45\n")
    assert located.data == {"when": "2001-13-45"}
    assert len(located.problems) == 1
    assert located.problems[0].message.startswith("cannot read value '2001-13-45': ")
    assert (located.problems[0].line, located.problems[0].column) == (1, 7)


# --- hints ----------------------------------------------------------------------------------

def test_an_unknown_key_without_a_close_match_lists_the_allowed_keys_sorted() -> None:
    text = VALID.replace("    router:", "    zzzzqqq: 1\n    router:")
    found = [p for p in problems(text) if p.message == "unknown key `zzzzqqq`"]
    assert len(found) == 1
    hint = found[0].hint
    assert hint.startswith("allowed keys: ")
    keys = hint.removeprefix("allowed keys: ").split(", ")
    assert keys == sorted(keys)
    assert {"primary", "standby", "router", "signals"} <= set(keys)
    assert (found[0].line, found[0].column) == (8, 5)


def test_an_unknown_key_with_a_close_match_names_it() -> None:
    text = VALID.replace("    router:", "    signls: []\n    router:")
    found = [p for p in problems(text) if p.message == "unknown key `signls`"]
    assert [p.hint for p in found] == ["did you mean `signals`?"]


def test_an_unknown_key_under_an_optional_model_gets_a_hint() -> None:
    text = VALID.replace("region: us-east-1\n",
                         "region: us-east-1\ncontrol: {regions: [us-west-2], regoins: 1}\n")
    found = [p for p in problems(text) if p.message == "unknown key `regoins`"]
    assert [(p.hint, p.path, p.line) for p in found] == [
        ("did you mean `regions`?", "control.regoins", 4)]


def test_a_problem_deep_in_a_service_is_located_at_its_nearest_mark() -> None:
    text = VALID.replace("/shop/checkout/active", "''")
    found = [p for p in problems(text) if p.path.startswith("services.checkout.router")]
    assert found, problems(text)
    assert all(p.line == 8 for p in found)


# VALID with the standby equal to the primary (a cross-field problem) and a bad first signal.
SIGNALS = VALID.replace("checkout-dr.example.com", "checkout.example.com").replace(
    "    router:", '    signals:\n      - alarm: ""\n      - event: {source: [shop.checkout]}\n'
    "    router:")


def test_a_bad_first_list_item_is_dropped_and_the_checks_across_fields_still_run() -> None:
    # signals[0] is invalid: the repair drops it (index 0 of a list) and validates the rest,
    # so the cross-field check (standby == primary) is reported as well.
    found = [(p.line, p.column, p.path, p.message.split(" (")[0]) for p in problems(SIGNALS)]
    assert found == [
        (7, 5, "services.checkout.standby", "standby is the same target as primary"),
        (9, 9, "services.checkout.signals[0].alarm", "alarm names are 1-255 characters")]


def test_a_missing_key_is_located_at_its_parent() -> None:
    # `standby` is not in the file: its problem takes the mark of the nearest parent that is.
    text = SIGNALS.replace('    standby: {url: "https://checkout.example.com/healthz"}\n', "")
    found = [(p.line, p.column, p.path, p.message) for p in problems(text)]
    assert found[0] == (5, 3, "services.checkout.standby", "missing required key `standby`")
