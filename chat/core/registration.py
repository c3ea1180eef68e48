"""A connection's life as a user: registering a nick, changing it, quitting.

Also the answer to lines no dialect could parse, since that is what an unregistered connection
most often sends.
"""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import User
from chat.core.moderation import server_banned
from chat.core.monitor import came_online, forget, went_offline
from chat.core.names import clean_ident, clean_text, fold, nick_problem
from chat.core.people import remember_nick
from chat.core.rooms import join
from chat.core.serverinfo import counts

HANDLERS = Handlers()

#: Nicks the server's own services will answer to: nobody may take them, or they would receive
#: other people's "IDENTIFY password" lines.
RESERVED_NICKS = frozenset(
    fold(n) for n in ("NickServ", "ChanServ", "OperServ", "MemoServ", "HostServ", "BotServ",
                      "SaslServ", "Global", "Services", "HistServ")
)


def _nick_free(ctx: Context, fx: Effects, user: User, nick: str) -> bool:
    """True if ``user`` may be called ``nick``; otherwise it has been told why not."""
    problem = nick_problem(nick, ctx.limits.nick_len)
    if problem:
        ctx.error(fx, user, "nick_invalid", f"Invalid nickname {nick!r}: {problem}", nick)
        return False
    if fold(nick) in RESERVED_NICKS:
        text = f"Invalid nickname {nick!r}: it is reserved for the server's services"
        ctx.error(fx, user, "nick_invalid", text, nick)
        return False
    holder = ctx.nicks.get(fold(nick))
    if holder is not None and holder is not user:
        ctx.error(fx, user, "nick_taken", f"Nickname {nick!r} is already in use", nick)
        return False
    if protected(ctx, user, nick) and ctx.config.nick_protection == "strict":
        text = f"The nickname {nick} belongs to a registered account: log in to use it"
        ctx.error(fx, user, "nick_protected", text, nick)
        return False
    return True


def protected(ctx: Context, user: User, nick: str) -> bool:
    """Whether ``nick`` is a registered account's that ``user`` is not logged in to."""
    folded = fold(nick)
    return (ctx.config.nick_protection != "off" and folded in ctx.accounts
            and fold(user.account) != folded)


def _warn_if_protected(ctx: Context, fx: Effects, user: User) -> None:
    """Using someone's registered nick: log in within the grace, or be renamed."""
    if protected(ctx, user, user.nick):
        grace = ctx.config.nick_grace
        text = (f"The nickname {user.nick} belongs to a registered account. Log in "
                f"(/login PASSWORD) within {grace:g} seconds or you will be renamed.")
        ctx.reply(fx, user, e.Notice, text=text, code="nick_protected")
        user.grace_until = ctx.clock() + grace
        fx.out.append(e.Later(user.conn, grace))


def nick_grace_over(ctx: Context, user: User) -> list[e.Output]:
    """The grace is over: still on someone else's registered nick means a guest nick now."""
    fx = Effects(user.conn)
    if not user.registered or not protected(ctx, user, user.nick):
        return fx.out
    if ctx.clock() < user.grace_until - 0.5:  # a later change started a new grace
        return fx.out
    old = user.nick
    guest = _guest_nick(ctx)
    _rename(ctx, fx, user, guest)
    text = f"You are now {guest}: the nickname {old} belongs to a registered account"
    ctx.reply(fx, user, e.Notice, text=text)
    return fx.out


def _guest_nick(ctx: Context) -> str:
    while True:
        ctx.guests += 1
        nick = f"Guest{ctx.guests}"[: ctx.limits.nick_len]
        if fold(nick) not in ctx.nicks and fold(nick) not in ctx.accounts:
            return nick


@HANDLERS.on(c.Register)
def register(ctx: Context, fx: Effects, user: User, cmd: c.Register) -> None:
    """Take a first nick; welcome the user and, for people typing, put them in the lobby."""
    if user.registered:
        ctx.error(fx, user, "already_registered", "You already have a nickname; use /nick")
        return
    if not _nick_free(ctx, fx, user, cmd.nick):
        return
    user.nick = cmd.nick
    user.ident = clean_ident(cmd.ident)[:16] or cmd.nick
    user.realname = clean_text(cmd.realname)[:100]
    ban = server_banned(ctx, user)
    if ban is not None:
        reason = f"Banned from this server: {ban.reason}"
        fx.send(e.Disconnect(*ctx.envelope(), reason=reason), (user.conn,))
        del ctx.users[user.conn]
        fx.close(user.conn, reason)
        return
    user.registered = True
    user.signon = user.last_active = ctx.clock()
    ctx.nicks[fold(cmd.nick)] = user
    ctx.max_users = max(ctx.max_users, len(ctx.nicks))
    lim = ctx.limits
    limits = {
        "max_line": lim.max_line, "nick_len": lim.nick_len, "room_len": lim.room_len,
        "topic_len": lim.topic_len, "message_len": lim.message_len,
    }
    ctx.reply(fx, user, e.Welcome, nick=user.nick, server=ctx.config.name,
              motd=ctx.config.motd, limits=limits, started=ctx.started,
              counts=counts(ctx, registering=True))
    came_online(ctx, fx, user)
    _warn_if_protected(ctx, fx, user)
    if cmd.join_default and ctx.config.default_room:
        join(ctx, fx, user, c.Join(ctx.config.default_room))


@HANDLERS.on(c.ChangeNick)
def change_nick(ctx: Context, fx: Effects, user: User, cmd: c.ChangeNick) -> None:
    """Rename; everyone sharing a room hears it once."""
    if cmd.nick == user.nick or not _nick_free(ctx, fx, user, cmd.nick):
        return
    _rename(ctx, fx, user, cmd.nick)
    _warn_if_protected(ctx, fx, user)


def _rename(ctx: Context, fx: Effects, user: User, nick: str) -> None:
    """``user`` is now ``nick``; everyone sharing a room hears it once."""
    recipients = ctx.neighbours(user)
    rooms = tuple(room.name for room in user.rooms.values())
    event = e.NickChanged(*ctx.envelope(None, user.source), new_nick=nick, rooms=rooms)
    old = user.nick
    other_nick = fold(old) != fold(nick)  # not just another case of the same nick
    if other_nick:
        remember_nick(ctx, user)
    del ctx.nicks[fold(old)]
    user.nick = nick
    ctx.nicks[fold(nick)] = user
    fx.send(event, recipients)
    if other_nick:  # monitors hear nothing of a change of case
        went_offline(ctx, fx, old)
        came_online(ctx, fx, user)


@HANDLERS.on(c.Quit)
def quit_(ctx: Context, fx: Effects, user: User, cmd: c.Quit) -> None:
    """Say goodbye, tell the user's rooms, forget the user and close the connection."""
    reason = ctx.reason(cmd.reason) or "Quit"
    ctx.reply(fx, user, e.Disconnect, reason=f"Goodbye ({reason})")
    if user.registered:
        announce_quit(ctx, fx, user, reason)
    # Gone from the core now, so the disconnect() that follows the close announces nothing.
    del ctx.users[user.conn]
    fx.close(user.conn, f"Quit: {reason}")


def announce_quit(ctx: Context, fx: Effects, user: User, reason: str) -> None:
    """Tell everyone sharing a room that ``user`` left the server, then free its rooms and nick."""
    rooms = tuple(room.name for room in user.rooms.values())
    others = ctx.neighbours(user)[1:]
    if others:
        fx.send(e.Quitted(*ctx.envelope(None, user.source), reason=reason, rooms=rooms), others)
    for room in list(user.rooms.values()):
        ctx.leave(user, room)
    del ctx.nicks[fold(user.nick)]
    remember_nick(ctx, user)
    forget(ctx, user)
    went_offline(ctx, fx, user.nick)


@HANDLERS.on(c.Invalid)
def invalid(ctx: Context, fx: Effects, user: User, cmd: c.Invalid) -> None:
    """A line the dialect could not parse: the error it chose, phrased by the core."""
    ctx.error(fx, user, cmd.code, cmd.text)


def disconnect(ctx: Context, fx: Effects, victim: User, reason: str) -> None:
    """Tell ``victim`` why, tell its rooms, close it."""
    fx.send(e.Disconnect(*ctx.envelope(), reason=reason), (victim.conn,))
    if victim.registered:
        announce_quit(ctx, fx, victim, reason)
    del ctx.users[victim.conn]
    fx.close(victim.conn, reason)
