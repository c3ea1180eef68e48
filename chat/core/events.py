"""Typed events the core emits, and the explicit "who receives what" value it returns.

Events are frozen and recipient-independent, so a dialect encodes each one once and every
recipient of that dialect gets the same bytes. Every event carries a unique ``id`` and the
server timestamp ``ts``; a history store or a backplane hooks in on :class:`Delivery` values
without touching the command handling that made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.core.commands import MessageKind


@dataclass(frozen=True, slots=True)
class Source:
    """Who caused an event, as it was at that moment (IRC needs nick!ident@host)."""

    nick: str
    ident: str = ""
    host: str = ""


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


@dataclass(frozen=True, slots=True)
class Welcome(Event):
    """Registration succeeded; carries what a client needs to know about this server."""

    nick: str
    server: str
    motd: str
    limits: dict[str, int]


@dataclass(frozen=True, slots=True)
class Message(Event):
    """Text sent to a room (``room`` set) or privately (``room`` None, ``target`` the nick)."""

    target: str
    text: str
    kind: MessageKind = "message"


@dataclass(frozen=True, slots=True)
class Joined(Event):
    """``source`` joined ``room``."""


@dataclass(frozen=True, slots=True)
class Parted(Event):
    """``source`` left ``room``."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Quitted(Event):
    """``source`` left the server; ``rooms`` are every room it was in."""

    reason: str
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NickChanged(Event):
    """``source`` (old nick) is now ``new_nick``; ``rooms`` are the rooms it is in."""

    new_nick: str
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Topic(Event):
    """A room's topic, sent when set (to the room) and when asked or on join (to one user)."""

    topic: str
    set_by: str
    set_at: float
    changed: bool = False  # True when this event announces a change, False when it informs


@dataclass(frozen=True, slots=True)
class Member:
    """One room member as listed by ``who``/NAMES."""

    nick: str
    op: bool = False
    voice: bool = False
    ident: str = ""
    host: str = ""


@dataclass(frozen=True, slots=True)
class MemberList(Event):
    """Everyone in ``room``."""

    members: tuple[Member, ...]


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
class PingRequest(Event):
    """The server asks a silent client to prove it is still there."""

    token: str


@dataclass(frozen=True, slots=True)
class Notice(Event):
    """A message from the server itself (shutdown warnings, rate-limit notices)."""

    text: str


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
class Disconnect(Event):
    """The last thing a connection is sent before the server closes it."""

    reason: str


@dataclass(frozen=True, slots=True)
class Kicked(Event):
    """``source`` removed ``target`` (a nick) from ``room``."""

    target: str
    reason: str


@dataclass(frozen=True, slots=True)
class Invited(Event):
    """``source`` invited ``target`` (a nick) to ``room``; sent to both."""

    target: str


@dataclass(frozen=True, slots=True)
class ModeChange:
    """One applied mode change: ``+o bob``, ``-t``, ``+b *!*@host``."""

    add: bool
    char: str
    arg: str | None = None


def mode_string(changes: tuple[ModeChange, ...]) -> tuple[str, tuple[str, ...]]:
    """Changes in IRC's compact form: (``"+ob-t"``, ``("bob", "*!*@x")``)."""
    out: list[str] = []
    sign = ""
    for change in changes:
        want = "+" if change.add else "-"
        if want != sign:
            out.append(want)
            sign = want
        out.append(change.char)
    return "".join(out), tuple(ch.arg for ch in changes if ch.arg is not None)


@dataclass(frozen=True, slots=True)
class ModeChanged(Event):
    """``source`` changed the modes of ``target`` (a room, or the user's own nick)."""

    target: str
    changes: tuple[ModeChange, ...]


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
    """The bans of ``room``."""

    bans: tuple[BanInfo, ...]


@dataclass(frozen=True, slots=True)
class AwayStatus(Event):
    """``nick`` is away with ``text`` (or back, ``text`` empty).

    ``changed`` True announces a change (to the user and everyone sharing a room); False tells
    someone who just messaged ``nick`` that it is away.
    """

    nick: str
    text: str
    changed: bool = False


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


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event and the connections that must receive it, in the order the core decided.

    ``origin`` is the connection whose command caused it (None for what the server does on its
    own: shutdown, timeouts), so a dialect can tell a sender's own copy from everyone else's.
    """

    event: Event
    recipients: tuple[int, ...]
    origin: int | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """The core wants this connection closed (after what was queued for it is sent)."""

    conn: int
    reason: str


Output = Delivery | Close
