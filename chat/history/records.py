"""The values a history store keeps and answers with: plain, frozen, free of core objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from chat.wire.names import fold

#: Kinds of history record. The first four are what people read (replayed on join); the rest
#: are membership and nick events, replayed only to clients that ask for them.
CHAT_KINDS = frozenset({"message", "action", "notice", "topic"})
EVENT_KINDS = frozenset({"join", "part", "quit", "kick", "nick"})
ALL_KINDS = CHAT_KINDS | EVENT_KINDS

Direction = Literal["latest", "before", "after", "around", "between"]


#: Hex digits of milliseconds at the start of every event id (enough until the year 2527).
ID_TIME_DIGITS = 11


def event_id(ts: float, node: str, counter: int) -> str:
    """An event id: its time in hex milliseconds, then the issuing process's ``node`` tag and
    counter. Ids sort roughly by time, and a store finds a message by id from its time alone,
    so it needs no index of ids (the write path stays one append per commit)."""
    # %-formatting: an f-string with a nested width builds its format spec every call
    return "%0*x%s%x" % (ID_TIME_DIGITS, int(ts * 1000), node, counter)  # noqa: UP031


def id_time(msgid: str) -> float | None:
    """The time (epoch seconds) an event id carries, or None if it carries none."""
    head = msgid[:ID_TIME_DIGITS]
    if len(msgid) <= ID_TIME_DIGITS or not all(c in "0123456789abcdef" for c in head):
        return None
    return int(head, 16) / 1000


def private_key(account: str, other: str) -> str:
    """Where a private conversation between two accounts is kept: a "room" named by both
    (folded, sorted), which no room name can be (rooms start with ``#``)."""
    first, second = sorted((fold(account), fold(other)))
    return f"~{first}~{second}"


def is_private(room: str) -> bool:
    """Whether a history "room" is a private conversation (see :func:`private_key`)."""
    return room.startswith("~")


class Record(NamedTuple):
    """One room event as kept: who, when, what, under the id clients saw it with.

    ``room`` is the room's name as shown; stores look rooms up by its folded form. ``text`` is
    the message, topic or reason; ``target`` the kicked nick or the new nick. ``seq`` is the
    store's order (0 until stored): records of one room compare by ``(ts, seq)``. ``msgid`` is
    the event's id (see :func:`event_id`): its time is ``ts`` to the millisecond.

    A named tuple, not a dataclass: the history thread makes one per message, and a tuple is
    several times cheaper to build.
    """

    msgid: str
    ts: float
    room: str
    kind: str
    nick: str
    ident: str = ""
    host: str = ""
    text: str = ""
    target: str = ""
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Ref:
    """A point in a room's history: a message id, or a time (epoch seconds)."""

    msgid: str | None = None
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """A page of one room's history, as IRCv3 ``draft/chathistory`` asks for it.

    - ``latest``: the newest ``limit`` records, or with ``ref`` the newest after it;
    - ``before`` / ``after``: the ``limit`` records nearest ``ref`` on that side (exclusive);
    - ``around``: up to ``limit`` records centred on ``ref`` (about half on each side);
    - ``between``: records strictly between ``ref`` and ``end``, at most ``limit``, counted
      from ``ref`` (so ``ref`` later than ``end`` pages backwards).

    Answers are always oldest first. An unknown ``msgid`` gives an empty answer. ``kinds``
    None means every kind.
    """

    room: str
    direction: Direction
    ref: Ref | None = None
    end: Ref | None = None
    limit: int = 50
    kinds: frozenset[str] | None = CHAT_KINDS


@dataclass(frozen=True, slots=True)
class Ban:
    """One ban as stored."""

    mask: str
    set_by: str
    set_at: float


@dataclass(frozen=True, slots=True)
class RoomState:
    """What survives a restart about a room (members and operators do not)."""

    name: str
    created: float
    topic: str = ""
    topic_by: str = ""
    topic_at: float = 0.0
    modes: str = "n"  # flag modes, e.g. "imnt"
    key: str = ""
    limit: int = 0
    bans: tuple[Ban, ...] = ()
    founder: str = ""  # the account that registered the room (empty: nobody owns it)
    excepts: tuple[Ban, ...] = ()  # +e: ban exceptions
    invex: tuple[Ban, ...] = ()  # +I: invite exceptions (may join a +i room uninvited)


@dataclass(frozen=True, slots=True)
class Target:
    """A room with history in a time window, and the time of its newest record there."""

    room: str
    latest: float
