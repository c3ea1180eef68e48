"""The hub: everything between raw bytes and the core that both engines share, with no I/O.

An engine tells the hub what happened on its sockets (``open``, ``receive``, ``closed``, and
``tick`` when ``next_deadline`` passes) and then moves the bytes ``take_output`` hands back.
Dialect detection, line framing, rate limiting, timers and encoding all live here, so the two
engines cannot drift apart: they only differ in how they wait for sockets.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from chat.config import ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.core.names import fold
from chat.dialects import HumanDialect, detect
from chat.dialects.base import Dialect
from chat.framing import LineReader, LineTooLong

log = logging.getLogger("chat.hub")

_LOOPBACK = ("127.", "::1", "::ffff:127.")

#: A connection whose unsent bytes fall to this is "drained": the hub releases the next page
#: of a long reply and forgives a send queue that was over its limit.
LOW_WATER = 64 * 1024
#: Replies the server generates that are longer than this go out a page at a time, each page
#: once the reader has taken the last: a long LIST is paced to the reader, never its fault.
PAGE = 64 * 1024
#: Unsent bytes beyond ``SENDQ_HARD * sendq`` cut a connection at once, however recently it read:
#: the bound on what one connection can make the server hold.
SENDQ_HARD = 16
#: What a client is told when an error inside the server ends its connection: the details go to
#: the log, never to the client or its rooms.
INTERNAL_ERROR = "Internal server error"


@dataclass(eq=False, slots=True)
class Session:
    """Per-connection state the hub keeps: framing, dialect, rate limit, liveness."""

    conn: int
    host: str
    reader: LineReader
    opened: float
    dialect: Dialect | None = None
    closing: str | None = None  # set once a close was decided; input is ignored after that
    tokens: float = 0.0
    refilled: float = 0.0
    backlog: deque[bytes | LineTooLong] | None = None  # lines held by the rate limit; made on use
    warned: bool = False  # told about the rate limit in the current burst
    seen: float = 0.0  # when bytes last arrived: any input proves the peer is alive
    pinged: float = 0.0  # when an unanswered ping went out (0: none outstanding)
    greeted: bool = False  # taken for a person because it was silent; its first line may differ
    over_since: float = 0.0  # when its unsent bytes went over the send queue (0: not over)
    paced: deque[bytes] | None = None  # output held back behind a long reply being paced
    paced_extra: int = 0  # bytes in ``paced`` that are not the reply (they count as sendq)
    paced_mark: int = -1  # index in this flush's write list from which output goes to ``paced``
    timers: int = 0  # entries in the hub's timer heap for this connection


class _Reply(bytes):
    """A page of a reply the server generated: paced to the reader, never counted against it."""

    __slots__ = ()


class _Segment:
    """Consecutive room messages from one sender to the same member tuple, encoded once each.

    Every recipient's write list holds one ``parts`` list per segment (its variant's, or its
    own); later messages that merge into the segment append their bytes to those few lists, so
    fan-out work per recipient is per segment, not per message. ``take_output`` joins each
    ``parts`` list once and puts the bytes in place of the lists.
    """

    __slots__ = ("recipients", "source", "targets")

    def __init__(self, recipients: tuple[int, ...], source: object) -> None:
        self.recipients = recipients
        self.source = source
        # One (dialect, parts) per shared variant, plus one per recipient encoded on its own.
        self.targets: list[tuple[Dialect, list[bytes]]] = []


@dataclass(slots=True)
class Output:
    """What the engine must do after a hub call: bytes per connection, connections to close."""

    writes: dict[int, list[bytes]] = field(default_factory=dict)
    #: Connections to close once what is queued for them is sent (within the close grace).
    closes: dict[int, str] = field(default_factory=dict)
    #: Connections to cut now, discarding what is queued (a send queue over its limit).
    aborts: dict[int, str] = field(default_factory=dict)
    #: Connections whose engine must call ``Hub.drained`` once their unsent bytes fall to
    #: ``Hub.low_water`` (at once if they already have).
    watch: set[int] = field(default_factory=set)


class Hub:
    """Connections, their dialects and the core, driven by an engine."""

    def __init__(
        self,
        config: ServerConfig,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.clock = clock
        self.core = ChatCore(config, wallclock)
        self.sessions: dict[int, Session] = {}
        self._per_host: dict[str, int] = {}
        self._next_conn = 0
        self._timers: list[tuple[float, int, int, str]] = []
        self._timer_seq = 0
        self._stale_timers = 0  # heap entries of closed connections, dropped when they pile up
        self._pacing: set[int] = set()  # connections with a paced reply under way
        #: Unsent bytes at or under which a connection counts as drained (engines read this).
        self.low_water = min(LOW_WATER, config.limits.sendq // 2) or LOW_WATER
        self._out = Output()
        self._segment: _Segment | None = None  # the last one: only it may take more messages
        self._parts: list[list[bytes]] = []  # every segment's parts lists since take_output

    # -- engine interface ----------------------------------------------------------------

    def open(self, host: str) -> int:
        """A connection was accepted from ``host``; returns its id for every later call."""
        self._next_conn += 1
        conn = self._next_conn
        now = self.clock()
        lim = self.limits
        session = Session(conn, host, LineReader(lim.max_line), now, tokens=lim.rate_burst,
                          refilled=now, seen=now)
        self.sessions[conn] = session
        self._per_host[host] = self._per_host.get(host, 0) + 1
        self.core.connect(conn, host)
        exempt = host.startswith(_LOOPBACK) and not lim.limit_loopback
        if lim.max_connections and len(self.sessions) > lim.max_connections:
            self._refuse(session, "Server is full, try again later")
        elif lim.max_per_ip and not exempt and self._per_host[host] > lim.max_per_ip:
            self._refuse(session, f"Too many connections from {host}")
        else:
            self._at(now + self.config.greet_delay, conn, "greet")
            if lim.register_timeout:
                self._at(now + lim.register_timeout, conn, "register")
            if lim.ping_interval:
                # One timer per connection that re-arms itself: receiving stays a clock read.
                self._at(now + lim.ping_interval, conn, "idle")
        return conn

    def receive(self, conn: int, data: bytes) -> None:
        """Bytes arrived on ``conn``."""
        session = self.sessions.get(conn)
        if session is None or session.closing is not None:
            return
        try:
            self._receive(session, data)
        except Exception:
            self._internal_error(session)

    def _receive(self, session: Session, data: bytes) -> None:
        session.seen = self.clock()
        if session.dialect is None:
            if b"\xff" in data:  # telnet negotiation: certainly a person with a telnet client
                self._start(session, HumanDialect)
            else:
                lines = session.reader.feed(data)
                if not lines:
                    return
                first = lines[0]
                self._start(session, HumanDialect if isinstance(first, LineTooLong)
                            else detect(first))
                self._lines(session, lines)
                return
        assert session.dialect is not None
        lines = session.reader.feed(session.dialect.filter_bytes(data))
        if session.greeted and lines:
            # A slow IRC or structured client may speak only after the greeting went out:
            # its first line still decides, so it is not stuck in the wrong dialect.
            session.greeted = False
            first = lines[0]
            if not isinstance(first, LineTooLong) and (cls := detect(first)) is not HumanDialect:
                self._start(session, cls)
        self._lines(session, lines)

    def closed(self, conn: int, reason: str) -> None:
        """The connection is gone; whatever the reason, its rooms are told."""
        session = self.sessions.pop(conn, None)
        if session is None:
            return
        left = self._per_host[session.host] - 1
        if left:
            self._per_host[session.host] = left
        else:
            del self._per_host[session.host]
        self._pacing.discard(conn)
        self._stale_timers += session.timers
        if self._stale_timers > 64 and self._stale_timers * 2 > len(self._timers):
            self._drop_stale_timers()
        try:
            self._apply(self.core.disconnect(conn, session.closing or reason))
        except Exception:
            log.exception("error while connection %d left", conn)
            self._segment = None

    def backlogged(self, conn: int, queued: int) -> None:
        """The engine holds ``queued`` unsent bytes for ``conn``, more than the send queue.

        A reader that is behind for a moment (a burst) catches up; one that stays behind for
        ``sendq_grace`` seconds, or falls ``SENDQ_HARD`` queues behind, is cut. The engine
        calls ``drained`` once the queue is down to ``low_water`` again.
        """
        session = self.sessions.get(conn)
        lim = self.limits
        if session is None or session.closing is not None or not lim.sendq:
            return
        if queued > lim.sendq * SENDQ_HARD or not lim.sendq_grace:
            self._cut(session, f"Send queue exceeded ({lim.sendq} bytes): reading too slowly")
        elif not session.over_since:
            session.over_since = now = self.clock()
            self._at(now + lim.sendq_grace, conn, "sendq")

    def drained(self, conn: int) -> None:
        """``conn``'s unsent bytes are down to ``low_water``: it reads; send it more."""
        session = self.sessions.get(conn)
        if session is None or session.closing is not None:
            return
        session.over_since = 0.0
        if session.paced is not None:
            try:
                self._release_page(session)
            except Exception:
                self._internal_error(session)

    def tick(self) -> None:
        """Run what is due: greetings, timeouts, rate-limited lines."""
        now = self.clock()
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, conn, kind = heapq.heappop(timers)
            session = self.sessions.get(conn)
            if session is None:
                self._stale_timers -= 1
                continue
            session.timers -= 1
            if session.closing is not None:
                continue
            try:
                self._timer(session, kind, now)
            except Exception:
                self._internal_error(session)

    def _timer(self, session: Session, kind: str, now: float) -> None:
        conn = session.conn
        if kind == "greet" and session.dialect is None:
            session.greeted = True
            self._start(session, HumanDialect)
        elif kind == "register":
            user = self.core.user(conn)
            if user is not None and not user.registered:
                self._apply(self.core.drop(conn, "Registration timed out"))
        elif kind == "rate":
            self._drain_backlog(session, now)
        elif kind == "idle":
            self._check_idle(session, now)
        elif kind == "sendq":
            grace = self.limits.sendq_grace
            if session.over_since and now - session.over_since >= grace * 0.999:
                sendq = self.limits.sendq
                self._cut(session, f"Send queue exceeded ({sendq} bytes): reading too slowly")

    def next_deadline(self) -> float | None:
        """When ``tick`` next has work (on the hub's clock), or None.

        Safe to call without the engine's lock: a racing read gives a stale but valid answer.
        """
        try:
            return self._timers[0][0]
        except IndexError:
            return None

    def shutdown(self, reason: str = "Server shutting down") -> None:
        """Say goodbye to everyone and close every connection."""
        self._apply(self.core.shutdown(reason))
        for session in self.sessions.values():
            if session.closing is None:
                session.closing = reason
                self._out.closes[session.conn] = reason

    def take_output(self) -> Output:
        """Hand over (and forget) what the last calls produced."""
        out = self._out
        self._segment = None
        had_parts = bool(self._parts)
        if had_parts:
            for parts in self._parts:
                # In place, so every write list holding this list sees the joined bytes.
                parts[:] = [b"".join(parts)] if len(parts) != 1 else parts
            self._parts = []
        if self._pacing:
            self._hold_behind_replies(out)
        self._out = Output()
        if had_parts:
            writes = out.writes
            empty = []
            for conn, chunks in writes.items():
                if any(chunk.__class__ is list for chunk in chunks):
                    flat = [c[0] if c.__class__ is list else c for c in chunks
                            if c and (c.__class__ is not list or c[0])]
                    if flat:
                        writes[conn] = flat
                    else:
                        empty.append(conn)
            for conn in empty:
                del writes[conn]
        return out

    # -- internals -----------------------------------------------------------------------

    def _at(self, when: float, conn: int, kind: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (when, self._timer_seq, conn, kind))
        self.sessions[conn].timers += 1

    def _drop_stale_timers(self) -> None:
        """Forget the timers of closed connections (a reconnect storm leaves many behind)."""
        sessions = self.sessions
        self._timers = [t for t in self._timers if t[2] in sessions]
        heapq.heapify(self._timers)
        self._stale_timers = 0

    def _cut(self, session: Session, reason: str) -> None:
        """End a connection now, dropping what is queued for it (it is not reading)."""
        log.info("dropping connection %d: %s", session.conn, reason)
        session.closing = reason
        session.paced = None
        self._pacing.discard(session.conn)
        self._out.writes.pop(session.conn, None)
        self._out.aborts[session.conn] = reason

    def _internal_error(self, session: Session) -> None:
        """A bug met while serving one connection: log it, close that one connection politely.

        The exception text never reaches the client or its rooms (it can hold anything), and
        no other connection notices.
        """
        log.exception("internal error on connection %d", session.conn)
        self._segment = None
        if session.closing is not None:
            return
        try:
            self._apply(self.core.drop(session.conn, INTERNAL_ERROR))
        except Exception:
            log.exception("while closing connection %d", session.conn)
        if session.closing is None:
            session.closing = INTERNAL_ERROR
            self._out.closes[session.conn] = INTERNAL_ERROR

    # -- pacing long replies (a LIST of thousands of rooms goes out as the reader takes it) --

    def _pace(self, session: Session, data: bytes) -> None:
        """Send the first page of a long reply now and the rest as the reader drains."""
        conn = session.conn
        chunks = self._out.writes.setdefault(conn, [])
        pages = [_Reply(data[i:i + PAGE]) for i in range(0, len(data), PAGE)]
        if conn not in self._pacing:
            self._pacing.add(conn)
            session.paced = deque()
            chunks.append(pages.pop(0))
            session.paced_mark = len(chunks)  # from here on, output waits behind the reply
            self._out.watch.add(conn)
        chunks.extend(pages)

    def _hold_behind_replies(self, out: Output) -> None:
        """Move what was written after a paced reply's first page into its queue, in order."""
        sendq = self.limits.sendq
        for conn in list(self._pacing):
            session = self.sessions.get(conn)
            if session is None or session.paced is None:
                self._pacing.discard(conn)
                continue
            chunks = out.writes.get(conn)
            if not chunks:
                continue
            mark = max(session.paced_mark, 0)
            session.paced_mark = -1
            for chunk in chunks[mark:]:
                data = chunk[0] if chunk.__class__ is list and chunk else chunk
                if data:
                    session.paced.append(data)  # type: ignore[arg-type]
                    if data.__class__ is not _Reply:
                        session.paced_extra += len(data)
            del chunks[mark:]
            if not chunks:
                del out.writes[conn]
            if sendq and session.paced_extra > sendq:
                self.backlogged(conn, session.paced_extra)

    def _release_page(self, session: Session) -> None:
        """The reader took the last page: give it the next one (and what waits behind it)."""
        paced = session.paced
        assert paced is not None
        conn = session.conn
        chunks = self._out.writes.setdefault(conn, [])
        budget = PAGE
        while paced and budget > 0:
            data = paced.popleft()
            chunks.append(data)
            budget -= len(data)
            if data.__class__ is not _Reply:
                session.paced_extra -= len(data)
        self._segment = None
        if paced:
            session.paced_mark = len(chunks)
            self._out.watch.add(conn)
            return
        session.paced = None
        session.paced_extra = 0
        self._pacing.discard(conn)
        self._resume_input(session)

    def _refuse(self, session: Session, reason: str) -> None:
        # The dialect is unknown yet, so the message must make sense to every client: an IRC
        # ERROR line is what IRC clients expect and still reads fine on a terminal.
        self._write(session.conn, f"ERROR :{reason}\r\n".encode())
        session.closing = reason
        self._out.closes[session.conn] = reason

    def _start(self, session: Session, dialect_cls: type[Dialect]) -> None:
        user = self.core.user(session.conn)
        assert user is not None
        self._segment = None
        session.dialect = dialect_cls(self.config, user, self.core.clock)
        session.reader.max_line = dialect_cls.max_line(self.config)
        self._run(session, session.dialect.start())

    def _lines(self, session: Session, lines: list[bytes | LineTooLong]) -> None:
        rate = self.limits.rate_per_second
        for index, line in enumerate(lines):
            if session.closing is not None:
                return
            # Behind a reply still being paced, input waits: a client reads what it asked for
            # before it may ask for more.
            if session.backlog or session.paced is not None or (
                    rate and not self._take_token(session)):
                self._hold(session, lines[index:])
                return
            self._line(session, line)

    def _line(self, session: Session, line: bytes | LineTooLong) -> None:
        dialect = session.dialect
        assert dialect is not None
        if isinstance(line, LineTooLong):
            self._run(session, dialect.line_too_long(line.limit))
        else:
            self._run(session, dialect.decode(line))

    def _run(self, session: Session, items: list[c.Command | bytes]) -> None:
        for item in items:
            if session.closing is not None:
                return
            if isinstance(item, bytes):
                self._write(session.conn, item)
            else:
                self._apply(self.core.handle(session.conn, item))

    def _write(self, conn: int, data: bytes) -> None:
        self._segment = None  # later messages must come after these bytes
        chunks = self._out.writes.get(conn)
        if chunks is None:
            self._out.writes[conn] = [data]
        else:
            chunks.append(data)

    def _apply(self, outputs: list[e.Output]) -> None:
        """Encode each delivery once per dialect variant and queue it for its recipients."""
        sessions = self.sessions
        writes = self._out.writes
        for output in outputs:
            if isinstance(output, e.Delivery):
                event = output.event
                if event.__class__ is e.Message and event.room is not None:
                    segment = self._segment
                    if (segment is None or output.recipients is not segment.recipients
                            or event.source is not segment.source):
                        segment = self._open_segment(output.recipients, event.source)
                    cache: dict[object, bytes | None] = {}
                    for dialect, parts in segment.targets:
                        try:
                            data = dialect.encode(event, cache)
                        except Exception:  # one recipient's bug must not cost the others
                            log.exception("cannot encode %s for %s", type(event).__name__,
                                          dialect.name)
                            continue
                        if data:
                            parts.append(data)
                    continue
                self._segment = None
                cache = {}
                recipients = output.recipients
                for conn in recipients:
                    session = sessions.get(conn)
                    if session is None or session.dialect is None:
                        continue
                    try:
                        data = session.dialect.encode(event, cache)
                    except Exception:
                        log.exception("cannot encode %s for connection %d",
                                      type(event).__name__, conn)
                        continue
                    if data:
                        if len(data) > PAGE and len(recipients) == 1:
                            self._pace(session, data)
                            continue
                        chunks = writes.get(conn)
                        if chunks is None:
                            writes[conn] = [data]
                        else:
                            chunks.append(data)
            else:
                session = sessions.get(output.conn)
                if session is not None and session.closing is None:
                    session.closing = output.reason
                    self._out.closes[output.conn] = output.reason

    def _open_segment(self, recipients: tuple[int, ...], source: e.Source | None) -> _Segment:
        """Group a room's members by dialect variant; queue one parts list per recipient."""
        segment = self._segment = _Segment(recipients, source)
        origin = None  # the sender's connection, whose own copy may differ
        if source is not None:
            user = self.core.nicks.get(fold(source.nick))
            if user is not None and user.nick == source.nick:
                origin = user.conn
        by_variant: dict[object, list[bytes]] = {}
        sessions = self.sessions
        writes = self._out.writes
        all_parts = self._parts
        for conn in recipients:
            session = sessions.get(conn)
            if session is None or session.dialect is None:
                continue
            dialect = session.dialect
            variant = dialect.variant
            if variant is None or (conn == origin and dialect.own_differs):
                parts: list[bytes] = []
                segment.targets.append((dialect, parts))
                all_parts.append(parts)
            else:
                found = by_variant.get(variant)
                if found is None:
                    parts = by_variant[variant] = []
                    segment.targets.append((dialect, parts))
                    all_parts.append(parts)
                else:
                    parts = found
            chunks = writes.get(conn)
            if chunks is None:
                writes[conn] = [parts]  # type: ignore[list-item]
            else:
                chunks.append(parts)  # type: ignore[arg-type]
        return segment

    # -- liveness (ping a silent client, drop one that does not answer) ------------------

    def _check_idle(self, session: Session, now: float) -> None:
        lim = self.limits
        conn = session.conn
        if session.pinged:
            if session.seen <= session.pinged:
                waited = lim.ping_interval + lim.ping_timeout
                self._apply(self.core.drop(conn, f"Ping timeout: {waited:g} seconds"))
                return
            session.pinged = 0.0
        quiet_until = session.seen + lim.ping_interval
        if now < quiet_until:
            self._at(quiet_until, conn, "idle")
            return
        dialect = session.dialect
        data = None
        if dialect is not None:
            data = dialect.encode(self.core.ping_event(), {})  # the core owns event ids
        if not data:
            # Nobody to ask yet, or a person on telnet who cannot answer a ping: TCP keepalive
            # (tuned by the engines to the same interval) finds dead peers instead.
            self._at(now + lim.ping_interval, conn, "idle")
            return
        self._write(conn, data)
        session.pinged = now
        self._at(now + (lim.ping_timeout or lim.ping_interval), conn, "idle")

    # -- rate limiting (token bucket; excess lines wait, a flood disconnects) --------------

    def _refill(self, session: Session, now: float) -> None:
        lim = self.limits
        session.tokens = min(lim.rate_burst,
                             session.tokens + (now - session.refilled) * lim.rate_per_second)
        session.refilled = now

    def _take_token(self, session: Session) -> bool:
        if session.tokens < 1:
            self._refill(session, self.clock())
            if session.tokens < 1:
                return False
        session.tokens -= 1
        return True

    def _hold(self, session: Session, lines: list[bytes | LineTooLong]) -> None:
        lim = self.limits
        first_hold = not session.backlog
        if session.backlog is None:
            session.backlog = deque()
        session.backlog.extend(lines)
        if len(session.backlog) > lim.recvq_lines:
            session.backlog = None
            self._apply(self.core.drop(session.conn, "Excess flood"))
            return
        if session.paced is not None:
            return  # not the rate limit: the lines wait for the reply to be read
        if not session.warned:
            session.warned = True
            text = (f"You are sending faster than {lim.rate_per_second:g} lines a second; "
                    "the rest is delayed")
            self._apply(self.core.handle(session.conn, c.Invalid("rate_limited", text)))
        if first_hold:
            self._at(self._token_due(session), session.conn, "rate")

    def _token_due(self, session: Session) -> float:
        # At least a millisecond ahead: float rounding can leave tokens a hair under 1 at the
        # due time, and a timer due "now" would spin tick() forever.
        due = session.refilled + max(0.0, 1 - session.tokens) / self.limits.rate_per_second
        return max(due, session.refilled + 0.001)

    def _resume_input(self, session: Session) -> None:
        """A paced reply is done: handle the lines that waited for it."""
        if not session.backlog:
            return
        if self.limits.rate_per_second:
            self._drain_backlog(session, self.clock())
            return
        backlog = session.backlog
        while backlog and session.closing is None and session.paced is None:
            self._line(session, backlog.popleft())
        if not backlog:
            session.backlog = None

    def _drain_backlog(self, session: Session, now: float) -> None:
        self._refill(session, now)
        backlog = session.backlog
        if backlog is None:
            session.warned = False
            return
        while (backlog and session.tokens >= 1 and session.closing is None
               and session.paced is None):
            session.tokens -= 1
            self._line(session, backlog.popleft())
        if session.paced is not None and session.closing is None:
            return  # the rest waits for the reply to be read; _resume_input picks it up
        if backlog and session.closing is None:
            self._at(self._token_due(session), session.conn, "rate")
        else:
            session.backlog = None  # an idle connection keeps no empty deque
            session.warned = False
