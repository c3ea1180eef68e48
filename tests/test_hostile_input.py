"""Hostile input found by an attack pass, driven in memory on the real hub (no sockets).

Each test is one attack: what the attacker sends, and what everyone else must still see.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memnet import MemoryNet

from chat.core import commands as c
from chat.core.core import HANDLERS
from chat.core.names import MAX_MASK, mask_match, unencodable
from chat.core.presence import MAX_WHO
from chat.core.rooms import MAX_LIST
from chat.hub import INTERNAL_ERROR, PAGE

# -- masks: linear time whatever the mask -----------------------------------------------------


def reference_match(mask: str, text: str) -> bool:
    """Glob matching by dynamic programming: slow, obviously right."""
    m, t = mask.lower(), text.lower()
    row = [True] + [False] * len(t)
    for ch in m:
        new = [row[0] and ch == "*"] + [False] * len(t)
        for j in range(1, len(t) + 1):
            if ch == "*":
                new[j] = row[j] or new[j - 1]
            else:
                new[j] = row[j - 1] and (ch == "?" or ch == t[j - 1])
        row = new
    return row[-1]


@settings(deadline=None)  # a busy two-core machine must not fail it on a slow example
@given(st.text(alphabet="ab*?!@.", max_size=12), st.text(alphabet="abAB!@.", max_size=14))
def test_mask_match_agrees_with_the_reference(mask: str, text: str) -> None:
    assert mask_match(mask, text) == reference_match(mask, text)


@pytest.mark.parametrize(("mask", "text", "expected"), [
    ("*", "", True), ("", "", True), ("", "a", False), ("a*", "abc", True), ("*c", "abc", True),
    ("a?c", "abc", True), ("a?c", "ac", False), ("*!*@*", "bob!b@host", True),
    ("bob!*@*", "BOB!x@y", True), ("[x]*", "[x]yz", True), ("a*b*a", "aba", True),
    ("a*a", "a", False), ("?*?", "a", False), ("**a**", "bab", True),
])
def test_mask_match_examples(mask: str, text: str, expected: bool) -> None:
    assert mask_match(mask, text) is expected


def test_the_worst_masks_match_in_microseconds() -> None:
    attacks = [("*" * 400 + "x", "a" * 60), ("*a" * 13 + "*b", "a" * 90),
               ("*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa!aaaaaaaaaaaa@aaaaaaaaaa"),
               ("?*" * 60 + "b", "a" * 100)]
    started = time.perf_counter()
    for _ in range(100):
        for mask, text in attacks:
            assert not mask_match(mask, text)
    per_match = (time.perf_counter() - started) / (100 * len(attacks))
    # The backtracking matcher took seconds per match here; generous for a loaded machine.
    assert per_match < 0.001, f"{per_match * 1e6:.0f} us per match"


def test_who_with_a_huge_mask_is_refused_and_a_long_one_is_cheap() -> None:
    net = MemoryNet()
    victims = [net.irc("a" * 20 + str(n)) for n in range(30)]
    attacker = net.irc("mallory")
    attacker.line("WHO " + "*" * 400 + "x")
    assert attacker.numeric("416")[0] == "WHO"
    attacker.numeric("315")
    started = time.perf_counter()
    attacker.line("WHO " + "*a" * (MAX_MASK // 2 - 1) + "*b")
    attacker.numeric("315")
    assert time.perf_counter() - started < 1.0
    attacker.line("WHO a*")
    assert len([line for line in attacker.new() if " 352 " in line]) == len(victims)


def test_who_replies_are_capped() -> None:
    net = MemoryNet()
    for n in range(MAX_WHO + 5):
        net.bot(f"user{n}")
    asker = net.bot("asker")
    asker.request(type="ping")  # flush
    asker.line("")
    irc = net.irc("ircuser")
    irc.line("WHO user*")
    assert len([line for line in irc.new() if " 352 " in line]) == MAX_WHO


def test_a_backtracking_ban_mask_cannot_freeze_joins() -> None:
    net = MemoryNet()
    op = net.irc("op", "#den")
    op.line("MODE #den +b *a*a*a*a*a*a*a*a*a*a*b")
    op.expect("+b")
    victim = net.irc("a" * 29)
    started = time.perf_counter()
    victim.line("JOIN #den")
    victim.numeric("366")
    assert time.perf_counter() - started < 1.0
    op.line("MODE #den +b " + "*a" * MAX_MASK)
    assert op.numeric("416")[0] == "MODE"


# -- text that cannot be encoded is refused where it enters -----------------------------------

LONE = "bad \ud800"


def test_unencodable_spots_surrogates_and_noncharacters() -> None:
    assert unencodable("\ud800") and unencodable("x\udfff") and unencodable("\ufffe")
    assert unencodable("\U0010ffff") and unencodable("\ufdd0")
    assert not unencodable("plain") and not unencodable("emoji \U0001f600 é")


@pytest.mark.parametrize("field", ["text", "to"])
def test_a_lone_surrogate_in_json_is_refused_and_the_sender_stays(field: str) -> None:
    net = MemoryNet()
    alice = net.bot("alice", "#lobby")
    bob = net.bot("bob", "#lobby")
    message = {"type": "message", "to": "#lobby", "text": "hi"}
    message[field] = LONE
    alice.send(json.dumps(message) + "\n")  # json.dumps writes the \ud800 escape
    assert alice.expect_json(type="error")["code"] == "bad_encoding"
    assert alice.closed is None
    alice.request(type="message", to="#lobby", text="still here")
    assert bob.expect_json(type="message")["text"] == "still here"
    assert all("\\ud800" not in line for line in bob.lines)


def test_a_surrogate_topic_cannot_poison_the_room() -> None:
    net = MemoryNet()
    alice = net.bot("alice", "#lobby")
    alice.request(type="topic", room="#lobby", topic="hi \ud800")
    assert alice.expect_json(type="error")["code"] == "bad_encoding"
    irc = net.irc("ircuser", "#lobby")
    irc.line("TOPIC #lobby")
    irc.numeric("331")  # no topic: nothing was stored
    newcomer = net.bot("carol", "#lobby")
    newcomer.request(type="rooms")
    newcomer.expect_json(type="rooms")
    assert irc.closed is None and newcomer.closed is None


@pytest.mark.parametrize("kind", ["part", "quit", "kick", "ref"])
def test_surrogate_reasons_reach_nobody_and_leave_no_ghosts(kind: str) -> None:
    net = MemoryNet()
    op = net.bot("op", "#r")
    alice = net.bot("alice", "#r")
    watchers = [net.bot("bob", "#r"), net.irc("ircbob", "#r"), net.human("tina")]
    watchers[2].line("/join #r")
    request = {"part": dict(type="part", room="#r", reason=LONE),
               "quit": dict(type="quit", reason=LONE),
               "kick": dict(type="kick", room="#r", nick="op", reason=LONE),
               "ref": dict(type="part", room="#r", ref=LONE)}[kind]
    alice.send(json.dumps(request) + "\n")
    assert alice.expect_json(type="error")["code"] == "bad_encoding"
    for watcher in watchers:
        assert watcher.closed is None
    op.request(type="who", room="#r")
    members = [m["nick"] for m in op.expect_json(type="members")["members"]]
    assert "alice" in members  # still there for everyone, not a ghost for some


def test_a_raw_noncharacter_from_a_person_or_irc_is_refused() -> None:
    net = MemoryNet()
    tina, ivan = net.human("tina"), net.irc("ivan", "#lobby")
    tina.send("hi \ufffe there\r\n".encode())
    tina.expect("cannot be sent")
    ivan.send("PRIVMSG #lobby :x \U0001ffff\r\n".encode())
    ivan.expect("cannot be sent")
    assert not [line for line in tina.lines if "ivan" in line and "x " in line]


# -- the default room and the service names belong to the server ------------------------------

def test_nobody_runs_the_default_room() -> None:
    net = MemoryNet()
    first = net.human("first")
    first.line("/mode +i")
    first.expect("operator")
    first.line("/mode +b *!*@*")
    late = net.human("late")
    late.expect("In #lobby")
    first.line("/join #mine")
    first.line("/mode +i")  # a room one creates is still one's own
    first.expect("+i")


@pytest.mark.parametrize("nick", ["NickServ", "chanserv", "OPERSERV"])
def test_service_nicks_are_reserved(nick: str) -> None:
    net = MemoryNet()
    ivan = net.connect()
    ivan.line(f"NICK {nick}").line("USER i 0 * :i")
    assert ivan.numeric("432")[0] == nick
    bob = net.bot("bob")
    bob.request(type="nick", nick=nick)
    assert bob.expect_json(type="error")["code"] == "nick_invalid"


# -- long replies are paced to the reader, never counted against it ---------------------------

def _many_rooms(net: MemoryNet, count: int) -> None:
    creator = net.bot("creator")
    for n in range(count):
        creator.request(type="join", room=f"#room{n:05d}")
        creator.request(type="topic", room=f"#room{n:05d}", topic="t" * 300)
    creator.new()


def test_a_long_list_is_paced_to_the_reader_and_not_cut() -> None:
    net = MemoryNet(sendq=64 * 1024, max_rooms_per_user=0)
    _many_rooms(net, 2000)  # ~700 KB of LIST: far over the send queue
    lister = net.irc("lister")
    lister.stop_reading()
    lister.line("LIST")
    lister.line("PING :after")  # waits behind the reply
    talker = net.irc("talker", "#room00001")
    talker.line("PRIVMSG #room00001 :x")
    assert lister.closed is None
    assert lister.unread_bytes <= 2 * PAGE  # one page at a time, not the whole reply
    lister.read_all()
    assert lister.closed is None
    lines = lister.new()
    rooms = [line for line in lines if " 322 " in line]
    assert len(rooms) == 2000 and " 323 " in lines[-2] and "PONG" in lines[-1]


def test_list_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chat.core.rooms.MAX_LIST", 50)
    net = MemoryNet(max_rooms_per_user=0)
    _many_rooms(net, 60)
    bot = net.bot("bot")
    bot.request(type="rooms")
    assert len(bot.expect_json(type="rooms")["rooms"]) == 50
    assert bot.expect_json(type="error")["code"] == "too_many_matches"
    assert MAX_LIST >= 1000


def test_five_listers_that_read_are_all_served() -> None:
    net = MemoryNet(sendq=64 * 1024, max_rooms_per_user=0)
    _many_rooms(net, 1000)
    listers = [net.bot(f"lister{n}") for n in range(5)]
    for lister in listers:
        lister.request(type="rooms")
    for lister in listers:
        assert lister.closed is None
        assert len(lister.expect_json(type="rooms")["rooms"]) == 1000


# -- send queue: judged over time -------------------------------------------------------------

def test_a_reader_that_catches_up_is_not_cut_but_one_that_stays_behind_is() -> None:
    net = MemoryNet(sendq=16 * 1024, sendq_grace=5.0)
    talker = net.bot("talker", "#r")
    slow, stuck = net.bot("slow", "#r"), net.bot("stuck", "#r")
    slow.stop_reading()
    stuck.stop_reading()
    for n in range(40):
        talker.request(type="message", to="#r", text=f"{n} " + "x" * 1000)
    net.advance(4.0)
    slow.read_all()  # behind for four seconds, then caught up: fine
    net.advance(2.0)
    assert slow.closed is None
    assert stuck.closed is not None and "Send queue exceeded" in stuck.closed
    assert "Send queue exceeded" in talker.expect_json(type="quit")["reason"]
    got = [json.loads(line)["text"].split()[0] for line in slow.lines if '"message"' in line]
    assert got == [str(n) for n in range(40)]


def test_a_reader_far_behind_is_cut_at_once() -> None:
    net = MemoryNet(sendq=4 * 1024, sendq_grace=60.0)
    talker = net.bot("talker", "#r")
    stuck = net.bot("stuck", "#r")
    stuck.stop_reading()
    for n in range(80):
        talker.request(type="message", to="#r", text=f"{n} " + "x" * 1000)
    assert stuck.closed is not None and "Send queue exceeded" in stuck.closed


# -- internal errors stay inside ---------------------------------------------------------------

def test_an_internal_error_closes_one_connection_with_a_generic_reason(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    net = MemoryNet()
    alice, bob = net.bot("alice", "#r"), net.bot("bob", "#r")
    secret = "secret internal detail"

    def broken(*args: object) -> None:
        raise RuntimeError(secret)

    monkeypatch.setitem(HANDLERS, c.Away, broken)
    with caplog.at_level(logging.ERROR, "chat.hub"):
        alice.request(type="away", text="lunch")
    assert alice.closed == INTERNAL_ERROR
    assert secret in caplog.text  # the traceback is logged...
    assert all(secret not in line for line in alice.lines + bob.lines)  # ...and told to no one
    quit_event = bob.expect_json(type="quit")
    assert quit_event["from"] == "alice" and quit_event["reason"] == INTERNAL_ERROR
    bob.request(type="message", to="#r", text="fine")
    bob.expect_json(type="message", text="fine")


# -- timers of closed connections do not pile up ----------------------------------------------

def test_a_reconnect_storm_leaves_no_timers_behind() -> None:
    net = MemoryNet()
    for _ in range(3000):
        client = net.connect()
        net.hang_up(client)
    assert len(net.hub.sessions) == 0
    assert len(net.hub.timers) <= 200


# -- telnet subnegotiation that never ends -----------------------------------------------------

def test_an_unterminated_telnet_subnegotiation_does_not_swallow_input() -> None:
    net = MemoryNet()
    tina = net.human("tina")
    bob = net.bot("bob", "#lobby")
    tina.send(b"\xff\xfa\x18" + b"x" * 5000 + b"\r\n")  # IAC SB TTYPE ..., never IAC SE
    tina.send(b"hello after\r\n")
    bob.expect_json(type="message", text="hello after")
