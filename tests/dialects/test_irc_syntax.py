"""The IRC dialect's pure pieces: parsing a line, splitting UTF-8, sniffing the first line."""

from __future__ import annotations

from chat.dialects.irc import IrcDialect, parse, split_utf8


def test_parse_handles_tags_prefix_and_trailing() -> None:
    assert parse("privmsg #a :hello :world") == ("PRIVMSG", ["#a", "hello :world"])
    assert parse(":me!x@y JOIN #a,#b k1") == ("JOIN", ["#a,#b", "k1"])
    assert parse("QUIT :") == ("QUIT", [""])
    assert parse("   ") == ("", [])

def test_split_utf8_never_cuts_a_character_and_prefers_spaces() -> None:
    text = "é" * 300 + " word " + "x" * 50
    pieces = split_utf8(text, 100)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert all(len(p.encode()) <= 100 for p in pieces)

def test_sniff_recognises_irc_openers() -> None:
    for line in (b"CAP LS 302", b"nick bob", b"USER a 0 * :b", b"PASS x"):
        assert IrcDialect.sniff(line)
    for line in (b"bob", b'{"type": "hello"}', b"", b"NICKNAME"):
        assert not IrcDialect.sniff(line)
