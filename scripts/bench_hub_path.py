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

``--cluster`` runs the hub as a cluster node whose log is a loopback in this process (no Redis,
no threads): every flush's calls come straight back as the log's entries and are applied before
the flush is taken. What it counts is the engine thread's share of a node's work (decoding,
appending, applying, fanning out); the writer's and reader's Redis round trips are not in it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's ``chat``

from chat.cluster.gate import ClusterGate
from chat.cluster.replica import CALLS_PER_ENTRY, NODE_SHIFT, decode_entry, encode_call, pack
from chat.config import Limits, ServerConfig
from chat.hub import Hub
from chat.hub.output import Output

SHAPES = {  # clients, rooms, senders
    "rooms": (500, 50, 500),
    "rate": (100, 1, 10),
    # fan-out A's shape at full speed: the rate workload's room, many messages a read and a
    # flush (over sockets: ~150 a flush, i.e. ~15 a read from each of the 10 senders)
    "fanout": (100, 1, 10),
}


class LoopbackLog:
    """A cluster log in this process, in place of the Redis backplane: calls are queued as the
    real one queues them (encoded, numbered) and come back, as the reader would hand them over,
    when ``deliver`` is called."""

    def __init__(self, node: int) -> None:
        self.node = node
        self._queue: list[tuple[int, str]] = []
        self._seq = 0
        self._ms = 1_700_000_000_000
        self.applied = "0-0"

    def send(self, call: tuple[Any, ...], payload: str | None = None) -> int:
        self._seq += 1
        self._queue.append((self._seq, encode_call(call) if payload is None else payload))
        return self._seq

    def queued(self) -> int:
        return len(self._queue)

    def deliver(self, gate: ClusterGate) -> None:
        """What is queued, back as entries of one stream entry each 100 calls, applied."""
        queue, self._queue = self._queue, []
        entries = []
        for start in range(0, len(queue), CALLS_PER_ENTRY):
            group = queue[start:start + CALLS_PER_ENTRY]
            self._ms += 1
            fields = {"n": str(self.node), "s": str(group[0][0]), "k": str(len(group)),
                      "c": pack([payload for _, payload in group])}
            entries.extend(decode_entry(f"{self._ms}-0", fields, self.node))
        if entries:
            gate._apply(gate.generation, entries)


def build(shape: str, cluster: bool = False) -> tuple[Hub, list[tuple[int, bytes]]]:
    """A hub with the shape's IRC clients registered and joined; the senders and their rooms."""
    clients, rooms, senders = SHAPES[shape]
    config = ServerConfig(limits=Limits(rate_per_second=0, max_connections=0, max_per_ip=0,
                                        ping_interval=0, register_timeout=0,
                                        max_rooms_per_user=0),
                          history_max_per_room=0, replay_lines=0,
                          cluster="redis://127.0.0.1:1/0" if cluster else "")
    hub = Hub(config, clock=lambda: 1000.0, wallclock=lambda: 1.7e9)
    take = hub.take_output
    if cluster:
        gate = hub.gate
        assert isinstance(gate, ClusterGate)
        gate.node = gate.replica.node = 1
        gate.conn_base = 1 << NODE_SHIFT
        loop = LoopbackLog(1)
        gate.backplane = loop  # type: ignore[assignment]

        def take() -> Output:
            loop.deliver(gate)
            return hub.take_output()
    conns = []
    for i in range(clients):
        conn = hub.open("127.0.0.1")
        room = f"#room{i % rooms}"
        hub.receive(conn, f"NICK u{i}\r\nUSER u{i} 0 * :bench\r\nJOIN {room}\r\n".encode())
        take()
        take()  # (a node's registration waits for each entry to come back)
        conns.append((conn, room))
    hub.tick()
    take()
    hub.take = take  # type: ignore[attr-defined]
    return hub, [(conn, room.encode()) for conn, room in conns[:senders]]


def run(shape: str, n: int, batch: int = 1, cluster: bool = False) -> float:
    """Push ``n`` messages, ``batch`` a flush (read ``batch // senders`` at a time from each
    sender in turn); returns the seconds the loop took."""
    hub, senders = build(shape, cluster)
    receive, take = hub.receive, hub.take  # type: ignore[attr-defined]
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


def instructions(shape: str, n: int, batch: int, cluster: bool = False) -> int:
    """Instructions of a whole run of this script under callgrind."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--shape", shape, "-n", str(n), "--batch", str(batch),
         *(["--cluster"] if cluster else [])],
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
    parser.add_argument("--cluster", action="store_true",
                        help="as a cluster node, its log a loopback in this process")
    args = parser.parse_args()
    if args.callgrind:
        shapes = [args.shape] if "--shape" in sys.argv else sorted(SHAPES)
        print(f"{'shape':<6} {'batch':>5} {'instructions/message':>21}")
        for shape in shapes:
            batch = batch_for(shape, args.batch)
            small = instructions(shape, args.n, batch, args.cluster)
            large = instructions(shape, 2 * args.n, batch, args.cluster)
            print(f"{shape:<6} {batch:>5} {(large - small) / args.n:>21,.0f}")
        return
    import chat
    if args.time:
        print(f"chat from {Path(chat.__file__).parent}")
    took = run(args.shape, args.n, batch_for(args.shape, args.batch), args.cluster)
    if args.time:
        print(f"{args.shape}: {took / args.n * 1e6:.2f} µs a message")


if __name__ == "__main__":
    main()
