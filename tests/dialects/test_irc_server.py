"""LUSERS, STATS, INFO and ADMIN over IRC, in memory (tests/memnet.py), on the core's counts."""

from __future__ import annotations

from irc_lines import assert_all_irc, irc_params, irc_verb
from memnet import CHEAP_HASHES, MemoryNet, replies

from chat.config import Limits, ServerConfig
from chat.dialects.irc.server import uptime


def by_code(lines: list[str]) -> dict[str, list[str]]:
    return {irc_verb(line): irc_params(line)[1:] for line in lines}


def test_lusers_counts_users_invisible_operators_unknown_and_rooms() -> None:
    config = ServerConfig(limits=Limits(rate_per_second=0),
                          operators=(("root", CHEAP_HASHES.hash("opersecret1")[0]),))
    net = MemoryNet(config)
    alice = net.irc("alice", "#a")
    bob = net.irc("bob", "#a", "#b")
    bob.line("MODE bob +i")
    bob.line("OPER root opersecret1")
    bob.numeric("381")
    net.human("tina")  # lands in #lobby
    net.connect()  # says nothing: an unknown connection
    got = by_code(replies(alice, "LUSERS"))
    assert list(got) == ["251", "252", "253", "254", "255", "265", "266"]
    assert got["251"] == ["There are 2 users and 1 invisible on 1 servers"]
    assert got["252"] == ["1", "operator(s) online"]
    assert got["253"] == ["1", "unknown connection(s)"]
    assert got["254"] == ["3", "channels formed"]
    assert got["255"] == ["I have 3 clients and 0 servers"]
    assert got["265"] == ["3", "3", "Current local users 3, max 3"]
    assert got["266"] == ["3", "3", "Current global users 3, max 3"]
    bob.line("QUIT")
    got = by_code(replies(alice, "LUSERS"))
    assert got["265"] == ["2", "3", "Current local users 2, max 3"]
    assert irc_verb(replies(alice, "LUSERS * other.server")[0]) == "402"
    assert_all_irc(alice.lines)


def test_the_welcome_burst_carries_lusers_between_isupport_and_the_motd() -> None:
    net = MemoryNet()
    net.irc("alice")
    bob = net.irc("bob")
    bob.expect(lambda line: irc_verb(line) == "376")
    burst = [irc_verb(line) for line in bob.received]
    start = burst.index("251")
    assert burst[start - 1] == "005" and burst[start + 7] == "375"
    assert burst[start:start + 7] == ["251", "252", "253", "254", "255", "265", "266"]
    assert by_code(bob.received)["251"] == ["There are 2 users and 0 invisible on 1 servers"]


def test_stats_uptime_commands_and_other_letters() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#a")
    net.advance(59)
    got = replies(alice, "STATS u")
    assert [irc_params(x)[1:] for x in got] == [
        ["Server Up 0 days, 0:00:59"], ["u", "End of /STATS report"]]
    assert uptime(3 * 86400 + 4 * 3600 + 5 * 60 + 6) == "Server Up 3 days, 4:05:06"
    alice.line("PRIVMSG #a :one")
    alice.line("PRIVMSG #a :two")
    got = replies(alice, "STATS m")
    counts = {irc_params(x)[1]: int(irc_params(x)[2]) for x in got if irc_verb(x) == "212"}
    assert counts["SAY"] == 2 and counts["JOIN"] == 1 and counts["REGISTER"] == 1
    assert irc_params(got[-1])[1:] == ["m", "End of /STATS report"]
    assert [irc_verb(x) for x in replies(alice, "STATS k")] == ["481"]  # operators only
    assert [irc_params(x)[1:] for x in replies(alice, "STATS z")] == [
        ["z", "End of /STATS report"]]
    assert [irc_verb(x) for x in replies(alice, "STATS")] == ["461"]


def test_info_and_admin() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    got = replies(alice, "INFO")
    assert {irc_verb(x) for x in got[:-1]} == {"371"} and irc_verb(got[-1]) == "374"
    assert "chat-" in irc_params(got[0])[-1]
    assert any("Started 2023-11-14" in irc_params(x)[-1] for x in got)
    got = replies(alice, "ADMIN")
    assert [irc_verb(x) for x in got] == ["256", "257", "258", "259"]
    assert irc_params(got[0])[1] == "chat.local"
    assert [irc_verb(x) for x in replies(alice, "ADMIN chat.local")] == [
        "256", "257", "258", "259"]
    assert [irc_verb(x) for x in replies(alice, "INFO elsewhere.net")] == ["402"]
    assert_all_irc(alice.lines)
