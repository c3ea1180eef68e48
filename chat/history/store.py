"""The store interface: what the server asks of any history store (memory, SQLite, Redis).

Calls are synchronous and may block on disk or network: the server only ever makes them from
the history service's own threads (see ``service``), never from an engine's thread.
A store is used by one writer thread and one reader thread at once, so an implementation must
allow one ``append``/``save_rooms``/``prune`` caller concurrently with one reading caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chat.accounts.records import ServerBan
from chat.history.records import Query, Record, RoomState, Target


class StoreError(Exception):
    """The store cannot be used (corrupt, read-only, locked, full disk); the text says why."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now (a network store's connection dropped or
    stalled); the same call may succeed later, so a writer keeps what it was writing and
    retries instead of losing it."""


class HistoryStore(Protocol):
    """Rooms and room history, kept somewhere."""

    def append(self, records: Sequence[Record]) -> None:
        """Keep these records, in this order, atomically (one transaction, one commit)."""

    def save_rooms(self, rooms: Sequence[RoomState]) -> None:
        """Insert or replace these rooms' states (by folded name), atomically."""

    def load_rooms(self) -> list[RoomState]:
        """Every saved room, for start-up."""

    def query(self, query: Query) -> list[Record]:
        """One page of a room's history, oldest first (see :class:`Query`)."""

    def targets(self, rooms: Sequence[str], start: float, end: float,
                limit: int) -> list[Target]:
        """Of ``rooms``, those with a record in ``[start, end]`` (either order), each with its
        newest time in the window, newest first, at most ``limit``."""

    def prune(self, older_than: float, max_per_room: int, batch: int) -> int:
        """Delete at most ``batch`` records that are older than ``older_than`` or beyond the
        newest ``max_per_room`` of their room; return how many were deleted. A store that
        keeps records in groups (SQLite's chunks) deletes whole groups: it may keep a little
        more than asked, and deletes a lone group bigger than ``batch`` whole."""

    def save_server_bans(self, bans: Sequence[ServerBan]) -> None:
        """The server-wide bans now in force, replacing those kept."""

    def load_server_bans(self) -> list[ServerBan]:
        """The server-wide bans kept, for start-up."""

    def close(self) -> None:
        """Finish: everything appended is durable after this returns."""

