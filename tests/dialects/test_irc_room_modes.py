"""Room modes for IRC clients, in memory (tests/memnet.py): secret and private rooms (+s, +p),
ban and invite exceptions (+e, +I), and LIST's ELIST filters."""

from __future__ import annotations

from irc_lines import irc_params, irc_verb, isupport_tokens
from memnet import MemClient, MemoryNet, replies


def _list_once(client: MemClient, query: str) -> dict[str, list[str]]:
    """The rooms one LIST answered (322 lines between the query and its 323)."""
    client.new()
    client.line(query)
    rows: dict[str, list[str]] = {}
    for line in client.new():
        if irc_verb(line) == "322":
            params = irc_params(line)
            rows[params[1]] = params[2:]
    return rows


def test_isupport_advertises_the_mode_lists_and_filters() -> None:
    net = MemoryNet()
    alice = net.irc("alice")
    tokens = isupport_tokens(alice.lines)
    for token in ("CHANMODES=beI,k,l,imnpst", "EXCEPTS=e", "INVEX=I", "ELIST=CMNTU",
                  "MAXLIST=b:100,e:100,I:100"):
        assert token in tokens
    assert alice.numeric("004")[2:] == ["iwBo", "Ibeiklmnopstv", "Ibeklov"]


def test_secret_room_is_hidden_from_outsiders_in_list_names_whois_and_who() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#hideout", "#open")
    alice.line("TOPIC #hideout :plans")
    alice.line("MODE #hideout +s")
    alice.verb("MODE")
    bob = net.irc("bob")
    rows = _list_once(bob, "LIST")
    assert "#open" in rows and "#hideout" not in rows
    assert "#hideout" not in _list_once(bob, "LIST #hideout")
    bob.line("NAMES #hideout")
    assert bob.numeric("366")[0] == "#hideout"
    assert not any(irc_verb(line) == "353" for line in bob.received)
    bob.line("WHOIS alice")
    assert bob.numeric("319")[1].split() == ["@#open"]
    bob.line("WHO #hideout")
    bob.numeric("315")
    assert not any(irc_verb(line) == "352" for line in bob.received)
    # Members see it, and NAMES marks it secret with @.
    assert "#hideout" in _list_once(alice, "LIST")
    alice.line("NAMES #hideout")
    assert irc_params(alice.verb("353"))[1:3] == ["@", "#hideout"]
    alice.line("WHOIS alice")
    assert set(alice.numeric("319")[1].split()) == {"@#hideout", "@#open"}


def test_private_room_is_listed_without_its_topic_and_names_it_with_a_star() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#quiet")
    alice.line("TOPIC #quiet :not for you")
    alice.line("MODE #quiet +p")
    assert irc_params(alice.verb("MODE"))[1] == "+p"
    alice.line("NAMES #quiet")
    assert irc_params(alice.verb("353"))[1] == "*"
    bob = net.irc("bob")
    assert _list_once(bob, "LIST")["#quiet"] == ["1", ""]
    bob.line("NAMES #quiet")
    bob.numeric("366")
    assert not any(irc_verb(line) == "353" for line in bob.received)
    bob.line("JOIN #quiet")  # +p does not keep anyone out
    assert irc_params(bob.verb("353"))[1] == "*"


def test_ban_exception_lets_a_banned_mask_in() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#club")
    alice.line("MODE #club +b *!*@127.0.0.1")
    alice.verb("MODE")
    bob = net.irc("bob")
    bob.line("JOIN #club")
    assert bob.numeric("474")[0] == "#club"
    alice.line("MODE #club +e bob")
    assert irc_params(alice.verb("MODE"))[1:] == ["+e", "bob!*@*"]
    bob.line("JOIN #club")
    assert irc_params(bob.verb("JOIN")) == ["#club"]
    bob.line("PRIVMSG #club :let in")
    assert alice.expect("let in")
    alice.line("MODE #club e")
    assert alice.numeric("348")[:3] == ["#club", "bob!*@*", "alice"]
    assert alice.numeric("349")[0] == "#club"
    alice.line("MODE #club -e bob!*@*")
    assert irc_params(alice.verb("MODE"))[1:] == ["-e", "bob!*@*"]
    alice.line("MODE #club e")
    alice.numeric("349")
    assert not any(irc_verb(line) == "348" for line in alice.new())


def test_invite_exception_lets_a_mask_into_an_invite_only_room() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#vip")
    alice.line("MODE #vip +i")
    alice.verb("MODE")
    carol = net.irc("carol")
    carol.line("JOIN #vip")
    assert carol.numeric("473")[0] == "#vip"
    alice.line("MODE #vip +I carol!*@*")
    alice.verb("MODE")
    alice.line("MODE #vip I")
    assert alice.numeric("346")[:2] == ["#vip", "carol!*@*"]
    assert alice.numeric("347")[0] == "#vip"
    carol.line("JOIN #vip")
    assert irc_params(carol.verb("JOIN")) == ["#vip"]
    dave = net.irc("dave")
    dave.line("JOIN #vip")
    assert dave.numeric("473")[0] == "#vip"


def test_only_operators_change_exception_lists() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#club")
    bob = net.irc("bob", "#club")
    bob.line("MODE #club +e bob")
    assert bob.numeric("482")[0] == "#club"
    bob.line("MODE #club +I bob")
    bob.numeric("482")
    alice.line("MODE #club e")
    alice.numeric("349")
    assert not any(irc_verb(line) == "348" for line in alice.new())


def test_only_operators_see_the_exception_lists_anyone_sees_bans() -> None:
    """As on solanum: +e and +I name who gets past the bans and +i, the operators' business."""
    net = MemoryNet()
    alice = net.irc("alice", "#club")
    alice.line("MODE #club +beI *!*@10.* bob carol")
    alice.verb("MODE")
    bob = net.irc("bob", "#club")
    outsider = net.irc("olga")
    for who in (bob, outsider):
        got = replies(who, "MODE #club eI")  # one refusal for both lists
        assert [(irc_verb(x), irc_params(x)[1]) for x in got] == [("482", "#club")]
        assert replies(who, "MODE #club +e")[0].split()[1] == "482"
        who.line("MODE #club b")
        assert who.numeric("367")[:2] == ["#club", "*!*@10.*"]
        who.numeric("368")
    alice.line("MODE #club e")
    assert alice.numeric("348")[:2] == ["#club", "bob!*@*"]
    alice.line("MODE #club I")
    assert alice.numeric("346")[:2] == ["#club", "carol!*@*"]


def test_list_filters_by_members_times_and_masks() -> None:
    net = MemoryNet(ping_interval=0)  # the clock moves ten minutes: no ping timeouts
    alice = net.irc("alice", "#old")
    net.advance(600)  # #old is ten minutes old
    bob = net.irc("bob", "#old", "#new-dev", "#new-ops")
    carol = net.irc("carol", "#old", "#new-dev")
    carol.line("TOPIC #new-dev :fresh")
    carol.verb("TOPIC")
    assert set(_list_once(alice, "LIST >1")) == {"#old", "#new-dev"}
    assert set(_list_once(alice, "LIST <2")) == {"#new-ops"}
    assert set(_list_once(alice, "LIST >1,<3")) == {"#new-dev"}
    assert set(_list_once(alice, "LIST C>5")) == {"#old"}  # created more than 5 minutes ago
    assert set(_list_once(alice, "LIST C<5")) == {"#new-dev", "#new-ops"}
    assert set(_list_once(alice, "LIST T<5")) == {"#new-dev"}  # only it has a topic
    assert set(_list_once(alice, "LIST T>5")) == set()
    assert set(_list_once(alice, "LIST #new-*")) == {"#new-dev", "#new-ops"}
    assert set(_list_once(alice, "LIST !#new-*")) == {"#old"}
    assert set(_list_once(alice, "LIST #new-*,>1")) == {"#new-dev"}
    alice.line("LIST >x")
    assert alice.numeric("403")[0] == ">x"
    alice.verb("323")
    assert bob.conn != carol.conn


def test_exceptions_and_secret_mode_in_the_human_and_json_dialects() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#club")
    alice.line("MODE #club +se bob")
    alice.verb("MODE")
    human = net.human("hank")
    human.line("/rooms")
    human.expect("room(s)")
    assert not any("#club" in line for line in human.new())
    bot = net.bot("robo")
    bot.request(type="mode", target="#club", modes="e")  # not an operator of #club
    assert bot.expect_json(type="error")["code"] == "not_op"
    human.line("/mode #club I")
    human.expect("You must be an operator of #club")
    opbot = net.bot("opbot", "#bots")  # runs #bots: may list
    opbot.request(type="mode", target="#bots", modes="+e", args=["bob"])
    opbot.expect_json(type="mode")
    opbot.request(type="mode", target="#bots", modes="e")
    reply = opbot.expect_json(type="bans")
    assert reply["list"] == "e" and [b["mask"] for b in reply["bans"]] == ["bob!*@*"]


def test_topic_of_a_secret_or_private_room_is_not_told_to_outsiders() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#hideout", "#quiet", "#open")
    for room, mode in (("#hideout", "+s"), ("#quiet", "+p"), ("#open", "+n")):
        alice.line(f"TOPIC {room} :plans for {room}")
        alice.line(f"MODE {room} {mode}")
    alice.sync()
    bob = net.irc("bob")
    for room in ("#hideout", "#quiet"):
        bob.line(f"TOPIC {room}")
        assert bob.numeric("442")[0] == room
    assert not any(irc_verb(line) == "332" or "plans" in line for line in bob.received)
    bob.line("TOPIC #open")
    assert bob.numeric("332") == ["#open", "plans for #open"]
    hank = net.human("hank")
    hank.line("/topic #hideout")
    hank.expect("You are not in #hideout")
    assert not any("plans" in line for line in hank.received)
    alice.line("TOPIC #hideout")  # members still see it
    assert alice.numeric("332") == ["#hideout", "plans for #hideout"]
