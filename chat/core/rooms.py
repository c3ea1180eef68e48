"""Rooms and membership: joining, parting, topics, and listing rooms and their members."""

from __future__ import annotations

import heapq

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import MAX_LOOKUP, Context, Effects, Handlers
from chat.core.history import remember, replay, save
from chat.core.model import Room, User
from chat.core.moderation import banned, invite_excepted, is_op
from chat.core.names import clean_text, fold, mask_match, room_problem
from chat.core.owners import grant_founder, is_founder

HANDLERS = Handlers()

MAX_LIST = 10_000  # rooms in one LIST reply; more gets "too_many_matches"


@HANDLERS.on(c.Join)
def join(ctx: Context, fx: Effects, user: User, cmd: c.Join) -> None:
    """Join (creating the room if new): the room hears it, the joiner gets topic and members."""
    name = cmd.room
    problem = room_problem(name, ctx.limits.room_len)
    if problem:
        ctx.error(fx, user, "room_invalid", f"Invalid room name {name!r}: {problem}", name)
        return
    key = fold(name)
    room = ctx.rooms.get(key)
    if room is not None and user.conn in room.members:
        user.current = room
        ctx.reply(fx, user, e.Notice, room.name, text=f"Now talking in {room.name}")
        return
    lim = ctx.limits
    if lim.max_rooms_per_user and len(user.rooms) >= lim.max_rooms_per_user:
        text = f"You are already in {lim.max_rooms_per_user} rooms; /part one first"
        ctx.error(fx, user, "too_many_rooms", text, name)
        return
    if cmd.key and cmd.strict_key and (room is None or not room.key):
        text = (f"{name} has no key, so {cmd.key!r} is not one (room names cannot contain "
                f"spaces): /join {name} to join it")
        ctx.error(fx, user, "bad_key", text, name, name)
        return
    if room is None:
        room = ctx.rooms[key] = Room(name=name, created=ctx.clock())
        save(fx, room)
    elif not _may_join(ctx, fx, user, room, cmd):
        return
    if not room.members:
        ctx.idle_rooms.pop(key, None)
        # Whoever opens an empty room runs it, except the default room everyone is put in (it
        # belongs to the server, or its first user could lock every newcomer out of it) and a
        # registered room (its founder runs it).
        if key != ctx.default_room and (not room.founder or is_founder(user, room)):
            room.ops.add(user.conn)
    if key in user.invites:
        user.invites.discard(key)  # type: ignore[union-attr]  # non-empty: a set
    room.add(user)
    user.rooms[key] = room
    user.current = room
    fx.send(e.Joined(*ctx.envelope(room.name, user.source)), room.recipients)
    if user.away and len(room.members) > 1:  # the room learns at once that the joiner is away
        away = e.AwayStatus(*ctx.envelope(room.name, user.source), nick=user.nick,
                            text=user.away, changed=True, on_join=True)
        fx.send(away, tuple(conn for conn in room.members if conn != user.conn))
    grant_founder(ctx, fx, user, room)
    if room.topic:
        _send_topic(ctx, fx, user, room)
    ctx.reply(fx, user, e.MemberList, room.name, members=room.member_list(),
              visibility=room.visibility)
    replay(ctx, fx, user, room)


def _may_join(ctx: Context, fx: Effects, user: User, room: Room, cmd: c.Join) -> bool:
    """Whether ``user`` gets into an existing ``room``; if not, it has been told why."""
    lim = ctx.limits
    invited = fold(room.name) in user.invites
    full = (lim.max_members_per_room and len(room.members) >= lim.max_members_per_room) or (
        room.limit and len(room.members) >= room.limit and not invited)
    if banned(user, room):
        code, text = "banned", f"You are banned from {room.name}"
    elif "i" in room.modes and not invited and not invite_excepted(user, room):
        code, text = "invite_only", f"{room.name} is invite-only; ask an operator to invite you"
    elif room.key and cmd.key != room.key:
        code, text = "bad_key", f"{room.name} needs the right key to join"
    elif full:
        code, text = "room_full", f"{room.name} is full"
    else:
        return True
    ctx.error(fx, user, code, text, room.name, room.name)
    return False


@HANDLERS.on(c.Part)
def part(ctx: Context, fx: Effects, user: User, cmd: c.Part) -> None:
    """Leave a room; its members, the leaver included, are told first."""
    room = ctx.find_room(fx, user, cmd.room)
    if room is None:
        return
    if user.conn not in room.members:
        ctx.error(fx, user, "not_in_room", f"You are not in {room.name}", room.name)
        return
    reason = ctx.reason(cmd.reason)
    fx.send(e.Parted(*ctx.envelope(room.name, user.source), reason=reason), room.recipients)
    ctx.leave(user, room)


def _send_topic(ctx: Context, fx: Effects, user: User, room: Room) -> None:
    """Tell ``user`` alone what ``room``'s topic is."""
    ctx.reply(fx, user, e.Topic, room.name, topic=room.topic, set_by=room.topic_by,
              set_at=room.topic_at)


@HANDLERS.on(c.SetTopic)
def topic(ctx: Context, fx: Effects, user: User, cmd: c.SetTopic) -> None:
    """Ask for a topic (anyone, except outsiders of a +s/+p room, as on solanum and ergo) or
    set it (members; only operators in ``+t`` rooms)."""
    room = ctx.find_room(fx, user, cmd.room)
    if room is None:
        return
    if cmd.topic is None:
        if room.hidden_from(user):  # a secret or private room's topic is for its members
            ctx.error(fx, user, "not_in_room", f"You are not in {room.name}", room.name)
            return
        _send_topic(ctx, fx, user, room)
        return
    if user.conn not in room.members:
        text = f"You must join {room.name} to set its topic"
        ctx.error(fx, user, "not_in_room", text, room.name, room.name)
        return
    if "t" in room.modes and not is_op(ctx, fx, user, room):
        return
    text = clean_text(cmd.topic)
    if len(text) > ctx.limits.topic_len:
        limit = ctx.limits.topic_len
        ctx.error(fx, user, "topic_too_long", f"Topics are at most {limit} characters")
        return
    room.topic, room.topic_by, room.topic_at = text, user.nick, ctx.clock()
    event = e.Topic(*ctx.envelope(room.name, user.source), topic=room.topic,
                    set_by=room.topic_by, set_at=room.topic_at, changed=True)
    fx.send(event, room.recipients)
    remember(ctx, room, event)
    save(fx, room)


@HANDLERS.on(c.ListRooms)
def list_rooms(ctx: Context, fx: Effects, user: User, cmd: c.ListRooms) -> None:
    """Rooms by name with member counts and topics: the ones named, or the first MAX_LIST
    (meeting ``cmd.where``). Secret rooms show only to members; private ones without a topic."""
    where = cmd.where
    if cmd.names:
        wanted = (ctx.rooms.get(fold(name)) for name in cmd.names[:MAX_LOOKUP])
        chosen = sorted({id(r): r for r in wanted
                         if r is not None and _listable(ctx, user, r, where)}.values(),
                        key=lambda r: fold(r.name))
    else:
        # Bounded: the first MAX_LIST rooms by name, in O(rooms) without a full sort.
        candidates = (r for r in ctx.rooms.values() if _listable(ctx, user, r, where))
        chosen = heapq.nsmallest(MAX_LIST, candidates, key=lambda r: fold(r.name))
    rooms = tuple(e.RoomInfo(r.name, len(r.members),
                             "" if r.hidden_from(user) else r.topic) for r in chosen)
    ctx.reply(fx, user, e.RoomList, rooms=rooms)
    if len(ctx.rooms) > MAX_LIST and not cmd.names and len(chosen) >= MAX_LIST:
        text = f"Only the first {MAX_LIST} of {len(ctx.rooms)} rooms were listed"
        ctx.error(fx, user, "too_many_matches", text, "LIST")


def _listable(ctx: Context, user: User, room: Room, where: c.RoomFilter | None) -> bool:
    """Whether ``room`` goes in ``user``'s room list: not secret to it, and meeting ``where``."""
    if "s" in room.modes and user.conn not in room.members:
        return False
    if where is None:
        return True
    count, now = len(room.members), ctx.clock()
    if where.min_members is not None and count <= where.min_members:
        return False
    if where.max_members is not None and count >= where.max_members:
        return False
    age = now - room.created
    if where.created_min_age is not None and age < where.created_min_age:
        return False
    if where.created_max_age is not None and age > where.created_max_age:
        return False
    if where.topic_min_age is not None or where.topic_max_age is not None:
        if not room.topic_at:
            return False
        topic_age = now - room.topic_at
        if where.topic_min_age is not None and topic_age < where.topic_min_age:
            return False
        if where.topic_max_age is not None and topic_age > where.topic_max_age:
            return False
    name = room.name
    if where.masks and not any(mask_match(m, name) for m in where.masks):
        return False
    return not any(mask_match(m, name) for m in where.not_masks)


@HANDLERS.on(c.ListMembers)
def list_members(ctx: Context, fx: Effects, user: User, cmd: c.ListMembers) -> None:
    """Who is in a room (anyone may ask, except about a secret or private room it is not in:
    to an outsider that room does not exist)."""
    room = ctx.find_room(fx, user, cmd.room)
    if room is None:
        return
    if room.hidden_from(user):
        ctx.error(fx, user, "no_such_room", f"No room named {room.name}", subject=room.name)
        return
    ctx.reply(fx, user, e.MemberList, room.name, members=room.member_list(),
              visibility=room.visibility)
