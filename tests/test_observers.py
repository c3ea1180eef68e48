"""The delivery observer seam: what a history store, metrics or a backplane will see."""

from __future__ import annotations

from collections.abc import Sequence

from memnet import MemoryNet

from chat.core import events as e
from chat.hub import NullObserver, Output


class Recorder:
    """Keeps what it is shown."""

    def __init__(self) -> None:
        self.deliveries: list[e.Delivery] = []
        self.flushes: list[Output] = []

    def delivered(self, outputs: Sequence[e.Output]) -> None:
        self.deliveries.extend(o for o in outputs if isinstance(o, e.Delivery))

    def flushed(self, out: Output) -> None:
        self.flushes.append(out)


def test_observers_see_each_delivery_with_its_origin_and_each_flush() -> None:
    recorder = Recorder()
    net = MemoryNet(observers=[NullObserver(), recorder])
    alice, bob = net.bot("alice", "#r"), net.bot("bob", "#r")
    flushes = len(recorder.flushes)
    alice.request(type="message", to="#r", text="hello")
    said = [d for d in recorder.deliveries if isinstance(d.event, e.Message)]
    assert len(said) == 1 and said[0].event.text == "hello"  # type: ignore[attr-defined]
    assert said[0].origin == alice.conn
    assert set(said[0].recipients) == {alice.conn, bob.conn}
    assert len(recorder.flushes) == flushes + 1  # one flush for that one line
    assert bob.conn in recorder.flushes[-1].writes


def test_server_made_events_have_no_origin() -> None:
    recorder = Recorder()
    net = MemoryNet(observers=[recorder], register_timeout=10)
    net.connect()
    net.advance(11)
    dropped = [d for d in recorder.deliveries if isinstance(d.event, e.Disconnect)]
    assert dropped and dropped[0].origin is None
