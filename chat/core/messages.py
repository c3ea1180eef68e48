"""Talking: messages, actions and notices to a room or to one person."""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.history import remember
from chat.core.model import Room, User
from chat.core.moderation import banned
from chat.core.names import clean_text
from chat.history.records import private_key

HANDLERS = Handlers()


@HANDLERS.on(c.Say)
def say(ctx: Context, fx: Effects, user: User, cmd: c.Say) -> None:
    """Send text to a room (its members, the sender included) or to a nick (and echo it)."""
    text = clean_text(cmd.text)
    if not text.strip():
        ctx.error(fx, user, "empty_message", "Nothing to send")
        return
    if len(text) > ctx.limits.message_len:
        limit = ctx.limits.message_len
        ctx.error(fx, user, "message_too_long", f"Messages are at most {limit} characters")
        return
    target = cmd.target
    if target is None or target.startswith("#"):
        room = ctx.find_room(fx, user, target)
        if room is None or not _may_speak(ctx, fx, user, room):
            return
        user.last_active = ctx.clock()
        event = e.Message(*ctx.envelope(room.name, user.source), target=room.name, text=text,
                          kind=cmd.kind)
        fx.send(event, room.recipients)
        remember(ctx, room, event)
        return
    peer = ctx.find_nick(fx, user, target)
    if peer is None:
        return
    user.last_active = ctx.clock()
    # Kept in history only between two accounts: a bare nick is nobody's for long.
    kept_as = private_key(user.account, peer.account) if user.account and peer.account else ""
    event = e.Message(*ctx.envelope(None, user.source), target=peer.nick, text=text,
                      kind=cmd.kind, kept_as=kept_as)
    fx.send(event, (peer.conn,) if peer is user else (peer.conn, user.conn))
    if peer.away and cmd.kind != "notice":  # notices never trigger automatic replies
        away = e.AwayStatus(*ctx.envelope(None, peer.source), nick=peer.nick, text=peer.away,
                            ref=fx.ref)
        fx.send(away, (user.conn,))  # a reply to the sender alone, so it carries the ref


def _may_speak(ctx: Context, fx: Effects, user: User, room: Room) -> bool:
    """Room rules for talking: members only (+n), voice in +m rooms, no banned voices."""
    conn = user.conn
    if conn not in room.members:
        if "n" in room.modes:
            text = f"You must join {room.name} to talk there"
            ctx.error(fx, user, "not_in_room", text, room.name, room.name)
            return False
    elif conn in room.ops or conn in room.voiced:
        return True
    if "m" in room.modes:
        text = f"{room.name} is moderated: only operators and voiced members can talk"
    elif banned(user, room):
        text = f"You are banned from {room.name} and cannot talk there"
    else:
        return True
    ctx.error(fx, user, "cannot_send", text, room.name, room.name)
    return False
