"""The history service: one thread between the engines and a store, so no engine waits on disk.

Engines hand over every core call's outputs with one lock-free ``deque.append`` (the
:class:`Recorder` observer); the history thread turns them into records and commits what came
in the last ``COMMIT_INTERVAL`` seconds in one transaction (group commit). History requests are
answered on the same thread after pending writes are in, so an answer never misses a line the
asker already saw; the answer goes back to the hub through a callback. Pruning runs there too,
in small batches between commits.

``threaded=False`` does every step at once on the caller's thread: the in-memory tests use it
with a fake clock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from chat.config import ServerConfig
from chat.core import events as e
from chat.history import convert
from chat.history.records import CHAT_KINDS, Query, Record, RoomState
from chat.history.store import HistoryStore, StoreError, StoreUnavailable
from chat.wire.names import fold

log = logging.getLogger("chat.history")

#: Longest a record waits before it is committed (the window ``kill -9`` can lose).
COMMIT_INTERVAL = 0.05
#: Records waiting for the history thread; beyond this, a core call's records are dropped
#: and counted.
MAX_PENDING_WRITES = 500_000
#: History requests waiting; beyond this, a request is answered empty and counted.
MAX_PENDING_READS = 1_000
#: Waits between tries while the store is unreachable (a network store): the first, and the
#: longest (each failed try doubles the wait).
RETRY_FIRST = 0.1
RETRY_MAX = 5.0
#: Records deleted per prune step, and the pause between full prune passes (seconds).
PRUNE_BATCH = 500
PRUNE_EVERY = 60.0
#: In a cluster, records of lines said on other nodes are kept here at least this long
#: (seconds of their time; longer than two leases, so that a node's last lines are still here
#: when it is counted lost), at most ``SEEN_PER_ROOM`` a room and ``MAX_SEEN`` not yet sorted
#: by room, in case a history page is asked before their node has written them, or their
#: node dies first (see ``seen``).
SEEN_WINDOW = 10.0
SEEN_PER_ROOM = 1_000
MAX_SEEN = 100_000

Answer = list[e.Event] | list[tuple[str, float]]
Done = Callable[[e.Recall, Answer], None]


class HistoryService:
    """Feeds a store from the hub and answers history requests, off the engines' threads."""

    def __init__(self, store: HistoryStore, config: ServerConfig, *, threaded: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.threaded = threaded
        self.clock = clock
        #: Records waiting for a commit, appended by the engine's thread (a deque's append and
        #: popleft are atomic: no lock on the hot path), and the room states and server ban
        #: lists saved since the last commit.
        self._records: deque[Record] = deque()
        self._states: deque[RoomState | tuple[e.ServerBanInfo, ...]] = deque()
        self._reads: deque[tuple[e.Recall, Done]] = deque()
        #: Records of other nodes' lines (``seen``): as handed over, then by folded room name
        #: (the history thread's alone), until asked for or past ``SEEN_WINDOW``.
        self._seen: deque[Record] = deque(maxlen=MAX_SEEN)
        self._seen_by_room: dict[str, deque[Record]] = {}
        self._next_seen_trim = 0.0
        self._seen_window = max(SEEN_WINDOW, 2 * config.node_lease + 5.0)
        self._write_all_seen = False  # a node was lost: write everything kept (``write_seen``)
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._next_prune = clock() + 10.0
        self._last_complaint = 0.0
        #: Counters (read by metrics and tests): records committed, records lost because the
        #: queue was full, records a failing store refused, requests refused while busy.
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.refused = 0
        #: Why the last commit failed; None once one succeeds (readiness reads it).
        self.last_error: str | None = None
        #: While the store is unreachable (StoreUnavailable): since when (clock time), the
        #: wait before the next try and when that is. Records wait in the queue meanwhile.
        self.down_since: float | None = None
        self._retry_wait = 0.0
        self._retry_at = 0.0

    # -- start-up ------------------------------------------------------------------------

    def load(self) -> tuple[list[RoomState], dict[str, list[e.Event]]]:
        """Every kept room, and each one's recent lines for replay (at start, before serving)."""
        rooms = self.store.load_rooms()
        recent: dict[str, list[e.Event]] = {}
        lines = self.config.replay_lines
        if lines:
            for state in rooms:
                found = self.store.query(Query(state.name, "latest", limit=lines,
                                               kinds=CHAT_KINDS))
                if found:
                    recent[fold(state.name)] = [convert.event(r) for r in found]
        return rooms, recent

    def server_bans(self) -> list[e.ServerBanInfo]:
        """The server-wide bans kept (at start)."""
        return self.store.load_server_bans()

    def start(self) -> None:
        """Start the history thread (threaded mode)."""
        if self.threaded and self._thread is None:
            self._thread = threading.Thread(target=self._main, name="chat-history", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Commit everything handed over so far and close the store (clean shutdown)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._commit(force=True)
        if self.down_since is not None and self._records:
            log.error("history store unreachable at shutdown: %d records were not written",
                      len(self._records))
        self._answer_reads()
        try:
            self.store.close()
        except StoreError as exc:
            log.error("closing the history store: %s", exc)

    # -- engine side (called on the engine's thread, must never block) --------------------

    def record(self, outputs: Sequence[e.Output]) -> None:
        """One core call's outputs; whatever in them is history gets written soon.

        Converted here, on the engine's thread (about half a microsecond for a message), by
        ``convert.records`` alone, which decides what is history: the history thread then holds
        plain records, not the core's events, which can be freed at once instead of living on
        into older garbage-collector generations.
        """
        records = self._records
        if len(records) >= MAX_PENDING_WRITES:
            self.dropped += 1
            self._complain("history queue full: a core call's records were dropped")
            return
        try:
            convert.records(outputs, records, self._states)
        except Exception:  # an observer must never raise into the hub: log, count, go on
            self.failed += 1
            log.exception("cannot turn a core call's outputs into history records")
            return
        if not self.threaded:
            self._commit()

    def seen(self, outputs: Sequence[e.Output]) -> None:
        """A core call another node of a cluster made (its log entry, applied here).

        That node writes its records, within ``COMMIT_INTERVAL`` while its store is reachable,
        so until then a page asked on this node would miss a line the asker has already seen.
        The records are kept here a while: a page asked meanwhile first writes those of its
        rooms with this node's own (``_write_through``); the shared store skips a record it
        holds already, so whichever node writes second stores nothing twice.
        """
        try:
            convert.records(outputs, self._seen, _NOWHERE)
        except Exception:  # an observer must never raise into the hub: log, count, go on
            self.failed += 1
            log.exception("cannot turn another node's outputs into history records")

    def write_seen(self) -> None:
        """Write every record of other nodes' lines kept here, with this node's own (any
        thread): one of them died, maybe before its history thread wrote its last lines, and
        every line it appended to the log is here; the store skips those it holds already."""
        self._write_all_seen = True
        if self.threaded:
            self._wake.set()
        else:
            self._sort_seen()
            self._commit()

    def fetch(self, recall: e.Recall, done: Done) -> None:
        """Answer ``recall`` later by calling ``done`` (from the history thread)."""
        if len(self._reads) >= MAX_PENDING_READS:
            self.refused += 1
            done(recall, [])
            return
        self._reads.append((recall, done))
        if self.threaded:
            self._wake.set()
        else:
            self._answer_reads()

    def unwritable(self) -> str | None:
        """None while history can be written; otherwise why not (for readiness checks).

        Known from what the writer saw, never by touching the store on the caller's thread:
        the last commit failed, the queue is full, or the history thread has died.
        """
        if self.last_error is not None:
            return f"history store failing: {self.last_error}"
        if len(self._records) >= MAX_PENDING_WRITES:
            return "history queue full"
        thread = self._thread
        if self.threaded and not self._stopping and (thread is None or not thread.is_alive()):
            return "history writer not running"
        return None

    @property
    def queued(self) -> int:
        """Records waiting to be written (a gauge for metrics)."""
        return len(self._records)

    # -- the history thread --------------------------------------------------------------

    def _main(self) -> None:
        while not self._stopping:
            self._wake.wait(COMMIT_INTERVAL)
            self._wake.clear()
            try:
                self._sort_seen()
                self._commit()
                self._answer_reads()
                self._prune_step()
            except Exception:  # a bug here must not stop history for good
                log.exception("history thread")

    def _commit(self, force: bool = False) -> None:
        """Everything handed over so far, in one transaction. While the store is unreachable,
        only every so often (``force``: now), and what fails to go stays queued."""
        pending, saved = self._records, self._states
        if not (pending or saved):
            return
        if self.down_since is not None and not force and self.clock() < self._retry_at:
            return
        # Only this thread takes from the deques: what is in them now can be taken whole.
        records = [pending.popleft() for _ in range(len(pending))]
        rooms: dict[str, RoomState] = {}
        bans: list[tuple[e.ServerBanInfo, ...]] = []
        for _ in range(len(saved)):
            state = saved.popleft()
            if isinstance(state, RoomState):
                rooms[fold(state.name)] = state  # the last state of each room wins
            else:
                bans.append(state)
        try:
            if rooms:
                self.store.save_rooms(list(rooms.values()))
            if bans:
                self.store.save_server_bans(bans[-1])
            if records:
                self.store.append(records)
                self.written += len(records)
            self.last_error = None
        except StoreUnavailable as exc:
            # Kept, oldest first, ahead of whatever the engines added meanwhile (only this
            # thread takes from the front). A write that did land is not doubled by the retry:
            # such a store skips records it already holds.
            pending.extendleft(reversed(records))
            saved.extendleft(reversed([*rooms.values(), *bans[-1:]]))
            self._unreachable(exc)
            return
        except Exception as exc:
            self.failed += len(records)
            self.last_error = str(exc) or type(exc).__name__
            self._complain(f"history write failed, {len(records)} records lost: {exc}")
        self._reachable(len(records))

    def _reachable(self, written: int) -> None:
        """A call went through: if the store was away, say it is back."""
        if self.down_since is not None:
            log.warning("history store reachable again after %.1f s: %d records written",
                        self.clock() - self.down_since, written)
            self.down_since = None
            self._retry_wait = 0.0

    def _unreachable(self, exc: StoreError) -> None:
        """The store cannot be reached: wait longer before each try, say so once, then at
        most every ten seconds."""
        now = self.clock()
        self._retry_wait = min(RETRY_MAX, max(RETRY_FIRST, self._retry_wait * 2))
        self._retry_at = now + self._retry_wait
        self.last_error = str(exc)
        if self.down_since is None:
            self.down_since = now
            self._last_complaint = time.monotonic()
            log.error("history store unreachable: %d records wait in the queue, retried with "
                      "backoff up to %g s; reads are answered empty meanwhile: %s",
                      len(self._records), RETRY_MAX, exc)
        else:
            self._complain(f"history store still unreachable after "
                           f"{now - self.down_since:.0f} s, {len(self._records)} records "
                           f"waiting: {exc}")

    def _sort_seen(self) -> None:
        """File the records seen from other nodes by room, forget those past the window, and
        queue them all for writing if a node was lost meanwhile (``write_seen``)."""
        seen, by_room = self._seen, self._seen_by_room
        for _ in range(len(seen)):  # only this thread takes from the deque
            record = seen.popleft()
            key = fold(record.room)
            room = by_room.get(key)
            if room is None:
                room = by_room[key] = deque(maxlen=SEEN_PER_ROOM)
            room.append(record)
        now = self.clock()
        if by_room and now >= self._next_seen_trim:
            self._next_seen_trim = now + 1.0
            horizon = now - self._seen_window
            for key in [key for key, room in by_room.items() if room[-1].ts < horizon]:
                del by_room[key]
            for room in by_room.values():
                while room[0].ts < horizon:
                    room.popleft()
        if self._write_all_seen:
            self._write_all_seen = False
            self._write_rooms(list(by_room))

    def _write_through(self, reads: deque[tuple[e.Recall, Done]]) -> None:
        """Queue the records other nodes' lines left in the rooms ``reads`` ask about, for
        the commit before the answers (see ``seen``)."""
        self._sort_seen()
        if self._seen_by_room:
            self._write_rooms([fold(name) for recall, _ in reads for name in (
                (recall.query.room,) if recall.query is not None else recall.rooms)])

    def _write_rooms(self, keys: list[str]) -> None:
        """Queue the kept records of these rooms (folded names) ahead of this node's own
        (older than anything of ours still queued for them), and keep them no more."""
        by_room, records = self._seen_by_room, self._records
        for key in keys:
            room = by_room.pop(key, None)
            if room:
                records.extendleft(reversed(room))

    def _answer_reads(self) -> None:
        reads = self._reads
        if reads:
            self._write_through(reads)
            self._commit()  # an answer must include every line already handed over
        while reads:
            recall, done = reads.popleft()
            answer: Answer = []
            if self.down_since is not None and self.clock() < self._retry_at:
                done(recall, answer)  # no wait on a store known to be away
                continue
            try:
                if recall.query is not None:
                    answer = [convert.event(r) for r in self.store.query(recall.query)]
                else:
                    found = self.store.targets(recall.rooms, recall.start, recall.end,
                                               recall.limit)
                    answer = [(t.room, t.latest) for t in found]
                self._reachable(0)
            except StoreUnavailable as exc:
                self._unreachable(exc)
            except Exception as exc:
                self._complain(f"history read failed: {exc}")
            done(recall, answer)

    def _prune_step(self) -> None:
        now = self.clock()
        if now < self._next_prune or self.down_since is not None:
            return
        days = self.config.history_days
        older_than = now - days * 86400 if days else 0.0
        try:
            deleted = self.store.prune(older_than, self.config.history_max_per_room,
                                       PRUNE_BATCH)
        except StoreUnavailable as exc:
            self._unreachable(exc)
            deleted = 0
        except Exception as exc:
            self._complain(f"history pruning failed: {exc}")
            deleted = 0
        # A full batch means there is more: go on next round, between commits.
        self._next_prune = now if deleted >= PRUNE_BATCH else now + PRUNE_EVERY

    def _complain(self, text: str) -> None:
        """Log a store problem, at most once every ten seconds (it may repeat per commit)."""
        now = time.monotonic()
        if now - self._last_complaint >= 10.0:
            self._last_complaint = now
            log.error("%s", text)


class _Nowhere:
    """Where another node's room states go: that node saves them."""

    def append(self, item: object, /) -> None:
        """Drop it."""

    def extend(self, items: object, /) -> None:
        """Drop them."""


_NOWHERE = _Nowhere()


class Recorder:
    """The hub observer that hands every core call's outputs to the history service.

    ``delivered`` is the service's own ``record`` (bound once): the hub calls it directly,
    one Python call per core call on the hot path.
    """

    __slots__ = ("delivered",)

    def __init__(self, service: HistoryService, *, remote: bool = False) -> None:
        #: ``remote``: for effects another node of a cluster caused (it writes them; this
        #: node keeps them a while, see ``HistoryService.seen``).
        self.delivered: Callable[[Sequence[e.Output]], None] = (
            service.seen if remote else service.record)

    def flushed(self, out: object) -> None:
        """Nothing per flush."""


def open_history(config: ServerConfig, *, threaded: bool = True) -> HistoryService | None:
    """The service over the configured store: Redis in cluster mode (shared by every node, so
    no data directory is locked or used), SQLite in ``data_dir``, or memory without one; None
    when nothing is to be kept at all (no data directory and no history per room).

    Raises :class:`StoreError` with one clear sentence when the store cannot be used.
    """
    store: HistoryStore
    if config.cluster:
        from chat.history.redis_store import RedisStore

        store = RedisStore.from_url(config.cluster)
        log.info("rooms, accounts and history are kept in Redis at %s (cluster mode: "
                 "--data-dir is not used)", store.where)
    elif config.data_dir is None:
        if not config.history_max_per_room:
            return None
        from chat.history.memory import MemoryStore

        store = MemoryStore(config.history_max_per_room)
        log.info("rooms, accounts and history are kept in memory only (--data-dir none)")
    else:
        from chat.history.sqlite import open_data_dir

        store = open_data_dir(config.data_dir)
        log.info("rooms, accounts and history are kept in %s", os.path.abspath(config.data_dir))
    return HistoryService(store, config, threaded=threaded)
