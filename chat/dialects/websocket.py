"""WebSocket on the HTTP listener: a wrapper dialect around an inner dialect, sans-I/O.

The framing is the ``websockets`` package's sans-I/O ``ServerProtocol``, so both engines share
one implementation. The HTTP dialect hands over a request carrying ``Upgrade: websocket`` (any
path); :func:`handshake` answers it and, on success, returns the wrapper that replaces the
HTTP dialect for the rest of the connection (the hub's :class:`~chat.dialects.base.Upgrade`).

The ``Sec-WebSocket-Protocol`` the client offers picks the inner dialect:

* ``text.ircv3.net``: IRC, one line per text frame (IRCv3 WebSocket spec);
* ``binary.ircv3.net``: IRC, one line per binary frame;
* ``chat.json``: the structured JSON dialect, one JSON object per text frame;
* none offered: the structured JSON dialect, as with ``chat.json``.

Incoming messages may be text or binary in every case. A message holding several lines
(``\\n`` or ``\\r\\n``) is split into lines for IRC; for JSON a raw newline can only be white
space, so it is read as a space. The size of a message is bounded by the inner dialect's line
limit (1009 beyond it); compression is never negotiated.

How bytes flow through the hub unchanged: the hub frames input into lines before ``decode``.
``filter_bytes`` feeds the protocol and queues what came of it (messages, and control
frames to send back: pongs, the close reply), returning one empty line per queued item;
``decode`` then takes the next item off the queue. So everything stays in order, under the
hub's rate limit and receive queue, and a ping is answered even with no message around it.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from websockets.exceptions import InvalidOrigin
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from chat.config import ServerConfig
from chat.core.events import Event
from chat.core.model import User
from chat.dialects.base import Decoded, Dialect, Gather, Hangup
from chat.dialects.irc import IrcDialect
from chat.dialects.structured import StructuredDialect

#: Subprotocol name -> (inner dialect, whether frames sent are binary).
SUBPROTOCOLS: dict[str, tuple[type[Dialect], bool]] = {
    "text.ircv3.net": (IrcDialect, False),
    "binary.ircv3.net": (IrcDialect, True),
    "chat.json": (StructuredDialect, False),
}
#: With no subprotocol offered (or none we know): the structured JSON dialect.
DEFAULT = (StructuredDialect, False)


def is_upgrade(header_lines: Sequence[bytes]) -> bool:
    """True when a request's header lines ask for a WebSocket (``Upgrade: websocket``)."""
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and \
                b"websocket" in (token.strip().lower() for token in value.split(b",")):
            return True
    return False


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """No Origin (not a browser): allowed. Otherwise one of ``allowed`` if any are configured,
    else same-origin only: the Origin's host:port must be the Host header."""
    if origin is None:
        return True
    if allowed:
        return origin in allowed or "*" in allowed
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or host is None:
        return False
    default = 443 if parts.scheme == "https" else 80
    netloc = parts.hostname if port in (None, default) else f"{parts.hostname}:{port}"
    host = host.strip().lower()
    if host.endswith(f":{default}"):
        host = host[: -len(f":{default}")]
    return netloc.lower() == host


def handshake(head: bytes, config: ServerConfig, user: User,
              clock: Callable[[], float] | None) -> tuple[bytes, WebSocketDialect | None]:
    """The response to an upgrade request's head, and the wrapper dialect if it succeeded."""
    chosen: list[str] = []

    def select(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        for name in offered:
            if name in SUBPROTOCOLS:
                chosen.append(name)
                return Subprotocol(name)
        return None

    # The size bound is known only once the subprotocol is: the largest inner limit for now.
    protocol = ServerProtocol(select_subprotocol=select, max_size=None)
    protocol.receive_data(head)
    request = next((ev for ev in protocol.events_received() if isinstance(ev, Request)), None)
    if request is None:  # the head did not parse: the protocol says why, with a 400
        response = protocol.reject(400, "Malformed WebSocket handshake\n")
    else:
        if not origin_allowed(request.headers.get("Origin"), request.headers.get("Host"),
                              config.web_origins):
            protocol.handshake_exc = InvalidOrigin(request.headers.get("Origin"))
            response = protocol.reject(403, "Origin not allowed\n")
        else:
            response = protocol.accept(request)
    protocol.send_response(response)
    data = protocol.data_to_send()
    answer = b"".join(data)
    if response.status_code != 101:
        return answer, None
    inner_cls, binary = SUBPROTOCOLS[chosen[0]] if chosen else DEFAULT
    protocol.max_message_size = inner_cls.max_line(config)
    wrapper = wrapper_class(inner_cls, binary)(config, user, clock, protocol)
    return answer, wrapper


@functools.cache
def wrapper_class(inner_cls: type[Dialect], binary: bool) -> type[WebSocketDialect]:
    """One wrapper class per (inner dialect, frame type): ``variant`` must differ from the plain
    dialect's so fan-out shares bytes only between equals. A dialect whose variant is per
    connection (a property: IRC's is its capability set) gets a property here too; reading it
    on the class would give the property object itself, one "variant" for every client."""
    inner_variant = inner_cls.variant
    variant: object
    if isinstance(inner_variant, property):
        variant = property(lambda self: ("ws", self.inner.variant, binary))
    else:
        variant = None if inner_variant is None else ("ws", inner_variant, binary)
    return type(f"WebSocket{inner_cls.__name__}", (WebSocketDialect,), {
        "__slots__": (), "inner_cls": inner_cls, "binary": binary, "variant": variant,
        "own_differs": inner_cls.own_differs, "name": inner_cls.name,
    })


class WebSocketDialect(Dialect):
    """The inner dialect's lines, one per WebSocket message (see the module docstring)."""

    name: ClassVar[str] = "websocket"
    websocket: ClassVar[bool] = True
    inner_cls: ClassVar[type[Dialect]] = StructuredDialect
    binary: ClassVar[bool] = False
    __slots__ = ("_fragments", "_queue", "_raw", "inner", "protocol")

    def __init__(self, config: ServerConfig, user: User,
                 clock: Callable[[], float] | None = None,
                 protocol: ServerProtocol | None = None) -> None:
        super().__init__(config, user, clock)
        assert protocol is not None
        self.protocol = protocol
        self.inner = self.inner_cls(config, user, clock)
        #: What ``filter_bytes`` received and ``decode`` hands on: a message (bytes in a
        #: list, so it is told apart from) bytes to send back as they are, or a Hangup.
        self._queue: deque[list[bytes] | bytes | Hangup] = deque()
        self._fragments: list[bytes] = []
        self._raw = False  # a Gather is running: output stays unframed until it finishes

    @classmethod
    def sniff(cls, first_line: bytes) -> bool:
        return False

    @classmethod
    def max_line(cls, config: ServerConfig) -> int:
        return 2  # the hub sees empty lines only (messages are bounded by the protocol)

    def start(self) -> list[Decoded]:
        return self._frame_all(self.inner.start())

    def filter_bytes(self, data: bytes) -> bytes:
        protocol = self.protocol
        if protocol.state is not State.OPEN:
            return b""  # closing: the hub hangs up once the close reply is sent
        protocol.receive_data(data)
        queue = self._queue
        count = 0
        for frame in protocol.events_received():
            assert isinstance(frame, Frame)
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self._fragments.append(bytes(frame.data))
                if frame.fin:
                    queue.append([b"".join(self._fragments)])
                    self._fragments = []
                    count += 1
        out = b"".join(protocol.data_to_send())
        if out:  # pongs, the close reply, a close for a protocol error
            queue.append(out)
            count += 1
        if protocol.state is State.CLOSING or protocol.state is State.CLOSED:
            exc = protocol.parser_exc
            queue.append(Hangup("WebSocket closed" if exc is None
                                else f"WebSocket error: {exc}"))
            count += 1
        return b"\n" * count

    def decode(self, line: bytes) -> list[Decoded]:
        if not self._queue:
            return []
        item = self._queue.popleft()
        if not isinstance(item, list):
            return [item]
        message = item[0]
        out: list[Decoded] = []
        if self.inner_cls is StructuredDialect:
            lines = [message.replace(b"\r", b" ").replace(b"\n", b" ")]
        else:
            lines = [part.rstrip(b"\r") for part in message.split(b"\n")]
        for text in lines:
            if text or len(lines) == 1:
                out.extend(self._frame_all(self.inner.decode(text)))
        return out

    def encode(self, event: Event, cache: dict[Any, bytes | None]) -> bytes | None:
        data = self.inner.encode(event, cache)
        if self._raw:  # inside a Gather: framed when it finishes
            return data or None
        return (self._frame(data) or None) if data else None

    def goodbye(self, reason: str) -> bytes:
        """A close frame when the server ends the session: 1001 on shutdown, else 1000."""
        protocol = self.protocol
        if protocol.state is not State.OPEN:
            return b""  # the close handshake is already under way
        code = 1001 if "shutting down" in reason.lower() else 1000
        text = reason.encode()[:120].decode("utf-8", "ignore")  # a close reason is <= 123 bytes
        protocol.send_close(code, text)
        return b"".join(protocol.data_to_send())

    def _frame_all(self, items: list[Decoded]) -> list[Decoded]:
        """The inner dialect's direct replies, framed. A :class:`Gather` (IRC's labeled
        response) runs with framing off, so the inner dialect rewrites its own lines, and the
        result is framed once it is done."""
        return [self._gathered(item) if isinstance(item, Gather)
                else self._frame(item) if isinstance(item, bytes) else item
                for item in items if not isinstance(item, bytes) or item]

    def _gathered(self, gather: Gather) -> Gather:
        inner_finish = gather.finish

        def begin() -> None:
            self._raw = True

        def suspend() -> None:
            self._raw = False

        def finish(data: bytes) -> bytes:
            self._raw = False
            return self._frame(inner_finish(data))
        # Direct replies inside stay unframed: they are gathered with the rest, then framed.
        return Gather(gather.items, finish, begin, suspend)

    def _frame(self, data: bytes) -> bytes:
        """Each line of ``data`` as one message (frame bytes; empty once closing)."""
        protocol = self.protocol
        if protocol.state is not State.OPEN:
            return b""
        for line in data.split(b"\n"):
            line = line.rstrip(b"\r")
            if not line:
                continue
            if self.binary:
                protocol.send_binary(line)
            else:
                protocol.send_text(line.decode("utf-8", "replace").encode())
        return b"".join(protocol.data_to_send())
