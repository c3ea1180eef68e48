"""IRC users meeting people on other dialects, in memory (tests/memnet.py): CTCP queries to
telnet users (the server answers) and to JSON clients (their client answers), and IRC
formatting codes stripped for telnet readers."""

from __future__ import annotations

from irc_lines import irc_params, irc_verb
from memnet import MemoryNet

from chat import __version__


def test_ctcp_version_and_ping_to_a_telnet_user_are_answered_by_the_server() -> None:
    net = MemoryNet()
    human = net.human("hank")
    irc = net.irc("ircer")
    irc.line("PRIVMSG hank :\x01VERSION\x01")
    line = irc.verb("NOTICE")
    assert line.startswith(":hank!")
    assert irc_params(line) == [
        "ircer", f"\x01VERSION chat-{__version__} (a terminal user on chat.local)\x01"]
    irc.line("PRIVMSG hank :\x01PING 1700000000 123\x01")
    assert irc_params(irc.verb("NOTICE"))[1] == "\x01PING 1700000000 123\x01"
    irc.line("PRIVMSG hank :\x01CLIENTINFO\x01")
    assert irc_params(irc.verb("NOTICE"))[1].startswith("\x01CLIENTINFO ACTION ")
    irc.line("PRIVMSG hank :\x01DCC SEND x 1 2 3\x01")  # unknown: unanswered, unshown
    irc.line("NOTICE hank :\x01VERSION irssi\x01")  # a reply nobody asked for: dropped
    irc.line("PRIVMSG hank :\x01ACTION waves\x01")
    human.expect("* ircer (private) waves")
    assert not any("VERSION" in x or "PING" in x or "\x01" in x or "DCC" in x
                   for x in human.received + human.new())
    irc.sync()
    assert [irc_verb(x) for x in irc.received].count("NOTICE") == 3


def test_ctcp_to_a_json_client_is_passed_on_and_its_answer_comes_back() -> None:
    net = MemoryNet()
    bot = net.bot("robo")
    irc = net.irc("ircer")
    irc.line("PRIVMSG robo :\x01VERSION\x01")
    query = bot.expect_json(type="message", kind="ctcp")
    assert query["text"] == "VERSION" and query["from"] == "ircer" and query["room"] is None
    bot.request(type="message", to="ircer", kind="ctcp_reply", text="VERSION robo 1.0")
    assert irc_params(irc.verb("NOTICE")) == ["ircer", "\x01VERSION robo 1.0\x01"]
    irc.line("PRIVMSG #lobby,robo :\x01PING 5\x01")  # to a room: dropped; to robo: passed on
    assert bot.expect_json(type="message", kind="ctcp")["text"] == "PING 5"
    bot.request(type="message", to="#lobby", kind="ctcp", text="VERSION")
    assert bot.expect_json(type="error")["code"] == "bad_request"


def test_ctcp_between_irc_users_is_relayed_and_not_kept() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    bob = net.irc("bob")
    alice.line("PRIVMSG bob :\x01VERSION\x01")
    assert bob.verb("PRIVMSG").endswith("PRIVMSG bob :\x01VERSION\x01")
    bob.line("NOTICE alice :\x01VERSION weechat 4\x01")
    assert alice.verb("NOTICE").endswith("NOTICE alice :\x01VERSION weechat 4\x01")


def test_irc_formatting_is_stripped_for_telnet_and_kept_for_others() -> None:
    net = MemoryNet()
    human = net.human("hank")
    bot = net.bot("robo", "#lobby")
    irc = net.irc("ircer", "#lobby")
    watcher = net.irc("watcher", "#lobby")
    text = ("\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x0304,12red on blue\x03 "
            "\x0399plain\x0f \x16rev\x16 \x11mono\x11 \x04ff8800hex\x04 \x1estrike\x1e")
    irc.line(f"PRIVMSG #lobby :{text}")
    assert human.expect("bold").endswith(
        "<ircer> bold italic under red on blue plain rev mono hex strike")
    assert bot.expect_json(type="message", **{"from": "ircer"})["text"] == text
    assert irc_params(watcher.expect("bold"))[1] == text
    irc.line("TOPIC #lobby :\x02News\x02 \x0303green")
    assert human.expect("News").endswith("News green")
    irc.line("PRIVMSG hank :\x0312,01private\x03 note")
    assert human.expect("private").endswith("*ircer* private note")
