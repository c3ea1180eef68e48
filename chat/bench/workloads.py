"""The three workloads of the benchmark; each returns a plain, JSON-ready dict of results.

Deliveries are counted as *messages × recipients other than the sender*: the structured dialect
also echoes each message to its sender, and those echoes are checked for loss but not counted as
throughput, so figures compare fairly with IRC servers (which do not echo) and err against us.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from chat.bench import procstat
from chat.bench.proto import (
    DIALECTS,
    BenchClient,
    Dialect,
    Flow,
    ProbeData,
    ProtocolFailure,
    WsBenchClient,
    now_ns,
)

_run_ids = itertools.count(int(time.time()) % 1000)


@dataclass(frozen=True, slots=True)
class Target:
    """Where the server under test listens, how to talk to it, and its pid for /proc readings."""

    host: str = "127.0.0.1"
    port: int = 6667
    dialect: str = "irc"
    server_pid: int | None = None
    #: "tcp", or "ws": a WebSocket to ``port`` (the server's HTTP port) carrying the dialect.
    transport: str = "tcp"


@dataclass(frozen=True, slots=True)
class FanoutParams:
    """N clients in one room; S of them send M messages each."""

    clients: int = 100
    senders: int = 10
    messages: int = 2000
    rate: float = 0.0  # total messages/s across senders; 0: full speed (TCP backpressure + window)
    window: int = 200  # messages a sender may have ahead of its reference receiver (0: none)
    batch: int = 32  # messages per write at full speed
    probes: int = 0  # clients that parse timestamps; 0: automatic (all when rated, else 16)
    pad: int = 0  # extra bytes of text per message
    room: str = "#bench"
    timeout: float = 30.0  # per handshake step, and for deliveries to stall before giving up


@dataclass(frozen=True, slots=True)
class RoomsParams:
    """N clients spread over R rooms; every client sends at a fixed rate."""

    clients: int = 100
    rooms: int = 10
    rate_per_client: float = 2.0
    duration: float = 5.0
    probes: int = 0  # 0: all clients
    pad: int = 0
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class IdleParams:
    """C registered idle connections spread over rooms; then one broadcast must reach all."""

    connections: int = 1000
    rooms: int = 50  # the broadcaster joins every room, so keep within the server's room limit
    timeout: float = 60.0


@dataclass(slots=True)
class _Run:
    """Bookkeeping shared by the workloads: clients, completion and resource readings."""

    target: Target
    dialect: Dialect
    prefix: str
    clients: list[BenchClient] = field(default_factory=list)
    remaining: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def arm(self, expected: Sequence[int]) -> None:
        """Expect ``expected[i]`` benchmark messages at client i; ``done`` fires when all have."""
        self.done.clear()
        self.remaining = 0
        for client, want in zip(self.clients, expected, strict=True):
            client.expected = want
            if client.count >= want:
                continue
            self.remaining += 1
            client.on_done = self._client_done

    def _client_done(self, _client: BenchClient) -> None:
        self.remaining -= 1
        if self.remaining <= 0:
            self.done.set()

    def received(self) -> int:
        return sum(c.count for c in self.clients)


def raise_fd_limit(need: int) -> int:
    """Raise the soft open-files limit towards the hard one; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need + 100)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


async def _open(run: _Run, count: int, concurrency: int, timeout: float,
                start_idx: int = 0) -> list[BenchClient]:
    """Connect and register ``count`` clients, at most ``concurrency`` handshakes at a time
    (a burst of thousands of SYNs overflows a listen backlog of 100 and costs 1 s retransmits)."""
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)
    made: list[BenchClient | None] = [None] * count

    async def one(i: int) -> None:
        async with sem:
            idx = start_idx + i
            nick = f"{run.prefix}{idx}"
            client = BenchClient(idx, nick, run.dialect) if run.target.transport == "tcp" \
                else WsBenchClient(idx, nick, run.dialect, run.target.host)
            await asyncio.wait_for(
                loop.create_connection(lambda: client, run.target.host, run.target.port), timeout)
            made[i] = client
            await client.register(timeout)

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    opened = [c for c in made if c is not None]
    run.clients.extend(opened)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise ProtocolFailure(f"{len(errors)} of {count} clients failed to register; "
                              f"first: {errors[0]!r}")
    return opened


async def _join(clients: Sequence[BenchClient], rooms: Sequence[str], concurrency: int,
                timeout: float) -> None:
    """Client i joins rooms[i]; waits for every join to complete."""
    sem = asyncio.Semaphore(concurrency)

    async def one(client: BenchClient, room: str) -> None:
        async with sem:
            await client.join(room, timeout)

    await asyncio.gather(*(one(c, r) for c, r in zip(clients, rooms, strict=True)))


async def _send_full(client: BenchClient, sid: int, count: int, template: bytes, batch: int,
                     window: int, flow: Flow, timeout: float) -> None:
    """Send as fast as TCP backpressure and the window allow, ``batch`` lines per write."""
    loop = asyncio.get_running_loop()
    seq = 0
    while seq < count and not client.closed:
        await client.writable()
        k = min(batch, count - seq)
        if window:
            room = flow.acked + 1 + window - seq
            if room <= 0:
                flow.wait_for = seq - window
                flow.waiter = loop.create_future()
                try:
                    await asyncio.wait_for(flow.waiter, timeout)
                except TimeoutError:
                    return  # the reference receiver stalled: the loss report will show it
                room = flow.acked + 1 + window - seq
            k = min(k, room)
        ns = now_ns()
        client.write(b"".join([template % (sid, s, ns) for s in range(seq, seq + k)]))
        seq += k
        await asyncio.sleep(0)


async def _send_rated(senders: Sequence[tuple[BenchClient, int, bytes]], per_sender: int,
                      rate: float) -> None:
    """Send ``per_sender`` messages from each sender, round-robin, ``rate`` per second in total,
    one write per message; each message is stamped when it is actually written."""
    total = per_sender * len(senders)
    seqs = [0] * len(senders)
    start = time.perf_counter()
    sent = 0
    n = len(senders)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            i = sent % n
            client, sid, template = senders[i]
            client.write(template % (sid, seqs[i], now_ns()))
            seqs[i] += 1
            sent += 1
        delay = start + sent / rate - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))


async def _await_deliveries(run: _Run, senders_done: asyncio.Future[Any], stall: float) -> bool:
    """Wait until every client got what it expects, or nothing arrives for ``stall`` seconds
    after the senders finished; returns whether everything arrived."""
    last = run.received()
    last_progress = time.monotonic()
    while not run.done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.done.wait(), 0.25)
        cur = run.received()
        if cur != last:
            last, last_progress = cur, time.monotonic()
        elif senders_done.done() and time.monotonic() - last_progress > stall:
            return False
    return True


def _percentiles(samples: list[int]) -> dict[str, float | None]:
    """p50/p99/max in milliseconds (nearest rank)."""
    if not samples:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None, "samples": 0}
    s = sorted(samples)

    def rank(p: float) -> float:
        return s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))] / 1e6

    return {"p50_ms": rank(0.50), "p99_ms": rank(0.99), "max_ms": s[-1] / 1e6,
            "samples": len(s)}


def _choose_probes(n: int, wanted: int, must: set[int]) -> set[int]:
    """``must`` plus an even spread of clients up to ``wanted`` in all."""
    chosen = set(must)
    if wanted >= n:
        return set(range(n))
    step = max(1, n // max(1, wanted))
    for i in range(0, n, step):
        if len(chosen) >= wanted:
            break
        chosen.add(i)
    return chosen


class _Meter:
    """Server and generator resource use over the measured phase."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.server0 = procstat.sample(pid) if pid else None
        self.gen0 = time.process_time()
        self.t0 = time.perf_counter()

    def finish(self, deliveries: int) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        gen_cpu = time.process_time() - self.gen0
        out: dict[str, Any] = {
            "wall_s": wall,
            "deliveries_per_s": deliveries / wall if wall > 0 else None,
            "generator_cpu_s": gen_cpu,
            "generator_cpu_pct": 100.0 * gen_cpu / wall if wall > 0 else None,
        }
        # A generator near one full core cannot go faster: the server may be faster than shown.
        out["generator_bound"] = bool(wall > 0 and gen_cpu / wall > 0.9)
        server1 = procstat.sample(self.pid) if self.pid else None
        if self.server0 and server1:
            cpu = server1.cpu_s - self.server0.cpu_s
            out.update(server_cpu_s=cpu, server_cpu_pct=100.0 * cpu / wall,
                       server_cpu_ns_per_delivery=1e9 * cpu / deliveries if deliveries else None,
                       server_rss_bytes=server1.rss_bytes, server_threads=server1.threads)
        return out


def _common(run: _Run, params: Any, workload: str) -> dict[str, Any]:
    return {"workload": workload, "target": asdict(run.target), "params": asdict(params),
            "generator_pid": os.getpid(), "started_at": time.time()}


def _errors(run: _Run) -> list[str]:
    errs = [f"{c.nick}: {e}" for c in run.clients for e in c.errors]
    errs += [f"{c.nick}: {c.close_reason}" for c in run.clients if c.closed]
    return errs[:20]


def _new_run(target: Target) -> _Run:
    # Short nicks (ngircd's default limit is 9) and fresh per run, so a run never collides with
    # the previous run's clients that the server may still be tearing down.
    prefix = "b" + _b36(next(_run_ids) % 1296).rjust(2, "0")
    return _Run(target=target, dialect=DIALECTS[target.dialect](), prefix=prefix)


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


async def _close_all(run: _Run, timeout: float = 10.0) -> None:
    """Close every client and wait until the transports have let go of their sockets."""
    for c in run.clients:
        c.close()
    pending = [c.lost for c in run.clients if c.transport is not None]
    if pending:
        await asyncio.wait(pending, timeout=timeout)


async def run_fanout(target: Target, p: FanoutParams) -> dict[str, Any]:
    """Fan-out: N clients join one room; S send M messages each; everyone counts deliveries."""
    if not 1 <= p.senders <= p.clients:
        raise ValueError("need 1 <= senders <= clients")
    raise_fd_limit(p.clients + 50)
    run = _new_run(target)
    result = _common(run, p, "fanout")
    try:
        t_setup = time.perf_counter()
        clients = await _open(run, p.clients, 64, p.timeout)
        await _join(clients, [p.room] * p.clients, 64, p.timeout)
        result["setup_s"] = time.perf_counter() - t_setup
        echo = run.dialect.echo
        n, s, m = p.clients, p.senders, p.messages
        flows = [Flow() for _ in range(s)]
        refs = [n - 1 if i != n - 1 else 0 for i in range(s)] if n > 1 else [0]
        wanted = p.probes or (n if p.rate else 16)
        probes = _choose_probes(n, wanted, set(refs))
        for i in probes:
            clients[i].probe = ProbeData()
        for sid, ref in enumerate(refs):
            probe = clients[ref].probe
            assert probe is not None
            probe.flows[sid] = flows[sid]
        expected = [s * m - (m if (i < s and not echo) else 0) for i in range(n)]
        run.arm(expected)
        template = run.dialect.message_template(p.room, p.pad)
        meter = _Meter(target.server_pid)
        sending: asyncio.Future[Any]
        if p.rate:
            sending = asyncio.ensure_future(_send_rated(
                [(clients[i], i, template) for i in range(s)], m, p.rate))
        else:
            window = p.window if n > 1 else 0
            sending = asyncio.ensure_future(asyncio.gather(*(
                _send_full(clients[i], i, m, template, p.batch, window, flows[i], p.timeout)
                for i in range(s))))
        complete = await _await_deliveries(run, sending, p.timeout)
        received_all = sum(min(c.count, c.expected) for c in clients)
        deliveries = s * m * (n - 1)  # to recipients other than the sender (see module doc)
        if not complete:
            deliveries = received_all - (s * m if echo else 0)
        result.update(meter.finish(max(deliveries, 0)))
        if not sending.done():
            sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        result.update(_outcome(run, expected, probes))
        result["messages_sent"] = s * m
        result["deliveries"] = deliveries
        return result
    finally:
        await _close_all(run)


def _outcome(run: _Run, expected: Sequence[int], probes: set[int]) -> dict[str, Any]:
    clients = run.clients
    lost = sum(max(0, want - c.count) for c, want in zip(clients, expected, strict=True))
    extra = sum(max(0, c.count - want) for c, want in zip(clients, expected, strict=True))
    lat: list[int] = []
    ooo = 0
    for i in probes:
        probe = clients[i].probe
        if probe is not None:
            lat.extend(probe.latencies)
            ooo += probe.out_of_order
    return {"expected_deliveries_incl_echo": sum(expected),
            "received_incl_echo": sum(c.count for c in clients),
            "lost": lost, "duplicated": extra, "out_of_order": ooo,
            "disconnected": sum(1 for c in clients if c.closed),
            "latency": _percentiles(lat), "probe_clients": len(probes), "errors": _errors(run)}


async def run_rooms(target: Target, p: RoomsParams) -> dict[str, Any]:
    """Many rooms: client i is in room i mod R; every client sends at a fixed rate."""
    raise_fd_limit(p.clients + 50)
    run = _new_run(target)
    result = _common(run, p, "rooms")
    try:
        t_setup = time.perf_counter()
        clients = await _open(run, p.clients, 64, p.timeout)
        names = [f"#r{r}" for r in range(p.rooms)]
        await _join(clients, [names[i % p.rooms] for i in range(p.clients)], 64, p.timeout)
        result["setup_s"] = time.perf_counter() - t_setup
        m = max(1, round(p.rate_per_client * p.duration))
        sizes = [len(range(r, p.clients, p.rooms)) for r in range(p.rooms)]
        echo = run.dialect.echo
        expected = [(sizes[i % p.rooms] - (0 if echo else 1)) * m for i in range(p.clients)]
        probes = _choose_probes(p.clients, p.probes or p.clients, set())
        for i in probes:
            clients[i].probe = ProbeData()
        run.arm(expected)
        templates = [run.dialect.message_template(name, p.pad) for name in names]
        meter = _Meter(target.server_pid)
        sending = asyncio.ensure_future(_send_rated(
            [(c, c.idx, templates[c.idx % p.rooms]) for c in clients], m,
            p.rate_per_client * p.clients))
        complete = await _await_deliveries(run, sending, p.timeout)
        deliveries = sum((sz - 1) * sz * m for sz in sizes)
        if not complete:
            deliveries = sum(min(c.count, w) for c, w in zip(clients, expected, strict=True))
            deliveries -= p.clients * m if echo else 0
        result.update(meter.finish(max(deliveries, 0)))
        if not sending.done():
            sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        result.update(_outcome(run, expected, probes))
        result["messages_sent"] = m * p.clients
        result["deliveries"] = deliveries
        return result
    finally:
        await _close_all(run)


async def run_idle(target: Target, p: IdleParams) -> dict[str, Any]:
    """Idle capacity: open C registered connections, measure server RSS per connection, then
    check that one broadcast (one message to each room, from a client in all rooms) reaches
    every one of them."""
    soft = raise_fd_limit(p.connections + 50)
    if soft < p.connections + 20:
        raise ValueError(f"open-files limit {soft} is too low for {p.connections} connections")
    run = _new_run(target)
    result = _common(run, p, "idle")
    pid = target.server_pid
    base = procstat.sample(pid) if pid else None
    try:
        t0 = time.perf_counter()
        clients = await _open(run, p.connections, 64, p.timeout)
        result["connect_s"] = time.perf_counter() - t0
        registered = procstat.sample(pid) if pid else None
        rooms = max(1, min(p.rooms, p.connections))
        names = [f"#i{r}" for r in range(rooms)]
        t1 = time.perf_counter()
        await _join(clients, [names[i % rooms] for i in range(p.connections)], 64, p.timeout)
        (caster,) = await _open(run, 1, 1, p.timeout, start_idx=p.connections)
        for name in names:
            await caster.join(name, p.timeout)
        result["join_s"] = time.perf_counter() - t1
        joined = procstat.sample(pid) if pid else None
        expected = [1] * p.connections + [rooms if run.dialect.echo else 0]
        run.arm(expected)
        meter = _Meter(pid)
        template = b"".join(run.dialect.message_template(name) % (p.connections, r, now_ns())
                            for r, name in enumerate(names))
        caster.write(template)
        done_fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done_fut.set_result(None)
        complete = await _await_deliveries(run, done_fut, p.timeout)
        result.update(meter.finish(p.connections))
        result.update(_outcome(run, expected, set()))
        reached = sum(1 for c in clients if c.count >= 1)
        result.update(reached=reached, all_reached=complete and reached == p.connections)
        if base and registered and joined:
            n = p.connections
            result.update(
                server_rss_start_bytes=base.rss_bytes,
                server_rss_registered_bytes=registered.rss_bytes,
                server_rss_joined_bytes=joined.rss_bytes,
                rss_per_conn_registered_bytes=(registered.rss_bytes - base.rss_bytes) / n,
                rss_per_conn_joined_bytes=(joined.rss_bytes - base.rss_bytes) / n)
        return result
    finally:
        await _close_all(run)
