"""IRCv3 capabilities and ISUPPORT features in memory (tests/memnet.py): bot mode, STATUSMSG,
invite-notify, away-notify on join, UTF8ONLY, client-only tags and TAGMSG."""

from __future__ import annotations

from irc_lines import assert_all_irc, irc_params, irc_tags, irc_verb, isupport_tokens
from memnet import MemoryNet


def test_isupport_and_caps_advertise_the_features() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    tokens = isupport_tokens(alice.lines)
    for token in ("BOT=B", "STATUSMSG=@+", "UTF8ONLY"):
        assert token in tokens
    alice.line("CAP LS 302")
    offered = irc_params(alice.verb("CAP"))[-1].split()
    assert "invite-notify" in offered


# -- bot mode ---------------------------------------------------------------------------------

def test_bot_mode_shows_in_who_whois_and_as_a_tag() -> None:
    net = MemoryNet()
    robo = net.irc("robo", "#lobby")
    tagged = net.irc("tagged", "#lobby", caps=("message-tags",))
    plain = net.irc("plain", "#lobby")
    robo.line("MODE robo +B")
    assert irc_params(robo.verb("MODE")) == ["robo", "+B"]
    robo.line("PRIVMSG #lobby :beep")
    assert "bot" in irc_tags(tagged.expect("beep"))
    assert plain.expect("beep").startswith(":robo!")  # no tags without message-tags
    plain.line("WHO #lobby")
    flags = {p[4]: p[5] for p in (plain.numeric("352") for _ in range(3))}
    assert flags == {"robo": "HB", "tagged": "H", "plain": "H"}
    plain.line("WHOIS robo")
    assert plain.numeric("335") == ["robo", "is a bot"]
    plain.numeric("318")
    plain.line("WHOIS tagged")
    plain.numeric("318")
    assert not any(irc_verb(line) == "335" for line in plain.new())
    human = net.human("hank")
    human.line("/whois robo")
    assert "; a bot;" in human.expect("robo is")
    json_client = net.bot("jay")
    json_client.request(type="whois", nick="robo")
    assert json_client.expect_json(type="whois")["bot"] is True
    robo.line("MODE robo -B")
    robo.verb("MODE")
    robo.line("PRIVMSG #lobby :human again")
    assert "bot" not in irc_tags(tagged.expect("human again"))


# -- STATUSMSG --------------------------------------------------------------------------------

def test_statusmsg_reaches_operators_or_voiced_only() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#team")  # creates it: operator
    bob = net.irc("bob", "#team")
    carol = net.irc("carol", "#team")
    human = net.human("hank", "#team")
    alice.line("MODE #team +o hank")
    alice.line("MODE #team +v bob")
    bob.verb("MODE")
    carol.line("PRIVMSG @#team :ops only")
    assert alice.expect("ops only").endswith("PRIVMSG @#team :ops only")
    assert human.expect("ops only").endswith("(to operators) <carol> ops only")
    carol.line("PRIVMSG +#team :voiced too")
    assert bob.expect("voiced too").endswith("PRIVMSG +#team :voiced too")
    assert alice.expect("voiced too")
    carol.sync()
    bob.sync()
    assert not any("ops only" in line for line in bob.received + carol.received)
    assert not any("voiced too" in line for line in carol.received)
    # Not kept for the room: a newcomer's replay and history never show it.
    dave = net.irc("dave", "#team")
    dave.sync()
    assert not any("ops only" in line for line in dave.received)


def test_statusmsg_follows_the_rules_for_talking() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#team")
    alice.line("MODE #team +m")
    alice.verb("MODE")
    bob = net.irc("bob", "#team")
    bob.line("PRIVMSG @#team :let me talk")
    assert bob.numeric("404")[0] == "#team"
    outsider = net.irc("outsider")
    outsider.line("PRIVMSG @#team :hello")
    assert outsider.numeric("404")[0] == "#team"
    alice.sync()
    assert not any("let me talk" in line or "hello" in line for line in alice.received)


# -- invite-notify and away-notify ------------------------------------------------------------

def test_invite_notify_tells_members_who_could_invite() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#club", caps=("invite-notify",))
    bob = net.irc("bob", "#club", caps=("invite-notify",))
    plain = net.irc("plain", "#club")
    human = net.human("hank", "#club")
    carol = net.irc("carol")
    bob.line("INVITE carol #club")
    assert bob.numeric("341") == ["carol", "#club"]
    assert carol.verb("INVITE").endswith("INVITE carol #club")
    assert alice.verb("INVITE").startswith(":bob!") and alice.received[-1].endswith(
        "INVITE carol #club")
    plain.sync()
    human.line("/who")
    human.expect("In #club")
    assert not any("INVITE" in line for line in plain.received)
    assert not any("invite" in line.lower() for line in human.received)
    # In an invite-only room only operators could have invited: only they are told.
    alice.line("MODE #club +i")
    bob.verb("MODE")
    alice.line("MODE #club +o bob")
    bob.verb("MODE")
    dave = net.irc("dave")
    alice.line("INVITE dave #club")
    assert bob.verb("INVITE").endswith("INVITE dave #club")
    assert dave.verb("INVITE")


def test_away_notify_tells_a_room_that_an_away_joiner_is_away() -> None:
    net = MemoryNet()
    watcher = net.irc("watcher", "#room", caps=("away-notify",))
    plain = net.irc("plain", "#room")
    bot = net.bot("robo", "#room")
    human = net.human("hank", "#room")
    sleepy = net.irc("sleepy")
    sleepy.line("AWAY :at lunch")
    sleepy.numeric("306")
    sleepy.line("JOIN #room")
    sleepy.numeric("366")
    watcher.expect(lambda line: irc_verb(line) == "JOIN" and line.startswith(":sleepy!"))
    assert watcher.verb("AWAY").endswith("AWAY :at lunch")
    plain.sync()
    bot.request(type="ping", token="t")
    bot.expect_json(type="pong")
    human.line("/who")
    human.expect("In #room")
    assert not any(irc_verb(line) == "AWAY" for line in plain.received)
    assert not any('"away"' in line for line in bot.received)
    assert not any("lunch" in line for line in human.received)
    assert not any(irc_verb(line) == "AWAY" for line in sleepy.new())  # not told of itself


# -- UTF8ONLY ---------------------------------------------------------------------------------

def test_invalid_utf8_is_refused_not_guessed() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room")
    bob = net.irc("bob", "#room")
    alice.send(b"PRIVMSG #room :caf\xe9\r\n")
    assert alice.expect("INVALID_UTF8") == (
        ":chat.local FAIL PRIVMSG INVALID_UTF8 :Message rejected, your IRC software MUST use "
        "UTF-8 encoding on this network")
    alice.send(b"\xff\xfe\r\n")
    assert alice.expect("INVALID_UTF8").startswith(":chat.local FAIL * INVALID_UTF8 :")
    alice.send(b"@+tag=\xe9 PRIVMSG #room :tagged\r\n")
    assert " FAIL PRIVMSG INVALID_UTF8 " in alice.expect("INVALID_UTF8")
    bob.sync()
    assert not any("caf" in line or "tagged" in line for line in bob.received)
    fresh = net.connect()
    fresh.send(b"NICK fresh\r\nUSER f 0 * :Jos\xe9\r\n")
    assert " FAIL USER INVALID_UTF8 " in fresh.expect("INVALID_UTF8")


# -- client-only tags and TAGMSG --------------------------------------------------------------

def test_client_tags_reach_message_tags_clients_only() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=("message-tags",))
    tagged = net.irc("tagged", "#room", caps=("message-tags",))
    plain = net.irc("plain", "#room")
    bot = net.bot("robo", "#room")
    alice.line("@+draft/reply=abc;+example.com/x=a\\sb;label=nope;server=no "
               "PRIVMSG #room :reply here")
    line = tagged.expect("reply here")
    tags = irc_tags(line)
    assert tags["+draft/reply"] == "abc" and tags["+example.com/x"] == "a\\sb"
    assert "server" not in tags and "label" not in tags and "msgid" in tags
    assert plain.expect("reply here").startswith(":alice!")
    assert bot.expect_json(type="message")["text"] == "reply here"
    alice.line("@+typing=active PRIVMSG tagged :psst")
    assert irc_tags(tagged.expect("psst"))["+typing"] == "active"


def test_tagmsg_is_relayed_to_message_tags_clients_and_never_to_other_dialects() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=("message-tags", "echo-message"))
    tagged = net.irc("tagged", "#room", caps=("message-tags",))
    plain = net.irc("plain", "#room")
    bot = net.bot("robo", "#room")
    human = net.human("hank", "#room")
    alice.line("@+typing=active TAGMSG #room")
    line = tagged.verb("TAGMSG")
    assert line.startswith("@") and line.endswith(":alice!alice@127.0.0.1 TAGMSG #room")
    assert irc_tags(line)["+typing"] == "active" and "msgid" in irc_tags(line)
    assert irc_tags(alice.verb("TAGMSG"))["+typing"] == "active"  # echo-message
    alice.line("@+typing=paused TAGMSG tagged")
    assert tagged.verb("TAGMSG").endswith(" TAGMSG tagged")
    alice.line("TAGMSG #room")  # no client tags: nothing to relay
    alice.line("@+typing=done TAGMSG #nowhere")
    assert alice.numeric("403")[0] == "#nowhere"
    alice.line("PRIVMSG #room :after")
    for client in (plain, bot, human):
        client.expect("after")
        assert not any("TAGMSG" in x or "typing" in x for x in client.received), client.received
    assert_all_irc(plain.received)
    tagged.expect("after")
    assert len([x for x in tagged.received if irc_verb(x) == "TAGMSG"]) == 2


def test_oversized_client_tags_are_refused_with_417() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#room", caps=("message-tags",))
    tagged = net.irc("tagged", "#room", caps=("message-tags",))
    alice.line(f"@+big={'x' * 4095} PRIVMSG #room :too much")
    assert alice.numeric("417")
    alice.line(f"@+big={'x' * 4000} PRIVMSG #room :fits")
    assert len(irc_tags(tagged.expect("fits"))["+big"]) == 4000


def test_tagmsg_without_message_tags_is_refused_with_421() -> None:
    net = MemoryNet()
    plain = net.irc("plain", "#room")
    tagged = net.irc("tagged", "#room", caps=("message-tags",))
    plain.line("@+typing=active TAGMSG #room")
    assert plain.numeric("421")[0] == "TAGMSG"
    plain.line("TAGMSG")  # no target either: still 421, the command is not enabled
    assert plain.numeric("421")[0] == "TAGMSG"
    plain.line("PRIVMSG #room :after")
    tagged.expect("after")
    assert not any(irc_verb(x) == "TAGMSG" for x in tagged.received)  # nothing relayed
