"""A test harness without sockets: clients of any dialect on a real Hub, driven in memory.

In the style of h11's and trio's tests: the hub is the one every engine uses, time is a fake
clock the test moves (timers fire when it is advanced, never waited out), and "the engine" is a
few lines here that obey the hub's ``Output`` exactly as the real engines do: writes delivered,
closes after the bytes, aborts at once, ``drained`` once a watched reader has caught up.

A client reads instantly unless the test pauses it (``stop_reading``); its unread bytes then
count as the engine's unsent bytes, so send-queue policy can be driven without a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from irc_lines import irc_params, irc_verb

from chat.accounts.memory import MemoryAccounts
from chat.accounts.passwords import Hasher
from chat.accounts.service import AuthService
from chat.config import Limits, ServerConfig
from chat.history.memory import MemoryStore
from chat.history.service import HistoryService
from chat.history.store import HistoryStore
from chat.hub import Hub, HubObserver

#: argon2id at its cheapest: tests check what hashing decides, not what it costs.
CHEAP_HASHES = Hasher(time_cost=1, memory_kib=64)


class FakeClock:
    """A clock the test moves by hand, so timers are exact and instant."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MemClient:
    """One connection's far end: what it sent, what it received, whether it is closed."""

    def __init__(self, net: MemoryNet, conn: int) -> None:
        self.net = net
        self.conn = conn
        self.inbox = bytearray()  # received, not yet split into lines
        self.lines: list[str] = []  # every line received
        self._seen = 0  # lines already consumed by expect()
        self.unread: list[bytes] = []  # held by the "engine" while the client is not reading
        self.reading = True
        self.armed = False  # the hub wants drained() once this client catches up
        self.paused = False  # the hub paused reading from it (flow control)
        self.unheard: list[bytes] = []  # sent while paused: the hub gets it on resume
        self.closed: str | None = None  # the hub's reason when the connection ended

    # -- input ---------------------------------------------------------------------------

    def send(self, data: str | bytes) -> MemClient:
        """Raw bytes from this client (add line endings yourself); the hub runs at once."""
        assert self.closed is None, f"connection already closed: {self.closed}"
        raw = data.encode() if isinstance(data, str) else data
        if self.paused:  # the "engine" reads nothing from it: it waits, as in the kernel
            self.unheard.append(raw)
            return self
        self.net.hub.receive(self.conn, raw)
        self.net.pump()
        return self

    def line(self, text: str) -> MemClient:
        """One line with a CRLF terminator."""
        return self.send(text + "\r\n")

    def request(self, **fields: Any) -> MemClient:
        """One JSON-lines request."""
        return self.send(json.dumps(fields) + "\n")

    # -- output --------------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        self.inbox += data
        *complete, rest = bytes(self.inbox).split(b"\n")
        self.inbox = bytearray(rest)
        self.lines.extend(raw.rstrip(b"\r").decode("utf-8", "replace") for raw in complete)

    def new(self) -> list[str]:
        """Lines received since the last call to ``new`` or ``expect``."""
        fresh = self.lines[self._seen:]
        self._seen = len(self.lines)
        return fresh

    def expect(self, want: str | Callable[[str], bool]) -> str:
        """The first new line containing ``want`` (or satisfying it); fails if none came."""
        match = want if callable(want) else (lambda line: want in line)
        for index in range(self._seen, len(self.lines)):
            if match(self.lines[index]):
                self._seen = index + 1
                return self.lines[index]
        tail = [line[:200] for line in self.lines[-8:]]
        raise AssertionError(f"never got {want!r}; last lines: {tail}")

    def expect_json(self, **fields: Any) -> dict[str, Any]:
        """The first new JSON line whose fields include ``fields``."""
        def match(line: str) -> bool:
            try:
                obj = json.loads(line)
            except ValueError:
                return False
            return all(obj.get(k) == v for k, v in fields.items())
        return json.loads(self.expect(match))

    def numeric(self, code: str) -> list[str]:
        """The parameters after the target of the next IRC line with verb ``code``."""
        return irc_params(self.expect(lambda text: irc_verb(text) == code))[1:]

    @property
    def received(self) -> list[str]:
        """Lines consumed so far by ``expect``/``new`` (as a socket client has read them)."""
        return self.lines[:self._seen]

    def verb(self, verb: str) -> str:
        """The next new IRC line whose command is ``verb`` (tags and prefix skipped)."""
        return self.expect(lambda text: irc_verb(text) == verb)

    def sync(self, token: str = "sync") -> None:
        """An IRC PING round trip: everything sent before it is then in ``received``."""
        self.line(f"PING :{token}")
        self.expect(lambda text: irc_verb(text) == "PONG" and text.endswith(f":{token}"))

    def wait_closed(self) -> list[str]:
        """The lines not yet consumed, once the connection is closed (fails if it is not)."""
        assert self.closed is not None, "the connection is still open"
        return self.new()

    def close(self) -> None:
        """The client closes its end (``MemoryNet.hang_up``)."""
        self.net.hang_up(self)

    # -- reading control -----------------------------------------------------------------

    @property
    def unread_bytes(self) -> int:
        return sum(map(len, self.unread))

    def stop_reading(self) -> None:
        """From now on, what the server sends waits in the engine (counted as unsent)."""
        self.reading = False

    def read_all(self) -> None:
        """Take everything waiting and keep reading."""
        self.reading = True
        for data in self.unread:
            self._receive(data)
        self.unread.clear()
        self.net.pump()


def replies(client: MemClient, line: str) -> list[str]:
    """Every IRC line ``line`` is answered with (up to a PING round trip), PONG left out."""
    start = len(client.lines)
    client.line(line)
    client.sync("done")
    return [got for got in client.lines[start:] if irc_verb(got) != "PONG"]


class MemoryNet:
    """A hub with a fake clock and in-memory clients: the engine reduced to its contract."""

    def __init__(self, config: ServerConfig | None = None,
                 observers: Sequence[HubObserver] = (), store: HistoryStore | None = None,
                 **limits: Any) -> None:
        config = config or ServerConfig(limits=Limits(rate_per_second=0))
        if limits:
            config = replace(config, limits=replace(config.limits, **limits))
        self.clock = FakeClock()
        self.observers = observers
        #: The history store (in memory unless given): ``restart`` keeps it, as a disk would.
        self.store = store or MemoryStore(config.history_max_per_room)
        self.account_store = MemoryAccounts()  # kept by ``restart`` too
        self.clients: dict[int, MemClient] = {}
        self.answers = False  # the history thread left answers in the hub's inbox
        self.hub = self._hub(config)

    def _hub(self, config: ServerConfig) -> Hub:
        history = HistoryService(self.store, config, threaded=False,
                                 clock=lambda: self.clock.now + 1.7e9)
        accounts = AuthService(self.account_store, CHEAP_HASHES, threaded=False,
                               clock=lambda: self.clock.now + 1.7e9,
                               operators=config.operators)
        hub = Hub(config, clock=self.clock, wallclock=lambda: self.clock.now + 1.7e9,
                  observers=self.observers, history=history, accounts=accounts)
        hub.waker = self._wake
        return hub

    def _wake(self) -> None:
        self.answers = True

    def restart(self, config: ServerConfig | None = None) -> None:
        """Shut the server down (every client is told and closed) and start a new one on the
        same store, as a restart of the process would."""
        self.hub.shutdown()
        self.pump()
        for client in list(self.clients.values()):
            self._gone(client.conn, "restart")
        self.hub.close()
        self.clients.clear()
        self.hub = self._hub(config or self.hub.config)

    # -- connecting ----------------------------------------------------------------------

    def connect(self, host: str = "127.0.0.1", dialect: str | None = None) -> MemClient:
        """A new connection that has said nothing yet (``dialect``: its listener pins one)."""
        conn = self.hub.open(host, dialect)
        client = self.clients[conn] = MemClient(self, conn)
        self.pump()
        return client

    def human(self, nick: str, *rooms: str) -> MemClient:
        """A telnet/nc user who picked ``nick`` (and landed in the default room), then joined
        ``rooms``."""
        client = self.connect()
        client.line(nick)
        client.expect(f"Welcome to {self.hub.config.name}, {nick}")
        for room in rooms:
            client.line(f"/join {room}")
            client.expect(f"{nick} joined {room}")
            client.expect(f"In {room}")
        return client

    def bot(self, nick: str, *rooms: str) -> MemClient:
        """A JSON-lines client that said hello and joined ``rooms``."""
        client = self.connect()
        client.request(type="hello", nick=nick)
        client.expect_json(type="welcome")
        for room in rooms:
            client.request(type="join", room=room)
            client.expect_json(type="members", room=room)
        return client

    def irc(self, nick: str, *rooms: str, caps: tuple[str, ...] = ()) -> MemClient:
        """A registered IRC client in ``rooms``, with the IRCv3 ``caps`` negotiated if any."""
        client = self.connect()
        if caps:
            client.line("CAP LS 302")
        client.line(f"NICK {nick}").line(f"USER {nick} 0 * :{nick} the tester")
        if caps:
            client.line(f"CAP REQ :{' '.join(caps)}").expect(" ACK ")
            client.line("CAP END")
        client.expect(lambda text: irc_verb(text) == "001")
        for room in rooms:
            client.line(f"JOIN {room}")
            client.expect(lambda text: irc_verb(text) == "366")
        return client

    # -- time and the engine's side ------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every timer that falls due on the way, in order."""
        end = self.clock.now + seconds
        while True:
            deadline = self.hub.next_deadline()
            if deadline is None or deadline > end:
                break
            self.clock.now = max(self.clock.now, deadline)
            self.hub.tick()
            self.pump()
        self.clock.now = end
        self.pump()

    def pump(self) -> None:
        """Do what the hub's output says, as an engine would, until it has nothing more."""
        hub, high_water = self.hub, self.hub.high_water
        for _ in range(10_000):
            if self.answers:  # what a real engine does when the history thread wakes it
                self.answers = False
                hub.collect()
            out = hub.take_output()
            for conn, chunks in out.writes.items():
                client = self.clients.get(conn)
                if client is None or client.closed is not None:
                    continue
                if client.reading:
                    for data in chunks:
                        client._receive(data)
                else:
                    client.unread.extend(chunks)
                    if client.unread_bytes > high_water:
                        client.armed = True
                        hub.backlogged(conn, client.unread_bytes)
            for conn in out.watch:
                if conn in self.clients:
                    self.clients[conn].armed = True
            for conn in out.pause:
                if conn in self.clients:
                    self.clients[conn].paused = True
            resumed = [self.clients[conn] for conn in out.resume if conn in self.clients]
            for client in resumed:  # what it sent meanwhile is read now, in order
                client.paused = False
                while client.unheard and not client.paused and client.closed is None:
                    hub.receive(client.conn, client.unheard.pop(0))
            for conn, reason in out.aborts.items():
                self._gone(conn, reason)
            for conn, reason in out.closes.items():
                self._gone(conn, reason)
            caught_up = [client for client in self.clients.values() if client.armed
                         and client.closed is None and client.unread_bytes <= hub.low_water]
            for client in caught_up:
                client.armed = False
                hub.drained(client.conn)
            if not (caught_up or resumed or out):
                return
        raise AssertionError("the hub kept producing output: a loop between hub and engine")

    def _gone(self, conn: int, reason: str) -> None:
        client = self.clients.get(conn)
        if client is None or client.closed is not None:
            return
        client.closed = reason
        client.unread.clear()
        self.hub.closed(conn, reason)

    def hang_up(self, client: MemClient) -> None:
        """The client closes its end."""
        if client.closed is None:
            client.closed = "Connection closed"
            self.hub.closed(client.conn, "Connection closed")
            self.pump()
