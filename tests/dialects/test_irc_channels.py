"""IRC channels in memory (tests/memnet.py): JOIN/PART, TOPIC, LIST/WHO/WHOIS, NICK changes."""

from __future__ import annotations

from irc_lines import irc_params
from memnet import MemoryNet


def test_join_several_with_keys_part_and_join_zero() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#a", "#b")
    alice.line("MODE #a +k sesame")
    alice.verb("MODE")
    bob = net.irc("bob")
    bob.line("JOIN #a,#b,#c wrong")
    assert bob.numeric("475")[0] == "#a"
    assert irc_params(bob.verb("JOIN")) == ["#b"]
    assert irc_params(bob.verb("JOIN")) == ["#c"]
    bob.line("JOIN #a,#c sesame")  # already in #c: nothing said about it
    assert irc_params(bob.verb("JOIN")) == ["#a"]
    bob.line("PART #a,#c :bye now")
    assert irc_params(alice.verb("PART")) == ["#a", "bye now"]
    bob.line("PART #a")
    assert bob.numeric("442")[0] == "#a"
    bob.line("PART #nowhere")
    assert bob.numeric("403")[0] == "#nowhere"
    bob.line("JOIN 0")  # leaves #b, the last room
    assert irc_params(alice.verb("PART"))[0] == "#b"
    bob.line("JOIN")
    assert bob.numeric("461")[0] == "JOIN"
    bob.line("JOIN nohash")
    assert bob.numeric("403")[0] == "nohash"


def test_channel_names_are_case_insensitive() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#Lobby")
    bob = net.irc("bob", "#LOBBY")
    bob.line("PRIVMSG #lobby :same room")
    assert alice.expect("same room")


def test_topic_331_332_333_and_change() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby")
    alice.line("TOPIC #lobby")
    assert alice.numeric("331")[0] == "#lobby"
    alice.line("TOPIC #lobby :Friday release")
    assert alice.verb("TOPIC").endswith("TOPIC #lobby :Friday release")
    bob = net.irc("bob")
    bob.line("JOIN #lobby")
    assert bob.numeric("332") == ["#lobby", "Friday release"]
    who, when = bob.numeric("333")[1:]
    assert who == "alice" and when.isdigit()
    bob.line("TOPIC")
    bob.numeric("461")


def test_list_who_whois_ison_userhost() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#lobby", "#dev")
    alice.line("TOPIC #dev :code")
    alice.verb("TOPIC")
    bob = net.irc("bob", "#lobby")
    bob.line("LIST")
    bob.numeric("321")
    assert bob.numeric("322") == ["#dev", "1", "code"]
    assert bob.numeric("322") == ["#lobby", "2", ""]
    bob.numeric("323")
    bob.line("LIST #lobby")
    assert bob.numeric("322")[0] == "#lobby"
    assert bob.verb("323")
    bob.line("WHO #lobby")
    assert bob.numeric("352") == ["#lobby", "alice", "127.0.0.1", "chat.local", "alice", "H",
                                  "0 alice the tester"]  # nobody runs the server's #lobby
    assert bob.numeric("352")[5] == "H"
    bob.numeric("315")
    bob.line("WHOIS alice")
    assert bob.numeric("311") == ["alice", "alice", "127.0.0.1", "*", "alice the tester"]
    assert set(bob.numeric("319")[1].split()) == {"#lobby", "@#dev"}
    bob.numeric("312")
    bob.numeric("317")
    bob.numeric("318")
    bob.line("WHOIS nobody")
    assert bob.numeric("401")[0] == "nobody"
    assert bob.numeric("318")[0] == "nobody"
    bob.line("ISON alice nobody BOB")
    assert bob.numeric("303") == ["alice bob"]
    bob.line("USERHOST alice")
    assert bob.numeric("302") == ["alice=+alice@127.0.0.1"]


def test_nick_change_seen_by_all_dialects() -> None:
    net = MemoryNet()
    person = net.human("tina")
    alice = net.irc("alice", "#lobby")
    bot = net.bot("bert", "#lobby")
    alice.line("NICK alicia")
    assert alice.verb("NICK").startswith(":alice!") and alice.received[-1].endswith("alicia")
    person.expect("alice is now known as alicia")
    assert bot.expect_json(type="nick")["nick"] == "alicia"
    alice.line("NICK tina")
    assert alice.numeric("433")[0] == "tina"
    assert alice.received[-1].split()[2] == "alicia"  # numerics name the recipient's new nick
    alice.line("NICK !bad")
    assert alice.numeric("432")[0] == "!bad"


def test_too_many_rooms_gives_405() -> None:
    net = MemoryNet(max_rooms_per_user=1)
    c = net.connect()
    c.line("NICK alice")
    c.line("USER a 0 * :a")
    c.numeric("001")
    c.line("JOIN #a,#b")
    assert c.numeric("405")[0] == "#b"
