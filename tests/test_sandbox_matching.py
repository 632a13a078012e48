"""The sandbox's event matching against AWS: the 118 match / no-match conformance cases.

Cases it gets wrong are listed in docs/sandbox.md ("Event matching") and here; the list must
stay equal to what the matcher really does, so a fix shows up as a failing test to update both.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import CONFORMANCE
from lambdafail.sandbox.delivery import rule_matches

CASES: list[dict[str, Any]] = [c for c in json.loads(CONFORMANCE.read_text())
                               if c["expect"] in ("match", "no-match")]
KNOWN_WRONG: set[str] = set()  # keep in sync with docs/sandbox.md


def test_sandbox_matching_corpus_size() -> None:
    assert len(CASES) == 118


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_sandbox_matching_conformance(case: dict[str, Any]) -> None:
    got = rule_matches(case["pattern"], case["event"])
    right = got == (case["expect"] == "match")
    assert right != (case["name"] in KNOWN_WRONG), (
        f"{case['name']}: expected {case['expect']}, got {'match' if got else 'no-match'}")
