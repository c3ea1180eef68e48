"""Message tags as text (chat/dialects/irc/tags.py), and odd tags on a real hub in memory."""

from __future__ import annotations

from irc_lines import assert_all_irc
from memnet import MemoryNet

from chat.dialects.irc.tags import client_only, escape, format_tags, split_tags, unescape


def test_escapes_round_trip_and_odd_escapes_are_read_as_the_spec_says() -> None:
    for value in ("plain", "a b;c\\d\r\ne", "", "\\", ";;"):
        assert unescape(escape(value)) == value
    assert unescape("a\\sb\\:c\\\\d") == "a b;c\\d"
    assert unescape("trailing\\") == "trailing"  # a lone backslash at the end is dropped
    assert unescape("\\x\\b") == "xb"  # an unknown escape is the character itself


def test_split_keeps_the_last_duplicate_and_client_only_keeps_plus_keys() -> None:
    tags = split_tags("a=1;+b=2;;=x;+b=3;+c;+bad key=1;+ok/x.y-z=v;+é=1")
    assert tags["+b"] == "3" and tags["a"] == "1" and tags["+c"] == ""
    assert client_only(tags) == (("+b", "3"), ("+c", ""), ("+ok/x.y-z", "v"))
    assert format_tags((("+b", "a b"), ("+c", ""))) == "+b=a\\sb;+c"


def test_odd_tags_never_break_anyone() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=("message-tags",))
    bob = net.irc("bob", "#room", caps=("message-tags", "server-time"))
    for raw in ("@", "@;", "@=", "@+", "@+a=\\", "@+a=b\\sc;+a=d", "@label", "@+x=\r",
                "@" + "+k=v;" * 500):
        alice.line(f"{raw} PRIVMSG #room :after {len(raw)}")
    alice.line("PRIVMSG #room :done")
    bob.expect("done")
    assert_all_irc(bob.received)
    assert_all_irc(alice.received + alice.new())
    assert any("+a=d" in line for line in bob.received)
