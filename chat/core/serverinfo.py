"""The server as a whole: how many are here (IRC's LUSERS), since when, and what they asked."""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import User

HANDLERS = Handlers()


def counts(ctx: Context) -> e.UserCounts:
    """The server's population now. O(users + rooms): asked for by people, not on a hot path."""
    users = len(ctx.nicks)
    invisible = sum("i" in u.modes for u in ctx.nicks.values())
    operators = sum(bool(u.oper) for u in ctx.nicks.values())
    rooms = sum(bool(room.members) for room in ctx.rooms.values())
    return e.UserCounts(users=users, invisible=invisible, operators=operators,
                        unknown=len(ctx.users) - users, rooms=rooms,
                        max_users=max(ctx.max_users, users))


@HANDLERS.on(c.ServerStatus)
def server_status(ctx: Context, fx: Effects, user: User, cmd: c.ServerStatus) -> None:
    """Counts, start time and command counts, for whoever asks."""
    ctx.reply(fx, user, e.ServerStatusReply, counts=counts(ctx), started=ctx.started,
              commands=tuple(ctx.command_counts.most_common()))
