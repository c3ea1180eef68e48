"""Every limit, over real sockets, on both engines: the exact reply when it bites, and that
well-behaved clients on the same server notice nothing."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import WAIT

from chat.cli import build_parser, config_from_args, parse_args
from chat.config import Limits, ServerConfig

if TYPE_CHECKING:
    from support import Clients, LineClient

Serve = Callable[..., "Clients"]


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll server state that has no event of its own to wait on (sessions going away)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def still_chatting(a: LineClient, b: LineClient, text: str) -> None:
    """``a`` (structured, in #lobby) talks and ``b`` (structured, in #lobby) hears it."""
    a.request(type="message", to="#lobby", text=text)
    assert b.expect_json(type="message", text=text)["from"]


def stamp_free(line: str) -> str:
    return re.sub(r"^\[\d\d:\d\d\] ", "", line)


# -- line length -----------------------------------------------------------------------------

def test_endless_line_never_grows_a_buffer(serve_with: Serve) -> None:
    made = serve_with(max_line=512)
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    evil = made.bot("evil", "#lobby")
    for _ in range(50):  # 100 KB and no newline
        evil.send(b"{" + b"x" * 2047)
    error = evil.expect_json(type="error")
    assert error["code"] == "line_too_long"
    assert error["text"] == "Line too long (the limit is 512 bytes); dropped"
    still_chatting(alice, bob, "meanwhile")
    assert all(s.reader.pending < 512 for s in list(made.server.hub.sessions.values()))
    evil.send(b"tail of the long line\n")
    evil.request(type="ping", token="after")
    evil.expect_json(type="pong", token="after")
    assert sum('"line_too_long"' in line for line in evil.received) == 1
    assert not any("xxxx" in line for line in alice.received + bob.received)


def test_long_line_from_a_person(serve_with: Serve) -> None:
    made = serve_with(max_line=512)
    person = made.human("person")
    bob = made.bot("bob", "#lobby")
    person.send("y" * 2000 + "\r\n")
    assert person.expect("Line too long") == "! Line too long (the limit is 512 bytes); dropped"
    person.send("short one\r\n")
    assert bob.expect_json(type="message")["text"] == "short one"


# -- message rate ----------------------------------------------------------------------------

def test_burst_is_delayed_with_a_notice(serve_with: Serve) -> None:
    made = serve_with(rate_per_second=20, rate_burst=3, recvq_lines=50)
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    person = made.human("person")
    alice.send("".join(json.dumps({"type": "message", "to": "#lobby", "text": f"m{n}"}) + "\n"
                       for n in range(12)))
    error = alice.expect_json(type="error")
    assert error["code"] == "rate_limited"
    assert error["text"] == "You are sending faster than 20 lines a second; the rest is delayed"
    assert [bob.expect_json(type="message")["text"] for _ in range(12)] == [
        f"m{n}" for n in range(12)]
    person.send("".join(f"p{n}\r\n" for n in range(8)))
    assert stamp_free(person.expect("sending faster")) == (
        "! You are sending faster than 20 lines a second; the rest is delayed")
    assert [bob.expect_json(type="message", **{"from": "person"})["text"]
            for _ in range(8)] == [f"p{n}" for n in range(8)]


def test_sustained_flood_disconnects_and_others_carry_on(serve_with: Serve) -> None:
    made = serve_with(rate_per_second=2, rate_burst=2, recvq_lines=10)
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    flooder = made.bot("flooder", "#lobby")
    flooder.send("".join(json.dumps({"type": "message", "to": "#lobby", "text": f"f{n}"})
                         + "\n" for n in range(100)))
    last = [json.loads(line) for line in flooder.wait_closed()][-1]
    assert last["type"] == "disconnect" and last["reason"] == "Excess flood"
    quit_ = alice.expect_json(type="quit", **{"from": "flooder"})
    assert quit_["reason"] == "Excess flood"
    still_chatting(bob, alice, "flood is gone")


# -- outbound queue --------------------------------------------------------------------------

def test_a_client_that_does_not_read_is_dropped_alone(serve_with: Serve) -> None:
    made = serve_with(sendq=64 * 1024)
    made.bot("stalled", "#lobby", rcvbuf=4096)  # never reads again
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    text = "s" * 1900
    sent = 0
    dropped = False
    while not dropped:
        assert sent < 20_000, "the stalled client was never dropped"
        alice.send("".join(json.dumps({"type": "message", "to": "#lobby", "text": f"{n} {text}"})
                           + "\n" for n in range(sent, sent + 8)))  # 16 KB: a quarter of sendq
        sent += 8
        last = f'"{sent - 1} '
        alice.expect(last)
        while True:
            line = bob.line()
            if '"quit"' in line:
                reason = json.loads(line)["reason"]
                assert reason == "Send queue exceeded (65536 bytes): reading too slowly"
                dropped = True
            elif last in line:
                break
    numbers = [int(json.loads(x)["text"].split()[0]) for x in bob.received if '"message"' in x]
    assert numbers == list(range(sent))  # nothing lost or reordered for those who read


# -- timeouts --------------------------------------------------------------------------------

def test_registration_timeout(serve_with: Serve) -> None:
    made = serve_with(register_timeout=0.6)
    alice = made.bot("alice", "#lobby")
    person, bot = made.raw(), made.raw()
    bot.send(b'{"type":"who","room":"#lobby"}\n')  # speaks JSON but never says hello
    assert stamp_free(person.wait_closed()[-1]) == "-- Disconnecting: Registration timed out"
    last = json.loads(bot.wait_closed()[-1])
    assert last["type"] == "disconnect" and last["reason"] == "Registration timed out"
    alice.request(type="ping", token="alive")
    alice.expect_json(type="pong", token="alive")  # registered long ago: untouched


def test_ping_timeout(serve_with: Serve) -> None:
    made = serve_with(ping_interval=0.4, ping_timeout=0.4)
    person = made.human("person")  # silent throughout, but a person cannot answer pings
    silent = made.bot("silent", "#lobby")
    answering = made.bot("answering", "#lobby")
    pings = 0
    while True:  # answer every ping until the silent one is dropped
        obj = json.loads(answering.line())
        if obj["type"] == "ping":
            pings += 1
            answering.request(type="pong", token=obj["token"])
        elif obj["type"] == "quit":
            assert obj["from"] == "silent" and obj["reason"] == "Ping timeout: 0.8 seconds"
            break
    assert pings >= 1
    lines = [json.loads(x) for x in silent.wait_closed()]
    assert [x["type"] for x in lines][-2:] == ["ping", "disconnect"]
    assert lines[-1]["reason"] == "Ping timeout: 0.8 seconds"
    person.send("I was only reading\r\n")
    assert answering.expect_json(type="message")["text"] == "I was only reading"


def test_ping_timeout_irc(serve_with: Serve) -> None:
    pytest.importorskip("chat.dialects.irc", reason="the IRC dialect is not there yet")
    made = serve_with(ping_interval=0.4, ping_timeout=0.4)
    irc = made.raw()
    irc.send("NICK ircer\r\nUSER ircer 0 * :IRC user\r\n")
    irc.expect(" 001 ")
    token = irc.expect("PING :").split(":", 1)[1]
    irc.send(f"PONG :{token}\r\n")
    irc.expect("PING :")  # answered, so asked again later rather than dropped
    assert "Ping timeout: 0.8 seconds" in irc.wait_closed()[-1]


# -- connection counts -----------------------------------------------------------------------

def test_max_connections(serve_with: Serve) -> None:
    made = serve_with(max_connections=3)
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    third = made.raw()
    fourth = made.raw()
    assert fourth.wait_closed() == ["ERROR :Server is full, try again later"]
    still_chatting(alice, bob, "full house")
    third.close()
    hub = made.server.hub
    wait_until(lambda: len(hub.sessions) == 2)
    made.bot("carol", "#lobby")


def test_max_per_ip_applies_to_loopback_only_when_asked(serve_with: Serve) -> None:
    made = serve_with(max_per_ip=2, limit_loopback=True)
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    assert made.raw().wait_closed() == ["ERROR :Too many connections from 127.0.0.1"]
    still_chatting(alice, bob, "per ip")


def test_loopback_is_exempt_by_default(serve_with: Serve) -> None:
    made = serve_with(max_per_ip=2)
    bots = [made.bot(f"b{n}", "#lobby") for n in range(5)]
    still_chatting(bots[0], bots[4], "five of us")


# -- rooms and names -------------------------------------------------------------------------

def test_max_rooms_per_user(serve_with: Serve) -> None:
    made = serve_with(max_rooms_per_user=2)
    bot = made.bot("bot", "#one", "#two")
    bot.request(type="join", room="#three")
    error = bot.expect_json(type="error")
    assert error["code"] == "too_many_rooms"
    assert error["text"] == "You are already in 2 rooms; /part one first"
    bot.request(type="part", room="#one")
    bot.request(type="join", room="#three")
    bot.expect_json(type="members", room="#three")


def test_max_members_per_room(serve_with: Serve) -> None:
    made = serve_with(max_members_per_room=2)
    a, b = made.bot("a", "#small"), made.bot("b", "#small")
    c = made.bot("c")
    c.request(type="join", room="#small")
    error = c.expect_json(type="error")
    assert error["code"] == "room_full" and error["text"] == "#small is full"
    still_chatting_in = {"type": "message", "to": "#small", "text": "two only"}
    a.request(**still_chatting_in)
    b.expect_json(type="message", text="two only")


def test_name_and_text_lengths(serve_with: Serve) -> None:
    made = serve_with(nick_len=8, room_len=10, topic_len=20, message_len=30, reason_len=10)
    bot = made.raw()
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
    watcher = made.bot("watcher", "#tenchars!")
    bot.request(type="part", room="#tenchars!", reason="r" * 50)
    assert watcher.expect_json(type="part")["reason"] == "r" * 10


# -- configuration: every limit is an option and a config-file key ---------------------------

def _other_value(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 3
    if isinstance(value, float):
        return value + 0.5
    return value


def test_every_limit_is_an_option_and_a_config_key(tmp_path: Path) -> None:
    limits = {f.name: _other_value(getattr(Limits(), f.name)) for f in dataclasses.fields(Limits)}
    lines = ['engine = "threaded"', "port = 7001", 'tls-cert = "c.pem"', "tls_port = 7002",
             "greet-delay = 0.1", "[limits]"]
    for name, value in limits.items():
        lines.append(f"{name.replace('_', '-')} = {json.dumps(value)}")
    path = tmp_path / "chat.toml"
    path.write_text("\n".join(lines) + "\n")
    args = parse_args(["--config", str(path)])
    config = config_from_args(args)
    assert args.engine == "threaded" and config.port == 7001 and config.tls_port == 7002
    assert config.tls_cert == "c.pem" and config.greet_delay == 0.1
    assert dataclasses.asdict(config.limits) == limits
    # The command line wins over the file.
    args = parse_args(["--config", str(path), "--port", "7003", "--max-line", "999",
                       "--no-limit-loopback"])
    config = config_from_args(args)
    assert config.port == 7003 and config.limits.max_line == 999
    assert config.limits.limit_loopback is False
    options = {a.dest for a in build_parser()._actions}
    assert {f.name for f in dataclasses.fields(Limits)} <= options
    assert {f.name for f in dataclasses.fields(ServerConfig)} - {"limits"} <= options


@pytest.mark.parametrize(("text", "message"), [
    ("bogus = 1\n", "unknown option 'bogus'"),
    ("port = \"x\"\n", "'port' must be an integer"),
    ("[limits]\nport = 1\n", "unknown option 'port'"),
    ("[limits]\nlimit-loopback = 1\n", "'limit-loopback' must be true or false"),
    ("engine = \"nope\"\n", "'engine' must be one of"),
    ("port = \n", "is not valid TOML"),
])
def test_bad_config_files_are_refused(tmp_path: Path, text: str, message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        parse_args(["--config", str(path)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
