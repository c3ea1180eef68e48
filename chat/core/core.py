"""ChatCore: every chat rule, with no I/O.

It takes a typed command from one connection and returns what must happen as a list of
:class:`Delivery` (an event and who receives it) and :class:`Close` values. Engines serialise
calls into it (the threaded engine under one lock, the asyncio engine on its loop), so the core
never locks and every member of a room sees that room's events in the order returned here.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Any

from chat.config import ServerConfig
from chat.core import commands as c
from chat.core import events as e
from chat.core.model import Room, User
from chat.core.names import (
    MAX_MASK,
    clean_ident,
    clean_text,
    fold,
    mask_match,
    nick_problem,
    normalize_mask,
    room_problem,
)

#: Room modes the core understands, grouped as IRC's CHANMODES advertises them:
#: lists (b), always with an argument (k), with an argument when set (l), flags (imnt).
#: o and v (operator, voice) are member statuses and take a nick.
LIST_MODES, KEY_MODES, LIMIT_MODES, FLAG_MODES, STATUS_MODES = "b", "k", "l", "imnt", "ov"
USER_MODES = "iw"
MAX_MODE_ARGS = 6  # mode changes with an argument per command (IRC MODES=6)
MAX_BANS = 100
MAX_LOOKUP = 20  # nicks per ISON/USERHOST-style lookup
MAX_WHO = 200  # entries in one WHO reply for a mask (a room's WHO lists the whole room)
MAX_LIST = 10_000  # rooms in one LIST reply; more gets "too_many_matches"
#: Nicks the server's own services will answer to: nobody may take them, or they would receive
#: other people's "IDENTIFY password" lines.
RESERVED_NICKS = frozenset(
    fold(n) for n in ("NickServ", "ChanServ", "OperServ", "MemoServ", "HostServ", "BotServ",
                      "SaslServ", "Global", "Services", "HistServ")
)

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
        self._default_room = fold(config.default_room) if config.default_room else None
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
            c.Kick: self._kick,
            c.Invite: self._invite,
            c.Mode: self._mode,
            c.Away: self._away,
            c.Whois: self._whois,
            c.Who: self._who,
            c.Lookup: self._lookup,
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
        out = self._out = []
        if not user.registered and not isinstance(command, _BEFORE_REGISTRATION):
            self._error(user, "not_registered", "Pick a nickname first", command)
        else:
            self._handlers[type(command)](user, command)
        return out

    def disconnect(self, conn: int, reason: str) -> list[e.Output]:
        """The connection is gone (closed by either side); tell the rooms it was in."""
        user = self.users.pop(conn, None)
        out = self._out = []
        if user is not None and user.registered:
            self._announce_quit(user, clean_text(reason)[: self.limits.reason_len])
        return out

    def shutdown(self, reason: str) -> list[e.Output]:
        """Tell every connection the server is going away, then close them all."""
        out = self._out = []
        conns = tuple(self.users)
        if conns:
            self._emit(e.Disconnect(*self._envelope(None, None), reason=reason), conns)
        out.extend(e.Close(conn, reason) for conn in conns)
        return out

    def drop(self, conn: int, reason: str) -> list[e.Output]:
        """The server closes a connection for ``reason`` (timeouts, floods): tell it why first."""
        out = self._out = []
        if conn in self.users:
            self._emit(e.Disconnect(*self._envelope(None, None), reason=reason), (conn,))
            out.append(e.Close(conn, reason))
        return out

    def ping_event(self) -> e.PingRequest:
        """A server ping with a unique token (its event id), for the idle check."""
        envelope = self._envelope(None, None)
        return e.PingRequest(*envelope, token=envelope[0])

    def user(self, conn: int) -> User | None:
        """The user behind a connection, for dialects that address replies by nick."""
        return self.users.get(conn)

    # -- helpers -------------------------------------------------------------------------

    def _envelope(self, room: str | None, source: e.Source | None) -> tuple[str, float, Any, Any]:
        self._next_id += 1
        return f"{self._id_prefix}{self._next_id}", self.clock(), room, source

    def _emit(self, event: e.Event, recipients: tuple[int, ...]) -> None:
        self._out.append(e.Delivery(event, recipients))

    def _error(self, user: User, code: str, text: str, cmd: Any, subject: str = "",
               room: str | None = None) -> None:
        ref = getattr(cmd, "ref", None)
        event = e.Error(*self._envelope(room, None), code=code, text=text, subject=subject, ref=ref)
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
        if fold(nick) in RESERVED_NICKS:
            text = f"Invalid nickname {nick!r}: it is reserved for the server's services"
            self._error(user, "nick_invalid", text, cmd, nick)
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
        user.ident = clean_ident(cmd.ident)[:16] or cmd.nick
        user.realname = clean_text(cmd.realname)[:100]
        user.registered = True
        user.signon = user.last_active = self.clock()
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
            # Whoever creates a room runs it, except the default room everyone is put in: it
            # belongs to the server, or its first user could lock every newcomer out of it.
            if key != self._default_room:
                room.ops.add(user.conn)
        elif not self._may_join(user, room, cmd):
            return
        if key in user.invites:
            user.invites.discard(key)  # type: ignore[union-attr]  # non-empty: a set
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

    def _may_join(self, user: User, room: Room, cmd: c.Join) -> bool:
        """Whether ``user`` gets into an existing ``room``; if not, it has been told why."""
        lim = self.limits
        invited = fold(room.name) in user.invites
        full = (lim.max_members_per_room and len(room.members) >= lim.max_members_per_room) or (
            room.limit and len(room.members) >= room.limit and not invited)
        if self._banned(user, room):
            code, text = "banned", f"You are banned from {room.name}"
        elif "i" in room.modes and not invited:
            code, text = "invite_only", f"{room.name} is invite-only; ask an operator to invite you"
        elif room.key and cmd.key != room.key:
            code, text = "bad_key", f"{room.name} needs the right key to join"
        elif full:
            code, text = "room_full", f"{room.name} is full"
        else:
            return True
        self._error(user, code, text, cmd, room.name, room.name)
        return False

    def _banned(self, user: User, room: Room) -> bool:
        if not room.bans:
            return False
        hostmask = f"{user.nick}!{user.ident}@{user.host}"
        return any(mask_match(ban.mask, hostmask) for ban in room.bans)

    def _is_op(self, user: User, room: Room, cmd: Any) -> bool:
        """True if ``user`` runs ``room``; otherwise it has been told so."""
        if user.conn in room.ops:
            return True
        text = f"You must be an operator of {room.name} to do that"
        self._error(user, "not_op", text, cmd, room.name, room.name)
        return False

    def _member(self, user: User, room: Room, cmd: Any) -> bool:
        """True if ``user`` is in ``room``; otherwise it has been told so."""
        if user.conn in room.members:
            return True
        self._error(user, "not_in_room", f"You are not in {room.name}", cmd, room.name, room.name)
        return False

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
            if not self._may_speak(user, room, cmd):
                return
            user.last_active = self.clock()
            event = e.Message(*self._envelope(room.name, user.source), target=room.name,
                              text=text, kind=cmd.kind)
            self._emit(event, room.recipients)
            return
        peer = self.nicks.get(fold(target))
        if peer is None:
            self._error(user, "no_such_nick", f"Nobody is called {target}", cmd, target)
            return
        user.last_active = self.clock()
        event = e.Message(*self._envelope(None, user.source), target=peer.nick, text=text,
                          kind=cmd.kind)
        self._emit(event, (peer.conn,) if peer is user else (peer.conn, user.conn))
        if peer.away and cmd.kind != "notice":  # notices never trigger automatic replies
            away = e.AwayStatus(*self._envelope(None, peer.source), nick=peer.nick,
                                text=peer.away)
            self._emit(away, (user.conn,))

    def _may_speak(self, user: User, room: Room, cmd: c.Say) -> bool:
        """Room rules for talking: members only (+n), voice in +m rooms, no banned voices."""
        conn = user.conn
        if conn not in room.members:
            if "n" in room.modes:
                text = f"You must join {room.name} to talk there"
                self._error(user, "not_in_room", text, cmd, room.name, room.name)
                return False
        elif conn in room.ops or conn in room.voiced:
            return True
        if "m" in room.modes:
            text = f"{room.name} is moderated: only operators and voiced members can talk"
        elif self._banned(user, room):
            text = f"You are banned from {room.name} and cannot talk there"
        else:
            return True
        self._error(user, "cannot_send", text, cmd, room.name, room.name)
        return False

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
            self._error(user, "not_in_room", text, cmd, room.name, room.name)
            return
        if "t" in room.modes and not self._is_op(user, room, cmd):
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
        if cmd.names:
            wanted = (self.rooms.get(fold(name)) for name in cmd.names[:MAX_LOOKUP])
            chosen = sorted({id(r): r for r in wanted if r is not None}.values(),
                            key=lambda r: fold(r.name))
        else:
            # Bounded: the first MAX_LIST rooms by name, in O(rooms) without a full sort.
            chosen = heapq.nsmallest(MAX_LIST, self.rooms.values(), key=lambda r: fold(r.name))
        rooms = tuple(e.RoomInfo(r.name, len(r.members), r.topic) for r in chosen)
        self._emit(e.RoomList(*self._envelope(None, None), rooms=rooms), (user.conn,))
        if len(self.rooms) > MAX_LIST and not cmd.names:
            text = f"Only the first {MAX_LIST} of {len(self.rooms)} rooms were listed"
            self._error(user, "too_many_matches", text, cmd, "LIST")

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

    # -- room management: kick, invite, modes -------------------------------------------

    def _kick(self, user: User, cmd: c.Kick) -> None:
        room = self._find_room(user, cmd.room, cmd)
        if room is None or not self._member(user, room, cmd) or not self._is_op(user, room, cmd):
            return
        victim = self.nicks.get(fold(cmd.nick))
        if victim is None:
            self._error(user, "no_such_nick", f"Nobody is called {cmd.nick}", cmd, cmd.nick)
            return
        if victim.conn not in room.members:
            text = f"{victim.nick} is not in {room.name}"
            self._error(user, "user_not_in_room", text, cmd, victim.nick, room.name)
            return
        reason = clean_text(cmd.reason)[: self.limits.reason_len] or user.nick
        event = e.Kicked(*self._envelope(room.name, user.source), target=victim.nick,
                         reason=reason)
        self._emit(event, room.recipients)
        self._leave(victim, room)

    def _invite(self, user: User, cmd: c.Invite) -> None:
        room = self._find_room(user, cmd.room, cmd)
        if room is None or not self._member(user, room, cmd):
            return
        if "i" in room.modes and not self._is_op(user, room, cmd):
            return
        guest = self.nicks.get(fold(cmd.nick))
        if guest is None:
            self._error(user, "no_such_nick", f"Nobody is called {cmd.nick}", cmd, cmd.nick)
            return
        if guest.conn in room.members:
            text = f"{guest.nick} is already in {room.name}"
            self._error(user, "user_in_room", text, cmd, guest.nick, room.name)
            return
        if not isinstance(guest.invites, set):
            guest.invites = set()
        if len(guest.invites) >= self.limits.max_rooms_per_user + MAX_LOOKUP:
            guest.invites.pop()  # bounded: forget an arbitrary older invite
        guest.invites.add(fold(room.name))
        event = e.Invited(*self._envelope(room.name, user.source), target=guest.nick)
        self._emit(event, (user.conn, guest.conn))

    def _mode(self, user: User, cmd: c.Mode) -> None:
        target = cmd.target
        if target is not None and not target.startswith("#"):
            self._user_mode(user, target, cmd)
            return
        room = self._find_room(user, target, cmd)
        if room is None:
            return
        event: e.Event  # the modes, the ban list or the change
        if not cmd.modes:
            modes, args = room.mode_string(show_key=user.conn in room.members)
            event = e.ModeInfo(*self._envelope(room.name, None), target=room.name, modes=modes,
                               args=args, created=room.created)
            self._emit(event, (user.conn,))
            return
        adding, queue, changes = True, list(cmd.args), []
        with_args = 0
        listed = unknown = False
        for char in cmd.modes:
            if char in "+-":
                adding = char == "+"
                continue
            takes_arg = char in LIST_MODES + KEY_MODES + STATUS_MODES or (
                char in LIMIT_MODES and adding)
            if char not in LIST_MODES + KEY_MODES + LIMIT_MODES + FLAG_MODES + STATUS_MODES:
                if not unknown:
                    unknown = True
                    self._error(user, "unknown_mode", f"Unknown mode {char!r}", cmd, char,
                                room.name)
                continue
            arg = None
            if takes_arg:
                if not queue:
                    if char in LIST_MODES and not listed:
                        listed = True
                        event = e.BanList(*self._envelope(room.name, None), bans=tuple(room.bans))
                        self._emit(event, (user.conn,))
                    continue  # a missing argument skips the change, as IRC servers do
                arg = queue.pop(0)
                with_args += 1
                if with_args > MAX_MODE_ARGS:
                    break
            changes.append(e.ModeChange(adding, char, arg))
        if not changes:
            return
        if not self._is_op(user, room, cmd):
            return
        applied = tuple(ch for ch in (self._apply_mode(user, room, ch, cmd) for ch in changes)
                        if ch is not None)
        if applied:
            event = e.ModeChanged(*self._envelope(room.name, user.source), target=room.name,
                                  changes=applied)
            self._emit(event, room.recipients)

    def _apply_mode(self, user: User, room: Room, ch: e.ModeChange,
                    cmd: c.Mode) -> e.ModeChange | None:
        """Apply one change to ``room``; the change as it took effect, or None if it did not."""
        char, add, arg = ch.char, ch.add, ch.arg or ""
        if char in FLAG_MODES:
            if (char in room.modes) == add:
                return None
            (room.modes.add if add else room.modes.discard)(char)
            return ch
        if char in STATUS_MODES:
            member = self.nicks.get(fold(arg))
            if member is None:
                self._error(user, "no_such_nick", f"Nobody is called {arg}", cmd, arg)
                return None
            if member.conn not in room.members:
                text = f"{member.nick} is not in {room.name}"
                self._error(user, "user_not_in_room", text, cmd, member.nick, room.name)
                return None
            group = room.ops if char == "o" else room.voiced
            if (member.conn in group) == add:
                return None
            (group.add if add else group.discard)(member.conn)
            return e.ModeChange(add, char, member.nick)
        if char in KEY_MODES:
            key = clean_text(arg).replace(" ", "").replace(",", "").lstrip(":")[:23]
            if add:
                if not key or key == room.key:
                    return None
                room.key = key
                return e.ModeChange(True, char, key)
            if not room.key:
                return None
            room.key = ""
            return e.ModeChange(False, char, "*")
        if char in LIMIT_MODES:
            if not add:
                if not room.limit:
                    return None
                room.limit = 0
                return e.ModeChange(False, char)
            if not arg.isdigit() or int(arg) <= 0 or int(arg) == room.limit:
                return None
            room.limit = min(int(arg), 1_000_000)
            return e.ModeChange(True, char, str(room.limit))
        # bans
        mask = normalize_mask(clean_text(arg).replace(" ", "").lstrip(":"))
        existing = next((b for b in room.bans if fold(b.mask) == fold(mask)), None)
        if add:
            if existing is not None:
                return None
            if len(mask) > MAX_MASK:
                text = f"Ban masks are at most {MAX_MASK} characters"
                self._error(user, "mask_too_long", text, cmd, "MODE", room.name)
                return None
            if len(room.bans) >= MAX_BANS:
                text = f"The ban list of {room.name} is full ({MAX_BANS})"
                self._error(user, "list_full", text, cmd, "b", room.name)
                return None
            room.bans.append(e.BanInfo(mask, user.nick, self.clock()))
            return e.ModeChange(True, char, mask)
        if existing is None:
            return None
        room.bans.remove(existing)
        return e.ModeChange(False, char, existing.mask)

    def _user_mode(self, user: User, target: str, cmd: c.Mode) -> None:
        if fold(target) != fold(user.nick):
            if fold(target) not in self.nicks:
                self._error(user, "no_such_nick", f"Nobody is called {target}", cmd, target)
            else:
                self._error(user, "users_dont_match", "You can only change your own modes", cmd,
                            target)
            return
        event: e.Event  # the modes or the change
        if not cmd.modes:
            event = e.ModeInfo(*self._envelope(None, None), target=user.nick,
                               modes="+" + "".join(sorted(user.modes)))
            self._emit(event, (user.conn,))
            return
        adding, changes, unknown = True, [], False
        for char in cmd.modes:
            if char in "+-":
                adding = char == "+"
            elif char in USER_MODES:
                if (char in user.modes) != adding:
                    if not isinstance(user.modes, set):
                        user.modes = set()
                    (user.modes.add if adding else user.modes.discard)(char)
                    changes.append(e.ModeChange(adding, char))
            elif not unknown:
                unknown = True
                self._error(user, "unknown_user_mode", f"Unknown user mode {char!r}", cmd, char)
        if changes:
            event = e.ModeChanged(*self._envelope(None, user.source), target=user.nick,
                                  changes=tuple(changes))
            self._emit(event, (user.conn,))

    # -- presence: away, whois, who, lookups -------------------------------------------

    def _away(self, user: User, cmd: c.Away) -> None:
        text = clean_text(cmd.text).strip()[: self.limits.reason_len]
        user.away = text
        event = e.AwayStatus(*self._envelope(None, user.source), nick=user.nick, text=text,
                             changed=True)
        self._emit(event, self._neighbours(user))

    def _entry(self, user: User, room: Room | None = None) -> e.UserEntry:
        if room is None:
            return e.UserEntry(user.nick, user.ident, user.host, user.realname, user.away)
        return e.UserEntry(user.nick, user.ident, user.host, user.realname, user.away, room.name,
                           user.conn in room.ops, user.conn in room.voiced)

    def _whois(self, user: User, cmd: c.Whois) -> None:
        peer = self.nicks.get(fold(cmd.nick))
        if peer is None:
            self._error(user, "no_such_nick", f"Nobody is called {cmd.nick}", cmd, cmd.nick)
            return
        rooms = tuple(e.Membership(r.name, peer.conn in r.ops, peer.conn in r.voiced)
                      for r in peer.rooms.values())
        now = self.clock()
        event = e.WhoisReply(*self._envelope(None, None), user=self._entry(peer), rooms=rooms,
                             server=self.config.name, idle=max(0, int(now - peer.last_active)),
                             signon=peer.signon)
        self._emit(event, (user.conn,))

    def _who(self, user: User, cmd: c.Who) -> None:
        mask = cmd.mask.strip()
        if len(mask) > MAX_MASK:
            self._error(user, "mask_too_long", f"Masks are at most {MAX_MASK} characters", cmd,
                        "WHO")
            return
        entries: list[e.UserEntry] = []
        if mask.startswith("#"):
            room = self.rooms.get(fold(mask))
            if room is not None:
                entries = [self._entry(u, room) for u in room.members.values()]
        else:
            pattern = mask if mask not in ("", "0") else "*"
            shared = set(self._neighbours(user))
            for peer in self.nicks.values():
                if len(entries) >= MAX_WHO:
                    break
                visible = "i" not in peer.modes or peer.conn in shared or fold(pattern) == fold(
                    peer.nick)
                if visible and mask_match(pattern, peer.nick):
                    entries.append(self._entry(peer))
        event = e.WhoReply(*self._envelope(None, None), mask=mask or "*", users=tuple(entries))
        self._emit(event, (user.conn,))

    def _lookup(self, user: User, cmd: c.Lookup) -> None:
        found = (self.nicks.get(fold(nick)) for nick in cmd.nicks[:MAX_LOOKUP])
        users = tuple(self._entry(peer) for peer in found if peer is not None)
        self._emit(e.Presence(*self._envelope(None, None), users=users, ref=cmd.ref),
                   (user.conn,))
