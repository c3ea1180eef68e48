"""End-to-end IRC smoke tests over real sockets, against both engines.

IRC behaviour belongs to the dialect, the core and the hub, and is tested in memory in
tests/dialects/ (no sockets, a fake clock). These few check the whole path on each engine:
registration, and one room shared by telnet, JSON-lines and IRC clients.
"""

from __future__ import annotations

from collections.abc import Callable

from conftest import IrcClient
from irc_lines import assert_all_irc
from support import Clients

Irc = Callable[..., IrcClient]


def raw_irc(clients: Clients) -> IrcClient:
    client = IrcClient(clients.server.host, clients.server.port)
    clients.all.append(client)
    return client


def test_welcome_burst_isupport_and_motd(clients: Clients) -> None:
    c = raw_irc(clients)
    c.cmd("NICK alice")
    c.cmd("USER al 0 * :Alice Liddell")
    assert c.numeric("001")[-1].endswith("alice!al@127.0.0.1")
    c.numeric("002")
    c.numeric("003")
    assert c.numeric("004")[:1] == ["chat.local"]
    isupport = " ".join(c.numeric("005")) + " " + " ".join(c.numeric("005"))
    for token in ("CASEMAPPING=ascii", "CHANTYPES=#", "NICKLEN=30", "CHANNELLEN=50",
                  "TOPICLEN=390", "PREFIX=(ov)@+", "CHANMODES=beI,k,l,imnpst"):
        assert token in isupport
    c.numeric("375")
    assert c.numeric("372") == ["- Be kind."]
    c.numeric("376")
    assert_all_irc(c.received)


def test_a_message_reaches_telnet_structured_and_irc_users_each_in_its_dialect(
        clients: Clients, irc: Irc) -> None:
    person = clients.human("tina")  # lands in #lobby, creating it
    bot = clients.bot("bert", "#lobby")
    ivan = irc("ivan", "#lobby")
    person.send("hello from telnet\r\n")
    assert ivan.expect("hello from telnet").startswith(":tina!tina@127.0.0.1 PRIVMSG #lobby :")
    bot.expect_json(type="message", text="hello from telnet")
    bot.request(type="message", to="#lobby", text="hello from json")
    ivan.expect(":bert!")
    person.expect("<bert> hello from json")
    ivan.cmd("PRIVMSG #lobby :hello from irc")
    person.expect("<ivan> hello from irc")
    assert bot.expect_json(type="message", text="hello from irc")["from"] == "ivan"
    ivan.cmd("PRIVMSG #lobby :\x01ACTION waves\x01")
    person.expect("* ivan waves")
    assert bot.expect_json(type="message", text="waves")["kind"] == "action"
    person.send("/me bows\r\n")
    assert ivan.expect("bows").endswith("PRIVMSG #lobby :\x01ACTION bows\x01")
    ivan.sync()
    # No echo-message: the IRC client never sees its own lines come back.
    assert not any("hello from irc" in line for line in ivan.received)
    assert_all_irc(ivan.received)
