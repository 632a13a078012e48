"""`lambdafail init` and `lambdafail schema` through the real CLI.

Rule: the starter file must validate as written, is never overwritten without --force, and the
schema is valid JSON describing `services`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdafail.cli.main import run


def test_cli_init_writes_a_valid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["init"]) == 0
    text = (tmp_path / "lambdafail.yaml").read_text()
    assert text.startswith("# lambdafail topology")
    assert run(["validate"]) == 0
    assert "topology 'myapp'" in capsys.readouterr().out


def test_cli_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("keep me\n")
    assert run(["init", str(path)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert path.read_text() == "keep me\n"
    assert run(["init", str(path), "--force", "--name", "shop-2"]) == 0
    assert run(["validate", "-f", str(path)]) == 0
    assert "topology 'shop-2'" in capsys.readouterr().out


def test_cli_init_rejects_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init", str(tmp_path / "x.yaml"), "--name", "Bad_Name"]) == 2
    assert "not valid" in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()


def test_cli_schema_is_json_listing_services(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "services" in schema["properties"]
    assert schema["required"] == ["name", "services"]
    service = schema["$defs"]["Service"]
    assert set(service["properties"]) >= {"primary", "standby", "signals", "router"}


def test_init_dash_prints_the_starter_on_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["init", "-", "--name", "shop"]) == 0
    out = capsys.readouterr().out
    assert not (tmp_path / "-").exists() and list(tmp_path.iterdir()) == []
    assert "name: shop" in out
    (tmp_path / "t.yaml").write_text(out)
    assert run(["validate", "-f", str(tmp_path / "t.yaml")]) == 0
