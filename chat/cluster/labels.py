"""Replies gathered across the log's round trip (IRC's labeled-response on a cluster node).

On a single server a labelled command's replies are made while the hub runs it, so the
dialect's ``Gather`` sees them at once. On a cluster node the command only goes to the log
and its replies are made when the entry comes back: finishing the gather then would answer
``ACK`` at once and send the real replies unlabelled. So the gather waits here, by the
sequence numbers of the calls it appended, and is finished around their application: the
bytes those entries make for the connection (and nothing delivered to it in between) are
what the label goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chat.dialects.base import Gather

if TYPE_CHECKING:
    from chat.hub import Hub


@dataclass(slots=True)
class LateGather:
    """One gather waiting for its entries: ``first``..``last`` are their sequence numbers."""

    conn: int
    first: int
    last: int
    made: bytes  # what its items made at once (direct replies), kept in front
    gather: Gather
    mark: int = -1  # the fan-out mark while its entries are being applied (-1: not yet)


class LateGathers:
    """The gathers of this node's connections still waiting for the log, by sequence number."""

    __slots__ = ("by_first", "by_last", "hub")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.by_first: dict[int, LateGather] = {}
        self.by_last: dict[int, LateGather] = {}

    def wait(self, conn: int, seqs: list[int], made: bytes, gather: Gather) -> None:
        """``gather`` finishes once the calls ``seqs`` (in order) are applied."""
        late = LateGather(conn, seqs[0], seqs[-1], made, gather)
        self.by_first[late.first] = late
        self.by_last[late.last] = late

    def before(self, seq: int) -> None:
        """Our entry ``seq`` is about to be applied: gather from here if a gather begins."""
        late = self.by_first.pop(seq, None)
        if late is None:
            return
        if late.gather.begin is not None:
            late.gather.begin()
        late.mark = self.hub._fanout.gather_from(late.conn)

    def after(self, seq: int) -> None:
        """Our entry ``seq`` was applied (or failed): finish the gather that ends with it."""
        late = self.by_last.pop(seq, None)
        if late is None:
            return
        self.by_first.pop(late.first, None)
        hub = self.hub
        made = late.made
        if late.mark >= 0:
            made += hub._fanout.gathered(late.conn, late.mark)
        session = hub.sessions.get(late.conn)
        if session is None or session.closing is not None:
            if late.gather.suspend is not None:
                late.gather.suspend()
            return
        hub.finish_gather(session, late.gather, made)

    def clear(self) -> None:
        """A snapshot replaced the state: entries covered by it never come back."""
        for late in self.by_last.values():
            if late.gather.suspend is not None:
                late.gather.suspend()
        self.by_first.clear()
        self.by_last.clear()
