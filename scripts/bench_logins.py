#!/usr/bin/env python3
"""Do logins slow the chat down? The fixed-rate fan-out (1,000 messages/s to 100 clients) with
and without 20 logins a second beside it, on each engine, with the default argon2id cost.

Each login is a new connection: hello, login (the real password of a registered account),
answer, quit. The server runs as its own process (``python -m chat``); with ``--pin`` it is held
to CPU 0 (the generator to CPU 1), so the account workers share one core with the engine.

    .venv/bin/python scripts/bench_logins.py [--engines asyncio,threaded] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat.bench.workloads import FanoutParams, Target, run_fanout  # noqa: E402

PASSWORD = "benchmark password"
ROUNDS = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(engine: str, pin: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chat", "--engine", engine, "--port", str(port), "--http-port", "0",
         "--data-dir", "none", "--rate-per-second", "0", "--max-per-ip", "0",
         "--max-connections", "0", "--sendq", "67108864", "--ping-interval", "0",
         "--register-timeout", "0", "--log-level", "WARNING"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None)
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    raise SystemExit("the server did not start")


async def request(port: int, nick: str, *lines: dict[str, Any], want: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for obj in ({"type": "hello", "nick": nick}, *lines):
            writer.write(json.dumps(obj).encode() + b"\n")
        await writer.drain()
        while True:
            answer = json.loads(await reader.readline())
            if answer.get("type") in (want, "error") and answer.get("ref") == "x":
                return answer  # type: ignore[no-any-return]
    finally:
        writer.close()


async def logins(port: int, per_second: float, stop: asyncio.Event, done: list[float]) -> None:
    """Start a login every 1/per_second s (each on its own connection) until ``stop``."""
    n = 0
    tasks = set()
    began = time.perf_counter()
    while not stop.is_set():
        n += 1

        async def one(k: int) -> None:
            t = time.perf_counter()
            answer = await request(port, f"login{k}", {"type": "login", "account": "bencher",
                                                       "password": PASSWORD, "ref": "x"},
                                   want="account")
            assert answer.get("status") == "logged_in", answer
            done.append(time.perf_counter() - t)

        task = asyncio.create_task(one(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(max(0.0, began + n / per_second - time.perf_counter()))
    await asyncio.gather(*tasks)


async def measure(engine: str, port: int, with_logins: bool) -> dict[str, Any]:
    stop = asyncio.Event()
    done: list[float] = []
    side = asyncio.create_task(logins(port, 20.0, stop, done)) if with_logins else None
    if side:
        await asyncio.sleep(1.0)  # logins under way first
    # A new room each time: a room with history would replay its last lines to the joiners
    # while the measured phase starts.
    room = f"#bench{next(ROUNDS)}"
    result = await run_fanout(Target("127.0.0.1", port, "irc"),
                              FanoutParams(clients=100, senders=10, messages=500, rate=1000.0,
                                           room=room))
    stop.set()
    if side:
        await side
    lat = result["latency"]
    return {"engine": engine, "logins": with_logins, "p50_ms": lat["p50_ms"],
            "p99_ms": lat["p99_ms"], "lost": result["lost"],
            "logins_done": len(done),
            "login_p50_ms": sorted(done)[len(done) // 2] * 1000 if done else None}


async def main_async(engines: list[str], pin: bool, repeats: int) -> list[dict[str, Any]]:
    rows = []
    if pin:
        os.sched_setaffinity(0, {1})
    for engine in engines:
        proc, port = start(engine, pin)
        try:
            await request(port, "bencher", {"type": "register", "password": PASSWORD,
                                            "ref": "x"}, want="account")
            for _ in range(repeats):
                for with_logins in (False, True):
                    rows.append(await measure(engine, port, with_logins))
                    print(rows[-1], flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="asyncio,threaded")
    ap.add_argument("--pin", action="store_true", help="server on CPU 0, generator on CPU 1")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = asyncio.run(main_async(args.engines.split(","), args.pin, args.repeats))
    print(f"\n{'engine':<9} {'logins/s':>8} {'fan-out p50':>12} {'p99 (median)':>13} "
          f"{'logins done':>11} {'login p50':>10}")
    for engine in args.engines.split(","):
        for with_logins in (False, True):
            runs = [r for r in rows if r["engine"] == engine and r["logins"] == with_logins]
            p99 = sorted(r["p99_ms"] for r in runs)[len(runs) // 2]
            p50 = sorted(r["p50_ms"] for r in runs)[len(runs) // 2]
            logins_done = sum(r["logins_done"] for r in runs)
            lp50 = runs[-1]["login_p50_ms"]
            print(f"{engine:<9} {20 if with_logins else 0:>8} {p50:>9.2f} ms {p99:>10.2f} ms "
                  f"{logins_done:>11} {(lp50 and f'{lp50:.0f} ms') or '-':>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
