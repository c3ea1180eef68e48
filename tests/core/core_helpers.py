"""Helpers for the core's own tests: a core with a ticking fake clock, users, and output views.

Imported by bare name (``from core_helpers import ...``): pytest puts this folder on sys.path
for the test modules in it, as it puts tests/ there for support.py and memnet.py. There is no
conftest.py here on purpose: tests/test_irc.py and others import ``conftest`` by bare name, and
a second module of that name would shadow tests/conftest.py for them.
"""

from __future__ import annotations

from typing import Any

from chat.config import Limits, ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e


def make_core(**limits: Any) -> ChatCore:
    """A core with default limits but ``limits``, and a clock one second on at every reading."""
    ticks = iter(range(1_000_000))
    return ChatCore(ServerConfig(limits=Limits(**limits)),
                    clock=lambda: 1_700_000_000.0 + next(ticks))


def user(core: ChatCore, conn: int, nick: str, *rooms: str) -> None:
    """Connect ``conn`` from 10.0.0.1, register ``nick`` (ident ``id``) and join ``rooms``."""
    core.connect(conn, "10.0.0.1")
    out = core.handle(conn, c.Register(nick, ident="id"))
    assert isinstance(out[0], e.Delivery) and isinstance(out[0].event, e.Welcome)
    for room in rooms:
        core.handle(conn, c.Join(room))


def events(out: list[e.Output]) -> list[e.Event]:
    """The events delivered, in order."""
    return [o.event for o in out if isinstance(o, e.Delivery)]


def deliveries(out: list[e.Output]) -> list[tuple[type, tuple[int, ...]]]:
    """(event type, recipients) of each delivery, in order."""
    return [(type(o.event), o.recipients) for o in out if isinstance(o, e.Delivery)]


def error(out: list[e.Output]) -> str:
    """The code of the first error among the events."""
    errors = [ev for ev in events(out) if isinstance(ev, e.Error)]
    assert errors, events(out)
    return errors[0].code


def only_error(out: list[e.Output]) -> str:
    """The code of the error that is all ``out`` holds."""
    assert len(out) == 1 and isinstance(out[0], e.Delivery)
    assert isinstance(out[0].event, e.Error)
    return out[0].event.code
