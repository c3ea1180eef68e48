"""What every dialect (wire format) provides to the hub.

A dialect instance belongs to one connection. It turns complete lines into typed commands and
typed events into bytes; it does no I/O and keeps no chat state beyond its own wire concerns
(the IRC dialect's capability negotiation, for example).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from chat.config import ServerConfig
from chat.core.commands import Command, Invalid
from chat.core.events import Event
from chat.core.model import User

#: The error for input holding a lone surrogate or a non-character (see ``unencodable``).
UNENCODABLE_TEXT = ("That line holds characters that cannot be sent (a lone surrogate or a "
                    "Unicode non-character); nothing was sent")

class Hangup:
    """What a dialect returns to have the hub close its connection once what is queued is sent
    (HTTP answers one request and closes); the core is not asked."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Upgrade:
    """What a dialect returns to hand its connection to another dialect from now on (HTTP
    upgrading to a WebSocket); ``pending`` is input that came after the switch, not yet read."""

    __slots__ = ("dialect", "pending")

    def __init__(self, dialect: Dialect, pending: bytes = b"") -> None:
        self.dialect = dialect
        self.pending = pending


class Gather:
    """What a dialect returns to see, together, every byte its ``items`` make for its own
    connection before they go out: ``finish`` gets them (b"" when there were none) and returns
    what is sent instead. IRC's labeled-response wraps a labelled command's replies this way
    (one line tagged, several in a batch, none answered with ACK). ``begin``, if given, is
    called just before the items run (a wrapping dialect stops framing its output there).
    In a cluster the items' replies come back from the log later: then ``suspend`` (if given)
    is called after the items ran, ``begin`` again when their entries are applied, and
    ``finish`` after that; output in between is ordinary."""

    __slots__ = ("begin", "finish", "items", "suspend")

    def __init__(self, items: list[Decoded], finish: Callable[[bytes], bytes],
                 begin: Callable[[], None] | None = None,
                 suspend: Callable[[], None] | None = None) -> None:
        self.items = items
        self.finish = finish
        self.begin = begin
        self.suspend = suspend


#: What decode() may return: commands for the core, bytes sent straight back to this client
#: (answers the core has no business with, such as /help text or IRC's CAP replies), a
#: :class:`Hangup`, an :class:`Upgrade`, or a :class:`Gather` around any of those.
Decoded = Command | bytes | Hangup | Upgrade | Gather


class Variants:
    """A count that moves whenever some connection's ``variant`` may have changed (a dialect
    started, capabilities changed, a connection went): the fan-out caches how a room's members
    group by variant across messages, valid only while this stands still. Process-wide, so a
    change in one hub only costs another hub a regrouping."""

    epoch = 0


class Dialect(ABC):
    """One connection's codec. Subclasses register in ``chat.dialects.DIALECTS``."""

    name: ClassVar[str]
    #: The hub's fan-out shortcut for room messages: connections whose dialects have the same
    #: non-None ``variant`` get identical bytes for a room ``Message`` (the hub encodes it once
    #: and shares the bytes). None: encode for each connection (output depends on more than the
    #: event, such as the human dialect's current room).
    variant: ClassVar[Any] = None
    #: True when the copy a room message's own sender gets may differ from everyone else's
    #: (IRC without echo-message gets none); the hub then encodes the sender's copy separately.
    own_differs: ClassVar[bool] = False
    #: False when this dialect's clients cannot answer client-to-client queries (CTCP VERSION,
    #: PING) themselves, as a person on telnet cannot: the core then answers for them.
    answers_ctcp: ClassVar[bool] = True
    #: True for a dialect carried inside WebSocket frames (metrics count it as that transport).
    websocket: ClassVar[bool] = False

    # Slots: one dialect object per connection, and idle connections are counted in thousands.
    __slots__ = ("clock", "config", "user")

    def __init__(self, config: ServerConfig, user: User,
                 clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self.user = user  # the core's view of this connection, read-only here
        #: Wall-clock seconds since the epoch: the hub passes its own, so a dialect never
        #: reads the time itself (and tests can fix it). Alone, a dialect gets the real clock.
        self.clock: Callable[[], float] = clock or time.time

    @property
    def gets_own(self) -> bool:
        """False when this connection is sent nothing for a room message it said itself (IRC
        without echo-message): the fan-out then skips its copy. Read only where
        ``own_differs``; a change must move ``Variants.epoch``."""
        return True

    @classmethod
    @abstractmethod
    def sniff(cls, first_line: bytes) -> bool:
        """True if a connection whose first line is ``first_line`` speaks this dialect."""

    @classmethod
    def max_line(cls, config: ServerConfig) -> int:
        """The longest line this dialect accepts, terminator included."""
        return config.limits.max_line

    def filter_bytes(self, data: bytes) -> bytes:
        """Raw bytes pass through here before line framing (telnet strips IAC sequences)."""
        return data

    def take_replies(self) -> bytes:
        """Bytes owed to the peer at once for what ``filter_bytes`` took out (telnet refusing
        an option it was asked for); sent ahead of anything the same input leads to."""
        return b""

    def start(self) -> list[Decoded]:
        """Called once the connection is known to speak this dialect (greetings go here)."""
        return []

    def after_greeting(self) -> list[Decoded]:
        """Called after ``start`` when a connection first greeted as a person (it was silent)
        turns out, by its first line, to speak this dialect: a slow program, or a person
        whose answer looked like one; say so if a person could be reading."""
        return []

    def goodbye(self, reason: str) -> bytes:
        """The last bytes before the server closes this connection (a WebSocket close frame);
        most dialects say goodbye through events and have nothing to add."""
        return b""

    @abstractmethod
    def decode(self, line: bytes) -> list[Decoded]:
        """One complete line (without its terminator) in; commands and direct replies out."""

    def line_too_long(self, limit: int) -> list[Decoded]:
        """The line was over the limit and has been discarded."""
        return [Invalid("line_too_long", f"Line too long (the limit is {limit} bytes); dropped")]

    @abstractmethod
    def encode(self, event: Event, cache: dict[Any, bytes | None]) -> bytes | None:
        """Bytes for this connection, or None to send nothing.

        ``cache`` is shared by every recipient of one delivery: a dialect stores the bytes under
        a key that captures every way its output can differ between recipients, so a broadcast is
        encoded once per variant, not once per recipient.
        """
