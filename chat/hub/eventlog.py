"""The server log's view of what happens in rooms: nick changes, kicks and bans, at INFO.

A hub observer like history and metrics. What people say is never logged, only who did what
to whom (operator actions are logged by the core's operator rules, with more detail).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from chat.core import events as e
from chat.hub.output import Output

log = logging.getLogger("chat.events")


def _nick(event: e.NickChanged) -> None:
    log.info("%s is now known as %s", _who(event), event.new_nick)


def _kick(event: e.Kicked) -> None:
    log.info("%s kicked %s from %s (%s)", _who(event), event.target, event.room, event.reason)


def _mode(event: e.ModeChanged) -> None:
    bans = [(c.add, c.arg) for c in event.changes if c.char == "b"]
    for add, mask in bans:
        log.info("%s %s %s on %s", _who(event), "banned" if add else "unbanned", mask,
                 event.target)


def _who(event: e.Event) -> str:
    source = event.source
    return f"{source.nick} ({source.host})" if source else "the server"


_LOGGED: dict[type, Callable[[Any], None]] = {
    e.NickChanged: _nick, e.Kicked: _kick, e.ModeChanged: _mode}


class EventLog:
    """Logs the room events worth a line; costs a dict lookup per output otherwise."""

    __slots__ = ()

    def delivered(self, outputs: Sequence[e.Output]) -> None:
        """Log nick changes, kicks and bans among one core call's outputs."""
        if not log.isEnabledFor(logging.INFO):
            return
        for output in outputs:
            if output.__class__ is e.Delivery:
                logger = _LOGGED.get(output.event.__class__)
                if logger is not None:
                    logger(output.event)

    def flushed(self, out: Output) -> None:
        """Nothing per flush."""
