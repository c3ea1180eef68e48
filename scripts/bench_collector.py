#!/usr/bin/env python3
"""How long the cyclic garbage collector stops a big server, with and without the policy in
``chat/collector.py``: no sockets, one process.

Builds a real hub with ``--users`` registered users, 50 a room, then pushes ``--messages``
room messages through it (one flush each), timing every collection with ``gc.callbacks``;
prints, per run, the full collections (each walks the heap the collector sees) with their
pauses, and the longest young collection.

    .venv/bin/python scripts/bench_collector.py --users 20000 --messages 200000
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's ``chat``

from chat.collector import CollectorPolicy
from chat.config import Limits, ServerConfig
from chat.hub import Hub


def run(users: int, messages: int, policy: bool) -> str:
    rooms = max(1, users // 50)
    config = ServerConfig(limits=Limits(rate_per_second=0, max_connections=0, max_per_ip=0,
                                        max_rooms_per_user=0))
    hub = Hub(config, clock=lambda: 1000.0, wallclock=lambda: 1.7e9)
    installed = CollectorPolicy() if policy else None
    if installed is not None:
        installed.install()  # from the start, as the server does
    conns = []
    for i in range(users):
        conn = hub.open("127.0.0.1")
        conns.append(conn)
        hub.receive(conn, f"NICK u{i}\r\nUSER u{i} 0 * :bench\r\nJOIN #room{i % rooms}\r\n"
                    .encode())
        hub.take_output()
    pauses: list[tuple[int, float]] = []
    started: dict[int, float] = {}

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[info["generation"]] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started[info["generation"]]))

    gc.callbacks.insert(0, timed)  # (before the policy's: its freeze is not in the pause)
    began = time.perf_counter()
    try:
        for k in range(messages):
            index = (k * 7919) % users
            hub.receive(conns[index], b"PRIVMSG #room%d :message number %d\r\n"
                        % (index % rooms, k))
            hub.take_output()
    finally:
        took = time.perf_counter() - began
        gc.callbacks.remove(timed)
        if installed is not None:
            installed.uninstall()
    full = [round(1000 * pause) for generation, pause in pauses if generation == 2]
    young = max((pause for generation, pause in pauses if generation < 2), default=0.0)
    return (f"{'policy' if policy else 'CPython defaults'}: {messages:,} messages in "
            f"{took:.1f} s; {len(full)} full collections, pauses (ms) {full}; longest young "
            f"collection {1000 * young:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    for policy in (False, True):
        print(f"{args.users:,} users, {run(args.users, args.messages, policy)}", flush=True)
        gc.collect()


if __name__ == "__main__":
    main()
