"""Client side of the benchmark: two dialects and one cheap asyncio Protocol per client, over
TCP or (``WsBenchClient``) a WebSocket on the server's HTTP port.

Every benchmark message carries ``~B:<sender> <seq> <send_ns>`` in its text. The generator
counts deliveries with ``bytes.count(MARKER)`` on whole lines (C speed, no per-line Python), so a
thousand clients in one process cost little per delivery; only *probe* clients run a regex over
what they receive to collect latencies, check per-sender order and drive the flow-control window.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chat.wire.jsonlines import (
    PROTOCOL_VERSION,
    JsonLineError,
    decode_json_line,
    encode_json_line,
)
from chat.wire.names import fold

MARKER = b"~B:"
_STAMP = re.compile(rb"~B:(\d+) (\d+) (\d+)")
now_ns = time.perf_counter_ns  # one clock for send stamps and receive times, in one process


class ProtocolFailure(RuntimeError):
    """The server refused or broke the benchmark's conversation (bad nick, closed, error)."""


class Dialect:
    """How the generator speaks to a server; subclasses give the bytes and parse replies."""

    name = ""
    #: whether a room message is echoed to its sender (the structured dialect does, IRC does not)
    echo = False

    def register(self, nick: str) -> bytes:
        """Bytes that register ``nick``."""
        raise NotImplementedError

    def join(self, room: str) -> bytes:
        """Bytes that join ``room``."""
        raise NotImplementedError

    def message_template(self, room: str, pad: int = 0) -> bytes:
        """A ``%``-template taking (sender, seq, ns) for one message line to ``room``."""
        raise NotImplementedError

    def quit(self) -> bytes:
        """Bytes that leave politely."""
        raise NotImplementedError

    def control(self, client: BenchClient, line: bytes) -> None:
        """Handle one line that is not a benchmark message (registration, join, ping, errors)."""
        raise NotImplementedError


class IrcDialect(Dialect):
    """RFC 1459/2812 client: NICK/USER, JOIN, PRIVMSG; answers PING. Works against any ircd."""

    name = "irc"
    echo = False

    def register(self, nick: str) -> bytes:
        return f"NICK {nick}\r\nUSER {nick} 0 * :chat-bench\r\n".encode()

    def join(self, room: str) -> bytes:
        return f"JOIN {room}\r\n".encode()

    def message_template(self, room: str, pad: int = 0) -> bytes:
        # '%' in user text must not be taken for a placeholder; room names never contain one.
        return f"PRIVMSG {room} :".encode() + MARKER + b"%d %d %d" + b"." * pad + b"\r\n"

    def quit(self) -> bytes:
        return b"QUIT :done\r\n"

    def control(self, client: BenchClient, line: bytes) -> None:
        if line.startswith(b"PING"):
            client.write(b"PONG" + line[4:] + b"\r\n")
            return
        parts = line.split(b" ", 4)
        if line.startswith(b":"):
            if len(parts) < 2:
                return
            cmd, args = parts[1], parts[2:]
        else:
            cmd, args = parts[0], parts[1:]
        if cmd == b"001":
            client.on_registered()
        elif cmd == b"366" and len(args) >= 2:  # end of NAMES: the join is complete
            client.on_joined(args[1].decode("utf-8", "replace"))
        elif cmd in (b"432", b"433", b"436", b"437"):  # nick errors during registration
            client.on_failure(line.decode("utf-8", "replace"))
        elif cmd == b"422":  # no MOTD: harmless
            pass
        elif cmd == b"ERROR" or (len(cmd) == 3 and cmd.isdigit() and cmd[:1] in b"45"):
            client.errors.append(line.decode("utf-8", "replace"))
            if cmd in (b"403", b"404", b"405", b"471", b"473", b"474", b"475"):
                client.on_failure(line.decode("utf-8", "replace"))


class StructuredDialect(Dialect):
    """Our JSON-lines dialect (docs/protocol.md): hello/welcome, join/members, message."""

    name = "structured"
    echo = True

    def register(self, nick: str) -> bytes:
        return encode_json_line({"type": "hello", "version": PROTOCOL_VERSION, "nick": nick,
                                 "client": "chat-bench"})

    def join(self, room: str) -> bytes:
        return encode_json_line({"type": "join", "room": room})

    def message_template(self, room: str, pad: int = 0) -> bytes:
        head = encode_json_line({"type": "message", "to": room, "text": ""}).rstrip(b"\n")
        # insert the marker and placeholders inside the (empty) "text" string
        cut = head.rindex(b'""') + 1
        return head[:cut] + MARKER + b"%d %d %d" + b"." * pad + head[cut:] + b"\n"

    def quit(self) -> bytes:
        return encode_json_line({"type": "quit", "reason": "done"})

    def control(self, client: BenchClient, line: bytes) -> None:
        try:
            obj = decode_json_line(line)
        except JsonLineError:
            client.errors.append(line.decode("utf-8", "replace"))
            return
        kind = obj.get("type")
        if kind == "welcome":
            client.on_registered()
        elif kind == "members":
            client.on_joined(str(obj.get("room")))
        elif kind == "error":
            client.errors.append(f"{obj.get('code')}: {obj.get('text')}")
            client.on_failure(f"{obj.get('code')}: {obj.get('text')}")
        elif kind == "disconnect":
            client.errors.append(f"disconnect: {obj.get('reason')}")


DIALECTS: dict[str, Callable[[], Dialect]] = {"irc": IrcDialect, "structured": StructuredDialect}


@dataclass(slots=True)
class Flow:
    """Per-sender window: how far a reference receiver has got, and a sender waiting on it."""

    acked: int = -1
    wait_for: int = -1
    waiter: asyncio.Future[None] | None = None

    def ack(self, seq: int) -> None:
        """A reference receiver saw ``seq`` from this sender; wake the sender if it can go on."""
        self.acked = seq
        if self.waiter is not None and seq >= self.wait_for:
            if not self.waiter.done():
                self.waiter.set_result(None)
            self.waiter = None


@dataclass(slots=True)
class ProbeData:
    """What a probe client records: latencies (ns) and per-sender ordering problems."""

    latencies: list[int] = field(default_factory=list)
    last_seq: dict[int, int] = field(default_factory=dict)
    out_of_order: int = 0
    #: sender id -> Flow, for the senders this probe is the reference receiver of
    flows: dict[int, Flow] = field(default_factory=dict)


class BenchClient(asyncio.Protocol):
    """One simulated client. Reads are counted in bulk; control lines take the slow path."""

    def __init__(self, idx: int, nick: str, dialect: Dialect) -> None:
        self.idx = idx
        self.nick = nick
        self.dialect = dialect
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.count = 0  # benchmark messages received
        self.expected = -1  # when count reaches this, on_done fires (-1: not armed)
        self.on_done: Callable[[BenchClient], None] | None = None
        self.probe: ProbeData | None = None
        self.errors: list[str] = []
        self.closed = False
        self.close_reason = ""
        self._registered: asyncio.Future[None] | None = None
        self._joins: dict[str, asyncio.Future[None]] = {}
        self._can_write: asyncio.Future[None] | None = None
        loop = asyncio.get_running_loop()
        self._connected: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()

    # -- asyncio callbacks --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self._connected.done():
            self._connected.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.close_reason = str(exc) if exc else "closed by server"
        self.on_failure(f"connection lost: {self.close_reason}")
        if not self.lost.done():
            self.lost.set_result(None)
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    def pause_writing(self) -> None:
        if self._can_write is None or self._can_write.done():
            self._can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    def data_received(self, data: bytes) -> None:
        end = data.rfind(b"\n") + 1
        if not end:
            self.buf += data
            return
        if self.buf:
            block = self.buf + data[:end]
        elif end == len(data):
            block = data  # the common case at load: reads end on a line boundary; no copy
        else:
            block = data[:end]
        self.buf = data[end:]
        n = block.count(MARKER)
        if n:
            self.count += n
            if self.probe is not None:
                self._probe(block)
        if n != block.count(b"\n"):
            control = self.dialect.control
            for line in block.split(b"\n"):
                if line and MARKER not in line:
                    control(self, line.rstrip(b"\r"))
        if n and self.count >= self.expected >= 0 and self.on_done is not None:
            done, self.on_done = self.on_done, None
            done(self)

    def _probe(self, block: bytes) -> None:
        probe = self.probe
        assert probe is not None
        t = now_ns()
        lat = probe.latencies
        last = probe.last_seq
        flows = probe.flows
        for m in _STAMP.finditer(block):
            sid, seq = int(m[1]), int(m[2])
            lat.append(t - int(m[3]))
            if last.get(sid, -1) + 1 != seq:
                probe.out_of_order += 1
            last[sid] = seq
            flow = flows.get(sid)
            if flow is not None:
                flow.ack(seq)

    # -- conversation ---------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Write unless the connection is gone (a lost write shows up as a lost message)."""
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    async def writable(self) -> None:
        """Wait while the transport's buffer is above its high-water mark (TCP backpressure)."""
        fut = self._can_write
        if fut is not None and not fut.done():
            await fut

    async def register(self, timeout: float) -> None:
        """Register our nick and wait for the server's welcome."""
        await asyncio.wait_for(self._connected, timeout)  # a WebSocket upgrade may never come
        self._registered = asyncio.get_running_loop().create_future()
        self.write(self.dialect.register(self.nick))
        await asyncio.wait_for(self._registered, timeout)

    async def join(self, room: str, timeout: float) -> None:
        """Join ``room`` and wait until the server says the join is complete."""
        fut = asyncio.get_running_loop().create_future()
        self._joins[fold(room)] = fut
        self.write(self.dialect.join(room))
        await asyncio.wait_for(fut, timeout)

    def on_registered(self) -> None:
        """The server welcomed us."""
        if self._registered is not None and not self._registered.done():
            self._registered.set_result(None)

    def on_joined(self, room: str) -> None:
        """The server finished our join of ``room``."""
        fut = self._joins.pop(fold(room), None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    def on_failure(self, why: str) -> None:
        """Fail whatever handshake step is pending, so the workload stops instead of hanging."""
        pending = [self._registered, *self._joins.values()]
        self._joins.clear()
        for fut in pending:
            if fut is not None and not fut.done():
                fut.set_exception(ProtocolFailure(f"{self.nick}: {why}"))
                fut.exception()  # mark retrieved: a failure nobody awaits is not an error

    def close(self) -> None:
        """Close the connection without waiting (the server broadcasts the quit)."""
        if self.transport is not None and not self.closed:
            self.transport.close()


#: The WebSocket subprotocol that carries each dialect (see chat/dialects/websocket.py).
WS_SUBPROTOCOLS = {"structured": "chat.json", "irc": "text.ircv3.net"}
_ZERO_MASK = b"\0\0\0\0"
#: Bytes of a server's upgrade response kept before giving up on it.
_MAX_HANDSHAKE = 16 * 1024


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One client frame (FIN, masked as RFC 6455 requires). The mask key is zero, so the
    payload goes out unchanged: a benchmark need not hide its bytes from proxies."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return head + _ZERO_MASK + payload


class WsBenchClient(BenchClient):
    """The same client over a WebSocket: an HTTP upgrade first, then one dialect line per frame.

    Reading stays cheap: frame headers are walked (no payload copied) to find where the last
    complete frame ends, markers are counted in each frame with ``bytes.count`` (C speed), and
    only frames without it (registration, joins, errors) are cut out and handed to the dialect
    as lines. Writing frames each line of what the workload writes (senders only).
    """

    def __init__(self, idx: int, nick: str, dialect: Dialect, host: str = "127.0.0.1") -> None:
        super().__init__(idx, nick, dialect)
        self.host = host
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((
            f"GET / HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {WS_SUBPROTOCOLS[self.dialect.name]}\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._connected.done():
            self._connected.set_exception(ProtocolFailure(f"{self.nick}: closed before the "
                                                          "WebSocket upgrade"))
            self._connected.exception()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > _MAX_HANDSHAKE and self.transport is not None:
                    self.transport.close()
                return
            status = self.buf[:self.buf.find(b"\r\n")]
            data, self.buf = self.buf[end + 4:], b""
            if not status.startswith(b"HTTP/1.1 101"):
                why = f"{self.nick}: WebSocket upgrade refused: {status.decode('latin-1')}"
                self._connected.set_exception(ProtocolFailure(why))
                self._connected.exception()
                self.errors.append(why)
                if self.transport is not None:
                    self.transport.close()
                return
            self.upgraded = True
            self._connected.set_result(None)
            if not data:
                return
        buf = self.buf + data if self.buf else data
        size = len(buf)
        i = 0
        marked = 0
        controls: list[tuple[int, bytes]] = []
        count = buf.count
        while size - i >= 2:
            length = buf[i + 1] & 0x7F  # a server's frames are never masked
            if length < 126:
                head = 2
            elif length == 126:
                if size - i < 4:
                    break
                length = int.from_bytes(buf[i + 2:i + 4], "big")
                head = 4
            else:
                if size - i < 10:
                    break
                length = int.from_bytes(buf[i + 2:i + 10], "big")
                head = 10
            end = i + head + length
            if end > size:
                break
            hits = count(MARKER, i + head, end)
            if hits:
                marked += hits
            else:
                controls.append((buf[i] & 0x0F, buf[i + head:end]))
            i = end
        self.buf = buf[i:]
        if marked:
            self.count += marked
            if self.probe is not None:
                self._probe(buf[:i])
        for opcode, payload in controls:
            if opcode == 0x9:  # ping: pong with the same payload
                super().write(ws_frame(payload, 0xA))
            elif opcode == 0x8:  # close: the server ends the session
                reason = payload[2:].decode("utf-8", "replace")
                self.errors.append(f"closed by the server: {reason}")
                if self.transport is not None:
                    self.transport.close()
            elif opcode in (0x1, 0x2):
                self.dialect.control(self, payload)
        if marked and self.count >= self.expected >= 0 and self.on_done is not None:
            done, self.on_done = self.on_done, None
            done(self)

    def write(self, data: bytes) -> None:
        """Each line of ``data`` as one text frame."""
        lines = data.split(b"\n")
        super().write(b"".join(ws_frame(line.rstrip(b"\r")) for line in lines if line))
