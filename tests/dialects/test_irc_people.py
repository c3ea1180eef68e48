"""WHOWAS, MONITOR (and extended-monitor), SETNAME and WHOX over IRC, in memory
(tests/memnet.py): the wire forms of the core's nick history, monitor lists and real names."""

from __future__ import annotations

import pytest
from irc_lines import assert_all_irc, irc_params, irc_verb, isupport_tokens
from memnet import CHEAP_HASHES, MemoryNet, replies

from chat.config import Limits, ServerConfig
from chat.core.monitor import MAX_MONITOR

OPER_HASH = CHEAP_HASHES.hash("opersecret1")[0]


def codes(lines: list[str]) -> list[str]:
    return [irc_verb(line) for line in lines]


# -- WHOWAS --------------------------------------------------------------------------------

def test_whowas_lists_past_holders_newest_first_with_count() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    bob = net.connect()
    bob.line("NICK bob").line("USER bobby 0 * :Bob Builder").expect(" 001 ")
    bob.line("NICK robert")
    bob.verb("NICK")
    net.advance(60)
    robert_again = bob
    robert_again.line("NICK bob")  # bob again, then gone: two past holders of "bob"
    robert_again.verb("NICK")
    bob.line("QUIT :bye")
    got = replies(alice, "WHOWAS bob")
    assert codes(got) == ["314", "312", "314", "312", "369"]
    assert irc_params(got[0])[1:] == ["bob", "bobby", "127.0.0.1", "*", "Bob Builder"]
    assert irc_params(got[1])[1:3] == ["bob", "chat.local"]
    assert irc_params(got[1])[3].endswith("UTC")
    assert irc_params(got[4])[1:] == ["bob", "End of WHOWAS"]
    assert codes(replies(alice, "WHOWAS bob 1")) == ["314", "312", "369"]
    assert codes(replies(alice, "WHOWAS robert")) == ["314", "312", "369"]
    got = replies(alice, "WHOWAS nobody,bob 1")
    assert codes(got) == ["406", "369", "314", "312", "369"]
    assert irc_params(got[0])[1] == "nobody"
    assert codes(replies(alice, "WHOWAS")) == ["431"]
    assert_all_irc(alice.lines)


def test_whowas_shows_the_account_it_was_logged_in_to() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    bob = net.irc("bob")
    bob.line("REGISTER * * :correct horse battery")
    bob.numeric("900")
    net.pump()
    bob.line("QUIT")
    got = replies(alice, "WHOWAS bob")
    assert codes(got) == ["314", "312", "330", "369"]
    assert irc_params(got[2])[1:3] == ["bob", "bob"]


# -- MONITOR -------------------------------------------------------------------------------

def test_monitor_add_status_list_remove_clear_and_isupport() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    assert f"MONITOR={MAX_MONITOR}" in isupport_tokens(alice.lines)
    net.irc("bob")
    got = replies(alice, "MONITOR + bob,carol")
    assert [(irc_verb(x), irc_params(x)[-1]) for x in got] == [
        ("730", "bob!bob@127.0.0.1"), ("731", "carol")]
    assert codes(replies(alice, "MONITOR + bob")) == []  # already there: nothing again
    got = replies(alice, "MONITOR L")
    assert [(irc_verb(x), irc_params(x)[-1]) for x in got] == [
        ("732", "bob,carol"), ("733", "End of MONITOR list")]
    assert codes(replies(alice, "MONITOR S")) == ["730", "731"]
    assert replies(alice, "MONITOR - bob") == []
    assert [irc_params(x)[-1] for x in replies(alice, "MONITOR L")] == [
        "carol", "End of MONITOR list"]
    assert replies(alice, "MONITOR C") == []
    assert codes(replies(alice, "MONITOR L")) == ["733"]
    assert codes(replies(alice, "MONITOR")) == ["461"]
    assert codes(replies(alice, "MONITOR +")) == ["461"]
    assert codes(replies(alice, "MONITOR X")) == ["NOTICE"]
    assert_all_irc(alice.lines)


def test_monitor_tells_when_a_nick_comes_and_goes() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    alice.line("MONITOR + carol")
    alice.numeric("731")
    carol = net.irc("carol")  # registers: online
    assert alice.numeric("730") == ["carol!carol@127.0.0.1"]
    carol.line("NICK caroline")  # gives the nick up: offline
    assert alice.numeric("731") == ["carol"]
    carol.line("NICK carol")
    assert alice.numeric("730") == ["carol!carol@127.0.0.1"]
    carol.line("NICK CAROL")  # only the case: monitors hear nothing
    carol.verb("NICK")
    alice.sync()
    assert [irc_verb(x) for x in alice.received].count("730") == 2
    carol.close()  # the connection drops: offline, as the nick was held
    assert alice.numeric("731") == ["CAROL"]
    alice.line("MONITOR + *!carol@127.0.0.1")  # a mask is not a nick: not watched
    alice.line("MONITOR L")
    assert alice.numeric("732") == ["carol"]


def test_a_full_monitor_list_gets_734_with_the_nicks_left_out() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    nicks = [f"n{i}" for i in range(MAX_MONITOR - 1)]
    for start in range(0, len(nicks), 20):  # a line holds only so many
        alice.line("MONITOR + " + ",".join(nicks[start:start + 20]))
    got = replies(alice, "MONITOR + last,over1,over2")
    assert codes(got) == ["734", "731"]
    assert irc_params(got[0])[1:] == [str(MAX_MONITOR), "over1,over2", "Monitor list is full"]
    assert irc_params(got[1])[-1] == "last"
    listed = ",".join(irc_params(x)[-1] for x in replies(alice, "MONITOR L")[:-1]).split(",")
    assert len(listed) == MAX_MONITOR


def test_extended_monitor_brings_away_account_and_setname_of_nicks_not_shared() -> None:
    net = MemoryNet()
    ext = net.irc("ext", caps=("extended-monitor", "away-notify", "account-notify", "setname"))
    plain = net.irc("plain", caps=("away-notify", "setname"))
    for watcher in (ext, plain):
        watcher.line("MONITOR + bob")
        watcher.numeric("731")
    bob = net.irc("bob")
    bob.line("AWAY :lunch")
    bob.numeric("306")
    bob.line("SETNAME :Robert Builder")
    bob.line("REGISTER * * :correct horse battery")
    bob.numeric("900")
    net.pump()
    ext.sync()
    got = [line for line in ext.received if line.startswith(":bob!")]
    assert [irc_verb(line) for line in got] == ["AWAY", "SETNAME", "ACCOUNT"]
    assert irc_params(got[1]) == ["Robert Builder"] and irc_params(got[2]) == ["bob"]
    plain.sync()
    assert not any(line.startswith(":bob!") for line in plain.received)  # no extended-monitor


# -- SETNAME -------------------------------------------------------------------------------

def test_setname_reaches_those_who_asked_and_changes_whois() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=("setname",))
    bob = net.irc("bob", "#room", caps=("setname",))
    carol = net.irc("carol", "#room")  # no setname: told nothing
    bert = net.bot("bert", "#room")
    tina = net.human("tina")
    tina.line("/join #room")
    alice.line("SETNAME :Alice Liddell")
    assert alice.verb("SETNAME") == ":alice!alice@127.0.0.1 SETNAME :Alice Liddell"
    assert bob.verb("SETNAME") == ":alice!alice@127.0.0.1 SETNAME :Alice Liddell"
    event = bert.expect_json(type="realname")
    assert (event["nick"], event["realname"]) == ("alice", "Alice Liddell")
    carol.line("WHOIS alice")
    assert carol.numeric("311")[-1] == "Alice Liddell"
    assert not any("SETNAME" in line for line in carol.lines)
    tina.line("/whois alice")
    tina.expect("Alice Liddell")
    assert not any("real name" in line for line in tina.lines)
    assert "NAMELEN=100" in isupport_tokens(alice.lines)


def test_setname_without_the_capability_works_silently_as_the_spec_says() -> None:
    """setname: servers MUST accept SETNAME from a client that did not enable the capability
    and SHOULD answer nothing, as historic servers did; errors are still FAIL replies."""
    net = MemoryNet()
    plain = net.irc("plain", "#room")
    watcher = net.irc("watcher", "#room", caps=("setname",))
    assert replies(plain, "SETNAME :Plain Jane") == []  # no SETNAME echoed, no error
    assert watcher.verb("SETNAME") == ":plain!plain@127.0.0.1 SETNAME :Plain Jane"
    plain.line("WHOIS plain")
    assert plain.numeric("311")[-1] == "Plain Jane"
    got = replies(plain, "SETNAME :")
    assert got[0].startswith(":chat.local FAIL SETNAME INVALID_REALNAME :")


def test_setname_errors_are_standard_replies() -> None:
    net = MemoryNet()
    alice = net.irc("alice", caps=("setname",))
    got = replies(alice, "SETNAME :" + "x" * 101)
    assert got[0].startswith(":chat.local FAIL SETNAME INVALID_REALNAME :")
    got = replies(alice, "SETNAME :")
    assert got[0].startswith(":chat.local FAIL SETNAME INVALID_REALNAME :")
    assert codes(replies(alice, "SETNAME")) == ["461"]
    client = net.connect()
    client.line("CAP LS 302")
    offered = irc_params(client.verb("CAP"))[-1].split()
    assert {"setname", "extended-monitor"} <= set(offered)


# -- WHO and WHOX --------------------------------------------------------------------------

def test_who_star_lists_each_visible_user_once_then_315() -> None:
    net = MemoryNet()
    cool = net.irc("coolNick", "#chan")
    other = net.irc("otherNick", "#chan")
    got = replies(other, "WHO *")
    assert codes(got) == ["352", "352", "315"]
    assert sorted(irc_params(x)[5] for x in got[:2]) == ["coolNick", "otherNick"]
    assert irc_params(got[2])[1] == "*"
    assert codes(replies(other, "WHO idontexist")) == ["315"]
    cool.line("AWAY :brb")
    got = replies(other, "WHO coolni*")
    assert codes(got) == ["352", "315"] and irc_params(got[0])[6] == "G"


def test_whox_fields_come_in_the_specs_order_with_token_and_account() -> None:
    net = MemoryNet()
    net.irc("coolNick", "#chan")
    other = net.irc("otherNick", "#chan")
    assert "WHOX" in isupport_tokens(other.lines)
    net.advance(5)
    for fields in ("%tcuihsnfdlaor,123", "%" + "".join(reversed("tcuihsnfdlaor")) + ",123"):
        got = replies(other, f"WHO coolNick {fields}")
        assert codes(got) == ["354", "315"]
        assert irc_params(got[0])[1:] == [
            "123", "*", "coolNick", "127.0.0.1", "127.0.0.1",
            "chat.local", "coolNick", "H", "0", "5", "0", "n/a", "coolNick the tester"]
        assert irc_params(got[1])[1] == "coolNick"
    got = replies(other, "WHO #chan %na")
    assert [irc_params(x)[1:] for x in got[:2]] == [["coolNick", "0"], ["otherNick", "0"]]
    assert irc_params(got[2])[1] == "#chan"
    got = replies(other, "WHO #chan %cnf")  # a room's WHO names the room
    assert irc_params(got[0])[1:] == ["#chan", "coolNick", "H@"]
    got = replies(other, "WHO coolNick %tn,abcd")  # not a number: token 0
    assert irc_params(got[0])[1:] == ["0", "coolNick"]
    got = replies(other, "WHO coolNick %r")
    assert irc_params(got[0])[1:] == ["coolNick the tester"]


def test_whox_account_field_shows_the_account_once_logged_in() -> None:
    net = MemoryNet()
    cool = net.irc("coolNick")
    cool.line("REGISTER * * :correct horse battery")
    cool.numeric("900")
    net.pump()
    other = net.irc("otherNick")
    got = replies(other, "WHO coolNick %na")
    assert irc_params(got[0])[1:] == ["coolNick", "coolNick"]


def test_who_shows_operators_with_a_star() -> None:
    config = ServerConfig(limits=Limits(rate_per_second=0), operators=(("root", OPER_HASH),))
    net = MemoryNet(config)
    cool = net.irc("coolNick")
    cool.line("OPER root opersecret1")
    cool.numeric("381")
    net.pump()
    other = net.irc("otherNick")
    got = replies(other, "WHO coolNick")
    assert irc_params(got[0])[6] == "H*"
    got = replies(other, "WHO coolNick %f")
    assert irc_params(got[0])[1:] == ["H*"]


@pytest.mark.parametrize("verb", ["WHOWAS", "MONITOR", "SETNAME", "LUSERS", "STATS", "INFO",
                                  "ADMIN", "WHO"])
def test_new_commands_with_no_or_odd_params_answer_and_never_crash(verb: str) -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    for params in ("", " #lobby", " , ,, :", " + ,,,", " %", " * %zzz,9999", " x 99999999999",
                   " :" + "é" * 200):
        alice.line(verb + params)
    alice.sync()
    alice.line("PRIVMSG #lobby :still alive")
    assert_all_irc(alice.lines)
