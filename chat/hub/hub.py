"""The Hub: the engine-facing object tying sessions, dialects, timers and fan-out to the core."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from chat.accounts.service import AuthService
from chat.config import ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.dialects import BY_NAME, HttpDialect, HumanDialect, detect
from chat.dialects.base import Decoded, Dialect, Gather, Hangup, Upgrade
from chat.history.service import Answer, HistoryService, Recorder
from chat.hub import ratelimit
from chat.hub.admission import refusal
from chat.hub.eventlog import EventLog
from chat.hub.fanout import Fanout
from chat.hub.flow import HIGH_WATER, TURN, FlowControl
from chat.hub.gate import Gate, LocalGate
from chat.hub.observers import HubObserver
from chat.hub.output import LOW_WATER, PAGE, Output
from chat.hub.session import Session
from chat.hub.status import HubStatus
from chat.hub.timers import Timer, Timers
from chat.metrics import Metrics
from chat.wire.framing import LineReader, LineTooLong

if TYPE_CHECKING:
    import asyncio

#: Work finished on another thread, handed back to the engine's: it returns what the core says.
Work = Callable[[], list[e.Output]]

log = logging.getLogger("chat.hub")

DIALECTS_BY_NAME = BY_NAME

#: Unsent bytes beyond ``SENDQ_HARD * sendq`` cut a connection at once, however recently it
#: read: the bound on what one connection can make the server hold.
SENDQ_HARD = 16
#: What a client is told when an error inside the server ends its connection: the details go to
#: the log, never to the client or its rooms.
INTERNAL_ERROR = "Internal server error"


class Hub:
    """Connections, their dialects and the core, driven by an engine.

    The engine reports byte-level facts (``open``, ``receive``, ``backlogged``, ``drained``,
    ``closed``; ``tick`` when ``next_deadline`` passes) and then does what ``take_output``
    says. Every policy (who is cut, when, why) is decided here, once for both engines.
    """

    def __init__(
        self,
        config: ServerConfig,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        observers: Sequence[HubObserver] = (),
        history: HistoryService | None = None,
        accounts: AuthService | None = None,
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.clock = clock
        self.wallclock = wallclock
        self.core = ChatCore(config, wallclock)
        #: Where calls that change shared state go: the core at once, or a cluster's log.
        self.gate: Gate = LocalGate(self.core)
        if config.cluster:
            from chat.cluster.gate import ClusterGate  # imports redis: only when clustered
            self.gate = ClusterGate(self)
        self.sessions: dict[int, Session] = {}
        self.timers = Timers()
        self.history = history
        if history is not None:
            self.core.restore(*history.load())
            self.core.restore_server_bans(history.server_bans())
            observers = (Recorder(history), *observers)
        self.observers = (*observers, EventLog())
        #: What sees effects another node caused: the same, but the history recorder only
        #: keeps them a while (in a cluster the node where an entry came from writes it).
        self._remote_observers = self.observers
        if history is not None:
            self._remote_observers = (Recorder(history, remote=True), *self.observers[1:])
        self.accounts = accounts
        if accounts is not None:
            self.core.restore_accounts(accounts.names())
        #: Called (from any thread) when an answer from the history thread waits in the inbox:
        #: the engine then calls ``tick`` soon, on its own thread.
        self.waker: Callable[[], object] | None = None
        #: Set by an engine that can run work handed back by another thread on that thread,
        #: at once and in order with its own (the threaded engine: under its lock), rather
        #: than queue it in the inbox and wake its own thread for it (see ``ClusterGate``).
        self.run_now: Callable[[Work], object] | None = None
        #: The engine's event loop, if it runs on one (set before ``start``): a cluster node
        #: then appends to and reads its log on it rather than on threads of its own.
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Work finished on other threads (history answers, password checks): the connection
        #: it is for, and the core call that hands it out.
        self._inbox: deque[tuple[int, Work]] = deque()
        #: Unsent bytes at or under which a connection counts as drained (engines read this).
        self.low_water = min(LOW_WATER, config.limits.sendq // 2) or LOW_WATER
        #: Unsent bytes over which the engine reports ``backlogged``: the reader is behind
        #: (flow control), and over ``sendq`` also too slow (the send-queue policy).
        self.high_water = min(HIGH_WATER, config.limits.sendq or HIGH_WATER)
        self.flow = FlowControl()
        self._fanout = Fanout(self.sessions)
        self._per_host: dict[str, int] = {}
        self._next_conn = 0  # also the number of connections ever opened
        #: Counters for metrics (plain integers: one add per batch of lines, per hold).
        self.lines_received = 0
        #: When the first input since the last ``take_output`` was read (0: none yet).
        self._input_at = 0.0
        self.rate_limited = 0  # times a connection's input was held back by the rate limit
        self.serving = False  # between ``start`` and ``shutdown``: listeners accept
        #: What an HTTP connection may ask (readiness, metrics): see ``chat.hub.status``.
        self.status = HubStatus(self)
        #: Prometheus metrics, kept only when a listener serves HTTP (nobody could read them).
        self.metrics: Metrics | None = None
        #: The engine's ``stats`` (lock-free, any thread), which metrics report when set.
        self.engine_stats: Callable[[], Any] | None = None
        if config.http:
            self.metrics = Metrics(self)
            self.observers = (*self.observers, self.metrics)
            self._remote_observers = (*self._remote_observers, self.metrics)

    @property
    def opened(self) -> int:
        """Connections opened since start (refused ones included)."""
        return self._next_conn

    # -- engine interface ----------------------------------------------------------------

    def open(self, host: str, dialect: str | None = None, tls: bool = False) -> int:
        """A connection was accepted from ``host``; returns its id for every later call.

        ``dialect`` (a listener's pinned dialect, by name) skips detection; ``tls``: it came
        through a TLS listener.
        """
        self._next_conn += 1
        conn = self.gate.conn_base + self._next_conn
        now = self.clock()
        lim = self.limits
        refused = refusal(lim, host, len(self.sessions), self._per_host.get(host, 0))
        log.info("connection %d from %s%s", conn, host, f" ({dialect} listener)" if dialect else "")
        session = Session(conn, host, LineReader(lim.max_line), now, tokens=lim.rate_burst,
                          refilled=now, seen=now, tls=tls)
        self.sessions[conn] = session
        self._per_host[host] = self._per_host.get(host, 0) + 1
        self._apply(self.gate.connect(conn, host))
        if refused is not None:
            self._refuse(session, refused)
        else:
            self.timers.at(now + self.config.greet_delay, conn, Timer.GREET)
            if lim.register_timeout:
                self.timers.at(now + lim.register_timeout, conn, Timer.REGISTER)
            if lim.ping_interval:
                # One timer per connection that re-arms itself: receiving stays a clock read.
                self.timers.at(now + lim.ping_interval, conn, Timer.IDLE)
            if dialect is not None:
                self._start(session, DIALECTS_BY_NAME[dialect])
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

    def closed(self, conn: int, reason: str) -> None:
        """The connection is gone; whatever the reason, its rooms are told."""
        session = self.sessions.pop(conn, None)
        if session is None:
            return
        if log.isEnabledFor(logging.INFO):
            user = self.core.user(conn)
            dialect = session.dialect.name if session.dialect else "undetected"
            log.info("connection %d from %s closed (%s%s): %s", conn, session.host, dialect,
                     f", {user.nick}" if user is not None and user.nick else "",
                     session.closing or reason)
        left = self._per_host[session.host] - 1
        if left:
            self._per_host[session.host] = left
        else:
            del self._per_host[session.host]
        self._fanout.closed(conn)
        self.timers.forget(conn)
        self.flow.closed(conn)
        try:
            self._apply(self.gate.disconnect(conn, session.closing or reason))
        except Exception:
            log.exception("error while connection %d left", conn)
            self._fanout.break_segment()

    def backlogged(self, conn: int, queued: int) -> None:
        """The engine holds ``queued`` unsent bytes for ``conn``, more than ``high_water``.

        Such a reader is behind: who speaks to it is braked (``chat.hub.flow``). Over the
        send queue it is also judged: a reader that is behind for a moment (a burst) catches
        up; one that stays over it for ``sendq_grace`` seconds, or falls ``SENDQ_HARD`` queues
        behind, is cut. The engine calls ``drained`` once the queue is down to ``low_water``.
        """
        session = self.sessions.get(conn)
        lim = self.limits
        if session is None or session.closing is not None:
            return
        over_sendq = bool(lim.sendq) and queued > lim.sendq
        if self.flow.over(conn, over_sendq, now := self.clock()):
            self.timers.at(now + self.flow.patience, conn, Timer.FLOW)
        if not over_sendq:
            return
        if queued > lim.sendq * SENDQ_HARD or not lim.sendq_grace:
            self._cut_slow_reader(session)
        elif not session.over_since:
            session.over_since = now
            self.timers.at(now + lim.sendq_grace, conn, Timer.SENDQ)

    def drained(self, conn: int) -> None:
        """``conn``'s unsent bytes are down to ``low_water``: it reads; send it more."""
        session = self.sessions.get(conn)
        if session is None or session.closing is not None:
            return
        session.over_since = 0.0
        self.flow.drained(conn)
        if session.paced is not None:
            try:
                if self._fanout.release_page(session):
                    self._resume_input(session)
            except Exception:
                self._internal_error(session)

    def tick(self) -> None:
        """Run what is due: answers from the history thread, greetings, timeouts, held lines."""
        self.collect()
        now = self.clock()
        for conn, kind in self.timers.due(now):
            session = self.sessions.get(conn)
            if session is None or session.closing is not None:
                continue
            try:
                self._fire(session, kind, now)
            except Exception:
                self._internal_error(session)

    def collect(self) -> None:
        """Hand out what other threads finished (history answers, password checks)."""
        inbox = self._inbox
        while inbox:
            conn, finish = inbox.popleft()
            try:
                self._apply(finish())
            except Exception:
                session = self.sessions.get(conn)
                if session is not None:
                    self._internal_error(session)
                else:  # (work for no connection: a cluster's entries, a snapshot to load)
                    log.exception("work handed back to the engine failed")

    def next_deadline(self) -> float | None:
        """When ``tick`` next has work (on the hub's clock), or None.

        Safe to call without the engine's lock: a racing read gives a stale but valid answer.
        """
        if self._inbox:
            return 0.0  # an answer waits: at once
        return self.timers.next_deadline()

    def shutdown(self, reason: str = "Server shutting down") -> None:
        """Say goodbye to everyone and close every connection."""
        self.serving = False
        self._apply(self.core.shutdown(reason))
        for session in self.sessions.values():
            self._fanout.close(session, reason)

    def start(self) -> None:
        """The engine is serving: start the history thread and the account workers."""
        self.gate.start()
        self.serving = True
        if self.history is not None:
            self.history.start()
        if self.accounts is not None:
            self.accounts.start()

    def close(self) -> None:
        """The engine has closed every connection: commit history and close the store."""
        self.gate.stop()
        if self.history is not None:
            self.history.close()
        if self.accounts is not None:
            self.accounts.close()

    def take_output(self) -> Output:
        """Hand over (and forget) what the last calls produced."""
        if self.flow.dirty:  # readers caught up: the senders they held back go on
            self._release_braked()
        sendq = self.limits.sendq
        for session in self._fanout.seal():  # bytes held behind a paced reply count as unsent
            if sendq and session.paced_extra > sendq:
                self.backlogged(session.conn, session.paced_extra)
        out = self._fanout.take()
        out.started, self._input_at = self._input_at, 0.0
        if out:
            for observer in self.observers:
                observer.flushed(out)
        return out

    def written(self, out: Output) -> None:
        """The engine has written (or queued for the kernel) every write of ``out``.

        Called once per flush, after the last recipient's write, so the fan-out latency (the
        first line read -> this moment) is one histogram observation per flush. Safe without
        the engine's lock: it reads ``out`` and the clock, and the histogram has its own lock.
        """
        metrics = self.metrics
        if metrics is not None and out.started and out.writes:
            metrics.fanout_latency.observe(self.clock() - out.started)

    # -- input: detection, framing, the rate limit ---------------------------------------

    def _receive(self, session: Session, data: bytes) -> None:
        session.seen = now = self.clock()
        if not self._input_at:
            self._input_at = now  # the fan-out latency of the next flush starts here
        session.pinged = 0.0  # any input answers an outstanding ping, even in the same instant
        if session.dialect is None:
            if b"\xff" in data or b"\r\x00" in data:
                # Telnet negotiation, or Enter in telnet's character mode: certainly a person
                # with a telnet client. What came before goes through the dialect's filter too.
                self._start(session, HumanDialect)
                data = session.reader.take_pending() + data
            else:
                lines = session.reader.feed(data)
                if not lines:
                    return
                self.lines_received += len(lines)
                first = lines[0]
                self._start(session, HumanDialect if isinstance(first, LineTooLong)
                            else detect(first))
                self._lines(session, lines)
                return
        dialect = session.dialect
        assert dialect is not None
        lines = session.reader.feed(dialect.filter_bytes(data))
        replies = dialect.take_replies()
        if replies:
            self._fanout.write(session.conn, replies)
        if lines:
            self.lines_received += len(lines)
        if session.greeted and lines:
            # A slow IRC or structured client may speak only after the greeting went out:
            # its first line still decides, so it is not stuck in the wrong dialect.
            session.greeted = False
            first = lines[0]
            if not isinstance(first, LineTooLong) and (cls := detect(first)) is not HumanDialect:
                self._start(session, cls)
                if session.dialect is not None:
                    self._run(session, session.dialect.after_greeting())
        self._lines(session, lines)

    def _start(self, session: Session, dialect_cls: type[Dialect]) -> None:
        user = self.core.user(session.conn)
        assert user is not None
        self._fanout.break_segment()
        self.gate.ctcp_by_server(session.conn, not dialect_cls.answers_ctcp)
        if dialect_cls is HttpDialect:
            session.dialect = HttpDialect(self.config, user, self.wallclock, self.status)
        else:
            session.dialect = dialect_cls(self.config, user, self.wallclock)
        session.reader.max_line = dialect_cls.max_line(self.config)
        self._run(session, session.dialect.start())

    def _upgrade(self, session: Session, upgrade: Upgrade) -> None:
        """The connection speaks another dialect from now on (HTTP became a WebSocket)."""
        self._fanout.break_segment()
        dialect = session.dialect = upgrade.dialect
        session.reader.max_line = type(dialect).max_line(self.config)
        self._run(session, dialect.start())
        if upgrade.pending and session.closing is None:
            lines = session.reader.feed(dialect.filter_bytes(upgrade.pending))
            self.lines_received += len(lines)
            self._lines(session, lines)

    def _lines(self, session: Session, lines: list[bytes | LineTooLong]) -> None:
        rate = self.limits.rate_per_second
        turn = TURN
        for index, line in enumerate(lines):
            if session.closing is not None:
                return
            # Behind a reply still being paced, input waits: a client reads what it asked for
            # before it may ask for more.
            if (session.backlog or session.paced is not None or session.waiting
                    or session.braked) or (
                    rate and not ratelimit.take_token(session, self.limits, self.clock())):
                self._hold(session, lines[index:])
                return
            self._line(session, line)
            turn -= len(line) if isinstance(line, bytes) else 1
            if (session.braked or turn <= 0) and index + 1 < len(lines):
                if not session.braked:
                    self._yield(session)
                self._hold(session, lines[index + 1:])
                return

    def _line(self, session: Session, line: bytes | LineTooLong) -> None:
        dialect = session.dialect
        assert dialect is not None
        if isinstance(line, LineTooLong):
            self._run(session, dialect.line_too_long(line.limit))
        else:
            self._run(session, dialect.decode(line))

    def _run(self, session: Session, items: list[Decoded]) -> None:
        for item in items:
            if session.closing is not None:
                return
            if isinstance(item, bytes):
                self._fanout.write(session.conn, item)
            elif isinstance(item, Hangup):
                self._fanout.close(session, item.reason)
            elif isinstance(item, Upgrade):
                self._upgrade(session, item)
            elif isinstance(item, Gather):
                self._gather(session, item)
            else:
                self._apply(self.gate.handle(session.conn, item))

    def _gather(self, session: Session, gather: Gather) -> None:
        """Run ``gather.items``, then let the dialect rewrite what they made for this one
        connection (others' copies are untouched). Long answers are paced afterwards, whole."""
        fanout = self._fanout
        conn = session.conn
        mark = fanout.gather_from(conn)
        gate = self.gate
        before = gate.last_seq
        if gather.begin is not None:
            gather.begin()
        try:
            self._run(session, gather.items)
        finally:
            made = fanout.gathered(conn, mark)
        if gate.last_seq != before:  # a cluster's log has them: the replies come back later
            if gather.suspend is not None:
                gather.suspend()
            gate.gather_later(conn, before, made, gather)
            return
        self.finish_gather(session, gather, made)

    def finish_gather(self, session: Session, gather: Gather, made: bytes) -> None:
        """Send what ``gather.finish`` makes of the bytes its items made for ``session``."""
        fanout = self._fanout
        conn = session.conn
        data = gather.finish(made)
        if not data or conn in fanout.out.aborts:  # nothing, or cut meanwhile: send nothing
            return
        if len(data) > PAGE and session.closing is None:
            fanout.pace(session, data)
        else:
            fanout.write(conn, data)

    def _hold(self, session: Session, lines: list[bytes | LineTooLong]) -> None:
        """Lines that must wait (rate limit, or a paced reply); too many is a flood."""
        lim = self.limits
        first_hold = not session.backlog
        if session.backlog is None:
            session.backlog = deque()
        session.backlog.extend(lines)
        if session.braked:
            # Flow control: the engine reads no more from it, so this is bounded by the read
            # that was under way; it is not the client's flood.
            return
        if len(session.backlog) > lim.recvq_lines:
            session.backlog = None
            self._apply(self.core.drop(session.conn, "Excess flood"))
            return
        if session.paced is not None or session.waiting:
            return  # not the rate limit: the lines wait for the reply to be read
        if first_hold:
            self.rate_limited += 1
        if not session.warned:
            session.warned = True
            text = (f"You are sending faster than {lim.rate_per_second:g} lines a second; "
                    "the rest is delayed")
            self._apply(self.gate.handle(session.conn, c.Invalid("rate_limited", text)))
        if first_hold:
            self.timers.at(ratelimit.token_due(session, lim), session.conn, Timer.RATE)

    def _resume_input(self, session: Session) -> None:
        """A paced reply is done: handle the lines that waited for it."""
        if not session.backlog:
            return
        if self.limits.rate_per_second:
            self._drain_backlog(session, self.clock())
            return
        backlog = session.backlog
        turn = TURN
        while (backlog and session.closing is None and session.paced is None
               and not session.waiting and not session.braked):
            line = backlog.popleft()
            self._line(session, line)
            turn -= len(line) if isinstance(line, bytes) else 1
            if turn <= 0 and backlog and not session.braked:
                self._yield(session)
        if not backlog:
            session.backlog = None

    def _drain_backlog(self, session: Session, now: float) -> None:
        lim = self.limits
        ratelimit.refill(session, lim, now)
        backlog = session.backlog
        if backlog is None:
            session.warned = False
            return
        while (backlog and session.tokens >= 1 and session.closing is None
               and session.paced is None and not session.waiting and not session.braked):
            session.tokens -= 1
            self._line(session, backlog.popleft())
        if ((session.paced is not None or session.waiting or session.braked)
                and session.closing is None):
            # the rest waits for the reply to be read, the log, or the readers to catch up;
            # _resume_input picks it up
            return
        if backlog and session.closing is None:
            self.timers.at(ratelimit.token_due(session, lim), session.conn, Timer.RATE)
        else:
            session.backlog = None  # an idle connection keeps no empty deque
            session.warned = False

    # -- output and closing --------------------------------------------------------------

    def _apply(self, outputs: list[e.Output], here: bool = True) -> None:
        """The core's effects: fanned out to connections, and shown to every observer.

        ``here`` is False for effects of a cluster log entry another node appended: the
        history recorder skips them (that node records them), and only requests for
        connections of this node (history, passwords, timers) are this node's to run.
        """
        if outputs:
            if self.flow.behind:
                self._brake(outputs)
            self._fanout.deliver(outputs)
            for observer in self.observers if here else self._remote_observers:
                observer.delivered(outputs)
            owns = self.gate.owns
            for output in outputs:
                kind = output.__class__
                if kind is e.Recall or kind is e.Authenticate or kind is e.Later:
                    if not owns(output.conn):  # type: ignore[union-attr]
                        continue
                    if kind is e.Recall:
                        self._recall(output)  # type: ignore[arg-type]
                    elif kind is e.Authenticate:
                        self._authenticate(output)  # type: ignore[arg-type]
                    else:
                        self.timers.at(self.clock() + output.delay,  # type: ignore[union-attr]
                                       output.conn, Timer.NICK)  # type: ignore[union-attr]

    def _brake(self, outputs: list[e.Output]) -> None:
        """Flow control: brake the speaker of a delivery whose readers are behind."""
        flow = self.flow
        for output in outputs:
            if output.__class__ is not e.Delivery or output.origin is None:
                continue
            recipients = output.recipients
            if flow.holds_back(recipients):
                session = self.sessions.get(output.origin)
                if session is not None and not session.braked and session.closing is None:
                    session.braked = True
                    flow.brake(session.conn, recipients)
                    self._fanout.pause_reading(session.conn)

    def _yield(self, session: Session) -> None:
        """A connection used its turn: the rest of what it sent waits for the next round of
        the engine's loop, by when the readers' queues are known (so flow control can brake
        it); reading from it pauses meanwhile."""
        session.braked = True
        self.flow.yields += 1
        self._fanout.pause_reading(session.conn)
        # Just after now, not now: a timer due now would run in this very tick.
        self.timers.at(self.clock() + 1e-6, session.conn, Timer.TURN)

    def _release_braked(self) -> None:
        """Senders whose readers caught up: what they said meanwhile goes on, then reading."""
        for conn in self.flow.releasable():
            session = self.sessions.get(conn)
            if session is not None and session.closing is None:
                self._go_on(session)

    def _go_on(self, session: Session) -> None:
        """A braked or yielded connection goes on: its held lines first, then reading."""
        session.braked = False
        try:
            self._resume_input(session)
        except Exception:
            self._internal_error(session)
            return
        if not session.braked:
            self._fanout.resume_reading(session.conn)

    def _recall(self, recall: e.Recall) -> None:
        """Ask the history thread; its answer comes back through the inbox and ``tick``."""
        if self.history is None:
            self._answered(recall, [])
        else:
            self.history.fetch(recall, self._answered)

    def _answered(self, recall: e.Recall, answer: Answer) -> None:
        """From the history thread: queue the answer and wake the engine."""
        self._post(recall.conn, lambda: self.core.recalled(recall, answer))

    def _authenticate(self, request: e.Authenticate) -> None:
        """Hand a password to the account workers; the result comes back through the inbox."""
        if self.accounts is None:
            self._checked(request, e.AuthResult(False, request.account, "error"))
        else:
            self.accounts.submit(request, self._checked)

    def _checked(self, request: e.Authenticate, result: e.AuthResult) -> None:
        """From an account worker: queue the result and wake the engine."""
        self._post(request.conn, lambda: self.gate.authenticated(request, result))

    def collect_now(self, finish: Work) -> bool:
        """Work another thread hands back, run on that thread at once (the engine holds its
        lock for it; see ``run_now``): True. False if earlier work still waits in the inbox:
        then this waits behind it, for the engine's own thread."""
        if self._inbox:
            self._post(0, finish)
            return False
        self._inbox.append((0, finish))
        self.collect()
        return True

    def _post(self, conn: int, finish: Work) -> None:
        """Any thread: queue work for the engine's thread (``collect``), and wake it."""
        self._inbox.append((conn, finish))
        waker = self.waker
        if waker is not None:
            waker()

    def _refuse(self, session: Session, reason: str) -> None:
        # The dialect is unknown yet, so the message must make sense to every client: an IRC
        # ERROR line is what IRC clients expect and still reads fine on a terminal.
        self._fanout.write(session.conn, f"ERROR :{reason}\r\n".encode())
        self._fanout.close(session, reason)

    def _cut_slow_reader(self, session: Session) -> None:
        reason = f"Send queue exceeded ({self.limits.sendq} bytes): reading too slowly"
        log.info("dropping connection %d: %s", session.conn, reason)
        self._fanout.abort(session, reason)

    def _internal_error(self, session: Session) -> None:
        """A bug met while serving one connection: log it, close that one connection politely.

        The exception text never reaches the client or its rooms (it can hold anything), and
        no other connection notices.
        """
        log.exception("internal error on connection %d", session.conn)
        self._fanout.break_segment()
        if session.closing is not None:
            return
        try:
            self._apply(self.core.drop(session.conn, INTERNAL_ERROR))
        except Exception:
            log.exception("while closing connection %d", session.conn)
        self._fanout.close(session, INTERNAL_ERROR)

    # -- timers --------------------------------------------------------------------------

    def _fire(self, session: Session, kind: Timer, now: float) -> None:
        conn = session.conn
        if kind is Timer.GREET:
            if session.dialect is None:
                session.greeted = True
                self._start(session, HumanDialect)
                pending = session.reader.take_pending()  # framed raw, before the filter
                if pending and session.dialect is not None:
                    lines = session.reader.feed(session.dialect.filter_bytes(pending))
                    self.lines_received += len(lines)
                    self._lines(session, lines)
        elif kind is Timer.REGISTER:
            user = self.core.user(conn)
            if user is not None and not user.registered:
                self._apply(self.core.drop(conn, "Registration timed out"))
        elif kind is Timer.RATE:
            self._drain_backlog(session, now)
        elif kind is Timer.IDLE:
            self._check_idle(session, now)
        elif kind is Timer.NICK:
            self._apply(self.gate.nick_grace_over(conn))
        elif kind is Timer.FLOW:
            self.flow.expired(conn, now)
        elif kind is Timer.TURN:
            if session.braked and conn not in self.flow.braked:
                self._go_on(session)
        elif kind is Timer.SENDQ:
            grace = self.limits.sendq_grace
            if session.over_since and now - session.over_since >= grace * 0.999:
                self._cut_slow_reader(session)

    def _check_idle(self, session: Session, now: float) -> None:
        """Liveness: ping a client silent for the interval; drop one that does not answer."""
        lim = self.limits
        conn = session.conn
        if session.pinged:  # still outstanding: nothing came since the ping
            waited = lim.ping_interval + lim.ping_timeout
            self._apply(self.core.drop(conn, f"Ping timeout: {waited:g} seconds"))
            return
        quiet_until = session.seen + lim.ping_interval
        if now < quiet_until:
            self.timers.at(quiet_until, conn, Timer.IDLE)
            return
        dialect = session.dialect
        data = None
        if dialect is not None:
            data = dialect.encode(self.core.ping_event(), {})  # the core owns event ids
        if not data:
            # Nobody to ask yet, or a person on telnet who cannot answer a ping: TCP keepalive
            # (tuned by the engines to the same interval) finds dead peers instead.
            self.timers.at(now + lim.ping_interval, conn, Timer.IDLE)
            return
        self._fanout.write(conn, data)
        session.pinged = now
        self.timers.at(now + (lim.ping_timeout or lim.ping_interval), conn, Timer.IDLE)

