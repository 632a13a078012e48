"""One module per CLI command, each exposing `command` (a click.Command).

Rule: these modules stay thin (parse flags, call the core, render) and import heavy libraries
inside the command body so that `lambdafail --help` never pays for them.
"""
