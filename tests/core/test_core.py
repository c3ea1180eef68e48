"""The facade the hub calls: dispatch, what may come before registration, server-made closes."""

from __future__ import annotations

import typing

import pytest
from core_helpers import deliveries, events, make_core, only_error, user

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Handlers
from chat.core.core import HANDLERS


def test_every_command_but_help_has_one_handler() -> None:
    handled = set(typing.get_args(c.Command)) - {c.Help}  # dialects render help themselves
    assert set(HANDLERS) == handled


def test_a_command_handled_twice_is_refused() -> None:
    one, two = Handlers(), Handlers()
    one.on(c.Ping)(lambda *args: None)
    two.on(c.Ping)(lambda *args: None)
    with pytest.raises(ValueError, match="Ping"):
        Handlers.merge(one, two)


def test_unregistered_connections_may_only_register() -> None:
    core = make_core()
    core.connect(1, "127.0.0.1")
    assert only_error(core.handle(1, c.Join("#a"))) == "not_registered"
    assert deliveries(core.handle(1, c.Ping("t"))) == [(e.PongReply, (1,))]
    assert core.disconnect(1, "gone") == []  # never registered: nothing to announce


def test_a_command_from_a_connection_already_gone_does_nothing() -> None:
    core = make_core()
    assert core.handle(9, c.Say("#a", "late")) == []
    assert core.drop(9, "late") == [] and core.disconnect(9, "late") == []


def test_shutdown_tells_and_closes_everyone() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    core.connect(2, "127.0.0.1")
    out = core.shutdown("bye all")
    assert deliveries(out) == [(e.Disconnect, (1, 2))]
    assert [o for o in out if isinstance(o, e.Close)] == [e.Close(1, "bye all"),
                                                          e.Close(2, "bye all")]


def test_drop_tells_the_connection_why_then_closes_it() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    out = core.drop(1, "Excess flood")
    assert deliveries(out) == [(e.Disconnect, (1,))] and out[-1] == e.Close(1, "Excess flood")


def test_deliveries_name_the_connection_that_caused_them() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    out = core.handle(1, c.Say("#a", "hi")) + core.handle(2, c.Whois("alice"))
    assert [o.origin for o in out if isinstance(o, e.Delivery)] == [1, 2]
    assert [o.origin for o in core.disconnect(2, "gone")] == [2]  # its own leaving
    assert [o.origin for o in core.drop(1, "Ping timeout")
            if isinstance(o, e.Delivery)] == [None]  # the server's doing
    assert all(o.origin is None for o in core.shutdown("bye") if isinstance(o, e.Delivery))


def test_each_call_returns_only_its_own_effects() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    first = core.handle(1, c.Say("#a", "one"))
    second = core.handle(1, c.Say("#a", "two"))
    assert [ev.text for ev in events(first)] == ["one"]  # type: ignore[attr-defined]
    assert [ev.text for ev in events(second)] == ["two"]  # type: ignore[attr-defined]


def test_ping_events_have_unique_tokens() -> None:
    core = make_core()
    first, second = core.ping_event(), core.ping_event()
    assert first.token == first.id and first.token != second.token
