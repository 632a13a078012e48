"""Deploy layer: inventory (read-only) -> planner (pure) -> executor (the only mutator), the zip, IAM, cost."""
