"""IRC formatting codes (chat/dialects/formatting.py): stripped for terminals, read as spans."""

from __future__ import annotations

from chat.dialects.formatting import COLOURS, PLAIN, Style, spans, strip


def test_strip_removes_codes_and_colour_numbers_only() -> None:
    assert strip("plain 42, text") == "plain 42, text"
    assert strip("\x0304,12red\x03 \x0399x\x03,5 \x03") == "red x,5 "
    assert strip("\x02b\x0f\x1di\x1d\x1fu\x1f\x1es\x1e\x11m\x11\x16r\x16") == "biusmr"
    assert strip("\x04FF8800,000000hex\x04 after") == "hex after"
    assert strip("\x031234") == "34"  # two digits at most


def test_spans_follow_toggles_colours_and_reset() -> None:
    assert spans("plain") == [(PLAIN, "plain")]
    got = spans("a\x02b\x1dc\x0f d\x0304,01e\x03f\x0312g")
    assert got == [
        (PLAIN, "a"),
        (Style(bold=True), "b"),
        (Style(bold=True, italic=True), "c"),
        (PLAIN, " d"),
        (Style(fg=COLOURS[4], bg=COLOURS[1]), "e"),
        (PLAIN, "f"),
        (Style(fg=COLOURS[12]), "g"),
    ]
    assert spans("\x0399default") == [(Style(), "default")]
    assert spans("\x04aabbccx") == [(Style(fg="aabbcc"), "x")]
