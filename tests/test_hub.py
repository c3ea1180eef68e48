"""The hub without sockets: detection, greeting timer, encode-once, rate limiting."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from chat.config import Limits, ServerConfig
from chat.hub import Hub


class FakeClock:
    """A clock the test moves by hand, so timers are exact and instant."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_hub(**limits: float) -> tuple[Hub, FakeClock]:
    clock = FakeClock()
    config = ServerConfig(limits=Limits(**limits))  # type: ignore[arg-type]
    return Hub(config, clock=clock), clock


def text(hub: Hub, conn: int) -> str:
    return b"".join(hub.take_output().writes.get(conn, [])).decode()


def test_silence_means_a_person_after_the_greet_delay() -> None:
    hub, clock = make_hub()
    conn = hub.open("127.0.0.1")
    assert hub.take_output().writes == {}  # nothing yet: it might be an IRC client
    clock.now += hub.config.greet_delay - 0.01
    hub.tick()
    assert hub.take_output().writes == {}
    assert hub.next_deadline() is not None and hub.next_deadline() <= clock.now + 0.02
    clock.now += 0.02
    hub.tick()
    assert "Pick a nickname" in text(hub, conn)


def test_first_line_picks_the_dialect_without_waiting() -> None:
    hub, _ = make_hub()
    person, bot = hub.open("127.0.0.1"), hub.open("127.0.0.1")
    hub.receive(person, b"alice\r\n")
    hub.receive(bot, b'{"type":"hello","nick":"bob"}\n')
    out = hub.take_output()
    assert b"Welcome to chat.local, alice" in b"".join(out.writes[person])
    assert json.loads(out.writes[bot][0])["type"] == "welcome"


def test_a_broadcast_is_encoded_once_per_dialect() -> None:
    hub, _ = make_hub(rate_per_second=0)
    bots = [hub.open("127.0.0.1") for _ in range(3)]
    for n, conn in enumerate(bots):
        hub.receive(conn, f'{{"type":"hello","nick":"b{n}"}}\n{{"type":"join","room":"#r"}}\n'
                    .encode())
    hub.take_output()
    hub.receive(bots[0], b'{"type":"message","to":"#r","text":"hi"}\n')
    writes = hub.take_output().writes
    assert all(writes[conn][0] is writes[bots[0]][0] for conn in bots)


def test_rate_limit_holds_excess_lines_and_releases_them_in_order() -> None:
    hub, clock = make_hub(rate_per_second=10, rate_burst=2)
    b = hub.open("127.0.0.1")
    hub.receive(b, b'{"type":"hello","nick":"b"}\n')
    clock.now += 1
    hub.receive(b, b'{"type":"join","room":"#r"}\n')
    clock.now += 1
    a = hub.open("127.0.0.1")
    hub.receive(a, b'{"type":"hello","nick":"a"}\n{"type":"join","room":"#r"}\n')
    hub.take_output()
    hub.receive(a, b"".join(b'{"type":"message","to":"#r","text":"%d"}\n' % n
                            for n in range(5)))
    first = hub.take_output()
    assert b"rate_limited" in b"".join(first.writes[a])
    assert b"".join(first.writes.get(b, [])) == b""  # both burst tokens went on hello+join
    got = []
    for _ in range(10):
        deadline = hub.next_deadline()
        assert deadline is not None
        clock.now = max(clock.now, deadline)
        hub.tick()
        for chunk in hub.take_output().writes.get(b, []):
            got.append(json.loads(chunk)["text"])
        if len(got) == 5:
            break
    assert got == ["0", "1", "2", "3", "4"]


def test_per_ip_limit_spares_loopback() -> None:
    hub, _ = make_hub(max_per_ip=2)
    for _ in range(3):
        hub.open("127.0.0.1")
    assert hub.take_output().closes == {}
    conns = [hub.open("192.0.2.7") for _ in range(3)]
    out = hub.take_output()
    assert list(out.closes) == [conns[2]]
    assert b"Too many connections from 192.0.2.7" in out.writes[conns[2]][0]


def test_work_for_no_connection_that_fails_is_logged_and_the_rest_still_runs(
        caplog: pytest.LogCaptureFixture) -> None:
    """Work handed back from another thread for no connection (a cluster's entries, a
    snapshot to load) that fails is logged, not swallowed; what was queued after it runs."""
    hub, _ = make_hub()
    conn = hub.open("127.0.0.1")
    hub.receive(conn, b"NICK ann\r\nUSER ann 0 * :Ann\r\n")
    hub.take_output()
    ran: list[str] = []

    def broken() -> list[Any]:
        raise ValueError("a snapshot this release cannot read")

    hub._post(0, broken)
    hub._post(0, lambda: ran.append("after") or [])
    with caplog.at_level(logging.ERROR, logger="chat.hub"):
        hub.collect()
    assert ran == ["after"]
    failed = [r for r in caplog.records if r.exc_info and "handed back" in r.getMessage()]
    assert len(failed) == 1 and "cannot read" in str(failed[0].exc_info[1])  # type: ignore[index]
    hub.receive(conn, b"PING :still\r\n")
    assert "PONG" in text(hub, conn)


def test_work_run_at_once_on_the_handing_thread_keeps_its_place_behind_waiting_work() -> None:
    """An engine may run work another thread hands back on that thread at once (the threaded
    engine does, for a quiet cluster log's entries): only if nothing handed back earlier still
    waits, else it waits behind that, so everything is applied in the order it was handed."""
    hub, _ = make_hub()
    ran: list[str] = []
    assert hub.collect_now(lambda: ran.append("first") or [])
    assert ran == ["first"] and not hub._inbox
    hub._post(0, lambda: ran.append("second") or [])
    assert not hub.collect_now(lambda: ran.append("third") or [])
    assert ran == ["first"]  # the third waits behind the second
    hub.collect()
    assert ran == ["first", "second", "third"]
