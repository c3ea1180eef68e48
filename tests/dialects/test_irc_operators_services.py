"""Server operators, ChanServ, reserved nicks and private history over IRC, in memory
(tests/memnet.py): OPER/KILL/WALLOPS/KLINE/UNKLINE/STATS k, ChanServ REGISTER/DROP/TRANSFER,
433 for a nick that belongs to an account, CHATHISTORY with a nick as target."""

from __future__ import annotations

from dataclasses import replace

import pytest
from irc_lines import irc_params, irc_tags, irc_verb
from memnet import CHEAP_HASHES, MemClient, MemoryNet

from chat.config import Limits, ServerConfig

HASH = CHEAP_HASHES.hash("opersecret1")[0]
CONFIG = ServerConfig(limits=Limits(rate_per_second=0), operators=(("root", HASH),))
PASSWORD = "correct-horse"
CHANSERV = ":ChanServ!ChanServ@services.chat.local NOTICE "


def opered(net: MemoryNet, nick: str, *rooms: str) -> MemClient:
    client = net.irc(nick, *rooms)
    client.line("OPER root opersecret1")
    assert client.numeric("381") == ["You are now an IRC operator"]
    return client


def account(net: MemoryNet, nick: str, *rooms: str, caps: tuple[str, ...] = ()) -> MemClient:
    """An IRC client that registered its nick as an account (and so is logged in to it)."""
    client = net.irc(nick, *rooms, caps=caps)
    client.line(f"REGISTER * * :{PASSWORD}")
    client.verb("REGISTER")
    return client


def irc_from(net: MemoryNet, nick: str, host: str) -> MemClient:
    """An IRC client connecting from ``host``, NICK and USER sent (not necessarily welcomed)."""
    client = net.connect(host=host)
    client.line(f"NICK {nick}").line(f"USER {nick} 0 * :{nick}")
    return client


def exchange(client: MemClient, line: str) -> list[str]:
    """Send ``line``; what came back before a PING round trip after it."""
    start = len(client.lines)
    client.line(line)
    client.sync()
    return client.lines[start:-1]


def chanserv(client: MemClient, line: str) -> list[str]:
    """Send ``line``; the texts of the ChanServ notices it brought."""
    return [irc_params(got)[-1] for got in exchange(client, line) if got.startswith(CHANSERV)]


@pytest.fixture
def net() -> MemoryNet:
    return MemoryNet(CONFIG)


# -- OPER, KILL, WALLOPS ---------------------------------------------------------------------

def test_oper_wrong_password_and_unknown_name_get_the_same_reply(net: MemoryNet) -> None:
    bob = net.irc("bob")
    bob.line("OPER root wrongsecret")
    wrong = bob.numeric("464")
    bob.line("OPER nobody opersecret1")
    assert bob.numeric("464") == wrong == ["Password incorrect"]
    bob.line("OPER root opersecret1")
    assert bob.numeric("381") == ["You are now an IRC operator"]
    mode = bob.verb("MODE")
    assert mode.startswith(":chat.local ") and irc_params(mode) == ["bob", "+ow"]
    bob.line("OPER root")
    assert bob.numeric("461")[0] == "OPER"


def test_oper_is_throttled_after_repeated_failures(net: MemoryNet) -> None:
    bob = net.irc("bob")
    replies = []
    for _ in range(12):
        bob.line("OPER root wrongsecret")
        replies.append(bob.numeric("464")[0])
    assert replies[0] == "Password incorrect"
    assert any("try again in" in text for text in replies)


def test_kill_closes_the_victim_and_its_rooms_hear_why(net: MemoryNet) -> None:
    oper = opered(net, "oper")
    victim = net.irc("victim", "#lobby")
    watcher = net.irc("watcher", "#lobby")
    oper.line("KILL victim :spamming")
    error = victim.verb("ERROR")
    assert error.startswith("ERROR :Closing Link: ") and "(Killed by oper (spamming))" in error
    assert victim.closed is not None
    quit_line = watcher.verb("QUIT")
    assert quit_line.startswith(":victim!") and irc_params(quit_line) == [
        "Killed by oper (spamming)"]
    oper.line("KILL nobody :x")
    assert oper.numeric("401")[0] == "nobody"
    oper.line("KILL")
    assert oper.numeric("461")[0] == "KILL"


def test_wallops_reach_only_users_with_mode_w(net: MemoryNet) -> None:
    oper = opered(net, "oper")
    listener = net.irc("listener")
    listener.line("MODE listener +w")
    listener.verb("MODE")
    deaf = net.irc("deaf")
    human = net.human("telnet")
    oper.line("WALLOPS :maintenance at noon")
    line = listener.verb("WALLOPS")
    assert line.startswith(":oper!oper@") and irc_params(line) == ["maintenance at noon"]
    assert irc_params(oper.verb("WALLOPS")) == ["maintenance at noon"]  # operators have +w
    deaf.sync()
    assert not any("maintenance" in line for line in deaf.lines)
    human.line("/nick telnet2")
    human.expect("telnet2")
    assert not any("maintenance" in line for line in human.lines)


@pytest.mark.parametrize("line", ["KILL someone :bye", "WALLOPS :hello", "KLINE *!*@h :x",
                                  "KLINE 10 *!*@h :x", "UNKLINE *!*@h", "STATS k"])
def test_operator_commands_need_an_operator(net: MemoryNet, line: str) -> None:
    net.irc("someone")
    bob = net.irc("bob")
    bob.line(line)
    assert bob.numeric("481") == ["Permission Denied- You're not an IRC operator"]


# -- KLINE, UNKLINE, STATS k -------------------------------------------------------------------

def test_kline_disconnects_lists_refuses_and_is_lifted(net: MemoryNet) -> None:
    oper = opered(net, "oper")
    spammer = irc_from(net, "spammer", "198.51.100.7")
    spammer.verb("001")
    oper.line("KLINE 60 *!*@198.51.100.7 :flooding")
    notice = oper.verb("NOTICE")
    assert irc_params(notice)[-1] == "Server ban on *!*@198.51.100.7 for 3600 s: flooding"
    assert "(Banned from this server: flooding)" in spammer.verb("ERROR")
    assert spammer.closed is not None
    again = irc_from(net, "again", "198.51.100.7")
    assert "Banned from this server: flooding" in again.verb("ERROR")
    oper.line("KLINE 198.51.100.8 :a host alone")  # permanent; a host means *!*@host
    oper.verb("NOTICE")
    oper.line("STATS k")
    assert oper.numeric("216") == ["K", "*!*@198.51.100.7", "*", "root",
                                   "flooding (60 more minutes)"]
    assert oper.numeric("216") == ["K", "*!*@198.51.100.8", "*", "root",
                                   "a host alone (permanent)"]
    assert oper.numeric("219") == ["K", "End of /STATS report"]
    oper.line("UNKLINE *!*@198.51.100.7")
    assert irc_params(oper.verb("NOTICE"))[-1] == "Server ban on *!*@198.51.100.7 lifted"
    oper.line("UNKLINE *!*@198.51.100.7")
    assert "No server ban" in irc_params(oper.verb("NOTICE"))[-1]
    welcome = irc_from(net, "welcome", "198.51.100.7")
    welcome.verb("001")
    assert [irc_verb(line) for line in exchange(oper, "STATS k")] == ["216", "219"]
    oper.line("STATS u")
    assert oper.numeric("219")[0] == "u"


def test_kline_expires(net: MemoryNet) -> None:
    oper = opered(net, "oper")
    oper.line("KLINE 2 *!*@203.0.113.9 :cool off")  # minutes
    oper.verb("NOTICE")
    refused = irc_from(net, "early", "203.0.113.9")
    assert "cool off" in refused.verb("ERROR")
    net.advance(119)
    assert "cool off" in irc_from(net, "still", "203.0.113.9").verb("ERROR")
    net.advance(2)
    irc_from(net, "later", "203.0.113.9").verb("001")
    assert [irc_verb(line) for line in exchange(oper, "STATS k")] == ["219"]


# -- ChanServ --------------------------------------------------------------------------------

def test_chanserv_registers_drops_and_transfers_rooms(net: MemoryNet) -> None:
    alice = account(net, "alice", "#room")
    bob = net.irc("bob", "#room")
    assert chanserv(bob, "PRIVMSG ChanServ :REGISTER #room") == ["Log in to an account first"]
    bob.line(f"REGISTER * * :{PASSWORD}")
    bob.verb("REGISTER")
    assert chanserv(bob, "PRIVMSG ChanServ :REGISTER #room") == [
        "You must be an operator of #room to do that"]
    assert chanserv(alice, "PRIVMSG ChanServ :REGISTER #room") == [
        "#room is registered to alice: you get +o on every join"]
    assert chanserv(alice, "PRIVMSG ChanServ :REGISTER #room") == [
        "#room is already registered to alice"]
    assert chanserv(bob, "PRIVMSG ChanServ :DROP #room") == [
        "Only the founder of #room may do that"]
    assert chanserv(alice, "PRIVMSG ChanServ :TRANSFER #room nobody") == [
        "There is no account nobody"]
    assert chanserv(alice, "CS SET #room FOUNDER bob") == ["#room now belongs to bob"]
    assert irc_params(bob.verb("MODE")) == ["#room", "+o", "bob"]  # the founder's +o
    assert chanserv(bob, "PRIVMSG ChanServ :DROP #room") == ["#room is no longer registered"]
    assert chanserv(bob, "PRIVMSG ChanServ :DROP #nowhere") == ["No room named #nowhere"]


def test_chanserv_help_usage_and_no_relay(net: MemoryNet) -> None:
    alice = net.irc("alice")
    help_lines = chanserv(alice, "PRIVMSG ChanServ :HELP")
    assert help_lines[0].startswith("ChanServ registers rooms") and len(help_lines) > 3
    assert chanserv(alice, "CHANSERV TRANSFER #room") == ["Usage: TRANSFER #room account"]
    assert chanserv(alice, "PRIVMSG ChanServ :FROB") == [
        "Unknown command FROB; send HELP for the list"]
    assert chanserv(alice, "NOTICE ChanServ :HELP") == []
    watcher = net.irc("watcher")
    alice.line("PRIVMSG watcher,ChanServ :REGISTER #x")  # ChanServ's alone
    watcher.sync()
    assert not any("REGISTER" in line for line in watcher.lines)


# -- nicks that belong to accounts -----------------------------------------------------------

def test_strict_protection_answers_433_at_registration_and_on_nick() -> None:
    net = MemoryNet(replace(CONFIG, nick_protection="strict"))
    account(net, "alice").close()
    bob = irc_from(net, "alice", "127.0.0.1")
    assert bob.numeric("433") == ["alice", "Nickname is reserved by a different account"]
    assert bob.lines[-1].startswith(":chat.local 433 * alice ")
    bob.line("NICK bob")
    bob.verb("001")
    bob.line("NICK Alice")
    assert bob.numeric("433") == ["Alice", "Nickname is reserved by a different account"]
    bob.line(f"PRIVMSG NickServ :IDENTIFY alice {PASSWORD}")
    bob.numeric("900")
    bob.line("NICK alice")
    assert irc_params(bob.verb("NICK")) == ["alice"]


def test_grace_warning_comes_from_nickserv(net: MemoryNet) -> None:
    account(net, "alice").close()
    bob = net.irc("alice")
    warning = bob.expect(lambda line: line.startswith(":NickServ!NickServ@services.") and
                         "belongs to a registered account" in line)
    assert "IDENTIFY" in warning and "/login" not in warning
    net.advance(31)
    assert irc_params(bob.verb("NICK"))[0].startswith("Guest")


# -- private history ---------------------------------------------------------------------------

FULL = ("batch", "server-time", "message-tags", "draft/chathistory")


def ask(client: MemClient, line: str) -> list[str]:
    client.new()
    client.line(line)
    client.net.advance(0)  # the history service answers through the hub's inbox
    return client.new()


def test_chathistory_with_a_nick_is_the_private_conversation(net: MemoryNet) -> None:
    alice = account(net, "alice", caps=FULL)
    bob = account(net, "bob", caps=FULL)
    alice.line("PRIVMSG bob :hello bob")
    live = bob.verb("PRIVMSG")
    bob.line("PRIVMSG alice :hi alice")
    alice.verb("PRIVMSG")
    net.advance(1)
    got = ask(bob, "CHATHISTORY LATEST alice * 10")
    opening, body, closing = got[0], got[1:-1], got[-1]
    ident = irc_params(opening)[0][1:]
    assert irc_verb(opening) == "BATCH" and irc_params(opening)[1:] == ["chathistory", "alice"]
    assert irc_params(closing) == [f"-{ident}"]
    assert [(line.split(" ")[1].split("!")[0], irc_params(line)) for line in body] == [
        (":alice", ["bob", "hello bob"]), (":bob", ["alice", "hi alice"])]
    assert all(irc_tags(line)["batch"] == ident and "time" in irc_tags(line) for line in body)
    assert irc_tags(body[0])["msgid"] == irc_tags(live)["msgid"]
    assert [irc_params(line)[-1] for line in ask(alice, "CHATHISTORY LATEST bob * 10")[1:-1]] \
        == ["hello bob", "hi alice"]


def test_chathistory_with_a_nick_needs_two_accounts(net: MemoryNet) -> None:
    bob = account(net, "bob", caps=FULL)
    guest = net.irc("guest", caps=FULL)
    guest.line("PRIVMSG bob :hi")
    net.advance(1)
    (no_login,) = ask(guest, "CHATHISTORY LATEST bob * 10")
    assert irc_verb(no_login) == "FAIL"
    assert irc_params(no_login)[:4] == ["CHATHISTORY", "INVALID_TARGET", "LATEST", "bob"]
    (no_account,) = ask(bob, "CHATHISTORY BEFORE guest timestamp=2030-01-01T00:00:00.000Z 10")
    assert irc_params(no_account)[:4] == ["CHATHISTORY", "INVALID_TARGET", "BEFORE", "guest"]
