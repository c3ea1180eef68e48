"""IRC room operators in memory (tests/memnet.py): KICK, INVITE, channel and user modes."""

from __future__ import annotations

import json

from irc_lines import irc_params
from memnet import MemoryNet


def test_creator_is_operator_and_can_kick() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#ops")
    bob = net.irc("bob", "#ops")
    person = net.human("tina", "#ops")
    bob.line("KICK #ops alice")
    assert bob.numeric("482")[0] == "#ops"
    alice.line("KICK #ops bob :behave")
    line = bob.verb("KICK")
    assert line.startswith(":alice!") and irc_params(line) == ["#ops", "bob", "behave"]
    person.expect("bob was kicked from #ops by alice (behave)")
    alice.line("KICK #ops bob")
    assert alice.numeric("441")[:2] == ["bob", "#ops"]
    alice.line("KICK #ops ghost")
    assert alice.numeric("401")[0] == "ghost"
    bob.line("KICK #ops alice")
    assert bob.numeric("442")[0] == "#ops"
    alice.line("KICK #ops")
    alice.numeric("461")
    alice.line("KICK #ops tina :out")
    person.expect("You were kicked from #ops by alice (out)")


def test_invite_only_and_invite() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#club")
    bob = net.irc("bob")
    alice.line("MODE #club +i")
    alice.verb("MODE")
    bob.line("JOIN #club")
    assert bob.numeric("473")[0] == "#club"
    bob.line("INVITE alice #club")
    assert bob.numeric("442")[0] == "#club"
    alice.line("INVITE bob #club")
    assert alice.numeric("341") == ["bob", "#club"]
    assert irc_params(bob.verb("INVITE")) == ["bob", "#club"]
    bob.line("JOIN #club")
    bob.numeric("366")
    alice.line("INVITE bob #club")
    assert alice.numeric("443")[:2] == ["bob", "#club"]
    alice.line("INVITE ghost #club")
    assert alice.numeric("401")[0] == "ghost"
    alice.line("INVITE bob")
    alice.numeric("461")


def test_channel_modes_o_v_t_m_l_b() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#m")
    bob = net.irc("bob", "#m")
    carol = net.irc("carol")
    bob.line("MODE #m +t")
    assert bob.numeric("482")[0] == "#m"
    alice.line("MODE #m +tm")
    assert irc_params(bob.verb("MODE")) == ["#m", "+tm"]
    bob.line("TOPIC #m :mine")
    assert bob.numeric("482")[0] == "#m"
    bob.line("PRIVMSG #m :can I talk?")
    assert bob.numeric("404")[0] == "#m"
    alice.line("MODE #m +v bob")
    assert irc_params(bob.verb("MODE")) == ["#m", "+v", "bob"]
    bob.line("PRIVMSG #m :now I can")
    alice.expect("now I can")
    alice.line("MODE #m +o bob")
    bob.verb("MODE")
    bob.line("TOPIC #m :ops may")
    alice.verb("TOPIC")
    alice.line("MODE #m +o carol")
    assert alice.numeric("441")[:2] == ["carol", "#m"]
    alice.line("MODE #m +l 2")
    alice.verb("MODE")
    carol.line("JOIN #m")
    assert carol.numeric("471")[0] == "#m"
    alice.line("MODE #m -l+b carol")
    assert irc_params(alice.verb("MODE")) == ["#m", "-l+b", "carol!*@*"]
    carol.line("JOIN #m")
    assert carol.numeric("474")[0] == "#m"
    alice.line("MODE #m +b")
    assert alice.numeric("367")[:3] == ["#m", "carol!*@*", "alice"]
    alice.numeric("368")
    alice.line("MODE #m")
    assert alice.numeric("324") == ["#m", "+mnt"]
    assert alice.numeric("329")[0] == "#m"
    alice.line("MODE #m +z")
    assert alice.numeric("472")[0] == "z"
    alice.line("MODE #m -n")
    alice.verb("MODE")
    carol.line("PRIVMSG #m :from outside, but banned")
    assert carol.numeric("404")[0] == "#m"
    carol.line("MODE #nowhere +t")
    assert carol.numeric("403")[0] == "#nowhere"
    carol.line("MODE")
    carol.numeric("461")


def test_user_modes() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    net.irc("bob")
    alice.line("MODE alice")
    assert alice.numeric("221") == ["+"]
    alice.line("MODE alice +i")
    assert alice.verb("MODE").endswith("MODE alice :+i")
    alice.line("MODE bob +i")
    alice.numeric("502")
    alice.line("MODE alice +Z")
    alice.numeric("501")
    alice.line("MODE ghost")
    assert alice.numeric("401")[0] == "ghost"


def test_human_and_structured_users_get_the_same_operator_powers() -> None:
    net = MemoryNet()
    person = net.human("tina", "#ops")  # creates #ops: operator (#lobby belongs to the server)
    bot = net.bot("bert", "#ops")
    ivan = net.irc("ivan", "#ops")
    person.send("/mode +t\r\n")
    assert irc_params(ivan.verb("MODE")) == ["#ops", "+t"]
    assert bot.expect_json(type="mode")["modes"] == "+t"
    bot.request(type="topic", room="#ops", topic="nope")
    assert bot.expect_json(type="error")["code"] == "not_op"
    person.send("/op bert\r\n")
    bot.expect_json(type="mode", args=["bert"])
    bot.request(type="kick", room="#ops", nick="ivan", reason="testing")
    assert irc_params(ivan.verb("KICK")) == ["#ops", "ivan", "testing"]
    person.expect("ivan was kicked from #ops by bert (testing)")
    bot.request(type="mode", target="#ops", modes="+i")
    bot.expect_json(type="mode", modes="+i")
    ivan.line("JOIN #ops")
    ivan.numeric("473")
    person.send("/invite ivan\r\n")
    person.expect("You invited ivan to #ops")
    ivan.verb("INVITE")
    ivan.line("JOIN #ops")
    ivan.numeric("366")
    ivan.line("AWAY :brb")
    ivan.numeric("306")
    bot.request(type="whois", nick="ivan")
    whois = bot.expect_json(type="whois")
    assert whois["away"] == "brb" and whois["rooms"] == [
        {"room": "#ops", "op": False, "voice": False}]
    person.send("/whois ivan\r\n")
    person.expect("ivan is ivan@127.0.0.1 (ivan the tester); in #ops; away: brb")
    assert json.loads(bot.received[-1])["ident"] == "ivan"
