"""Every limit the hub and core enforce, in memory on the real hub with a fake clock: the exact
reply when it bites, and that well-behaved clients on the same server notice nothing.

(What only engines can show, such as a socket that stops reading or a connection refused at
accept, stays in test_limits.py over real sockets.)
"""

from __future__ import annotations

import json
import re

from memnet import MemClient, MemoryNet


def still_chatting(a: MemClient, b: MemClient, text: str) -> None:
    """``a`` (structured, in #lobby) talks and ``b`` (structured, in #lobby) hears it."""
    a.request(type="message", to="#lobby", text=text)
    assert b.expect_json(type="message", text=text)["from"]


def stamp_free(line: str) -> str:
    return re.sub(r"^\[\d\d:\d\d\] ", "", line)


def closing_lines(client: MemClient) -> list[str]:
    assert client.closed is not None, "still connected"
    return client.lines


# -- line length -----------------------------------------------------------------------------

def test_endless_line_never_grows_a_buffer() -> None:
    net = MemoryNet(max_line=512)
    alice, bob = net.bot("alice", "#lobby"), net.bot("bob", "#lobby")
    evil = net.bot("evil", "#lobby")
    for _ in range(50):  # 100 KB and no newline
        evil.send(b"{" + b"x" * 2047)
    error = evil.expect_json(type="error")
    assert error["code"] == "line_too_long"
    assert error["text"] == "Line too long (the limit is 512 bytes); dropped"
    still_chatting(alice, bob, "meanwhile")
    assert all(s.reader.pending < 512 for s in net.hub.sessions.values())
    evil.send(b"tail of the long line\n")
    evil.request(type="ping", token="after")
    evil.expect_json(type="pong", token="after")
    assert sum('"line_too_long"' in line for line in evil.lines) == 1
    assert not any("xxxx" in line for line in alice.lines + bob.lines)


def test_long_line_from_a_person() -> None:
    net = MemoryNet(max_line=512)
    person = net.human("person")
    bob = net.bot("bob", "#lobby")
    person.send("y" * 2000 + "\r\n")
    assert person.expect("Line too long") == "! Line too long (the limit is 512 bytes); dropped"
    person.send("short one\r\n")
    assert bob.expect_json(type="message")["text"] == "short one"


# -- message rate ----------------------------------------------------------------------------

def test_burst_is_delayed_with_a_notice_and_nothing_is_lost() -> None:
    net = MemoryNet(rate_per_second=20, rate_burst=3, recvq_lines=50)
    alice, bob = net.bot("alice", "#lobby"), net.bot("bob", "#lobby")
    person = net.human("person")
    alice.send("".join(json.dumps({"type": "message", "to": "#lobby", "text": f"m{n}"}) + "\n"
                       for n in range(12)))
    error = alice.expect_json(type="error")
    assert error["code"] == "rate_limited"
    assert error["text"] == "You are sending faster than 20 lines a second; the rest is delayed"
    assert len([line for line in bob.lines if '"message"' in line]) < 12  # not all at once
    net.advance(1.0)
    assert [bob.expect_json(type="message")["text"] for _ in range(12)] == [
        f"m{n}" for n in range(12)]
    person.send("".join(f"p{n}\r\n" for n in range(8)))
    assert stamp_free(person.expect("sending faster")) == (
        "! You are sending faster than 20 lines a second; the rest is delayed")
    net.advance(1.0)
    assert [bob.expect_json(type="message", **{"from": "person"})["text"]
            for _ in range(8)] == [f"p{n}" for n in range(8)]


def test_sustained_flood_disconnects_and_others_carry_on() -> None:
    net = MemoryNet(rate_per_second=2, rate_burst=2, recvq_lines=10)
    alice, bob = net.bot("alice", "#lobby"), net.bot("bob", "#lobby")
    flooder = net.bot("flooder", "#lobby")
    flooder.send("".join(json.dumps({"type": "message", "to": "#lobby", "text": f"f{n}"})
                         + "\n" for n in range(100)))
    last = json.loads(closing_lines(flooder)[-1])
    assert last["type"] == "disconnect" and last["reason"] == "Excess flood"
    quit_ = alice.expect_json(type="quit", **{"from": "flooder"})
    assert quit_["reason"] == "Excess flood"
    bob.request(type="message", to="#lobby", text="flood is gone")
    net.advance(1.0)  # bob spent his burst of two on hello and join
    alice.expect_json(type="message", text="flood is gone")


# -- timeouts --------------------------------------------------------------------------------

def test_registration_timeout() -> None:
    net = MemoryNet(register_timeout=60)
    alice = net.bot("alice", "#lobby")
    person, bot = net.connect(), net.connect()
    bot.send(b'{"type":"who","room":"#lobby"}\n')  # speaks JSON but never says hello
    net.advance(59.9)
    assert person.closed is None and bot.closed is None
    net.advance(0.2)
    assert stamp_free(closing_lines(person)[-1]) == "-- Disconnecting: Registration timed out"
    last = json.loads(closing_lines(bot)[-1])
    assert last["type"] == "disconnect" and last["reason"] == "Registration timed out"
    alice.request(type="ping", token="alive")
    alice.expect_json(type="pong", token="alive")  # registered long ago: untouched


def test_ping_timeout() -> None:
    net = MemoryNet(ping_interval=120, ping_timeout=60)
    person = net.human("person")  # silent throughout, but a person cannot answer pings
    silent = net.bot("silent", "#lobby")
    answering = net.bot("answering", "#lobby")
    net.advance(119)
    assert not [line for line in answering.new() if '"ping"' in line]
    pings = 0
    for _ in range(4):  # answer every ping, for four minutes
        net.advance(60)
        for line in answering.new():
            obj = json.loads(line)
            if obj["type"] == "ping":
                pings += 1
                answering.request(type="pong", token=obj["token"])
    assert pings >= 1 and answering.closed is None and person.closed is None
    quits = [json.loads(line) for line in answering.lines if '"quit"' in line]
    assert [q["from"] for q in quits] == ["silent"]
    quit_ = quits[0]
    assert quit_["reason"] == "Ping timeout: 180 seconds"
    lines = [json.loads(x) for x in closing_lines(silent)]
    assert [x["type"] for x in lines][-2:] == ["ping", "disconnect"]
    assert lines[-1]["reason"] == "Ping timeout: 180 seconds"
    person.send("I was only reading\r\n")
    assert answering.expect_json(type="message")["text"] == "I was only reading"


def test_ping_timeout_irc() -> None:
    net = MemoryNet(ping_interval=120, ping_timeout=60)
    irc = net.irc("ircer")
    net.advance(120)
    token = irc.expect("PING :").split(":", 1)[1]
    irc.line(f"PONG :{token}")
    net.advance(120)
    irc.expect("PING :")  # answered, so asked again later rather than dropped
    net.advance(60)
    assert irc.closed is not None and "Ping timeout: 180 seconds" in irc.lines[-1]


# -- connection counts -----------------------------------------------------------------------

def test_max_per_ip_applies_to_loopback_only_when_asked() -> None:
    net = MemoryNet(max_per_ip=2, limit_loopback=True)
    alice, bob = net.bot("alice", "#lobby"), net.bot("bob", "#lobby")
    third = net.connect()
    assert third.lines == ["ERROR :Too many connections from 127.0.0.1"] and third.closed
    still_chatting(alice, bob, "per ip")
    other = net.connect("192.0.2.7")  # another address has its own count
    assert other.closed is None


def test_loopback_is_exempt_by_default() -> None:
    net = MemoryNet(max_per_ip=2)
    bots = [net.bot(f"b{n}", "#lobby") for n in range(5)]
    still_chatting(bots[0], bots[4], "five of us")
    for _ in range(2):
        net.connect("192.0.2.7")
    assert net.connect("192.0.2.7").lines == ["ERROR :Too many connections from 192.0.2.7"]


def test_max_connections_counts_every_connection() -> None:
    net = MemoryNet(max_connections=3)
    alice, bob = net.bot("alice", "#lobby"), net.bot("bob", "#lobby")
    third = net.connect()
    fourth = net.connect()
    assert fourth.lines == ["ERROR :Server is full, try again later"] and fourth.closed
    still_chatting(alice, bob, "full house")
    net.hang_up(third)
    net.bot("carol", "#lobby")


# -- rooms and names -------------------------------------------------------------------------

def test_max_rooms_per_user() -> None:
    net = MemoryNet(max_rooms_per_user=2)
    bot = net.bot("bot", "#one", "#two")
    bot.request(type="join", room="#three")
    error = bot.expect_json(type="error")
    assert error["code"] == "too_many_rooms"
    assert error["text"] == "You are already in 2 rooms; /part one first"
    bot.request(type="part", room="#one")
    bot.request(type="join", room="#three")
    bot.expect_json(type="members", room="#three")


def test_max_members_per_room() -> None:
    net = MemoryNet(max_members_per_room=2)
    a, b = net.bot("a", "#small"), net.bot("b", "#small")
    c = net.bot("c")
    c.request(type="join", room="#small")
    error = c.expect_json(type="error")
    assert error["code"] == "room_full" and error["text"] == "#small is full"
    a.request(type="message", to="#small", text="two only")
    b.expect_json(type="message", text="two only")


def test_name_and_text_lengths() -> None:
    net = MemoryNet(nick_len=8, room_len=10, topic_len=20, message_len=30, reason_len=10)
    bot = net.connect()
    bot.request(type="hello", version=1, nick="ninechars")
    error = bot.expect_json(type="error")
    assert error["code"] == "nick_invalid"
    assert error["text"] == "Invalid nickname 'ninechars': A nickname is at most 8 characters"
    bot.request(type="hello", version=1, nick="eight_ch")
    bot.expect_json(type="welcome")
    bot.request(type="join", room="#elevenchar")
    error = bot.expect_json(type="error")
    assert error["code"] == "room_invalid" and "at most 10 characters" in error["text"]
    bot.request(type="join", room="#tenchars!")
    bot.expect_json(type="members")
    bot.request(type="topic", room="#tenchars!", topic="t" * 21)
    assert bot.expect_json(type="error")["text"] == "Topics are at most 20 characters"
    bot.request(type="message", to="#tenchars!", text="m" * 31)
    assert bot.expect_json(type="error")["text"] == "Messages are at most 30 characters"
    watcher = net.bot("watcher", "#tenchars!")
    bot.request(type="part", room="#tenchars!", reason="r" * 50)
    assert watcher.expect_json(type="part")["reason"] == "r" * 10
