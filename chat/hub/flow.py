"""Flow control: read less from senders while the readers of what they say are behind.

Without it the server reads whatever senders write and queues it for every reader: under
overload (senders faster than readers) every queue grows and so does every delivery's latency
(seconds), while nothing is gained, since readers take what they can either way. With it,
a sender whose last delivery went to readers that are *behind* is braked: the hub holds the
rest of what it read and tells the engine to stop reading it (TCP then slows the sender), and
releases it once those readers have caught up. Queues stay near ``high_water``, so latency
stays near what the readers' own pace gives.

A reader is behind from the moment its unsent bytes pass ``high_water`` (the engine reports
``backlogged``) until they fall to ``low_water`` (``drained``), and only while it is in the
band up to the send queue and not for longer than ``patience``: one that stops reading must
not stall its rooms. Past the send queue or the patience it is *stalled*: it brakes nobody
and is the send-queue policy's to judge (catch up within the grace, or be cut). A sender is
braked when at least ``max(1, recipients // SHARE)`` of its delivery's recipients are behind,
so one slow reader in a big room does not slow the room, while a private conversation (or a
client not reading its own echo) is paced to its reader.

Decided here once, for every engine; engines only pause and resume reading.
"""

from __future__ import annotations

#: Unsent bytes over which a reader is behind (or the send queue, if smaller).
HIGH_WATER = 128 * 1024
#: Seconds a reader may keep senders waiting before it counts as stalled.
PATIENCE = 1.0
#: A sender is braked when one in SHARE of its recipients (at least one) is behind.
SHARE = 10
#: Bytes of input handled per connection per turn: the rest waits for the next round of the
#: engine's loop, so a sender cannot fan out a whole socket buffer before anyone is behind.
TURN = 16 * 1024


class FlowControl:
    """Which readers are behind, and which senders wait for them."""

    __slots__ = ("_cache", "_version", "behind", "braked", "dirty", "patience", "pauses",
                 "stalled", "yields")

    def __init__(self, patience: float = PATIENCE) -> None:
        self.patience = patience
        #: Readers behind, with when they went over the high-water mark.
        self.behind: dict[int, float] = {}
        #: Readers over the send queue or past the patience: they brake nobody.
        self.stalled: set[int] = set()
        #: Braked senders, with the recipients of the delivery that braked them.
        self.braked: dict[int, tuple[int, ...]] = {}
        #: The behind set shrank: braked senders may be released (see ``releasable``).
        self.dirty = False
        self.pauses = 0  # senders braked since start (for metrics and tests)
        self.yields = 0  # turns a sender used up, since start
        self._version = 0
        self._cache: tuple[int, tuple[int, ...], int] = (-1, (), 0)

    def over(self, conn: int, over_sendq: bool, now: float) -> bool:
        """``conn``'s unsent bytes are over the high-water mark (``over_sendq``: over the send
        queue too). True when it just became behind: the caller arms a timer for ``expired``
        at ``now + patience``."""
        if conn in self.stalled:
            return False
        if conn in self.behind:
            if over_sendq:
                self._stall(conn)
            return False
        if over_sendq:
            self.stalled.add(conn)
            return False
        self.behind[conn] = now
        self._version += 1
        return True

    def expired(self, conn: int, now: float) -> None:
        """The patience timer for ``conn`` fired: stalled if it is still behind since then."""
        since = self.behind.get(conn)
        if since is not None and now - since >= self.patience * 0.999:
            self._stall(conn)

    def drained(self, conn: int) -> None:
        """``conn`` caught up (down to the low-water mark)."""
        self.stalled.discard(conn)
        if self.behind.pop(conn, None) is not None:
            self._version += 1
            self.dirty = True

    def closed(self, conn: int) -> None:
        """``conn`` is gone: as a reader it holds nobody back, as a sender it waits no more."""
        self.drained(conn)
        self.braked.pop(conn, None)

    def _stall(self, conn: int) -> None:
        del self.behind[conn]
        self.stalled.add(conn)
        self._version += 1
        self.dirty = True

    def holds_back(self, recipients: tuple[int, ...]) -> bool:
        """Whether enough of ``recipients`` are behind to brake whoever spoke to them."""
        version, cached, count = self._cache
        if version != self._version or cached is not recipients:
            behind = self.behind
            count = sum(1 for conn in recipients if conn in behind)
            self._cache = (self._version, recipients, count)
        return count >= max(1, len(recipients) // SHARE)

    def brake(self, conn: int, recipients: tuple[int, ...]) -> None:
        """``conn`` waits until ``recipients`` no longer hold it back."""
        self.braked[conn] = recipients
        self.pauses += 1

    def releasable(self) -> list[int]:
        """Braked senders whose recipients caught up; they are no longer braked."""
        self.dirty = False
        free = [conn for conn, recipients in self.braked.items()
                if not self.holds_back(recipients)]
        for conn in free:
            del self.braked[conn]
        return free
