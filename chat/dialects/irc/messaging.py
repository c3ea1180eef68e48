"""PRIVMSG, NOTICE and TAGMSG in: targets (with STATUSMSG prefixes), CTCP, client-only tags;
and TAGMSG out.

The services (NickServ, ChanServ) take their messages first; CTCP ACTION is an action, other
CTCP to one person is a client-to-client query the core routes (answering it for people who
cannot), and CTCP to a room is dropped, as many networks do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.core import commands as c
from chat.core import events as e
from chat.dialects.base import Decoded
from chat.dialects.irc.accounts import is_nickserv, nickserv
from chat.dialects.irc.numerics import need_params
from chat.dialects.irc.registration import MAX_TARGETS
from chat.dialects.irc.services import CHANSERV, chanserv, is_service
from chat.dialects.irc.tags import client_only, format_tags

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

#: STATUSMSG prefix -> who in the room the message is for.
STATUS_PREFIXES: dict[str, c.StatusTarget] = {"@": "op", "+": "voice"}
#: The prefix a status message is shown with, by the core's word for it.
STATUS_SIGILS = {"op": "@", "voice": "+"}


def split_target(target: str) -> tuple[str, c.StatusTarget]:
    """``@#room`` -> (``#room``, ``op``); anything else unchanged with no status."""
    status = STATUS_PREFIXES.get(target[:1])
    if status is not None and target[1:2] == "#":
        return target[1:], status
    return target, ""


def privmsg(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """PRIVMSG/NOTICE ``targets :text``."""
    if not params or not params[0]:
        return [d.num("411", text=f"No recipient given ({verb})")]
    if len(params) < 2 or not params[1]:
        return [d.num("412", text="No text to send")]
    text = params[1]
    target = params[0]
    if target[0] == "#" and text[0] != "\x01" and "," not in target and not d.received_tags:
        # Nearly every line: plain text to one room, no tags. What the general path below
        # makes of it, without its lists (no services, no CTCP, no status prefix).
        kind: c.MessageKind = "notice" if verb == "NOTICE" else "message"
        return [c.Say(target, text, kind, ref=verb, status="", tags=())]
    targets = [target for target in params[0].split(",")[:MAX_TARGETS] if target]
    # Services' names never start with '#': a room message (nearly every one) skips the checks.
    nicks = [target for target in targets if target[0] != "#"]
    if nicks and any(is_nickserv(target) for target in nicks):
        # It goes to NickServ and nowhere else, even when other targets are named: it may
        # hold a password. A NOTICE gets no answer, as ever.
        return nickserv(d, text) if verb == "PRIVMSG" else []
    if nicks and any(is_service(target, CHANSERV) for target in nicks):
        return chanserv(d, text) if verb == "PRIVMSG" else []  # likewise
    kind = "notice" if verb == "NOTICE" else "message"
    ctcp = False
    if text.startswith("\x01"):
        inner = text[1:].removesuffix("\x01")
        if inner.upper().startswith("ACTION"):
            kind, text = "action", inner[7:] or " "
        else:
            kind, text, ctcp = ("ctcp" if verb == "PRIVMSG" else "ctcp_reply"), inner, True
            if not text.strip():
                return []
    tags = client_only(d.received_tags) if d.received_tags else ()
    out: list[Decoded] = []
    for raw in targets:
        target, status = split_target(raw)
        if ctcp and target.startswith("#"):
            continue  # CTCP to a room: machinery other dialects cannot carry; dropped
        out.append(c.Say(target, text, kind, ref=verb, status=status, tags=tags))
    return out


def tagmsg(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """TAGMSG ``target``: only its client-only tags travel; without any there is nothing to
    relay (and nothing to say about it).

    The ``message-tags`` capability is what enables TAGMSG (the spec's words): from a client
    that did not enable it, it is refused, as solanum and InspIRCd refuse it, and answered 421
    so the client learns why (they say nothing; ergo relays it anyway).
    """
    if "message-tags" not in d.caps:
        return [d.num("421", verb, text="Unknown command (TAGMSG needs the message-tags "
                                        "capability)")]
    if not params or not params[0]:
        return [need_params(d, verb)]
    tags = client_only(d.received_tags) if d.received_tags else ()
    if not tags:
        return []
    out: list[Decoded] = []
    for raw in params[0].split(",")[:MAX_TARGETS]:
        target, status = split_target(raw)
        if target:
            out.append(c.SayTags(target, tags, ref=verb, status=status))
    return out


def tag_line(d: IrcDialect, event: e.TagMessage, is_self: bool) -> bytes | None:
    """``@+typing=active :nick!u@h TAGMSG #room``, for clients with message-tags only."""
    if "message-tags" not in d.caps or (is_self and "echo-message" not in d.caps):
        return None
    if event.room is None:
        target = event.target
    else:
        target = STATUS_SIGILS.get(event.status, "") + event.room
    return d.line_from(event, f"TAGMSG {target}", msgid=event.id)


def relayed_tags(d: IrcDialect, event: e.Event) -> str:
    """The client-only tags and ``bot`` tag an event carries, for a message-tags client (else
    ""), as ``;``-joined tag text."""
    if "message-tags" not in d.caps:
        return ""
    parts = []
    source = event.source
    if source is not None and source.bot:
        parts.append("bot")
    tags = getattr(event, "tags", ())
    if tags:
        parts.append(format_tags(tags))
    return ";".join(parts)
