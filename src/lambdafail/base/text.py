"""Text from users (a `--reason`, an actor, a note in the log) made safe for a terminal.

Rule: anything a person or another tool wrote passes `terminal_safe` before it is printed:
control characters (ESC sequences, BEL, backspace, C1 codes) and bidirectional overrides are
removed, tabs and newlines become spaces. JSON output needs none of this (json.dumps escapes
control characters). Stdlib only.
"""

from __future__ import annotations

import unicodedata

# Unicode bidirectional embedding/override/isolate marks: they reorder what a terminal shows.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def terminal_safe(text: str) -> str:
    """`text` without control characters or bidi overrides; whitespace controls → spaces."""
    if text.isprintable():
        return text
    return "".join(" " if ch in "\t\n\r\v\f" else ""
                   if unicodedata.category(ch) == "Cc" or ch in _BIDI else ch
                   for ch in text)
