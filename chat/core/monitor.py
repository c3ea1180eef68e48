"""Monitor lists (IRCv3 MONITOR): people ask to hear when given nicks come online and go.

Each user's list maps folded nick -> the nick as given; ``Context.watchers`` is the reverse
index (folded nick -> connections monitoring it), so a nick coming or going costs one dict
look-up however many lists exist. A list holds at most ``MAX_MONITOR`` nicks.
"""

from __future__ import annotations

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import User
from chat.core.names import fold, nick_problem

HANDLERS = Handlers()

MAX_MONITOR = 100  # nicks on one monitor list (IRC's ISUPPORT MONITOR=)


@HANDLERS.on(c.Monitor)
def monitor(ctx: Context, fx: Effects, user: User, cmd: c.Monitor) -> None:
    """Add, remove, clear, list, or ask the status of the nicks one monitors."""
    if cmd.action == "+":
        _add(ctx, fx, user, cmd.nicks)
    elif cmd.action == "-":
        for nick in cmd.nicks[:MAX_MONITOR]:
            _unwatch(ctx, user, fold(nick))
    elif cmd.action == "C":
        forget(ctx, user)
    elif cmd.action == "L":
        nicks = tuple(user.monitoring.values()) if user.monitoring else ()
        ctx.reply(fx, user, e.MonitorList, nicks=nicks)
    else:  # "S"
        _status(ctx, fx, user, list(user.monitoring.values()) if user.monitoring else [])


def _add(ctx: Context, fx: Effects, user: User, nicks: tuple[str, ...]) -> None:
    if user.monitoring is None:
        user.monitoring = {}
    watching = user.monitoring
    added: list[str] = []
    for index, nick in enumerate(nicks):
        key = fold(nick)
        if key in watching or nick_problem(nick, ctx.limits.nick_len):
            continue  # already there, or no nick anyone could hold: nothing to watch
        if len(watching) >= MAX_MONITOR:
            ctx.error(fx, user, "monitor_full", "Monitor list is full",
                      ",".join(nicks[index:]))
            break
        watching[key] = nick
        ctx.watchers.setdefault(key, {})[user.conn] = None
        added.append(nick)
    if added:
        _status(ctx, fx, user, added)


def _status(ctx: Context, fx: Effects, user: User, nicks: list[str]) -> None:
    """Tell ``user`` which of ``nicks`` are online (with who holds them) and which are not."""
    online: list[e.Source] = []
    offline: list[str] = []
    for nick in nicks:
        holder = ctx.nicks.get(fold(nick))
        if holder is None:
            offline.append(nick)
        else:
            online.append(holder.source)
    if online or offline:
        ctx.reply(fx, user, e.MonitorStatus, online=tuple(online), offline=tuple(offline))


def _unwatch(ctx: Context, user: User, key: str) -> None:
    if user.monitoring is None or user.monitoring.pop(key, None) is None:
        return
    watchers = ctx.watchers.get(key)
    if watchers is not None:
        watchers.pop(user.conn, None)
        if not watchers:
            del ctx.watchers[key]


def forget(ctx: Context, user: User) -> None:
    """Empty ``user``'s monitor list (MONITOR C, or the user is leaving)."""
    for key in list(user.monitoring or ()):
        _unwatch(ctx, user, key)
    user.monitoring = None


def came_online(ctx: Context, fx: Effects, user: User) -> None:
    """``user`` now holds its nick (registered, or renamed to it): its watchers hear it."""
    watchers = ctx.watchers.get(fold(user.nick))
    if watchers:
        fx.send(e.MonitorStatus(*ctx.envelope(), online=(user.source,)), tuple(watchers))


def went_offline(ctx: Context, fx: Effects, nick: str) -> None:
    """Nobody holds ``nick`` any more (a quit, a rename away from it): its watchers hear it."""
    watchers = ctx.watchers.get(fold(nick))
    if watchers:
        fx.send(e.MonitorStatus(*ctx.envelope(), offline=(nick,)), tuple(watchers))


def tell_watchers(ctx: Context, fx: Effects, user: User, change: e.Event,
                  told: tuple[int, ...]) -> None:
    """``change`` (away, account, real name) of ``user`` was told to ``told``; whoever monitors
    ``user`` without being among them gets it too, wrapped, for IRCv3 ``extended-monitor``."""
    watchers = ctx.watchers.get(fold(user.nick))
    if not watchers:
        return
    seen = set(told)
    others = tuple(conn for conn in watchers if conn not in seen)
    if others:
        fx.send(e.Monitored(*ctx.envelope(None, user.source), change=change), others)
