"""History over IRC: the ``CHATHISTORY`` command in, ``chathistory`` batches out.

IRCv3 ``draft/chathistory`` (with ``batch``, ``server-time``, ``message-tags`` and
``draft/event-playback``), for rooms and for private conversations between two accounts (a
nick as target). Input: :func:`chathistory` checks a CHATHISTORY line and turns it into the
core's :class:`FetchHistory` or :class:`HistoryTargets`, with a :class:`HistoryRef` so the core's
errors come back as ``FAIL CHATHISTORY`` (see ``numerics``); what the line gets wrong is
answered here, with the FAIL the spec names. Output: ``RENDERERS`` for ``e.History`` (a page the
client asked for, or the lines replayed on join) and ``e.HistoryTargetList``.

Past lines keep their original ``msgid`` and ``time``. Without ``draft/event-playback`` a batch
holds only PRIVMSG and NOTICE lines, as the spec requires: a past topic change then comes as a
server NOTICE to the room (a TOPIC line would tell the client the topic changed now).
Membership lines (JOIN, PART, QUIT, KICK, NICK, and TOPIC) are sent only with
``draft/event-playback`` and inside a batch, where a client knows they are history.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat.core import commands as c
from chat.core import events as e
from chat.core.history import MAX_PAGE
from chat.dialects.base import Decoded
from chat.dialects.irc.numerics import HistoryRef, fail, need_params
from chat.dialects.irc.render import Renderer, join_line, message_lines
from chat.dialects.irc.syntax import clip
from chat.dialects.structured import iso_time
from chat.history.records import Direction, Ref

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

#: The message references CHATHISTORY takes, in order of preference (ISUPPORT ``MSGREFTYPES``).
MSGREFTYPES = ("msgid", "timestamp")

_CMD = "CHATHISTORY"
_DIRECTIONS: dict[str, Direction] = {
    "LATEST": "latest", "BEFORE": "before", "AFTER": "after", "AROUND": "around",
    "BETWEEN": "between",
}
#: server-time's format, ``YYYY-MM-DDThh:mm:ss.sssZ`` (any 0 to 6 decimals accepted).
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", re.ASCII)


class _Refused(Exception):
    """A CHATHISTORY line that cannot be served; ``reply`` is the FAIL that says why."""

    def __init__(self, reply: bytes) -> None:
        super().__init__()
        self.reply = reply


def _invalid(d: IrcDialect, sub: str, *context: str, text: str) -> _Refused:
    return _Refused(fail(d, _CMD, "INVALID_PARAMS", sub, *context, text=text))


# -- input ---------------------------------------------------------------------------------

def timestamp(value: str) -> float | None:
    """``YYYY-MM-DDThh:mm:ss.sssZ`` as epoch seconds, or None if it is not one."""
    if not _TIMESTAMP.fullmatch(value):
        return None
    try:
        when = _dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=_dt.UTC)
    except ValueError:
        return None
    return when.timestamp()


def _ref(d: IrcDialect, sub: str, target: str, value: str, star: bool = False) -> Ref | None:
    """``msgid=X`` or ``timestamp=T`` (or ``*`` where ``star`` allows it: None)."""
    if star and value == "*":
        return None
    kind, eq, rest = value.partition("=")
    if not eq or not rest:
        raise _invalid(d, sub, value, text="Invalid message reference: use msgid= or timestamp=")
    if kind == "msgid":
        return Ref(msgid=rest)
    if kind == "timestamp":
        when = timestamp(rest)
        if when is None:
            raise _invalid(d, sub, value, text="Invalid timestamp")
        return Ref(ts=when)
    raise _Refused(fail(d, _CMD, "INVALID_MSGREFTYPE", sub, target, value,
                        text=f"Unknown message reference type {kind}="))


def _limit(d: IrcDialect, sub: str, value: str) -> int:
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= MAX_PAGE):
        raise _invalid(d, sub, value, text=f"The limit must be a number from 1 to {MAX_PAGE}")
    return int(value)


def _count(d: IrcDialect, sub: str, args: list[str], want: int) -> None:
    if len(args) < want:
        raise _invalid(d, sub, text="Insufficient parameters")
    if len(args) > want:
        raise _invalid(d, sub, text="Too many parameters")


def _targets(d: IrcDialect, args: list[str]) -> c.HistoryTargets:
    sub = "TARGETS"
    _count(d, sub, args, 3)
    start, end = (_ref(d, sub, "*", value) for value in args[:2])
    if start is None or end is None or start.ts is None or end.ts is None:
        raise _invalid(d, sub, text="TARGETS takes two timestamp= references")
    return c.HistoryTargets(start.ts, end.ts, _limit(d, sub, args[2]), ref=HistoryRef(sub, "*"))


def chathistory(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``CHATHISTORY <sub> <target> <ref> [<ref>] <limit>`` / ``CHATHISTORY TARGETS ...``.

    Accepted whether or not the client enabled ``draft/chathistory`` (as ergo does). A nick as
    target asks for the private conversation with it, which the core keeps between two
    accounts (it refuses otherwise: ``FAIL CHATHISTORY INVALID_TARGET``).
    """
    if not params:
        return [need_params(d, verb)]
    sub, args = params[0].upper(), params[1:]
    try:
        if sub == "TARGETS":
            return [_targets(d, args)]
        direction = _DIRECTIONS.get(sub)
        if direction is None:
            raise _invalid(d, params[0], text="Unknown command")
        _count(d, sub, args, 4 if sub == "BETWEEN" else 3)
        target = args[0]
        anchor = _ref(d, sub, target, args[1], star=sub == "LATEST")
        end = _ref(d, sub, target, args[2]) if sub == "BETWEEN" else None
        limit = _limit(d, sub, args[-1])
    except _Refused as refused:
        return [refused.reply]
    return [c.FetchHistory(target, direction, anchor, end, limit,
                           everything="draft/event-playback" in d.caps,
                           ref=HistoryRef(sub, target))]


# -- output --------------------------------------------------------------------------------

def _wrap(d: IrcDialect, batch: str | None, head: str, body: list[bytes]) -> bytes:
    """``body`` between ``BATCH +id head`` and ``BATCH -id`` (bare without a batch)."""
    if batch is None:
        return b"".join(body)
    return (d.server_line(f"BATCH +{batch} {head}") + b"".join(body)
            + d.server_line(f"BATCH -{batch}"))


def stamp(ts: float, now: float) -> str:
    """A past line's time (UTC) for clients without server-time: ``[HH:MM]`` on the day
    ``now`` falls in, else ``[YYYY-MM-DD HH:MM]``."""
    when = time.gmtime(ts)
    if time.gmtime(now)[:3] == when[:3]:
        return time.strftime("[%H:%M]", when)
    return time.strftime("[%Y-%m-%d %H:%M]", when)


def _server_notice(d: IrcDialect, past: e.Event, text: str, batch: str | None) -> bytes:
    line = clip(f":{d.server} NOTICE {past.room} :{text}")
    return (d.tags(past, past.id, batch) + line + "\r\n").encode("utf-8")


def _parted(ev: e.Parted) -> str:
    return f"PART {ev.room} :{ev.reason}" if ev.reason else f"PART {ev.room}"


#: Membership events as the line a live client saw (sent only with draft/event-playback;
#: JOIN is ``render.join_line``, as extended-join has it).
_PLAYBACK: dict[type[e.Event], Callable[[Any], str]] = {
    e.Parted: _parted,
    e.Quitted: lambda ev: f"QUIT :{ev.reason}",
    e.Kicked: lambda ev: f"KICK {ev.room} {ev.target} :{ev.reason}",
    e.NickChanged: lambda ev: f"NICK :{ev.new_nick}",
    e.Topic: lambda ev: f"TOPIC {ev.room} :{ev.topic}",
}


def _past(d: IrcDialect, past: e.Event, batch: str | None, when: str,
          playback: bool) -> bytes | None:
    """One past event as history lines, or None when this client is not to see it."""
    if type(past) is e.Message:
        return message_lines(d, past, batch, when)
    if playback and type(past) is e.Joined:
        return join_line(d, past, past.id, batch)
    if playback and type(past) in _PLAYBACK:
        return d.line_from(past, _PLAYBACK[type(past)](past), past.id, batch)
    if type(past) is e.Topic:
        who = past.source.nick if past.source else past.set_by
        said = f"{who} set the topic: {past.topic}" if past.topic else f"{who} cleared the topic"
        return _server_notice(d, past, when + said, batch)
    return None  # a membership line, for a client without event-playback


def _history(d: IrcDialect, event: e.History, is_self: bool) -> bytes | None:
    if event.replay and "draft/chathistory" in d.caps:
        return None  # it fetches what it wants with CHATHISTORY, as the spec recommends
    batch = d.new_batch()
    playback = batch is not None and "draft/event-playback" in d.caps
    stamped = "server-time" not in d.caps
    body = []
    for past in event.events:
        when = stamp(past.ts, event.ts) + " " if stamped else ""
        lines = _past(d, past, batch, when, playback)
        if lines:
            body.append(lines)
    return _wrap(d, batch, f"chathistory {event.room}", body) or None


def _target_list(d: IrcDialect, event: e.HistoryTargetList, is_self: bool) -> bytes | None:
    batch = d.new_batch()
    tag = f"@batch={batch} " if batch else ""
    body = [tag.encode() + d.server_line(f"CHATHISTORY TARGETS {room} {iso_time(ts)}")
            for room, ts in event.targets]
    return _wrap(d, batch, "draft/chathistory-targets", body) or None


#: Event type -> renderer, for the history events (merged with ``render.RENDERERS``).
RENDERERS: dict[type[e.Event], Renderer] = {
    e.History: _history,
    e.HistoryTargetList: _target_list,
}
