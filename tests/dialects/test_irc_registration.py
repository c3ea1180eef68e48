"""IRC registration in memory (tests/memnet.py): PASS/NICK/USER, CAP negotiation, PING, QUIT."""

from __future__ import annotations

from irc_lines import irc_params, irc_verb
from memnet import MemoryNet

from chat.config import Limits, Listener, ServerConfig


def test_cap_negotiation_delays_registration_until_cap_end() -> None:
    net = MemoryNet()
    c = net.connect()
    c.line("CAP LS 302")
    c.line("NICK alice")
    c.line("USER al 0 * :Alice")
    caps = irc_params(c.verb("CAP"))
    assert caps[:2] == ["*", "LS"] and "server-time" in caps[2].split()
    c.line("CAP REQ :server-time bogus-cap")
    assert irc_params(c.verb("CAP"))[1:] == ["NAK", "server-time bogus-cap"]
    c.line("CAP REQ :server-time echo-message")
    assert irc_params(c.verb("CAP"))[1:] == ["ACK", "server-time echo-message"]
    c.line("PING :before-end")  # answered at once, and still no welcome
    c.expect("before-end")
    assert not any(irc_verb(line) == "001" for line in c.received)
    c.line("CAP END")
    c.numeric("001")
    c.line("CAP LIST")
    assert irc_params(c.verb("CAP"))[1:] == ["LIST", "echo-message server-time"]


def test_nick_errors_before_registration_leave_the_client_free_to_retry() -> None:
    net = MemoryNet()
    net.irc("Alice")
    c = net.connect(dialect="irc")  # a bare "NICK" is no first line: a person may type it
    c.line("NICK")
    c.numeric("431")
    c.line("PRIVMSG #lobby :too early")
    assert c.numeric("451")  # with "*" as the recipient before registration
    assert c.received[-1].split()[2] == "*"
    c.line("NICK alice")
    c.line("USER al 0 * :Alice")
    assert c.numeric("433")[0] == "alice"  # case-insensitive: Alice holds it
    c.line("NICK 9lives")
    assert c.numeric("432")[0] == "9lives"
    c.line("NICK alice_")
    c.numeric("001")
    c.line("USER again 0 * :x")
    c.numeric("462")
    c.line("USER")
    c.numeric("462")


def test_user_needs_four_params() -> None:
    net = MemoryNet()
    c = net.connect()
    c.line("NICK onlyone")
    c.line("USER onlyone")
    assert c.numeric("461")[0] == "USER"


def test_nick_is_free_again_once_its_connection_closes() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    bob = net.irc("bob", "#lobby")
    alice.close()
    bob.verb("QUIT")
    again = net.connect()
    again.line("NICK alice")
    again.line("USER a 0 * :a")
    again.numeric("001")


def test_pass_is_accepted_and_ping_pong_both_ways() -> None:
    net = MemoryNet(ping_interval=0.3, ping_timeout=10)
    c = net.connect()
    c.line("PASS anything")
    c.line("NICK alice")
    c.line("USER a 0 * :a")
    c.numeric("001")
    c.line("PING :12345")
    assert irc_params(c.expect("12345"))[-1] == "12345"
    net.advance(0.3)
    ping = c.verb("PING")  # the server asks once the client has been quiet
    net.advance(0.1)  # the answer takes time: the hub counts a PONG at the ping's instant as none
    c.line(f"PONG :{irc_params(ping)[-1]}")
    net.advance(10.2)  # the next check is ping_timeout after the ping, and finds it answered
    c.verb("PING")  # answered, so still connected and pinged again later
    c.line("PING")
    c.numeric("409")


def test_quit_closes_with_error_and_tells_the_room() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    bob = net.irc("bob", "#lobby")
    bob.line("QUIT :see you")
    assert irc_params(alice.verb("QUIT")) == ["see you"]
    assert any(line.startswith("ERROR :") for line in bob.wait_closed())


def test_a_person_on_an_irc_only_port_is_told_where_plain_text_chat_is() -> None:
    config = ServerConfig(port=7777, listeners=(Listener(6667, dialect="irc"),),
                          limits=Limits(rate_per_second=0, ping_interval=0))
    net = MemoryNet(config)
    person = net.connect(dialect="irc")  # what telnet to port 6667 gets
    person.line("hello?")
    assert person.numeric("451")
    hint = person.expect("NOTICE * :*** ")
    assert "speaks IRC" in hint and "NICK yourname" in hint
    assert "For plain-text chat (telnet, nc), connect to port 7777 instead." in hint
    person.line("anyone there")  # told once: then 451 alone
    person.numeric("451")
    assert not any("NOTICE" in line for line in person.new())
    net.advance(config.limits.register_timeout)
    (error,) = person.wait_closed()
    assert error.startswith("ERROR :Closing Link: 127.0.0.1 (Registration timed out. ")
    assert "connect to port 7777" in error
    client = net.connect(dialect="irc")  # an IRC client never sees the hint
    client.line("NICK ircer").line("USER ircer 0 * :IRC user")
    client.numeric("001")
    assert not any("speaks IRC" in line for line in client.lines)


def test_an_irc_client_sending_a_command_while_negotiating_is_not_told_to_use_an_irc_client(
        ) -> None:
    """irssi opens with CAP LS 302 and JOIN : (before registering, on purpose): it gets 451
    for the JOIN, not the hint meant for a person typing words."""
    config = ServerConfig(port=7777, listeners=(Listener(6667, dialect="irc"),),
                          limits=Limits(rate_per_second=0, ping_interval=0))
    irssi = MemoryNet(config).connect(dialect="irc")
    irssi.line("CAP LS 302").line("JOIN :")
    assert irssi.numeric("451")
    irssi.line("CAP END").line("NICK ircer").line("USER ircer 0 * :IRC user")
    irssi.numeric("001")
    assert not any("speaks IRC" in line for line in irssi.lines)


def test_with_no_plain_text_port_the_hint_says_how_to_register() -> None:
    config = ServerConfig(port=0, limits=Limits(rate_per_second=0))  # port picked at start
    person = MemoryNet(config).connect(dialect="irc")
    person.line("hi")
    hint = person.expect("NOTICE * :*** ")
    assert "NICK yourname" in hint and "port" not in hint
