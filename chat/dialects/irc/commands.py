"""Input after registration: one handler per IRC verb, found through ``COMMANDS``.

A handler turns (verb, params) into core commands, each carrying the verb as ``ref`` so an error
from the core becomes the numeric this verb expects (see ``numerics``), or into reply lines the
core has no business with (MOTD, TIME...). WHO, WHOWAS, MONITOR and SETNAME are in
``people``; LUSERS, STATS, INFO and ADMIN in ``server``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from chat import __version__
from chat.core import commands as c
from chat.core.names import fold
from chat.dialects.base import Decoded
from chat.dialects.irc.accounts import (
    authenticate,
    nickserv_verb,
    register,
    verify,
)
from chat.dialects.irc.history import chathistory
from chat.dialects.irc.listing import list_rooms
from chat.dialects.irc.messaging import privmsg, tagmsg
from chat.dialects.irc.numerics import need_params
from chat.dialects.irc.operators import COMMANDS as OPERATOR_COMMANDS
from chat.dialects.irc.people import COMMANDS as PEOPLE_COMMANDS
from chat.dialects.irc.registration import (
    MAX_JOINS,
    MAX_TARGETS,
    Handler,
    cap,
    isupport,
    motd,
    quit_server,
)
from chat.dialects.irc.server import COMMANDS as SERVER_COMMANDS
from chat.dialects.irc.services import chanserv_verb

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect


def _already(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    return [d.num("462", text="You may not reregister")]


def _nick(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[0]:
        return [d.num("431", text="No nickname given")]
    return [c.ChangeNick(params[0], ref=verb)]


def _ping(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params:
        return [d.num("409", text="No origin specified")]
    return [c.Ping(params[-1][:64], ref=verb)]


def _pong(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    return [c.Pong(params[-1][:64] if params else "", ref=verb)]


def _named(names: str, most: int) -> list[str]:
    """The names in a comma-separated list, empty ones skipped (``#a,,#b``), at most ``most``
    of them (as ergo and solanum skip empty entries)."""
    return [name for name in names.split(",")[:most] if name]


def _join(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[0]:
        return [need_params(d, verb)]
    if params[0] == "0":  # JOIN 0: leave every room
        return [c.Part(room.name, "", ref="PART") for room in list(d.user.rooms.values())]
    rooms = params[0].split(",")[:MAX_JOINS]
    if not any(rooms):  # JOIN ",,,": no room named at all, as for JOIN alone
        return [need_params(d, verb)]
    keys = params[1].split(",") if len(params) > 1 else []
    out: list[Decoded] = []
    for i, room in enumerate(rooms):
        if not room or fold(room) in d.user.rooms:
            continue  # already there: IRC servers say nothing
        out.append(c.Join(room, keys[i] if i < len(keys) and keys[i] else None, ref=verb))
    return out


def _part(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    rooms = _named(params[0], MAX_JOINS) if params else []
    if not rooms:  # PART, PART "" or PART ",,,"
        return [need_params(d, verb)]
    reason = params[1] if len(params) > 1 else ""
    return [c.Part(room, reason, ref=verb) for room in rooms]


def _names(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    rooms = _named(params[0], MAX_JOINS) if params else []
    if not rooms:  # NAMES, NAMES "" or NAMES ",,,": a client waiting for 366 still gets one
        return [d.num("366", "*", text="End of /NAMES list")]
    return [c.ListMembers(room, ref=verb) for room in rooms]


def _topic(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params:
        return [need_params(d, verb)]
    if len(params) < 2:
        return [c.SetTopic(params[0], None, ref=verb)]
    # IRC servers cut over-long topics to TOPICLEN rather than refuse them.
    return [c.SetTopic(params[0], params[1][: d.config.limits.topic_len], ref=verb)]


def _whois(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params or not params[-1]:
        return [d.num("431", text="No nickname given")]
    nick = params[-1].split(",")[0]  # WHOIS [server] nick: the nick is last
    return [c.Whois(nick, ref=verb)]


def _lookup(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params:
        return [need_params(d, verb)]
    if verb == "ISON":
        return [c.Lookup(tuple(" ".join(params).split()), ref=verb)]
    return [c.Lookup(tuple(params[:5]), ref=verb)]  # USERHOST


def _kick(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    nicks = _named(params[1], MAX_TARGETS) if len(params) > 1 else []
    if not nicks:  # KICK #room, or KICK #room ",,,"
        return [need_params(d, verb)]
    reason = params[2] if len(params) > 2 else ""
    # The kicker's own name goes last: kicked first, they would no longer run the room (or it
    # would be gone) and every name after theirs would get 442 or 403, as on ergo, instead of
    # the kick (or 401, 441) it was meant to get.
    me = fold(d.user.nick)
    nicks.sort(key=lambda nick: fold(nick) == me)  # stable: the others keep their order
    return [c.Kick(params[0], nick, reason, ref=verb) for nick in nicks]


def _invite(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params:
        return [d.num("337", text="End of /INVITE list")]
    if len(params) < 2:
        return [need_params(d, verb)]
    return [c.Invite(params[0], params[1], ref=verb)]


def _mode(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    if not params:
        return [need_params(d, verb)]
    modes = params[1] if len(params) > 1 else ""
    return [c.Mode(params[0], modes, tuple(params[2:]), ref=verb)]


def _time(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    now = time.strftime("%A %B %d %Y -- %H:%M:%S UTC", time.gmtime(d.clock()))
    return [d.num("391", d.server, text=now)]


#: Verb -> handler once registered; any other verb gets 421.
COMMANDS: dict[str, Handler] = {
    "NICK": _nick,
    "USER": _already,
    "PASS": _already,
    "CAP": cap,
    "PING": _ping,
    "PONG": _pong,
    "QUIT": quit_server,
    "JOIN": _join,
    "PART": _part,
    "PRIVMSG": privmsg,
    "NOTICE": privmsg,
    "NAMES": _names,
    "TOPIC": _topic,
    "LIST": list_rooms,
    "WHOIS": _whois,
    "AWAY": lambda d, verb, params: [c.Away(params[0] if params else "", ref=verb)],
    "ISON": _lookup,
    "USERHOST": _lookup,
    "KICK": _kick,
    "INVITE": _invite,
    "MODE": _mode,
    "MOTD": lambda d, verb, params: [motd(d)],
    "VERSION": lambda d, verb, params: [
        d.num("351", f"chat-{__version__}", d.server, text=""), isupport(d)],
    "TIME": _time,
    "TAGMSG": tagmsg,
    "CHATHISTORY": chathistory,
    "AUTHENTICATE": authenticate,
    "REGISTER": register,
    "VERIFY": verify,
    "NS": nickserv_verb,
    "NICKSERV": nickserv_verb,
    "CS": chanserv_verb,
    "CHANSERV": chanserv_verb,
    **OPERATOR_COMMANDS,
    **PEOPLE_COMMANDS,  # WHO (and WHOX), WHOWAS, MONITOR, SETNAME
    **SERVER_COMMANDS,  # LUSERS, STATS, INFO, ADMIN
}
