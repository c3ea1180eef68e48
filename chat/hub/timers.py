"""The hub's timers: one heap for every connection, typed by what they are for."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from enum import IntEnum


class Timer(IntEnum):
    """What a timer does when it fires."""

    GREET = 1  # silence so far: take the connection for a person and greet it
    REGISTER = 2  # still no nickname: drop it
    RATE = 3  # rate-limited lines may go on
    IDLE = 4  # liveness: ping a silent client, or drop one that did not answer
    SENDQ = 5  # the send queue has been over its limit for the grace period
    NICK = 6  # the grace to log in to a registered nick is over
    FLOW = 7  # a reader has kept senders waiting for the flow-control patience
    TURN = 8  # a connection that used its turn goes on (flow control)


class Timers:
    """A heap of (when, seq, conn, kind); entries of closed connections are dropped in bulk.

    Cancelling in a heap is expensive, so a closed connection's entries stay until they fire
    or until they are half the heap (a reconnect storm), when the heap is rebuilt without them.
    """

    __slots__ = ("_counts", "_heap", "_seq", "_stale")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Timer]] = []
        self._seq = 0
        self._counts: dict[int, int] = {}  # live entries per connection
        self._stale = 0  # entries whose connection is gone

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, when: float, conn: int, kind: Timer) -> None:
        """Fire ``kind`` for ``conn`` at ``when``."""
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, conn, kind))
        self._counts[conn] = self._counts.get(conn, 0) + 1

    def forget(self, conn: int) -> None:
        """``conn`` is closed: its entries will be skipped (and dropped when they pile up)."""
        self._stale += self._counts.pop(conn, 0)
        if self._stale > 64 and self._stale * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2] in self._counts]
            heapq.heapify(self._heap)
            self._stale = 0

    def due(self, now: float) -> Iterator[tuple[int, Timer]]:
        """Pop every live timer due by ``now``, earliest first (timers added meanwhile too)."""
        heap, counts = self._heap, self._counts
        while heap and heap[0][0] <= now:
            _, _, conn, kind = heapq.heappop(heap)
            left = counts.get(conn)
            if left is None:
                self._stale -= 1
                continue
            counts[conn] = left - 1  # the key stays until forget(): the connection is open
            yield conn, kind

    def next_deadline(self) -> float | None:
        """When the earliest timer fires, or None. A racing read gives a stale, valid answer."""
        try:
            return self._heap[0][0]
        except IndexError:
            return None
