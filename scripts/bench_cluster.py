#!/usr/bin/env python3
"""Cluster benchmark: what the hop through Redis costs, side by side with a standalone server,
in one run (the machine is shared: ratios within one run are what to read).

Starts a redis-server (persistence off) and server processes (asyncio engine, flood limits
lifted as in bench_compare.py), then runs the load generator (chat.bench) in this process:

1. latency at a fixed 1,000 messages/s (100 clients, 10 senders): standalone, one cluster node,
   and two cluster nodes with the clients split between them (half the deliveries cross Redis);
2. fan-out at full speed: standalone vs one cluster node (deliveries/s ratio, CPU per delivery),
   and two cluster nodes vs one (the clients split; CPU summed over both nodes, Redis apart).

    flock /tmp/bench.lock .venv/bin/python scripts/bench_cluster.py [--quick] [--messages N]

``--before TREE`` adds a one-node cluster run from another checkout (e.g. ``git archive main |
tar -x -C /tmp/before``) to every round, and the hop measured in that checkout too, so a change
is compared with the code before it in the same run; ``--setups`` picks setups by number.

What is compared: each setup keeps history the way a real server with default settings does.
The standalone server keeps it in its default SQLite store (``--data-dir`` a fresh temporary
directory, written by its history thread), a cluster node in the cluster's Redis (every node
always does). ``--standalone-store memory`` runs the standalone server with ``--data-dir none``
instead (history in memory only, no disk writes): the comparison made before 2026-12-01 03:30,
which favoured standalone by the cost of its history writes (≈ 3-4 % of fan-out).

Raw results go to bench-results/cluster-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.base_events
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_server import RedisServer  # noqa: E402

from chat.bench import procstat  # noqa: E402
from chat.bench.workloads import FanoutParams, Target, run_fanout  # noqa: E402

SERVER_FLAGS = ["--http-port", "0", "--log-level", "WARNING",
                "--rate-per-second", "0", "--max-connections", "0", "--max-per-ip", "0",
                "--max-rooms-per-user", "0", "--sendq", "67108864", "--ping-interval", "0",
                "--register-timeout", "0"]
#: A port no server uses: connections to it are spread over the ports in ``_SPREAD``.
SPREAD_PORT = 1
_SPREAD: list[Iterator[int]] = []


SETUPS = (("standalone", 1, False), ("cluster, 1 node", 1, True), ("cluster, 2 nodes", 2, True))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spread_connections() -> None:
    """The generator connects every client to one Target; to split clients over two nodes, a
    connection to ``SPREAD_PORT`` goes to the next node in turn (this process only)."""
    original = asyncio.base_events.BaseEventLoop.create_connection

    async def create_connection(self: Any, factory: Any, host: Any = None, port: Any = None,
                                **kw: Any) -> Any:
        if port == SPREAD_PORT and _SPREAD:
            port = next(_SPREAD[0])
        return await original(self, factory, host, port, **kw)

    asyncio.base_events.BaseEventLoop.create_connection = create_connection  # type: ignore


@contextmanager
def servers(count: int, cluster: str | None, engine: str = "asyncio",
            tree: Path = ROOT, store: str = "sqlite") -> Iterator[list[Any]]:
    """``count`` server processes (cluster nodes if ``cluster``); yields (proc, port) pairs.

    A standalone server keeps its history in SQLite in a fresh temporary data directory
    (``store="sqlite"``, a default server's store) or in memory (``"memory"``); a cluster node
    keeps it in Redis whatever ``store`` says."""
    procs = []
    data = tempfile.TemporaryDirectory(prefix="bench-cluster-")
    try:
        for i in range(count):
            port = free_port()
            if cluster:
                kept = ["--cluster", cluster]
            elif store == "sqlite":
                kept = ["--data-dir", os.path.join(data.name, str(i))]
            else:
                kept = ["--data-dir", "none"]
            cmd = [sys.executable, "-m", "chat", "--engine", engine, "--port", str(port),
                   *SERVER_FLAGS, *kept]
            proc = subprocess.Popen(cmd, cwd=tree, stderr=subprocess.PIPE, text=True)
            assert proc.stderr is not None
            while True:  # at --log-level WARNING there is no ready line: wait for the port
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError(proc.stderr.read()) from None
                    time.sleep(0.05)
            procs.append((proc, port))
        yield procs
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        data.cleanup()


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        sample = procstat.sample(pid)
        total += sample.cpu_s if sample else 0.0
    return total


def thread_cpu(pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) of every thread of ``pids``, by thread id (Python 3.11 does
    not name its threads for the OS: the busiest one at full speed is the engine's)."""
    tick = os.sysconf("SC_CLK_TCK")
    by_tid: dict[str, float] = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue  # the thread ended meanwhile
            fields = stat[stat.rindex(")") + 2:].split()
            by_tid[task.name] = (int(fields[11]) + int(fields[12])) / tick
    return by_tid


def measure(procs: list[Any], params: FanoutParams, redis_pid: int | None) -> dict[str, Any]:
    """One fan-out run against ``procs`` (clients spread over them); CPU of all of them."""
    pids = [proc.pid for proc, _ in procs]
    ports = [port for _, port in procs]
    _SPREAD[:] = [itertools.cycle(ports)]
    target = Target("127.0.0.1", SPREAD_PORT if len(ports) > 1 else ports[0], "irc",
                    pids[0] if len(pids) == 1 else None)
    cpu0 = cpu_of(pids)
    threads0 = thread_cpu(pids)
    redis0 = cpu_of([redis_pid]) if redis_pid else 0.0
    result = asyncio.run(run_fanout(target, params))
    cpu = cpu_of(pids) - cpu0
    threads = thread_cpu(pids)
    spent = sorted((round(used - threads0.get(tid, 0.0), 3) for tid, used in threads.items()),
                   reverse=True)
    result["threads_cpu_s"] = spent
    # The busiest thread (the engine's) per message sent, and the others together: where a
    # node's extra cost goes (see docs/scaling.md); jiffies, so read them over runs of a
    # second or more.
    messages = params.senders * params.messages
    if len(procs) == 1 and spent:
        result["engine_us_per_message"] = 1e6 * spent[0] / messages
        result["others_us_per_message"] = 1e6 * sum(spent[1:]) / messages
    wall = result.get("wall_s") or 0.0
    deliveries = result.get("deliveries") or result.get("received") or 0
    result["nodes_cpu_s"] = cpu
    result["nodes_cpu_us_per_delivery"] = 1e6 * cpu / deliveries if deliveries else None
    if redis_pid:
        result["redis_cpu_s"] = cpu_of([redis_pid]) - redis0
    result["nodes_deliveries_per_s"] = deliveries / wall if wall else None
    return result


def micro(redis_url: str, entries: int = 20_000) -> dict[str, float]:
    """What one log entry costs without sockets: encoding it, decoding it and applying it to a
    core (a message to a room of 100), per node; and Redis appending and reading entries."""
    import redis as redis_py

    from chat.cluster.replica import Entry, Replica, decode_entry, encode_call
    from chat.config import ServerConfig
    from chat.core import ChatCore
    from chat.core import commands as c

    core = ChatCore(ServerConfig(port=0))
    replica = Replica(core, 1)
    seq = itertools.count(1)
    for i in range(100):
        conn = 1 << 32 | i
        for call in (("connect", conn, "h"), ("handle", conn, c.Register(f"u{i}")),
                     ("handle", conn, c.Join("#bench"))):
            replica.apply(Entry(f"1-{next(seq)}", 1, next(seq), call))
    call = ("handle", 1 << 32 | 0, c.Say("#bench", "x" * 60))
    t0 = time.perf_counter()
    for _ in range(entries):
        payload = encode_call(call)
    t1 = time.perf_counter()
    for _ in range(entries):
        entry = decode_entry("1-1", {"n": "1", "s": "1", "c": "[" + payload + "]"})[0]
    t2 = time.perf_counter()
    base = next(seq)
    for i in range(entries):
        replica.apply(Entry(f"2-{i}", 1, base + i, entry.call))
    t3 = time.perf_counter()
    r = redis_py.Redis.from_url(redis_url, decode_responses=True)
    r.delete("bench:log")
    t4 = time.perf_counter()
    for start in range(0, entries, 500):
        pipe = r.pipeline(transaction=False)
        for _ in range(min(500, entries - start)):
            pipe.xadd("bench:log", {"n": 1, "s": 1, "c": payload})
        pipe.execute()
    t5 = time.perf_counter()
    position, got = "0-0", 0
    while got < entries:
        answer = r.xread({"bench:log": position}, count=500)
        got += len(answer[0][1])
        position = answer[0][1][-1][0]
    t6 = time.perf_counter()
    r.delete("bench:log")
    r.close()
    us = 1e6 / entries
    return {"encode_us": (t1 - t0) * us, "decode_us": (t2 - t1) * us,
            "apply_us": (t3 - t2) * us, "redis_xadd_per_s": entries / (t5 - t4),
            "redis_xread_per_s": entries / (t6 - t5), "payload_bytes": len(payload)}


_HOP_CLIENT = r"""
import socket, sys, time
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
sock.sendall(b"NICK hop\r\nUSER hop 0 * :hop\r\nJOIN #hop\r\n")
seen = b""
while b" 366 " not in seen:
    seen += sock.recv(65536)
start = time.perf_counter()
for i in range(int(sys.argv[2])):
    sock.sendall(b"PRIVMSG #hop :m%d\r\n" % i)
    delay = start + (i + 1) / 1000 - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
time.sleep(0.3)
"""


def hop(redis_url: str, engine: str, messages: int) -> dict[str, float]:
    """The hop inside one node at 1,000 messages/s: from a command appended (the engine hands it
    to the writer thread) to its entry applied (read back and handed to the engine), timed in
    this process around ``ClusterGate._send`` and ``_done``; the client is another process."""
    from chat.cluster import gate
    from chat.config import Limits, ServerConfig
    from chat.engines import serve_in_background

    sent: dict[int, float] = {}
    hops: list[float] = []
    send, done = gate.ClusterGate._send, gate.ClusterGate._done

    def timed_send(self: Any, call: Any, conn: int, logged: Any = None) -> int:
        seq = send(self, call, conn, logged)
        sent[seq] = time.perf_counter()
        return seq

    def timed_done(self: Any, seq: int) -> None:
        began = sent.pop(seq, None)
        if began is not None:
            hops.append(time.perf_counter() - began)
        done(self, seq)

    gate.ClusterGate._send, gate.ClusterGate._done = timed_send, timed_done  # type: ignore
    try:
        config = ServerConfig(port=0, limits=Limits(rate_per_second=0), cluster=redis_url)
        with serve_in_background(engine, config) as server:
            subprocess.run([sys.executable, "-c", _HOP_CLIENT, str(server.port), str(messages)],
                           check=True, timeout=120)
    finally:
        gate.ClusterGate._send, gate.ClusterGate._done = send, done  # type: ignore
    ms = sorted(1e3 * h for h in hops[5:])  # the first few are registration and the join
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return {"p50_ms": pick(0.5), "p90_ms": pick(0.9), "p99_ms": pick(0.99), "max_ms": ms[-1]}


def hop_in(tree: Path, redis_url: str, engine: str, messages: int) -> dict[str, float]:
    """:func:`hop`, in a process running ``tree``'s code (its own copy of this script)."""
    if tree == ROOT:
        return hop(redis_url, engine, messages)
    code = ("import json, sys; sys.path.insert(0, 'scripts'); import bench_cluster as b; "
            f"print(json.dumps(b.hop({redis_url!r}, {engine!r}, {messages})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, timeout=300,
                          capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--messages", type=int, default=1000, help="per sender, full speed")
    parser.add_argument("--engine", default="asyncio", choices=["asyncio", "threaded"])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--before", type=Path, help="also run one cluster node from this tree")
    parser.add_argument("--setups", default="0,1,2",
                        help="which of standalone (0), 1 node (1), 2 nodes (2), 1 node before (3)")
    parser.add_argument("--no-hop", action="store_true", help="skip the in-process hop timing")
    parser.add_argument("--loads", default="rate,full",
                        help="which workloads: rate (1,000 msg/s, latency), full (full speed)")
    parser.add_argument("--standalone-store", default="sqlite", choices=["sqlite", "memory"],
                        help="where standalone keeps history: SQLite in a temporary data dir "
                             "(a default server; the fair comparison) or memory only "
                             "(--data-dir none, the comparison before 2026-12-01)")
    args = parser.parse_args()
    chosen = [int(i) for i in args.setups.split(",")]
    if args.before and 3 not in chosen:
        chosen.append(3)
    setups = [(label, count, cluster, tree) for i, (label, count, cluster, tree) in enumerate(
        [*((*s, ROOT) for s in SETUPS), ("cluster, 1 node, before", 1, True, args.before)])
        if i in chosen]
    _spread_connections()
    rated = FanoutParams(clients=100, senders=10, messages=300 if args.quick else 1000,
                         rate=1000.0)
    full = FanoutParams(clients=100, senders=10, messages=200 if args.quick else args.messages)
    chosen_loads = args.loads.split(",")
    loads = [(name, params) for key, name, params in (("rate", "rate 1000/s", rated),
                                                      ("full", "full speed", full))
             if key in chosen_loads]
    redis = RedisServer()
    redis.start()
    rows: list[dict[str, Any]] = []
    costs: dict[str, float] = {}
    hops: dict[str, dict[str, float]] = {}
    assert redis.process is not None
    rpid = redis.process.pid
    try:
        costs = micro(redis.url, 2_000 if args.quick else 20_000)
        print("per entry, one node, no sockets: encode {encode_us:.1f} µs, decode {decode_us:.1f}"
              " µs, apply (a message to a room of 100) {apply_us:.1f} µs; payload "
              "{payload_bytes} bytes\nRedis from one client, pipelined by 500: XADD "
              "{redis_xadd_per_s:,.0f}/s, XREAD {redis_xread_per_s:,.0f} entries/s".format(**costs))
        trees = [("", ROOT)] + ([(" before", args.before)] if args.before else [])
        for engine in () if args.no_hop else ("asyncio", "threaded"):
            for suffix, tree in trees:  # alternating: this tree, then the one before
                redis.flush()
                hops[engine + suffix] = hop_in(tree, redis.url, engine,
                                               1000 if args.quick else 3000)
                print("hop inside one {} node at 1,000 msg/s: p50 {p50_ms:.2f} p90 {p90_ms:.2f} "
                      "p99 {p99_ms:.2f} max {max_ms:.2f} ms".format(engine + suffix,
                                                                    **hops[engine + suffix]))
        # Rounds alternate the setups, so a burst of load from elsewhere on a shared machine
        # hits each about equally; the table shows each figure's median over the rounds.
        for round_no in range(1, args.rounds + 1):
            for label, count, cluster, tree in setups:
                url = redis.url if cluster else None
                if url:
                    redis.flush()
                with servers(count, url, args.engine, tree, args.standalone_store) as procs:
                    for workload, params in loads:
                        result = measure(procs, params, rpid if url else None)
                        result.update(setup=label, load=workload, round=round_no)
                        rows.append(result)
                print(f"  round {round_no}: {label} done", file=sys.stderr)
    finally:
        redis.close()
    print_table(rows, [label for label, *_ in setups])
    for label, *_ in setups:
        mine = [row for row in rows
                if row["setup"] == label and row.get("engine_us_per_message") is not None]
        if mine:
            spent = [row["engine_us_per_message"] for row in mine]
            others = _median([row["others_us_per_message"] for row in mine])
            print(f"{label}: CPU per message sent (medians): the engine's thread "
                  f"{_median(spent):.1f} µs, the other threads {others:.1f} µs")
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    path = out / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
    raw = {"machine": machine(), "micro": costs, "hop": hops, "rows": rows,
           "standalone_store": args.standalone_store}
    path.write_text(json.dumps(raw, indent=1, default=str))
    print(f"\nraw results: {path.relative_to(ROOT)}")
    return 0


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "cpu": _cpu_model()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _median(values: list[Any]) -> Any:
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def print_table(rows: list[dict[str, Any]], labels: list[str]) -> None:
    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print(f"\n{'setup':18} {'load':12} {'deliv/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'µs/deliv':>8} {'redis s':>7} {'lost':>5}   (medians of {rows[-1]['round']} rounds)")
    base: dict[str, float] = {}
    for label in labels:
        for load in ("rate 1000/s", "full speed"):
            mine = [r for r in rows if r["setup"] == label and r["load"] == load]
            rate = _median([r.get("nodes_deliveries_per_s") for r in mine])
            p50 = _median([(r.get("latency") or {}).get("p50_ms") for r in mine])
            p99 = _median([(r.get("latency") or {}).get("p99_ms") for r in mine])
            cpu = _median([r.get("nodes_cpu_us_per_delivery") for r in mine])
            redis_s = _median([r.get("redis_cpu_s") for r in mine])
            lost = sum(r.get("lost") or 0 for r in mine)
            print(f"{label:18} {load:12} {fmt(rate, '10.0f')} {fmt(p50, '7.2f')} "
                  f"{fmt(p99, '7.2f')} {fmt(cpu, '8.2f')} {fmt(redis_s, '7.2f')} {lost:5}")
            if load == "full speed" and rate:
                base[label] = rate
    if "standalone" in base and "cluster, 1 node" in base:
        print(f"\ncluster 1 node / standalone, full-speed deliveries/s: "
              f"{base['cluster, 1 node'] / base['standalone']:.2f}x")
    if "cluster, 1 node, before" in base and "standalone" in base:
        print(f"cluster 1 node before / standalone, full-speed deliveries/s: "
              f"{base['cluster, 1 node, before'] / base['standalone']:.2f}x")
    if "cluster, 1 node" in base and "cluster, 2 nodes" in base:
        print(f"cluster 2 nodes / 1 node, full-speed deliveries/s: "
              f"{base['cluster, 2 nodes'] / base['cluster, 1 node']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
