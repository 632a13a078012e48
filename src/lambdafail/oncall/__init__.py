"""The on-call core: what a person steering lambdafail at 3 a.m. reads and does.

`model` (the results the renderers draw), `common` (time helpers, the dead-man's switch, the
adapters onto the runtime), `status`, `history`, `switch` (manual failover / rollback). The
deployment rollback (moving the `live` alias) is deploy/rollback.py.

Rule: no click, no rich; every AWS call goes through an `AwsContext`, so it is counted.
"""
