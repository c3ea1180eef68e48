"""IRCv3 features and room modes over real sockets, on both engines (the rules themselves are
tested in memory in tests/dialects/): labeled-response, TAGMSG, STATUSMSG, secret rooms, CTCP
to a telnet user and formatting stripped for it."""

from __future__ import annotations

from collections.abc import Callable

from conftest import IrcClient
from irc_lines import irc_params, irc_verb
from support import Clients

Irc = Callable[..., IrcClient]


def test_labeled_response_and_tagmsg(irc: Irc) -> None:
    caps = ("labeled-response", "batch", "message-tags")
    alice = irc("alice", "#room", caps=caps)
    bob = irc("bob", "#room", caps=caps)
    alice.cmd("@label=abc PING :x")
    pong = alice.verb("PONG")
    assert pong.startswith("@label=abc :")
    alice.cmd("@label=def PRIVMSG #room :hi")
    assert alice.verb("ACK").startswith("@label=def :")
    assert "label" not in bob.expect("hi").partition(" ")[0]
    alice.cmd("@label=ghi WHOIS bob")
    start = alice.verb("BATCH")
    assert start.startswith("@label=ghi ") and start.endswith(" labeled-response")
    alice.numeric("318")
    alice.cmd("@+typing=active TAGMSG #room")
    assert "+typing=active" in bob.verb("TAGMSG")


def test_statusmsg_and_secret_rooms(irc: Irc) -> None:
    alice = irc("alice", "#ops")
    bob = irc("bob", "#ops")
    bob.cmd("PRIVMSG @#ops :for the operators")
    assert alice.expect("for the operators").endswith("PRIVMSG @#ops :for the operators")
    alice.cmd("MODE #ops +s")
    alice.verb("MODE")
    carol = irc("carol")
    carol.cmd("LIST")
    carol.numeric("323")
    assert not any(irc_verb(x) == "322" and "#ops" in x for x in carol.received)
    bob.sync()
    assert not any("for the operators" in x for x in bob.received)


def test_ctcp_to_a_telnet_user_and_formatting(clients: Clients, irc: Irc) -> None:
    hank = clients.human("hank")
    ircer = irc("ircer", "#lobby")
    ircer.cmd("PRIVMSG hank :\x01VERSION\x01")
    reply = ircer.verb("NOTICE")
    assert reply.startswith(":hank!") and irc_params(reply)[1].startswith("\x01VERSION chat-")
    ircer.cmd("PRIVMSG #lobby :\x02loud\x02 \x0304red\x03")
    assert hank.expect("loud").endswith("<ircer> loud red")
    assert not any("VERSION" in x for x in hank.received)
