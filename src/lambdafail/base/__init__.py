"""Base layer: exit codes and errors, the injected environment. Imports nothing of lambdafail's."""
