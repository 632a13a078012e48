"""The executor's IAM part: the orchestrator's role, its inline policy and, past IAM's inline
quota, its managed policies under lambdafail's own path.

Rule: a policy is written before anything that needs it, and removed only after what used it.
"""

from __future__ import annotations

import json

from lambdafail.aws import call
from lambdafail.base.errors import AwsError
from lambdafail.deploy.apply_base import ExecutorBase
from lambdafail.deploy.planner import Change, Resource
from lambdafail.deploy.resources import tag_list as _tag_list
from lambdafail.model import naming


class IamChanges(ExecutorBase):
    # -- IAM role --------------------------------------------------------------------------

    def _put_inline(self, w: Resource) -> None:
        call(self.ctx.client("iam"), "put_role_policy", resource=w.name, RoleName=w.name,
             PolicyName=naming.INLINE_POLICY,
             PolicyDocument=json.dumps(w.spec["inline_policy"], sort_keys=True))

    def _create_role(self, c: Change) -> None:
        w = self._want(c)
        call(self.ctx.client("iam"), "create_role", resource=w.name, RoleName=w.name,
             AssumeRolePolicyDocument=json.dumps(w.spec["assume_role_policy"], sort_keys=True),
             Description=f"lambdafail {self.plan.topology}: orchestrator execution role",
             Tags=_tag_list(w.tags))
        self._put_inline(w)

    def _update_role(self, c: Change) -> None:
        w = self._want(c)
        client = self.ctx.client("iam")
        if self._changed(c, "assume_role_policy"):
            call(client, "update_assume_role_policy", resource=w.name, RoleName=w.name,
                 PolicyDocument=json.dumps(w.spec["assume_role_policy"], sort_keys=True))
        if self._changed(c, "inline_policy"):
            self._put_inline(w)
        if self._tags_changed(c):
            call(client, "tag_role", resource=w.name, RoleName=w.name, Tags=_tag_list(w.tags))

    def _delete_role(self, c: Change) -> None:
        client = self.ctx.client("iam")
        # IAM refuses to delete a role that still has inline policies.
        names = call(client, "list_role_policies", resource=c.name,
                     RoleName=c.name).get("PolicyNames", [])
        for p in names:
            call(client, "delete_role_policy", resource=f"{c.name}/{p}", RoleName=c.name,
                 PolicyName=p)
        # ...or attached managed policies (someone may have attached one to our role by hand:
        # detaching it from the role we own and delete is the only way to converge).
        attached = call(client, "list_attached_role_policies", resource=c.name,
                        RoleName=c.name).get("AttachedPolicies", [])
        for p in attached:
            call(client, "detach_role_policy", resource=f"{c.name}/{p['PolicyName']}",
                 RoleName=c.name, PolicyArn=p["PolicyArn"])
        call(client, "delete_role", resource=c.name, RoleName=c.name)

    # -- the role's managed policies (past the inline quota) --------------------------------

    def _create_policy(self, c: Change) -> None:
        w = self._want(c)
        client = self.ctx.client("iam")
        call(client, "create_policy", resource=w.name, PolicyName=w.name,
             Path=w.context.get("path") or naming.policy_path(self.plan.topology),
             PolicyDocument=json.dumps(w.spec["document"], sort_keys=True),
             Description=f"lambdafail {self.plan.topology}: orchestrator permissions",
             Tags=_tag_list(w.tags))
        call(client, "attach_role_policy", resource=w.context["role"],
             RoleName=w.context["role"], PolicyArn=w.context["arn"])

    def _update_policy(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        client = self.ctx.client("iam")
        arn = a.context["arn"]
        if self._changed(c, "document"):
            # A managed policy keeps at most 5 versions: drop the oldest non-default first.
            versions = call(client, "list_policy_versions", resource=w.name,
                            PolicyArn=arn)["Versions"]
            old = sorted((v for v in versions if not v["IsDefaultVersion"]),
                         key=lambda v: v["CreateDate"])
            for v in old[:max(0, len(versions) - 4)]:
                call(client, "delete_policy_version", resource=w.name, PolicyArn=arn,
                     VersionId=v["VersionId"])
            call(client, "create_policy_version", resource=w.name, PolicyArn=arn,
                 PolicyDocument=json.dumps(w.spec["document"], sort_keys=True),
                 SetAsDefault=True)
        if self._changed(c, "attached"):
            call(client, "attach_role_policy", resource=w.context["role"],
                 RoleName=w.context["role"], PolicyArn=arn)
        if self._tags_changed(c):
            call(client, "tag_policy", resource=w.name, PolicyArn=arn, Tags=_tag_list(w.tags))

    def _delete_policy(self, c: Change) -> None:
        a = self._have(c)
        client = self.ctx.client("iam")
        arn = a.context["arn"]
        if a.context.get("attached"):
            try:
                call(client, "detach_role_policy", resource=a.context["role"],
                     RoleName=a.context["role"], PolicyArn=arn)
            except AwsError as e:
                if e.code != "NoSuchEntity":
                    raise
        # IAM refuses to delete a policy that still has versions other than the default.
        for v in call(client, "list_policy_versions", resource=a.name,
                      PolicyArn=arn)["Versions"]:
            if not v["IsDefaultVersion"]:
                call(client, "delete_policy_version", resource=a.name, PolicyArn=arn,
                     VersionId=v["VersionId"])
        call(client, "delete_policy", resource=a.name, PolicyArn=arn)
