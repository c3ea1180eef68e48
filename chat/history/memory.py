"""A history store in memory: for tests, and for servers that keep nothing across restarts.

Each room keeps its records in one list sorted by ``(ts, seq)`` (the order every answer uses),
so a reference is a bisect away and the oldest records, the ones eviction and pruning remove,
sit at the front. Removing from the front only moves a start index (the list is compacted when
half of it is dead), so a full room costs O(1) per append instead of a list shift.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

from chat.accounts.records import ServerBan
from chat.history.records import ALL_KINDS, Query, Record, Ref, RoomState, Target
from chat.history.store import StoreError
from chat.wire.names import fold


def _key(record: Record) -> tuple[float, int]:
    return (record.ts, record.seq)


class _Room:
    """One room's records, oldest first, with its msgid index."""

    __slots__ = ("by_msgid", "head", "name", "records")

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: list[Record] = []
        self.head = 0  # records[:head] are dead (evicted or pruned)
        self.by_msgid: dict[str, Record] = {}

    def __len__(self) -> int:
        return len(self.records) - self.head

    def add(self, record: Record) -> None:
        records = self.records
        if not records or _key(records[-1]) <= _key(record):
            records.append(record)
        else:  # a clock step back: keep the (ts, seq) order
            records.insert(bisect.bisect_right(records, _key(record), lo=self.head, key=_key),
                           record)
        self.by_msgid[record.msgid] = record  # the newest of a repeated msgid wins

    def drop_oldest(self, count: int) -> None:
        for record in self.records[self.head:self.head + count]:
            if self.by_msgid.get(record.msgid) is record:
                del self.by_msgid[record.msgid]
        self.head += count
        if self.head > 1024 and self.head * 2 > len(self.records):
            del self.records[:self.head]
            self.head = 0

    def position(self, ref: Ref) -> tuple[float, int] | None:
        """Where ``ref`` points, as a ``(ts, seq)`` key; None if it names no record here."""
        if ref.msgid is not None:
            record = self.by_msgid.get(ref.msgid)
            return None if record is None else _key(record)
        if ref.ts is not None:
            return (ref.ts, 0)  # seq 0 sorts before every stored record at that ts
        return None


class MemoryStore:
    """The :class:`~chat.history.store.HistoryStore` kept in memory, at most ``max_per_room``
    records per room (the oldest go first). One lock: calls are short and never block."""

    def __init__(self, max_per_room: int = 100_000) -> None:
        if max_per_room < 1:
            raise ValueError("max_per_room must be at least 1")
        self.max_per_room = max_per_room
        self._lock = threading.Lock()
        self._rooms: dict[str, _Room] = {}
        self._states: dict[str, RoomState] = {}
        self._server_bans: list[ServerBan] = []
        self._seq = 0

    def append(self, records: Sequence[Record]) -> None:
        """Keep ``records`` in order; all or none (an unknown kind refuses the whole batch)."""
        for record in records:
            if record.kind not in ALL_KINDS:
                raise StoreError(f"unknown record kind {record.kind!r}")
        with self._lock:
            for record in records:
                self._seq += 1
                folded = fold(record.room)
                room = self._rooms.get(folded)
                if room is None:
                    room = self._rooms[folded] = _Room(record.room)
                room.name = record.room
                room.add(record._replace(seq=self._seq))
                if len(room) > self.max_per_room:
                    room.drop_oldest(len(room) - self.max_per_room)

    def save_rooms(self, rooms: Sequence[RoomState]) -> None:
        """Insert or replace each room's state by folded name."""
        with self._lock:
            for state in rooms:
                self._states[fold(state.name)] = state

    def load_rooms(self) -> list[RoomState]:
        """Every saved room."""
        with self._lock:
            return list(self._states.values())

    def query(self, query: Query) -> list[Record]:
        """One page of a room's history, oldest first (see :class:`Query`)."""
        limit = max(0, query.limit)
        with self._lock:
            room = self._rooms.get(fold(query.room))
            if room is None or limit == 0:
                return []
            page = _page(room, query, limit)
            # Like the SQLite store: every record carries the room's name as last written.
            return [r if r.room == room.name else r._replace(room=room.name) for r in page]

    def targets(self, rooms: Sequence[str], start: float, end: float,
                limit: int) -> list[Target]:
        """Rooms of ``rooms`` with a record in the window, newest first."""
        low, high = min(start, end), max(start, end)
        found: dict[str, Target] = {}
        with self._lock:
            for name in rooms:
                folded = fold(name)
                room = self._rooms.get(folded)
                if room is None or folded in found:
                    continue
                records = room.records
                i = bisect.bisect_right(records, (high, float("inf")), lo=room.head, key=_key)
                if i > room.head and records[i - 1].ts >= low:
                    found[folded] = Target(room.name, records[i - 1].ts)
        return sorted(found.values(), key=lambda t: t.latest, reverse=True)[:max(0, limit)]

    def prune(self, older_than: float, max_per_room: int, batch: int) -> int:
        """Drop up to ``batch`` of the oldest records that are too old or over the room cap."""
        deleted = 0
        with self._lock:
            for room in self._rooms.values():
                if deleted >= batch:
                    break
                records = room.records
                old = bisect.bisect_left(records, (older_than, 0), lo=room.head,
                                         key=_key) - room.head
                count = min(max(old, len(room) - max(0, max_per_room)), batch - deleted)
                if count > 0:
                    room.drop_oldest(count)
                    deleted += count
        return deleted

    def save_server_bans(self, bans: Sequence[ServerBan]) -> None:
        """Replace the server-wide bans kept."""
        with self._lock:
            self._server_bans = list(bans)

    def load_server_bans(self) -> list[ServerBan]:
        """The server-wide bans kept."""
        with self._lock:
            return list(self._server_bans)

    def close(self) -> None:
        """Nothing to flush: memory is gone with the process."""


def _page(room: _Room, query: Query, limit: int) -> list[Record]:
    """Answer ``query`` from ``room`` (the caller holds the lock)."""
    records, head, kinds = room.records, room.head, query.kinds

    def wanted(record: Record) -> bool:
        return kinds is None or record.kind in kinds

    def newest_before(stop: int, n: int, floor: int = head) -> list[Record]:
        out: list[Record] = []
        i = stop - 1
        while i >= floor and len(out) < n:
            if wanted(records[i]):
                out.append(records[i])
            i -= 1
        out.reverse()
        return out

    def oldest_from(start: int, n: int, ceiling: int = len(records)) -> list[Record]:
        out: list[Record] = []
        i = start
        while i < ceiling and len(out) < n:
            if wanted(records[i]):
                out.append(records[i])
            i += 1
        return out

    def lower(pos: tuple[float, int]) -> int:  # first index with key >= pos
        return bisect.bisect_left(records, pos, lo=head, key=_key)

    def upper(pos: tuple[float, int], ref: Ref) -> int:  # first index with key > the ref
        if ref.msgid is None:  # a time: every record at that ts is "at" it, not after
            return bisect.bisect_right(records, (pos[0], float("inf")), lo=head, key=_key)
        return bisect.bisect_right(records, pos, lo=head, key=_key)

    ref = query.ref
    if query.direction == "latest" and ref is None:
        return newest_before(len(records), limit)
    if ref is None:
        return []
    pos = room.position(ref)
    if pos is None:
        return []
    if query.direction == "latest":
        return newest_before(len(records), limit, floor=upper(pos, ref))
    if query.direction == "before":
        return newest_before(lower(pos), limit)
    if query.direction == "after":
        return oldest_from(upper(pos, ref), limit)
    if query.direction == "around":
        before = newest_before(lower(pos), limit // 2)
        return before + oldest_from(lower(pos), limit - limit // 2)
    # between
    if query.end is None:
        return []
    end = room.position(query.end)
    if end is None:
        return []
    if pos <= end:
        return oldest_from(upper(pos, ref), limit, ceiling=lower(end))
    return newest_before(lower(pos), limit, floor=upper(end, query.end))
