#!/usr/bin/env python3
"""What metrics cost the hub per flush: the same fan-out with and without an HTTP listener.

Two hubs in this process, one with metrics (``http_port`` set, so the hub keeps them) and one
without, each with N structured connections in one room (no sockets, no history). Each round
one connection sends K messages in one read, the hub fans them out and hands the output over
(``take_output``, then ``written`` as an engine does); rounds alternate between the two hubs and
the CPU time (``time.process_time``) of each is kept, so the ratio is from the same moments on
the same machine. Sockets and the engines' own work are left out on purpose: that part is the
same with or without metrics, and end-to-end runs (scripts/bench_compare.py ... +nohttp) on a
shared machine are too noisy to see a few per cent.

    python scripts/bench_metrics_cost.py                 # 100 x 4 and 1000 x 16
    python scripts/bench_metrics_cost.py --shape 1000x32 --rounds 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat.config import Limits, ServerConfig  # noqa: E402
from chat.engines.contract import EngineStats  # noqa: E402
from chat.hub import Hub  # noqa: E402

LIMITS = Limits(rate_per_second=0, max_connections=0, max_per_ip=0, max_rooms_per_user=0,
                ping_interval=0, register_timeout=0)


def line(**obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def build(metrics: bool, clients: int) -> tuple[Hub, int]:
    """A hub with ``clients`` structured connections in #bench; returns it and a sender."""
    config = ServerConfig(port=0, http_port=8080 if metrics else 0, limits=LIMITS,
                          replay_lines=0)
    hub = Hub(config)
    # As under a real engine, which counts the bytes it is handed (metrics read it at scrape).
    hub.engine_stats = lambda: EngineStats(0, 0, 0, 0, 0)
    hub.start()
    conns = []
    for i in range(clients):
        conn = hub.open("127.0.0.1", "structured")
        hub.receive(conn, line(type="hello", version=1, nick=f"u{i}"))
        hub.receive(conn, line(type="join", room="#bench"))
        hub.take_output()
        conns.append(conn)
    assert (hub.metrics is not None) == metrics
    return hub, conns[0]


def measure(clients: int, messages: int, rounds: int, flushes: int) -> dict[str, float]:
    hubs = {flag: build(flag, clients) for flag in (False, True)}
    burst = b"".join(line(type="message", to="#bench", text=f"~B:0 {i} 0") for i in range(messages))
    per_flush: dict[bool, list[float]] = {False: [], True: []}
    for rnd in range(rounds):
        for flag in ((False, True) if rnd % 2 else (True, False)):
            hub, sender = hubs[flag]
            start = time.process_time()
            for _ in range(flushes):
                hub.receive(sender, burst)
                hub.written(hub.take_output())
            per_flush[flag].append((time.process_time() - start) / flushes)
    off = statistics.median(per_flush[False]) * 1e6
    on = statistics.median(per_flush[True]) * 1e6
    return {"clients": clients, "messages": messages, "off_us": off, "on_us": on,
            "ratio": on / off, "ns_per_delivery_added": (on - off) * 1e3 / (clients * messages)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", action="append", default=[],
                    help="CLIENTSxMESSAGES per flush (repeatable; default 100x4 and 1000x16)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--flushes", type=int, default=20, help="flushes per round")
    args = ap.parse_args()
    shapes = args.shape or ["100x4", "1000x16"]
    print("| recipients | messages per flush | hub CPU µs per flush, no metrics | with metrics "
          "| ratio | ns added per delivery |")
    print("|---|---|---|---|---|---|")
    for shape in shapes:
        clients, messages = (int(x) for x in shape.split("x"))
        r = measure(clients, messages, args.rounds, args.flushes)
        print(f"| {clients} | {messages} | {r['off_us']:,.0f} | {r['on_us']:,.0f} | "
              f"{r['ratio']:.3f} | {r['ns_per_delivery_added']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
