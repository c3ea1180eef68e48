"""The IRC dialect on a real hub and core, in memory (tests/memnet.py): no sockets, a fake clock.

Everything IRC-specific is the dialect's, the core's or the hub's, so it is tested here; what
only the engines own is tested over real sockets (tests/test_irc.py keeps end-to-end smoke tests).
"""

from __future__ import annotations

import pytest
from irc_lines import assert_all_irc
from memnet import MemoryNet

# -- the clock is the hub's ------------------------------------------------------------------

def test_time_shows_the_hubs_wall_clock() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    alice.line("TIME")
    assert alice.numeric("391") == [
        "chat.local", "Tuesday November 14 2023 -- 22:30:00 UTC"]  # 1700001000
    net.advance(61)
    alice.line("TIME")
    assert alice.numeric("391")[1] == "Tuesday November 14 2023 -- 22:31:01 UTC"


def test_003_shows_when_the_server_started_on_its_wall_clock() -> None:
    net = MemoryNet()
    net.advance(3600)
    alice = net.irc("alice")
    created = alice.numeric("003")[0]
    assert created == "This server was created 2023-11-14 22:30:00 UTC"  # not an hour later


def test_server_time_tags_show_the_hubs_wall_clock() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    bob = net.irc("bob", "#lobby", caps=("server-time",))
    net.advance(2.5)
    alice.line("PRIVMSG #lobby :what time is it")
    line = bob.expect("what time is it")
    assert line.startswith("@time=2023-11-14T22:30:02.500Z :alice!")


# -- every verb, any parameters ---------------------------------------------------------------

@pytest.mark.parametrize("verb", ["JOIN", "PART", "TOPIC", "KICK", "MODE", "INVITE", "ISON",
                                  "USERHOST", "PRIVMSG", "NOTICE", "NAMES", "LIST", "WHO",
                                  "WHOIS", "AWAY", "WHOWAS", "MOTD", "VERSION", "TIME", "OPER",
                                  "LUSERS", "TAGMSG", "CAP", "PING", "PONG", "NICK"])
def test_every_command_with_no_or_odd_params_answers_and_never_crashes(verb: str) -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    alice.line(verb)
    alice.line(f"{verb} #lobby")
    alice.line(f"{verb} , ,, :")
    alice.sync()
    alice.line("PRIVMSG #lobby :still alive")
    assert_all_irc(alice.lines)
