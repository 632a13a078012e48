"""A drill environment for tests: real HTTP targets, a provisioned state table, and the
orchestrator's real handler driven by a ticker thread (moto never fires schedules).

Used by the other test_drill_* files. Works in-process under `mocked_aws` or against the
session `moto_server` (set AWS_ENDPOINT_URL first: the handler's clients honour it).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import wait_until
from lambdafail.sandbox.webservice import WebService


class DrillEnv:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *,
                 endpoint_url: str | None = None, failure_threshold: int = 2,
                 rto_seconds: int = 30, tick_every: float = 0.05, extra_yaml: str = "",
                 signals: str = "", urls: dict[str, str] | None = None) -> None:
        self.name = f"dr{uuid.uuid4().hex[:8]}"
        self.tmp = tmp_path
        self.endpoint_url = endpoint_url
        self.tick_every = tick_every
        self.web = {f"{svc}-{side}": WebService(f"{svc}-{side}").start()
                    for svc in ("checkout", "search") for side in ("primary", "standby")}
        url = {k: w.url for k, w in self.web.items()} | (urls or {})
        self.file = tmp_path / "lambdafail.yaml"
        self.file.write_text(f"""
version: 1
name: {self.name}
region: us-east-1
defaults:
  health: {{interval: rate(1 minute), timeout_seconds: 5, failure_threshold: {failure_threshold}}}
  policy: {{cooldown_seconds: 300, rto_seconds: {rto_seconds}}}
services:
  checkout:
    primary: {{url: "{url['checkout-primary']}"}}
    standby: {{url: "{url['checkout-standby']}"}}
    router: {{ssm_parameter: /{self.name}/checkout/active}}
{signals}
  search:
    primary: {{url: "{url['search-primary']}"}}
    standby: {{url: "{url['search-standby']}"}}
    router: {{ssm_parameter: /{self.name}/search/active}}
{extra_yaml}
""")
        from lambdafail.model.loader import load
        from lambdafail.model.topology import compile_topology

        self.compiled: dict[str, Any] = compile_topology(load(str(self.file)))
        self.config_path = tmp_path / "lambdafail_config.json"
        self.config_path.write_text(json.dumps(self.compiled))
        monkeypatch.setenv("LAMBDAFAIL_CONFIG_PATH", str(self.config_path))
        self.rule = next(iter(self.compiled["schedules"]))
        self.queue_url: str | None = None
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._tick_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.errors: list[BaseException] = []
        self.logs: list[str] = []

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.endpoint_url)

    # -- provisioning: what deploy creates (the parts the drill and the handler use) --

    def provision(self) -> DrillEnv:
        from lambdafail.runtime.state import StateStore, table_definition

        ddb = self.client("dynamodb")
        ddb.create_table(**table_definition(self.compiled["table"]))
        store = StateStore(self.compiled["table"], ddb)
        ssm = self.client("ssm")
        for svc, cfg in self.compiled["services"].items():
            store.seed(svc, time.time())
            ssm.put_parameter(Name=cfg["router"]["parameter"], Type="String", Overwrite=True,
                              Value=cfg["router"]["values"]["primary"])
        return self

    def add_event_delivery(self) -> None:
        """The bus and a rule per event signal, delivering to an SQS queue that the ticker
        drains into the handler (moto cannot deliver to a Lambda target)."""
        ev = self.client("events")
        sqs = self.client("sqs")
        ev.create_event_bus(Name=self.compiled["bus"])
        self.queue_url = sqs.create_queue(QueueName=f"{self.name}-deliver")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        for svc in self.compiled["services"].values():
            for sig in svc["signals"]:
                if sig["kind"] == "event":
                    ev.put_rule(Name=sig["rule"], EventBusName=self.compiled["bus"],
                                EventPattern=json.dumps(sig["pattern"]))
                    ev.put_targets(Rule=sig["rule"], EventBusName=self.compiled["bus"],
                                   Targets=[{"Id": "deliver", "Arn": arn}])

    def store(self) -> Any:
        from lambdafail.runtime.state import StateStore

        return StateStore(self.compiled["table"], self.client("dynamodb"))

    # -- the orchestrator, driven --

    def tick_once(self) -> None:
        from lambdafail.runtime import handler

        handler.handle({"lambdafail": "tick", "rule": self.rule}, None)
        if self.queue_url:
            sqs = self.client("sqs")
            msgs = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
            for m in msgs:
                handler.handle(json.loads(m["Body"]), None)
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        self.ticks += 1

    def start(self) -> DrillEnv:
        from lambdafail.runtime import handler

        handler.reset()
        # The real handler, with its JSON log lines kept here instead of on stdout (in-process,
        # stdout is the CLI's --output json channel).
        from lambdafail.runtime.config import load_config
        from lambdafail.runtime.log import Logger

        handler._orchestrator = handler.Orchestrator(load_config(),
                                                     logger=Logger(sink=self.logs.append))

        def loop() -> None:
            while not self._stop.is_set():
                with self._tick_lock:
                    if not self._paused.is_set():
                        try:
                            self.tick_once()
                        except Exception as e:  # surfaced by the tests that care
                            self.errors.append(e)
                self._stop.wait(self.tick_every)

        self._thread = threading.Thread(target=loop, name="orchestrator-ticker", daemon=True)
        self._thread.start()
        return self

    def pause(self) -> None:
        """Stop ticking; returns once no tick is in flight."""
        self._paused.set()
        with self._tick_lock:
            pass

    def resume(self) -> None:
        self._paused.clear()

    def steady(self, timeout: float = 15) -> None:
        """Wait until every service was probed healthy and the heartbeat is written."""
        store = self.store()

        def ok() -> bool:
            states = store.load_all()
            return (store.heartbeat_item() is not None and len(states) == 2
                    and all(st.health[s].ok for st in states.values()
                            for s in ("primary", "standby")))

        wait_until(ok, timeout=timeout, what="steady state")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for w in self.web.values():
            w.stop()
        from lambdafail.runtime import handler

        handler.reset()

    # -- reading back --

    def state(self, service: str = "checkout") -> Any:
        return self.store().get(service)

    def ssm_value(self, service: str = "checkout") -> str:
        name = self.compiled["services"][service]["router"]["parameter"]
        return str(self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])

    def side_of_router(self, service: str = "checkout") -> str:
        values = self.compiled["services"][service]["router"]["values"]
        v = self.ssm_value(service)
        return next(s for s, val in values.items() if val == v)




def test_drill_env_reaches_steady_state(drill_env: DrillEnv) -> None:
    drill_env.start().steady()
    st = drill_env.state()
    assert st.active == "primary" and drill_env.side_of_router() == "primary"
    assert not drill_env.errors
