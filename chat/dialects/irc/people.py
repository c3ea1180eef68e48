"""People over IRC beyond the present room: WHOWAS, MONITOR (with ``extended-monitor``),
SETNAME (cap ``setname``) and WHOX (``WHO <mask> %<fields>[,<token>]``, numeric 354).

The state behind them (nick history, monitor lists, real names) is the core's, so every
dialect shares it; only the wire forms live here: input handlers in ``COMMANDS`` and
renderers in ``RENDERERS``.

- ``WHOWAS <nick>[,<nick>] [<count>]``: per nick, 314 (+ 312 with the time it was given up,
  + 330 when it was logged in) per past holder, newest first, or 406; then 369.
- ``MONITOR + <nicks>``/``- <nicks>``/``C``/``L``/``S``: 730/731 (online/offline), 732/733
  (the list), 734 (the list is full, ISUPPORT ``MONITOR=``); 730/731 also whenever a
  monitored nick comes or goes.
- ``SETNAME :<realname>``: ``:nick!user@host SETNAME :<realname>`` to the sender and everyone
  sharing a room who enabled ``setname``; ``FAIL SETNAME INVALID_REALNAME`` for an empty or
  over-long name (ISUPPORT ``NAMELEN``).
- WHOX: the fields in the spec's order ``t c u i h s n f d l a o r`` whatever order they were
  asked in; ``a`` is the account or ``0``; ``o`` (op level) is ``n/a``: rooms have none.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chat.core import commands as c
from chat.core import events as e
from chat.dialects.base import Decoded
from chat.dialects.irc.numerics import WhoxRef, need_params
from chat.dialects.irc.syntax import LINE, host, mask, status_prefix

if TYPE_CHECKING:
    from collections.abc import Callable

    from chat.dialects.irc.dialect import IrcDialect
    from chat.dialects.irc.registration import Handler

MAX_WHOWAS_NICKS = 4  # nicks per WHOWAS line (TARGMAX)
#: WHOX fields in the order 354 gives them, whatever order the client asked in.
WHOX_ORDER = "tcuihsnfdlaor"


# -- input -------------------------------------------------------------------------------

def who(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``WHO [<mask> [%<fields>[,<token>]]]``: a plain WHO, or WHOX when fields are given."""
    target = params[0] if params else "*"
    if len(params) > 1 and params[1].startswith("%"):
        fields, _, token = params[1][1:].partition(",")
        chosen = "".join(f for f in WHOX_ORDER if f in fields)
        token = token if token.isascii() and token.isdigit() and len(token) <= 3 else "0"
        return [c.Who(target, ref=WhoxRef(target, chosen, token))]
    return [c.Who(target, ref=verb)]


def _whowas(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    nicks = [n for n in params[0].split(",") if n] if params else []
    if not nicks:
        return [d.num("431", text="No nickname given")]
    count = params[1] if len(params) > 1 else ""
    limit = int(count) if count.isascii() and count.isdigit() and len(count) < 6 else 0
    return [c.WhoWas(nick, limit, ref=verb) for nick in nicks[:MAX_WHOWAS_NICKS]]


def _monitor(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[0]:
        return [need_params(d, verb)]
    action = params[0].upper()
    if action in ("+", "-"):
        nicks = tuple(n for n in params[1].split(",") if n) if len(params) > 1 else ()
        if not nicks:
            return [need_params(d, verb)]
        return [c.Monitor("+" if action == "+" else "-", nicks, ref=verb)]
    if action in ("C", "L", "S"):
        return [c.Monitor("C" if action == "C" else "L" if action == "L" else "S", ref=verb)]
    return [d.server_line(f"NOTICE {d.me} :Unknown MONITOR subcommand {params[0][:20]}")]


def _setname(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params:
        return [need_params(d, verb)]
    return [c.SetRealname(params[-1], ref=verb)]


#: Verb -> handler (merged into ``commands.COMMANDS``).
COMMANDS: dict[str, Handler] = {
    "WHO": who,
    "WHOWAS": _whowas,
    "MONITOR": _monitor,
    "SETNAME": _setname,
}


# -- output ------------------------------------------------------------------------------

def who_flags(d: IrcDialect, u: e.UserEntry) -> str:
    """WHO's flags: H (here) or G (gone, away), ``B`` for a bot, ``*`` for a server operator,
    then the room prefix (all of them with ``multi-prefix``)."""
    return (("G" if u.away else "H") + ("B" if u.bot else "") + ("*" if u.oper else "")
            + status_prefix(d, u.op, u.voice))


def whox(d: IrcDialect, event: e.WhoReply, ref: WhoxRef) -> bytes:
    """354 per user with the fields asked for, then 315 naming the mask as it was sent."""
    lines = []
    for u in event.users:
        values = {
            "t": ref.token, "c": u.room or "*", "u": u.ident, "i": host(u.host),
            "h": host(u.host), "s": d.server, "n": u.nick, "f": who_flags(d, u), "d": "0",
            "l": str(u.idle), "a": u.account or "0", "o": "n/a",
        }
        params = [values[f] for f in ref.fields if f != "r"]
        text = u.realname if "r" in ref.fields else None
        lines.append(d.num("354", *params, text=text))
    lines.append(d.num("315", ref.mask or "*", text="End of /WHO list"))
    return b"".join(lines)


def _when(ts: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(ts))


def _whowas_reply(d: IrcDialect, event: e.WhoWasReply, is_self: bool) -> bytes:
    if not event.entries:
        return (d.num("406", event.nick, text="There was no such nickname")
                + d.num("369", event.nick, text="End of WHOWAS"))
    lines = []
    for past in event.entries:
        lines.append(d.num("314", past.nick, past.ident, host(past.host), "*",
                           text=past.realname))
        lines.append(d.num("312", past.nick, d.server, text=_when(past.left)))
        if past.account:
            lines.append(d.num("330", past.nick, past.account, text="was logged in as"))
    lines.append(d.num("369", event.nick, text="End of WHOWAS"))
    return b"".join(lines)


def _joined_lines(d: IrcDialect, code: str, items: list[str]) -> list[bytes]:
    """``code`` numerics whose trailing is ``items`` joined by commas, each line within 512."""
    budget = LINE - len(d.num(code, text=""))  # what the line without items leaves
    out: list[bytes] = []
    line: list[str] = []
    size = 0
    for item in items:
        if line and size + 1 + len(item) > budget:
            out.append(d.num(code, text=",".join(line)))
            line, size = [], 0
        size += len(item) + (1 if line else 0)
        line.append(item)
    if line:
        out.append(d.num(code, text=",".join(line)))
    return out


def _monitor_status(d: IrcDialect, event: e.MonitorStatus, is_self: bool) -> bytes:
    lines = _joined_lines(d, "730", [mask(s) for s in event.online])
    lines += _joined_lines(d, "731", list(event.offline))
    return b"".join(lines)


def _monitor_list(d: IrcDialect, event: e.MonitorList, is_self: bool) -> bytes:
    lines = _joined_lines(d, "732", list(event.nicks))
    lines.append(d.num("733", text="End of MONITOR list"))
    return b"".join(lines)


def _monitored(d: IrcDialect, event: e.Monitored, is_self: bool) -> bytes | None:
    """A monitored nick's away/account/real-name change, for ``extended-monitor`` clients
    only (each change still needs its own capability: ``away-notify``...)."""
    if "extended-monitor" not in d.caps:
        return None
    return d.encode(event.change, {})


def _realname(d: IrcDialect, event: e.RealnameChanged, is_self: bool) -> bytes | None:
    if "setname" not in d.caps:
        return None
    return d.line_from(event, f"SETNAME :{event.realname}")


#: Event type -> renderer (merged with ``render.RENDERERS``).
RENDERERS: dict[type[e.Event], Callable[[IrcDialect, Any, bool], bytes | None]] = {
    e.WhoWasReply: _whowas_reply,
    e.MonitorStatus: _monitor_status,
    e.MonitorList: _monitor_list,
    e.Monitored: _monitored,
    e.RealnameChanged: _realname,
}
