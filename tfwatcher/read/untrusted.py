"""Text a session's writer chose (run names, metric names, error messages, config), made safe
for where a reader shows or saves it.

Whoever runs a session controls that text, and other people read it: in a terminal, an
escape sequence could write the clipboard (OSC 52), retitle the window, clear the screen or
move the cursor to fake what is shown; in a spreadsheet, a cell starting with `=` runs as a
formula. docs/security.md lists the threats and the tests.
"""

from __future__ import annotations

import re

# Bidirectional overrides and isolates: they reorder what follows ("loss\u202etxt.exe" shows
# as "lossexe.txt"), so they are shown by name instead.
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
# C0 controls and DEL, and C1 controls (0x80-0x9F: 0x9B alone starts a CSI sequence in some
# terminals); tab, line feed and carriage return become a space.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACE = frozenset("\t\n\r")

#: First characters a spreadsheet reads as the start of a formula (OWASP "CSV injection"),
#: plus the quote itself so that removing one leading `'` always gives the original back.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _visible(match: re.Match) -> str:
    char = match.group()
    if char in _SPACE:
        return " "
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ESC shows as ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"⟨U+{code:04X}⟩"


def terminal_text(text) -> str:
    """`text` as a string a terminal shows as it reads: no escape sequence can start.

    C0 controls become their control pictures (ESC is `␛`), tab, CR and LF a space, C1
    controls and bidi overrides `⟨U+XXXX⟩`. Everything else is kept.
    """
    return _CONTROL.sub(_visible, str(text))


def terminal_tree(value):
    """`value` (dicts, lists, tuples, strings, numbers) with every string, keys included,
    passed through `terminal_text`; other values are returned as they are."""
    if isinstance(value, str):
        return terminal_text(value) if _CONTROL.search(value) else value
    if isinstance(value, dict):
        return {terminal_tree(k): terminal_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [terminal_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(terminal_tree(v) for v in value)
    return value


def spreadsheet_cell(value):
    """A text cell a spreadsheet will not run as a formula: `'` in front of text starting with
    one of FORMULA_START. Anything that is not a string (a number) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
