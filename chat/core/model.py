"""The core's state: users and rooms. Plain mutable objects owned by one ChatCore."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from chat.core.events import BanInfo, Event, Member, Source

#: Modes a new room starts with. ``n`` (no messages from outside) is what rooms always did;
#: ``t`` (topic lock) is left to operators so anyone in a room can still set its topic.
DEFAULT_ROOM_MODES = frozenset("n")


@dataclass(eq=False, slots=True)
class User:
    """One connection's person. ``nick`` is empty until registration succeeds."""

    conn: int
    host: str
    nick: str = ""
    ident: str = ""
    realname: str = ""
    registered: bool = False
    rooms: dict[str, Room] = field(default_factory=dict)  # folded name -> room, in join order
    current: Room | None = None  # where a human's plain lines go
    away: str = ""  # the away message; empty when present
    account: str = ""  # the account logged in to; empty when not
    authenticating: bool = False  # an account request is with the workers
    grace_until: float = 0.0  # when the grace to log in to a registered nick ends
    oper: str = ""  # the server operator name it logged in as (OPER); empty when none
    #: Its client cannot answer client-to-client queries (CTCP VERSION, PING) itself, as a
    #: person on telnet cannot: the server answers for it (the hub sets it from the dialect).
    ctcp_by_server: bool = False
    # Both start as a shared empty frozenset and become a set on first change: most users
    # never set a mode or get an invite, and an empty set costs 216 bytes per connection.
    modes: set[str] | frozenset[str] = frozenset()  # user modes: i invisible, w wallops, B bot
    invites: set[str] | frozenset[str] = frozenset()  # folded room names invited to
    #: Nicks this user monitors (IRCv3 MONITOR): folded -> as given; None until the first.
    monitoring: dict[str, str] | None = None
    signon: float = 0.0
    last_active: float = 0.0  # last message sent, for WHOIS idle time
    _source: Source | None = None

    @property
    def source(self) -> Source:
        """Snapshot used as the cause of events; rebuilt only when the nick, account, real name
        or bot mode (+B) changes (``is not``: a new real name is a new string, and the check
        stays cheap)."""
        source = self._source
        if (source is None or source.nick != self.nick or source.account != self.account
                or source.realname is not self.realname
                or source.bot != ("B" in self.modes)):
            source = self._source = Source(self.nick, self.ident or self.nick, self.host,
                                           self.account, self.realname, "B" in self.modes)
        return source


@dataclass(eq=False, slots=True)
class Room:
    """A room and its members, kept in join order so listings are stable."""

    name: str
    created: float
    members: dict[int, User] = field(default_factory=dict)
    ops: set[int] = field(default_factory=set)
    voiced: set[int] = field(default_factory=set)
    topic: str = ""
    topic_by: str = ""
    topic_at: float = 0.0
    modes: set[str] = field(default_factory=lambda: set(DEFAULT_ROOM_MODES))  # flags: imnt
    key: str = ""  # +k: needed to join
    limit: int = 0  # +l: most members allowed (0: none)
    bans: list[BanInfo] = field(default_factory=list)  # +b masks, in the order set
    excepts: list[BanInfo] = field(default_factory=list)  # +e: ban exceptions
    invex: list[BanInfo] = field(default_factory=list)  # +I: may join +i uninvited
    recent: deque[Event] | None = None  # the last lines said, replayed to joiners
    founder: str = ""  # the account that registered the room; it gets +o on every join
    _recipients: tuple[int, ...] | None = None

    @property
    def recipients(self) -> tuple[int, ...]:
        """Member connections as a tuple, cached between membership changes (the fan-out path)."""
        if self._recipients is None:
            self._recipients = tuple(self.members)
        return self._recipients

    @property
    def has_state(self) -> bool:
        """Whether the room holds anything worth keeping while nobody is in it (its lines to
        replay aside): a topic, a key or limit, mask lists, a founder, modes not the default."""
        return bool(self.topic or self.key or self.limit or self.bans or self.excepts
                    or self.invex or self.founder or self.modes != DEFAULT_ROOM_MODES)

    def add(self, user: User) -> None:
        """Add a member (no announcement: the core does that)."""
        self.members[user.conn] = user
        self._recipients = None

    def remove(self, user: User) -> None:
        """Remove a member and whatever status it had here."""
        self.members.pop(user.conn, None)
        self.ops.discard(user.conn)
        self.voiced.discard(user.conn)
        self._recipients = None

    def mode_string(self, show_key: bool = True) -> tuple[str, tuple[str, ...]]:
        """The room's modes as ``("+klnt", (key, "10"))``; the key only for members."""
        chars = sorted(self.modes)
        args: list[str] = []
        if self.key:
            chars.append("k")
            args.append(self.key if show_key else "*")
        if self.limit:
            chars.append("l")
            args.append(str(self.limit))
        return "+" + "".join(chars), tuple(args)

    @property
    def visibility(self) -> str:
        """``secret`` (+s), ``private`` (+p) or ``public``: how the room shows to outsiders."""
        modes = self.modes
        return "secret" if "s" in modes else "private" if "p" in modes else "public"

    def hidden_from(self, user: User) -> bool:
        """True if ``user`` must not see this room in lists (+s or +p, and not a member)."""
        return ("s" in self.modes or "p" in self.modes) and user.conn not in self.members

    def member_list(self) -> tuple[Member, ...]:
        """Members as event values."""
        return tuple(
            Member(u.nick, c in self.ops, c in self.voiced, u.ident or u.nick, u.host, u.account)
            for c, u in self.members.items()
        )
