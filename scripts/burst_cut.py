#!/usr/bin/env python3
"""A legal burst to fast readers, per engine: how many readers are cut, and peak server RSS.

The scenario of the outside attack pass: ``--talkers`` connections, each within its rate
limits, send ``--messages`` messages of ``--size`` bytes at once to a room that
``--readers`` well-behaved readers (one process, reading as fast as it can) are in. With the
default limits (sendq 1 MiB, sendq-grace 10 s) no reader should be cut. Prints a table:

    python scripts/burst_cut.py            # both engines, full size (50 x 38 x 8 KB to 80)
    python scripts/burst_cut.py --engines asyncio --readers 20
"""

from __future__ import annotations

import argparse
import json
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.bench.procstat import sample


def connect(port: int, nick: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((json.dumps({"type": "hello", "version": 1, "nick": nick}) + "\n"
                  + json.dumps({"type": "join", "room": "#burst"}) + "\n").encode())
    buf = b""
    while b'"type":"members"' not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"{nick} was closed during set-up")
        buf += chunk
    return sock


def run(engine: str, args: argparse.Namespace) -> dict[str, object]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chat", "--engine", engine, "--port", "0" "--http-port", "0",
         "--message-len", str(args.size), "--max-line", str(args.size + 1024),
         "--max-members-per-room", "0"],
        stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stderr is not None
    port = 0
    for line in proc.stderr:
        if found := re.search(r"ready: .*port=(\d+)", line):
            port = int(found.group(1))
            break
    cuts_logged = [0]

    def drain_log() -> None:  # keep the pipe flowing; count the server's own cut lines
        assert proc.stderr is not None
        for line in proc.stderr:
            cuts_logged[0] += "Send queue exceeded" in line

    threading.Thread(target=drain_log, daemon=True).start()
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            s = sample(proc.pid)
            if s:
                peak[0] = max(peak[0], s.rss_bytes)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    base = sample(proc.pid)
    readers = [connect(port, f"r{i}") for i in range(args.readers)]
    talkers = [connect(port, f"t{i}") for i in range(args.talkers)]
    time.sleep(1.0)  # the rate limit's tokens refill after set-up: the burst stays legal
    want = args.talkers * args.messages
    text = "x" * (args.size - 20)
    sel = selectors.DefaultSelector()
    counts = {}
    tails = {}
    for sock in readers:
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
        counts[sock] = 0
        tails[sock] = b""
    start = time.monotonic()
    for i, sock in enumerate(talkers):
        burst = "".join(json.dumps({"type": "message", "to": "#burst", "text": f"{i} {n} {text}"})
                        + "\n" for n in range(args.messages))
        threading.Thread(target=sock.sendall, args=(burst.encode(),), daemon=True).start()
    cut = 0
    alive = set(readers)
    marker = b'"type":"message"'
    while alive and time.monotonic() - start < args.timeout:
        for key, _ in sel.select(1.0):
            sock = key.fileobj
            try:
                data = sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                cut += 1
                sel.unregister(sock)
                alive.discard(sock)
                continue
            buf = tails[sock] + data
            cut_at = buf.rfind(b"\n") + 1
            counts[sock] += buf[:cut_at].count(marker)
            tails[sock] = buf[cut_at:]
            if counts[sock] >= want:
                sel.unregister(sock)
                alive.discard(sock)
        # talkers read their own echo too: drain them without counting
        for sock in talkers:
            sock.setblocking(False)
            try:
                while sock.recv(1 << 20):
                    pass
            except (BlockingIOError, InterruptedError, OSError):
                pass
    elapsed = time.monotonic() - start
    time.sleep(2.0)
    after = sample(proc.pid)
    done.set()
    for sock in readers + talkers:
        sock.close()
    proc.terminate()
    proc.wait(30)
    return {"engine": engine, "cut": cut, "incomplete": len(alive),
            "rss_before_mib": (base.rss_bytes if base else 0) / 2**20,
            "peak_rss_mib": peak[0] / 2**20,
            "rss_after_mib": (after.rss_bytes if after else 0) / 2**20,
            "seconds": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["asyncio", "threaded"])
    parser.add_argument("--talkers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=38)
    parser.add_argument("--size", type=int, default=8000)
    parser.add_argument("--readers", type=int, default=80)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(f"{args.talkers} talkers x {args.messages} messages of {args.size} B "
          f"to {args.readers} readers")
    print(f"{'engine':10} {'cut':>4} {'incomplete':>10} {'RSS before':>11} {'peak RSS':>9} "
          f"{'RSS after':>10} {'seconds':>8}")
    for engine in args.engines:
        r = run(engine, args)
        print(f"{r['engine']:10} {r['cut']:>4} {r['incomplete']:>10} "
              f"{r['rss_before_mib']:>8.0f} MiB {r['peak_rss_mib']:>5.0f} MiB "
              f"{r['rss_after_mib']:>6.0f} MiB {r['seconds']:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
