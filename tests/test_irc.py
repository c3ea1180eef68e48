"""The IRC dialect over real sockets, against both engines: registration, commands, numerics.

Each test drives raw IRC lines through an :class:`IrcClient` (tests/conftest.py) and waits for
the line or numeric it expects; ``sync()`` (a PING round trip) proves something did *not*
arrive without sleeping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from conftest import IrcClient, _irc_params, _irc_verb
from support import Clients

from chat.dialects.irc import IrcDialect, parse, split_utf8

Irc = Callable[..., IrcClient]


def raw_irc(clients: Clients) -> IrcClient:
    client = IrcClient(clients.server.host, clients.server.port)
    clients.all.append(client)
    return client


def assert_all_irc(client: IrcClient) -> None:
    """Every line an IRC client got is an IRC line (never human text or JSON)."""
    pattern = re.compile(r"(@\S+ )?(:\S+ )?([A-Z]+|\d{3})( |$)")
    bad = [line for line in client.received if not pattern.match(line)]
    assert not bad, bad


# -- pure helpers ------------------------------------------------------------------------------

def test_parse_handles_tags_prefix_and_trailing() -> None:
    assert parse("privmsg #a :hello :world") == ("PRIVMSG", ["#a", "hello :world"])
    assert parse(":me!x@y JOIN #a,#b k1") == ("JOIN", ["#a,#b", "k1"])
    assert parse("QUIT :") == ("QUIT", [""])
    assert parse("   ") == ("", [])


def test_split_utf8_never_cuts_a_character_and_prefers_spaces() -> None:
    text = "é" * 300 + " word " + "x" * 50
    pieces = split_utf8(text, 100)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert all(len(p.encode()) <= 100 for p in pieces)


def test_sniff_recognises_irc_openers() -> None:
    for line in (b"CAP LS 302", b"nick bob", b"USER a 0 * :b", b"PASS x"):
        assert IrcDialect.sniff(line)
    for line in (b"bob", b'{"type": "hello"}', b"", b"NICKNAME"):
        assert not IrcDialect.sniff(line)


# -- registration ------------------------------------------------------------------------------

def test_welcome_burst_isupport_and_motd(clients: Clients) -> None:
    c = raw_irc(clients)
    c.cmd("NICK alice")
    c.cmd("USER al 0 * :Alice Liddell")
    assert c.numeric("001")[-1].endswith("alice!al@127.0.0.1")
    c.numeric("002")
    c.numeric("003")
    assert c.numeric("004")[:1] == ["chat.local"]
    isupport = " ".join(c.numeric("005")) + " " + " ".join(c.numeric("005"))
    for token in ("CASEMAPPING=ascii", "CHANTYPES=#", "NICKLEN=30", "CHANNELLEN=50",
                  "TOPICLEN=390", "PREFIX=(ov)@+", "CHANMODES=b,k,l,imnt"):
        assert token in isupport
    c.numeric("375")
    assert c.numeric("372") == ["- Be kind."]
    c.numeric("376")
    assert_all_irc(c)


def test_cap_negotiation_delays_registration_until_cap_end(clients: Clients) -> None:
    c = raw_irc(clients)
    c.cmd("CAP LS 302")
    c.cmd("NICK alice")
    c.cmd("USER al 0 * :Alice")
    caps = _irc_params(c.verb("CAP"))
    assert caps[:2] == ["*", "LS"] and "server-time" in caps[2].split()
    c.cmd("CAP REQ :server-time bogus-cap")
    assert _irc_params(c.verb("CAP"))[1:] == ["NAK", "server-time bogus-cap"]
    c.cmd("CAP REQ :server-time echo-message")
    assert _irc_params(c.verb("CAP"))[1:] == ["ACK", "server-time echo-message"]
    c.cmd("PING :before-end")  # answered at once, and still no welcome
    c.expect("before-end")
    assert not any(_irc_verb(line) == "001" for line in c.received)
    c.cmd("CAP END")
    c.numeric("001")
    c.cmd("CAP LIST")
    assert _irc_params(c.verb("CAP"))[1:] == ["LIST", "echo-message server-time"]


def test_nick_errors_before_registration_leave_the_client_free_to_retry(
        clients: Clients, irc: Irc) -> None:
    irc("Alice")
    c = raw_irc(clients)
    c.cmd("NICK")  # the first line picks the dialect: an IRC verb
    c.numeric("431")
    c.cmd("PRIVMSG #lobby :too early")
    assert c.numeric("451")  # with "*" as the recipient before registration
    assert c.received[-1].split()[2] == "*"
    c.cmd("NICK alice")
    c.cmd("USER al 0 * :Alice")
    assert c.numeric("433")[0] == "alice"  # case-insensitive: Alice holds it
    c.cmd("NICK 9lives")
    assert c.numeric("432")[0] == "9lives"
    c.cmd("NICK alice_")
    c.numeric("001")
    c.cmd("USER again 0 * :x")
    c.numeric("462")
    c.cmd("USER")
    c.numeric("462")


def test_user_needs_four_params(clients: Clients) -> None:
    c = raw_irc(clients)
    c.cmd("USER onlyone")
    assert c.numeric("461")[0] == "USER"


def test_nick_is_free_again_once_its_connection_closes(clients: Clients, irc: Irc) -> None:
    alice = irc("alice", "#lobby")
    bob = irc("bob", "#lobby")
    alice.close()
    bob.verb("QUIT")
    again = raw_irc(clients)
    again.cmd("NICK alice")
    again.cmd("USER a 0 * :a")
    again.numeric("001")


def test_pass_is_accepted_and_ping_pong_both_ways(serve_with: Callable[..., Clients]) -> None:
    made = serve_with(ping_interval=0.3, ping_timeout=10)
    c = raw_irc(made)
    c.cmd("PASS anything")
    c.cmd("NICK alice")
    c.cmd("USER a 0 * :a")
    c.numeric("001")
    c.cmd("PING :12345")
    assert _irc_params(c.expect("12345"))[-1] == "12345"
    ping = c.verb("PING")  # the server asks once the client has been quiet
    c.cmd(f"PONG :{_irc_params(ping)[-1]}")
    c.verb("PING")  # answered, so still connected and pinged again later
    c.cmd("PING")
    c.numeric("409")


def test_quit_closes_with_error_and_tells_the_room(irc: Irc) -> None:
    alice = irc("alice", "#lobby")
    bob = irc("bob", "#lobby")
    bob.cmd("QUIT :see you")
    assert _irc_params(alice.verb("QUIT")) == ["see you"]
    assert any(line.startswith("ERROR :") for line in bob.wait_closed())


# -- three dialects, one room ---------------------------------------------------------------

def test_a_message_reaches_telnet_structured_and_irc_users_each_in_its_dialect(
        clients: Clients, irc: Irc) -> None:
    person = clients.human("tina")  # lands in #lobby, creating it
    bot = clients.bot("bert", "#lobby")
    ivan = irc("ivan", "#lobby")
    person.send("hello from telnet\r\n")
    assert ivan.expect("hello from telnet").startswith(":tina!tina@127.0.0.1 PRIVMSG #lobby :")
    bot.expect_json(type="message", text="hello from telnet")
    bot.request(type="message", to="#lobby", text="hello from json")
    ivan.expect(":bert!")
    person.expect("<bert> hello from json")
    ivan.cmd("PRIVMSG #lobby :hello from irc")
    person.expect("<ivan> hello from irc")
    assert bot.expect_json(type="message", text="hello from irc")["from"] == "ivan"
    ivan.cmd("PRIVMSG #lobby :\x01ACTION waves\x01")
    person.expect("* ivan waves")
    assert bot.expect_json(type="message", text="waves")["kind"] == "action"
    person.send("/me bows\r\n")
    assert ivan.expect("bows").endswith("PRIVMSG #lobby :\x01ACTION bows\x01")
    ivan.sync()
    # No echo-message: the IRC client never sees its own lines come back.
    assert not any("hello from irc" in line for line in ivan.received)
    assert_all_irc(ivan)


def test_private_messages_and_notices_across_dialects(clients: Clients, irc: Irc) -> None:
    bot = clients.bot("bert")
    ivan = irc("ivan")
    ivan.cmd("PRIVMSG bert :psst")
    event = bot.expect_json(type="message", text="psst")
    assert event["room"] is None and event["to"] == "bert"
    bot.request(type="message", to="ivan", text="hey")
    assert ivan.expect("hey").startswith(":bert!")
    ivan.cmd("NOTICE bert :fyi")
    assert bot.expect_json(type="message", text="fyi")["kind"] == "notice"
    ivan.cmd("PRIVMSG ivan :note to self")  # the target is oneself: delivered
    ivan.expect("note to self")


def test_long_messages_from_other_dialects_are_split_to_fit_512_bytes(
        clients: Clients, irc: Irc) -> None:
    bot = clients.bot("bert", "#lobby")
    ivan = irc("ivan", "#lobby", caps=("message-tags", "server-time"))
    text = " ".join(f"wörd{i}" for i in range(300))[:2000]
    bot.request(type="message", to="#lobby", text=text)
    got = []
    while " ".join(got) != text:
        line = ivan.verb("PRIVMSG")
        rest = line.partition(" ")[2]
        assert len(rest.encode()) + 2 <= 512
        got.append(_irc_params(line)[-1])
    ids = [re.search(r"msgid=([^; ]+)", line).group(1)  # type: ignore[union-attr]
           for line in ivan.received if " PRIVMSG " in line]
    assert len(got) > 3 and len(set(ids)) == len(ids)


def test_ircv3_echo_message_server_time_and_msgid(irc: Irc) -> None:
    alice = irc("alice", "#lobby", caps=("echo-message", "server-time", "message-tags"))
    bob = irc("bob", "#lobby", caps=("server-time",))
    plain = irc("carol", "#lobby")
    alice.cmd("PRIVMSG #lobby :tagged")
    echo = alice.expect("tagged")
    assert re.match(r"@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z;msgid=\S+ :alice!", echo)
    seen = bob.expect("tagged")
    assert seen.startswith("@time=") and "msgid=" not in seen
    assert plain.expect("tagged").startswith(":alice!alice@")
    msgid = re.search(r"msgid=(\S+) ", echo).group(1)  # type: ignore[union-attr]
    alice.cmd("PRIVMSG #lobby :again")
    assert re.search(r"msgid=(\S+) ", alice.expect("again")).group(1) != msgid  # type: ignore[union-attr]


def test_multi_prefix_and_userhost_in_names(irc: Irc) -> None:
    alice = irc("alice", "#room")
    alice.cmd("MODE #room +v alice")
    alice.verb("MODE")
    bob = irc("bob", caps=("multi-prefix", "userhost-in-names"))
    bob.cmd("NAMES #room")
    assert bob.numeric("353") == ["=", "#room", "@+alice!alice@127.0.0.1"]
    carol = irc("carol")
    carol.cmd("NAMES #room")
    assert carol.numeric("353") == ["=", "#room", "@alice"]


def test_away_rpl_away_and_away_notify(irc: Irc) -> None:
    alice = irc("alice", "#lobby", caps=("away-notify",))
    bob = irc("bob", "#lobby")
    bob.cmd("AWAY :lunch")
    bob.numeric("306")
    assert alice.verb("AWAY").startswith(":bob!") and alice.received[-1].endswith(":lunch")
    alice.cmd("PRIVMSG bob :there?")
    assert alice.numeric("301") == ["bob", "lunch"]
    alice.cmd("NOTICE bob :no auto reply to notices")
    alice.sync()
    assert sum(_irc_verb(line) == "301" for line in alice.received) == 1
    bob.cmd("AWAY")
    bob.numeric("305")
    assert alice.verb("AWAY").endswith(" AWAY")


# -- channels ------------------------------------------------------------------------------

def test_join_several_with_keys_part_and_join_zero(irc: Irc) -> None:
    alice = irc("alice", "#a", "#b")
    alice.cmd("MODE #a +k sesame")
    alice.verb("MODE")
    bob = irc("bob")
    bob.cmd("JOIN #a,#b,#c wrong")
    assert bob.numeric("475")[0] == "#a"
    assert _irc_params(bob.verb("JOIN")) == ["#b"]
    assert _irc_params(bob.verb("JOIN")) == ["#c"]
    bob.cmd("JOIN #a,#c sesame")  # already in #c: nothing said about it
    assert _irc_params(bob.verb("JOIN")) == ["#a"]
    bob.cmd("PART #a,#c :bye now")
    assert _irc_params(alice.verb("PART")) == ["#a", "bye now"]
    bob.cmd("PART #a")
    assert bob.numeric("442")[0] == "#a"
    bob.cmd("PART #nowhere")
    assert bob.numeric("403")[0] == "#nowhere"
    bob.cmd("JOIN 0")  # leaves #b, the last room
    assert _irc_params(alice.verb("PART"))[0] == "#b"
    bob.cmd("JOIN")
    assert bob.numeric("461")[0] == "JOIN"
    bob.cmd("JOIN nohash")
    assert bob.numeric("403")[0] == "nohash"


def test_channel_names_are_case_insensitive(irc: Irc) -> None:
    alice = irc("alice", "#Lobby")
    bob = irc("bob", "#LOBBY")
    bob.cmd("PRIVMSG #lobby :same room")
    assert alice.expect("same room")


def test_topic_331_332_333_and_change(irc: Irc) -> None:
    alice = irc("alice", "#lobby")
    alice.cmd("TOPIC #lobby")
    assert alice.numeric("331")[0] == "#lobby"
    alice.cmd("TOPIC #lobby :Friday release")
    assert alice.verb("TOPIC").endswith("TOPIC #lobby :Friday release")
    bob = irc("bob")
    bob.cmd("JOIN #lobby")
    assert bob.numeric("332") == ["#lobby", "Friday release"]
    who, when = bob.numeric("333")[1:]
    assert who == "alice" and when.isdigit()
    bob.cmd("TOPIC")
    bob.numeric("461")


def test_list_who_whois_ison_userhost(irc: Irc) -> None:
    alice = irc("alice", "#lobby", "#dev")
    alice.cmd("TOPIC #dev :code")
    alice.verb("TOPIC")
    bob = irc("bob", "#lobby")
    bob.cmd("LIST")
    bob.numeric("321")
    assert bob.numeric("322") == ["#dev", "1", "code"]
    assert bob.numeric("322") == ["#lobby", "2", ""]
    bob.numeric("323")
    bob.cmd("LIST #lobby")
    assert bob.numeric("322")[0] == "#lobby"
    assert bob.verb("323")
    bob.cmd("WHO #lobby")
    assert bob.numeric("352") == ["#lobby", "alice", "127.0.0.1", "chat.local", "alice", "H",
                                  "0 alice the tester"]  # nobody runs the server's #lobby
    assert bob.numeric("352")[5] == "H"
    bob.numeric("315")
    bob.cmd("WHOIS alice")
    assert bob.numeric("311") == ["alice", "alice", "127.0.0.1", "*", "alice the tester"]
    assert set(bob.numeric("319")[1].split()) == {"#lobby", "@#dev"}
    bob.numeric("312")
    bob.numeric("317")
    bob.numeric("318")
    bob.cmd("WHOIS nobody")
    assert bob.numeric("401")[0] == "nobody"
    assert bob.numeric("318")[0] == "nobody"
    bob.cmd("ISON alice nobody BOB")
    assert bob.numeric("303") == ["alice bob"]
    bob.cmd("USERHOST alice")
    assert bob.numeric("302") == ["alice=+alice@127.0.0.1"]


def test_nick_change_seen_by_all_dialects(clients: Clients, irc: Irc) -> None:
    person = clients.human("tina")
    alice = irc("alice", "#lobby")
    bot = clients.bot("bert", "#lobby")
    alice.cmd("NICK alicia")
    assert alice.verb("NICK").startswith(":alice!") and alice.received[-1].endswith("alicia")
    person.expect("alice is now known as alicia")
    assert bot.expect_json(type="nick")["nick"] == "alicia"
    alice.cmd("NICK tina")
    assert alice.numeric("433")[0] == "tina"
    assert alice.received[-1].split()[2] == "alicia"  # numerics name the recipient's new nick
    alice.cmd("NICK !bad")
    assert alice.numeric("432")[0] == "!bad"


def test_message_errors(irc: Irc) -> None:
    alice = irc("alice", "#lobby")
    alice.cmd("PRIVMSG")
    alice.numeric("411")
    alice.cmd("PRIVMSG #lobby")
    alice.numeric("412")
    alice.cmd("PRIVMSG nobody :hi")
    assert alice.numeric("401")[0] == "nobody"
    alice.cmd("PRIVMSG #nowhere :hi")
    assert alice.numeric("403")[0] == "#nowhere"
    bob = irc("bob", "#other")
    bob.cmd("PRIVMSG #lobby :from outside")  # +n: members only
    assert bob.numeric("404")[0] == "#lobby"
    bob.cmd("NOTICE nobody :errors to a notice are never sent")
    bob.cmd("FROBNICATE now")
    assert bob.numeric("421")[0] == "FROBNICATE"
    assert not any("401" in line.split()[1:2] for line in bob.received)


def test_overlong_lines_get_417_and_the_connection_lives(irc: Irc) -> None:
    alice = irc("alice", "#lobby")
    alice.cmd("PRIVMSG #lobby :" + "x" * 600)
    alice.numeric("417")
    alice.cmd("@" + "t" * 9000 + " PRIVMSG #lobby :x")
    alice.numeric("417")
    alice.cmd("@+client-tag=1 PRIVMSG #lobby :tags are fine")
    alice.cmd("MODE #lobby")
    assert alice.numeric("324")[:2] == ["#lobby", "+n"]


def test_too_many_rooms_gives_405(serve_with: Callable[..., Clients]) -> None:
    made = serve_with(max_rooms_per_user=1)
    c = raw_irc(made)
    c.cmd("NICK alice")
    c.cmd("USER a 0 * :a")
    c.numeric("001")
    c.cmd("JOIN #a,#b")
    assert c.numeric("405")[0] == "#b"


# -- operators: kick, invite, modes ----------------------------------------------------------

def test_creator_is_operator_and_can_kick(clients: Clients, irc: Irc) -> None:
    alice = irc("alice", "#ops")
    bob = irc("bob", "#ops")
    person = clients.human("tina")
    person.send("/join #ops\r\n")
    person.expect("In #ops")
    bob.cmd("KICK #ops alice")
    assert bob.numeric("482")[0] == "#ops"
    alice.cmd("KICK #ops bob :behave")
    line = bob.verb("KICK")
    assert line.startswith(":alice!") and _irc_params(line) == ["#ops", "bob", "behave"]
    person.expect("bob was kicked from #ops by alice (behave)")
    alice.cmd("KICK #ops bob")
    assert alice.numeric("441")[:2] == ["bob", "#ops"]
    alice.cmd("KICK #ops ghost")
    assert alice.numeric("401")[0] == "ghost"
    bob.cmd("KICK #ops alice")
    assert bob.numeric("442")[0] == "#ops"
    alice.cmd("KICK #ops")
    alice.numeric("461")
    alice.cmd("KICK #ops tina :out")
    person.expect("You were kicked from #ops by alice (out)")


def test_invite_only_and_invite(irc: Irc) -> None:
    alice = irc("alice", "#club")
    bob = irc("bob")
    alice.cmd("MODE #club +i")
    alice.verb("MODE")
    bob.cmd("JOIN #club")
    assert bob.numeric("473")[0] == "#club"
    bob.cmd("INVITE alice #club")
    assert bob.numeric("442")[0] == "#club"
    alice.cmd("INVITE bob #club")
    assert alice.numeric("341") == ["bob", "#club"]
    assert _irc_params(bob.verb("INVITE")) == ["bob", "#club"]
    bob.cmd("JOIN #club")
    bob.numeric("366")
    alice.cmd("INVITE bob #club")
    assert alice.numeric("443")[:2] == ["bob", "#club"]
    alice.cmd("INVITE ghost #club")
    assert alice.numeric("401")[0] == "ghost"
    alice.cmd("INVITE bob")
    alice.numeric("461")


def test_channel_modes_o_v_t_m_l_b(irc: Irc) -> None:
    alice = irc("alice", "#m")
    bob = irc("bob", "#m")
    carol = irc("carol")
    bob.cmd("MODE #m +t")
    assert bob.numeric("482")[0] == "#m"
    alice.cmd("MODE #m +tm")
    assert _irc_params(bob.verb("MODE")) == ["#m", "+tm"]
    bob.cmd("TOPIC #m :mine")
    assert bob.numeric("482")[0] == "#m"
    bob.cmd("PRIVMSG #m :can I talk?")
    assert bob.numeric("404")[0] == "#m"
    alice.cmd("MODE #m +v bob")
    assert _irc_params(bob.verb("MODE")) == ["#m", "+v", "bob"]
    bob.cmd("PRIVMSG #m :now I can")
    alice.expect("now I can")
    alice.cmd("MODE #m +o bob")
    bob.verb("MODE")
    bob.cmd("TOPIC #m :ops may")
    alice.verb("TOPIC")
    alice.cmd("MODE #m +o carol")
    assert alice.numeric("441")[:2] == ["carol", "#m"]
    alice.cmd("MODE #m +l 2")
    alice.verb("MODE")
    carol.cmd("JOIN #m")
    assert carol.numeric("471")[0] == "#m"
    alice.cmd("MODE #m -l+b carol")
    assert _irc_params(alice.verb("MODE")) == ["#m", "-l+b", "carol!*@*"]
    carol.cmd("JOIN #m")
    assert carol.numeric("474")[0] == "#m"
    alice.cmd("MODE #m +b")
    assert alice.numeric("367")[:3] == ["#m", "carol!*@*", "alice"]
    alice.numeric("368")
    alice.cmd("MODE #m")
    assert alice.numeric("324") == ["#m", "+mnt"]
    assert alice.numeric("329")[0] == "#m"
    alice.cmd("MODE #m +z")
    assert alice.numeric("472")[0] == "z"
    alice.cmd("MODE #m -n")
    alice.verb("MODE")
    carol.cmd("PRIVMSG #m :from outside, but banned")
    assert carol.numeric("404")[0] == "#m"
    carol.cmd("MODE #nowhere +t")
    assert carol.numeric("403")[0] == "#nowhere"
    carol.cmd("MODE")
    carol.numeric("461")


def test_user_modes(irc: Irc) -> None:
    alice = irc("alice")
    irc("bob")
    alice.cmd("MODE alice")
    assert alice.numeric("221") == ["+"]
    alice.cmd("MODE alice +i")
    assert alice.verb("MODE").endswith("MODE alice :+i")
    alice.cmd("MODE bob +i")
    alice.numeric("502")
    alice.cmd("MODE alice +Z")
    alice.numeric("501")
    alice.cmd("MODE ghost")
    assert alice.numeric("401")[0] == "ghost"


def test_human_and_structured_users_get_the_same_operator_powers(
        clients: Clients, irc: Irc) -> None:
    person = clients.human("tina")
    person.send("/join #ops\r\n")  # creates #ops: operator (#lobby belongs to the server)
    person.expect("In #ops")
    bot = clients.bot("bert", "#ops")
    ivan = irc("ivan", "#ops")
    person.send("/mode +t\r\n")
    assert _irc_params(ivan.verb("MODE")) == ["#ops", "+t"]
    assert bot.expect_json(type="mode")["modes"] == "+t"
    bot.request(type="topic", room="#ops", topic="nope")
    assert bot.expect_json(type="error")["code"] == "not_op"
    person.send("/op bert\r\n")
    bot.expect_json(type="mode", args=["bert"])
    bot.request(type="kick", room="#ops", nick="ivan", reason="testing")
    assert _irc_params(ivan.verb("KICK")) == ["#ops", "ivan", "testing"]
    person.expect("ivan was kicked from #ops by bert (testing)")
    bot.request(type="mode", target="#ops", modes="+i")
    bot.expect_json(type="mode", modes="+i")
    ivan.cmd("JOIN #ops")
    ivan.numeric("473")
    person.send("/invite ivan\r\n")
    person.expect("You invited ivan to #ops")
    ivan.verb("INVITE")
    ivan.cmd("JOIN #ops")
    ivan.numeric("366")
    ivan.cmd("AWAY :brb")
    ivan.numeric("306")
    bot.request(type="whois", nick="ivan")
    whois = bot.expect_json(type="whois")
    assert whois["away"] == "brb" and whois["rooms"] == [
        {"room": "#ops", "op": False, "voice": False}]
    person.send("/whois ivan\r\n")
    person.expect("ivan is ivan@127.0.0.1 (ivan the tester); in #ops; away: brb")
    assert json.loads(bot.received[-1])["ident"] == "ivan"


@pytest.mark.parametrize("verb", ["JOIN", "PART", "TOPIC", "KICK", "MODE", "INVITE", "ISON",
                                  "USERHOST", "PRIVMSG", "NOTICE", "NAMES", "LIST", "WHO",
                                  "WHOIS", "AWAY", "WHOWAS", "MOTD", "VERSION", "TIME", "OPER",
                                  "LUSERS", "TAGMSG", "CAP", "PING", "PONG", "NICK"])
def test_every_command_with_no_or_odd_params_answers_and_never_crashes(
        irc: Irc, verb: str) -> None:
    alice = irc("alice", "#lobby")
    alice.cmd(verb)
    alice.cmd(f"{verb} #lobby")
    alice.cmd(f"{verb} , ,, :")
    alice.sync()
    alice.cmd("PRIVMSG #lobby :still alive")
    assert_all_irc(alice)
