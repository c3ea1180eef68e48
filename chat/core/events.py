"""Typed events the core emits, and the explicit "who receives what" value it returns.

Events are frozen and recipient-independent, so a dialect encodes each one once and every
recipient of that dialect gets the same bytes. Every event carries a unique ``id`` and the
server timestamp ``ts``; a history store or a backplane hooks in on :class:`Delivery` values
without touching the command handling that made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.accounts.records import ServerBan as ServerBanInfo
from chat.core.commands import MessageKind

# Answers to one requester live in replies.py, and events about nick history, monitor lists,
# real names and server counts in directory.py; re-exported so ``events`` stays the namespace
# every dialect uses (``e.WhoisReply`` like ``e.Message``).
from chat.core.directory import *  # noqa: F403
from chat.core.envelope import Event as Event
from chat.core.envelope import Source as Source
from chat.core.quickinit import quick_init
from chat.core.replies import *  # noqa: F403
from chat.history.records import Query, RoomState


@quick_init
@dataclass(frozen=True, slots=True)
class Message(Event):
    """Text sent to a room (``room`` set) or privately (``room`` None, ``target`` the nick)."""

    target: str
    text: str
    kind: MessageKind = "message"
    #: For a private message between two logged-in accounts: the key it is kept under in
    #: history (``private_key``); empty otherwise (and for every room message).
    kept_as: str = ""
    #: A room message for its operators (``op``) or operators and voiced (``voice``) only;
    #: such a message is not kept in history.
    status: str = ""
    #: Client-only tags sent with it (see :class:`chat.core.commands.Say`).
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TagMessage(Event):
    """Client-only tags without text to a room (``room`` set) or a nick (``target``); only
    dialects that carry tags show it (IRC's TAGMSG, to clients with ``message-tags``)."""

    target: str
    tags: tuple[tuple[str, str], ...]
    status: str = ""


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
class PingRequest(Event):
    """The server asks a silent client to prove it is still there."""

    token: str


@dataclass(frozen=True, slots=True)
class Notice(Event):
    """A message from the server itself (shutdown warnings, rate-limit notices).

    ``code`` names the few a dialect words in its own way (``nick_protected``: the warning that
    a nick belongs to an account, which IRC clients get from NickServ).
    """

    text: str
    code: str = ""


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
    """``source`` invited ``target`` (a nick) to ``room``; sent to both.

    ``witnessed`` True: the copy told to the room's other members who could have invited too
    (operators of a ``+i`` room, else everyone), which only IRC's ``invite-notify`` shows.
    """

    target: str
    witnessed: bool = False


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
class AwayStatus(Event):
    """``nick`` is away with ``text`` (or back, ``text`` empty).

    ``changed`` True announces a change (to the user and everyone sharing a room); False tells
    someone who just messaged ``nick`` that it is away.
    """

    nick: str
    text: str
    changed: bool = False
    #: True: not a change, but telling a room that someone who is away just joined it
    #: (IRC's away-notify wants this); dialects that show changes only may skip it.
    on_join: bool = False


@dataclass(frozen=True, slots=True)
class History(Event):
    """Past events of ``room``, oldest first, for one user.

    ``replay`` True: the recent lines shown on join; False: a page the user asked for (then
    ``direction`` says which, for clients that page on). Each event keeps its original id and time.
    """

    events: tuple[Event, ...]
    replay: bool = False
    direction: str = "latest"


@dataclass(frozen=True, slots=True)
class HistoryTargetList(Event):
    """The user's rooms with activity in a time window: ``(room, newest time)``, newest first."""

    targets: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class AccountStatus(Event):
    """The user's own account changed: ``status`` is ``registered``, ``logged_in``,
    ``logged_out`` or ``password_changed``; ``account`` is the account (empty when out)."""

    account: str
    status: str


@dataclass(frozen=True, slots=True)
class SaslChallenge(Event):
    """The server's next SCRAM message to the user (server-first, then server-final)."""

    data: str


@dataclass(frozen=True, slots=True)
class AccountChanged(Event):
    """``source`` logged in to ``account`` (or out: ``account`` empty); told to the rooms."""

    account: str


@dataclass(frozen=True, slots=True)
class OperStatus(Event):
    """The user is now a server operator, as ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class WallopsMessage(Event):
    """A server operator's message to everyone with user mode ``+w``."""

    text: str


@dataclass(frozen=True, slots=True)
class ServerBanList(Event):
    """The server-wide bans in force (answer to an operator)."""

    bans: tuple[ServerBanInfo, ...]


@quick_init
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


@dataclass(frozen=True, slots=True)
class SaveRoom:
    """A room's lasting state changed (created, topic, modes, bans): a store keeps it."""

    state: RoomState


@dataclass(frozen=True, slots=True)
class Recall:
    """The core needs history it does not hold: the hub fetches it off the hot path and hands
    the answer back through :meth:`ChatCore.recalled`.

    ``query`` a page of one room; or, with ``query`` None, the ``rooms`` with activity between
    ``start`` and ``end`` (at most ``limit``).
    """

    conn: int
    query: Query | None
    ref: object = None
    rooms: tuple[str, ...] = ()
    start: float = 0.0
    end: float = 0.0
    limit: int = 0
    target: str = ""  # what the asker named (a nick, for private history)


@dataclass(frozen=True, slots=True)
class Authenticate:
    """The core needs a password hashed or checked (slow by design): the hub hands it to the
    account workers and the result comes back through :meth:`ChatCore.authenticated`.

    ``op`` is ``register``, ``login`` or ``password`` (check ``password``, then set
    ``new_password``), or ``scram-first``/``scram-final`` (``password`` holds the client's SCRAM
    message). The passwords are never logged and never shown in a repr.
    """

    conn: int
    op: str
    account: str
    password: str = field(repr=False)
    new_password: str = field(default="", repr=False)
    ref: object = None


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A worker's answer: ``ok``, the account as stored, and if not ok why (``taken``,
    ``wrong``, ``busy``, ``error``)."""

    ok: bool
    account: str
    problem: str = ""
    reply: str = ""  # SCRAM: the server's message to send back


@dataclass(frozen=True, slots=True)
class Later:
    """The core wants to look at ``conn`` again after ``delay`` seconds (the hub keeps time):
    for now only the grace to log in to a registered nick (``ChatCore.nick_grace_over``)."""

    conn: int
    delay: float


@dataclass(frozen=True, slots=True)
class SaveServerBans:
    """The server-wide bans changed: a store keeps the whole list."""

    bans: tuple[ServerBanInfo, ...]


Output = Delivery | Close | SaveRoom | Recall | Authenticate | Later | SaveServerBans
