"""Server operators over IRC: OPER, KILL, WALLOPS, and server bans as KLINE/UNKLINE/STATS k
(``STATS`` itself is read in ``server``, which sends ``STATS k`` here as a ``ServerBan``).

Input handlers turn each verb into the core's command with the verb as ``ref``, so the core's
errors become the numerics IRC clients expect (see ``numerics``): 481 for anyone not an
operator, 464 for a wrong OPER (an unknown name gets the same reply as a wrong password), 401
for an unknown nick. Output: ``RENDERERS`` for the operator events.

``KLINE [<duration>] <mask> [:<reason>]``: the duration is in minutes, as on hybrid, ratbox and
solanum (``30``), or with a unit (``90s``, ``30m``, ``2h``, ``7d``, ``1w``); without one the ban
holds until lifted. The mask is ``nick!ident@host`` (``ident@host`` and a bare ``host`` with a
dot are widened as the core does: ``*!ident@host``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat.core import commands as c
from chat.core import events as e
from chat.dialects.base import Decoded
from chat.dialects.irc.numerics import need_params
from chat.dialects.irc.registration import Handler

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> float | None:
    """A KLINE duration in seconds: a bare number is minutes; None if ``text`` is not one."""
    unit = _UNITS.get(text[-1:].lower()) if text else None
    number = text[:-1] if unit else text
    if not (number.isascii() and number.isdigit()) or len(number) > 9:
        return None
    return float(int(number) * (unit or 60))


# -- input -------------------------------------------------------------------------------

def _oper(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if len(params) < 2 or not params[0]:
        return [need_params(d, verb)]
    return [c.Oper(params[0], params[1], ref=verb)]


def _kill(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[0]:
        return [need_params(d, verb)]
    return [c.Kill(params[0], params[1] if len(params) > 1 else "", ref=verb)]


def _wallops(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[-1]:
        return [need_params(d, verb)]
    return [c.Wallops(params[-1], ref=verb)]


def _host_mask(mask: str) -> str:
    """``host.name`` (no ``!``/``@``, with a dot or a colon) means a host, as ircds read it."""
    if "!" not in mask and "@" not in mask and ("." in mask or ":" in mask):
        return f"*!*@{mask}"
    return mask


def _kline(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    seconds = duration(params[0]) if len(params) > 1 else None
    if seconds is not None:
        params = params[1:]
    if not params or not params[0]:
        return [need_params(d, verb)]
    reason = params[1] if len(params) > 1 else ""
    return [c.ServerBan(_host_mask(params[0]), seconds or 0.0, reason, ref=verb)]


def _unkline(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[0]:
        return [need_params(d, verb)]
    return [c.ServerBan(_host_mask(params[0]), remove=True, ref=verb)]


#: Verb -> handler (merged into ``commands.COMMANDS``).
COMMANDS: dict[str, Handler] = {
    "OPER": _oper,
    "KILL": _kill,
    "WALLOPS": _wallops,
    "KLINE": _kline,
    "UNKLINE": _unkline,
}


# -- output ------------------------------------------------------------------------------

def _oper_status(d: IrcDialect, event: e.OperStatus, is_self: bool) -> bytes:
    """381 (the user modes OPER gives follow as the core's own mode change)."""
    return d.num("381", text="You are now an IRC operator")


def _until(ban: e.ServerBanInfo, now: float) -> str:
    if not ban.expires:
        return "permanent"
    minutes = max(0, round((ban.expires - now) / 60))
    return f"{minutes} more minute{'s' if minutes != 1 else ''}"


def _ban_list(d: IrcDialect, event: e.ServerBanList, is_self: bool) -> bytes:
    """``216 <nick> K <mask> * <set by> :<reason> (<time left>)`` per ban, then 219."""
    lines = [d.num("216", "K", b.mask, "*", b.set_by or "*",
                   text=f"{b.reason} ({_until(b, event.ts)})") for b in event.bans]
    lines.append(d.num("219", "K", text="End of /STATS report"))
    return b"".join(lines)


#: Event type -> renderer, for the operator events (merged with ``render.RENDERERS``).
RENDERERS: dict[type[e.Event], Callable[[IrcDialect, Any, bool], bytes | None]] = {
    e.OperStatus: _oper_status,
    e.WallopsMessage: lambda d, ev, s: d.line_from(ev, f"WALLOPS :{ev.text}"),
    e.ServerBanList: _ban_list,
}
