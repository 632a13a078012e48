"""lambdafail: automatic, exactly-once failover for services on AWS.

The version lives here and only here (hatch reads it for the package metadata).
"""

__version__ = "0.1.0"
