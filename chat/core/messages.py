"""Talking: messages, actions and notices to a room or to one person; client-only tags;
client-to-client queries (answered by the server for people who cannot answer them)."""

from __future__ import annotations

import time

from chat import __version__
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
    ctcp = cmd.kind in c.CTCP_KINDS
    if target is None or target.startswith("#"):
        if ctcp:
            ctx.error(fx, user, "bad_request", "Client queries go to one person, not a room")
            return
        room = ctx.find_room(fx, user, target)
        if room is None or not _may_speak(ctx, fx, user, room):
            return
        user.last_active = ctx.clock()
        if cmd.status:
            _say_to_status(ctx, fx, user, room, text, cmd)
            return
        event = e.Message(*ctx.envelope(room.name, user.source), target=room.name, text=text,
                          kind=cmd.kind, tags=cmd.tags)
        fx.send(event, room.recipients)
        remember(ctx, room, event)
        return
    peer = ctx.find_nick(fx, user, target)
    if peer is None:
        return
    if ctcp and peer.ctcp_by_server:
        if cmd.kind == "ctcp":
            _answer_ctcp(ctx, fx, user, peer, text)
        return  # an answer to a person who could not have asked: nobody to show it to
    user.last_active = ctx.clock()
    # Kept in history only between two accounts: a bare nick is nobody's for long.
    kept = user.account and peer.account and not ctcp
    kept_as = private_key(user.account, peer.account) if kept else ""
    event = e.Message(*ctx.envelope(None, user.source), target=peer.nick, text=text,
                      kind=cmd.kind, kept_as=kept_as, tags=cmd.tags)
    fx.send(event, (peer.conn,) if peer is user else (peer.conn, user.conn))
    if peer.away and cmd.kind in ("message", "action"):  # notices never trigger replies
        away = e.AwayStatus(*ctx.envelope(None, peer.source), nick=peer.nick, text=peer.away,
                            ref=fx.ref)
        fx.send(away, (user.conn,))  # a reply to the sender alone, so it carries the ref


#: What the server answers for someone who cannot answer client queries (a telnet user).
CTCP_ANSWERED = ("CLIENTINFO", "PING", "TIME", "VERSION")


def _answer_ctcp(ctx: Context, fx: Effects, user: User, peer: User, text: str) -> None:
    """Answer ``user``'s query to ``peer`` for it, as its own client would."""
    verb, _, payload = text.partition(" ")
    verb = verb.upper()
    if verb == "VERSION":
        answer = f"VERSION chat-{__version__} (a terminal user on {ctx.config.name})"
    elif verb == "PING":
        answer = f"PING {payload}".rstrip()
    elif verb == "TIME":
        answer = "TIME " + time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(ctx.clock()))
    elif verb == "CLIENTINFO":
        answer = "CLIENTINFO ACTION " + " ".join(CTCP_ANSWERED)
    else:
        return  # unknown queries go unanswered, as clients leave them
    event = e.Message(*ctx.envelope(None, peer.source), target=user.nick, text=answer,
                      kind="ctcp_reply", ref=fx.ref)
    fx.send(event, (user.conn,))


@HANDLERS.on(c.SayTags)
def say_tags(ctx: Context, fx: Effects, user: User, cmd: c.SayTags) -> None:
    """Client-only tags to a room (its members, the sender included) or a nick (and echoed);
    the same rules as talking, nothing kept."""
    target = cmd.target
    if target.startswith("#"):
        room = ctx.find_room(fx, user, target)
        if room is None or not _may_speak(ctx, fx, user, room):
            return
        recipients = (_status_recipients(room, cmd.status, user) if cmd.status
                      else room.recipients)
        event = e.TagMessage(*ctx.envelope(room.name, user.source), target=room.name,
                             tags=cmd.tags, status=cmd.status)
        fx.send(event, recipients)
        return
    peer = ctx.find_nick(fx, user, target)
    if peer is None:
        return
    event = e.TagMessage(*ctx.envelope(None, user.source), target=peer.nick, tags=cmd.tags)
    fx.send(event, (peer.conn,) if peer is user else (peer.conn, user.conn))


def _say_to_status(ctx: Context, fx: Effects, user: User, room: Room, text: str,
                   cmd: c.Say) -> None:
    """A room message for its operators (and voiced members) only, and the sender; never
    replayed or kept, since the room at large may not read it."""
    event = e.Message(*ctx.envelope(room.name, user.source), target=room.name, text=text,
                      kind=cmd.kind, status=cmd.status, tags=cmd.tags)
    fx.send(event, _status_recipients(room, cmd.status, user))


def _status_recipients(room: Room, status: c.StatusTarget, sender: User) -> tuple[int, ...]:
    """The members a STATUSMSG reaches: the operators (``op``) or operators and voiced
    (``voice``), and the sender, in the room's member order."""
    wanted = room.ops if status == "op" else room.ops | room.voiced
    return tuple(conn for conn in room.members if conn in wanted or conn == sender.conn)


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
