"""Conformance suite: the same behaviour over real sockets, run against both engines."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from support import TEST_LIMITS, Clients

from chat.config import ServerConfig
from chat.engines import serve_in_background

# -- arrival and the two dialects ---------------------------------------------------------

def test_silent_connection_is_greeted_and_asked_for_a_nick(clients: Clients) -> None:
    person = clients.raw()
    assert "Welcome to chat.local" in person.line()
    assert "Pick a nickname" in person.line()
    person.send("alice\r\n")
    person.expect("Welcome to chat.local, alice")
    assert "alice joined #lobby" in person.expect("joined")


def test_human_and_structured_clients_see_each_other(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    alice.expect("bob joined #lobby")
    alice.send("hello bob\r\n")
    event = bob.expect_json(type="message", **{"from": "alice"})
    assert event["text"] == "hello bob" and event["room"] == "#lobby"
    assert event["id"] and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ts"])
    bob.request(type="message", to="#lobby", text="hi alice")
    assert re.fullmatch(r"\[\d\d:\d\d\] <bob> hi alice", alice.expect("<bob>"))
    # The sender sees its own message too, in the same stream as everyone else's.
    assert bob.expect_json(type="message", **{"from": "bob"})["text"] == "hi alice"


def test_structured_client_is_placed_in_no_room(clients: Clients) -> None:
    bob = clients.bot("bob")
    bob.request(type="message", to="#lobby", text="anyone?")
    error = bob.expect_json(type="error")
    assert error["code"] == "no_such_room"


def test_late_structured_client_after_greeting_still_gets_json(clients: Clients) -> None:
    slow = clients.raw()
    slow.expect("Pick a nickname")  # greeted as a person, then it speaks JSON
    slow.request(type="hello", version=1, nick="slowbot")
    assert slow.expect_json(type="welcome")["nick"] == "slowbot"


def test_action_and_notice_rendering(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    alice.send("/me waves\r\n")
    assert re.fullmatch(r"\[\d\d:\d\d\] \* alice waves", alice.expect("waves"))
    event = bob.expect_json(type="message", kind="action")
    assert event["text"] == "waves" and event["from"] == "alice"


# -- rooms ---------------------------------------------------------------------------------

def test_rooms_are_isolated(clients: Clients) -> None:
    alice, bob = clients.human("alice"), clients.human("bob")
    carol = clients.bot("carol", "#dev")
    alice.send("/join #dev\r\n")
    alice.expect("In #dev")
    carol.expect_json(type="join", **{"from": "alice"})
    alice.send("dev talk\r\n")
    carol.expect_json(type="message", text="dev talk")
    bob.send("lobby talk\r\n")
    alice.expect("lobby talk")  # alice is still in #lobby too, tagged with the room
    bob.send("/who\r\n")
    bob.expect("In #lobby")
    assert not any("dev talk" in line for line in bob.received)
    carol.request(type="ping", token="sync")
    carol.expect_json(type="pong", token="sync")
    received = [json.loads(line) for line in carol.received]
    assert not any(obj.get("text") == "lobby talk" for obj in received)


def test_join_part_topic_rooms_who(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    alice.expect("bob joined")
    alice.send("/topic Friday release\r\n")
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
    carol = clients.bot("carol", "#lobby")  # joiners get the topic
    assert carol.received and any('"Friday release"' in line for line in carol.received)


def test_nick_change_is_seen_by_room(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    alice.send("/nick alicia\r\n")
    event = bob.expect_json(type="nick")
    assert event["from"] == "alice" and event["nick"] == "alicia"
    alice.expect("alice is now known as alicia")
    alice.send("still me\r\n")
    assert bob.expect_json(type="message")["from"] == "alicia"


def test_nick_collision_is_case_insensitive(clients: Clients) -> None:
    clients.human("Alice")
    bot = clients.raw()
    bot.request(type="hello", version=1, nick="alice")
    assert bot.expect_json(type="error")["code"] == "nick_taken"
    bot.request(type="hello", version=1, nick="alice2")
    bot.expect_json(type="welcome")
    person = clients.raw()
    person.send("ALICE\r\n")
    person.expect("already in use")
    person.expect("Pick another nickname")
    person.send("alice3\r\n")
    person.expect("Welcome to chat.local, alice3")


def test_private_messages(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob")
    carol = clients.human("carol")
    alice.send("/msg bob psst\r\n")
    event = bob.expect_json(type="message", text="psst")
    assert event["room"] is None and event["from"] == "alice" and event["to"] == "bob"
    assert "-> *bob* psst" in alice.expect("psst")
    bob.request(type="message", to="alice", text="hey")
    assert re.fullmatch(r"\[\d\d:\d\d\] \*bob\* hey", alice.expect("hey"))
    bob.request(type="message", to="nobody", text="hello?")
    assert bob.expect_json(type="error")["code"] == "no_such_nick"
    carol.send("/who\r\n")
    carol.expect("In #lobby")
    assert not any("psst" in line for line in carol.received)


def test_quit_and_abrupt_disconnect_are_announced(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.human("bob")
    carol = clients.bot("carol", "#lobby")
    bob.send("/quit see you\r\n")
    assert "bob quit (see you)" in alice.expect("bob quit")
    assert "Goodbye" in " ".join(bob.wait_closed())
    event = carol.expect_json(type="quit")
    assert event["from"] == "bob" and event["reason"] == "see you" and event["rooms"] == ["#lobby"]
    carol.reset()
    assert "carol quit (Connection" in alice.expect("carol quit")


def test_disconnect_mid_line_is_a_quit_not_a_message(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.human("bob")
    bob.send("half a lin")
    bob.close()
    alice.expect("bob quit")
    assert not any("half a lin" in line for line in alice.received)


# -- many clients, slow clients ------------------------------------------------------------

def test_fifty_clients_get_every_broadcast_in_the_same_order(clients: Clients) -> None:
    bots = [clients.bot(f"bot{i}", "#big") for i in range(50)]
    senders = bots[:5]
    for round_ in range(4):
        for sender in senders:
            port = sender.sock.getsockname()[1]
            sender.request(type="message", to="#big", text=f"{port}:{round_}")
    orders = []
    for bot in bots:
        texts = []
        while len(texts) < 20:
            obj = json.loads(bot.expect('"type":"message"'))
            texts.append(obj["text"])
        orders.append(texts)
    assert all(order == orders[0] for order in orders)
    assert len(set(orders[0])) == 20


def test_stalled_reader_is_dropped_and_others_get_everything(engine: str) -> None:
    config = ServerConfig(port=0, limits=replace(TEST_LIMITS, sendq=64 * 1024),
                          shutdown_grace=0.5)
    with serve_in_background(engine, config) as srv:
        made = Clients(srv)
        try:
            stalled = made.bot("stalled", "#flood", rcvbuf=4096)  # and it never reads again
            readers = [made.bot(f"reader{i}", "#flood") for i in range(3)]
            sender = made.bot("sender", "#flood")
            text = "x" * 1900
            sent = 0
            dropped = False
            # Kernel buffers absorb a few MB on loopback before the send queue even starts to
            # fill, so keep talking until the server gives up on the stalled client.
            while not dropped and sent < 10_000:
                for _ in range(16):  # 32 KB a round: readers keep well inside the queue
                    sender.request(type="message", to="#flood", text=f"{sent} {text}")
                    sent += 1
                for reader in readers:
                    while True:
                        obj = json.loads(reader.line())
                        if obj["type"] == "quit":
                            assert obj["from"] == "stalled"
                            assert "Send queue exceeded" in obj["reason"]
                            dropped = True
                        elif obj["type"] == "message" and obj["text"].startswith(f"{sent - 1} "):
                            break
            assert dropped, "the stalled client was never dropped"
            for reader in readers:  # nothing lost, nothing reordered for anyone else
                texts = [json.loads(x)["text"] for x in reader.received if '"message"' in x]
                numbers = [int(t.split()[0]) for t in texts]
                assert numbers == list(range(sent))
            del stalled
        finally:
            made.close_all()


# -- bad input: a clear error, never a crash, and the connection keeps working ---------------

def test_overlong_line_is_refused_and_the_connection_survives(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    limit = ServerConfig().limits.max_line
    alice.send("y" * (limit * 3) + "\r\n")
    assert "Line too long" in alice.expect("!")
    bob.send("{" + " " * limit + "\n")
    assert bob.expect_json(type="error")["code"] == "line_too_long"
    alice.send("still here\r\n")
    assert bob.expect_json(type="message")["text"] == "still here"
    assert not any("yyyy" in line for line in bob.received)


def test_invalid_utf8_gets_an_error(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    alice.send(b"caf\xc3 \xff\xfe\r\n")
    alice.expect("not valid UTF-8")
    bob.send(b'{"type":"message","to":"#lobby","text":"\xc3("}\n')
    assert bob.expect_json(type="error")["code"] == "bad_encoding"
    bob.request(type="ping", token="after")
    bob.expect_json(type="pong", token="after")
    assert not any('"message"' in line for line in bob.received)


def test_empty_lines_are_ignored(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    alice.send("\r\n   \r\n\n")
    bob.send("\n\r\n")
    alice.send("after blanks\r\n")
    assert bob.expect_json(type="message")["text"] == "after blanks"
    assert not any(line.startswith("!") for line in alice.received)
    assert not any('"error"' in line for line in bob.received)


def test_unknown_commands(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob")
    alice.send("/frobnicate now\r\n")
    assert "Unknown command /frobnicate" in alice.expect("Unknown")
    bob.request(type="frobnicate", ref="r1")
    error = bob.expect_json(type="error")
    assert error["code"] == "unknown_command" and error["ref"] == "r1"


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"type": \n', b'"hello"\n'])
def test_malformed_json(clients: Clients, line: bytes) -> None:
    bob = clients.bot("bob")
    bob.send(line)
    assert bob.expect_json(type="error")["code"] == "bad_json"


def test_missing_or_mistyped_fields(clients: Clients) -> None:
    bob = clients.bot("bob")
    bob.request(type="join")
    assert bob.expect_json(type="error")["code"] == "bad_request"
    bob.request(type="message", to="#x", text=5)
    assert "'text' must be a string" in bob.expect_json(type="error")["text"]


def test_commands_before_hello_are_refused(clients: Clients) -> None:
    bot = clients.raw()
    bot.request(type="join", room="#lobby")
    assert bot.expect_json(type="error")["code"] == "not_registered"
    bot.request(type="hello", version=1, nick="late")
    bot.expect_json(type="welcome")
    bot.request(type="hello", version=1, nick="again")
    assert bot.expect_json(type="error")["code"] == "already_registered"


@pytest.mark.parametrize("nick", ["", "9lives", "has space", "x" * 31, "bad\x1bnick", "émile"])
def test_invalid_nicks(clients: Clients, nick: str) -> None:
    bot = clients.raw()
    bot.request(type="hello", version=1, nick=nick)
    assert bot.expect_json(type="error")["code"] == "nick_invalid"


def test_invalid_nick_for_a_person(clients: Clients) -> None:
    person = clients.raw()
    person.send("bad nick!\r\n")
    assert "Invalid nickname" in person.expect("!")
    person.expect("Pick another nickname")
    person.send("/nick good_nick\r\n")
    person.expect("Welcome to chat.local, good_nick")


@pytest.mark.parametrize("room", ["lobby", "#", "#has space", "#" + "r" * 60, "#a,b"])
def test_invalid_room_names(clients: Clients, room: str) -> None:
    bob = clients.bot("bob")
    bob.request(type="join", room=room)
    assert bob.expect_json(type="error")["code"] == "room_invalid"


def test_message_to_a_room_that_does_not_exist_or_not_joined(clients: Clients) -> None:
    clients.human("alice")
    bob = clients.bot("bob")
    bob.request(type="message", to="#nowhere", text="hello?")
    assert bob.expect_json(type="error")["code"] == "no_such_room"
    bob.request(type="message", to="#lobby", text="let me in")
    assert bob.expect_json(type="error")["code"] == "not_in_room"
    bob.request(type="who", room="#nowhere")
    assert bob.expect_json(type="error")["code"] == "no_such_room"


def test_telnet_negotiation_is_dropped(clients: Clients) -> None:
    person = clients.raw()
    # IAC DO ECHO, IAC WILL NAWS, IAC SB NAWS 0 80 0 24 IAC SE, then a nick split by a sequence.
    person.send(b"\xff\xfd\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0ali\xff\xfb\x03ce\r\n")
    person.expect("Welcome to chat.local, alice")
    bob = clients.bot("bob", "#lobby")
    person.send(b"hi\xff\xfe\x01 there\r\n")
    assert bob.expect_json(type="message")["text"] == "hi there"


def test_control_characters_never_reach_other_clients(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    bob.request(type="message", to="#lobby", text="evil\r\nFAKE LINE\x00\x1b[2J\x07 end")
    line = alice.expect("evil")
    assert line.endswith("evilFAKE LINE[2J end")
    assert not any(line.startswith("FAKE") for line in alice.received)


def test_rate_limit_delays_a_burst_without_losing_it(engine: str) -> None:
    config = ServerConfig(port=0, limits=replace(TEST_LIMITS, rate_per_second=50, rate_burst=5),
                          shutdown_grace=0.5)
    with serve_in_background(engine, config) as srv:
        made = Clients(srv)
        try:
            alice = made.bot("alice", "#lobby")
            bob = made.bot("bob", "#lobby")
            for n in range(20):
                alice.request(type="message", to="#lobby", text=f"burst {n}")
            assert alice.expect_json(type="error")["code"] == "rate_limited"
            texts = [bob.expect_json(type="message")["text"] for _ in range(20)]
            assert texts == [f"burst {n}" for n in range(20)]
        finally:
            made.close_all()


def test_sustained_flood_disconnects(engine: str) -> None:
    config = ServerConfig(port=0, shutdown_grace=0.5, limits=replace(
        TEST_LIMITS, rate_per_second=1, rate_burst=2, recvq_lines=10))
    with serve_in_background(engine, config) as srv:
        made = Clients(srv)
        try:
            flooder = made.bot("flooder", "#lobby")
            bob = made.bot("bob", "#lobby")
            flooder.send("".join('{"type":"ping"}\n' for _ in range(50)))
            assert any("Excess flood" in line for line in flooder.wait_closed())
            assert "Excess flood" in bob.expect_json(type="quit")["reason"]
        finally:
            made.close_all()


def test_registration_timeout(engine: str) -> None:
    config = ServerConfig(port=0, shutdown_grace=0.5,
                          limits=replace(TEST_LIMITS, register_timeout=0.5))
    with serve_in_background(engine, config) as srv:
        made = Clients(srv)
        try:
            idle = made.raw()
            assert any("Registration timed out" in line for line in idle.wait_closed())
        finally:
            made.close_all()
