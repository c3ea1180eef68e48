"""Human output: readable lines, a renderer per event type in ``RENDERERS``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat.core import events as e
from chat.dialects.formatting import strip as strip_formatting
from chat.dialects.render import describe

if TYPE_CHECKING:
    from chat.dialects.human.dialect import HumanDialect


def time_of(ts: float) -> str:
    """An event's time as the reader sees it: ``[HH:MM]``, local time."""
    return time.strftime("[%H:%M]", time.localtime(ts))


def stamp_of(ts: float, today: float) -> str:
    """A past event's time: ``[HH:MM]`` on the day ``today`` falls in, else with the date."""
    when = time.localtime(ts)
    if time.localtime(today)[:3] == when[:3]:
        return time.strftime("[%H:%M]", when)
    return time.strftime("[%Y-%m-%d %H:%M]", when)


def lines(text: str) -> bytes:
    """Text as CRLF-terminated lines, as a terminal wants them, without IRC formatting codes
    (a terminal would show them as junk and stray colour numbers)."""
    text = strip_formatting(text)
    return "".join(f"{line}\r\n" for line in text.split("\n")).encode("utf-8", "replace")


def nick_of(event: e.Event) -> str:
    """Who caused ``event``, for prose."""
    return event.source.nick if event.source else "the server"


#: A renderer: (dialect, event of its type, "[HH:MM]", the cache key encode chose) -> text.
Renderer = Callable[["HumanDialect", Any, str, Any], str]


def prose(d: HumanDialect, event: e.Event, stamp: str, key: Any) -> str:
    """Any event without a renderer of its own: its plain-English description."""
    return f"{stamp} -- {describe(event)}"


def _message(d: HumanDialect, event: e.Message, stamp: str, key: Any) -> str:
    nick = event.source.nick if event.source else "server"
    if event.room is None:
        if key == ("h-own", True):
            return f"{stamp} -> *{event.target}* {event.text}"
        if event.kind == "action":
            return f"{stamp} * {nick} (private) {event.text}"
        if event.kind == "notice":  # as in a room and in irssi: not to be taken for a PM
            return f"{stamp} -{nick}- {event.text}"
        return f"{stamp} *{nick}* {event.text}"
    where = "" if key == ("h", True) else f"[{event.room}] "
    if event.status:  # STATUSMSG: for the room's operators (and voiced members) only
        where += "(to operators) " if event.status == "op" else "(to operators and voiced) "
    if event.kind == "action":
        return f"{stamp} {where}* {nick} {event.text}"
    if event.kind == "notice":
        return f"{stamp} {where}-{nick}- {event.text}"
    return f"{stamp} {where}<{nick}> {event.text}"


def _error(d: HumanDialect, event: e.Error, stamp: str, key: Any) -> str:
    text = f"! {event.text}"
    if not d.user.registered and event.code in ("nick_taken", "nick_invalid"):
        text += "\n*** Pick another nickname:"
    return text


def _kicked(d: HumanDialect, event: e.Kicked, stamp: str, key: Any) -> str:
    if not key[1]:  # someone else was kicked
        return prose(d, event, stamp, key)
    tail = f" ({event.reason})" if event.reason else ""
    return f"{stamp} -- You were kicked from {event.room} by {nick_of(event)}{tail}"


def _invited(d: HumanDialect, event: e.Invited, stamp: str, key: Any) -> str:
    if event.target == d.user.nick:
        return (f"{stamp} -- {nick_of(event)} invites you to {event.room}; "
                f"/join {event.room} to accept")
    return f"{stamp} -- You invited {event.target} to {event.room}"


def _away(d: HumanDialect, event: e.AwayStatus, stamp: str, key: Any) -> str:
    if key != ("h-away", True):  # someone else's away status
        return prose(d, event, stamp, key)
    if event.text:
        return f"{stamp} -- You are marked as away ({event.text}); /away to come back"
    return f"{stamp} -- You are no longer marked as away"


def _room_list(d: HumanDialect, event: e.RoomList, stamp: str, key: Any) -> str:
    out = [f"{stamp} -- {describe(event)}"]
    out += [f"   {r.name:<20} {r.members:>4} online  {r.topic}".rstrip() for r in event.rooms]
    return "\n".join(out)


def _history(d: HumanDialect, event: e.History, stamp: str, key: Any) -> str:
    """Past lines between two markers, each with its own time (and date if not today)."""
    room = event.room
    if not event.events:
        return f"{stamp} -- No history in {room}"
    count = len(event.events)
    what = "line" if count == 1 else "lines"
    head = (f"--- {room}: the last {count} {what} before you came ---" if event.replay
            else f"--- {room}: {count} earlier {what} ---")
    out = [head]
    for past in event.events:
        when = stamp_of(past.ts, event.ts)
        renderer = RENDERERS.get(type(past), prose) if type(past) is e.Message else prose
        out.append(renderer(d, past, when, ("h", True)))  # the room is in the markers
    out.append(f"--- end of {room} history ---")
    return "\n".join(out)


#: Event type -> renderer; any other event is shown as its description (``prose``).
RENDERERS: dict[type[e.Event], Renderer] = {
    e.Message: _message,
    e.Error: _error,
    e.Welcome: lambda d, ev, stamp, key: "\n".join(
        [f"*** Welcome to {ev.server}, {ev.nick}! Type /help for commands.",
         *(f"*** {line}" for line in ev.motd.splitlines())]),
    e.Kicked: _kicked,
    e.Invited: _invited,
    e.AwayStatus: _away,
    e.RoomList: _room_list,
    e.History: _history,
}
