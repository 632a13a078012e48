"""The executor's Lambda part: the orchestrator function, its `live` alias, the alias's
asynchronous-invocation config and resource-policy statements, and deployment rollbacks'
alias moves.

Rule: code and configuration change only through here (and `move_alias`, the one other way the
alias moves); each call waits until Lambda reports the function ready, so the next call never
meets a ResourceConflictException from our own update.
"""

from __future__ import annotations

from typing import Any

from lambdafail.aws import AwsContext, call
from lambdafail.base.errors import AwsError
from lambdafail.deploy import settle
from lambdafail.deploy.apply_base import ExecutorBase, _wait, _while_propagating
from lambdafail.deploy.planner import VERSION_PREFIX, Change, Resource
from lambdafail.model import naming


class LambdaChanges(ExecutorBase):
    # -- Lambda function, alias, permissions -----------------------------------------------

    def _fn_config(self, w: Resource, have: Resource | None = None) -> dict[str, Any]:
        s = w.spec
        out: dict[str, Any] = {
            "Runtime": s["runtime"], "Handler": s["handler"], "Timeout": s["timeout"],
            "MemorySize": s["memory_size"], "Role": s["role"],
            "Environment": {"Variables": s["environment"]},
            "Description": f"lambdafail {self.plan.topology}: orchestrator"}
        if s.get("vpc"):
            out["VpcConfig"] = {"SubnetIds": s["vpc"]["subnet_ids"],
                                "SecurityGroupIds": s["vpc"]["security_group_ids"]}
        elif have is not None and have.spec.get("vpc"):
            out["VpcConfig"] = {"SubnetIds": [], "SecurityGroupIds": []}  # leave the VPC
        return out

    def _zip(self) -> bytes:
        if self.package is None:
            raise AssertionError("a function change needs the package")
        return self.package.zip_bytes

    def _wait_function(self, name: str) -> None:
        lam = self.ctx.client("lambda")

        def ready() -> bool:
            cfg = call(lam, "get_function_configuration", resource=name, FunctionName=name)
            state, update = cfg.get("State"), cfg.get("LastUpdateStatus")
            if state == "Failed" or update == "Failed":
                raise AwsError(f"function {name} failed to deploy: "
                               f"{cfg.get('StateReason') or cfg.get('LastUpdateStatusReason')}",
                               hint="check the role and the package", resource=name)
            return state in (None, "Active") and update in (None, "Successful")

        _wait(ready, f"function {name} to become ready")

    def _create_function(self, c: Change) -> None:
        w = self._want(c)
        lam = self.ctx.client("lambda")
        # A new role is not assumable by Lambda for a few seconds (IAM propagation).
        _while_propagating("role", lambda: call(
            lam, "create_function", resource=w.name, FunctionName=w.name,
            Code={"ZipFile": self._zip()}, Publish=False, Tags=w.tags,
            Architectures=[w.spec["architecture"]], **self._fn_config(w)))
        self._wait_function(w.name)

    def _update_function(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        lam = self.ctx.client("lambda")
        state = a.spec.get("state", "ready")
        if state == "pending":
            self._wait_function(w.name)  # an update in progress (ours, or someone's) finishes
        failed = state == "failed"  # a failed create or update: send configuration and code again

        def update(op: str, **kw: Any) -> None:
            # Another update in progress (someone's deploy, a console edit) is waited out.
            settle.retry(lambda: call(lam, op, resource=w.name, FunctionName=w.name, **kw),
                         codes=settle.FUNCTION_CONFLICT, timeout=settle.FUNCTION_CONFLICT_SECONDS,
                         why=f"function {w.name}: another update is in progress",
                         say=lambda m: self.progress(c, f"wait: {m}"),
                         before_retry=lambda: self._wait_function(w.name))
            self._wait_function(w.name)

        if failed or self._changed(c, "runtime", "handler", "timeout", "memory_size", "role",
                                   "environment", "vpc"):
            update("update_function_configuration", **self._fn_config(w, a))
        if failed or self._changed(c, "code_sha256", "architecture"):
            # The architecture changes with the code (UpdateFunctionCode), not the configuration.
            update("update_function_code", ZipFile=self._zip(),
                   Architectures=[w.spec["architecture"]], Publish=False)
            self._supersede_config(a)
        if self._tags_changed(c):
            call(lam, "tag_resource", resource=w.name, Resource=a.context["arn"], Tags=w.tags)

    def _supersede_config(self, have: Resource) -> None:
        """The configuration the function ran until now starts its history retention; the
        one it runs now never expires (it may be one superseded before)."""
        import time

        from lambdafail.deploy import stored_config
        from lambdafail.deploy.planner import CONFIG_ITEM_PREFIX, CONFIG_SHA_ENV

        assert self.package is not None
        compiled = next((ch.desired.spec["compiled"] for ch in self.plan.changes
                         if ch.kind == "item" and ch.name.startswith(CONFIG_ITEM_PREFIX)
                         and ch.desired is not None), None)
        days = int((compiled or {}).get("history_retention_days") or 0)
        table = naming.table_name(self.plan.topology)
        new = self.package.config_sha256
        old = str((have.spec.get("environment") or {}).get(CONFIG_SHA_ENV) or "")
        stored_config.set_expiry(self.ctx, table, new, None)
        if days and old and old != new:
            stored_config.set_expiry(self.ctx, table, old, int(time.time()) + days * 86400)

    def _delete_function(self, c: Change) -> None:
        call(self.ctx.client("lambda"), "delete_function", resource=c.name, FunctionName=c.name)

    def _function_name(self) -> str:
        return naming.function_name(self.plan.topology)

    def _alias_target(self, c: Change) -> str:
        """The version the alias must point at: an existing one with the same fingerprint
        (published by an earlier, possibly interrupted, deploy), else a new one."""
        fp = self._want(c).spec["fingerprint"]
        fn = self._actual.get(("function", self._function_name()))
        versions: dict[str, str] = fn.context.get("versions", {}) if fn else {}
        same = [v for v, f in versions.items() if f == fp]
        if same:
            return max(same, key=int)
        assert self.package is not None
        name, sha = self._function_name(), self.package.sha256_b64
        got = settle.retry(lambda: call(self.ctx.client("lambda"), "publish_version",
                                        resource=name, FunctionName=name,
                                        Description=VERSION_PREFIX + fp, CodeSha256=sha),
                           codes=settle.FUNCTION_CONFLICT,
                           timeout=settle.FUNCTION_CONFLICT_SECONDS,
                           why=f"function {name}: an update is in progress",
                           say=lambda m: self.progress(c, f"wait: {m}"),
                           before_retry=lambda: self._wait_function(name))
        return str(got["Version"])

    def _create_alias(self, c: Change) -> None:
        version = self._alias_target(c)
        call(self.ctx.client("lambda"), "create_alias", resource=f"{self._function_name()}:live",
             FunctionName=self._function_name(), Name=naming.ALIAS, FunctionVersion=version,
             Description=f"lambdafail {self.plan.topology}: the deployed orchestrator")
        self._put_async_invoke(self._want(c))

    def _update_alias(self, c: Change) -> None:
        if self._changed(c, "fingerprint"):
            version = self._alias_target(c)
            call(self.ctx.client("lambda"), "update_alias",
                 resource=f"{self._function_name()}:live", FunctionName=self._function_name(),
                 Name=naming.ALIAS, FunctionVersion=version)
        if self._changed(c, "async_invoke"):
            self._put_async_invoke(self._want(c))

    def _put_async_invoke(self, w: Resource) -> None:
        cfg = w.spec["async_invoke"]
        lam = self.ctx.client("lambda")
        # Lambda checks that the role may send to the destination; a role policy just written
        # takes a few seconds to count (IAM propagation).
        _while_propagating("permission", lambda: call(
            lam, "put_function_event_invoke_config", resource=f"{self._function_name()}:live",
            FunctionName=self._function_name(), Qualifier=naming.ALIAS,
            MaximumRetryAttempts=cfg["MaximumRetryAttempts"],
            MaximumEventAgeInSeconds=cfg["MaximumEventAgeInSeconds"],
            DestinationConfig={"OnFailure": {"Destination": cfg["OnFailure"]}}))

    def _delete_alias(self, c: Change) -> None:
        call(self.ctx.client("lambda"), "delete_alias", resource=f"{self._function_name()}:live",
             FunctionName=self._function_name(), Name=naming.ALIAS)

    def _create_permission(self, c: Change) -> None:
        w = self._want(c)
        call(self.ctx.client("lambda"), "add_permission", resource=f"{self._function_name()}:live",
             FunctionName=self._function_name(), Qualifier=naming.ALIAS, StatementId=w.name,
             Action=w.spec["action"], Principal=w.spec["principal"],
             SourceArn=w.spec["source_arn"])

    def _update_permission(self, c: Change) -> None:
        # Statements are immutable: replace.
        self._delete_permission(c)
        self._create_permission(c)

    def _delete_permission(self, c: Change) -> None:
        call(self.ctx.client("lambda"), "remove_permission",
             resource=f"{self._function_name()}:live", FunctionName=self._function_name(),
             Qualifier=naming.ALIAS, StatementId=c.name)


def move_alias(ctx: AwsContext, function: str, version: str, *,
               revision_id: str | None = None) -> str:
    """Point `function`'s `live` alias at `version` (a deployment rollback); return the
    version read back. With `revision_id` the move is conditional: if someone deployed or
    rolled back since the alias was read, Lambda refuses (PreconditionFailedException)
    instead of clobbering their change."""
    lam = ctx.client("lambda")
    kw: dict[str, Any] = {"FunctionName": function, "Name": naming.ALIAS,
                          "FunctionVersion": version}
    if revision_id:
        kw["RevisionId"] = revision_id
    call(lam, "update_alias", resource=f"{function}:{naming.ALIAS}", **kw)
    after = call(lam, "get_alias", resource=f"{function}:{naming.ALIAS}", FunctionName=function,
                 Name=naming.ALIAS)
    return str(after["FunctionVersion"])
