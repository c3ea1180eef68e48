"""Hostile input in every dialect: nothing a client sends reaches another client raw, look-alike
names are refused, garbage gets errors and never a crash.

These are dialect and core rules, so they run in memory on the real hub (tests/memnet.py); what
engines do with hostile peers (resets, stalls, slow handshakes) is in test_engine_hardening.py
and test_hostile_engines.py."""

from __future__ import annotations

import json
import random
import unicodedata
from typing import Any

import pytest
from memnet import MemClient, MemoryNet

# Everything a terminal or a line parser would act on. IRC formatting bytes (bold, colour,
# italics, underline, reverse, reset) are allowed through on purpose.
_FORMATTING = {"\x02", "\x03", "\x0f", "\x16", "\x1d", "\x1e", "\x1f"}
PAYLOAD = "A\rB\x00C\x1b[2JD\x07E\x7fF\x85G\u2028H\x08I"
ALLOWED_IN_PAYLOAD = "ABC[2JDEFGHI"  # ESC goes; what followed it is plain text
#: A person's terminal is another matter: a CR ends the line, DEL and ^H erase and an escape
#: sequence is a key, dropped whole (tests/dialects/test_human_terminal.py). The rest of the
#: payload is the same.
HUMAN_PAYLOAD = PAYLOAD.replace("\r", "").replace("\x7f", "").replace("\x08", "")
ALLOWED_FROM_HUMAN = "ABCDEFGHI"


def forbidden(text: str) -> list[str]:
    """Control characters in ``text`` that must never be relayed."""
    return [ch for ch in text if ch not in _FORMATTING and ch != "\t" and (
        unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029\ufffd")]


def strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def _send_hostile(kind: str, sender: MemClient) -> None:
    """Message, topic, part reason and quit reason, each carrying control characters."""
    if kind == "human":
        for line in (HUMAN_PAYLOAD, f"/topic {HUMAN_PAYLOAD}", f"/part #lobby {HUMAN_PAYLOAD}",
                     "/join #lobby", f"/quit {HUMAN_PAYLOAD}"):
            sender.send(line.encode() + b"\r\n")
    elif kind == "structured":
        for obj in ({"type": "message", "to": "#lobby", "text": "\n" + PAYLOAD + "\n"},
                    {"type": "topic", "room": "#lobby", "topic": PAYLOAD},
                    {"type": "part", "room": "#lobby", "reason": PAYLOAD},
                    {"type": "join", "room": "#lobby"},
                    {"type": "quit", "reason": PAYLOAD}):
            sender.request(**obj)
    else:
        for line in (f"PRIVMSG #lobby :{PAYLOAD}", f"TOPIC #lobby :{PAYLOAD}",
                     f"PART #lobby :{PAYLOAD}", "JOIN #lobby", f"QUIT :{PAYLOAD}"):
            sender.send(line.encode() + b"\r\n")


@pytest.mark.parametrize("kind", ["human", "structured", "irc"])
def test_control_characters_are_stripped_before_relay(kind: str) -> None:
    net = MemoryNet()
    human = net.human("seer_h")
    bot = net.bot("seer_j", "#lobby")
    irc = net.irc("seer_i", "#lobby")
    if kind == "human":
        sender = net.human("mallory")
    elif kind == "structured":
        sender = net.bot("mallory", "#lobby")
    else:
        sender = net.irc("mallory", "#lobby")
    _send_hostile(kind, sender)
    human.expect("mallory quit")
    bot.expect_json(type="quit")
    irc.expect(" QUIT ")
    for line in human.lines + irc.lines:  # everything they were sent, not just what was read
        assert not forbidden(line), (kind, line)
    for line in bot.lines:
        for text in strings(json.loads(line)):
            assert not forbidden(text), (kind, line)
    allowed = (ALLOWED_FROM_HUMAN if kind == "human" else ALLOWED_IN_PAYLOAD).replace("H", " H")
    message = next(json.loads(x) for x in bot.received if "\"message\"" in x)
    assert message["text"] == allowed
    topic = [json.loads(x) for x in bot.received if '"topic"' in x][-1]
    assert topic["topic"] == allowed
    assert any(f"<mallory> {allowed}" in x for x in human.received)


@pytest.mark.parametrize("nick", [
    "ali\x00ce", "ali\rce", "\x1b[31malice", "аlice",  # Cyrillic а
    "ａlice",  # fullwidth a
    "alice\u200b", "al\u202eice", "ALICE", "Alice",
])
def test_look_alike_and_control_nicks_are_refused(nick: str) -> None:
    net = MemoryNet()
    net.bot("alice")
    bot = net.connect()
    bot.request(type="hello", version=1, nick=nick)
    code = bot.expect_json(type="error")["code"]
    assert code == ("nick_taken" if nick.lower() == "alice" else "nick_invalid")


@pytest.mark.parametrize("room", ["#lоbby", "#lobby\x00", "#lob\rby", "#ｌobby", "#lobby\u200b"])
def test_look_alike_and_control_room_names_are_refused(room: str) -> None:
    net = MemoryNet()
    bot = net.bot("bot", "#lobby")
    bot.request(type="join", room=room)
    assert bot.expect_json(type="error")["code"] == "room_invalid"
    bot.request(type="join", room="#LOBBY")  # same room, whatever the case
    bot.expect_json(type="notice")


def test_irc_nick_with_unicode_tricks_is_refused() -> None:
    net = MemoryNet()
    net.irc("alice")
    other = net.connect()
    other.send("NICK аlice\r\nUSER x 0 * :x\r\n".encode())
    assert " 432 " in other.expect(" 432 ")
    other.send(b"NICK ALICE\r\n")
    assert " 433 " in other.expect(" 433 ")


def test_telnet_sequences_and_invalid_utf8_never_reach_others() -> None:
    net = MemoryNet()
    human = net.human("person")
    bot = net.bot("bot", "#lobby")
    irc = net.irc("ircer", "#lobby")
    human.send(b"one\xff\xfb\x01two\xff\xfa\x18\x01\xff\xf0three\r\n")
    human.send(b"bad \xc3\x28 utf8\r\n")
    assert human.expect("UTF-8") == "! That line was not valid UTF-8; nothing was sent"
    bot.send(b'{"type":"message","to":"#lobby","text":"\xff\xfb\x01"}\n')
    assert bot.expect_json(type="error")["code"] == "bad_encoding"
    irc.send(b"PRIVMSG #lobby :irc \xff\xfb\x01 bytes\r\n")  # UTF8ONLY: refused
    assert irc.expect("INVALID_UTF8").startswith(":chat.local FAIL PRIVMSG INVALID_UTF8 :")
    irc.line("PRIVMSG #lobby :fine")
    bot.expect_json(type="message", text="fine")
    assert [json.loads(x)["text"] for x in bot.received if '"person"' in x and '"message"' in x
            ] == ["onetwothree"]
    assert not any('"ircer"' in x and "bytes" in x for x in bot.received)
    # The person alone is sent telnet's refusal of the option it offered: IAC DONT ECHO.
    refusal = "\ufffd\ufffd\x01"
    assert sum(refusal in line for line in human.received) == 1
    seen = [line.replace(refusal, "") for line in human.received]
    for line in seen + irc.received + bot.received:
        assert "\ufffd" not in line and not forbidden(line)


@pytest.mark.parametrize("prefix", [b"", b"{", b"NICK x\r\n", b"hello\r\n"])
def test_random_garbage_gets_errors_and_the_server_carries_on(prefix: bytes) -> None:
    net = MemoryNet(max_line=1024)
    alice, bob = net.bot("alice", "#lobby"), net.bot("bob", "#lobby")
    rng = random.Random(len(prefix))
    for _ in range(3):
        garbage = net.connect()
        garbage.send(prefix + rng.randbytes(64 * 1024) + b"\n")
        garbage.close()  # a reset or a close: the hub is told the same
    noisy = net.connect()
    noisy.send(prefix + bytes(rng.choice(b"\r\n\x00\xff{}\":[]\x1b\x80ab ") for _ in range(20000)))
    alice.request(type="message", to="#lobby", text="still fine")
    bob.expect_json(type="message", text="still fine")
    assert not any("\ufffd" in line or forbidden(line) for line in bob.lines)
    assert noisy.closed is None  # errors, never "Internal server error"
