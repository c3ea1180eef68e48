"""End-to-end smoke tests over real sockets, run against both engines.

What people and bots see (detection, rooms, nicks, bad input) belongs to the hub, the dialects and
the core and is tested in memory in test_behaviour.py; limits in test_limits_hub.py; IRC in
tests/dialects/. These check the whole path on each engine: a person and a bot talking, many
concurrent senders seen in one order by everyone, and the engine driving the hub's timers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from support import Clients


def test_human_and_structured_clients_see_each_other(clients: Clients) -> None:
    alice = clients.human("alice")
    bob = clients.bot("bob", "#lobby")
    alice.expect("bob joined #lobby")
    alice.send("hello bob\r\n")
    event = bob.expect_json(type="message", **{"from": "alice"})
    assert event["text"] == "hello bob" and event["room"] == "#lobby"
    assert event["id"] and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ts"])
    bob.request(type="message", to="#lobby", text="hi alice")
    assert re.fullmatch(r"\[\d\d:\d\d\] <bob> hi alice", alice.expect("<bob>"))
    # The sender sees its own message too, in the same stream as everyone else's.
    assert bob.expect_json(type="message", **{"from": "bob"})["text"] == "hi alice"


def test_fifty_clients_get_every_broadcast_in_the_same_order(clients: Clients) -> None:
    bots = [clients.bot(f"bot{i}", "#big") for i in range(50)]
    senders = bots[:5]
    for round_ in range(4):
        for sender in senders:
            port = sender.sock.getsockname()[1]
            sender.request(type="message", to="#big", text=f"{port}:{round_}")
    orders = []
    for bot in bots:
        texts = []
        while len(texts) < 20:
            obj = json.loads(bot.expect('"type":"message"'))
            texts.append(obj["text"])
        orders.append(texts)
    assert all(order == orders[0] for order in orders)
    assert len(set(orders[0])) == 20


def test_the_engine_fires_the_hubs_timers(serve_with: Callable[..., Clients]) -> None:
    """An idle engine still wakes for the hub's next deadlines: the greeting of a silent
    connection, then its registration timeout."""
    idle = serve_with(greet_delay=0.1, register_timeout=0.3).raw()
    assert "Pick a nickname" in idle.expect("Pick a nickname")
    assert any("Registration timed out" in line for line in idle.wait_closed())
