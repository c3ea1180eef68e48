"""Flow control (chat.hub.flow), without sockets: senders wait while their readers are behind.

The memnet "engine" reports ``backlogged`` once a paused reader holds more than the hub's
``high_water`` and obeys ``pause``/``resume`` (what a paused client sends waits, as in a kernel
buffer). A turn's leftovers wait for the next round of the loop: a timer due a microsecond
later, which ``rounds`` fires.
"""

from __future__ import annotations

import json

from memnet import MemClient, MemoryNet

from chat.hub.flow import PATIENCE, TURN

TEXT = "x" * 1000


def messages(start: int, count: int, room: str = "#r") -> str:
    """``count`` room messages numbered from ``start``, as one burst of JSON lines."""
    return "".join(json.dumps({"type": "message", "to": room, "text": f"{n} {TEXT}"}) + "\n"
                   for n in range(start, start + count))


def rounds(net: MemoryNet, limit: int = 2000) -> None:
    """Run the loop until nothing is due now (turns that were cut short go on)."""
    for _ in range(limit):
        deadline = net.hub.next_deadline()
        if deadline is None or deadline > net.clock.now + 0.001:
            return
        net.advance(max(0.0, deadline - net.clock.now))
    raise AssertionError("turns never ended")


def numbers(client: MemClient) -> list[int]:
    return [int(json.loads(line)["text"].split()[0]) for line in client.lines
            if '"message"' in line]


def test_a_sender_waits_while_its_readers_are_behind_and_nothing_is_lost() -> None:
    net = MemoryNet()
    hub = net.hub
    talker = net.bot("talker", "#r")
    readers = [net.bot(f"r{i}", "#r") for i in range(3)]
    for reader in readers:
        reader.stop_reading()
    talker.send(messages(0, 400))  # 400 KB in one read: far more than the high-water mark
    assert hub.flow.yields >= 1  # only a turn's worth went out before the loop came round
    rounds(net)
    assert talker.conn in hub.flow.braked and talker.paused
    for reader in readers:  # held near the mark, not 400 KB each
        assert hub.high_water < reader.unread_bytes <= hub.high_water + TURN + 2048
    talker.send(messages(400, 50))  # not read while braked: it waits in the "kernel"
    assert talker.unheard
    for reader in readers:
        reader.read_all()
    rounds(net)
    assert not hub.flow.braked and not talker.paused and not talker.unheard
    for reader in readers:
        assert numbers(reader) == list(range(450))
    assert hub.flow.pauses >= 1


def test_one_slow_reader_does_not_slow_a_big_room() -> None:
    net = MemoryNet()
    talker = net.bot("talker", "#r")
    readers = [net.bot(f"r{i}", "#r") for i in range(19)]
    slow = readers[0]
    slow.stop_reading()
    talker.send(messages(0, 300))
    rounds(net)
    assert net.hub.flow.pauses == 0 and not talker.paused
    for reader in readers[1:]:
        assert numbers(reader) == list(range(300))
    assert slow.unread_bytes > 300 * 1000


def test_a_reader_that_stops_reading_holds_senders_back_only_for_the_patience() -> None:
    net = MemoryNet(sendq_grace=10.0)
    talker = net.bot("talker", "#r")
    stuck = net.bot("stuck", "#r")
    stuck.stop_reading()
    talker.send(messages(0, 1200))  # 1.2 MB: past the 1 MiB send queue once it all goes
    rounds(net)
    assert talker.conn in net.hub.flow.braked
    net.advance(PATIENCE)  # the reader is stalled: it brakes nobody, the sendq policy judges
    rounds(net)
    assert not talker.paused and stuck.conn in net.hub.flow.stalled
    assert stuck.closed is None
    net.advance(10.0)
    assert stuck.closed is not None and "Send queue exceeded" in stuck.closed
    assert talker.closed is None


def test_a_private_conversation_is_paced_to_its_reader() -> None:
    net = MemoryNet()
    talker, reader = net.bot("talker"), net.bot("reader")
    reader.stop_reading()
    talker.send("".join(json.dumps({"type": "message", "to": "reader", "text": f"{n} {TEXT}"})
                        + "\n" for n in range(300)))
    rounds(net)
    assert talker.paused  # one recipient, behind: that is enough
    reader.read_all()
    rounds(net)
    got = [int(json.loads(line)["text"].split()[0]) for line in reader.lines
           if '"message"' in line]
    assert got == list(range(300)) and not talker.paused


def test_a_braked_sender_goes_on_when_its_readers_leave() -> None:
    net = MemoryNet()
    talker = net.bot("talker", "#r")
    readers = [net.bot(f"r{i}", "#r") for i in range(2)]
    watcher = net.bot("watcher", "#r")
    for reader in readers:
        reader.stop_reading()
    talker.send(messages(0, 400))
    rounds(net)
    assert talker.paused
    for reader in readers:
        reader.close()
    rounds(net)
    assert not talker.paused and not net.hub.flow.braked and not net.hub.flow.behind
    assert numbers(watcher) == list(range(400))


def test_input_past_a_turn_waits_for_the_next_round_in_order() -> None:
    net = MemoryNet()
    talker, reader = net.bot("talker", "#r"), net.bot("reader", "#r")
    talker.send(messages(0, 100))  # 100 KB: several turns
    assert 0 < len(numbers(reader)) < 100 and talker.paused  # the rest waits for the loop
    talker.send(messages(100, 5))  # sent meanwhile: after what waits, not before
    rounds(net)
    assert numbers(reader) == list(range(105)) and not talker.paused


def test_metrics_count_braked_senders_and_used_turns() -> None:
    """/metrics shows flow control at work: how often senders were braked or out of turn."""
    from chat.metrics import Metrics

    net = MemoryNet()
    metrics = Metrics(net.hub)
    talker = net.bot("talker", "#r")
    reader = net.bot("reader", "#r")
    reader.stop_reading()
    before = metrics.render().decode()
    assert "chat_flow_braked_total 0.0" in before and "chat_flow_turns_total 0.0" in before
    talker.send(messages(0, 400))
    rounds(net)
    after = metrics.render().decode()
    assert f"chat_flow_braked_total {float(net.hub.flow.pauses)}" in after
    assert net.hub.flow.pauses >= 1
    assert f"chat_flow_turns_total {float(net.hub.flow.yields)}" in after
    assert net.hub.flow.yields >= 1
