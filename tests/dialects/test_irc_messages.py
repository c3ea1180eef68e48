"""IRC messages in memory (tests/memnet.py): across dialects, splitting, IRCv3, away, errors."""

from __future__ import annotations

import re

from irc_lines import irc_params, irc_verb
from memnet import MemoryNet


def test_private_messages_and_notices_across_dialects() -> None:
    net = MemoryNet()
    bot = net.bot("bert")
    ivan = net.irc("ivan")
    ivan.line("PRIVMSG bert :psst")
    event = bot.expect_json(type="message", text="psst")
    assert event["room"] is None and event["to"] == "bert"
    bot.request(type="message", to="ivan", text="hey")
    assert ivan.expect("hey").startswith(":bert!")
    ivan.line("NOTICE bert :fyi")
    assert bot.expect_json(type="message", text="fyi")["kind"] == "notice"
    ivan.line("PRIVMSG ivan :note to self")  # the target is oneself: delivered
    ivan.expect("note to self")


def test_long_messages_from_other_dialects_are_split_as_an_irc_client_could_send_them() -> None:
    net = MemoryNet()
    bot = net.bot("bert", "#lobby")
    ivan = net.irc("ivan", "#lobby", caps=("message-tags", "server-time"))
    text = " ".join(f"wörd{i}" for i in range(300))[:2000]
    bot.request(type="message", to="#lobby", text=text)
    got = []
    while " ".join(got) != text:
        line = ivan.verb("PRIVMSG")
        as_sent = line.partition(" PRIVMSG ")[2]  # without tags and prefix, as a client sends
        assert len(f"PRIVMSG {as_sent}".encode()) + 2 <= 512
        got.append(irc_params(line)[-1])
    ids = [re.search(r"msgid=([^; ]+)", line).group(1)  # type: ignore[union-attr]
           for line in ivan.received if " PRIVMSG " in line]
    assert len(got) > 3 and len(set(ids)) == len(ids)


def test_a_message_that_fit_512_bytes_when_sent_arrives_as_one_line() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    bob = net.irc("bob", "#lobby")
    action = net.irc("carol", "#lobby")
    line = "PRIVMSG #lobby :" + "é" * 200 + "x" * (510 - 16 - 400)
    assert len(line.encode()) == 510  # the most a client may send, before CR LF
    alice.line(line)
    got = bob.verb("PRIVMSG")
    assert got == ":alice!alice@127.0.0.1 " + line  # whole, past 512 by the prefix
    assert len(got.encode()) + 2 > 512
    bob.sync()
    assert sum(" PRIVMSG " in seen for seen in bob.received) == 1
    text = "\x01ACTION " + "w" * (510 - 16 - 9) + "\x01"
    action.line("PRIVMSG #lobby :" + text)
    assert irc_params(bob.verb("PRIVMSG"))[-1] == text
    bob.sync("again")
    assert sum(" PRIVMSG " in seen for seen in bob.received) == 2
    alice.line("PRIVMSG bob :" + "y" * (510 - 13))
    assert bob.verb("PRIVMSG").endswith("PRIVMSG bob :" + "y" * 497)


def test_ircv3_echo_message_server_time_and_msgid() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby", caps=("echo-message", "server-time", "message-tags"))
    bob = net.irc("bob", "#lobby", caps=("server-time",))
    plain = net.irc("carol", "#lobby")
    alice.line("PRIVMSG #lobby :tagged")
    echo = alice.expect("tagged")
    assert re.match(r"@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z;msgid=\S+ :alice!", echo)
    seen = bob.expect("tagged")
    assert seen.startswith("@time=") and "msgid=" not in seen
    assert plain.expect("tagged").startswith(":alice!alice@")
    msgid = re.search(r"msgid=(\S+) ", echo).group(1)  # type: ignore[union-attr]
    alice.line("PRIVMSG #lobby :again")
    assert re.search(r"msgid=(\S+) ", alice.expect("again")).group(1) != msgid  # type: ignore[union-attr]


def test_multi_prefix_and_userhost_in_names() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room")
    alice.line("MODE #room +v alice")
    alice.verb("MODE")
    bob = net.irc("bob", caps=("multi-prefix", "userhost-in-names"))
    bob.line("NAMES #room")
    assert bob.numeric("353") == ["=", "#room", "@+alice!alice@127.0.0.1"]
    carol = net.irc("carol")
    carol.line("NAMES #room")
    assert carol.numeric("353") == ["=", "#room", "@alice"]


def test_away_rpl_away_and_away_notify() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby", caps=("away-notify",))
    bob = net.irc("bob", "#lobby")
    bob.line("AWAY :lunch")
    bob.numeric("306")
    assert alice.verb("AWAY").startswith(":bob!") and alice.received[-1].endswith(":lunch")
    alice.line("PRIVMSG bob :there?")
    assert alice.numeric("301") == ["bob", "lunch"]
    alice.line("NOTICE bob :no auto reply to notices")
    alice.sync()
    assert sum(irc_verb(line) == "301" for line in alice.received) == 1
    bob.line("AWAY")
    bob.numeric("305")
    assert alice.verb("AWAY").endswith(" AWAY")


def test_message_errors() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    alice.line("PRIVMSG")
    alice.numeric("411")
    alice.line("PRIVMSG #lobby")
    alice.numeric("412")
    alice.line("PRIVMSG nobody :hi")
    assert alice.numeric("401")[0] == "nobody"
    alice.line("PRIVMSG #nowhere :hi")
    assert alice.numeric("403")[0] == "#nowhere"
    bob = net.irc("bob", "#other")
    bob.line("PRIVMSG #lobby :from outside")  # +n: members only
    assert bob.numeric("404")[0] == "#lobby"
    bob.line("NOTICE nobody :errors to a notice are never sent")
    bob.line("FROBNICATE now")
    assert bob.numeric("421")[0] == "FROBNICATE"
    assert not any("401" in line.split()[1:2] for line in bob.received)


def test_overlong_lines_get_417_and_the_connection_lives() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    alice.line("PRIVMSG #lobby :" + "x" * 600)
    alice.numeric("417")
    alice.line("@" + "t" * 9000 + " PRIVMSG #lobby :x")
    alice.numeric("417")
    alice.line("@+client-tag=1 PRIVMSG #lobby :tags are fine")
    alice.line("MODE #lobby")
    assert alice.numeric("324")[:2] == ["#lobby", "+n"]
