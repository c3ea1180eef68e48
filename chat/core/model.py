"""The core's state: users and rooms. Plain mutable objects owned by one ChatCore."""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.core.events import Member, Source


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
    _source: Source | None = None

    @property
    def source(self) -> Source:
        """Snapshot used as the cause of events; rebuilt only when the nick changes."""
        if self._source is None or self._source.nick != self.nick:
            self._source = Source(self.nick, self.ident or self.nick, self.host)
        return self._source


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
    _recipients: tuple[int, ...] | None = None

    @property
    def recipients(self) -> tuple[int, ...]:
        """Member connections as a tuple, cached between membership changes (the fan-out path)."""
        if self._recipients is None:
            self._recipients = tuple(self.members)
        return self._recipients

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

    def member_list(self) -> tuple[Member, ...]:
        """Members as event values."""
        return tuple(
            Member(u.nick, c in self.ops, c in self.voiced, u.ident or u.nick, u.host)
            for c, u in self.members.items()
        )
