"""ChatCore: the facade the hub calls; the rules live in one module per concern (see
chat/core/__init__.py).

Each call returns what must happen as a list of :class:`Delivery` (an event and who receives
it) and :class:`Close` values. Engines serialise calls into it (the threaded engine under one
lock, the asyncio engine on its loop), so the core never locks and every member of a room sees
that room's events in the order returned here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chat.config import ServerConfig
from chat.core import (
    accounts,
    history,
    messages,
    moderation,
    modes,
    monitor,
    operators,
    owners,
    people,
    presence,
    registration,
    rooms,
    serverinfo,
)
from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import Room, User
from chat.core.names import fold
from chat.history.records import RoomState

#: Every command the core handles, by type, gathered from the rule modules.
HANDLERS = Handlers.merge(registration.HANDLERS, rooms.HANDLERS, messages.HANDLERS,
                          moderation.HANDLERS, modes.HANDLERS, presence.HANDLERS,
                          history.HANDLERS, accounts.HANDLERS, operators.HANDLERS,
                          owners.HANDLERS, monitor.HANDLERS, people.HANDLERS,
                          serverinfo.HANDLERS)

#: Commands a connection may send before it has a nick (IRC's SASL logs in before, and logs out
#: again when a SCRAM client aborts after the server's final message).
_BEFORE_REGISTRATION = (c.Register, c.Ping, c.Pong, c.Quit, c.Invalid, c.Login, c.ScramStep,
                        c.Logout)


class ChatCore:
    """Users, rooms and the rules between them."""

    def __init__(self, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self._ctx = ctx = Context(config, clock)
        self.config = config
        self.limits = ctx.limits
        self.clock = clock
        self.users: dict[int, User] = ctx.users
        self.nicks: dict[str, User] = ctx.nicks  # folded nick -> registered user
        self.rooms: dict[str, Room] = ctx.rooms  # folded name -> room

    def connect(self, conn: int, host: str) -> None:
        """A new connection exists; it is not a registered user yet."""
        self.users[conn] = User(conn=conn, host=host)

    def handle(self, conn: int, command: c.Command) -> list[e.Output]:
        """Apply one command from ``conn``; return the deliveries and closes it causes."""
        user = self.users.get(conn)
        if user is None:  # already gone (a command raced with its own disconnect)
            return []
        fx = Effects(conn, command.ref)
        self._ctx.command_counts[command.__class__.__name__] += 1
        if not user.registered and not isinstance(command, _BEFORE_REGISTRATION):
            self._ctx.error(fx, user, "not_registered", "Pick a nickname first")
        else:
            HANDLERS[type(command)](self._ctx, fx, user, command)
        return fx.out

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """The connection is gone (closed by either side); tell the rooms it was in."""
        user = self.users.pop(conn, None)
        fx = Effects(conn)
        if user is not None and user.registered:
            registration.announce_quit(self._ctx, fx, user, self._ctx.reason(reason))
        return fx.out

    def shutdown(self, reason: str) -> list[e.Output]:
        """Tell every connection the server is going away, then close them all."""
        fx = Effects()
        conns = tuple(self.users)
        if conns:
            fx.send(e.Disconnect(*self._ctx.envelope(), reason=reason), conns)
        for conn in conns:
            fx.close(conn, reason)
        return fx.out

    def drop(self, conn: int, reason: str) -> list[e.Output]:
        """The server closes a connection for ``reason`` (timeouts, floods): tell it why first."""
        fx = Effects()
        if conn in self.users:
            fx.send(e.Disconnect(*self._ctx.envelope(), reason=reason), (conn,))
            fx.close(conn, reason)
        return fx.out

    def ping_event(self) -> e.PingRequest:
        """A server ping with a unique token (its event id), for the idle check."""
        envelope = self._ctx.envelope()
        return e.PingRequest(*envelope, token=envelope[0])

    def restore(self, rooms: list[RoomState], recent: dict[str, list[e.Event]]) -> None:
        """Bring back rooms a store kept (at start, before anyone connects), empty, with the
        recent lines of each (by folded name) for the next joiner."""
        ctx = self._ctx
        for state in rooms:
            key = fold(state.name)
            if key not in self.rooms:
                room = history.restored(state, recent.get(key, []), ctx.replay_lines)
                self.rooms[key] = room
                ctx.room_emptied(room)

    def recalled(self, recall: e.Recall,
                 answer: list[e.Event] | list[tuple[str, float]]) -> list[e.Output]:
        """A store answered ``recall``: the deliveries that give the answer to its asker."""
        user = self.users.get(recall.conn)
        if user is None:  # gone while the store looked
            return []
        return history.recalled(self._ctx, user, recall, answer)

    def restore_server_bans(self, bans: list[e.ServerBanInfo]) -> None:
        """The server-wide bans a store kept (at start)."""
        self._ctx.server_bans[:] = bans

    def restore_accounts(self, names: list[str]) -> None:
        """Every registered account's name (at start)."""
        self._ctx.accounts.update(fold(name) for name in names)

    def authenticated(self, request: e.Authenticate, result: e.AuthResult) -> list[e.Output]:
        """The account workers answered ``request``: what the user (and its rooms) are told."""
        user = self.users.get(request.conn)
        if user is None:
            return []
        return accounts.authenticated(self._ctx, user, request, result)

    def nick_grace_over(self, conn: int) -> list[e.Output]:
        """The time to log in to a registered nick ``conn`` took is up."""
        user = self.users.get(conn)
        return [] if user is None else registration.nick_grace_over(self._ctx, user)

    def user(self, conn: int) -> User | None:
        """The user behind a connection, for dialects that address replies by nick."""
        return self.users.get(conn)
