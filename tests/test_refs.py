"""docs/protocol.md's promise: a request's ``ref`` comes back on every direct reply to it.

Driven in memory through the structured dialect on the real hub, so the core (which sets the
ref) and the JSON codec (which writes it) are held to the promise together.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from memnet import MemClient, MemoryNet

#: (request, the reply type it gets, fields the reply must also have)
DIRECT_REPLIES: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    ({"type": "join", "room": "#new"}, "members", {"room": "#new"}),
    ({"type": "join", "room": "#r"}, "notice", {"room": "#r"}),  # already in: "Now talking in"
    ({"type": "rooms"}, "rooms", {}),
    ({"type": "who", "room": "#r"}, "members", {"room": "#r"}),
    ({"type": "topic", "room": "#r"}, "topic", {"topic": "plans", "changed": False}),
    ({"type": "ping", "token": "t1"}, "pong", {"token": "t1"}),
    ({"type": "mode", "target": "#r"}, "modes", {"target": "#r"}),
    ({"type": "mode", "target": "#r", "modes": "+b"}, "bans", {"room": "#r"}),
    ({"type": "mode", "target": "alice"}, "modes", {"target": "alice"}),
    ({"type": "mode", "target": "alice", "modes": "+i"}, "mode", {"target": "alice"}),
    ({"type": "whois", "nick": "bob"}, "whois", {"nick": "bob"}),
    ({"type": "message", "to": "bob", "text": "there?"}, "away", {"nick": "bob"}),
    ({"type": "quit", "reason": "bye"}, "disconnect", {}),
    ({"type": "part", "room": "#nowhere"}, "error", {"code": "no_such_room"}),
    ({"type": "nosuch"}, "error", {"code": "unknown_command"}),
]


@pytest.fixture
def net() -> MemoryNet:
    net = MemoryNet()
    alice, bob = net.bot("alice", "#r"), net.bot("bob", "#r")
    alice.request(type="topic", room="#r", topic="plans")
    bob.request(type="away", text="lunch")
    alice.new()
    return net


def replies(client: MemClient) -> list[dict[str, Any]]:
    return [json.loads(line) for line in client.new()]


@pytest.mark.parametrize(("request_", "kind", "fields"), DIRECT_REPLIES,
                         ids=[f"{r['type']}->{k}" for r, k, _ in DIRECT_REPLIES])
@pytest.mark.parametrize("ref", [7, "req-1"])
def test_every_direct_reply_carries_the_ref(net: MemoryNet, request_: dict[str, Any],
                                            kind: str, fields: dict[str, Any],
                                            ref: object) -> None:
    alice = net.clients[1]
    alice.request(**request_, ref=ref)
    reply = alice.expect_json(type=kind, **fields)
    assert reply["ref"] == ref


def test_hello_gets_welcome_with_its_ref() -> None:
    net = MemoryNet()
    client = net.connect()
    client.request(type="hello", nick="carol", ref="h")
    assert client.expect_json(type="welcome")["ref"] == "h"


def test_a_join_answers_topic_and_members_with_the_ref_but_announces_without() -> None:
    net = MemoryNet()
    alice = net.bot("alice", "#r")
    alice.request(type="topic", room="#r", topic="plans")
    bob = net.bot("bob")
    bob.request(type="join", room="#r", ref=3)
    joined, topic, members, history = replies(bob)
    assert joined["type"] == "join" and "ref" not in joined  # the room's event, not a reply
    assert (topic["type"], topic["ref"]) == ("topic", 3)
    assert (members["type"], members["ref"]) == ("members", 3)
    assert (history["type"], history["ref"], history["replay"]) == ("history", 3, True)
    assert [ev["topic"] for ev in history["events"]] == ["plans"]  # the topic change
    assert "ref" not in alice.expect_json(type="join", **{"from": "bob"})


def test_events_others_also_get_carry_no_ref() -> None:
    net = MemoryNet()
    alice, bob = net.bot("alice", "#r"), net.bot("bob", "#r")
    requests = [
        {"type": "message", "to": "#r", "text": "hi"},
        {"type": "message", "to": "bob", "text": "psst"},
        {"type": "topic", "room": "#r", "topic": "new"},
        {"type": "nick", "nick": "alicia"},
        {"type": "away", "text": "brb"},
        {"type": "part", "room": "#r"},
    ]
    alice.new()
    for request in requests:
        alice.request(**request, ref=9)
    sent = replies(alice)
    assert [r["type"] for r in sent] == ["message", "message", "topic", "nick", "away", "part"]
    assert all("ref" not in r for r in sent + replies(bob))
