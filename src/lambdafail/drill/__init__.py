"""Drills: rehearse an outage of one service and grade it against its RTO.

The package: `journal` (the crash-proof record), `grading` (pure timings and verdict),
`scenarios` (one class per way to cause an outage), `runner` (the phases), `restore` (the
restore phase), `signals` (Ctrl-C/SIGTERM handling), `report` (report.json/md, junit, SVG).
Rule: no click, no rich anywhere in it; `cli/commands/drill.py` renders its events.
"""
