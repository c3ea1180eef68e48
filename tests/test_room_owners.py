"""Room owners in memory: registering a room, +o for its founder on every join (and on login),
nobody else taking an empty registered room, restarts, giving it up or handing it over."""

from __future__ import annotations

from typing import Any

from memnet import MemoryNet

from chat.config import Limits, ServerConfig

CONFIG = ServerConfig(limits=Limits(rate_per_second=0))


def account(net: MemoryNet, nick: str, *rooms: str) -> Any:
    bot = net.bot(nick, *rooms)
    bot.request(type="register", password="correct horse", ref="reg")
    bot.expect_json(type="account", ref="reg")
    return bot


def members(client: Any, room: str) -> dict[str, bool]:
    client.request(type="who", room=room, ref="who")
    return {m["nick"]: m["op"] for m in client.expect_json(type="members", ref="who")["members"]}


def test_the_founder_is_op_on_every_join_and_an_empty_room_stays_its() -> None:
    net = MemoryNet(CONFIG)
    alice = account(net, "alice", "#home")
    alice.request(type="register_room", room="#home", ref=1)
    assert "registered to alice" in alice.expect_json(type="notice", ref=1)["text"]
    alice.request(type="part", room="#home")
    squatter = net.bot("squatter", "#home")  # first into the empty room: not its operator
    assert members(squatter, "#home") == {"squatter": False}
    alice.request(type="join", room="#home")
    mode = squatter.expect_json(type="mode")
    assert (mode["modes"], mode["args"]) == ("+o", ["alice"])
    assert members(squatter, "#home") == {"squatter": False, "alice": True}


def test_the_founder_gets_op_on_login_and_after_a_restart() -> None:
    net = MemoryNet(CONFIG)
    account(net, "alice", "#home").request(type="register_room", room="#home")
    net.restart()
    alice = net.bot("alice", "#home")
    other = net.bot("other", "#home")
    assert members(other, "#home") == {"alice": False, "other": False}
    alice.request(type="login", password="correct horse")
    alice.expect_json(type="account", status="logged_in")
    assert other.expect_json(type="mode")["args"] == ["alice"]
    assert members(other, "#home")["alice"] is True


def test_registering_needs_an_account_and_ops_and_a_free_room() -> None:
    net = MemoryNet(CONFIG)
    guest = net.bot("guest", "#r")
    guest.request(type="register_room", room="#r", ref=1)
    assert guest.expect_json(type="error", ref=1)["code"] == "not_logged_in"
    alice = account(net, "alice", "#r")  # joined second: not an operator
    alice.request(type="register_room", room="#r", ref=2)
    assert alice.expect_json(type="error", ref=2)["code"] == "not_op"
    bob = account(net, "bob", "#b")
    bob.request(type="register_room", room="#b")
    bob.expect_json(type="notice")
    bob.request(type="register_room", room="#b", ref=3)
    assert bob.expect_json(type="error", ref=3)["code"] == "room_registered"


def test_the_founder_hands_the_room_over_or_gives_it_up() -> None:
    net = MemoryNet(CONFIG)
    alice = account(net, "alice", "#r")
    bob = account(net, "bob", "#r")
    alice.request(type="register_room", room="#r")
    alice.expect_json(type="notice")
    bob.request(type="unregister_room", room="#r", ref=1)
    assert bob.expect_json(type="error", ref=1)["code"] == "not_founder"
    alice.request(type="transfer_room", room="#r", account="nobody", ref=2)
    assert alice.expect_json(type="error", ref=2)["code"] == "no_such_account"
    alice.request(type="transfer_room", room="#r", account="bob", ref=3)
    assert "now belongs to bob" in alice.expect_json(type="notice", ref=3)["text"]
    assert bob.expect_json(type="mode")["args"] == ["bob"]
    bob.request(type="unregister_room", room="#r", ref=4)
    assert "no longer registered" in bob.expect_json(type="notice", ref=4)["text"]


def test_people_on_telnet_register_rooms_too() -> None:
    net = MemoryNet(CONFIG)
    person = net.human("carol")
    person.line("/register correct-horse")
    person.expect("Account carol registered")
    person.line("/join #mine")
    person.line("/register #mine")
    person.expect("#mine is registered to carol")
    person.line("/transfer #mine")
    person.expect("Usage: /transfer #room ACCOUNT")
