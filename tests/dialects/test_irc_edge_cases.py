"""IRC edge cases modern clients and test suites probe, in memory (tests/memnet.py): several
names in one NAMES, NAMES of bad names, KICK of several nicks, USER with an empty real name,
over-long lines."""

from __future__ import annotations

from irc_lines import irc_params, irc_verb
from memnet import MemoryNet, replies


def test_names_of_several_rooms_answers_each_and_bad_names_end_with_366() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#a", "#b")
    net.irc("bob", "#b")
    got = replies(alice, "NAMES #a,#b,#nowhere,notaroom")
    assert [(irc_verb(x), irc_params(x)[1:]) for x in got] == [
        ("353", ["=", "#a", "@alice"]), ("366", ["#a", "End of /NAMES list"]),
        ("353", ["=", "#b", "@alice bob"]), ("366", ["#b", "End of /NAMES list"]),
        ("366", ["#nowhere", "End of /NAMES list"]),
        ("366", ["notaroom", "End of /NAMES list"]),
    ]
    for empty in ("NAMES ,,,", "NAMES :", "NAMES"):  # nothing named: still one 366
        assert [(irc_verb(x), irc_params(x)[1:]) for x in replies(alice, empty)] == [
            ("366", ["*", "End of /NAMES list"])], empty


def test_kick_of_several_nicks_kicks_each() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#a")
    bob = net.irc("bob", "#a")
    net.irc("carol", "#a")
    alice.line("KICK #a bob,carol,nobody :out")
    kicks = [irc_params(alice.verb("KICK"))[1] for _ in range(2)]
    assert kicks == ["bob", "carol"]
    assert alice.numeric("401")[0] == "nobody"
    assert irc_params(bob.verb("KICK"))[1:] == ["bob", "out"]
    alice.line("NAMES #a")
    assert alice.numeric("353") == ["=", "#a", "@alice"]


def test_user_with_an_empty_real_name_gets_461_and_may_try_again() -> None:
    net = MemoryNet()
    client = net.connect()
    client.line("NICK zed")
    client.line("USER zed 0 * :")
    assert client.numeric("461")[0] == "USER"
    client.line("USER zed 0 *")
    assert client.numeric("461")[0] == "USER"
    client.line("USER zed 0 * :Zed")
    client.numeric("001")


def test_an_overlong_line_gets_417_and_nothing_is_relayed() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#a")
    bob = net.irc("bob", "#a")
    too_long = "PRIVMSG #a :" + "x" * (511 - len("PRIVMSG #a :"))  # 511 bytes + CR LF
    assert irc_params(replies(alice, too_long)[0])[1:] == ["Input line was too long"]
    assert irc_verb(replies(alice, too_long)[0]) == "417"
    fits = "PRIVMSG #a :" + "x" * (510 - len("PRIVMSG #a :"))
    assert replies(alice, fits) == []
    bob.sync()
    assert sum(" PRIVMSG " in line for line in bob.received) == 1


def test_join_part_and_kick_naming_nothing_get_461() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#a")
    for line, verb in (("JOIN ,,,", "JOIN"), ("JOIN :", "JOIN"), ("PART ,,,", "PART"),
                       ("PART :", "PART"), ("KICK #a ,,,", "KICK"), ("KICK #a :", "KICK")):
        assert [(irc_verb(x), irc_params(x)[1]) for x in replies(alice, line)] == [
            ("461", verb)], line
    # Empty entries among real names are skipped, as ergo and solanum skip them.
    got = replies(alice, "JOIN ,#b,,#c")
    assert [irc_params(x)[0] for x in got if irc_verb(x) == "JOIN"] == ["#b", "#c"]
    assert not any(irc_verb(x) == "461" for x in got)


def test_kick_of_oneself_among_others_is_done_last() -> None:
    net = MemoryNet()
    alice = net.irc("alice", "#k")
    got = replies(alice, "KICK #k alice,ghost :bye")
    assert [(irc_verb(x), irc_params(x)[1]) for x in got] == [("401", "ghost"), ("KICK", "alice")]
    bob = net.irc("bob", "#j")
    carol = net.irc("carol", "#j")
    got = replies(bob, "KICK #j bob,carol,nobody")  # bob runs #j: carol, nobody, then bob
    assert [(irc_verb(x), irc_params(x)[1]) for x in got] == [
        ("KICK", "carol"), ("401", "nobody"), ("KICK", "bob")]
    assert irc_params(carol.verb("KICK"))[1] == "carol"
    bob.line("JOIN #j")  # the room emptied and is bob's again
    bob.numeric("366")
