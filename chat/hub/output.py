"""What the hub hands an engine after each call, and the constants of the engine contract."""

from __future__ import annotations

from dataclasses import dataclass, field

#: A connection whose unsent bytes fall to this (or half its send queue, if smaller) is
#: "drained": the hub releases the next page of a long reply and forgives a send queue that
#: was over its limit.
LOW_WATER = 64 * 1024
#: Replies the server generates that are longer than this go out a page at a time, each page
#: once the reader has taken the last: a long LIST is paced to the reader, never its fault.
PAGE = 64 * 1024


@dataclass(slots=True)
class Output:
    """What the engine must do after a hub call: bytes per connection, connections to close.

    The bytes objects in ``writes`` may be shared between connections (a room message is
    encoded once per dialect variant): engines queue them, they do not copy them per reader.
    The lists themselves may be shared too (every reader of a variant given one segment holds
    the same one-item list): they are read-only once handed over.
    """

    writes: dict[int, list[bytes]] = field(default_factory=dict)
    #: Connections to close once what is queued for them is sent (within the close grace).
    closes: dict[int, str] = field(default_factory=dict)
    #: Connections to cut now, discarding what is queued (a send queue over its limit).
    aborts: dict[int, str] = field(default_factory=dict)
    #: Connections whose engine must call ``Hub.drained`` once their unsent bytes fall to
    #: ``Hub.low_water`` (at once if they already have).
    watch: set[int] = field(default_factory=set)
    #: When the first line whose effects are in this output was read (the hub's clock), or 0
    #: for output no read caused (timers, answers from other threads): where the fan-out
    #: latency the engine reports through ``Hub.written`` starts.
    started: float = 0.0
    #: Connections to stop reading from until they appear in ``resume`` (flow control: what
    #: they say goes to readers that are behind; see ``chat.hub.flow``).
    pause: set[int] = field(default_factory=set)
    #: Connections to read from again.
    resume: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.writes or self.closes or self.aborts or self.watch or self.pause
                    or self.resume)


class Reply(bytes):
    """A page of a reply the server generated: paced to the reader, never counted against it."""

    __slots__ = ()
