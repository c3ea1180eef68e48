"""Who is there: away status, WHOIS, WHO, online lookups, and pings."""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import MAX_LOOKUP, Context, Effects, Handlers
from chat.core.model import Room, User
from chat.core.monitor import tell_watchers
from chat.core.names import MAX_MASK, clean_text, fold, mask_match

HANDLERS = Handlers()

MAX_WHO = 200  # entries in one WHO reply for a mask (a room's WHO lists the whole room)


def _entry(user: User, room: Room | None = None, now: float = 0.0) -> e.UserEntry:
    idle = max(0, int(now - user.last_active)) if now else 0
    bot = "B" in user.modes
    if room is None:
        return e.UserEntry(user.nick, user.ident, user.host, user.realname, user.away,
                           account=user.account, oper=bool(user.oper), idle=idle, bot=bot)
    return e.UserEntry(user.nick, user.ident, user.host, user.realname, user.away, room.name,
                       user.conn in room.ops, user.conn in room.voiced, user.account,
                       bool(user.oper), idle, bot)


@HANDLERS.on(c.Away)
def away(ctx: Context, fx: Effects, user: User, cmd: c.Away) -> None:
    """Go away with a message (or come back with none); neighbours hear it."""
    text = clean_text(cmd.text).strip()[: ctx.limits.reason_len]
    user.away = text
    event = e.AwayStatus(*ctx.envelope(None, user.source), nick=user.nick, text=text,
                         changed=True)
    told = ctx.neighbours(user)
    fx.send(event, told)
    tell_watchers(ctx, fx, user, event, told)


@HANDLERS.on(c.Whois)
def whois(ctx: Context, fx: Effects, user: User, cmd: c.Whois) -> None:
    """Everything public about one user."""
    peer = ctx.find_nick(fx, user, cmd.nick)
    if peer is None:
        return
    # Secret and private rooms are named only to someone in them (or to the user itself).
    rooms = tuple(e.Membership(r.name, peer.conn in r.ops, peer.conn in r.voiced)
                  for r in peer.rooms.values() if peer is user or not r.hidden_from(user))
    idle = max(0, int(ctx.clock() - peer.last_active))
    ctx.reply(fx, user, e.WhoisReply, user=_entry(peer), rooms=rooms, server=ctx.config.name,
              idle=idle, signon=peer.signon)


@HANDLERS.on(c.Who)
def who(ctx: Context, fx: Effects, user: User, cmd: c.Who) -> None:
    """A room's members, or up to MAX_WHO users whose nick matches a mask.

    Invisible (``+i``) users show only to those sharing a room with them, or when asked for
    by their exact nick.
    """
    mask = cmd.mask.strip()
    if len(mask) > MAX_MASK:
        ctx.error(fx, user, "mask_too_long", f"Masks are at most {MAX_MASK} characters", "WHO")
        return
    entries: list[e.UserEntry] = []
    now = ctx.clock()
    if mask.startswith("#"):
        room = ctx.rooms.get(fold(mask))
        if room is not None and not room.hidden_from(user):
            entries = [_entry(u, room, now) for u in room.members.values()]
    else:
        pattern = mask if mask not in ("", "0") else "*"
        shared = set(ctx.neighbours(user))
        for peer in ctx.nicks.values():
            if len(entries) >= MAX_WHO:
                break
            visible = "i" not in peer.modes or peer.conn in shared or fold(pattern) == fold(
                peer.nick)
            if visible and mask_match(pattern, peer.nick):
                entries.append(_entry(peer, None, now))
    ctx.reply(fx, user, e.WhoReply, mask=mask or "*", users=tuple(entries))


@HANDLERS.on(c.Lookup)
def lookup(ctx: Context, fx: Effects, user: User, cmd: c.Lookup) -> None:
    """Which of the nicks asked about are online (IRC's ISON and USERHOST)."""
    found = (ctx.nicks.get(fold(nick)) for nick in cmd.nicks[:MAX_LOOKUP])
    users = tuple(_entry(peer) for peer in found if peer is not None)
    ctx.reply(fx, user, e.Presence, users=users)


@HANDLERS.on(c.Ping)
def ping(ctx: Context, fx: Effects, user: User, cmd: c.Ping) -> None:
    """Answer a client's ping with its token."""
    ctx.reply(fx, user, e.PongReply, token=cmd.token)


@HANDLERS.on(c.Pong)
def pong(ctx: Context, fx: Effects, user: User, cmd: c.Pong) -> None:
    """A client's answer to our ping: its arrival was the point (the hub saw it); nothing to say."""
