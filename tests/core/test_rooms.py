"""Joining, parting, topics and listings: the room rules and who hears what."""

from __future__ import annotations

from core_helpers import deliveries, error, events, make_core, only_error, user

from chat.core import commands as c
from chat.core import events as e


def test_join_announces_to_members_then_tells_joiner_topic_and_members() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    core.handle(1, c.SetTopic("#a", "hi"))
    user(core, 2, "bob")
    out = core.handle(2, c.Join("#A"))  # rooms compare case-insensitively
    assert deliveries(out) == [(e.Joined, (1, 2)), (e.Topic, (2,)), (e.MemberList, (2,)),
                               (e.History, (2,))]  # the topic change, replayed
    members = out[2].event.members  # type: ignore[union-attr]
    assert [(m.nick, m.op) for m in members] == [("alice", True), ("bob", False)]


def test_joining_a_room_one_is_in_makes_it_current() -> None:
    core = make_core()
    user(core, 1, "alice", "#a", "#b")
    (notice,) = events(core.handle(1, c.Join("#a")))
    assert isinstance(notice, e.Notice) and notice.text == "Now talking in #a"
    assert core.users[1].current is core.rooms["#a"]


def test_current_room_follows_join_and_part() -> None:
    core = make_core()
    user(core, 1, "alice", "#a", "#b")
    assert deliveries(core.handle(1, c.Say(None, "x"))) == [(e.Message, (1,))]
    assert core.users[1].current is not None and core.users[1].current.name == "#b"
    core.handle(1, c.Part(None))
    assert core.users[1].current is not None and core.users[1].current.name == "#a"
    core.handle(1, c.Part(None))
    assert only_error(core.handle(1, c.Say(None, "x"))) == "not_in_room"


def test_empty_room_disappears() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    core.handle(1, c.Part("#a", "bye"))
    assert "#a" not in core.rooms
    assert only_error(core.handle(1, c.ListMembers("#a"))) == "no_such_room"


def test_parting_a_room_one_is_not_in() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    assert only_error(core.handle(2, c.Part("#a"))) == "not_in_room"
    assert only_error(core.handle(2, c.Join("lobby"))) == "room_invalid"


def test_limits_on_rooms_per_user_and_members_per_room() -> None:
    core = make_core(max_rooms_per_user=3, max_members_per_room=3)
    user(core, 1, "alice", "#a", "#b", "#c")
    assert only_error(core.handle(1, c.Join("#d"))) == "too_many_rooms"
    user(core, 2, "bob", "#a")
    user(core, 3, "carol", "#a")
    user(core, 4, "dave")
    assert only_error(core.handle(4, c.Join("#a"))) == "room_full"


def test_topic_lock() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    user(core, 2, "bob", "#a")
    core.handle(2, c.SetTopic("#a", "open by default"))
    assert core.rooms["#a"].topic == "open by default"
    core.handle(1, c.Mode("#a", "+t"))
    assert error(core.handle(2, c.SetTopic("#a", "locked"))) == "not_op"


def test_anyone_may_ask_for_a_topic_only_members_set_it() -> None:
    core = make_core()
    user(core, 1, "alice", "#a")
    core.handle(1, c.SetTopic("#a", "plans"))
    user(core, 2, "bob")
    out = core.handle(2, c.SetTopic("#a"))
    assert deliveries(out) == [(e.Topic, (2,))]
    assert out[0].event.topic == "plans"  # type: ignore[union-attr]
    assert only_error(core.handle(2, c.SetTopic("#a", "mine"))) == "not_in_room"


def test_keys_limits_invites_and_bans_on_join() -> None:
    core = make_core()
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


def test_an_invite_lets_past_the_room_limit_but_not_the_server_limit() -> None:
    core = make_core(max_members_per_room=2)
    user(core, 1, "alice", "#a")
    user(core, 2, "bob")
    user(core, 3, "carol")
    core.handle(1, c.Mode("#a", "+l", ("1",)))
    core.handle(1, c.Invite("bob", "#a"))
    assert isinstance(events(core.handle(2, c.Join("#a")))[0], e.Joined)
    core.handle(1, c.Invite("carol", "#a"))
    assert error(core.handle(3, c.Join("#a"))) == "room_full"


def test_room_list_by_name_or_all() -> None:
    core = make_core()
    user(core, 1, "alice", "#b", "#a")
    (listed,) = events(core.handle(1, c.ListRooms()))
    assert [r.name for r in listed.rooms] == ["#a", "#b"]  # type: ignore[attr-defined]
    (listed,) = events(core.handle(1, c.ListRooms(names=("#B", "#b", "#none"))))
    assert [r.name for r in listed.rooms] == ["#b"]  # type: ignore[attr-defined]
