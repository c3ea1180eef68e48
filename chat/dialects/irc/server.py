"""The server as IRC clients ask about it: LUSERS, STATS, INFO and ADMIN.

- ``LUSERS``: 251-255, 265 and 266 with the core's counts (also sent at registration, between
  ISUPPORT and the MOTD). This is one server: the global counts are the local ones.
- ``STATS u`` (242 uptime), ``STATS m`` (212 per core command type, most used first),
  ``STATS k`` (server bans, operators only: see ``operators``); any other letter gets only 219.
- ``INFO``: 371 lines about the software, then 374. ``ADMIN``: 256-259.

A server name other than this one's (``LUSERS * <server>``, ``INFO <server>``...) gets 402:
there are no other servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat import __version__
from chat.core import commands as c
from chat.core import events as e
from chat.core.names import mask_match
from chat.dialects.base import Decoded
from chat.dialects.irc.numerics import need_params

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect
    from chat.dialects.irc.registration import Handler

#: What INFO says, a line each.
INFO = (
    "chat-{version}: a chat-room server for telnet and nc users, the bundled terminal client,",
    "JSON-lines bots, IRC clients and WebSocket clients, all in the same rooms.",
    "Written in Python: one I/O-free core behind a threaded and an asyncio engine.",
    "Started {started}.",
)


def _other_server(d: IrcDialect, name: str | None) -> bytes | None:
    """402 when ``name`` (a server mask) is not this server; None when it is (or absent)."""
    if not name or mask_match(name, d.server):
        return None
    return d.num("402", name, text="No such server")


# -- input -------------------------------------------------------------------------------

def _lusers(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    other = _other_server(d, params[1] if len(params) > 1 else None)
    return [other] if other else [c.ServerStatus(ref="LUSERS")]


def _stats(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[0]:
        return [need_params(d, verb)]
    other = _other_server(d, params[1] if len(params) > 1 else None)
    if other:
        return [other]
    letter = params[0][0]
    if letter in "kK":
        return [c.ServerBan("", ref=verb)]  # operators only; the core says 481 to others
    if letter in "uUmM":
        return [c.ServerStatus(ref=f"STATS {letter.lower()}")]
    return [d.num("219", letter, text="End of /STATS report")]


def _info(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    other = _other_server(d, params[0] if params else None)
    return [other] if other else [c.ServerStatus(ref="INFO")]


def _admin(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    other = _other_server(d, params[0] if params else None)
    if other:
        return [other]
    return [d.num("256", d.server, text="Administrative info"),
            d.num("257", text=f"{d.server}: a chat-rooms server"),
            d.num("258", text="No administrator contact is configured on this server"),
            d.num("259", text="-")]


#: Verb -> handler (merged into ``commands.COMMANDS``).
COMMANDS: dict[str, Handler] = {
    "LUSERS": _lusers,
    "STATS": _stats,
    "INFO": _info,
    "ADMIN": _admin,
}


# -- output ------------------------------------------------------------------------------

def lusers(d: IrcDialect, counts: e.UserCounts) -> bytes:
    """251-255, 265, 266: who is here, for LUSERS and the welcome burst."""
    visible = counts.users - counts.invisible
    users, most = str(counts.users), str(counts.max_users)
    return b"".join((
        d.num("251", text=f"There are {visible} users and {counts.invisible} invisible "
                          "on 1 servers"),
        d.num("252", str(counts.operators), text="operator(s) online"),
        d.num("253", str(counts.unknown), text="unknown connection(s)"),
        d.num("254", str(counts.rooms), text="channels formed"),
        d.num("255", text=f"I have {counts.users} clients and 0 servers"),
        d.num("265", users, most, text=f"Current local users {users}, max {most}"),
        d.num("266", users, most, text=f"Current global users {users}, max {most}"),
    ))


def created(started: float) -> str:
    """The server's start time as 003 and INFO show it."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))


def uptime(seconds: float) -> str:
    """242's wording: ``Server Up 3 days, 4:05:06``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"Server Up {days} days, {hours}:{minutes:02d}:{secs:02d}"


def _status(d: IrcDialect, event: e.ServerStatusReply, is_self: bool) -> bytes:
    """The answer to LUSERS, STATS u/m or INFO, by what was asked (the ``ref``)."""
    asked = event.ref
    if asked == "STATS u":
        return (d.num("242", text=uptime(event.ts - event.started))
                + d.num("219", "u", text="End of /STATS report"))
    if asked == "STATS m":
        lines = [d.num("212", name.upper(), str(count)) for name, count in event.commands]
        lines.append(d.num("219", "m", text="End of /STATS report"))
        return b"".join(lines)
    if asked == "INFO":
        lines = [d.num("371", text=line.format(version=__version__,
                                                started=created(event.started)))
                 for line in INFO]
        lines.append(d.num("374", text="End of INFO list"))
        return b"".join(lines)
    return lusers(d, event.counts)


#: Event type -> renderer (merged with ``render.RENDERERS``).
RENDERERS: dict[type[e.Event], Callable[[IrcDialect, Any, bool], bytes | None]] = {
    e.ServerStatusReply: _status,
}
