"""Property tests (hypothesis) on every codec: framing, telnet filtering, each dialect's decoder,
the hub as a whole, and the way events are encoded.

- any bytes in produce lines, commands or protocol errors, never an exception;
- encoding then decoding an event gives it back;
- no encoded line ever carries a raw CR, LF or NUL that came from user text.

Dialects are taken from ``chat.dialects.DIALECTS``, so a new dialect is covered as soon as it is
registered there.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chat.config import Limits, ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.dialects import DIALECTS
from chat.dialects.base import Dialect
from chat.dialects.structured import event_to_json
from chat.hub import Hub
from chat.wire.framing import LineReader, LineTooLong, TelnetFilter
from chat.wire.jsonlines import decode_json_line, encode_json_line

CONFIG = ServerConfig(limits=Limits(rate_per_second=0))
FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DIALECT_IDS = [d.name for d in DIALECTS]

chunks = st.lists(st.binary(max_size=300), max_size=12)
# Bytes a hostile client likes: terminators, NUL, IAC, JSON and IRC syntax, invalid UTF-8.
nasty = st.lists(st.sampled_from(
    [b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b"\xfb\x01", b"{", b"}", b'"', b":", b" ",
     b"\xc3", b"\x80", b"\x1b[2J", b"NICK a", b"USER a 0 * :a", b"PRIVMSG #r :", b"/join #r",
     b'{"type":"hello","nick":"x"}', b'{"type":"message","to":"#r","text":"', b"#r", b"a"]),
    max_size=40).map(b"".join)
any_text = st.text(st.characters(codec="utf-8"), max_size=200)


# -- framing ---------------------------------------------------------------------------------

@FAST
@given(chunks, st.integers(min_value=2, max_value=64))
def test_line_reader_bounds_and_splits_like_a_whole_stream(parts: list[bytes], limit: int) -> None:
    reader = LineReader(limit)
    out: list[bytes | LineTooLong] = []
    for part in parts:
        out += reader.feed(part)
        assert reader.pending < limit  # never more than the limit held
    whole = LineReader(limit).feed(b"".join(parts))
    assert out == whole  # however the bytes were split, the same lines come out
    for line in out:
        if isinstance(line, bytes):
            assert b"\n" not in line and len(line) + 1 <= limit


@FAST
@given(chunks)
def test_telnet_filter_never_lets_iac_through(parts: list[bytes]) -> None:
    split = TelnetFilter()
    out = b"".join(split.feed(p) for p in parts)
    assert b"\xff" not in out
    assert out == TelnetFilter().feed(b"".join(parts))


# -- decoding: any bytes, never an exception -------------------------------------------------

def _dialect(cls: type[Dialect], registered: bool) -> tuple[ChatCore, Dialect]:
    core = ChatCore(CONFIG)
    core.connect(1, "192.0.2.1")
    if registered:
        core.handle(1, c.Register("alice"))
        core.handle(1, c.Join("#r"))
    user = core.user(1)
    assert user is not None
    return core, cls(CONFIG, user)


@pytest.mark.parametrize("cls", DIALECTS, ids=DIALECT_IDS)
@pytest.mark.parametrize("registered", [False, True])
@FAST
@given(data=st.one_of(st.binary(max_size=600), nasty))
def test_decode_never_raises(cls: type[Dialect], registered: bool, data: bytes) -> None:
    core, dialect = _dialect(cls, registered)
    for line in LineReader(cls.max_line(CONFIG)).feed(dialect.filter_bytes(data) + b"\n"):
        items = (dialect.line_too_long(line.limit) if isinstance(line, LineTooLong)
                 else dialect.decode(line))
        for item in items:
            assert isinstance(item, bytes | c.Invalid) or type(item) in c.Command.__args__
            if not isinstance(item, bytes):
                core.handle(1, item)  # and the core takes whatever the dialect made


@FAST
@given(st.lists(st.one_of(st.binary(max_size=200), nasty), min_size=1, max_size=8))
def test_hub_takes_any_bytes(parts: list[bytes]) -> None:
    now = [1000.0]
    hub = Hub(CONFIG, clock=lambda: now[0])
    watcher = hub.open("192.0.2.9")
    hub.receive(watcher, b'{"type":"hello","nick":"w"}\n{"type":"join","room":"#r"}\n')
    conns = [hub.open("192.0.2.1") for _ in range(3)]
    for n, part in enumerate(parts):
        hub.receive(conns[n % 3], part)
        now[0] += 0.3
        hub.tick()
    out = hub.take_output()
    for data in out.writes.get(watcher, []):
        for line in data.split(b"\n")[:-1]:
            decode_json_line(line)  # everything the watcher got is one JSON object a line
    for conn in conns:
        hub.closed(conn, "bye")
    hub.take_output()


# -- encoding --------------------------------------------------------------------------------

def _lines_are_clean(data: bytes) -> None:
    assert data.endswith(b"\n")
    for line in data.split(b"\n")[:-1]:
        body = line[:-1] if line.endswith(b"\r") else line
        assert b"\r" not in body and b"\x00" not in body, data


def _source(nick: str = "alice") -> e.Source:
    return e.Source(nick, nick, "192.0.2.1")


@pytest.mark.parametrize("cls", DIALECTS, ids=DIALECT_IDS)
@FAST
@given(text=any_text, topic=any_text, reason=any_text)
def test_user_text_never_breaks_a_line(cls: type[Dialect], text: str, topic: str,
                                       reason: str) -> None:
    """Through the core, as it happens on a server: whatever the text, lines stay lines."""
    core = ChatCore(CONFIG)
    for conn, nick in ((1, "alice"), (2, "bob")):
        core.connect(conn, "192.0.2.1")
        core.handle(conn, c.Register(nick))
        core.handle(conn, c.Join("#r"))
    bob = core.user(2)
    assert bob is not None
    reader = cls(CONFIG, bob)
    outputs = []
    for command in (c.Say("#r", text), c.Say("bob", text, "action"), c.Say("#r", text, "notice"),
                    c.SetTopic("#r", topic), c.Part("#r", reason), c.Join("#r"),
                    c.ChangeNick(text[:10] or "x"), c.Quit(reason)):
        outputs += core.handle(1, command)
    for output in outputs:
        if isinstance(output, e.Delivery) and 2 in output.recipients:
            data = reader.encode(output.event, {})
            if data:
                _lines_are_clean(data)


@FAST
@given(text=any_text, room=st.one_of(st.none(), any_text), nick=any_text, token=any_text)
def test_structured_events_round_trip(text: str, room: str | None, nick: str,
                                      token: str) -> None:
    """JSON escapes everything: any text at all survives the line intact, as one line."""
    events: list[e.Event] = [
        e.Message("id1", 1700000000.5, room, _source(nick or "x"), target=room or nick, text=text),
        e.Topic("id2", 1700000000.0, room, None, topic=text, set_by=nick, set_at=1700000000.0),
        e.Quitted("id3", 1700000001.0, None, _source(), reason=text, rooms=(room or "#r",)),
        e.Error("id4", 1700000002.0, None, None, code="x", text=text, ref=token),
        e.PingRequest("id5", 1700000003.0, None, None, token=token),
    ]
    for event in events:
        obj = event_to_json(event)
        line = encode_json_line(obj)
        assert line.count(b"\n") == 1 and line.endswith(b"\n") and b"\r" not in line
        assert b"\x00" not in line
        assert decode_json_line(line[:-1]) == obj


clean_text = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
                     min_size=1, max_size=150).filter(lambda s: s.strip() == s and s)


@FAST
@given(text=clean_text)
def test_irc_message_round_trip(text: str) -> None:
    """A PRIVMSG the IRC dialect sends, read back by the IRC dialect, is the same message."""
    irc = pytest.importorskip("chat.dialects.irc", reason="the IRC dialect is not there yet")
    _, reader = _dialect(irc.IrcDialect, registered=True)
    event = e.Message("id", 1700000000.0, "#r", _source("bob"), target="#r", text=text)
    data = reader.encode(event, {})
    assert data is not None
    _lines_are_clean(data)
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")[:-1]]
    texts = []
    for line in lines:
        assert line.startswith(b":bob!bob@192.0.2.1 PRIVMSG #r :")
        (command,) = reader.decode(line.split(b" ", 1)[1])  # as if a client sent it
        assert isinstance(command, c.Say) and command.target == "#r"
        texts.append(command.text)
    assume(len(texts) == 1)  # long texts are split across lines; checked below
    assert texts == [text]


@settings(FAST, max_examples=50)  # drawing 400-1500 characters is most of each example's time
@given(text=st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]),
                    min_size=400, max_size=1500))
def test_irc_long_messages_split_without_loss(text: str) -> None:
    irc = pytest.importorskip("chat.dialects.irc", reason="the IRC dialect is not there yet")
    _, reader = _dialect(irc.IrcDialect, registered=True)
    event = e.Message("id", 1700000000.0, "#r", _source("bob"), target="#r", text=text)
    data = reader.encode(event, {})
    assert data is not None
    _lines_are_clean(data)
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")[:-1]]
    # Each piece fits the 512 bytes of the line an IRC client sends (no prefix): the sender's
    # prefix may take the relayed line past 512, as modern servers send it.
    assert all(len(line.split(b" ", 1)[1]) + 2 <= 512 for line in lines)
    joined = "".join(line.split(b" :", 1)[1].decode() for line in lines)
    assert joined.replace(" ", "") == text.replace(" ", "")


def test_client_protocol_reads_what_the_server_writes() -> None:
    """The bundled client's decoder gets back exactly the object the server encoded."""
    protocol = pytest.importorskip("client.protocol")
    event = e.Message("id", 1700000000.0, "#r", _source(), target="#r", text="hé\n\x00")
    obj: dict[str, Any] = event_to_json(event)
    got = protocol.ClientProtocol().receive_data(encode_json_line(obj))
    assert got == [json.loads(json.dumps(obj))]
