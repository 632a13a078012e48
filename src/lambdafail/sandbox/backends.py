"""The one door into moto's in-process backends, for the sandbox's other pieces.

Rule: every read of moto internals (`events_backends`, Lambda, SQS, CloudWatch backends) goes
through here, so a moto upgrade breaks one small module. Tested with moto 5.2.1 (the pin in
the `sandbox` extra); `check_version()` says so when another moto is installed.
"""

from __future__ import annotations

from typing import Any

from lambdafail.base.errors import UsageError

TESTED_MOTO = "5.2.1"
INSTALL_HINT = "pip install 'lambdafail[sandbox]'"
# moto maps the fake credentials ("testing") to this account; the sandbox serves only it.
ACCOUNT_ID = "123456789012"


def require_moto() -> str:
    """Import moto's server pieces or raise a UsageError (exit 2) saying how to get them."""
    try:
        import moto
        import moto.moto_server.werkzeug_app  # needs flask/werkzeug (moto[server])
        import werkzeug.serving  # noqa: F401
    except ImportError as e:
        raise UsageError(f"the sandbox needs moto's server, which is not installed ({e.name or e})",
                         hint=INSTALL_HINT) from None
    return str(getattr(moto, "__version__", "unknown"))


def check_version() -> str | None:
    """A warning text if the installed moto is not the one the sandbox was tested with."""
    version = require_moto()
    if version != TESTED_MOTO:
        return (f"moto {version} is installed; the sandbox was tested with moto {TESTED_MOTO} "
                f"and may misbehave (fix: {INSTALL_HINT})")
    return None


def disable_lambda_docker() -> dict[str, Any]:
    """In-process equivalent of `POST /moto-api/config {"lambda": {"use_docker": false}}`.

    With docker on (moto's default), every Invoke that reaches moto fails with "error running
    docker"; off, moto serves Lambda from its docker-free backend (a separate store). Returns
    the previous setting for `restore_lambda_config` (the switch is process-wide: a later
    `mock_aws` in the same process would inherit it).
    """
    from moto.core.config import default_user_config
    from moto.moto_api._internal.models import moto_api_backend

    previous = dict(default_user_config.get("lambda") or {"use_docker": True})
    moto_api_backend.set_config({"lambda": {"use_docker": False}})
    return previous


def restore_lambda_config(previous: dict[str, Any]) -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.set_config({"lambda": previous})


def reset_all() -> None:
    """Forget every resource in every moto backend of this process (POST /moto-api/reset)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def events(region: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[ACCOUNT_ID][region]


def events_regions() -> list[tuple[str, Any]]:
    """(region, backend) for every region moto has created an events backend in so far."""
    from moto.events.models import events_backends

    per_region = events_backends[ACCOUNT_ID]
    # dict.items, not the AccountSpecificBackend API: that would create every region.
    return list(dict.items(per_region))


def lambda_backend(region: str) -> Any:
    # Honours the use_docker switch: the docker-free backend keeps its own functions.
    from moto.awslambda.utils import get_backend

    return get_backend(ACCOUNT_ID, region)


def get_function(region: str, name: str, qualifier: str | None) -> Any | None:
    """The LambdaFunction (a published version when qualified) or None if unknown."""
    try:
        return lambda_backend(region).get_function(name, qualifier)
    except Exception:  # UnknownFunctionException and friends
        return None


def sqs_send(region: str, queue_name: str, body: str, group_id: str | None = None) -> None:
    from moto.sqs.models import sqs_backends

    sqs_backends[ACCOUNT_ID][region].send_message(queue_name=queue_name, message_body=body,
                                                  group_id=group_id)


def cloudwatch(region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ACCOUNT_ID][region]


def sns(region: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[ACCOUNT_ID][region]


def iam_role(name: str) -> Any | None:
    """moto's Role (`.policies`: inline name → document, `.managed_policies`) or None."""
    from moto.iam.models import iam_backends

    try:
        return iam_backends[ACCOUNT_ID]["global"].get_role(name)
    except Exception:  # NoSuchEntity
        return None


def global_cluster(ident: str) -> Any | None:
    """moto's Aurora global cluster of that identifier (any Region), or None."""
    from moto.rds.models import rds_backends

    for region in list(rds_backends[ACCOUNT_ID].keys()):
        found = rds_backends[ACCOUNT_ID][region].global_clusters.get(ident.lower())
        if found is not None:
            return found
    return None


def global_members(cluster: Any) -> dict[str, Any]:
    """DB cluster ARN → moto's member cluster (its `is_writer` says which one writes)."""
    return {str(m.db_cluster_arn): m for m in cluster.members}


def autoscaling_group(region: str, name: str) -> Any | None:
    from moto.autoscaling.models import autoscaling_backends

    return autoscaling_backends[ACCOUNT_ID][region].autoscaling_groups.get(name)


def dynamodb_table(region: str, name: str) -> Any | None:
    """moto's DynamoDB Table of that name in `region` (`len()`: its items), or None."""
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT_ID][region].tables.get(name)


def dynamodb_table_names(region: str) -> list[str]:
    """The table names moto has in `region`, in ListTables's order."""
    from moto.dynamodb.models import dynamodb_backends

    return list(dynamodb_backends[ACCOUNT_ID][region].tables)
