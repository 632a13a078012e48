"""The embedded sandbox: a moto server plus the pieces moto lacks (see docs/sandbox.md).

Rule: nothing here changes what `deploy` creates; only this package imports moto, and only
when a sandbox actually runs.
"""
