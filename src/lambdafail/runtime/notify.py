"""Telling people: every transition to the topology's SNS topic and, as an event, to the
account's default bus (source `lambdafail`, detail-type `lambdafail transition`).

Rule: a notification never fails the work it reports — failures are logged, never raised — and
every message names the topology, region and account, and the next command to run.
stdlib + boto3 only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lambdafail.runtime.log import Logger


class Notifier:
    """Publishes to the topology's SNS topic, if any, and every transition as an EventBridge
    event on the account's default bus (source `lambdafail`, detail-type `lambdafail
    transition`) when given an events client. Failures are logged, never raised.

    `context` (or a function returning it, called once, lazily: the account may cost an STS
    call) holds `topology`, `region` and `account` for every message."""

    def __init__(self, topic_arn: str | None, sns_client: Callable[[], Any] | Any,
                 logger: Logger | None = None, *,
                 events_client: Callable[[], Any] | Any | None = None,
                 context: dict[str, str] | Callable[[], dict[str, str]] | None = None,
                 on_outcome: Callable[[list[str]], None] | None = None) -> None:
        self.topic_arn = topic_arn
        # Told each notification's failed channels ([] when delivered): the orchestrator
        # records them where status reads (runtime/notify_health.py).
        self._on_outcome = on_outcome
        self._sns = sns_client
        self._events = events_client
        self._context = context
        self.logger = logger or Logger()
        self.sent: list[dict[str, Any]] = []

    def context(self) -> dict[str, str]:
        if callable(self._context):
            try:
                self._context = self._context()
            except Exception as e:  # a message without the account beats no message
                self.logger.error("notification context failed", error=str(e))
                self._context = {}
        return dict(self._context or {})

    def transition(self, item: dict[str, Any]) -> None:
        """A committed transition (the log item): SNS subject + body, and the default-bus event."""
        ctx = self.context()
        detail = {k: v for k, v in item.items() if k not in ("pk", "sk")}
        detail.update({k: ctx.get(k, "") for k in ("topology", "region", "account")})
        detail["next_command"] = next_command(detail)
        where = f"{ctx.get('topology', '')} in {ctx.get('region', '')}" + (
            f", account {ctx['account']}" if ctx.get("account") else "")
        detail["summary"] = (f"{item['service']} ({where}) switched {item['from']} -> "
                             f"{item['to']}, reason {item['reason']}, by {item['actor']}. "
                             f"Next: {detail['next_command']}")
        errors = self._publish(f"lambdafail {ctx.get('topology', '')}/{item['service']} "
                               f"[{ctx.get('region', '')}]: {item['from']} -> {item['to']} "
                               f"({item['reason']})", {"event": "transition", **detail})
        if self._events is None:
            self._outcome(errors)
            return
        try:
            events = self._events() if callable(self._events) else self._events
            resp = events.put_events(Entries=[{
                "Source": "lambdafail", "DetailType": "lambdafail transition",
                "Detail": json.dumps(detail, default=str)}])
            if resp.get("FailedEntryCount"):
                raise RuntimeError(str(resp.get("Entries")))
            self.sent.append({"event": "lambdafail transition", "detail": detail})
        except Exception as e:
            self.logger.error("eventbridge put_events failed", error=str(e))
            errors.append(f"eventbridge: {e}")
        self._outcome(errors)

    def _outcome(self, errors: list[str]) -> None:
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(errors)
        except Exception as e:  # recording it must not break the switch either
            self.logger.error("notification outcome not recorded", error=str(e))

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        if self.topic_arn:
            self._outcome(self._publish(subject, message))

    def _publish(self, subject: str, message: dict[str, Any]) -> list[str]:
        """SNS; the errors (none when delivered or when there is no topic)."""
        if not self.topic_arn:
            return []
        # SNS subjects: ASCII, no line breaks, under 100 characters.
        subj = subject.encode("ascii", "replace").decode()[:99].replace("\n", " ")
        try:
            sns = self._sns() if callable(self._sns) else self._sns
            sns.publish(TopicArn=self.topic_arn, Subject=subj,
                        Message=json.dumps(message, default=str, indent=1))
            self.sent.append({"subject": subj, "message": message})
        except Exception as e:
            self.logger.error("sns publish failed", topic=self.topic_arn, error=str(e))
            return [f"sns: {e}"]
        return []


def next_command(entry: dict[str, Any]) -> str:
    """What on-call runs next after this transition (pasted with their own -f/connection)."""
    region = f" --region {entry['region']}" if entry.get("region") else ""
    if entry.get("to") == "standby":
        return (f"lambdafail status{region}  # then, once the primary is fixed: lambdafail "
                f"rollback {entry.get('service')} --reason TEXT{region}")
    return f"lambdafail history {entry.get('service')}{region}"
