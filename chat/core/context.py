"""What every rule module shares: the server's state, one call's effects, and the handler registry.

The state (:class:`Context`) outlives calls; the effects (:class:`Effects`) belong to one call and
are returned by it, so nothing a handler says can leak into the next call's answer.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from chat.config import ServerConfig
from chat.core import events as e
from chat.core.model import Room, User
from chat.core.names import clean_text, fold, room_problem
from chat.core.nickhistory import NickHistory
from chat.core.throttle import FailedLogins
from chat.history.records import event_id

MAX_LOOKUP = 20  # names per ISON/USERHOST-style lookup, LIST by name, and spare invites
#: Empty rooms kept in memory for their state and recent lines; beyond this the longest idle
#: one is forgotten (its history stays in the store), so room churn cannot grow memory.
MAX_IDLE_ROOMS = 10_000

Handler = Callable[["Context", "Effects", User, Any], None]
H = TypeVar("H", bound=Handler)


class Effects:
    """What one call into the core makes happen, in order: deliveries and closes.

    ``origin`` is the connection whose command caused them (None when the server acts on its
    own); ``ref`` is that command's correlation token, echoed on replies to it.
    """

    __slots__ = ("origin", "out", "ref")

    def __init__(self, origin: int | None = None, ref: object = None) -> None:
        self.origin = origin
        self.ref = ref
        self.out: list[e.Output] = []

    def send(self, event: e.Event, recipients: tuple[int, ...]) -> None:
        """Deliver ``event`` to ``recipients``, in this order."""
        self.out.append(e.Delivery(event, recipients, self.origin))

    def close(self, conn: int, reason: str) -> None:
        """Close ``conn`` once what was queued for it is sent."""
        self.out.append(e.Close(conn, reason))


class Handlers(dict[type, Handler]):
    """Command type -> handler; each rule module fills one with :meth:`on`."""

    def on(self, *types: type) -> Callable[[H], H]:
        """Decorator: the function handles commands of ``types``."""
        def register(func: H) -> H:
            for kind in types:
                self[kind] = func
            return func
        return register

    @classmethod
    def merge(cls, *tables: Handlers) -> Handlers:
        """One table from several; a command handled twice is a programming error."""
        merged = cls()
        for table in tables:
            twice = merged.keys() & table.keys()
            if twice:
                raise ValueError(f"handled twice: {sorted(t.__name__ for t in twice)}")
            merged.update(table)
        return merged


class Context:
    """The server's state, shared by the rule modules: users, nicks, rooms, event ids."""

    def __init__(self, config: ServerConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.limits = config.limits
        self.clock = clock
        self.started = clock()  # when the server started, on the wall clock
        self.users: dict[int, User] = {}
        self.nicks: dict[str, User] = {}  # folded nick -> registered user
        self.rooms: dict[str, Room] = {}  # folded name -> room
        self.default_room = fold(config.default_room) if config.default_room else None
        self.replay_lines = config.replay_lines
        self.idle_rooms: OrderedDict[str, None] = OrderedDict()  # folded names, oldest first
        self.accounts: set[str] = set()  # folded names of every registered account
        self.failed_logins = FailedLogins()  # per address and per account name
        self.guests = 0  # the last GuestN nick handed out
        self.server_bans: list[e.ServerBanInfo] = []  # server-wide bans (operators set them)
        self.nick_history = NickHistory()  # who went by which nick (WHOWAS)
        self.watchers: dict[str, dict[int, None]] = {}  # folded nick -> who monitors it
        self.max_users = 0  # the most registered users at once (LUSERS)
        self.counted: tuple[float, int, int] | None = None  # when, invisible, operators
        self.command_counts: Counter[str] = Counter()  # commands handled, by type (STATS m)
        # Tells this process's ids from another's made in the same millisecond; from the start
        # time, so a fake clock gives the same ids every run.
        self._node = f"{int(self.started * 1000) % 0x10000:04x}"
        self._next_id = 0

    def envelope(self, room: str | None = None,
                 source: e.Source | None = None) -> tuple[str, float, Any, Any]:
        """A new event's common fields: a unique id, the time, the room and the cause."""
        self._next_id += 1
        now = self.clock()
        return event_id(now, self._node, self._next_id), now, room, source

    def reply(self, fx: Effects, user: User, cls: type[e.Event], room: str | None = None, /,
              **fields: Any) -> None:
        """Send the requester alone an event of type ``cls`` made from ``fields``, with its ref."""
        fx.send(cls(*self.envelope(room), ref=fx.ref, **fields), (user.conn,))

    def error(self, fx: Effects, user: User, code: str, text: str, subject: str = "",
              room: str | None = None) -> None:
        """Tell the requester its command failed; ``code`` is for programs, ``text`` people."""
        self.reply(fx, user, e.Error, room, code=code, text=text, subject=subject)

    def reason(self, text: str) -> str:
        """A user-given reason (part, kick, quit, away) made safe and cut to length."""
        return clean_text(text)[: self.limits.reason_len]

    def find_room(self, fx: Effects, user: User, name: str | None) -> Room | None:
        """The room a command names (or the user's current one), or None after an error."""
        if name is None:
            if user.current is None:
                self.error(fx, user, "not_in_room", "You are not in a room; /join one first")
            return user.current
        room = self.rooms.get(fold(name))
        if room is None:
            problem = room_problem(name, self.limits.room_len)
            code, text = ("room_invalid", problem) if problem else (
                "no_such_room", f"No room named {name}")
            self.error(fx, user, code, text, subject=name)
        return room

    def find_nick(self, fx: Effects, user: User, nick: str) -> User | None:
        """The registered user called ``nick``, or None after a ``no_such_nick`` error."""
        peer = self.nicks.get(fold(nick))
        if peer is None:
            self.error(fx, user, "no_such_nick", f"Nobody is called {nick}", nick)
        return peer

    def neighbours(self, user: User) -> tuple[int, ...]:
        """Everyone sharing a room with ``user`` (each once, ``user`` first)."""
        seen = {user.conn: None}
        for room in user.rooms.values():
            seen.update(dict.fromkeys(room.members))
        return tuple(seen)

    def leave(self, user: User, room: Room) -> None:
        """Take ``user`` out of ``room`` (already announced); an empty room goes away."""
        room.remove(user)
        user.rooms.pop(fold(room.name), None)
        if user.current is room:
            user.current = next(reversed(user.rooms.values()), None)
        if not room.members:
            self.room_emptied(room)

    def room_emptied(self, room: Room) -> None:
        """Nobody is left in ``room``: keep it while it has state or lines to replay."""
        key = fold(room.name)
        if not (room.recent or room.has_state):
            del self.rooms[key]
            return
        idle = self.idle_rooms
        idle[key] = None
        idle.move_to_end(key)
        while len(idle) > MAX_IDLE_ROOMS:
            oldest, _ = idle.popitem(last=False)
            self.rooms.pop(oldest, None)
