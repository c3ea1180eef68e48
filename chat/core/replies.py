"""Answers to one connection's request (lists, lookups, WHOIS, errors), sent to it alone.

Re-exported by :mod:`chat.core.events`, the one namespace dialects use for every event.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat.core.directory import UserCounts
from chat.core.envelope import Event

__all__ = [
    "BanInfo", "BanList", "Error", "Member", "MemberList", "Membership", "ModeInfo", "PongReply",
    "Presence", "RoomInfo", "RoomList", "UserEntry", "Welcome", "WhoReply", "WhoisReply",
]


@dataclass(frozen=True, slots=True)
class Welcome(Event):
    """Registration succeeded; carries what a client needs to know about this server."""

    nick: str
    server: str
    motd: str
    limits: dict[str, int]
    started: float = 0.0  # when this server started (IRC's 003 says so)
    counts: UserCounts | None = None  # the server's population (IRC's LUSERS at welcome)


@dataclass(frozen=True, slots=True)
class Member:
    """One room member as listed by ``who``/NAMES."""

    nick: str
    op: bool = False
    voice: bool = False
    ident: str = ""
    host: str = ""
    account: str = ""


@dataclass(frozen=True, slots=True)
class MemberList(Event):
    """Everyone in ``room``; ``visibility`` is ``public``, ``secret`` (+s) or ``private`` (+p)."""

    members: tuple[Member, ...]
    visibility: str = "public"


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """One line of the room list."""

    name: str
    members: int
    topic: str


@dataclass(frozen=True, slots=True)
class RoomList(Event):
    """Every room on the server."""

    rooms: tuple[RoomInfo, ...]


@dataclass(frozen=True, slots=True)
class PongReply(Event):
    """Answer to a client's ping."""

    token: str


@dataclass(frozen=True, slots=True)
class Error(Event):
    """A request failed. ``code`` is stable for programs; ``text`` is for people.

    ``subject`` is the name the error is about (a nick, a room, a command), which IRC numerics
    need as a parameter.
    """

    code: str
    text: str
    subject: str = ""


@dataclass(frozen=True, slots=True)
class ModeInfo(Event):
    """The current modes of ``target`` (answer to a mode query); ``created`` for rooms."""

    target: str
    modes: str
    args: tuple[str, ...] = ()
    created: float = 0.0


@dataclass(frozen=True, slots=True)
class BanInfo:
    """One ban: the mask, who set it and when."""

    mask: str
    set_by: str
    set_at: float


@dataclass(frozen=True, slots=True)
class BanList(Event):
    """A mask list of ``room``: ``kind`` ``b`` its bans, ``e`` ban exceptions, ``I`` invite
    exceptions (masks that may join a ``+i`` room uninvited)."""

    bans: tuple[BanInfo, ...]
    kind: str = "b"


@dataclass(frozen=True, slots=True)
class UserEntry:
    """What WHO/WHOIS/USERHOST show about one user; ``room`` is the room it was listed for."""

    nick: str
    ident: str
    host: str
    realname: str = ""
    away: str = ""
    room: str = ""
    op: bool = False
    voice: bool = False
    account: str = ""
    oper: bool = False  # a server operator (WHO's ``*`` flag)
    idle: int = 0  # seconds since it last said something (WHOX's ``l``)
    bot: bool = False  # user mode +B: a program, not a person


@dataclass(frozen=True, slots=True)
class Membership:
    """One room a user is in, with its status there."""

    room: str
    op: bool = False
    voice: bool = False


@dataclass(frozen=True, slots=True)
class WhoisReply(Event):
    """Everything public about one user."""

    user: UserEntry
    rooms: tuple[Membership, ...]
    server: str
    idle: int
    signon: float


@dataclass(frozen=True, slots=True)
class WhoReply(Event):
    """Users matching a WHO mask (a room's members, or nicks matching a glob)."""

    mask: str
    users: tuple[UserEntry, ...]


@dataclass(frozen=True, slots=True)
class Presence(Event):
    """Which of the nicks asked about are online; ``ref`` echoes the request's."""

    users: tuple[UserEntry, ...]
