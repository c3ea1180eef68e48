#!/usr/bin/env python3
"""Soak test: well-behaved clients chat while others misbehave; then check the invariants.

    python scripts/soak.py --engine threaded --seconds 60

The server runs in this process (so its file descriptors, threads and asyncio tasks can be
counted); the clients run on an asyncio loop in the main thread:

- well-behaved: structured-mode bots in every soak room, each sending numbered messages well
  inside the rate limit and answering pings;
- flooders: send as fast as they can until the server drops them for flooding, then return;
- stallers: join the rooms and never read, until dropped for a full send queue (or they reset);
- garbage senders: random bytes, invalid UTF-8, telnet sequences, endless lines, in any dialect;
- mid-line: register, send half a line, then close or reset;
- reconnect storms: connect and hang up (FIN or RST) as fast as they can.

Afterwards: every well-behaved member of a room must have received every well-behaved message
of that room, in the same order as every other member; the server must still answer; and once
every client is gone, the server's fds, threads and tasks must be back to their baseline.
Prints a summary and exits 0 if every invariant holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import socket
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.config import Limits, ServerConfig
from chat.engines import BackgroundServer, serve_in_background
from chat.wire.framing import LineReader, LineTooLong
from chat.wire.jsonlines import JsonLineError, decode_json_line, encode_json_line

ROOM_COUNT = 2
SEND_EVERY = 0.1  # seconds between a well-behaved client's messages (10/s, under the limit)


@dataclass
class Stats:
    """What the clients saw; the invariants are checked on it."""

    sent: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # room -> texts
    got: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # nick -> room -> texts
    good_disconnects: list[str] = field(default_factory=list)
    quit_reasons: Counter[str] = field(default_factory=Counter)
    connections: Counter[str] = field(default_factory=Counter)


def _obj(line: bytes | LineTooLong) -> dict[str, Any] | None:
    if isinstance(line, LineTooLong):
        return None
    with contextlib.suppress(JsonLineError):
        return decode_json_line(line)
    return None


async def _connect(host: str, port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return sock


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def _req(**obj: Any) -> bytes:
    return encode_json_line(obj)


class Good:
    """A well-behaved client: joins every room, sends numbered lines, reads everything."""

    def __init__(self, nick: str, rooms: list[str], stats: Stats) -> None:
        self.nick, self.rooms, self.stats = nick, rooms, stats
        self.got: dict[str, list[str]] = {room: [] for room in rooms}
        stats.got[nick] = self.got
        self.sock: socket.socket | None = None
        self.joined = asyncio.Event()
        self.closed = False

    async def start(self, host: str, port: int) -> None:
        self.sock = await _connect(host, port)
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.sock, _req(type="hello", version=1, nick=self.nick) + b"".join(
            _req(type="join", room=room) for room in self.rooms))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.sock is not None
        loop = asyncio.get_running_loop()
        framing = LineReader(1 << 20)
        members = set()
        while True:
            try:
                data = await loop.sock_recv(self.sock, 65536)
            except OSError as exc:
                data = b""
                if not self.closed:
                    self.stats.good_disconnects.append(f"{self.nick}: {exc}")
            if not data:
                if not self.closed:
                    self.stats.good_disconnects.append(f"{self.nick}: closed by the server")
                return
            for line in framing.feed(data):
                obj = _obj(line)
                if obj is None:
                    continue
                kind = obj.get("type")
                if kind == "message" and obj.get("room") in self.got:
                    text = obj.get("text", "")
                    if text.startswith("good"):
                        self.got[obj["room"]].append(text)
                elif kind == "members":
                    members.add(obj.get("room"))
                    if len(members) == len(self.rooms):
                        self.joined.set()
                elif kind == "ping":
                    await loop.sock_sendall(self.sock, _req(type="pong", token=obj.get("token")))
                elif kind == "quit" and self.nick == "good0":
                    reason = str(obj.get("reason", ""))
                    self.stats.quit_reasons[reason.split(" (")[0].split(":")[0]] += 1
                elif kind == "disconnect":
                    self.stats.good_disconnects.append(f"{self.nick}: {obj.get('reason')}")

    async def talk(self, stop: asyncio.Event) -> None:
        assert self.sock is not None
        loop = asyncio.get_running_loop()
        seq = 0
        while not stop.is_set():
            room = self.rooms[seq % len(self.rooms)]
            text = f"{self.nick}:{seq}"
            self.stats.sent[room].append(text)
            await loop.sock_sendall(self.sock, _req(type="message", to=room, text=text))
            seq += 1
            await asyncio.sleep(SEND_EVERY)

    async def close(self) -> None:
        self.closed = True
        if self.sock is not None:
            self.sock.close()
        with contextlib.suppress(asyncio.CancelledError):
            self.reader.cancel()
            await self.reader


async def _drain(sock: socket.socket, limit: float) -> None:
    """Read and discard until EOF or ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(limit):
            while await loop.sock_recv(sock, 65536):
                pass


async def flooder(n: int, host: str, port: int, rooms: list[str], stop: asyncio.Event,
                  stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    round_ = 0
    while not stop.is_set():
        round_ += 1
        stats.connections["flood"] += 1
        sock = await _connect(host, port)
        try:
            nick = f"flood{n}x{round_}"
            await loop.sock_sendall(sock, _req(type="hello", version=1, nick=nick)
                                    + _req(type="join", room=rooms[n % len(rooms)]))
            reader = asyncio.create_task(_drain(sock, 30))
            line = _req(type="message", to=rooms[n % len(rooms)], text="F" * 400)
            with contextlib.suppress(OSError):
                while not stop.is_set() and not reader.done():
                    await loop.sock_sendall(sock, line * 20)
                    await asyncio.sleep(0.005)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        finally:
            sock.close()


async def staller(n: int, host: str, port: int, rooms: list[str], stop: asyncio.Event,
                  stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(n)
    round_ = 0
    while not stop.is_set():
        round_ += 1
        stats.connections["stall"] += 1
        sock = await _connect(host, port, rcvbuf=4096)
        try:
            await loop.sock_sendall(sock, _req(type="hello", version=1, nick=f"stall{n}x{round_}")
                                    + b"".join(_req(type="join", room=r) for r in rooms))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(rng.uniform(2, 10)):  # long enough to be dropped
                    await stop.wait()
        finally:
            _reset(sock)


async def garbage(n: int, host: str, port: int, stop: asyncio.Event, stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(1000 + n)
    prefixes = [b"", b"{", b"NICK g\r\nUSER g 0 * :g\r\n", b"garbage\r\n", b"\xff\xfd\x01"]
    while not stop.is_set():
        stats.connections["garbage"] += 1
        sock = await _connect(host, port)
        try:
            reader = asyncio.create_task(_drain(sock, 2))
            with contextlib.suppress(OSError):
                await loop.sock_sendall(sock, rng.choice(prefixes))
                for _ in range(rng.randint(1, 20)):
                    choice = rng.random()
                    if choice < 0.4:
                        chunk = rng.randbytes(rng.randint(1, 4000))
                    elif choice < 0.7:
                        chunk = bytes(rng.choice(b"\r\n\x00\xff\xfb{}\":[]\x1b\x80\xc3ab /#")
                                      for _ in range(rng.randint(1, 2000)))
                    else:
                        chunk = b"x" * rng.randint(1, 20000)  # long lines
                    await loop.sock_sendall(sock, chunk)
                    await asyncio.sleep(0.01)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        finally:
            _reset(sock) if rng.random() < 0.5 else sock.close()


async def midline(n: int, host: str, port: int, rooms: list[str], stop: asyncio.Event,
                  stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(2000 + n)
    round_ = 0
    while not stop.is_set():
        round_ += 1
        stats.connections["midline"] += 1
        sock = await _connect(host, port)
        try:
            with contextlib.suppress(OSError):
                await loop.sock_sendall(
                    sock, _req(type="hello", version=1, nick=f"mid{n}x{round_}")
                    + _req(type="join", room=rng.choice(rooms))
                    + b'{"type":"message","to":"' + rooms[0].encode() + b'","text":"half')
                await asyncio.sleep(rng.uniform(0, 0.05))
        finally:
            _reset(sock) if rng.random() < 0.5 else sock.close()


async def storm(n: int, host: str, port: int, stop: asyncio.Event, stats: Stats) -> None:
    rng = random.Random(3000 + n)
    while not stop.is_set():
        stats.connections["storm"] += 1
        try:
            sock = await _connect(host, port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        if rng.random() < 0.5:
            _reset(sock)
        else:
            sock.close()
        await asyncio.sleep(0.002)


# -- server-side measurements ----------------------------------------------------------------

def resources(srv: BackgroundServer) -> dict[str, int]:
    """Open fds and threads of this process, plus the engine's own bookkeeping."""
    engine = srv.engine
    out = {
        "fds": len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1,
        "threads": threading.active_count(),
        "sessions": len(srv.hub.sessions),
        "users": len(srv.hub.core.users),
    }
    loop = getattr(engine, "_loop", None)
    if loop is not None and engine.name == "asyncio":
        async def count() -> int:
            return len(asyncio.all_tasks()) - 1

        out["tasks"] = asyncio.run_coroutine_threadsafe(count(), loop).result(5)
    return out


async def settle(srv: BackgroundServer, baseline: dict[str, int], timeout: float) -> dict[str, int]:
    """Wait (polling) until resources are back to ``baseline`` or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        now = resources(srv)
        if all(now.get(k, 0) <= v for k, v in baseline.items()) or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.05)


async def responsive(host: str, port: int) -> float:
    """Seconds a fresh client needs to register and get a pong back."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(_req(type="hello", version=1, nick="probe") + _req(type="ping", token="p"))
        async with asyncio.timeout(10):
            while True:
                obj = _obj((await reader.readline()).rstrip(b"\n"))
                if obj and obj.get("type") == "pong":
                    return time.monotonic() - start
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# -- the run ---------------------------------------------------------------------------------

async def run(args: argparse.Namespace, srv: BackgroundServer) -> tuple[bool, list[str]]:
    host, port = srv.host, srv.port
    args.baseline = resources(srv)  # now that this loop's own fds exist
    rooms = [f"#soak{i}" for i in range(ROOM_COUNT)]
    stats = Stats()
    goods = [Good(f"good{i}", rooms, stats) for i in range(args.good)]
    for good in goods:
        await good.start(host, port)
    async with asyncio.timeout(30):
        for good in goods:
            await good.joined.wait()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(good.talk(stop)) for good in goods]
    for n in range(args.misbehavers):
        tasks += [
            asyncio.create_task(flooder(n, host, port, rooms, stop, stats)),
            asyncio.create_task(staller(n, host, port, rooms, stop, stats)),
            asyncio.create_task(garbage(n, host, port, stop, stats)),
            asyncio.create_task(midline(n, host, port, rooms, stop, stats)),
            asyncio.create_task(storm(n, host, port, stop, stats)),
        ]
    await asyncio.sleep(args.seconds)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = ["".join(traceback.format_exception(r)[-3:]) for r in results
              if isinstance(r, BaseException)]
    # Every good message must arrive: wait for the tail to drain.
    expected = {room: len(texts) for room, texts in stats.sent.items()}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not stats.good_disconnects and any(
            len(g.got[room]) < expected.get(room, 0) for g in goods for room in rooms):
        await asyncio.sleep(0.05)
    probe = await responsive(host, port)
    for good in goods:
        await good.close()
    after = await settle(srv, args.baseline, timeout=20)

    lost = reordered = received = 0
    for room in rooms:
        want = stats.sent[room]
        reference = goods[0].got[room]
        for good in goods:
            got = good.got[room]
            received += len(got)
            lost += len(set(want) - set(got))
            if got != reference or sorted(got) != sorted(want):
                reordered += sum(a != b for a, b in zip(got, reference, strict=False))
            per_sender: dict[str, list[int]] = defaultdict(list)
            for text in got:
                nick, _, seq = text.partition(":")
                per_sender[nick].append(int(seq))
            reordered += sum(seqs != sorted(seqs) for seqs in per_sender.values())
    sent = sum(len(v) for v in stats.sent.values())
    leaks = {k: (args.baseline[k], after.get(k)) for k in args.baseline
             if after.get(k, 0) > args.baseline[k]}
    ok = not (lost or reordered or stats.good_disconnects or leaks or errors)
    lines = [
        f"soak: engine={srv.engine.name} seconds={args.seconds:g} well-behaved={args.good} "
        f"rooms={ROOM_COUNT} misbehavers={args.misbehavers} of each kind",
        f"  messages: sent {sent}, deliveries expected {sent * args.good}, received {received}, "
        f"lost {lost}, reordered {reordered}",
        "  misbehaving connections: " + ", ".join(
            f"{k} {v}" for k, v in sorted(stats.connections.items())),
        "  quit reasons seen by the room: " + (", ".join(
            f"{k!r} {v}" for k, v in stats.quit_reasons.most_common(6)) or "none"),
        f"  well-behaved clients disconnected: {len(stats.good_disconnects)} "
        + "; ".join(stats.good_disconnects[:3]),
        f"  server responsive afterwards: yes ({probe * 1000:.0f} ms to register and ping)",
        "  resources baseline -> after: " + ", ".join(
            f"{k} {args.baseline[k]} -> {after.get(k)}" for k in args.baseline),
    ]
    if errors:
        lines.append("  client task errors: " + "; ".join(errors[:3]))
    lines.append(f"  result: {'PASS' if ok else 'FAIL'}"
                 + (f" (leaked: {leaks})" if leaks else ""))
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["asyncio", "threaded"], default="asyncio")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--good", type=int, default=8, help="well-behaved clients")
    parser.add_argument("--misbehavers", type=int, default=2, help="clients of each bad kind")
    args = parser.parse_args(argv)
    # A reset peer makes asyncio warn for each write that raced with it; expected here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    limits = Limits(rate_per_second=20, rate_burst=20, recvq_lines=50, sendq=64 * 1024,
                    max_line=4096, register_timeout=5, ping_interval=2, ping_timeout=5)
    config = ServerConfig(port=0, limits=limits, shutdown_grace=0.5, greet_delay=0.2)
    with serve_in_background(args.engine, config) as srv:
        ok, lines = asyncio.run(run(args, srv))
    print("\n".join(lines), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
