"""The Redis side of a node: appending to the log, reading it, heartbeats, snapshots, and
riding out a Redis that stops or stalls. A writer thread with the synchronous redis-py client
does the heartbeats, snapshots and reconnecting for both engines; the log's appends and reads
(``looplog.py``) run on an event loop: the engine's where it has one (the asyncio engine),
else one of the backplane's own on a thread of its own (the threaded engine), whose entries
reach the engine's threads through callbacks (the gate posts them to the hub's inbox and
wakes the engine).

Keys (``chat:`` prefix):

- ``log``        the stream every state change goes through, in one order for every node;
- ``snapshot``   the state at a log position (JSON), what a joining node loads;
- ``snapshot:at`` that position (the log is trimmed only below it);
- ``epoch``      names the log's lifetime: missing after Redis lost its data (a restart);
- ``nodes``      the counter that numbers nodes (``INCR``);
- ``members``    the set of nodes believed alive;
- ``node:N``     node N's heartbeat (expires after the lease), holding the last entry it applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

import redis

from chat.cluster import snapshot
from chat.cluster.replica import (
    CALLS_PER_ENTRY,
    NODE_LOST,
    NODE_SHIFT,
    Entry,
    decode_entry,
    encode_call,
    pack,
)
from chat.history.redis_store import where

if TYPE_CHECKING:
    from chat.cluster.looplog import LoopLog

log = logging.getLogger("chat.cluster")

LOG = "chat:log"
SNAPSHOT = "chat:snapshot"
SNAPSHOT_AT = "chat:snapshot:at"
EPOCH = "chat:epoch"
NODES = "chat:nodes"
MEMBERS = "chat:members"

#: A Redis call that takes longer than this means Redis is stalled: the node goes degraded.
STALL = 1.5
#: How long one XREAD waits for entries (under ``STALL``, so an idle log is not a stall).
BLOCK_MS = 500
#: Entries appended per round trip, and read per XREAD.
BATCH = 500
#: Entries waiting to be appended, at most: beyond it the gate refuses commands (disconnects,
#: joins and account results are bounded by the connections and always kept).
MAX_QUEUE = 10_000
#: Entries Redis confirmed that a node keeps, the latest: with ``appendfsync everysec`` a Redis
#: that crashes loses up to its last second of confirmed appends, and these are appended again
#: (see ``_resync``). 10,000 are 10 s at 1,000 calls/s, 0.5 s at a node's full speed.
KEPT = 10_000
#: Reconnection back-off, first and longest wait (seconds).
BACKOFF = (0.1, 2.0)
#: A heartbeat lives this share of the lease and is renewed every ``BEAT`` of it, and every
#: node looks for expired ones as often: a dead node's users are quit within one lease.
TTL, BEAT = 0.75, 0.25
#: How often the lowest live node writes a snapshot and trims the log (seconds): every
#: ``SNAPSHOT_EVERY``, or less often for a state so big that writing one takes more than
#: ``SNAPSHOT_SHARE`` of the time between two (2.4 s at 100,000 users: one every 48 s).
SNAPSHOT_EVERY = 10.0
SNAPSHOT_SHARE = 0.05
#: The interpreter's thread switch interval in a node (see ``Backplane.start``): short while
#: the log is quiet (a hand-off waits less), CPython's default while it is busy (fewer forced
#: hand-offs in the middle of the engine's work). Busy: an append or a read carried at least
#: ``BUSY_BATCH`` calls; quiet again: one carried at most ``QUIET_BATCH``. 0.2 ms rather than
#: 0.5: end-to-end p99 at 1,000 messages/s 8.4 vs 11.8 ms, better in 4 of 5 rounds (see
#: docs/scaling.md, "Where the hop's tail goes").
SWITCH_INTERVAL = 0.0002
BUSY_SWITCH_INTERVAL = 0.005
BUSY_BATCH, QUIET_BATCH = 32, 4
#: A log counts as busy (``Backplane.busy``) until this long after its last busy batch: a busy
#: node also sees small batches between its big ones, 10-20 % of them.
QUIET_AFTER = 0.1
#: How long a node waits for its engine to make or load a snapshot.
ENGINE_WAIT = 10.0

#: Founds a log lifetime atomically: the epoch and its first snapshot, if there is no epoch.
_FOUND = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[3], ARGV[3])
  return 1
end
return 0
"""
#: Replaces the snapshot only within the same lifetime (a stale writer must not undo a found).
_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[3], ARGV[3])
  return 1
end
return 0
"""
#: Raises the node counter to at least ARGV[1] (after Redis came back empty).
_RAISE = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""


class ClusterUnavailable(RuntimeError):
    """The node cannot join: Redis is unreachable at start, or holds a broken log."""


class ForeignState(redis.ConnectionError):
    """After Redis came back, the cluster's state is one this server cannot read (another
    release founded the new log): the node stays degraded and keeps trying, saying why."""


class Engine(Protocol):
    """What the backplane needs from the engine's thread (the gate provides it)."""

    def entries(self, generation: int, entries: list[Entry]) -> None:
        """Entries read from the log, in order (any thread; applied on the engine's)."""

    def status(self, degraded: bool) -> None:
        """The link to Redis went down (True) or is back (False) (any thread)."""

    def snapshot(self, fresh_log: bool) -> str | None:
        """This node's state as snapshot JSON, made on the engine's thread (called from the
        backplane's, waits); ``fresh_log``: it starts a new log (position 0-0)."""

    def load(self, generation: int, text: str) -> None:
        """Replace the state with another node's snapshot (any thread; done on the engine's)."""

    def node_lost(self, node: int) -> None:
        """This node counted ``node`` lost (no heartbeat for a lease): what it said last may
        never reach the history store from there (any thread)."""


class Backplane:
    """A node's link to the cluster through one Redis."""

    def __init__(self, url: str, lease: float, engine: Engine, name: str = "") -> None:
        self.url = url
        self.lease = lease
        self.engine = engine
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.redis = redis.Redis.from_url(url, socket_timeout=STALL,
                                          socket_connect_timeout=STALL, decode_responses=True,
                                          health_check_interval=0)
        self.node = 0
        self.epoch = ""
        #: Entries waiting to be appended: (sequence number, payload), oldest first; an entry
        #: leaves only once Redis confirmed it.
        self._queue: deque[tuple[int, str]] = deque()
        #: The latest entries Redis confirmed, oldest first (see ``KEPT``).
        self._kept: deque[tuple[int, str]] = deque(maxlen=KEPT)
        #: Set when Redis lost confirmed appends: kept calls above it are appended again.
        self._again_above: int | None = None
        self._seq = 0
        #: Guards the queue and the sequence numbers: a plain lock, taken once per call on the
        #: engine's thread (cheaper there than a Condition and its notify: 0.3 vs 0.55 µs).
        self._lock = threading.Lock()
        #: Wakes the writer; set by ``send`` only when the writer said it is idle, so a busy
        #: writer costs the engine no wake-up per call.
        self._wake = threading.Event()
        self._idle = False
        #: Told when Redis confirmed a batch, while ``close`` waits for the queue to drain.
        self._drained = threading.Condition()
        self._closing = False
        self._stopped = threading.Event()  # interrupts the reconnection back-off
        #: The quiet and busy switch intervals (None: fixed by CHAT_SWITCH_INTERVAL), and
        #: which one is in force.
        self._intervals: tuple[float, float] | None = None
        self._busy = False
        self._busy_at = 0.0  # when an append or a read last carried ``BUSY_BATCH`` calls
        self._connected = threading.Event()
        self._stopping = False
        self._read_from = "0-0"  # the log's position read up to (the last entry read)
        self.generation = 0  # bumped when the position is reset: older reads are discarded
        self.applied = "0-0"  # the last entry the engine applied (the heartbeat reports it)
        self._threads: list[threading.Thread] = []
        #: The log's appends and reads on an event loop (see ``chat.cluster.looplog``): the
        #: engine's, or ``_own_loop`` on a thread of ours; None while closing (the writer
        #: thread appends what is left).
        self._io: LoopLog | None = None
        self._loop_thread = 0
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self.batch = BATCH
        self._next_beat = 0.0
        self._next_snapshot = 0.0
        self._quiet_until = 0.0  # no node is counted lost before this (after an outage)
        self.degraded = False
        #: Counters for tests and metrics.
        self.appended = 0
        self.read = 0
        self.reconnects = 0
        self.live_nodes = 1  # nodes alive at the last heartbeat (for metrics)

    # -- joining and leaving ---------------------------------------------------------------

    def join(self, founding_snapshot: Callable[[], str]) -> dict[str, Any] | None:
        """Take a node number and find the log: found a new one with ``founding_snapshot``
        (returns None: our state is the cluster's), or return the snapshot to load, parsed."""
        r = self.redis
        try:
            self.node = int(r.incr(NODES))
            _say_what_redis_keeps(r)
            self._register(r, "0-0")  # "0-0": nobody trims the log under us while we load
            epoch = uuid.uuid4().hex
            if r.eval(_FOUND, 3, EPOCH, SNAPSHOT, SNAPSHOT_AT, epoch, founding_snapshot(),
                      "0-0"):
                self.epoch = epoch
                log.info("node %d (%s) founded the cluster log (epoch %s)", self.node,
                         self.name, epoch)
                return None
            self.epoch = str(r.get(EPOCH))
            text = r.get(SNAPSHOT)
        except redis.RedisError as exc:
            raise ClusterUnavailable(f"cannot join the cluster at {where(r)}: {exc}") from None
        if text is None:
            raise ClusterUnavailable("the cluster has an epoch but no snapshot")
        data, why = snapshot.parse(str(text))
        if data is None:
            with contextlib.suppress(redis.RedisError):  # not a member after all
                r.srem(MEMBERS, self.node)
                r.delete(f"chat:node:{self.node}")
            raise ClusterUnavailable(f"cannot join the cluster at {where(r)}: {why}")
        self._read_from = self.applied = str(data["replica"]["last_id"])
        log.info("node %d (%s) joined the cluster (epoch %s) at %s", self.node, self.name,
                 self.epoch, self._read_from)
        return data

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start appending and reading: on ``loop`` (the engine's, called on its thread) if
        given, else on a loop of our own, on its own thread."""
        fixed = os.environ.get("CHAT_SWITCH_INTERVAL")
        if fixed is not None:  # one interval, whatever the load (measuring the trade-off)
            self._intervals = None
            if float(fixed):
                sys.setswitchinterval(float(fixed))
        else:
            # An entry crosses threads (engine -> the log's loop -> engine); with
            # CPython's default 5 ms switch interval a busy engine thread can hold each
            # hand-off back that long, which at low rates is most of the hop. Under load the
            # appends carry many calls each, and the forced hand-offs every 0.2 ms cost more
            # throughput than they save latency: ``_pace`` switches between the two.
            quiet = min(SWITCH_INTERVAL, sys.getswitchinterval())
            self._intervals = (quiet, max(quiet, BUSY_SWITCH_INTERVAL))
            sys.setswitchinterval(quiet)
        self._connected.set()
        self._next_snapshot = time.monotonic() + SNAPSHOT_EVERY
        from chat.cluster.looplog import LoopLog

        if loop is None:  # the threaded engine: a loop for the log alone, on one thread
            loop = self._own_loop = asyncio.new_event_loop()
            self._loop_thread = self._start_thread(loop.run_forever, "log").ident or 0
        else:
            self._loop_thread = threading.get_ident()
        self._io = LoopLog(self, loop)
        try:
            self._io.attach(*self._connect_io())
        except redis.RedisError as exc:
            self._failed(exc)  # the writer thread reconnects
        self._start_thread(self._write_loop, "writer")

    def _start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"chat-cluster-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _connect_io(self) -> tuple[Any, Any]:
        """The loop's two connections, connected here (blocking: never on the loop)."""
        conns: list[Any] = []
        try:
            for _ in range(2):
                conn = self.redis.connection_pool.make_connection()
                conns.append(conn)
                conn.connect()
        except BaseException:
            for conn in conns:
                conn.disconnect()
            raise
        return conns[0], conns[1]

    def on_loop(self) -> bool:
        """Whether the caller runs on the engine's loop (the log's appends and reads do)."""
        return threading.get_ident() == self._loop_thread

    def connected(self) -> bool:
        """Whether Redis is reachable, as far as the node knows."""
        return self._connected.is_set()

    def send(self, call: tuple[Any, ...], payload: str | None = None) -> int:
        """Queue an entry (any thread); returns its sequence number."""
        if payload is None:
            payload = encode_call(call)
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._queue.append((seq, payload))
        io = self._io
        if io is not None:
            io.append_soon()
        elif self._idle:  # (the writer sets it, then looks at the queue again before waiting)
            self._idle = False
            self._wake.set()
        return seq

    def queued(self) -> int:
        """Entries not yet confirmed by Redis."""
        return len(self._queue)

    def close(self, timeout: float = 3.0) -> None:
        """Append what is queued (for at most ``timeout`` s), leave the members, stop."""
        io, self._io = self._io, None
        if io is not None:  # the loop stops with us: the writer thread appends what is left
            io.detach()
        self.send(("lost", self.node, "Server shutting down"))
        deadline = time.monotonic() + timeout
        with self._drained:
            self._closing = True
            while self._queue and self._connected.is_set() and time.monotonic() < deadline:
                self._drained.wait(0.05)
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        own = self._own_loop
        if own is not None:  # (after the detach posted above)
            own.call_soon_threadsafe(own.stop)
        for thread in self._threads:
            thread.join(timeout)
        if own is not None and not own.is_running():
            own.close()
        try:
            self.redis.srem(MEMBERS, self.node)
            self.redis.delete(f"chat:node:{self.node}")
        except redis.RedisError:
            pass  # our key expires by itself, and the others quit our users
        self.redis.close()

    # -- the writer: appends, heartbeats, snapshots, reconnects ------------------------------

    def _write_loop(self) -> None:
        queue, connected = self._queue, self._connected
        while True:
            if self._stopping:
                return
            if not queue or self._io is not None or not connected.is_set():
                self._idle = True
                if not queue or self._io is not None or not connected.is_set():
                    self._wake.wait(self._beat_wait())  # (a send may have come meanwhile)
                self._idle = False
                self._wake.clear()
                if self._stopping:
                    return
            with self._lock:
                appends = connected.is_set() and self._io is None
                batch = list(islice(queue, BATCH)) if appends else []
            if not self._connected.is_set():
                self._reconnect()
                continue
            try:
                if batch:
                    self._append(batch)
                if time.monotonic() >= self._next_beat:
                    self._beat()
            except redis.RedisError as exc:
                self._failed(exc)
            except Exception:  # a bug must not stop the node's log
                log.exception("cluster writer")

    def _beat_wait(self) -> float:
        return max(0.0, min(self._next_beat - time.monotonic(), 0.5))

    def _append(self, batch: list[tuple[int, str]]) -> None:
        """Append queued calls (the writer thread's way, once closing took the loop's)."""
        pipe = self.redis.pipeline(transaction=False)
        for command in self.xadds(batch):
            pipe.execute_command(*command)
        pipe.execute()
        self._appended(len(batch))

    def xadds(self, batch: list[tuple[int, str]]) -> list[tuple[Any, ...]]:
        """The XADDs appending queued calls, up to ``CALLS_PER_ENTRY`` in one stream entry
        (their sequence numbers are consecutive: the first is the entry's)."""
        node = self.node
        commands = []
        for start in range(0, len(batch), CALLS_PER_ENTRY):
            group = batch[start:start + CALLS_PER_ENTRY]
            commands.append(("XADD", LOG, "*", "n", node, "s", group[0][0], "k", len(group),
                             "c", pack([p for _, p in group])))
        return commands

    def _appended(self, count: int) -> None:
        """Redis confirmed the queue's first ``count`` calls."""
        self._pace(count)
        with self._lock:
            queue, kept = self._queue, self._kept
            for _ in range(count):
                kept.append(queue.popleft())
            self.appended += count
        if self._closing:
            with self._drained:
                self._drained.notify_all()

    def _pace(self, calls: int) -> None:
        """Tell a busy log from a quiet one by how many calls an append or a read carried
        (appends see this node's load, reads everyone's), and pick the switch interval for
        it (see ``SWITCH_INTERVAL``)."""
        if calls >= BUSY_BATCH:
            self._busy_at = time.monotonic()
            if not self._busy:
                self._busy = True
                if self._intervals is not None:
                    sys.setswitchinterval(self._intervals[1])
        elif calls <= QUIET_BATCH and self._busy:
            self._busy = False
            if self._intervals is not None:
                sys.setswitchinterval(self._intervals[0])

    @property
    def busy(self) -> bool:
        """Whether the log is busy (see ``_pace``), or was within ``QUIET_AFTER``."""
        return self._busy or time.monotonic() - self._busy_at < QUIET_AFTER

    def _register(self, r: redis.Redis, applied: str) -> None:
        pipe = r.pipeline(transaction=False)
        pipe.set(f"chat:node:{self.node}", applied, px=int(self.lease * TTL * 1000))
        pipe.sadd(MEMBERS, self.node)
        pipe.execute()

    def _beat(self) -> None:
        """Say we live; quit the users of nodes that stopped saying so; keep the snapshot."""
        r = self.redis
        now = time.monotonic()
        self._next_beat = now + self.lease * BEAT
        self._register(r, self.applied)
        members = sorted(int(m) for m in r.smembers(MEMBERS))
        alive = r.mget([f"chat:node:{m}" for m in members])
        live = {}
        for member, applied in zip(members, alive, strict=True):
            if applied is None:
                if now < self._quiet_until:
                    continue  # after an outage everyone gets a lease to beat again
                if member != self.node and r.srem(MEMBERS, member):
                    log.warning("node %d lost: no heartbeat for %g s", member, self.lease)
                    self.send(("lost", member, NODE_LOST))
                    self.engine.node_lost(member)
            else:
                live[member] = str(applied)
        self.live_nodes = len(live)
        if live and min(live) == self.node and now >= self._next_snapshot:
            self._next_snapshot = now + SNAPSHOT_EVERY  # (if writing one fails)
            self._refresh_snapshot(r, live)
            self._next_snapshot = now + snapshot_interval(time.monotonic() - now)

    def _refresh_snapshot(self, r: redis.Redis, live: dict[int, str]) -> None:
        text = self.engine.snapshot(False)
        if text is None:
            return
        covered = snapshot.position(text)
        if not r.eval(_REFRESH, 3, EPOCH, SNAPSHOT, SNAPSHOT_AT, self.epoch, text, covered):
            return
        floor = min([covered, *live.values()], key=_stream_key)
        if floor != "0-0":
            r.xtrim(LOG, minid=floor, approximate=False)

    def _failed(self, exc: Exception) -> None:
        if self._connected.is_set():
            log.warning("cluster: lost Redis (%s); serving local clients, queueing", exc)
            self._connected.clear()
            self.degraded = True
            self.engine.status(True)
        io = self._io
        if io is not None:  # degraded means queueing: the loop lets go of its connections too
            io.detach()
        self._wake.set()

    def _reconnect(self) -> None:
        """Back off, then resynchronise: the same log (continue), or a new one (found it with
        our state, or load the state of whoever found it first)."""
        wait = BACKOFF[0]
        told = ""
        while not self._stopping:
            self._stopped.wait(wait)
            if self._stopping:
                return
            try:
                self.redis.ping()
                self._resync()
            except ForeignState as exc:
                if str(exc) != told:  # once per reason, not every retry
                    told = str(exc)
                    log.error("cluster: cannot follow the log at %s: %s", where(self.redis), exc)
                wait = min(wait * 2, BACKOFF[1])
                continue
            except redis.RedisError as exc:
                log.debug("cluster: still no Redis (%s)", exc)
                wait = min(wait * 2, BACKOFF[1])
                continue
            io = self._io
            conns = None
            if io is not None:
                try:
                    conns = self._connect_io()
                except redis.RedisError as exc:
                    log.debug("cluster: still no Redis (%s)", exc)
                    wait = min(wait * 2, BACKOFF[1])
                    continue
            self.reconnects += 1
            self.degraded = False
            self._next_beat = 0.0
            self._quiet_until = time.monotonic() + self.lease
            self._connected.set()
            log.warning("cluster: Redis is back (epoch %s)", self.epoch)
            self.engine.status(False)
            if io is not None and conns is not None:
                # After ``_connected`` (the loop checks it) and after the status (its notice
                # reaches the engine's loop first, before anything the queue carries).
                io.attach(*conns)
            else:
                self.append_again()  # (closing: this thread appends what is left)
            return

    def _resync(self) -> None:
        """Back on Redis: go on with the same log, or take up a new one. A node beats again
        (registers) only once it can follow the log: one that cannot (another release founded
        it) lets its lease run out, so the others quit its users instead of keeping them as
        ghosts that nothing reaches."""
        r = self.redis
        r.eval(_RAISE, 1, NODES, self.node)
        if r.get(EPOCH) == self.epoch:
            self._register(r, self.applied)
            # The same log: reading continues, and what is queued is sent again; unless
            # the log was trimmed past our position while we were away (we were counted lost),
            # or it lost entries we had read (a Redis that crashed and came back from its
            # append-only file without its last writes): then the snapshot, which is at or
            # behind the log's end, is where we go on from, as every node that read them does.
            at = r.get(SNAPSHOT_AT)
            behind = at is not None and _stream_key(str(at)) > _stream_key(self._read_from)
            end = _log_end(r)
            lost = end is not None and _stream_key(self._read_from) > _stream_key(end)
            if behind or lost:
                found = r.get(SNAPSHOT)
                if found is None:
                    raise redis.ConnectionError("a snapshot position without a snapshot")
                found = str(found)
                replica = _readable(found)
                with self._lock:
                    self.generation += 1
                    generation = self.generation
                if lost:
                    log.error("cluster: the log ends at %s but node %d had read up to %s: "
                              "Redis lost its last writes; going back to the snapshot", end,
                              self.node, self._read_from)
                    self._again_above = int(replica["seqs"].get(str(self.node), 0))
                self._read_from = str(replica["last_id"])
                if behind:
                    log.warning("cluster: node %d fell behind the trimmed log; loading the "
                                "snapshot at %s", self.node, self._read_from)
                self.engine.load(generation, found)
            return
        with self._lock:
            self.generation += 1
            generation = self.generation
        # A new log: someone founded it already (load its state), or we found it with ours.
        epoch, found = r.mget(EPOCH, SNAPSHOT)  # (set together, by one script)
        if found is None:
            self._register(r, self.applied)
            text = self.engine.snapshot(True)
            if text is None:
                raise redis.ConnectionError("the engine did not make a snapshot")
            epoch = uuid.uuid4().hex
            if r.eval(_FOUND, 3, EPOCH, SNAPSHOT, SNAPSHOT_AT, epoch, text, "0-0"):
                self._founded(r, epoch, generation, text)
                return
            epoch, found = r.mget(EPOCH, SNAPSHOT)  # someone was faster
            if found is None:
                raise redis.ConnectionError("a new epoch without a snapshot")
        found = str(found)
        replica = _readable(found)  # (before taking the epoch: a retry must not take it as ours)
        self._register(r, self.applied)
        self.epoch = str(epoch)
        log.warning("cluster: Redis came back empty; node %d loads the new log's state",
                    self.node)
        self._read_from = str(replica["last_id"])
        self.engine.load(generation, found)

    def append_again(self) -> None:
        """After Redis lost its last writes (see ``_resync``): queue again, first and with
        their own sequence numbers, the confirmed calls the snapshot does not cover. Those
        Redis lost are applied once more, on every node; those it kept are in the log before
        them, and every replica skips a sequence number it applied. Called where appending
        resumes, once no reply of the old connections can come (on the loop, after it let
        go of them), so that none confirms a call of this list by its place in the queue."""
        above, self._again_above = self._again_above, None
        if above is None:
            return
        with self._lock:
            again = [item for item in self._kept if item[0] > above]
            self._kept.clear()
            self._queue.extendleft(reversed(again))
        log.warning("cluster: node %d appends again %d calls Redis had confirmed", self.node,
                    len(again))

    def _founded(self, r: redis.Redis, epoch: str, generation: int, text: str) -> None:
        """We founded the new log (Redis came back empty) with our state, ``text``."""
        log.warning("cluster: Redis came back empty; node %d founded a new log", self.node)
        # The other nodes we knew get one lease to come back before they count as lost.
        with snapshot.no_gc():  # (rare: Redis came back empty; 45 MB at 100,000 users)
            users = json.loads(text)["core"]["users"]
        others = {user["conn"] >> NODE_SHIFT for user in users}
        others.discard(self.node)
        for other in others:
            r.set(f"chat:node:{other}", "0-0", px=int(self.lease * TTL * 1000), nx=True)
            r.sadd(MEMBERS, other)
        self.epoch = epoch
        self._read_from = "0-0"
        self.engine.load(generation, "")  # our state stands; only the position resets

    # -- reading ---------------------------------------------------------------------------

    def xread(self) -> tuple[Any, ...]:
        """The XREAD of the log's next entries (waiting ``BLOCK_MS`` for some)."""
        return ("XREAD", "COUNT", BATCH, "BLOCK", BLOCK_MS, "STREAMS", LOG, self._read_from)

    def take_read(self, generation: int, answer: Any) -> None:
        """An XREAD's reply: its entries go to the engine, and reading goes on after them."""
        # The raw reply: {stream: records} (RESP3, redis-py 8's default) or
        # [[stream, records]] (RESP2); a record's fields are a flat list.
        records = answer[LOG] if isinstance(answer, dict) else answer[0][1]
        if not records:
            return
        entries = []
        for stream_id, flat in records:
            try:
                fields = dict(zip(flat[::2], flat[1::2], strict=True))
                entries.extend(decode_entry(stream_id, fields, self.node))
            except ValueError as exc:
                log.error("cluster: skipping entry %s: %s", stream_id, exc)
        self._read_from = records[-1][0]
        self.read += len(entries)
        self._pace(len(entries))
        if entries:
            self.engine.entries(generation, entries)


def _say_what_redis_keeps(r: redis.Redis) -> None:
    """Log what the cluster's Redis writes to disk: with nothing (the test fixture's and
    ``redis-server --save ''``), a Redis restart loses every account, room and line of
    history, which an operator should hear at start rather than after."""
    try:
        conf = {**r.config_get("appendonly"), **r.config_get("save")}
    except redis.RedisError:  # CONFIG renamed or refused (managed Redis): nothing to say
        return
    if conf.get("appendonly") == "yes":
        return
    if conf.get("save"):
        log.info("cluster: Redis at %s keeps RDB snapshots only: what came after the last "
                 "one is lost if it stops uncleanly (appendonly yes keeps it)", where(r))
    else:
        log.warning("cluster: Redis at %s keeps nothing on disk: accounts, rooms and history "
                    "are lost if it restarts; run it with appendonly yes", where(r))


def _log_end(r: redis.Redis) -> str | None:
    """The id of the last entry ever appended to the log (kept when entries are trimmed, and
    across a Redis restart from its append-only file), or None if there is no log."""
    try:
        info = r.xinfo_stream(LOG)
    except redis.ResponseError:  # no such key
        return None
    return str(info["last-generated-id"])


def _readable(text: str) -> dict[str, Any]:
    """The replica state a snapshot text starts with (its log position and sequence
    numbers), read once; :class:`ForeignState` if this server cannot load ``text``."""
    replica, why = snapshot.checked_head(text)
    if replica is None:
        raise ForeignState(str(why))
    return replica


def snapshot_interval(took: float) -> float:
    """Seconds from one snapshot to the next, after one that took ``took`` seconds."""
    return max(SNAPSHOT_EVERY, took / SNAPSHOT_SHARE)


def _stream_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)
