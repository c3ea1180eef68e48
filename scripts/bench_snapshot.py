#!/usr/bin/env python3
"""What a cluster snapshot costs the engine, at a given number of users: no sockets, no Redis.

The lowest live node writes a snapshot of the whole state every 10 s (``SNAPSHOT_EVERY``). Its
engine's thread is busy for part of that (it must copy the state while nothing changes it),
and whatever runs on the writer thread competes with it for the interpreter's lock. This
builds a real hub with ``--users`` registered users, 50 to a room, each having said a line,
then times, a few rounds each:

- **engine thread**: what the engine's thread does for a snapshot (now: ``capture``; in a tree
  from before, the whole snapshot: dump and JSON);
- **writer thread**: the rest (render and encode, then freeing the copy, as the gate does, and
  reading the position the text covers, as the backplane does), and the longest the engine's
  thread would wait for the interpreter's lock meanwhile (a thread that wakes every
  millisecond measures its own longest gap).

    .venv/bin/python scripts/bench_snapshot.py --users 100000 [--tree /tmp/before]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def build(users: int) -> Any:
    """A hub with ``users`` registered users, 50 a room, each having said one line."""
    from chat.config import Limits, ServerConfig
    from chat.hub import Hub

    rooms = max(1, users // 50)
    config = ServerConfig(limits=Limits(rate_per_second=0, max_connections=0, max_per_ip=0,
                                        max_rooms_per_user=0))
    hub = Hub(config, clock=lambda: 1000.0, wallclock=lambda: 1.7e9)
    for i in range(users):
        conn = hub.open("127.0.0.1")
        room = f"#room{i % rooms}"
        hub.receive(conn, f"NICK u{i}\r\nUSER u{i} 0 * :bench\r\nJOIN {room}\r\n"
                          f"PRIVMSG {room} :hello there\r\n".encode())
        hub.take_output()
    return hub


def longest_wait(work: Callable[[], object]) -> tuple[float, float]:
    """Run ``work`` here; return how long it took and the longest another thread, waking
    every millisecond, waited meanwhile (seconds)."""
    gaps: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    began = time.perf_counter()
    work()
    took = time.perf_counter() - began
    stop.set()
    ticker.join()
    return took, max(gaps)


def arguments(description: str) -> argparse.ArgumentParser:
    """The options of the benchmarks that build a hub of ``--users`` (this one and
    ``bench_join.py``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    return parser


def main() -> None:
    args = arguments(__doc__.split("\n")[0]).parse_args()
    sys.path.insert(0, str(args.tree))
    from chat.cluster import snapshot

    print(f"chat from {Path(snapshot.__file__).parent.parent}")
    began = time.perf_counter()
    hub = build(args.users)
    print(f"{args.users:,} users built in {time.perf_counter() - began:.1f} s")
    engine, writer, waits, size = [], [], [], 0
    for _ in range(args.rounds):
        began = time.perf_counter()
        if hasattr(snapshot, "capture"):  # what the gate does: copy here, the rest elsewhere
            with snapshot.no_gc():
                captured = snapshot.capture(hub.core)
                engine.append(time.perf_counter() - began)
                made: list[str] = []
                held = [captured]
                del captured  # freed in the window, on the writer thread, as the gate does
                took, wait = longest_wait(partial(_text_into, made, snapshot, held))
                size = len(made[0])
                del made
        else:  # a tree from before: everything on the engine's thread
            text = json.dumps({"core": snapshot.dump(hub.core), "replica": {}},
                              separators=(",", ":"), ensure_ascii=False)
            engine.append(time.perf_counter() - began)
            took, wait, size = 0.0, 0.0, len(text)
        writer.append(took)
        waits.append(wait)

    def ms(values: list[float]) -> str:
        each = " ".join(f"{1000 * v:.0f}" for v in values)
        return f"{1000 * statistics.median(values):.0f} ms ({each})"
    print(f"snapshot {size / 1e6:.1f} MB; medians of {args.rounds} rounds:")
    print(f"  engine thread busy: {ms(engine)}")
    print(f"  writer thread: {ms(writer)}, the engine's longest wait meanwhile: {ms(waits)}")


def _text_into(made: list[str], snapshot: Any, held: list[Any]) -> None:
    """The writer's part as the gate and the backplane run it: the text, the copy let go of,
    then the position the text covers read from it (a tree from before parsed it whole)."""
    made.append(snapshot.text(held[0], {"last_id": "1-0", "seqs": {}}, frozenset()))
    held.clear()
    if hasattr(snapshot, "position"):
        snapshot.position(made[0])
    else:
        json.loads(made[0])["replica"]["last_id"]


if __name__ == "__main__":
    main()
