"""The hub's fan-out shortcut (segments) gives every connection exactly the bytes, in exactly
the order, that encoding each delivery for each recipient gives."""

from __future__ import annotations

import random

import pytest

from chat.config import Limits, ServerConfig
from chat.core import events as e
from chat.hub import Hub

CONFIG = ServerConfig(limits=Limits(rate_per_second=0, max_per_ip=0))


class ReferenceHub(Hub):
    """The hub before segments: every delivery encoded per recipient, appended in order."""

    def _apply(self, outputs: list[e.Output]) -> None:
        for output in outputs:
            if isinstance(output, e.Delivery):
                cache: dict[object, bytes | None] = {}
                for conn in output.recipients:
                    session = self.sessions.get(conn)
                    if session is None or session.dialect is None:
                        continue
                    data = session.dialect.encode(output.event, cache)
                    if data:
                        self._fanout.out.writes.setdefault(conn, []).append(data)
            elif isinstance(output, e.Close):
                session = self.sessions.get(output.conn)
                if session is not None and session.closing is None:
                    session.closing = output.reason
                    self._fanout.out.closes[output.conn] = output.reason


def irc(nick: str, caps: str = "") -> bytes:
    req = f"CAP REQ :{caps}\r\n" if caps else ""
    return (f"CAP LS 302\r\n{req}CAP END\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n"
            .encode())


CLIENTS = [
    ("s0", lambda n: f'{{"type":"hello","nick":"{n}"}}\n'.encode()),
    ("s1", lambda n: f'{{"type":"hello","nick":"{n}"}}\n'.encode()),
    ("i0", lambda n: irc(n)),
    ("i1", lambda n: irc(n)),
    ("i2", lambda n: irc(n, "echo-message server-time message-tags")),
    ("i3", lambda n: irc(n, "server-time")),
    ("h0", lambda n: f"{n}\r\n".encode()),
    ("h1", lambda n: f"{n}\r\n".encode()),
]


def say(kind: str, room: str, text: str) -> bytes:
    if kind == "s":
        return f'{{"type":"message","to":"{room}","text":"{text}"}}\n'.encode()
    if kind == "i":
        return f"PRIVMSG {room} :{text}\r\n".encode()
    return f"/msg {room} {text}\r\n".encode() if not room.startswith("#") else (
        f"{text}\r\n".encode())


def join(kind: str, room: str) -> bytes:
    if kind == "s":
        return f'{{"type":"join","room":"{room}"}}\n'.encode()
    if kind == "i":
        return f"JOIN {room}\r\n".encode()
    return f"/join {room}\r\n".encode()


def part(kind: str, room: str) -> bytes:
    if kind == "s":
        return f'{{"type":"part","room":"{room}"}}\n'.encode()
    if kind == "i":
        return f"PART {room}\r\n".encode()
    return f"/part {room}\r\n".encode()


def junk(kind: str) -> bytes:
    return {"s": b'{"type":"nope"}\n', "i": b"FROB\r\n", "h": b"/frob\r\n"}[kind]


def script(seed: int) -> list[tuple[str, int, bytes]]:
    """A random mix of batched room messages, joins, parts, errors and output takes."""
    rng = random.Random(seed)
    steps: list[tuple[str, int, bytes]] = []
    for n, (name, hello) in enumerate(CLIENTS):
        steps.append(("recv", n, hello(name)))
        steps.append(("recv", n, join(name[0], "#r")))
        if n % 2:
            steps.append(("recv", n, join(name[0], "#s")))
    steps.append(("take", 0, b""))
    for step in range(300):
        n = rng.randrange(len(CLIENTS))
        kind = CLIENTS[n][0][0]
        roll = rng.random()
        if roll < 0.6:
            room = "#r" if rng.random() < 0.7 else "#s"
            data = b"".join(say(kind, room, f"m{step}.{k}") for k in range(rng.randint(1, 6)))
            if rng.random() < 0.2:
                data += junk(kind)  # a direct reply in the middle of a batch
                data += say(kind, room, f"after{step}")
            steps.append(("recv", n, data))
        elif roll < 0.7:
            steps.append(("recv", n, junk(kind)))
        elif roll < 0.78:
            steps.append(("recv", n, join(kind, "#s")))
        elif roll < 0.84:
            steps.append(("recv", n, part(kind, "#s")))
        elif roll < 0.88:
            target = CLIENTS[rng.randrange(len(CLIENTS))][0]
            steps.append(("recv", n, say(kind, target, f"p{step}")))
        elif roll < 0.92 and kind == "i":
            # A capability change moves the client to another variant: the fan-out's cached
            # grouping of the room must follow it.
            cap = rng.choice(["echo-message", "-echo-message", "server-time", "-server-time"])
            steps.append(("recv", n, f"CAP REQ :{cap}\r\n".encode()))
        else:
            steps.append(("take", 0, b""))
    steps.append(("close", 3, b""))
    steps.append(("recv", 0, say("s", "#r", "last")))
    steps.append(("take", 0, b""))
    return steps


def run(hub_cls: type[Hub], steps: list[tuple[str, int, bytes]]) -> list[dict[int, bytes]]:
    now = [1000.0]
    hub = hub_cls(CONFIG, clock=lambda: now[0], wallclock=lambda: 1.7e9 + now[0])
    conns = [hub.open("127.0.0.1") for _ in CLIENTS]
    taken = []
    for kind, n, data in steps:
        now[0] += 0.001
        if kind == "recv":
            hub.receive(conns[n], data)
        elif kind == "close":
            hub.closed(conns[n], "gone")
        else:
            out = hub.take_output()
            for chunks in out.writes.values():
                assert chunks and all(isinstance(c, bytes) and c for c in chunks)
            taken.append({conn: b"".join(chunks) for conn, chunks in out.writes.items()})
    return taken


@pytest.mark.parametrize("seed", range(12))
def test_segments_match_per_recipient_encoding(seed: int) -> None:
    steps = script(seed)
    expected = run(ReferenceHub, steps)
    got = run(Hub, steps)
    assert sum(len(t) for t in expected) > 10
    assert got == expected


def test_a_room_burst_is_one_write_per_recipient_and_no_copy_for_an_irc_sender() -> None:
    hub = Hub(CONFIG)
    conns = [hub.open("127.0.0.1") for _ in range(4)]
    for n, conn in enumerate(conns):
        hub.receive(conn, irc(f"u{n}") + b"JOIN #r\r\n")
    hub.take_output()
    hub.receive(conns[0], b"".join(f"PRIVMSG #r :m{k}\r\n".encode() for k in range(50)))
    hub.receive(conns[1], b"PRIVMSG #r :other\r\n")
    writes = hub.take_output().writes
    assert conns[0] in writes and len(writes[conns[0]]) == 1  # only u1's message
    for conn in conns[2:]:
        assert len(writes[conn]) == 2  # one chunk per sender's burst
        assert writes[conn][0].count(b"PRIVMSG #r :m") == 50
    assert writes[conns[2]][0] is writes[conns[3]][0]  # encoded once for both


def test_a_connection_gone_before_the_room_knows_gets_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a cluster a departure reaches the core later (through the log), so for a while the
    room still lists a connection the hub has closed: the cached grouping must not send to it."""
    hub = Hub(CONFIG)
    conns = [hub.open("127.0.0.1") for _ in range(3)]
    for n, conn in enumerate(conns):
        hub.receive(conn, irc(f"u{n}") + b"JOIN #r\r\n")
    hub.take_output()
    hub.receive(conns[0], b"PRIVMSG #r :before\r\n")  # the room's grouping is cached here
    assert set(hub.take_output().writes) == {conns[1], conns[2]}
    monkeypatch.setattr(hub.gate, "disconnect", lambda conn, reason: [])  # applied later
    hub.closed(conns[2], "gone")
    hub.receive(conns[0], b"PRIVMSG #r :after\r\n")
    assert set(hub.take_output().writes) == {conns[1]}
