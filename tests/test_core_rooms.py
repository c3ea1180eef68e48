"""Room management in the core, without sockets: operators, modes, bans, invites, kicks, away.

These rules are the core's so every dialect gets them; the IRC suite checks the numerics, this
one checks the rules and who receives what.
"""

from __future__ import annotations

import pytest

from chat.config import Limits, ServerConfig
from chat.core import ChatCore
from chat.core import commands as c
from chat.core import events as e
from chat.core.names import mask_match, normalize_mask


@pytest.fixture
def core() -> ChatCore:
    ticks = iter(range(1_000_000))
    return ChatCore(ServerConfig(limits=Limits()), clock=lambda: 1_700_000_000.0 + next(ticks))


def user(core: ChatCore, conn: int, nick: str, *rooms: str) -> None:
    core.connect(conn, "10.0.0.1")
    core.handle(conn, c.Register(nick, ident="id"))
    for room in rooms:
        core.handle(conn, c.Join(room))


def events(out: list[e.Output]) -> list[e.Event]:
    return [o.event for o in out if isinstance(o, e.Delivery)]


def error(out: list[e.Output]) -> str:
    errors = [ev for ev in events(out) if isinstance(ev, e.Error)]
    assert errors, events(out)
    return errors[0].code


def test_new_rooms_are_plus_n_with_the_creator_as_operator(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    (info,) = events(core.handle(1, c.Mode("#a")))
    assert isinstance(info, e.ModeInfo) and info.modes == "+n"
    user(core, 2, "bob", "#a")
    members = core.rooms["#a"].member_list()
    assert [(m.nick, m.op) for m in members] == [("alice", True), ("bob", False)]


def test_only_operators_change_modes_and_changes_reach_the_room(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    assert error(core.handle(2, c.Mode("#a", "+t"))) == "not_op"
    out = core.handle(1, c.Mode("#a", "+tm-n+o", ("bob",)))
    (changed,) = events(out)
    assert isinstance(changed, e.ModeChanged)
    assert e.mode_string(changed.changes) == ("+tm-n+o", ("bob",))
    assert out[0].recipients == (1, 2)  # type: ignore[union-attr]
    assert events(core.handle(1, c.Mode("#a", "+t"))) == []  # no effect, nothing said


def test_topic_lock(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    core.handle(2, c.SetTopic("#a", "open by default"))
    assert core.rooms["#a"].topic == "open by default"
    core.handle(1, c.Mode("#a", "+t"))
    assert error(core.handle(2, c.SetTopic("#a", "locked"))) == "not_op"


def test_moderated_rooms_need_voice(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    core.handle(1, c.Mode("#a", "+m"))
    assert error(core.handle(2, c.Say("#a", "hi"))) == "cannot_send"
    core.handle(1, c.Mode("#a", "+v", ("bob",)))
    assert isinstance(events(core.handle(2, c.Say("#a", "hi")))[0], e.Message)


def test_keys_limits_invites_and_bans_on_join(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    core.handle(1, c.Mode("#a", "+kl", ("sesame", "1")))
    assert error(core.handle(2, c.Join("#a"))) == "bad_key"
    assert error(core.handle(2, c.Join("#a", "sesame"))) == "room_full"
    core.handle(1, c.Mode("#a", "-kl+i", ("sesame",)))
    assert error(core.handle(2, c.Join("#a"))) == "invite_only"
    core.handle(1, c.Invite("bob", "#a"))
    assert isinstance(events(core.handle(2, c.Join("#a")))[0], e.Joined)
    core.handle(2, c.Part("#a"))
    assert error(core.handle(2, c.Join("#a"))) == "invite_only"  # an invite is used up
    core.handle(1, c.Mode("#a", "-i+b", ("*!id@10.0.0.*",)))
    assert error(core.handle(2, c.Join("#a"))) == "banned"
    (bans,) = events(core.handle(1, c.Mode("#a", "+b")))
    assert isinstance(bans, e.BanList) and [b.mask for b in bans.bans] == ["*!id@10.0.0.*"]


def test_kick_removes_the_member_after_telling_the_room(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    out = core.handle(1, c.Kick("#a", "BOB", "bye"))
    (kicked,) = events(out)
    assert isinstance(kicked, e.Kicked) and kicked.target == "bob" and kicked.reason == "bye"
    assert out[0].recipients == (1, 2)  # type: ignore[union-attr]
    assert 2 not in core.rooms["#a"].members and not core.users[2].rooms
    assert error(core.handle(1, c.Kick("#a", "bob"))) == "user_not_in_room"
    assert error(core.handle(2, c.Kick("#a", "alice"))) == "not_in_room"


def test_away_is_announced_and_answers_private_messages_but_not_notices(
        core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    out = core.handle(2, c.Away("lunch"))
    assert out[0].recipients == (2, 1)  # type: ignore[union-attr]
    replies = events(core.handle(1, c.Say("bob", "there?")))
    assert isinstance(replies[-1], e.AwayStatus) and replies[-1].text == "lunch"
    assert len(events(core.handle(1, c.Say("bob", "fyi", "notice")))) == 1
    (whois,) = events(core.handle(1, c.Whois("bob")))
    assert isinstance(whois, e.WhoisReply) and whois.user.away == "lunch"
    assert whois.rooms == (e.Membership("#a"),)


def test_who_and_lookup(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    core.handle(2, c.Mode("bob", "+i"))
    (who,) = events(core.handle(1, c.Who("*")))
    assert [u.nick for u in who.users] == ["alice"]  # type: ignore[attr-defined]
    (who,) = events(core.handle(1, c.Who("#a")))
    assert [(u.nick, u.op) for u in who.users] == [("alice", True)]  # type: ignore[attr-defined]
    (found,) = events(core.handle(1, c.Lookup(("BOB", "nobody"), ref="ISON")))
    assert isinstance(found, e.Presence) and [u.nick for u in found.users] == ["bob"]
    assert found.ref == "ISON"


def test_identities_from_any_dialect_are_safe_in_hostmasks(core: ChatCore) -> None:
    core.connect(1, "::1")
    core.handle(1, c.Register("alice", ident="bad ident@x!y:z"))
    assert core.users[1].ident == "badidentxyz"


def test_masks() -> None:
    assert normalize_mask("bob") == "bob!*@*"
    assert normalize_mask("*@host") == "*!*@host"
    assert mask_match("[a]*!*@*", "[A]lice!x@y")  # [ is a nick character, not a class
    assert not mask_match("bob!*@*", "bobby!x@y")


def test_replies_to_irc_only_requests_carry_the_ref(core: ChatCore) -> None:
    user(core, 1, "alice", "#a")
    for command in (c.Who("*", ref="WHO"), c.Who("#a", ref="WHO"),
                    c.Lookup(("alice",), ref="USERHOST"), c.ListRooms(ref="LIST", names=("#a",))):
        (reply,) = events(core.handle(1, command))
        assert reply.ref == command.ref, reply
