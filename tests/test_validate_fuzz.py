"""Fuzzing `lambdafail validate`: random and mutated YAML never produces a traceback.

Rule: whatever the bytes, the real CLI entry point (`cli.run`) answers 0 or 2 and prints no
"Traceback"; bounded (~200 examples per test, no deadline) so the suite stays fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CONFIGS
from lambdafail.cli.main import run

SEEDS = [(CONFIGS / "example.yaml").read_bytes(), (CONFIGS / "multi.yaml").read_bytes()]
YAML_BITS = [b":", b"-", b"[", b"]", b"{", b"}", b"&a", b"*a", b"!!str", b"<<", b"? ", b"\n",
             b"  ", b"\t", b"'", b'"', b"#", b"---", b"...", b"|", b">", b"%YAML 1.1", b"~",
             b"rate(1 minute)", b"cron(0 * * * *)", b"services:", b"  x:", b"- event: {}",
             b"\xff", b"\x00", b"\xef\xbb\xbf", b"on", b"1e999", b".nan", b"0x1F"]

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _check(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    code = run(["validate", "-f", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 2), (code, err)
    assert "Traceback" not in out + err
    assert "internal error" not in err, err


@FUZZ
@given(data=st.binary(max_size=2000))
def test_validate_fuzz_random_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    data: bytes) -> None:
    _check(tmp_path, capsys, data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    doc = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(doc)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        if action == "insert":
            doc[pos:pos] = draw(st.sampled_from(YAML_BITS))
        elif action == "delete":
            doc[pos:pos + draw(st.integers(1, 20))] = b""
        elif action == "replace":
            doc[pos:pos + 1] = draw(st.binary(min_size=1, max_size=3))
        else:
            line_start = doc.rfind(b"\n", 0, pos) + 1
            line_end = doc.find(b"\n", pos)
            line_end = len(doc) if line_end < 0 else line_end + 1
            doc[line_end:line_end] = doc[line_start:line_end]
    return bytes(doc)


@FUZZ
@given(data=mutated())
def test_validate_fuzz_mutated_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       data: bytes) -> None:
    _check(tmp_path, capsys, data)


@FUZZ
@given(text=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
).map(lambda v: {"version": 1, "name": "fuzz", "services": {"s": v}}))
def test_validate_fuzz_structured(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  text: object) -> None:
    import yaml

    _check(tmp_path, capsys, yaml.safe_dump(text, allow_unicode=True).encode("utf-8"))
