"""HTTP/1.1 for health checks, metrics and the web client: one request per connection, answered,
then closed (a WebSocket upgrade, on any path, hands the connection to ``websocket.py``).

Paths: ``/healthz``, ``/readyz``, ``/metrics``, and the web client's few files (``/`` is the
page; the list is ``chat.web.FILES``, nothing else reaches the file system).

Sans-I/O like every dialect: request lines in, response bytes out, then a :class:`Hangup`. Only
a listener that pins ``http`` speaks it (``sniff`` never claims a connection), and it never
sends the core a command: an HTTP client is never a chat user.

What it answers from comes through a small read-only :class:`ServerStatus` the hub hands it:
whether the server is ready (and why not) and the metrics text, read on the engine's thread
like everything else the core owns.

Bounds: the request line and headers together are at most ``MAX_HEAD`` bytes (431 beyond), at
most ``MAX_HEADERS`` header lines; GET and HEAD only (405); anything malformed is a 400. A
client that never finishes its request is dropped by the register timeout, as any connection
that never registers is; its lines also pass the per-connection rate limit and receive queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from chat.config import ServerConfig
from chat.core.events import Event
from chat.core.model import User
from chat.dialects.base import Decoded, Dialect, Hangup, Upgrade
from chat.dialects.websocket import handshake, is_upgrade
from chat.web import MissingFile, security_headers, static_file

#: Request line and headers, terminators included.
MAX_HEAD = 8 * 1024
MAX_HEADERS = 100
#: The Prometheus text format (0.0.4), which ``prometheus_client.generate_latest`` writes.
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
#: Input kept after a request's head until a WebSocket takes it over (more is dropped).
MAX_AFTER = 64 * 1024

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP/(\d)\.(\d)")
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            503: "Service Unavailable", 505: "HTTP Version Not Supported"}


class ServerStatus(Protocol):
    """What the HTTP dialect may ask the server (the hub provides it; read-only)."""

    def unready(self) -> str | None:
        """None when the server serves and can keep history; otherwise why not."""

    def metrics(self) -> bytes | None:
        """The Prometheus text exposition, or None when no metrics are kept."""


class _NoStatus:
    """A dialect made alone (tests of the wire format): ready, without metrics."""

    def unready(self) -> str | None:
        return None

    def metrics(self) -> bytes | None:
        return None


class HttpDialect(Dialect):
    """One HTTP request, one response, then the connection is closed."""

    name: ClassVar[str] = "http"
    __slots__ = ("_after", "_done", "_head", "_headers", "_host", "_line_len", "_lines",
                 "_request", "_started", "status")

    def __init__(self, config: ServerConfig, user: User,
                 clock: Callable[[], float] | None = None,
                 status: ServerStatus | None = None) -> None:
        super().__init__(config, user, clock)
        self.status: ServerStatus = status or _NoStatus()
        self._request: tuple[bytes, bytes, bool] | None = None  # method, target, is 1.1
        self._head = 0  # bytes of request line and headers so far
        self._headers = 0
        self._host: str | None = None  # the Host header, once seen
        self._done = False
        self._lines: list[bytes] = []  # the head's header lines (a WebSocket handshake reads them)
        # Byte-level view of the head, so nothing after it reaches the line reader: input that
        # follows a WebSocket handshake is frames, not lines (kept in _after for the WebSocket).
        self._started = False  # a non-empty line (the request line) has begun
        self._line_len = 0  # bytes of the current line so far, CR excluded
        self._after: bytearray | None = None

    @classmethod
    def sniff(cls, first_line: bytes) -> bool:
        """Never by detection: only a listener pinned to ``http`` speaks it."""
        return False

    @classmethod
    def max_line(cls, config: ServerConfig) -> int:
        """One header line can be at most the whole head."""
        return MAX_HEAD

    def filter_bytes(self, data: bytes) -> bytes:
        """Pass the head through, keep what follows its blank line (see ``_after``)."""
        after = self._after
        if after is not None:
            if len(after) + len(data) <= MAX_AFTER:
                after += data
            return b""
        start = 0
        while True:
            nl = data.find(b"\n", start)
            segment = data[start:] if nl < 0 else data[start:nl]
            self._line_len += len(segment) - segment.count(b"\r")
            if nl < 0:
                if self._line_len:
                    self._started = True
                return data
            if self._line_len:
                self._started = True
            elif self._started:  # the blank line: the head is complete
                self._after = bytearray(data[nl + 1:])
                return data[:nl + 1]
            self._line_len = 0
            start = nl + 1

    def line_too_long(self, limit: int) -> list[Decoded]:
        """A line over 8 KiB: the head is too large whatever came before."""
        return self._answer(431, "Request header fields too large\n")

    def decode(self, line: bytes) -> list[Decoded]:
        """One line of the request head; the answer once the blank line ends it."""
        if self._done:
            return []
        self._head += len(line) + 2
        if self._head > MAX_HEAD:
            return self._answer(431, "Request header fields too large\n")
        if self._request is None:
            if not line:
                return []  # RFC 9112 2.2: a server should ignore empty lines before a request
            match = _REQUEST_LINE.fullmatch(line)
            if match is None:
                return self._answer(400, "Malformed request line\n")
            method, target, major, minor = match.groups()
            if major != b"1":
                return self._answer(505, "Only HTTP/1.x is spoken here\n")
            self._request = (method, target, minor != b"0")
            return []
        if line:
            return self._header(line)
        method, target, http11 = self._request
        if http11 and self._host is None:
            return self._answer(400, "Missing Host header\n")
        if method == b"GET" and is_upgrade(self._lines):
            return self._websocket(target)
        return self._respond(method, target)

    def _websocket(self, target: bytes) -> list[Decoded]:
        """A WebSocket handshake (any path): the answer, then the WebSocket dialect."""
        self._done = True
        head = b"GET " + target + b" HTTP/1.1\r\n" + b"".join(
            line + b"\r\n" for line in self._lines) + b"\r\n"
        answer, dialect = handshake(head, self.config, self.user, self.clock)
        if dialect is None:
            return [answer, Hangup("WebSocket handshake refused")]
        return [answer, Upgrade(dialect, bytes(self._after or b""))]

    def _header(self, line: bytes) -> list[Decoded]:
        self._headers += 1
        if self._headers > MAX_HEADERS:
            return self._answer(431, "Too many header fields\n")
        self._lines.append(line)
        name, colon, value = line.partition(b":")
        if not colon or _TOKEN.fullmatch(name) is None or \
                _FIELD_VALUE.fullmatch(value) is None:
            # A name with white space before the colon, or a folded line (leading white
            # space): both are refused by RFC 9112 rather than guessed at.
            return self._answer(400, "Malformed header field\n")
        if name.lower() == b"host":
            if self._host is not None:
                return self._answer(400, "More than one Host header\n")
            self._host = value.strip().decode("latin-1")
        return []

    def _respond(self, method: bytes, target: bytes) -> list[Decoded]:
        if method not in (b"GET", b"HEAD"):
            return self._answer(405, "Only GET and HEAD are allowed\n",
                                extra=(("Allow", "GET, HEAD"),))
        head = method == b"HEAD"
        path = target.split(b"?", 1)[0]
        if path == b"/healthz":
            return self._answer(200, "ok\n", head=head)
        if path == b"/readyz":
            reason = self.status.unready()
            if reason is None:
                return self._answer(200, "ready\n", head=head)
            return self._answer(503, f"not ready: {reason}\n", head=head)
        if path == b"/metrics":
            text = self.status.metrics()
            if text is not None:
                return self._answer(200, text, head=head, content_type=METRICS_TYPE)
        try:
            found = static_file(path)
        except MissingFile as exc:
            return self._answer(500, f"The web client is not installed: {exc}\n", head=head)
        if found is not None:
            body, content_type = found
            return self._answer(200, body, head=head, content_type=content_type,
                                cache="no-cache", extra=security_headers(self._host))
        return self._answer(404, "Not found: try /, /healthz, /readyz or /metrics\n", head=head)

    def _answer(self, code: int, body: str | bytes, *, head: bool = False,
                content_type: str = TEXT_TYPE, cache: str = "no-store",
                extra: tuple[tuple[str, str], ...] = ()) -> list[Decoded]:
        """The response and the hang-up; nothing more is read from this connection."""
        self._done = True
        data = body.encode() if isinstance(body, str) else body
        lines = [f"HTTP/1.1 {code} {_REASONS[code]}", f"Content-Type: {content_type}",
                 f"Content-Length: {len(data)}", f"Cache-Control: {cache}",
                 "Connection: close", *(f"{name}: {value}" for name, value in extra)]
        response = ("\r\n".join(lines) + "\r\n\r\n").encode()
        return [response if head else response + data, Hangup(f"HTTP {code}")]

    def encode(self, event: Event, cache: dict[Any, bytes | None]) -> bytes | None:
        """Chat events never reach an HTTP client (it is in no room and has no nick)."""
        return None
