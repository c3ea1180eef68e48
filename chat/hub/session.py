"""What the hub keeps per connection."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from chat.dialects.base import Dialect
from chat.wire.framing import LineReader, LineTooLong


@dataclass(eq=False, slots=True)
class Session:
    """Per-connection state the hub keeps: framing, dialect, rate limit, liveness, pacing."""

    conn: int
    host: str
    reader: LineReader
    opened: float
    dialect: Dialect | None = None
    closing: str | None = None  # set once a close was decided; input is ignored after that
    tokens: float = 0.0
    refilled: float = 0.0
    backlog: deque[bytes | LineTooLong] | None = None  # lines held back; made on use
    warned: bool = False  # told about the rate limit in the current burst
    seen: float = 0.0  # when bytes last arrived: any input proves the peer is alive
    pinged: float = 0.0  # when an unanswered ping went out (0: none outstanding)
    tls: bool = False  # accepted on a TLS listener (metrics count connections by transport)
    greeted: bool = False  # taken for a person because it was silent; its first line may differ
    over_since: float = 0.0  # when its unsent bytes went over the send queue (0: not over)
    paced: deque[bytes] | None = None  # output held back behind a long reply being paced
    paced_extra: int = 0  # bytes in ``paced`` that are not the reply (they count as sendq)
    paced_mark: int = -1  # index in this flush's write list from which output goes to ``paced``
    waiting: bool = False  # input held until the cluster log applied this one's registration
    braked: bool = False  # flow control: its readers are behind, its input waits (chat.hub.flow)
