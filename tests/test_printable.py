"""What movekit quotes from a bundle or a cluster is shown escaped: no character in it can act
on a terminal, and two different texts never look the same."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from movekit.printable import printable

# Everything the escaping must catch, by what it would do on a terminal.
DANGEROUS = {
    "CSI colour": "\x1b[31m",
    "OSC 8 hyperlink": "\x1b]8;;https://evil.example\x1b\\",
    "OSC window title": "\x1b]0;title\x07",
    "C1 CSI": "\x9b31m",
    "bell": "\x07",
    "backspace": "\x08",
    "carriage return": "\r",
    "line feed": "\n",
    "tab": "\t",
    "delete": "\x7f",
    "next line (C1)": "\x85",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "pop directional formatting": "\u202c",
    "right-to-left isolate": "\u2067",
    "pop directional isolate": "\u2069",
    "zero-width space": "\u200b",
    "right-to-left mark": "\u200f",
    "byte order mark": "\ufeff",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "lone surrogate": "\ud800",
    "tag character": "\U000e0041",
}

# What a terminal or a Unicode renderer may act on: controls, format characters, separators
# other than the space, surrogates.
ACTIVE = ("Cc", "Cf", "Cs", "Zl", "Zp")


def active_characters(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ACTIVE]


def unescape(shown: str) -> str:
    """The inverse of ``printable``, to prove that it loses nothing: before an escape or a
    literal x, u or U, a run of backslashes was doubled, and an odd one ends in the escape."""

    def original(match: re.Match[str]) -> str:
        run, after = match[1], match[2]
        if not after:
            return run
        if len(run) % 2 == 0:
            return run[:len(run) // 2] + after
        return run[:len(run) // 2] + chr(int(after[1:], 16))

    return re.sub(r"(\\+)(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[xuU])?", original, shown)


@pytest.mark.parametrize("sequence", DANGEROUS.values(), ids=DANGEROUS.keys())
def test_every_dangerous_character_is_shown_as_an_escape(sequence: str) -> None:
    shown = printable(f"name-{sequence}-end")
    assert not active_characters(shown)
    assert shown.isascii() and shown.isprintable()
    assert shown.startswith("name-") and shown.endswith("-end")
    assert unescape(shown) == f"name-{sequence}-end"


def test_the_escapes_read_as_a_python_literal_would() -> None:
    assert printable("a\x1b[31mb\x9bc\u202ed\U000e0041") == "a\\x1b[31mb\\x9bc\\u202ed\\U000e0041"


def test_ordinary_text_is_unchanged() -> None:
    for text in ("c1-control-plane", "héllo ✓ 日本語", "[bold]not markup[/bold] :smile:",
                 r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]+)*$", "C:\\path\\to", "",
                 r"does not match '^https?://[^@/?#\\s]+$'", "ends in \\"):
        assert printable(text) == text


def test_backslashes_that_would_read_as_an_escape_are_doubled() -> None:
    assert printable(r"\x1b") == r"\\x1b"
    assert printable("\\\x1b") == r"\\\x1b"
    assert printable(r"\u202e \U0001f600") == r"\\u202e \\U0001f600"
    assert printable(r"\\x") == r"\\\\x"
    assert printable("\x1b") != printable(r"\x1b")


# Arbitrary text, and text made of what escapes are made of, where collisions would hide.
TEXTS = st.text() | st.text(alphabet="\\xuU01bef\x1b\x9b\u202e\n ")


@given(TEXTS)
def test_nothing_active_survives_and_nothing_is_lost(text: str) -> None:
    shown = printable(text)
    assert not active_characters(shown)
    assert shown.isprintable()
    assert unescape(shown) == text


@given(TEXTS, TEXTS)
def test_different_texts_are_shown_differently(first: str, second: str) -> None:
    if first != second:
        assert printable(first) != printable(second)


def test_a_message_keeps_its_lines_and_its_own_quoting_and_escapes_the_rest() -> None:
    shown = printable("2 problems:\n  - 'x\\x1b' \x1b[31mone\r\n  - two\u2028", message=True)
    assert shown == "2 problems:\n  - 'x\\x1b' \\x1b[31mone\\x0d\n  - two\\u2028"


@given(TEXTS)
def test_in_a_message_only_newlines_stay_active(text: str) -> None:
    shown = printable(text, message=True)
    assert not active_characters(shown.replace("\n", ""))
    assert shown.count("\n") == text.count("\n")
