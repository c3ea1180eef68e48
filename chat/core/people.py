"""What people were and are called: the nick history WHOWAS reads, and real-name changes."""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import User
from chat.core.monitor import tell_watchers
from chat.core.names import clean_text

HANDLERS = Handlers()

REALNAME_LEN = 100  # characters in a real name (IRC's ISUPPORT NAMELEN)


def remember_nick(ctx: Context, user: User) -> None:
    """``user`` is giving up its nick (a rename, a quit, a kill): keep who held it."""
    ctx.nick_history.record(e.PastUser(user.nick, user.ident or user.nick, user.host,
                                       user.realname, user.account, ctx.clock()))


@HANDLERS.on(c.WhoWas)
def whowas(ctx: Context, fx: Effects, user: User, cmd: c.WhoWas) -> None:
    """Who held a nick before, newest first (an empty answer: nobody the server remembers)."""
    entries = ctx.nick_history.lookup(cmd.nick, cmd.count)
    ctx.reply(fx, user, e.WhoWasReply, nick=cmd.nick, entries=entries)


@HANDLERS.on(c.SetRealname)
def set_realname(ctx: Context, fx: Effects, user: User, cmd: c.SetRealname) -> None:
    """A new real name; the user and everyone sharing a room hear it (and its monitors)."""
    realname = clean_text(cmd.realname).strip()
    if not realname or len(realname) > REALNAME_LEN:
        text = (f"A real name is 1 to {REALNAME_LEN} characters" if realname
                else "A real name cannot be empty")
        ctx.error(fx, user, "realname_invalid", text)
        return
    user.realname = realname
    event = e.RealnameChanged(*ctx.envelope(None, user.source), realname=realname)
    told = ctx.neighbours(user)
    fx.send(event, told)
    tell_watchers(ctx, fx, user, event, told)
