"""The log's appends and reads on an event loop: the asyncio engine's own, or for the threaded
engine one the backplane runs on a thread of its own; they used to run on a writer and a
reader thread.

Each message crossing the log took two thread hand-offs (engine -> writer thread, reader
thread -> engine), each a wake-up and a wait for the GIL: at 1,000 messages/s the two threads
cost ~130 µs of CPU a message between them, and every hand-off added to the hop's tail. Here
the loop writes the XADDs and reads the XREAD replies itself, on two non-blocking connections
to Redis, parsed by hiredis: on the asyncio engine no thread is woken on the way, on the
threaded engine one (the loop's) where two were.

What stays with the backplane's writer thread: connecting (blocking, so never on the loop),
heartbeats, snapshots, and riding out a Redis that stops or stalls. A socket error, a reply
that does not come within ``STALL`` or an error reply detaches the loop's connections and
hands the failure to the writer thread, which reconnects, resynchronises and attaches new
connections; the queue is sent again from its first unconfirmed call (an entry Redis did take
is applied once, by its sequence number).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from itertools import islice
from typing import TYPE_CHECKING, Any

import hiredis
import redis

if TYPE_CHECKING:
    from chat.cluster.backplane import Backplane

log = logging.getLogger("chat.cluster")

#: How often the loop looks for a reply that is late (seconds).
WATCH_EVERY = 0.25


class LoopLog:
    """The log's hot path on an asyncio loop: appending queued calls and reading entries."""

    def __init__(self, backplane: Backplane, loop: asyncio.AbstractEventLoop) -> None:
        self.plane = backplane
        self.loop = loop
        self._conns: tuple[Any, Any] | None = None  # (appending, reading): redis-py connections
        self._parsers = (hiredis.Reader(encoding="utf-8"), hiredis.Reader(encoding="utf-8"))
        self._in_flight = 0  # calls sent in XADDs whose replies have not all come
        self._replies_due = 0  # of those XADDs, replies still to come
        self._sent_at = 0.0  # when the XADDs in flight were sent
        self._read_at = 0.0  # when the XREAD outstanding was sent (0: none)
        self._read_generation = 0
        self._append_due = False
        self._watch: asyncio.TimerHandle | None = None

    # -- attaching and detaching (connections are made on the writer's thread) ---------------

    def attach(self, appending: Any, reading: Any) -> None:
        """Take two connected redis-py connections (any thread); the loop starts using them."""
        self.loop.call_soon_threadsafe(self._attach, appending, reading)

    def _attach(self, appending: Any, reading: Any) -> None:
        self._detach()
        if not self.plane.connected():
            for conn in (appending, reading):
                conn.disconnect()
            return  # lost again meanwhile: the writer thread attaches new ones
        self._conns = (appending, reading)
        self._parsers = (hiredis.Reader(encoding="utf-8"), hiredis.Reader(encoding="utf-8"))
        for index, conn in enumerate(self._conns):
            conn._sock.setblocking(False)
            self.loop.add_reader(conn._sock.fileno(), self._readable, index)
        self._in_flight = self._replies_due = 0
        self._read_at = 0.0
        self.plane.append_again()  # (no reply of the old connections can come now)
        self._watch = self.loop.call_later(WATCH_EVERY, self._watchdog)
        self._read()
        self._append()

    def detach(self) -> None:
        """Stop using the connections (any thread; done on the loop): the writer thread
        appends from now on (the backplane is closing)."""
        if self.plane.on_loop():
            self._detach()
        elif not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._detach)

    def _detach(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        conns, self._conns = self._conns, None
        for conn in conns or ():
            sock = conn._sock
            if sock is not None:
                with contextlib.suppress(ValueError, OSError):
                    self.loop.remove_reader(sock.fileno())
            conn.disconnect()
        self._in_flight = self._replies_due = 0
        self._read_at = 0.0

    def _fail(self, error: Exception) -> None:
        """A connection failed: let go of both, and the writer thread recovers."""
        self._detach()
        self.plane._failed(redis.ConnectionError(str(error) or error.__class__.__name__))

    # -- appending --------------------------------------------------------------------------

    def append_soon(self) -> None:
        """Calls were queued: append them at the end of this loop iteration, all in one XADD
        round trip (any thread)."""
        if self._append_due:
            return
        self._append_due = True
        if self.plane.on_loop():
            self.loop.call_soon(self._append)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._append)

    def _append(self) -> None:
        self._append_due = False
        plane = self.plane
        if self._conns is None or self._in_flight or not plane.connected():
            return  # (appended when the replies in flight have come, or after reconnecting)
        with plane._lock:
            batch = list(islice(plane._queue, plane.batch))
        if not batch:
            return
        commands = plane.xadds(batch)
        conn = self._conns[0]
        try:
            conn._sock.sendall(b"".join(conn.pack_commands(commands)))
        except OSError as exc:  # (a buffer too small for one batch too: this loop has no
            self._fail(exc)     # write queue of its own; the writer thread takes over)
            return
        self._in_flight, self._replies_due = len(batch), len(commands)
        self._sent_at = time.monotonic()

    def _appended(self) -> None:
        count, self._in_flight = self._in_flight, 0
        self.plane._appended(count)
        self._append()

    # -- reading ----------------------------------------------------------------------------

    def _read(self) -> None:
        if self._conns is None:
            return
        plane = self.plane
        conn = self._conns[1]
        self._read_generation = plane.generation
        try:
            conn._sock.sendall(b"".join(conn.pack_commands([plane.xread()])))
        except OSError as exc:
            self._fail(exc)
            return
        self._read_at = time.monotonic()

    def _readable(self, index: int) -> None:
        conns = self._conns
        if conns is None:
            return
        sock = conns[index]._sock
        parser = self._parsers[index]
        try:
            while True:
                data = sock.recv(262_144)
                if not data:
                    raise ConnectionResetError("Redis closed the connection")
                parser.feed(data)
                if len(data) < 262_144:
                    break
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except OSError as exc:
            self._fail(exc)
            return
        try:
            while (reply := parser.gets()) is not False:
                if isinstance(reply, hiredis.ReplyError):
                    raise redis.ResponseError(str(reply))
                if index == 0:
                    self._replies_due -= 1
                    if self._replies_due == 0 and self._in_flight:
                        self._appended()
                else:
                    self._got(reply)
                if self._conns is not conns:
                    return  # failed meanwhile
        except (hiredis.ProtocolError, redis.RedisError) as exc:
            self._fail(exc)

    def _got(self, answer: Any) -> None:
        self._read_at = 0.0
        plane = self.plane
        generation = self._read_generation
        if answer and generation == plane.generation:
            plane.take_read(generation, answer)
        self._read()

    # -- stalls -----------------------------------------------------------------------------

    def _watchdog(self) -> None:
        """A reply later than ``STALL`` (beyond the XREAD's own wait) means Redis stalled."""
        self._watch = None
        if self._conns is None:
            return
        from chat.cluster.backplane import BLOCK_MS, STALL

        now = time.monotonic()
        if self._in_flight and now - self._sent_at > STALL:
            self._fail(TimeoutError("Redis did not confirm an append in time"))
            return
        if self._read_at and now - self._read_at > BLOCK_MS / 1000 + STALL:
            self._fail(TimeoutError("Redis did not answer a read in time"))
            return
        self._watch = self.loop.call_later(WATCH_EVERY, self._watchdog)
