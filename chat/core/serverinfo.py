"""The server as a whole: how many are here (IRC's LUSERS), since when, and what they asked."""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import User

HANDLERS = Handlers()


#: Up to this many users, every registration counts invisible users and operators afresh;
#: beyond it, a registration reuses a count up to a second old, so a burst of thousands of
#: connections does not scan every user for each one (LUSERS itself always counts afresh).
FRESH_COUNT_UP_TO = 1000


def counts(ctx: Context, registering: bool = False) -> e.UserCounts:
    """The server's population now (see ``FRESH_COUNT_UP_TO`` for ``registering``)."""
    users = len(ctx.nicks)
    now = ctx.clock()
    cached = ctx.counted
    if registering and users > FRESH_COUNT_UP_TO and cached and now - cached[0] < 1.0:
        invisible, operators = cached[1], cached[2]
    else:
        invisible = sum("i" in u.modes for u in ctx.nicks.values())
        operators = sum(bool(u.oper) for u in ctx.nicks.values())
        ctx.counted = (now, invisible, operators)
    return e.UserCounts(users=users, invisible=invisible, operators=operators,
                        unknown=len(ctx.users) - users,
                        rooms=len(ctx.rooms) - len(ctx.idle_rooms),  # the idle ones are empty
                        max_users=max(ctx.max_users, users))


@HANDLERS.on(c.ServerStatus)
def server_status(ctx: Context, fx: Effects, user: User, cmd: c.ServerStatus) -> None:
    """Counts, start time and command counts, for whoever asks."""
    ctx.reply(fx, user, e.ServerStatusReply, counts=counts(ctx), started=ctx.started,
              commands=tuple(ctx.command_counts.most_common()))
