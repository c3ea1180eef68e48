"""Test helpers shared by every test module: line clients over real sockets.

Kept out of conftest.py so test modules can import them by a name no other directory reuses
(``tests/client/`` has a conftest.py of its own, which would shadow ``import conftest``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from chat.config import Limits
from chat.engines import BackgroundServer

ENGINE_NAMES = ["asyncio", "threaded"]
WAIT = 15.0  # generous: CI machines have two cores and other work on them


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll server state that has no event of its own to wait on (sessions going away)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def start_server_process(*args: str) -> tuple[subprocess.Popen[str], int]:
    """``python -m chat ARGS`` as a real process (pass ``--port 0``), once it has logged its
    ready line; returns it and the port it listens on. Its stderr stays a pipe to read."""
    proc = subprocess.Popen([sys.executable, "-m", "chat", *args],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for _ in range(200):
        line = proc.stderr.readline()
        if "ready:" in line:
            return proc, int(line.rsplit("port=", 1)[1])
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the server did not start")


class LineClient:
    """A test client: send lines, wait for the line you expect, see everything received."""

    def __init__(self, host: str, port: int, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        if rcvbuf:  # must be set before connecting to limit the TCP window
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(WAIT)
        self.sock.connect((host, port))
        self._buf = b""
        self.received: list[str] = []

    def send(self, data: str | bytes) -> None:
        """Send raw text or bytes (add the newline yourself)."""
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self, timeout: float = WAIT) -> str:
        """The next line, without its terminator; raises at EOF or timeout."""
        self.sock.settimeout(timeout)
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                tail = [line[:200] for line in self.received[-5:]]
                raise EOFError(f"connection closed; last lines received: {tail}")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\n")
        text = raw.rstrip(b"\r").decode("utf-8", "replace")
        self.received.append(text)
        return text

    def expect(self, want: str | Callable[[str], bool], timeout: float = WAIT) -> str:
        """Read lines until one contains ``want`` (or satisfies it); return that line."""
        match = want if callable(want) else (lambda line: want in line)
        while True:
            try:
                line = self.line(timeout)
            except TimeoutError:
                tail = [line[:200] for line in self.received[-8:]]
                raise AssertionError(f"never got {want!r}; last lines: {tail}") from None
            if match(line):
                return line

    def expect_json(self, **fields: Any) -> dict[str, Any]:
        """Read JSON lines until one has all ``fields``; return it."""

        def match(line: str) -> bool:
            obj = json.loads(line)
            return all(obj.get(k) == v for k, v in fields.items())

        return json.loads(self.expect(match))

    def request(self, **obj: Any) -> None:
        """Send one structured-mode request."""
        self.send(json.dumps(obj) + "\n")

    def wait_closed(self, timeout: float = WAIT) -> list[str]:
        """Read until the server closes the connection; return the lines that came first."""
        start = len(self.received)
        while True:
            try:
                self.line(timeout)
            except EOFError:
                return self.received[start:]
            except ConnectionResetError:
                return self.received[start:]

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self.sock.close()

    def reset(self) -> None:
        """Drop the connection abruptly with a TCP RST, as a crashed client would."""
        linger_now = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # l_onoff=1, l_linger=0
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_now)
        self.sock.close()


def http_listener_port(server: BackgroundServer) -> int:
    """The port of the server's first HTTP listener (``Listener(0, ..., dialect="http")`` lets
    the system pick it)."""
    return next(port for spec, (_, port) in server.engine.addresses if spec.dialect == "http")


def ws_expect_json(ws: Any, **fields: Any) -> dict[str, Any]:
    """Read messages from a ``websockets.sync`` connection until a JSON one has all
    ``fields``; return it."""
    while True:
        obj = json.loads(ws.recv(timeout=WAIT))
        if all(obj.get(k) == v for k, v in fields.items()):
            return obj  # type: ignore[no-any-return]


def ws_expect_irc(ws: Any, part: str) -> str:
    """Read messages from a ``websockets.sync`` connection until one contains ``part``; each
    must be text holding one IRC line, without its line ending (the subprotocol frames it)."""
    while True:
        message = ws.recv(timeout=WAIT)
        assert isinstance(message, str) and "\n" not in message, message
        if part in message:
            return message


def say_hello(client: LineClient, nick: str, *rooms: str) -> LineClient:
    """Register ``client`` in structured mode as ``nick`` and join ``rooms``, waiting for each."""
    client.request(type="hello", version=1, nick=nick)
    client.expect_json(type="welcome", nick=nick)
    for room in rooms:
        client.request(type="join", room=room)
        client.expect_json(type="members", room=room)
    return client


class Clients:
    """Makes clients of each kind against one server and closes them all at the end."""

    def __init__(self, server: BackgroundServer) -> None:
        self.server = server
        self.all: list[LineClient] = []

    def raw(self, rcvbuf: int | None = None) -> LineClient:
        """A connected client that has sent nothing."""
        client = LineClient(self.server.host, self.server.port, rcvbuf)
        self.all.append(client)
        return client

    def human(self, nick: str) -> LineClient:
        """A telnet/nc user who picked ``nick`` and landed in the default room (#lobby)."""
        client = self.raw()
        client.send(f"{nick}\r\n")
        config = self.server.engine.config
        client.expect(f"Welcome to {config.name}, {nick}")
        if config.default_room:
            client.expect(f"In {config.default_room}")
        return client

    def bot(self, nick: str, *rooms: str, rcvbuf: int | None = None) -> LineClient:
        """A structured-mode client that said hello as ``nick`` and joined ``rooms``."""
        return say_hello(self.raw(rcvbuf), nick, *rooms)

    def close_all(self) -> None:
        for client in self.all:
            client.close()


TEST_LIMITS = Limits(rate_per_second=0)  # most tests send quickly; rate tests set their own


