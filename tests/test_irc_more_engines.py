"""WHOWAS, MONITOR, WHOX, LUSERS and whole relayed lines over real sockets, on both engines.

The rules are the core's and the dialect's and are tested in memory (tests/dialects/); these
check that the whole path carries them on each engine: a line past 512 bytes leaves the
engine whole, and what the core remembers (nick history, monitor lists) is there for the next
connection.
"""

from __future__ import annotations

from collections.abc import Callable

from conftest import IrcClient
from irc_lines import assert_all_irc, irc_verb
from support import Clients

Irc = Callable[..., IrcClient]


def test_a_full_512_byte_message_arrives_whole_as_one_line(clients: Clients, irc: Irc) -> None:
    alice = irc("alice", "#a")
    bob = irc("bob", "#a")
    person = clients.human("tina")
    person.send("/join #a\r\n")
    person.expect("tina joined #a")
    line = "PRIVMSG #a :" + "é" * 100 + "z" * (510 - 12 - 200)
    assert len(line.encode()) == 510
    alice.cmd(line)
    got = bob.verb("PRIVMSG")
    assert got == ":alice!alice@127.0.0.1 " + line and len(got.encode()) > 510
    bob.sync()
    assert sum(irc_verb(x) == "PRIVMSG" for x in bob.received) == 1
    person.expect("<alice> " + "é" * 100)
    assert_all_irc(bob.received)


def test_monitor_and_whowas_across_connections(irc: Irc) -> None:
    alice = irc("alice")
    alice.cmd("MONITOR + carol")
    assert alice.numeric("731") == ["carol"]
    carol = irc("carol")
    assert alice.numeric("730") == ["carol!carol@127.0.0.1"]
    carol.cmd("QUIT :gone")
    assert alice.numeric("731") == ["carol"]
    alice.cmd("WHOWAS carol")
    assert alice.numeric("314")[:2] == ["carol", "carol"]
    assert alice.numeric("369")[0] == "carol"


def test_whox_and_lusers(clients: Clients, irc: Irc) -> None:
    cool = irc("coolNick", "#chan")
    other = irc("otherNick", "#chan")
    other.cmd("WHO #chan %tcnfa,42")
    rows = [other.numeric("354") for _ in range(2)]
    assert sorted(rows) == [
        ["42", "#chan", "coolNick", "H@", "0"], ["42", "#chan", "otherNick", "H", "0"]]
    assert other.numeric("315")[0] == "#chan"
    other.cmd("LUSERS")
    assert other.numeric("251") == ["There are 2 users and 0 invisible on 1 servers"]
    assert other.numeric("266") == ["2", "2", "Current global users 2, max 2"]
    cool.cmd("WHO *")
    cool.sync()
    answer = [irc_verb(x) for x in cool.received if irc_verb(x) in ("352", "315")]
    assert answer == ["352", "352", "315"]
