"""ChatCore: every chat rule, with no I/O.

It takes a typed command from one connection and returns what must happen as a list of
:class:`Delivery` (an event and who receives it) and :class:`Close` values. Engines serialise
calls into it (the threaded engine under one lock, the asyncio engine on its loop), so the core
never locks and every member of a room sees that room's events in the order returned here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chat.config import ServerConfig
from chat.core import commands as c
from chat.core import events as e
from chat.core.model import Room, User
from chat.core.names import clean_text, fold, nick_problem, room_problem

_BEFORE_REGISTRATION = (c.Register, c.Ping, c.Pong, c.Quit, c.Invalid)


class ChatCore:
    """Users, rooms and the rules between them."""

    def __init__(self, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.limits = config.limits
        self.clock = clock
        self.users: dict[int, User] = {}
        self.nicks: dict[str, User] = {}  # folded nick -> registered user
        self.rooms: dict[str, Room] = {}  # folded name -> room
        self._id_prefix = f"{int(clock() * 1000) % 36**6:x}-"
        self._next_id = 0
        self._out: list[e.Output] = []
        self._handlers: dict[type, Callable[[User, Any], None]] = {
            c.Register: self._register,
            c.ChangeNick: self._change_nick,
            c.Join: self._join,
            c.Part: self._part,
            c.Say: self._say,
            c.SetTopic: self._topic,
            c.ListRooms: self._list_rooms,
            c.ListMembers: self._list_members,
            c.Ping: self._ping,
            c.Pong: lambda user, cmd: None,
            c.Quit: self._quit,
            c.Invalid: self._invalid,
        }

    # -- the interface the hub uses -------------------------------------------------------

    def connect(self, conn: int, host: str) -> None:
        """A new connection exists; it is not a registered user yet."""
        self.users[conn] = User(conn=conn, host=host)

    def handle(self, conn: int, command: c.Command) -> list[e.Output]:
        """Apply one command from ``conn``; return the deliveries and closes it causes."""
        user = self.users.get(conn)
        if user is None:  # already gone (a command raced with its own disconnect)
            return []
        self._out = out = []
        if not user.registered and not isinstance(command, _BEFORE_REGISTRATION):
            self._error(user, "not_registered", "Pick a nickname first", command)
        else:
            self._handlers[type(command)](user, command)
        return out

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """The connection is gone (closed by either side); tell the rooms it was in."""
        user = self.users.pop(conn, None)
        self._out = out = []
        if user is not None and user.registered:
            self._announce_quit(user, clean_text(reason)[: self.limits.reason_len])
        return out

    def shutdown(self, reason: str) -> list[e.Output]:
        """Tell every connection the server is going away, then close them all."""
        self._out = out = []
        conns = tuple(self.users)
        if conns:
            self._emit(e.Disconnect(*self._envelope(None, None), reason=reason), conns)
        out.extend(e.Close(conn, reason) for conn in conns)
        return out

    def drop(self, conn: int, reason: str) -> list[e.Output]:
        """The server closes a connection for ``reason`` (timeouts, floods): tell it why first."""
        self._out = out = []
        if conn in self.users:
            self._emit(e.Disconnect(*self._envelope(None, None), reason=reason), (conn,))
            out.append(e.Close(conn, reason))
        return out

    def user(self, conn: int) -> User | None:
        """The user behind a connection, for dialects that address replies by nick."""
        return self.users.get(conn)

    # -- helpers -------------------------------------------------------------------------

    def _envelope(self, room: str | None, source: e.Source | None) -> tuple[str, float, Any, Any]:
        self._next_id += 1
        return f"{self._id_prefix}{self._next_id}", self.clock(), room, source

    def _emit(self, event: e.Event, recipients: tuple[int, ...]) -> None:
        self._out.append(e.Delivery(event, recipients))

    def _error(self, user: User, code: str, text: str, cmd: Any, subject: str = "") -> None:
        ref = getattr(cmd, "ref", None)
        event = e.Error(*self._envelope(None, None), code=code, text=text, subject=subject, ref=ref)
        self._emit(event, (user.conn,))

    def _notice(self, user: User, text: str, room: str | None = None) -> None:
        self._emit(e.Notice(*self._envelope(room, None), text=text), (user.conn,))

    def _find_room(self, user: User, name: str | None, cmd: Any) -> Room | None:
        """The room a command names (or the user's current one), or None after an error."""
        if name is None:
            if user.current is None:
                self._error(user, "not_in_room", "You are not in a room; /join one first", cmd)
            return user.current
        room = self.rooms.get(fold(name))
        if room is None:
            problem = room_problem(name, self.limits.room_len)
            code, text = ("room_invalid", problem) if problem else (
                "no_such_room", f"No room named {name}")
            self._error(user, code, text, cmd, subject=name)
        return room

    def _check_nick(self, user: User, nick: str, cmd: Any) -> bool:
        problem = nick_problem(nick, self.limits.nick_len)
        if problem:
            self._error(user, "nick_invalid", f"Invalid nickname {nick!r}: {problem}", cmd, nick)
            return False
        holder = self.nicks.get(fold(nick))
        if holder is not None and holder is not user:
            self._error(user, "nick_taken", f"Nickname {nick!r} is already in use", cmd, nick)
            return False
        return True

    def _neighbours(self, user: User) -> tuple[int, ...]:
        """Everyone sharing a room with ``user`` (each once, ``user`` first)."""
        seen = {user.conn: None}
        for room in user.rooms.values():
            seen.update(dict.fromkeys(room.members))
        return tuple(seen)

    def _announce_quit(self, user: User, reason: str) -> None:
        rooms = tuple(room.name for room in user.rooms.values())
        others = self._neighbours(user)[1:]
        if others:
            event = e.Quitted(*self._envelope(None, user.source), reason=reason, rooms=rooms)
            self._emit(event, others)
        for room in list(user.rooms.values()):
            self._leave(user, room)
        del self.nicks[fold(user.nick)]

    def _leave(self, user: User, room: Room) -> None:
        room.remove(user)
        user.rooms.pop(fold(room.name), None)
        if user.current is room:
            user.current = next(reversed(user.rooms.values()), None)
        if not room.members:
            del self.rooms[fold(room.name)]

    # -- command handlers -----------------------------------------------------------------

    def _register(self, user: User, cmd: c.Register) -> None:
        if user.registered:
            self._error(user, "already_registered", "You already have a nickname; use /nick", cmd)
            return
        if not self._check_nick(user, cmd.nick, cmd):
            return
        user.nick = cmd.nick
        user.ident = clean_text(cmd.ident)[:16] or cmd.nick
        user.realname = clean_text(cmd.realname)[:100]
        user.registered = True
        self.nicks[fold(cmd.nick)] = user
        lim = self.limits
        limits = {
            "max_line": lim.max_line, "nick_len": lim.nick_len, "room_len": lim.room_len,
            "topic_len": lim.topic_len, "message_len": lim.message_len,
        }
        welcome = e.Welcome(
            *self._envelope(None, None), nick=user.nick, server=self.config.name,
            motd=self.config.motd, limits=limits,
        )
        self._emit(welcome, (user.conn,))
        if cmd.join_default and self.config.default_room:
            self._join(user, c.Join(self.config.default_room))

    def _change_nick(self, user: User, cmd: c.ChangeNick) -> None:
        if cmd.nick == user.nick:
            return
        if not self._check_nick(user, cmd.nick, cmd):
            return
        recipients = self._neighbours(user)
        rooms = tuple(room.name for room in user.rooms.values())
        event = e.NickChanged(*self._envelope(None, user.source), new_nick=cmd.nick, rooms=rooms)
        del self.nicks[fold(user.nick)]
        user.nick = cmd.nick
        self.nicks[fold(cmd.nick)] = user
        self._emit(event, recipients)

    def _join(self, user: User, cmd: c.Join) -> None:
        name = cmd.room
        problem = room_problem(name, self.limits.room_len)
        if problem:
            self._error(user, "room_invalid", f"Invalid room name {name!r}: {problem}", cmd, name)
            return
        key = fold(name)
        room = self.rooms.get(key)
        if room is not None and user.conn in room.members:
            user.current = room
            self._notice(user, f"Now talking in {room.name}", room.name)
            return
        lim = self.limits
        if lim.max_rooms_per_user and len(user.rooms) >= lim.max_rooms_per_user:
            text = f"You are already in {lim.max_rooms_per_user} rooms; /part one first"
            self._error(user, "too_many_rooms", text, cmd, name)
            return
        if room is None:
            room = self.rooms[key] = Room(name=name, created=self.clock())
            room.ops.add(user.conn)  # whoever creates a room runs it
        elif lim.max_members_per_room and len(room.members) >= lim.max_members_per_room:
            self._error(user, "room_full", f"{room.name} is full", cmd, room.name)
            return
        room.add(user)
        user.rooms[key] = room
        user.current = room
        self._emit(e.Joined(*self._envelope(room.name, user.source)), room.recipients)
        if room.topic:
            self._send_topic(user, room, changed=False)
        self._emit(
            e.MemberList(*self._envelope(room.name, None), members=room.member_list()),
            (user.conn,),
        )

    def _part(self, user: User, cmd: c.Part) -> None:
        room = self._find_room(user, cmd.room, cmd)
        if room is None:
            return
        if user.conn not in room.members:
            self._error(user, "not_in_room", f"You are not in {room.name}", cmd, room.name)
            return
        reason = clean_text(cmd.reason)[: self.limits.reason_len]
        self._emit(e.Parted(*self._envelope(room.name, user.source), reason=reason),
                   room.recipients)
        self._leave(user, room)

    def _say(self, user: User, cmd: c.Say) -> None:
        text = clean_text(cmd.text)
        if not text.strip():
            self._error(user, "empty_message", "Nothing to send", cmd)
            return
        if len(text) > self.limits.message_len:
            limit = self.limits.message_len
            self._error(user, "message_too_long", f"Messages are at most {limit} characters", cmd)
            return
        target = cmd.target
        if target is None or target.startswith("#"):
            room = self._find_room(user, target, cmd)
            if room is None:
                return
            if user.conn not in room.members:
                text = f"You must join {room.name} to talk there"
                self._error(user, "not_in_room", text, cmd, room.name)
                return
            event = e.Message(*self._envelope(room.name, user.source), target=room.name,
                              text=text, kind=cmd.kind)
            self._emit(event, room.recipients)
            return
        peer = self.nicks.get(fold(target))
        if peer is None:
            self._error(user, "no_such_nick", f"Nobody is called {target}", cmd, target)
            return
        event = e.Message(*self._envelope(None, user.source), target=peer.nick, text=text,
                          kind=cmd.kind)
        self._emit(event, (peer.conn,) if peer is user else (peer.conn, user.conn))

    def _send_topic(self, user: User, room: Room, changed: bool) -> None:
        event = e.Topic(*self._envelope(room.name, None), topic=room.topic, set_by=room.topic_by,
                        set_at=room.topic_at, changed=changed)
        self._emit(event, room.recipients if changed else (user.conn,))

    def _topic(self, user: User, cmd: c.SetTopic) -> None:
        room = self._find_room(user, cmd.room, cmd)
        if room is None:
            return
        if cmd.topic is None:
            self._send_topic(user, room, changed=False)
            return
        if user.conn not in room.members:
            text = f"You must join {room.name} to set its topic"
            self._error(user, "not_in_room", text, cmd, room.name)
            return
        topic = clean_text(cmd.topic)
        if len(topic) > self.limits.topic_len:
            limit = self.limits.topic_len
            self._error(user, "topic_too_long", f"Topics are at most {limit} characters", cmd)
            return
        room.topic, room.topic_by, room.topic_at = topic, user.nick, self.clock()
        event = e.Topic(*self._envelope(room.name, user.source), topic=room.topic,
                        set_by=room.topic_by, set_at=room.topic_at, changed=True)
        self._emit(event, room.recipients)

    def _list_rooms(self, user: User, cmd: c.ListRooms) -> None:
        rooms = tuple(
            e.RoomInfo(r.name, len(r.members), r.topic)
            for r in sorted(self.rooms.values(), key=lambda r: fold(r.name))
        )
        self._emit(e.RoomList(*self._envelope(None, None), rooms=rooms), (user.conn,))

    def _list_members(self, user: User, cmd: c.ListMembers) -> None:
        room = self._find_room(user, cmd.room, cmd)
        if room is not None:
            event = e.MemberList(*self._envelope(room.name, None), members=room.member_list())
            self._emit(event, (user.conn,))

    def _ping(self, user: User, cmd: c.Ping) -> None:
        self._emit(e.PongReply(*self._envelope(None, None), token=cmd.token), (user.conn,))

    def _quit(self, user: User, cmd: c.Quit) -> None:
        reason = clean_text(cmd.reason)[: self.limits.reason_len] or "Quit"
        self._emit(e.Disconnect(*self._envelope(None, None), reason=f"Goodbye ({reason})"),
                   (user.conn,))
        if user.registered:
            self._announce_quit(user, reason)
        # Gone from the core now, so the disconnect() that follows the close announces nothing.
        del self.users[user.conn]
        self._out.append(e.Close(user.conn, f"Quit: {reason}"))

    def _invalid(self, user: User, cmd: c.Invalid) -> None:
        self._error(user, cmd.code, cmd.text, cmd)
