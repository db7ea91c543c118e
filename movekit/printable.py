"""Text from a bundle, a cluster or a file, made safe to show on a terminal.

Names, annotations, exclusion details and the API server's own messages are data an attacker
may write. Shown raw, an escape sequence in one could recolour or rewrite the screen, set the
window title, plant a hyperlink, or reorder the line around it (Unicode bidi controls). Every
line movekit prints passes what it quotes through :func:`printable`.
"""

from __future__ import annotations

# After a backslash, what would make it read as the start of an escape.
_ESCAPE_LETTERS = ("\\", "x", "u", "U")


def printable(text: object, *, keep_newlines: bool = False) -> str:
    r"""``text`` with every character a terminal could act on shown as an escape.

    Controls (C0, DEL, C1), format characters such as the bidi overrides and zero-width spaces,
    line and paragraph separators, surrogates and anything else Python does not call printable
    become ``\xNN``, ``\uNNNN`` or ``\UNNNNNNNN``. A backslash is doubled where it would
    otherwise read as such an escape, so distinct texts stay distinct. ``keep_newlines`` is for
    messages written as several lines (an error that lists problems): ``\n`` stays a newline.
    """
    value = str(text)
    if keep_newlines:
        return "\n".join(printable(part) for part in value.split("\n"))
    if value.isprintable() and "\\" not in value:
        return value
    return "".join(_escaped(value, i) for i in range(len(value)))


def _escaped(value: str, index: int) -> str:
    char = value[index]
    if char == "\\":
        following = value[index + 1:index + 2]
        ambiguous = following in _ESCAPE_LETTERS or not following.isprintable()
        return "\\\\" if ambiguous else "\\"
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
