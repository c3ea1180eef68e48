"""A person on telnet/nc: long messages, first lines that look like IRC, and the replies to
commands that used to get none (in memory, on the real hub)."""

from __future__ import annotations

from memnet import MemoryNet

from chat.dialects.human import HELP
from chat.dialects.human.commands import split_message


def test_a_message_over_the_limit_arrives_as_several() -> None:
    net = MemoryNet(message_len=2000)
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    words = " ".join(f"word{i:04d}" for i in range(500))  # 4,499 characters
    alice.send(words + "\r\n")
    texts = [bob.expect_json(type="message")["text"] for _ in range(3)]
    assert all(len(text) <= 2000 for text in texts)
    assert " ".join(texts) == words  # cut between words, nothing lost, in order
    assert not any(line.startswith("!") for line in alice.new())
    alice.send("/msg bob " + "x" * 2500 + "\r\n")  # private messages and actions too
    assert [len(bob.expect_json(type="message")["text"]) for _ in range(2)] == [2000, 500]


def test_one_line_makes_at_most_eight_messages() -> None:
    net = MemoryNet(message_len=10)
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    alice.send("z" * 95 + "\r\n")
    assert [bob.expect_json(type="message")["text"] for _ in range(8)] == ["z" * 10] * 8
    assert alice.expect("!") == ("! Messages are at most 10 characters, and one line makes at "
                                 "most 8: the last 15 characters were not sent")
    bob.request(type="message", to="#lobby", text="sync")
    assert bob.expect_json(type="message")["text"] == "sync"  # nothing more came before it


def test_split_message_cuts_at_spaces_and_through_long_words() -> None:
    assert split_message("short", 10) == ["short"]
    assert split_message("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_message("ab " + "y" * 12, 10) == ["ab yyyyyyy", "yyyyy"]  # no tiny piece


def test_a_first_line_starting_with_an_irc_verb_is_not_taken_for_irc_unless_it_is_one() -> None:
    net = MemoryNet()
    for first in ("nick is what I want", "user", "pass", "cap", "Cap tain Haddock",
                  "NICK :two words", "USER only two"):
        person = net.connect()
        person.line(first)  # taken as the nickname it is (or is not): a person's dialect
        assert person.expect("Pick a nickname") and person.expect(
            lambda line: line.startswith(("! Invalid nickname", "*** Welcome to chat.local, ")))
    for first in ("NICK alice", "USER a 0 * :Real Name", "PASS secret", "CAP LS 302",
                  "CAP LS", "cap ls"):
        client = net.connect()
        client.line(first)
        assert not any("Pick a nickname" in line for line in client.new()), first


def test_a_person_taken_for_irc_after_the_greeting_is_told() -> None:
    net = MemoryNet()
    person = net.connect()
    net.advance(1)
    person.expect("Pick a nickname")
    person.line("NICK alice")
    assert "NOTICE * :*** Your first line was an IRC command" in person.expect("NOTICE")
    assert "Reconnect and type just the nickname" in person.received[-1]


def test_mode_without_its_argument_gets_a_usage_line() -> None:
    net = MemoryNet()
    alice = net.human("alice", "#dev")
    for typed, usage in (("/mode +o", "+o NICK"), ("/mode -o", "-o NICK"),
                         ("/mode #dev +v", "+v NICK"), ("/mode +l", "+l LIMIT"),
                         ("/mode +l many", "+l LIMIT"), ("/mode +k", "+k KEY"),
                         ("/mode +t-o", "-o NICK")):
        alice.line(typed)
        assert alice.expect("!") == f"! Usage: /mode [#room] {usage}" + (
            " (a number of members; -l removes the limit)" if typed.endswith("many") else "")
    alice.line("/mode +k sesame")
    alice.expect("+k sesame")
    alice.line("/mode -k")  # the key need not be typed again to remove it
    alice.expect("-k")
    alice.line("/mode +b")  # alone: the ban list, as before
    alice.expect("No bans on #dev")


def test_mode_from_a_non_operator_is_told_so() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    alice.line("/join #dev")
    bob = net.human("bob", "#dev")
    bob.line("/mode +o")
    assert bob.expect("!") == "! Usage: /mode [#room] +o NICK"
    bob.line("/mode +o bob")
    assert bob.expect("!") == "! You must be an operator of #dev to do that"


def test_join_refuses_a_room_name_with_a_space() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    alice.line("/join #bad room")
    assert alice.expect("!") == ("! #bad has no key, so 'room' is not one (room names cannot "
                                 "contain spaces): /join #bad to join it")
    alice.line("/join #bad room name")
    assert "Room names cannot contain spaces" in alice.expect("!")
    alice.line("/rooms")
    assert "#bad" not in " ".join(alice.new())  # never created
    # A key still works for a room that has one.
    alice.line("/j #vault")
    alice.expect("In #vault")
    alice.line("/mode +k sesame")
    alice.expect("+k sesame")
    bob = net.human("bob")
    bob.line("/join #vault wrong")
    assert bob.expect("!") == "! #vault needs the right key to join"
    bob.line("/join #vault sesame")
    bob.expect("In #vault")


def test_help_lists_back_and_j_and_the_prompt_says_what_a_nick_may_hold() -> None:
    assert "/back" in HELP and "/j " in HELP
    net = MemoryNet()
    person = net.connect()
    net.advance(1)
    prompt = person.expect("Pick a nickname")
    assert prompt == ("*** Pick a nickname (letters, digits and - _ [ ] \\ ` ^ { } |, "
                      "not starting with a digit or -):")
    person.line("[a]{b}`c^|")  # everything the prompt promises is accepted
    person.expect("Welcome to chat.local, [a]{b}`c^|!")
    person.line("/back")
    person.expect("You are no longer marked as away")


def test_a_private_notice_reads_as_a_notice_not_a_private_message() -> None:
    net = MemoryNet()
    hank = net.human("hank")
    irc = net.irc("ircer")
    irc.line("NOTICE hank :automatic reply, do not answer")
    assert hank.expect("automatic").endswith("-ircer- automatic reply, do not answer")
    irc.line("PRIVMSG hank :a real question")
    assert hank.expect("question").endswith("*ircer* a real question")


def test_help_names_every_room_mode_the_server_takes() -> None:
    from chat.core.modes import ROOM_MODES

    mode_help = HELP[HELP.index("/mode"):HELP.index("/op,")]
    for letter in ROOM_MODES:
        assert f" {letter} (" in mode_help or f" {letter} KEY" in mode_help \
            or f" {letter} LIMIT" in mode_help or f" {letter} MASK" in mode_help, letter
    assert max(len(line) for line in HELP.splitlines()) <= 96


def test_whois_says_when_someone_is_a_bot() -> None:
    net = MemoryNet()
    hank = net.human("hank")
    irc = net.irc("robot")
    irc.line("MODE robot +B")
    irc.verb("MODE")
    hank.line("/whois robot")
    said = hank.expect("robot is")
    assert "; a bot;" in said and said.count("a bot") == 1, said
    hank.line("/whois hank")
    assert "a bot" not in hank.expect("hank is")
