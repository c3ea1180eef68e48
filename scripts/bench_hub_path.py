"""The hub's per-message path alone, no sockets: a deterministic loop for instruction counts.

On a shared machine wall-clock and CPU timings of the end-to-end benchmark vary by ±30 %; the
instructions one message costs from ``Hub.receive`` to ``Hub.take_output`` do not. This builds a
real Hub with the real dialects (IRC clients, as ``chat-bench`` is), registers the clients, then
pushes N PRIVMSGs through it one flush each, in the shape of the ``rooms`` workload (500
clients over 50 rooms, 10 a room) or the ``rate`` one (100 in one room, 10 senders); the
``fanout`` shape is fan-out A at full speed (the rate room, 15 messages a read from each
sender in turn, 150 a flush; ``--batch`` sets the messages a flush).

Per-message instructions: run it twice under callgrind with different N and divide the
difference (start-up and registration cancel out)::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python scripts/bench_hub_path.py \\
        --shape rooms -n 2000        # and -n 4000; (I4000 - I2000) / 2000
    python scripts/bench_hub_path.py --shape rooms -n 20000 --time   # µs a message, noisy

``--callgrind`` does the two runs and prints the table.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's ``chat``

from chat.config import Limits, ServerConfig
from chat.hub import Hub

SHAPES = {  # clients, rooms, senders
    "rooms": (500, 50, 500),
    "rate": (100, 1, 10),
    # fan-out A's shape at full speed: the rate workload's room, many messages a read and a
    # flush (over sockets: ~150 a flush, i.e. ~15 a read from each of the 10 senders)
    "fanout": (100, 1, 10),
}


def build(shape: str) -> tuple[Hub, list[tuple[int, bytes]]]:
    """A hub with the shape's IRC clients registered and joined; the senders and their rooms."""
    clients, rooms, senders = SHAPES[shape]
    config = ServerConfig(limits=Limits(rate_per_second=0, max_connections=0, max_per_ip=0,
                                        ping_interval=0, register_timeout=0,
                                        max_rooms_per_user=0),
                          history_max_per_room=0, replay_lines=0)
    hub = Hub(config, clock=lambda: 1000.0, wallclock=lambda: 1.7e9)
    conns = []
    for i in range(clients):
        conn = hub.open("127.0.0.1")
        room = f"#room{i % rooms}"
        hub.receive(conn, f"NICK u{i}\r\nUSER u{i} 0 * :bench\r\nJOIN {room}\r\n".encode())
        hub.take_output()
        conns.append((conn, room))
    hub.tick()
    hub.take_output()
    return hub, [(conn, room.encode()) for conn, room in conns[:senders]]


def run(shape: str, n: int, batch: int = 1) -> float:
    """Push ``n`` messages, ``batch`` a flush (read ``batch // senders`` at a time from each
    sender in turn); returns the seconds the loop took."""
    hub, senders = build(shape)
    receive, take = hub.receive, hub.take_output
    count = len(senders)
    per_read = max(1, batch // count)
    start = time.perf_counter()
    seq = 0
    while seq < n:
        conn, room = senders[(seq // per_read) % count]
        lines = min(per_read, n - seq)
        receive(conn, b"".join(b"PRIVMSG " + room + b" :~B:%d %d %d\r\n"
                               % (conn, seq + i, 1_700_000_000_000) for i in range(lines)))
        seq += lines
        if seq % batch < lines:
            take()
    take()
    return time.perf_counter() - start


def instructions(shape: str, n: int, batch: int) -> int:
    """Instructions of a whole run of this script under callgrind."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--shape", shape, "-n", str(n), "--batch", str(batch)],
        capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(done.stderr)
    return int(found.group(1))


def batch_for(shape: str, batch: int) -> int:
    """Messages a flush: as asked, else one (150 for the fanout shape)."""
    return batch or (150 if shape == "fanout" else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="rooms")
    parser.add_argument("-n", type=int, default=2000, help="messages")
    parser.add_argument("--batch", type=int, default=0,
                        help="messages a flush (default: 1, and 150 for the fanout shape)")
    parser.add_argument("--time", action="store_true", help="print µs a message")
    parser.add_argument("--callgrind", action="store_true",
                        help="instructions a message: two runs under callgrind (n and 2n)")
    args = parser.parse_args()
    if args.callgrind:
        shapes = [args.shape] if "--shape" in sys.argv else sorted(SHAPES)
        print(f"{'shape':<6} {'batch':>5} {'instructions/message':>21}")
        for shape in shapes:
            batch = batch_for(shape, args.batch)
            small = instructions(shape, args.n, batch)
            large = instructions(shape, 2 * args.n, batch)
            print(f"{shape:<6} {batch:>5} {(large - small) / args.n:>21,.0f}")
        return
    import chat
    if args.time:
        print(f"chat from {Path(chat.__file__).parent}")
    took = run(args.shape, args.n, batch_for(args.shape, args.batch))
    if args.time:
        print(f"{args.shape}: {took / args.n * 1e6:.2f} µs a message")


if __name__ == "__main__":
    main()
