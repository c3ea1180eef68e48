"""Registering, renaming, quitting, and what a nick may be."""

from __future__ import annotations

import pytest
from core_helpers import deliveries, events, make_core, only_error, user

from chat.config import Limits, ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e


def test_nick_change_reaches_each_neighbour_once() -> None:
    core = make_core()
    user(core, 1, "alice", "#a", "#b")
    user(core, 2, "bob", "#a", "#b")
    user(core, 3, "carol")
    out = core.handle(1, c.ChangeNick("Alicia"))
    assert deliveries(out) == [(e.NickChanged, (1, 2))]
    assert core.nicks.get("alicia") is core.users[1] and "alice" not in core.nicks
    assert only_error(core.handle(3, c.ChangeNick("ALICIA"))) == "nick_taken"


def test_changing_to_the_same_nick_says_nothing() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    assert core.handle(1, c.ChangeNick("alice")) == []
    assert deliveries(core.handle(1, c.ChangeNick("ALICE"))) == [(e.NickChanged, (1,))]


def test_quit_frees_the_nick_and_tells_neighbours() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    out = core.handle(2, c.Quit("night"))
    kinds = [type(o.event) if isinstance(o, e.Delivery) else o for o in out]
    assert kinds == [e.Disconnect, e.Quitted, e.Close(2, "Quit: night")]
    assert out[1].recipients == (1,)  # type: ignore[union-attr]
    assert core.disconnect(2, "Connection closed") == []  # already announced
    user(core, 3, "Bob")  # the nick is free at once


def test_quit_before_registering_just_closes() -> None:
    core = make_core()
    core.connect(1, "127.0.0.1")
    out = core.handle(1, c.Quit())
    assert deliveries(out) == [(e.Disconnect, (1,))] and out[-1] == e.Close(1, "Quit: Quit")
    assert 1 not in core.users


def test_abrupt_disconnect_is_announced_with_reason() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    out = core.disconnect(2, "Connection reset")
    assert deliveries(out) == [(e.Quitted, (1,))]
    assert out[0].event.reason == "Connection reset"  # type: ignore[union-attr]
    assert "bob" not in core.nicks and not core.rooms["#a"].members.keys() - {1}


def test_identities_from_any_dialect_are_safe_in_hostmasks() -> None:
    core = make_core()
    core.connect(1, "::1")
    core.handle(1, c.Register("alice", ident="bad ident@x!y:z"))
    assert core.users[1].ident == "badidentxyz"


@pytest.mark.parametrize("nick", ["NickServ", "chanserv", "Global"])
def test_service_nicks_are_reserved(nick: str) -> None:
    core = make_core()
    core.connect(1, "127.0.0.1")
    assert only_error(core.handle(1, c.Register(nick))) == "nick_invalid"
    user(core, 2, "bob")
    assert only_error(core.handle(2, c.ChangeNick(nick))) == "nick_invalid"


def test_registering_twice_is_refused() -> None:
    core = make_core()
    user(core, 1, "alice")
    assert only_error(core.handle(1, c.Register("other"))) == "already_registered"
    assert only_error(core.handle(1, c.Register("9bad"))) == "already_registered"


def test_people_land_in_the_default_room_which_the_server_owns() -> None:
    core = ChatCore(ServerConfig(limits=Limits(), default_room="#lobby"), clock=lambda: 1.0)
    core.connect(1, "127.0.0.1")
    out = core.handle(1, c.Register("alice", join_default=True))
    assert deliveries(out) == [(e.Welcome, (1,)), (e.Joined, (1,)), (e.MemberList, (1,))]
    assert not core.rooms["#lobby"].ops  # nobody can lock newcomers out of it
    core.connect(2, "127.0.0.1")
    core.handle(2, c.Register("bob"))  # without join_default (bots, IRC): put nowhere
    assert not core.users[2].rooms


def test_the_welcome_says_the_limits() -> None:
    core = make_core()
    core.connect(1, "127.0.0.1")
    (welcome,) = events(core.handle(1, c.Register("alice", ref="h")))
    assert isinstance(welcome, e.Welcome) and welcome.ref == "h"
    assert welcome.limits["nick_len"] == core.limits.nick_len
