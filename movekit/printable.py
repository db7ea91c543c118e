"""Text from a bundle, a cluster or a file, made safe to show on a terminal.

Names, annotations, exclusion details and the API server's own messages are data an attacker
may write. Shown raw, an escape sequence in one could recolour or rewrite the screen, set the
window title, plant a hyperlink, or reorder the line around it (Unicode bidi controls). Every
line movekit prints passes what it quotes through :func:`printable`.
"""

from __future__ import annotations

import re

_BACKSLASHES = re.compile(r"(\\+)")
# What makes a run of backslashes read as the start of an escape: x, u or U right after it.
_ESCAPE_LETTERS = "xuU"


def printable(text: object, *, message: bool = False) -> str:
    r"""``text`` with every character a terminal could act on shown as an escape.

    Controls (C0, DEL, C1), format characters such as the bidi overrides and zero-width spaces,
    line and paragraph separators, surrogates and anything else Python does not call printable
    become ``\xNN``, ``\uNNNN`` or ``\UNNNNNNNN``. Backslashes right before such an escape, or
    before a literal ``x``, ``u`` or ``U``, are doubled, so that distinct texts stay distinct
    while ordinary backslashes (a regular expression, say) read as they are.

    A ``message`` (an error or a warning) may span lines and already quotes what it names with
    ``repr``: its newlines stay, and its backslashes are left alone so that the quoting reads
    as written. Controls in it are escaped all the same.
    """
    value = str(text)
    if message:
        return "\n".join("".join(map(_escaped, line)) for line in value.split("\n"))
    if value.isprintable() and "\\" not in value:
        return value
    pieces = _BACKSLASHES.split(value)  # runs of backslashes at the odd indexes
    for index in range(1, len(pieces), 2):
        after = pieces[index + 1][:1]
        if after and (after in _ESCAPE_LETTERS or not after.isprintable()):
            pieces[index] *= 2
    for index in range(0, len(pieces), 2):
        pieces[index] = "".join(map(_escaped, pieces[index]))
    return "".join(pieces)


def _escaped(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
