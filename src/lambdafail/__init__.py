"""lambdafail: automatic, exactly-once failover for services on AWS.

Rule: the version lives here and only here (hatch reads it for the package metadata); this
module imports nothing (the orchestrator's zip ships it).
"""

__version__ = "0.1.0"
