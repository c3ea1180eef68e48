#!/usr/bin/env python3
"""What history costs a join and a start: the real server process on a data directory.

1. Start-up: seconds from spawning ``python -m chat`` to its "ready" line, on an empty data
   directory and on the one given (``--db``, e.g. the 1,000,000-message one that
   ``scripts/bench_history.py --db DIR`` builds).
2. Join latency: a structured client joins and parts a room over and over; the time from
   sending ``join`` to its last reply (the replay of 25 lines, or the member list when there is
   no history), p50 and p99, for a room with history and one without.

    .venv/bin/python scripts/bench_join_replay.py --db /tmp/bh1m
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start(data: Path) -> tuple[subprocess.Popen[str], int, float]:
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "chat", "--port", "0", "--data-dir", str(data),
                             "--http-port", "0", "--rate-per-second", "0", "--log-level", "INFO"],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit("the server did not start")
        if "ready:" in line:
            return proc, int(line.rsplit("port=", 1)[1]), time.perf_counter() - began


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(30)


class Client:
    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.send({"type": "hello", "nick": nick})
        self.until("welcome")

    def send(self, obj: dict[str, object]) -> None:
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def until(self, kind: str, **fields: object) -> dict[str, object]:
        while True:
            obj = json.loads(self.file.readline())
            if obj.get("type") == kind and all(obj.get(k) == v for k, v in fields.items()):
                return obj  # type: ignore[no-any-return]


def join_latency(port: int, room: str, with_history: bool, rounds: int) -> list[float]:
    client = Client(port, f"j{int(with_history)}")
    samples = []
    for n in range(rounds):
        began = time.perf_counter()
        client.send({"type": "join", "room": room, "ref": n})
        if with_history:
            client.until("history", ref=n)
        else:
            client.until("members", ref=n)
        samples.append((time.perf_counter() - began) * 1000)
        client.send({"type": "part", "room": room})
        client.until("part")
    return samples


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="a data directory to start on (e.g. 1M messages)")
    ap.add_argument("--rounds", type=int, default=500)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-join-") as tmp:
        empty = Path(tmp, "empty")
        proc, port, began = start(empty)
        rows.append(("start-up, empty data directory", f"{began * 1000:.0f} ms"))
        # A room with 25 lines to replay, and one without: the same join otherwise.
        talker = Client(port, "talker")
        talker.send({"type": "join", "room": "#talk"})
        talker.until("members")
        for n in range(25):
            talker.send({"type": "message", "to": "#talk", "text": f"line {n} " + "x" * 60})
        talker.until("message", text=f"line 24 {'x' * 60}")
        talker.send({"type": "join", "room": "#quiet"})
        talker.until("members")
        for label, room, replay in (("join, no history", "#quiet", False),
                                    ("join + replay of 25 lines", "#talk", True)):
            samples = join_latency(port, room, replay, args.rounds)
            rows.append((f"{label}: p50 / p99",
                         f"{pct(samples, 0.5):.2f} / {pct(samples, 0.99):.2f} ms"))
        stop(proc)
        if args.db:
            proc, port, began = start(args.db)
            rows.append((f"start-up on {args.db}", f"{began * 1000:.0f} ms"))
            stop(proc)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
