"""`lambdafail validate` through the real CLI (in-process `cli.run`): one bad file per rule.

Rule: every check is fed a file that breaks it and must answer exit 2 with file:line:col, the
YAML path and the message (and hint where there is one); valid files answer exit 0 and one line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import CONFIGS, CONFORMANCE
from lambdafail.base.errors import TopologyError
from lambdafail.cli.main import run
from lambdafail.model.loader import load_text

BASE = """\
version: 1
name: shop
region: us-east-1
defaults:
  health:
    interval: rate(1 minute)
    timeout_seconds: 3
services:
  checkout:
    primary: {url: "https://checkout.example.com/healthz"}
    standby: {url: "https://checkout-dr.example.com/healthz"}
    signals:
      - alarm: checkout-5xx
      - event: {source: [shop.checkout], detail-type: [Server failure]}
    router: {ssm_parameter: /shop/checkout/active}
"""


def validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes,
             *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "topology.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    code = run(["validate", "-f", str(path), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def problem_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith("lambdafail:")]


def expect_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                   line: int, column: int, path: str, message: str) -> str:
    code, out, err = validate(tmp_path, capsys, text)
    assert code == 2, err
    assert out == ""
    where = f"{tmp_path / 'topology.yaml'}:{line}:{column}: {path}: "
    matching = [p for p in problem_lines(err) if p.startswith(where)]
    assert matching, f"no problem at {where!r} in:\n{err}"
    assert any(message in p for p in matching), f"{message!r} not in {matching}"
    return err


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text
    return text.replace(old, new, 1)


# ---------------------------------------------------------------------------- valid files


@pytest.mark.parametrize("name", ["example.yaml", "multi.yaml"])
def test_validate_shipped_configs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["validate", "-f", str(CONFIGS / name)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1
    assert "valid" in out


def test_validate_base_is_valid_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = validate(tmp_path, capsys, BASE)
    assert code == 0, err
    assert out.strip().endswith("valid — topology 'shop', 1 service (checkout), 2 signals")


def test_validate_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = validate(tmp_path, capsys, BASE, "--output", "json")
    assert code == 0
    doc = json.loads(out)
    warnings = doc.pop("warnings")
    assert doc == {"valid": True, "file": str(tmp_path / "topology.yaml"),
                   "topology": "shop", "region": "us-east-1", "control_region": "us-east-1",
                   "control_regions": ["us-east-1"],
                   "services": ["checkout"], "signals": 2}
    # The watcher and the router live where the primary does: said, not refused
    # (docs/placement.md).
    assert [w["path"] for w in warnings] == ["region", "services.checkout.router"]
    bad = edit("    timeout_seconds: 3", "    timeout_secs: 3")
    code, out, _err = validate(tmp_path, capsys, bad, "-o", "json")
    assert code == 2
    doc = json.loads(out)
    assert doc["valid"] is False
    assert doc["problems"][0]["path"] == "defaults.health.timeout_secs"
    assert doc["problems"][0]["line"] == 7


# ---------------------------------------------------------------------------- each rule


def test_validate_unknown_key_did_you_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = edit("    router:", "    health: {failure_treshold: 2}\n    router:")
    err = expect_problem(tmp_path, capsys, text, 15, 14,
                         "services.checkout.health.failure_treshold",
                         "unknown key `failure_treshold`")
    assert "did you mean `failure_threshold`?" in err


@pytest.mark.parametrize(
    ("expr", "message", "hint"),
    [
        ("rate(1 minutes)", "singular unit for 1", "write rate(1 minute)"),
        ("rate(5 minute)", "plural otherwise", "write rate(5 minutes)"),
        ("rate(0 minutes)", "positive integer", "rate(1 minute)"),
        ("rate(1 week)", "minute(s), hour(s) or day(s)", ""),
        ("cron(0 * * * *)", "5-field unix cron", "write cron(0 * * * ? *)"),
        ("cron(*/5 9-17 * * 1-5)", "5-field unix cron", "write cron(*/5 9-17 ? * 2-6 *)"),
        ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week must be ?",
         "cron(0 12 * * ? *)"),
        ("cron(0 12 ? * ? *)", "exactly one of day-of-month and day-of-week must be ?", ""),
        ("cron(61 * * * ? *)", "minutes value 61 is outside 0-59", ""),
        ("every minute", "is not a schedule expression", "rate(1 minute)"),
    ],
)
def test_validate_schedule_grammar(tmp_path: Path, capsys: pytest.CaptureFixture[str], expr: str,
                                   message: str, hint: str) -> None:
    text = edit("interval: rate(1 minute)", f'interval: "{expr}"')
    err = expect_problem(tmp_path, capsys, text, 6, 5, "defaults.health.interval", message)
    assert hint in err


@pytest.mark.parametrize("expr", ["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)",
                                  "rate(2 days)", "cron(0/5 * * * ? *)",
                                  "cron(0 18 ? * MON-FRI *)", "cron(0 10 L * ? *)",
                                  "cron(0 10 ? * 6#3 *)", "cron(15 10 ? * 6L 2030-2035)"])
def test_validate_schedule_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    expr: str) -> None:
    code, _, err = validate(tmp_path, capsys, edit("interval: rate(1 minute)",
                                                   f'interval: "{expr}"'))
    assert code == 0, err


@pytest.mark.parametrize(
    ("old", "new", "line", "column", "path", "message"),
    [
        ("region: us-east-1", "region: us-east-1x", 3, 1, "region", "not an AWS region"),
        ("name: shop", "name: Shop_Prod", 2, 1, "name", "topology name is not valid"),
        ("name: shop", f"name: {'a' * 33}", 2, 1, "name", "topology name is not valid"),
        ("  checkout:", "  Check Out:", 9, 3, "services.Check Out", "service name 'Check Out'"),
        ('primary: {url: "https://checkout.example.com/healthz"}',
         'primary: {url: "ftp://checkout.example.com"}', 10, 15, "services.checkout.primary.url",
         "not an http(s) URL"),
        ('primary: {url: "https://checkout.example.com/healthz"}',
         'primary: {url: "https://checkout.example.com:99999/"}', 10, 15,
         "services.checkout.primary.url", "bad port"),
        ('primary: {url: "https://checkout.example.com/healthz"}',
         'primary: {lambda: "arn:aws:lambda:us-east-1:123:function:x"}', 10, 15,
         "services.checkout.primary.lambda", "not a Lambda function name or ARN"),
        ('primary: {url: "https://checkout.example.com/healthz"}',
         f'primary: {{lambda: "{"f" * 65}"}}', 10, 15,
         "services.checkout.primary.lambda", "not a Lambda function name or ARN"),
        ('primary: {url: "https://checkout.example.com/healthz"}',
         'primary: "https://checkout.example.com/healthz"', 10, 5,
         "services.checkout.primary", "a target is a mapping with `url`"),
        ("router: {ssm_parameter: /shop/checkout/active}", "router: {hook: 'bad name!'}", 15,
         14, "services.checkout.router.hook", "not a Lambda function name or ARN"),
        ("router: {ssm_parameter: /shop/checkout/active}",
         "router: {rules: {primary: [\"" + "r" * 65 + "\"]}}", 15, 22,
         "services.checkout.router.rules.primary", "not a valid EventBridge rule name"),
        ("router: {ssm_parameter: /shop/checkout/active}",
         "router: {rules: {primary: [\"a rule\"]}}", 15, 22,
         "services.checkout.router.rules.primary", "not a valid EventBridge rule name"),
        ("router: {ssm_parameter: /shop/checkout/active}",
         "router: {rules: {standby: [lambdafail-shop-tick-60s]}}", 15, 22,
         "services.checkout.router.rules.standby", "named like lambdafail's own rules"),
        ('primary: {url: "https://checkout.example.com/healthz"}',
         'primary: {url: "https://ops:hunter2@checkout.example.com/healthz"}', 10, 15,
         "services.checkout.primary.url", "carries credentials (user:password@)"),
        ('standby: {url: "https://checkout-dr.example.com/healthz"}',
         'standby: {url: "https://checkout-dr.example.com/healthz?api_key=abc"}', 11, 15,
         "services.checkout.standby.url", "secret-looking query parameter 'api_key'"),
        ('standby: {url: "https://checkout-dr.example.com/healthz"}',
         'standby: {url: "https://checkout-dr.example.com/h?X-Amz-Signature=ab"}', 11, 15,
         "services.checkout.standby.url", "secret-looking query parameter 'X-Amz-Signature'"),
        ("router: {ssm_parameter: /shop/checkout/active}",
         "router: {rules: {primary: [a], bus: \"my bus\"}}", 15, 36,
         "services.checkout.router.rules.bus", "not an EventBridge bus name or ARN"),
        ("router: {ssm_parameter: /shop/checkout/active}",
         "router: {route53: {zone_id: nope, record: a.example.com, primary: a, standby: b}}",
         15, 24, "services.checkout.router.route53.zone_id", "not a Route 53 hosted zone id"),
        ("router: {ssm_parameter: /shop/checkout/active}", "router: {dns: x}", 15, 5,
         "services.checkout.router", "a router is a mapping with one of"),
        ("router: {ssm_parameter: /shop/checkout/active}",
         "router: {ssm_parameter: 'a//b'}", 15, 14, "services.checkout.router.ssm_parameter",
         "not a valid SSM parameter name"),
        ("region: us-east-1", "region: us-east-1\nnotify: {sns_topic_arn: 'arn:aws:sqs:us-east-1:"
         "123456789012:q'}", 4, 10, "notify.sns_topic_arn", "not an SNS topic ARN"),
        ("      - alarm: checkout-5xx", "      - alarm: ''", 13, 9,
         "services.checkout.signals[0].alarm", "alarm names are 1-255 characters"),
        ("      - alarm: checkout-5xx", "      - alarrm: x", 13, 9,
         "services.checkout.signals[0]", "a signal is a mapping with `alarm`"),
        ("      - event: {source: [shop.checkout], detail-type: [Server failure]}",
         "      - event: {source: shop.checkout}", 14, 9, "services.checkout.signals[1].event",
         'invalid event pattern: source: "source" must be an object or an array'),
        ("    timeout_seconds: 3", "    timeout_seconds: 3\n    failure_threshold: 0", 8, 5,
         "defaults.health.failure_threshold", "must be at least 1, not 0"),
        ("    router:", "    health: {recovery_threshold: 0}\n    router:", 15, 14,
         "services.checkout.health.recovery_threshold", "must be at least 1, not 0"),
        ("    timeout_seconds: 3", "    timeout_seconds: 58", 7, 5,
         "defaults.health.timeout_seconds", "does not fit in the probe interval"),
        ("    router:", "    health: {probes_per_tick: 6, timeout_seconds: 10}\n    router:", 15,
         34, "services.checkout.health.timeout_seconds", "does not fit in the probe interval"),
        ("    router:", "    health: {metrics: loud}\n    router:", 15, 14,
         "services.checkout.health.metrics", "Input should be 'state', 'probes' or 'none'"),
        ('standby: {url: "https://checkout-dr.example.com/healthz"}',
         'standby: {url: "https://checkout.example.com/healthz"}', 11, 5,
         "services.checkout.standby", "standby is the same target as primary"),
    ],
)
def test_validate_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str,
                       line: int, column: int, path: str, message: str) -> None:
    expect_problem(tmp_path, capsys, edit(old, new), line, column, path, message)


def test_validate_secret_refusal_never_echoes_the_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = edit('primary: {url: "https://checkout.example.com/healthz"}',
                'primary: {url: "https://ops:hunter2@checkout.example.com/healthz?token=t0k"}')
    code, out, err = validate(tmp_path, capsys, text)
    assert code == 2 and "hunter2" not in out + err and "t0k" not in out + err
    # Ordinary query parameters are fine (`sort=key` is a value, `monkey` is not `key`).
    ok = edit('primary: {url: "https://checkout.example.com/healthz"}',
              'primary: {url: "https://checkout.example.com/healthz?sort=key&monkey=1"}')
    assert validate(tmp_path, capsys, ok)[0] == 0


def test_validate_duplicate_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = edit("    timeout_seconds: 3", "    timeout_seconds: 3\n    timeout_seconds: 4")
    err = expect_problem(tmp_path, capsys, text, 8, 5, "defaults.health.timeout_seconds",
                         "duplicate key 'timeout_seconds' (first defined on line 7)")
    assert "silently keep only the last one" in err


def test_validate_duplicate_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    service = BASE[BASE.index("  checkout:"):]
    expect_problem(tmp_path, capsys, BASE + service, 16, 3, "services.checkout",
                   "duplicate service 'checkout' (first defined on line 9)")


def test_validate_shared_alarm_and_router(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    other = BASE[BASE.index("  checkout:"):].replace("checkout:", "cart:", 1) \
        .replace("checkout-dr", "cart-dr").replace("://checkout.", "://cart.")
    err = expect_problem(tmp_path, capsys, BASE + other, 20, 9,
                         "services.cart.signals[0].alarm",
                         "alarm 'checkout-5xx' is already a signal of service 'checkout'")
    assert "already switches SSM parameter /shop/checkout/active" in err


def test_validate_yaml_boolean_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = edit("  checkout:", "  on:").replace("checkout", "on-svc")
    expect_problem(tmp_path, capsys, text, 9, 3, "services.on", "key 'on' is read as a bool")


def test_validate_lists_every_problem_at_once(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = (BASE.replace("region: us-east-1", "region: mars-1")
            .replace("interval: rate(1 minute)", "interval: cron(0 * * * *)")
            .replace("    timeout_seconds: 3", "    timeout_seconds: 3\n    failure_threshold: 0\n"
                     "    timeout_seconds: 9")
            .replace("- alarm: checkout-5xx", "- alarm: checkout-5xx\n        mode: sometimes")
            .replace("[Server failure]", "[{prefix: 1}]"))
    code, _, err = validate(tmp_path, capsys, text)
    assert code == 2
    problems = problem_lines(err)
    paths = [re.sub(r"^.*?:\d+:\d+: ", "", p).split(":")[0] for p in problems]
    assert paths == ["region", "defaults.health.interval", "defaults.health.failure_threshold",
                     "defaults.health.timeout_seconds", "services.checkout.signals[0].mode",
                     "services.checkout.signals[1].event"], err
    assert "is invalid: 6 problems" in err


# ---------------------------------------------------------------------------- event patterns

CASES: list[dict[str, Any]] = json.loads(CONFORMANCE.read_text(encoding="utf-8"))


def _with_pattern(pattern: Any) -> str:
    return edit("      - event: {source: [shop.checkout], detail-type: [Server failure]}",
                f"      - event: {json.dumps(pattern)}")


@pytest.mark.parametrize("case", [c for c in CASES if c["expect"] == "invalid"],
                         ids=lambda c: c["name"])
def test_validate_corpus_invalid_patterns_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(TopologyError) as info:
        load_text(_with_pattern(case["pattern"]), "t.yaml")
    [problem] = info.value.problems
    assert problem.path == "services.checkout.signals[1].event"
    assert problem.line == 14
    assert case["aws_error"].removeprefix("Event pattern is not valid. Reason: ") in problem.message


def test_validate_corpus_valid_patterns_accepted() -> None:
    for case in CASES:
        if case["expect"] != "invalid":
            load_text(_with_pattern(case["pattern"]), "t.yaml")


def test_validate_pattern_size_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect_problem(tmp_path, capsys, _with_pattern({"source": ["x" * 2100]}), 14, 9,
                   "services.checkout.signals[1].event", "AWS allows 2048")


# ---------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"# just a comment\n", "the file is empty"),
        (b"---\n...\n", "the file is empty"),
        (b"- a\n- b\n", "the top level must be a mapping, not list"),
        (b"just a string\n", "the top level must be a mapping, not str"),
        (b"42\n", "the top level must be a mapping, not int"),
        (b"\x00\x01\x02binary\xff\xfe", "binary data"),
        (bytes(range(1, 256)) * 4, "not UTF-8 text"),
        ("name: caf\u00e9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
        (b"a: [1, 2\n", "not valid YAML"),
        (b"a: b: c\n", "not valid YAML"),
        (b"\tname: x\n", "not valid YAML"),
        (b"a: 1\n---\nb: 2\n", "several YAML documents"),
        (b"a: !!python/object/apply:os.system ['true']\n", "YAML tag"),
        (b"a: &x 1\n<<: {b: 2}\n", "merge keys"),
        (b"? [a, b]\n: 1\n", "mapping keys must be plain scalars"),
        (b"a: \x07bell\n", "not valid YAML"),
    ],
)
def test_validate_hostile_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                content: bytes, message: str) -> None:
    code, _out, err = validate(tmp_path, capsys, content)
    assert code == 2
    assert message in err, err


def test_validate_over_size_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lambdafail.model.loader import MAX_BYTES

    code, _, err = validate(tmp_path, capsys, b"# " + b"x" * MAX_BYTES + b"\n")
    assert code == 2
    assert f"larger than the {MAX_BYTES}-byte limit" in err
    # Exactly at the limit is still read (and here found valid).
    good = (CONFIGS / "example.yaml").read_bytes()
    pad = MAX_BYTES - len(good) - 3
    code, _, err = validate(tmp_path, capsys, good + b"\n# " + b"x" * pad)
    assert (tmp_path / "topology.yaml").stat().st_size == MAX_BYTES
    assert code == 0, err


def test_validate_alias_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    code, _, err = validate(tmp_path, capsys, "\n".join(lines) + "\n")
    assert code == 2
    assert "alias bomb" in err


@pytest.mark.parametrize("text", ["a: " + "[" * 5000 + "]" * 5000 + "\n",
                                  "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n",
                                  "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100
                                  + "x: 1\n"])
def test_validate_deeply_nested(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                text: str) -> None:
    code, _, err = validate(tmp_path, capsys, text)
    assert code == 2
    assert "nested deeper than 32 levels" in err


def test_validate_missing_file_and_directory(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "-f", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert run(["validate", "-f", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_validate_special_file_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "-f", "/dev/zero"]) == 2
    assert "limit" in capsys.readouterr().err


def test_validate_metrics_compiled_per_service(tmp_path: Path) -> None:
    from lambdafail.model.loader import load
    from lambdafail.model.topology import compile_topology

    text = edit("    timeout_seconds: 3", "    timeout_seconds: 3\n    metrics: none")
    text = text + BASE[BASE.index("  checkout:"):].replace("checkout", "cart").replace(
        "    router:", "    health: {metrics: probes}\n    router:")
    f = tmp_path / "t.yaml"
    f.write_text(text)
    compiled = compile_topology(load(str(f)))
    assert compiled["services"]["checkout"]["health"]["metrics"] == "none"
    assert compiled["services"]["cart"]["health"]["metrics"] == "probes"


# ------------------------------------------------------------- regions and SSM names (AWS's)


def test_validate_refuses_a_region_botocore_does_not_know(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = expect_problem(tmp_path, capsys, edit("region: us-east-1", "region: us-moon-1"),
                         3, 1, "region", "not an AWS region: 'us-moon-1'")
    assert "pip install -U botocore" in err
    err = expect_problem(tmp_path, capsys, edit("region: us-east-1", "region: us-esat-1"),
                         3, 1, "region", "not an AWS region")
    assert "did you mean" in err and "us-east-1" in err
    for region in ("cn-north-1", "us-gov-west-1", "eu-central-2"):
        code, _, err = validate(tmp_path, capsys, edit("region: us-east-1", f"region: {region}"))
        assert code == 0, err


@pytest.mark.parametrize(("name", "message"), [
    ("/" + "/".join("abcdefghijklmnop"), "16 levels; SSM allows at most 15"),
    ("shop/checkout", "a name with levels must start with /"),
    ("/aws/shop", "reserved"),
    ("SSM-shop", "reserved"),
    ("/shop/check out", "only letters, digits"),
    ("/shop/", "must not end with /"),
    ("/" + "a" * 960, "960 characters"),
])
def test_validate_refuses_ssm_names_aws_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                name: str, message: str) -> None:
    expect_problem(tmp_path, capsys, edit("/shop/checkout/active", name), 15, 14,
                   "services.checkout.router.ssm_parameter", message)


def test_validate_accepts_ssm_names_aws_accepts(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("/" + "/".join("abcdefghijklmno"), "shop-active", "/a.b_c-d/e", "/" + "a" * 900):
        code, _, err = validate(tmp_path, capsys, edit("/shop/checkout/active", name))
        assert code == 0, (name, err)


def test_validate_refuses_a_pattern_mixing_aws_and_own_sources(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = expect_problem(tmp_path, capsys, edit("source: [shop.checkout]",
                                                "source: [shop.checkout, aws.health]"),
                         14, 9, "services.checkout.signals[1].event", "mix AWS services")
    assert "make them two signals" in err
    code, _, err = validate(tmp_path, capsys, edit("source: [shop.checkout]",
                                                   "source: [aws.health]"))
    assert code == 0, err
