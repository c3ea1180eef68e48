"""Typed commands: what a dialect decodes a client's line into, and all the core accepts.

Every dialect (human text, JSON lines, IRC) produces these same values, so the core never sees
a wire format. ``ref`` is the client's correlation token (structured mode), echoed on replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from chat.core.quickinit import quick_init
from chat.history.records import Direction, Ref

#: ``ctcp`` is a client-to-client query (its text ``VERSION`` or ``PING 123``, IRC's CTCP) and
#: ``ctcp_reply`` the answer; both go to one person, and neither is kept in history.
MessageKind = Literal["message", "action", "notice", "ctcp", "ctcp_reply"]
#: The kinds that are client-to-client queries and their answers.
CTCP_KINDS = ("ctcp", "ctcp_reply")


@dataclass(frozen=True, slots=True)
class Register:
    """Pick the first nickname; ``join_default`` puts the user in the default room (human mode)."""

    nick: str
    ident: str = ""
    realname: str = ""
    join_default: bool = False
    ref: object = None


@dataclass(frozen=True, slots=True)
class ChangeNick:
    """Rename an already registered user."""

    nick: str
    ref: object = None


@dataclass(frozen=True, slots=True)
class Join:
    """Join a room, creating it (with the joiner as operator) if it does not exist."""

    room: str
    key: str | None = None
    ref: object = None
    #: A key given for a room that has none is an error, not ignored as IRC does: for a person
    #: ``/join #bad room`` is a room name with a space in it, not room #bad with key "room".
    strict_key: bool = False


@dataclass(frozen=True, slots=True)
class Part:
    """Leave a room."""

    room: str | None  # None: the current room (human mode)
    reason: str = ""
    ref: object = None


#: Who in a room a message is for: everyone (""), its operators (``op``), or its operators
#: and voiced members (``voice``) — IRC's STATUSMSG, ``PRIVMSG @#room``.
StatusTarget = Literal["", "op", "voice"]


@quick_init  # built for every line said
@dataclass(frozen=True, slots=True)
class Say:
    """Send text to a room or a nick; ``target`` None means the sender's current room.

    ``status`` narrows a room message to its operators (and voiced members).
    """

    target: str | None
    text: str
    kind: MessageKind = "message"
    ref: object = None
    status: StatusTarget = ""
    #: Client-only tags to relay with it (IRC's ``+typing``, ``+draft/reply``): opaque pairs
    #: the dialect has bounded; only dialects that carry such tags show them.
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SayTags:
    """Client-only tags with no text (IRC's TAGMSG: typing notifications, reactions) to a room
    or a nick; relayed like a message, never kept, and shown only by dialects with tags."""

    target: str
    tags: tuple[tuple[str, str], ...]
    ref: object = None
    status: StatusTarget = ""


@dataclass(frozen=True, slots=True)
class SetTopic:
    """Set (``topic`` is a string, maybe empty to clear) or ask for (None) a room's topic."""

    room: str | None
    topic: str | None = None
    ref: object = None


@dataclass(frozen=True, slots=True)
class RoomFilter:
    """Conditions a listed room must meet (IRC's ELIST): every one given must hold.

    Member counts are strict bounds; ages are seconds before now (``created_min_age`` 600:
    created at least ten minutes ago); ``masks`` are globs the name must match (any one),
    ``not_masks`` globs it must not match.
    """

    min_members: int | None = None  # more members than this
    max_members: int | None = None  # fewer members than this
    created_min_age: float | None = None
    created_max_age: float | None = None
    topic_min_age: float | None = None
    topic_max_age: float | None = None
    masks: tuple[str, ...] = ()
    not_masks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListRooms:
    """Ask for every room with its member count and topic (only ``names`` when given, only
    those meeting ``where`` when given). Secret rooms are listed only to their members."""

    ref: object = None
    names: tuple[str, ...] = ()
    where: RoomFilter | None = None


@dataclass(frozen=True, slots=True)
class ListMembers:
    """Ask who is in a room (None: the current room)."""

    room: str | None
    ref: object = None


@dataclass(frozen=True, slots=True)
class Ping:
    """Liveness check from the client; answered with a Pong carrying the same token."""

    token: str = ""
    ref: object = None


@dataclass(frozen=True, slots=True)
class Pong:
    """A client's answer to the server's ping; it only proves the connection is alive."""

    token: str = ""
    ref: object = None


@dataclass(frozen=True, slots=True)
class Quit:
    """Leave the server; the reason is shown to the rooms the user was in."""

    reason: str = ""
    ref: object = None


@dataclass(frozen=True, slots=True)
class Help:
    """Ask for the command summary (human mode renders it; other dialects have their docs)."""

    ref: object = None


@dataclass(frozen=True, slots=True)
class Invalid:
    """A line the dialect could not turn into a command; the core answers it with an error.

    Keeping it a command (not an exception) lets one code path, the core's, phrase every error.
    """

    code: str
    text: str
    ref: object = None


@dataclass(frozen=True, slots=True)
class Kick:
    """An operator removes ``nick`` from a room (None: the current room)."""

    room: str | None
    nick: str
    reason: str = ""
    ref: object = None


@dataclass(frozen=True, slots=True)
class Invite:
    """Invite ``nick`` into a room (None: the current room); lets it past ``+i``."""

    nick: str
    room: str | None
    ref: object = None


@dataclass(frozen=True, slots=True)
class Mode:
    """Show (``modes`` empty) or change the modes of a room or of oneself.

    ``modes`` and ``args`` use IRC's syntax (``+o-v``, ``["bob", "carol"]``) in every dialect:
    it is compact, well known, and the core is the one place that parses it. ``target`` None
    means the current room.
    """

    target: str | None
    modes: str = ""
    args: tuple[str, ...] = ()
    ref: object = None


@dataclass(frozen=True, slots=True)
class Away:
    """Mark oneself away with a message, or back (empty ``text``)."""

    text: str = ""
    ref: object = None


@dataclass(frozen=True, slots=True)
class Whois:
    """Ask about one user: ident, host, rooms, away message, idle time."""

    nick: str
    ref: object = None


@dataclass(frozen=True, slots=True)
class Who:
    """Ask for detailed entries of a room's members, or of users whose nick matches a mask."""

    mask: str
    ref: object = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """Which of ``nicks`` are online, with their hosts (IRC's ISON and USERHOST)."""

    nicks: tuple[str, ...]
    ref: object = None



@dataclass(frozen=True, slots=True)
class FetchHistory:
    """Ask for a page of a room's history (see :class:`chat.history.records.Query`).

    ``room`` None means the current room (human mode). ``everything`` asks for joins, parts,
    quits, kicks and nick changes too, not just what people said.
    """

    room: str | None
    direction: Direction = "latest"
    anchor: Ref | None = None
    end: Ref | None = None
    limit: int = 50
    everything: bool = False
    ref: object = None


@dataclass(frozen=True, slots=True)
class HistoryTargets:
    """Which of the user's rooms had activity between two times (IRCv3 CHATHISTORY TARGETS)."""

    start: float
    end: float
    limit: int = 50
    ref: object = None



@dataclass(frozen=True, slots=True)
class RegisterAccount:
    """Register an account named after the user's nick, with ``password``."""

    password: str = field(repr=False)
    ref: object = None


@dataclass(frozen=True, slots=True)
class Login:
    """Log in to ``account`` (None: the account named like the current nick)."""

    account: str | None
    password: str = field(repr=False)
    ref: object = None


@dataclass(frozen=True, slots=True)
class Logout:
    """Stop being logged in."""

    ref: object = None


@dataclass(frozen=True, slots=True)
class ChangePassword:
    """Change the logged-in account's password (the old one proves it is the owner)."""

    old: str = field(repr=False)
    new: str = field(repr=False)
    ref: object = None



@dataclass(frozen=True, slots=True)
class ScramStep:
    """One client message of a SASL SCRAM-SHA-256 exchange (RFC 5802): the client-first
    message, then (``final``) the client-final one. The account is named inside the first."""

    message: str = field(repr=False)
    final: bool = False
    ref: object = None



@dataclass(frozen=True, slots=True)
class Oper:
    """Become a server operator (``name`` and password from the server's config)."""

    name: str
    password: str = field(repr=False)
    ref: object = None


@dataclass(frozen=True, slots=True)
class Kill:
    """(Server operators) disconnect ``nick`` from the server."""

    nick: str
    reason: str = ""
    ref: object = None


@dataclass(frozen=True, slots=True)
class Wallops:
    """(Server operators) a message to everyone who asked for them (user mode ``+w``)."""

    text: str
    ref: object = None


@dataclass(frozen=True, slots=True)
class ServerBan:
    """(Server operators) ban a ``nick!ident@host`` mask from the whole server for ``seconds``
    (0: until lifted); whoever matches now is disconnected. ``remove`` lifts it; an empty mask
    lists the bans."""

    mask: str
    seconds: float = 0.0
    reason: str = ""
    remove: bool = False
    ref: object = None



@dataclass(frozen=True, slots=True)
class RegisterRoom:
    """Register ``room`` to the user's account: its founder is an operator on every join.
    ``unregister`` gives it up; ``to`` hands it to another account."""

    room: str | None
    unregister: bool = False
    to: str = ""
    ref: object = None


@dataclass(frozen=True, slots=True)
class WhoWas:
    """Who last went by ``nick``: up to ``count`` entries, newest first (0: all kept)."""

    nick: str
    count: int = 0
    ref: object = None


MonitorAction = Literal["+", "-", "C", "L", "S"]


@dataclass(frozen=True, slots=True)
class Monitor:
    """Change or read one's monitor list (IRCv3 MONITOR): ``+`` add ``nicks`` and hear whether
    they are online, ``-`` remove them, ``C`` clear, ``L`` list, ``S`` status of every one."""

    action: MonitorAction
    nicks: tuple[str, ...] = ()
    ref: object = None


@dataclass(frozen=True, slots=True)
class SetRealname:
    """Change one's real name (IRCv3 SETNAME); people sharing a room are told."""

    realname: str
    ref: object = None


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """Ask for the server's counts (users, rooms, operators), uptime and command counts."""

    ref: object = None


Command = (
    Register | ChangeNick | Join | Part | Say | SayTags | SetTopic | ListRooms | ListMembers
    | Ping | Pong | Quit | Help | Invalid | Kick | Invite | Mode | Away | Whois | Who | Lookup
    | FetchHistory | HistoryTargets | RegisterAccount | Login | Logout | ChangePassword
    | ScramStep | Oper | Kill | Wallops | ServerBan | RegisterRoom | WhoWas | Monitor
    | SetRealname | ServerStatus
)
