"""The fan-out latency histogram: first line read -> last recipient's write, one observation
per flush; exact in memory with the fake clock, and fed by both engines over real sockets."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from memnet import MemoryNet
from support import http_listener_port
from test_http import HTTP_CONFIG, fetch, get, metric

from chat.config import Listener
from chat.metrics import FANOUT_BUCKETS

if TYPE_CHECKING:
    from support import Clients

NAME = "chat_fanout_latency_seconds"


def buckets(text: str) -> list[tuple[str, float]]:
    """(le, cumulative count) of the histogram, in order."""
    found = re.findall(rf'^{NAME}_bucket{{le="([^"]+)"}} (\S+)$', text, re.MULTILINE)
    return [(le, float(count)) for le, count in found]


def test_one_flush_is_one_observation_from_the_read_to_the_write() -> None:
    net = MemoryNet(HTTP_CONFIG)
    alice = net.bot("alice", "#room")
    bob = net.bot("bob", "#room")
    carol = net.bot("carol", "#room")
    hub = net.hub
    assert metric(get(net, "/metrics")[2], f"{NAME}_count") == 0  # memnet reports no writes
    # Two senders read in one round: one flush, timed from the first read.
    read_at = net.clock.now
    hub.receive(alice.conn, b'{"type": "message", "to": "#room", "text": "one"}\n')
    net.clock.now += 0.001
    hub.receive(bob.conn, b'{"type": "message", "to": "#room", "text": "two"}\n')
    out = hub.take_output()
    assert out.started == read_at
    assert set(out.writes) == {alice.conn, bob.conn, carol.conn}  # three recipients...
    net.clock.now += 0.002  # ...written over 2 ms more
    hub.written(out)
    text = get(net, "/metrics")[2].decode()
    assert metric(text, f"{NAME}_count") == 1  # per flush, not per recipient
    assert metric(text, f"{NAME}_sum") == pytest.approx(0.003)
    counts = dict(buckets(text))
    assert counts["0.0025"] == 0 and counts["0.005"] == 1


def test_output_no_read_caused_is_not_observed() -> None:
    net = MemoryNet(HTTP_CONFIG)
    alice = net.bot("alice", "#room")
    hub = net.hub
    hub.receive(alice.conn, b"\n")  # a read with nothing to say back
    assert not hub.take_output().writes
    net.clock.now += 5
    hub.receive(alice.conn, b'{"type": "ping"}\n')
    out = hub.take_output()
    assert out.started == net.clock.now  # starts at this read, not the silent one before
    net.advance(600)  # timers (pings, idle checks) write without a read
    idle = hub.take_output()
    assert idle.started == 0.0
    count = metric(get(net, "/metrics")[2], f"{NAME}_count")
    hub.written(idle)
    assert metric(get(net, "/metrics")[2], f"{NAME}_count") == count


def test_the_histogram_has_the_buckets_and_is_cumulative() -> None:
    net = MemoryNet(HTTP_CONFIG)
    net.bot("alice", "#room")
    text = get(net, "/metrics")[2].decode()
    found = buckets(text)
    assert [float(le) for le, _ in found[:-1]] == list(FANOUT_BUCKETS)
    assert found[-1][0] == "+Inf"
    assert f"# TYPE {NAME} histogram" in text


def test_both_engines_observe_each_flush(serve_with: Callable[..., Clients]) -> None:
    clients = serve_with(listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    port = http_listener_port(clients.server)
    alice = clients.bot("alice", "#room")
    bob = clients.bot("bob", "#room")
    first = fetch(port, "/metrics")[2]
    before = metric(first, f"{NAME}_count")
    bytes_before = metric(first, "chat_bytes_sent_total")
    for n in range(5):  # one at a time: five flushes at least
        alice.request(type="message", to="#room", text=f"m{n}")
        bob.expect_json(type="message", text=f"m{n}")
        alice.expect_json(type="message", text=f"m{n}")
    text = fetch(port, "/metrics")[2].decode()
    count = metric(text, f"{NAME}_count")
    assert count >= before + 5
    assert 0 < metric(text, f"{NAME}_sum") < count * 2.5  # real, and not absurd
    # The engine counts the bytes it is handed: at least each message's 2 deliveries.
    assert metric(text, "chat_bytes_sent_total") >= bytes_before + 5 * 2 * len('"text":"m0"')
    cumulative = [c for _, c in buckets(text)]
    assert cumulative == sorted(cumulative) and cumulative[-1] == count


def test_a_value_on_a_bound_is_in_that_bucket_and_no_thread_loses_one() -> None:
    import threading

    from chat.metrics import LatencyHistogram

    histogram = LatencyHistogram("h", "doc", (0.001, 0.01))
    histogram.observe(0.001)  # le="0.001" includes 0.001 itself
    histogram.observe(0.5)  # past the last bound: +Inf only

    def observe_many() -> None:
        for _ in range(2000):
            histogram.observe(0.005)

    threads = [threading.Thread(target=observe_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    family = histogram.metric()
    counts = {s.labels["le"]: s.value for s in family.samples if s.name == "h_bucket"}
    assert counts == {"0.001": 1, "0.01": 8001, "+Inf": 8002}
    count = next(s.value for s in family.samples if s.name == "h_count")
    assert count == 8002
