"""The executor's part for the watch alarms and the dashboard (deploy/watch.py).

Rule: like the rest of the executor, every call is safe to repeat. PutMetricAlarm and
PutDashboard create or replace whole, so create and update are the same call; PutMetricAlarm
takes tags only when it creates an alarm (CloudWatch ignores them on an update), so an update
whose tags differ tags the alarm itself. Deleting what is already gone is done.
"""

from __future__ import annotations

import json
from typing import Any

from lambdafail.aws import call
from lambdafail.base.errors import AwsError
from lambdafail.deploy import watch
from lambdafail.deploy.apply_base import ExecutorBase
from lambdafail.deploy.planner import Change
from lambdafail.deploy.resources import tag_list as _tag_list


class WatchChanges(ExecutorBase):
    def _cw(self) -> Any:
        return self.ctx.client("cloudwatch")

    def _put_alarm(self, c: Change, *, tags: bool) -> None:
        w = self._want(c)
        kw = watch.put_metric_alarm_args(w.name, w.spec)
        if tags:
            kw["Tags"] = _tag_list(w.tags)
        call(self._cw(), "put_metric_alarm", resource=w.name, **kw)

    def _create_alarm(self, c: Change) -> None:
        self._put_alarm(c, tags=True)

    def _update_alarm(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        if any(not d.field.startswith("tags.") for d in c.diffs):
            self._put_alarm(c, tags=False)
        if self._tags_changed(c):
            call(self._cw(), "tag_resource", resource=w.name, ResourceARN=a.context["arn"],
                 Tags=_tag_list(w.tags))

    def _delete_alarm(self, c: Change) -> None:
        # DeleteAlarms succeeds for names that do not exist.
        call(self._cw(), "delete_alarms", resource=c.name, AlarmNames=[c.name])

    def _create_dashboard(self, c: Change) -> None:
        w = self._want(c)
        call(self._cw(), "put_dashboard", resource=w.name, DashboardName=w.name,
             DashboardBody=json.dumps(w.spec["body"], sort_keys=True))

    _update_dashboard = _create_dashboard

    def _delete_dashboard(self, c: Change) -> None:
        try:
            call(self._cw(), "delete_dashboards", resource=c.name, DashboardNames=[c.name])
        except AwsError as e:
            if e.code not in ("ResourceNotFound", "DashboardNotFoundError"):
                raise
