"""Who may do what in a room: operator and membership checks, bans, kicks and invites."""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import MAX_LOOKUP, Context, Effects, Handlers
from chat.core.model import Room, User
from chat.core.names import fold, mask_match

HANDLERS = Handlers()


def banned(user: User, room: Room) -> bool:
    """True if one of ``room``'s ban masks matches ``user``'s nick!ident@host and none of its
    ban exceptions (+e) does."""
    if not room.bans:
        return False
    hostmask = f"{user.nick}!{user.ident}@{user.host}"
    return any(mask_match(ban.mask, hostmask) for ban in room.bans) and not any(
        mask_match(ex.mask, hostmask) for ex in room.excepts)


def invite_excepted(user: User, room: Room) -> bool:
    """True if one of ``room``'s invite exceptions (+I) lets ``user`` in uninvited."""
    if not room.invex:
        return False
    hostmask = f"{user.nick}!{user.ident}@{user.host}"
    return any(mask_match(ex.mask, hostmask) for ex in room.invex)


def is_op(ctx: Context, fx: Effects, user: User, room: Room) -> bool:
    """True if ``user`` runs ``room``; otherwise it has been told so."""
    if user.conn in room.ops:
        return True
    text = f"You must be an operator of {room.name} to do that"
    ctx.error(fx, user, "not_op", text, room.name, room.name)
    return False


def is_member(ctx: Context, fx: Effects, user: User, room: Room) -> bool:
    """True if ``user`` is in ``room``; otherwise it has been told so."""
    if user.conn in room.members:
        return True
    ctx.error(fx, user, "not_in_room", f"You are not in {room.name}", room.name, room.name)
    return False


@HANDLERS.on(c.Kick)
def kick(ctx: Context, fx: Effects, user: User, cmd: c.Kick) -> None:
    """An operator removes a member; the whole room, the kicked one included, is told first."""
    room = ctx.find_room(fx, user, cmd.room)
    if room is None or not is_member(ctx, fx, user, room) or not is_op(ctx, fx, user, room):
        return
    victim = ctx.find_nick(fx, user, cmd.nick)
    if victim is None:
        return
    if victim.conn not in room.members:
        text = f"{victim.nick} is not in {room.name}"
        ctx.error(fx, user, "user_not_in_room", text, victim.nick, room.name)
        return
    reason = ctx.reason(cmd.reason) or user.nick
    event = e.Kicked(*ctx.envelope(room.name, user.source), target=victim.nick, reason=reason)
    fx.send(event, room.recipients)
    ctx.leave(victim, room)


@HANDLERS.on(c.Invite)
def invite(ctx: Context, fx: Effects, user: User, cmd: c.Invite) -> None:
    """Let a nick into a room once, past ``+i`` and ``+l``; in ``+i`` rooms only ops may."""
    room = ctx.find_room(fx, user, cmd.room)
    if room is None or not is_member(ctx, fx, user, room):
        return
    if "i" in room.modes and not is_op(ctx, fx, user, room):
        return
    guest = ctx.find_nick(fx, user, cmd.nick)
    if guest is None:
        return
    if guest.conn in room.members:
        text = f"{guest.nick} is already in {room.name}"
        ctx.error(fx, user, "user_in_room", text, guest.nick, room.name)
        return
    if not isinstance(guest.invites, set):
        guest.invites = set()
    if len(guest.invites) >= ctx.limits.max_rooms_per_user + MAX_LOOKUP:
        guest.invites.pop()  # bounded: forget an arbitrary older invite
    guest.invites.add(fold(room.name))
    event = e.Invited(*ctx.envelope(room.name, user.source), target=guest.nick)
    fx.send(event, (user.conn, guest.conn))
    # Whoever else could have invited (operators of a +i room, else every member) may watch.
    able = room.ops if "i" in room.modes else room.members
    witnesses = tuple(conn for conn in room.members if conn in able and conn != user.conn)
    if witnesses:
        fx.send(e.Invited(*ctx.envelope(room.name, user.source), target=guest.nick,
                          witnessed=True), witnesses)


def hostmask(user: User) -> str:
    """``nick!ident@host``, as ban masks match."""
    return f"{user.nick}!{user.ident or user.nick}@{user.host}"


def server_banned(ctx: Context, user: User) -> e.ServerBanInfo | None:
    """The server ban ``user`` falls under, if any (expired ones do not count)."""
    if not ctx.server_bans:
        return None
    now = ctx.clock()
    mask = hostmask(user)
    return next((b for b in ctx.server_bans if (not b.expires or b.expires > now)
                 and mask_match(b.mask, mask)), None)
