"""IRCv3 labeled-response in memory (tests/memnet.py): one reply tagged, several in a
labeled-response batch, none answered with ACK, later answers labelled when they come."""

from __future__ import annotations

from irc_lines import irc_params, irc_tags, irc_verb
from memnet import MemoryNet

CAPS = ("labeled-response", "batch", "message-tags")


def test_a_lone_reply_carries_the_label() -> None:
    net = MemoryNet()
    alice = net.irc("alice", caps=CAPS)
    alice.line("@label=p1 PING :hello")
    pong = alice.verb("PONG")
    assert irc_tags(pong) == {"label": "p1"} and pong.endswith(" PONG chat.local :hello")
    alice.line("@label=e1 PRIVMSG nobody :hi")
    error = alice.verb("401")
    assert irc_tags(error) == {"label": "e1"}


def test_several_replies_come_in_a_labeled_batch() -> None:
    net = MemoryNet()
    net.irc("bob", "#room")
    alice = net.irc("alice", caps=CAPS)
    alice.new()
    alice.line("@label=w1 WHOIS bob")
    lines = alice.new()
    start = lines[0]
    assert irc_tags(start) == {"label": "w1"}
    batch = irc_params(start)[0][1:]
    assert irc_params(start) == [f"+{batch}", "labeled-response"]
    assert [irc_verb(x) for x in lines[1:-1]] == ["311", "319", "312", "317", "318"]
    assert all(irc_tags(x) == {"batch": batch} for x in lines[1:-1])
    assert lines[-1].endswith(f"BATCH -{batch}") and "label" not in lines[-1]
    alice.line("@label=j1 JOIN #room")  # JOIN, NAMES and the rest: one batch
    lines = alice.new()
    assert irc_tags(lines[0]) == {"label": "j1"}
    assert irc_verb(lines[1]) == "JOIN" and irc_verb(lines[-2]) == "366"


def test_no_reply_gets_an_ack_and_others_never_see_the_label() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=CAPS)
    bob = net.irc("bob", "#room", caps=CAPS)
    alice.new()
    alice.line("@label=m1 PRIVMSG #room :no echo wanted")
    assert alice.new() == ["@label=m1 :chat.local ACK"]
    assert "label" not in irc_tags(bob.expect("no echo wanted"))
    alice.line("@label=m2 PONG :whatever")
    assert alice.new() == ["@label=m2 :chat.local ACK"]


def test_echo_message_is_the_labelled_reply() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=(*CAPS, "echo-message"))
    bob = net.irc("bob", "#room", caps=(*CAPS, "echo-message"))
    alice.new()
    alice.line("@label=m3;+draft/reply=x PRIVMSG #room :echoed")
    (echo,) = alice.new()
    assert irc_tags(echo)["label"] == "m3" and echo.endswith("PRIVMSG #room :echoed")
    theirs = bob.expect("echoed")
    assert "label" not in irc_tags(theirs) and irc_tags(theirs)["+draft/reply"] == "x"
    # Messages after it, from the same sender to the same room, are not labelled.
    alice.line("PRIVMSG #room :plain one")
    assert "label" not in irc_tags(alice.expect("plain one"))


def test_without_batch_only_the_first_reply_is_labelled() -> None:
    net = MemoryNet()
    net.irc("bob")
    alice = net.irc("alice", caps=("labeled-response",))
    alice.new()
    alice.line("@label=w2 WHOIS bob")
    lines = alice.new()
    assert irc_tags(lines[0]) == {"label": "w2"} and irc_verb(lines[0]) == "311"
    assert all(not x.startswith("@") for x in lines[1:])


def test_labels_are_ignored_without_the_cap_or_when_too_long() -> None:
    net = MemoryNet()
    alice = net.irc("alice", caps=("batch",))
    alice.line("@label=p1 PING :x")
    assert not alice.verb("PONG").startswith("@")
    bob = net.irc("bob", caps=CAPS)
    bob.line(f"@label={'x' * 65} PING :y")
    assert not bob.verb("PONG").startswith("@")


def test_a_history_page_answered_later_carries_the_label() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=(*CAPS, "draft/chathistory", "server-time"))
    alice.line("PRIVMSG #room :remember me")
    alice.new()
    alice.line("@label=h1 CHATHISTORY LATEST #room * 10")
    lines = alice.new()
    assert irc_tags(lines[0])["label"] == "h1"
    assert irc_params(lines[0])[1] == "chathistory"
    assert any("remember me" in x for x in lines)
    assert not any(irc_verb(x) == "ACK" for x in lines)
