"""Services pseudo-users: what NickServ and ChanServ have in common, and ChanServ itself.

A service is a nick the server answers for (``RESERVED_NICKS`` in the core keeps anyone from
taking it). A line to one goes to it and nowhere else, even when other targets share the
PRIVMSG; a NOTICE to one gets no answer. Services answer as
``:<Service>!<Service>@services.<server> NOTICE <nick> :...``.

ChanServ registers rooms to accounts (the core's :class:`~chat.core.commands.RegisterRoom`):
``REGISTER #room``, ``DROP #room``, ``TRANSFER #room <account>`` (or ``SET #room FOUNDER
<account>``), ``HELP``. Its commands carry ``AccountRef("CHANSERV")``, so the core's notices and
errors come back as ChanServ notices. NickServ lives in ``accounts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.core import commands as c
from chat.core.names import fold
from chat.dialects.base import Decoded
from chat.dialects.irc.numerics import AccountRef
from chat.dialects.irc.syntax import clip

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

NICKSERV = "NickServ"
CHANSERV = "ChanServ"
#: ``AccountRef.via`` -> the service that answers for it.
SERVICE_OF_VIA = {"NICKSERV": NICKSERV, "PASS": NICKSERV, "CHANSERV": CHANSERV}

CHANSERV_HELP = (
    "ChanServ registers rooms to accounts: the founder gets +o on every join. Commands:",
    "REGISTER #room - register a room you are an operator of to your account",
    "DROP #room - give the room up (its founder, or a server operator)",
    "TRANSFER #room account - hand the room to another account (SET #room FOUNDER account "
    "works too)",
    "HELP - this list",
    "Log in to an account first (SASL, or IDENTIFY to NickServ).",
)


def service_notice(d: IrcDialect, service: str, text: str) -> bytes:
    """A NOTICE from ``service`` (``NickServ``, ``ChanServ``) to this client."""
    line = clip(f":{service}!{service}@services.{d.server} NOTICE {d.me} :{text}")
    return (line + "\r\n").encode("utf-8")


def is_service(target: str, service: str) -> bool:
    """Whether a PRIVMSG target is ``service`` (``ChanServ`` or ``ChanServ@services...``)."""
    return fold(target.partition("@")[0]) == fold(service)


def chanserv_notice(d: IrcDialect, text: str) -> bytes:
    return service_notice(d, CHANSERV, text)


def chanserv(d: IrcDialect, text: str) -> list[Decoded]:
    """A line to ChanServ, as the core's room-registration commands (or its own answer)."""
    words = text.split()
    if not words:
        return [chanserv_notice(d, line) for line in CHANSERV_HELP]
    command, args = words[0].upper(), words[1:]
    ref = AccountRef("CHANSERV")
    if command == "SET" and len(args) == 3 and args[1].upper() == "FOUNDER":
        command, args = "TRANSFER", [args[0], args[2]]
    if command == "REGISTER":
        if len(args) == 1:
            return [c.RegisterRoom(args[0], ref=ref)]
        return [chanserv_notice(d, "Usage: REGISTER #room")]
    if command in ("DROP", "UNREGISTER"):
        if len(args) == 1:
            return [c.RegisterRoom(args[0], unregister=True, ref=ref)]
        return [chanserv_notice(d, "Usage: DROP #room")]
    if command == "TRANSFER":
        if len(args) == 2:
            return [c.RegisterRoom(args[0], to=args[1], ref=ref)]
        return [chanserv_notice(d, "Usage: TRANSFER #room account")]
    if command == "HELP":
        return [chanserv_notice(d, line) for line in CHANSERV_HELP]
    return [chanserv_notice(d, f"Unknown command {command[:32]}; send HELP for the list")]


def chanserv_verb(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``CS ...`` / ``CHANSERV ...``: the rest of the line is for ChanServ."""
    return chanserv(d, " ".join(params))
