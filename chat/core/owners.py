"""Room owners: a logged-in operator registers a room to its account; the founder is made an
operator on every join (and when it logs in while inside), kept across restarts, and may give
the room up or hand it to another account."""

from __future__ import annotations

import logging

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.history import save
from chat.core.model import Room, User
from chat.core.moderation import is_op
from chat.core.names import fold

HANDLERS = Handlers()
log = logging.getLogger("chat.owners")


def is_founder(user: User, room: Room) -> bool:
    """Whether ``user`` is logged in to the account that owns ``room``."""
    return bool(room.founder) and fold(user.account) == fold(room.founder)


def grant_founder(ctx: Context, fx: Effects, user: User, room: Room) -> None:
    """Make the founder an operator of ``room`` (the room hears it, as a server mode change)."""
    if user.conn in room.ops or not is_founder(user, room):
        return
    room.ops.add(user.conn)
    event = e.ModeChanged(*ctx.envelope(room.name), target=room.name,
                          changes=(e.ModeChange(True, "o", user.nick),))
    fx.send(event, room.recipients)


@HANDLERS.on(c.RegisterRoom)
def register_room(ctx: Context, fx: Effects, user: User, cmd: c.RegisterRoom) -> None:
    """Register, unregister or hand over a room."""
    room = ctx.find_room(fx, user, cmd.room)
    if room is None:
        return
    if not user.account:
        ctx.error(fx, user, "not_logged_in", "Log in to an account first", room.name, room.name)
        return
    if cmd.unregister or cmd.to:
        if not (is_founder(user, room) or user.oper):
            text = f"Only the founder of {room.name} may do that"
            ctx.error(fx, user, "not_founder", text, room.name, room.name)
            return
        if cmd.to and fold(cmd.to) not in ctx.accounts:
            ctx.error(fx, user, "no_such_account", f"There is no account {cmd.to}", cmd.to)
            return
        room.founder = cmd.to
        text = (f"{room.name} now belongs to {cmd.to}" if cmd.to
                else f"{room.name} is no longer registered")
        log.info("%s (account %s): %s", user.nick, user.account, text)
    else:
        if room.founder:
            text = f"{room.name} is already registered to {room.founder}"
            ctx.error(fx, user, "room_registered", text, room.name, room.name)
            return
        if user.conn not in room.members or not is_op(ctx, fx, user, room):
            return
        room.founder = user.account
        text = f"{room.name} is registered to {user.account}: you get +o on every join"
    save(fx, room)
    ctx.reply(fx, user, e.Notice, room.name, text=text)
    if cmd.to:
        for member in room.members.values():
            grant_founder(ctx, fx, member, room)
