"""The envelope every event shares: a unique id, the server's time, the room, the cause."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Source:
    """Who caused an event, as it was at that moment (IRC needs nick!ident@host)."""

    nick: str
    ident: str = ""
    host: str = ""
    account: str = ""  # the account it was logged in to (IRC account-tag, extended-join)
    realname: str = ""
    bot: bool = False  # user mode +B: a program speaking, not a person


@dataclass(frozen=True, slots=True)
class Event:
    """Common envelope: unique id, server time (epoch seconds), the room concerned, the cause.

    ``ref`` is the correlation token of the request this event answers, set only on events
    sent to the requester alone (replies, errors); never on what a room or others also get.
    """

    id: str
    ts: float
    room: str | None
    source: Source | None
    ref: object = field(default=None, kw_only=True)
