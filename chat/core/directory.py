"""Events about who is, was and may come online, and about the server as a whole: nick history
(WHOWAS), monitor lists (MONITOR), real-name changes (SETNAME) and the server's counts (LUSERS,
STATS).

Re-exported by :mod:`chat.core.events`, the one namespace dialects use for every event.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat.core.envelope import Event, Source

__all__ = [
    "MonitorList",
    "MonitorStatus",
    "Monitored",
    "PastUser",
    "RealnameChanged",
    "ServerStatusReply",
    "UserCounts",
    "WhoWasReply",
]


@dataclass(frozen=True, slots=True)
class PastUser:
    """Who went by a nick until ``left`` (a nick change, a quit, a kill)."""

    nick: str
    ident: str
    host: str
    realname: str
    account: str
    left: float


@dataclass(frozen=True, slots=True)
class WhoWasReply(Event):
    """Who went by ``nick`` before, newest first (empty: nobody the server remembers)."""

    nick: str
    entries: tuple[PastUser, ...]


@dataclass(frozen=True, slots=True)
class MonitorStatus(Event):
    """Nicks on the recipient's monitor list that are ``online`` now (as who holds them) or
    ``offline``: the answer to adding or asking, and the news when one comes or goes."""

    online: tuple[Source, ...] = ()
    offline: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MonitorList(Event):
    """The recipient's whole monitor list, as the nicks were given."""

    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Monitored(Event):
    """``change`` (an away, account or real-name change of ``source``) for someone who
    monitors ``source`` without sharing a room with it (IRCv3 ``extended-monitor``)."""

    change: Event


@dataclass(frozen=True, slots=True)
class RealnameChanged(Event):
    """``source`` changed its real name to ``realname``; told to everyone sharing a room."""

    realname: str


@dataclass(frozen=True, slots=True)
class UserCounts:
    """The server's population: registered ``users`` (``invisible`` of them ``+i``),
    ``operators``, connections not registered yet (``unknown``), ``rooms`` with members, and
    the most users registered at once since the server started (``max_users``)."""

    users: int
    invisible: int
    operators: int
    unknown: int
    rooms: int
    max_users: int


@dataclass(frozen=True, slots=True)
class ServerStatusReply(Event):
    """The server's counts, when it started, and how many of each command it has handled
    (by command type, most used first)."""

    counts: UserCounts
    started: float
    commands: tuple[tuple[str, int], ...]
