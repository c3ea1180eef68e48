"""What people (telnet/nc) and bots (JSON lines) see: arrival and detection, rooms, nicks, private
messages, quits, and a clear error for bad input that never costs the connection.

All of it belongs to the hub, the dialects and the core, so it runs in memory on the real hub with
a fake clock (tests/memnet.py): timers fire when the test advances the clock. The same path over
real sockets, on both engines, is smoke-tested in test_engines.py.
"""

from __future__ import annotations

import json
import re

import pytest
from memnet import MemClient, MemoryNet

from chat.config import ServerConfig


def person_in_lobby(net: MemoryNet, nick: str) -> MemClient:
    """A telnet/nc user who picked ``nick`` and was told they are in the default room."""
    client = net.human(nick)
    client.expect(f"In {net.hub.config.default_room}")
    return client


# -- arrival and the two dialects ---------------------------------------------------------

def test_silent_connection_is_greeted_and_asked_for_a_nick() -> None:
    net = MemoryNet()
    person = net.connect()
    assert person.lines == []  # it might still be an IRC or JSON client
    net.advance(net.hub.config.greet_delay)
    first, second = person.new()[:2]
    assert "Welcome to chat.local" in first
    assert "Pick a nickname" in second
    person.line("alice")
    person.expect("Welcome to chat.local, alice")
    assert "alice joined #lobby" in person.expect("joined")


def test_structured_client_is_placed_in_no_room() -> None:
    net = MemoryNet()
    bob = net.bot("bob")
    bob.request(type="message", to="#lobby", text="anyone?")
    error = bob.expect_json(type="error")
    assert error["code"] == "no_such_room"


def test_late_structured_client_after_greeting_still_gets_json() -> None:
    net = MemoryNet()
    slow = net.connect()
    net.advance(net.hub.config.greet_delay)
    slow.expect("Pick a nickname")  # greeted as a person, then it speaks JSON
    slow.request(type="hello", version=1, nick="slowbot")
    assert slow.expect_json(type="welcome")["nick"] == "slowbot"


def test_action_and_notice_rendering() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    alice.line("/me waves")
    assert re.fullmatch(r"\[\d\d:\d\d\] \* alice waves", alice.expect("waves"))
    event = bob.expect_json(type="message", kind="action")
    assert event["text"] == "waves" and event["from"] == "alice"


# -- rooms ---------------------------------------------------------------------------------

def test_rooms_are_isolated() -> None:
    net = MemoryNet()
    alice, bob = net.human("alice"), net.human("bob")
    carol = net.bot("carol", "#dev")
    alice.line("/join #dev")
    alice.expect("In #dev")
    carol.expect_json(type="join", **{"from": "alice"})
    alice.line("dev talk")
    carol.expect_json(type="message", text="dev talk")
    bob.line("lobby talk")
    alice.expect("lobby talk")  # alice is still in #lobby too, tagged with the room
    bob.line("/who")
    bob.expect("In #lobby")
    assert not any("dev talk" in line for line in bob.lines)
    received = [json.loads(line) for line in carol.lines]
    assert not any(obj.get("text") == "lobby talk" for obj in received)


def test_join_part_topic_rooms_who() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    alice.expect("bob joined")
    alice.line("/topic Friday release")
    topic = bob.expect_json(type="topic", changed=True)
    assert topic["topic"] == "Friday release" and topic["set_by"] == "alice"
    bob.request(type="rooms")
    rooms = bob.expect_json(type="rooms")["rooms"]
    assert {"room": "#lobby", "members": 2, "topic": "Friday release"} in rooms
    bob.request(type="who", room="#lobby")
    members = bob.expect_json(type="members")["members"]
    # The default room belongs to the server: its first member is not its operator.
    assert [m["nick"] for m in members] == ["alice", "bob"] and not members[0]["op"]
    bob.request(type="part", room="#lobby", reason="lunch")
    assert "bob left #lobby (lunch)" in alice.expect("left")
    carol = net.bot("carol", "#lobby")  # joiners get the topic
    assert carol.received and any('"Friday release"' in line for line in carol.received)


def test_nick_change_is_seen_by_room() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    alice.line("/nick alicia")
    event = bob.expect_json(type="nick")
    assert event["from"] == "alice" and event["nick"] == "alicia"
    alice.expect("alice is now known as alicia")
    alice.line("still me")
    assert bob.expect_json(type="message")["from"] == "alicia"


def test_nick_collision_is_case_insensitive() -> None:
    net = MemoryNet()
    net.human("Alice")
    bot = net.connect()
    bot.request(type="hello", version=1, nick="alice")
    assert bot.expect_json(type="error")["code"] == "nick_taken"
    bot.request(type="hello", version=1, nick="alice2")
    bot.expect_json(type="welcome")
    person = net.connect()
    person.line("ALICE")
    person.expect("already in use")
    person.expect("Pick another nickname")
    person.line("alice3")
    person.expect("Welcome to chat.local, alice3")


def test_private_messages() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob")
    carol = person_in_lobby(net, "carol")
    alice.line("/msg bob psst")
    event = bob.expect_json(type="message", text="psst")
    assert event["room"] is None and event["from"] == "alice" and event["to"] == "bob"
    assert "-> *bob* psst" in alice.expect("psst")
    bob.request(type="message", to="alice", text="hey")
    assert re.fullmatch(r"\[\d\d:\d\d\] \*bob\* hey", alice.expect("hey"))
    bob.request(type="message", to="nobody", text="hello?")
    assert bob.expect_json(type="error")["code"] == "no_such_nick"
    assert not any("psst" in line for line in carol.lines)


def test_quit_and_abrupt_disconnect_are_announced() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.human("bob")
    carol = net.bot("carol", "#lobby")
    bob.line("/quit see you")
    assert "bob quit (see you)" in alice.expect("bob quit")
    assert "Goodbye" in " ".join(bob.wait_closed())
    event = carol.expect_json(type="quit")
    assert event["from"] == "bob" and event["reason"] == "see you" and event["rooms"] == ["#lobby"]
    carol.close()  # a reset over TCP: test_engine_hardening.py::test_a_reset_peer_quits_...
    assert "carol quit (Connection" in alice.expect("carol quit")


def test_disconnect_mid_line_is_a_quit_not_a_message() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.human("bob")
    bob.send("half a lin")
    bob.close()
    alice.expect("bob quit")
    assert not any("half a lin" in line for line in alice.lines)


# -- bad input: a clear error, never a crash, and the connection keeps working ---------------

def test_overlong_line_is_refused_and_the_connection_survives() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    limit = ServerConfig().limits.max_line
    alice.send("y" * (limit * 3) + "\r\n")
    assert "Line too long" in alice.expect("!")
    bob.send("{" + " " * limit + "\n")
    assert bob.expect_json(type="error")["code"] == "line_too_long"
    alice.line("still here")
    assert bob.expect_json(type="message")["text"] == "still here"
    assert not any("yyyy" in line for line in bob.lines)


def test_invalid_utf8_gets_an_error() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    alice.send(b"caf\xc3 \xff\xfe\r\n")
    alice.expect("not valid UTF-8")
    bob.send(b'{"type":"message","to":"#lobby","text":"\xc3("}\n')
    assert bob.expect_json(type="error")["code"] == "bad_encoding"
    bob.request(type="ping", token="after")
    bob.expect_json(type="pong", token="after")
    assert not any('"message"' in line for line in bob.lines)


def test_empty_lines_are_ignored() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    alice.send("\r\n   \r\n\n")
    bob.send("\n\r\n")
    alice.line("after blanks")
    assert bob.expect_json(type="message")["text"] == "after blanks"
    assert not any(line.startswith("!") for line in alice.lines)
    assert not any('"error"' in line for line in bob.lines)


def test_unknown_commands() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob")
    alice.line("/frobnicate now")
    assert "Unknown command /frobnicate" in alice.expect("Unknown")
    bob.request(type="frobnicate", ref="r1")
    error = bob.expect_json(type="error")
    assert error["code"] == "unknown_command" and error["ref"] == "r1"


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"type": \n', b'"hello"\n'])
def test_malformed_json(line: bytes) -> None:
    bob = MemoryNet().bot("bob")
    bob.send(line)
    assert bob.expect_json(type="error")["code"] == "bad_json"


def test_missing_or_mistyped_fields() -> None:
    bob = MemoryNet().bot("bob")
    bob.request(type="join")
    assert bob.expect_json(type="error")["code"] == "bad_request"
    bob.request(type="message", to="#x", text=5)
    assert "'text' must be a string" in bob.expect_json(type="error")["text"]


def test_commands_before_hello_are_refused() -> None:
    bot = MemoryNet().connect()
    bot.request(type="join", room="#lobby")
    assert bot.expect_json(type="error")["code"] == "not_registered"
    bot.request(type="hello", version=1, nick="late")
    bot.expect_json(type="welcome")
    bot.request(type="hello", version=1, nick="again")
    assert bot.expect_json(type="error")["code"] == "already_registered"


@pytest.mark.parametrize("nick", ["", "9lives", "has space", "x" * 31, "bad\x1bnick", "émile"])
def test_invalid_nicks(nick: str) -> None:
    bot = MemoryNet().connect()
    bot.request(type="hello", version=1, nick=nick)
    assert bot.expect_json(type="error")["code"] == "nick_invalid"


def test_invalid_nick_for_a_person() -> None:
    person = MemoryNet().connect()
    person.line("bad nick!")
    assert "Invalid nickname" in person.expect("!")
    person.expect("Pick another nickname")
    person.line("/nick good_nick")
    person.expect("Welcome to chat.local, good_nick")


@pytest.mark.parametrize("room", ["lobby", "#", "#has space", "#" + "r" * 60, "#a,b"])
def test_invalid_room_names(room: str) -> None:
    bob = MemoryNet().bot("bob")
    bob.request(type="join", room=room)
    assert bob.expect_json(type="error")["code"] == "room_invalid"


def test_message_to_a_room_that_does_not_exist_or_not_joined() -> None:
    net = MemoryNet()
    net.human("alice")
    bob = net.bot("bob")
    bob.request(type="message", to="#nowhere", text="hello?")
    assert bob.expect_json(type="error")["code"] == "no_such_room"
    bob.request(type="message", to="#lobby", text="let me in")
    assert bob.expect_json(type="error")["code"] == "not_in_room"
    bob.request(type="who", room="#nowhere")
    assert bob.expect_json(type="error")["code"] == "no_such_room"


def test_telnet_negotiation_is_dropped() -> None:
    net = MemoryNet()
    person = net.connect()
    # IAC DO ECHO, IAC WILL NAWS, IAC SB NAWS 0 80 0 24 IAC SE, then a nick split by a sequence.
    person.send(b"\xff\xfd\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0ali\xff\xfb\x03ce\r\n")
    person.expect("Welcome to chat.local, alice")
    bob = net.bot("bob", "#lobby")
    person.send(b"hi\xff\xfe\x01 there\r\n")
    assert bob.expect_json(type="message")["text"] == "hi there"


def test_telnet_negotiation_split_across_reads_is_dropped() -> None:
    net = MemoryNet()
    person = net.connect()
    for byte in b"\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0al\xff\xfb\x03ice\r\n":
        person.send(bytes([byte]))  # a byte a read: sequences straddle every boundary
    person.expect("Welcome to chat.local, alice")


def test_control_characters_never_reach_other_clients() -> None:
    net = MemoryNet()
    alice = net.human("alice")
    bob = net.bot("bob", "#lobby")
    bob.request(type="message", to="#lobby", text="evil\r\nFAKE LINE\x00\x1b[2J\x07 end")
    line = alice.expect("evil")
    assert line.endswith("evilFAKE LINE[2J end")
    assert not any(line.startswith("FAKE") for line in alice.lines)
