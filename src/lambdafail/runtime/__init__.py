"""Code that runs inside AWS Lambda as the orchestrator, and that the CLI reuses.

Rule: stdlib + boto3 only (a test imports this package with click, rich, yaml and pydantic
unavailable); boto3 clients are passed in or created lazily, never at import time.
"""
