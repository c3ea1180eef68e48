"""Connect/disconnect churn leaves nothing behind: fds, threads, tasks and sessions return to
their baseline on both engines (the soak script does the same at scale)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import threading
import time

from chat.config import Limits, ServerConfig
from chat.engines import BackgroundServer, serve_in_background

CYCLES = 1200
LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"


def measure(srv: BackgroundServer) -> dict[str, int]:
    engine = srv.engine
    out = {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(),
           "sessions": len(srv.hub.sessions), "users": len(srv.hub.core.users)}
    if engine.name == "asyncio":
        async def tasks() -> int:
            return len(asyncio.all_tasks()) - 1

        out["tasks"] = asyncio.run_coroutine_threadsafe(tasks(), engine._loop).result(5)
        out["conns"] = len(engine._conns)
    else:
        out["conns"] = len(engine._outboxes)
        out["readers"] = engine.connection_threads
    return out


def back_to(srv: BackgroundServer, baseline: dict[str, int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        now = measure(srv)
        if all(now[k] <= v for k, v in baseline.items()):
            return
        assert time.monotonic() < deadline, f"resources never came back: {baseline} -> {now}"
        time.sleep(0.02)


def churn(host: str, port: int, cycles: int, seed: int) -> None:
    """Many short connections, most of them ending badly, up to 40 open at once."""
    rng = random.Random(seed)
    open_: list[socket.socket] = []
    for n in range(cycles):
        sock = socket.create_connection((host, port), timeout=10)
        kind = n % 6
        if kind == 1:
            sock.sendall(b'{"type":"hello","version":1,"nick":"c%d"}\n{"type":"join","room":'
                         b'"#churn"}\n' % n)
        elif kind == 2:
            sock.sendall(b"half a line with no end")
        elif kind == 3:  # half-open: we stop sending and never read
            sock.sendall(b'{"type":"hello","version":1,"nick":"h%d"}\n' % n)
            sock.shutdown(socket.SHUT_WR)
        elif kind == 4:
            sock.sendall(rng.randbytes(300))
        if rng.random() < 0.5:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
        open_.append(sock)
        if len(open_) >= 40:
            for s in open_:
                s.close()
            open_.clear()
    for s in open_:
        s.close()


def test_churn_returns_to_baseline(engine: str) -> None:
    limits = Limits(rate_per_second=0, register_timeout=0.5)
    config = ServerConfig(port=0, limits=limits, shutdown_grace=0.5)
    with serve_in_background(engine, config) as srv:
        watcher = socket.create_connection((srv.host, srv.port), timeout=10)
        watcher.sendall(b'{"type":"hello","version":1,"nick":"watcher"}\n')
        assert b"welcome" in watcher.recv(65536)
        baseline = measure(srv)
        churn(srv.host, srv.port, CYCLES, seed=1)
        back_to(srv, baseline)
        # A client that connects and then says nothing (half-open from the start) is closed
        # by the registration timeout, so it cannot pin resources either.
        silent = [socket.create_connection((srv.host, srv.port), timeout=10) for _ in range(20)]
        for sock in silent:
            while sock.recv(65536):
                pass
            sock.close()
        back_to(srv, baseline)
        # The server is still its normal self.
        watcher.sendall(b'{"type":"ping","token":"end"}\n')
        buf = b""
        while b'"pong"' not in buf:
            chunk = watcher.recv(65536)
            assert chunk
            buf += chunk
        pong = next(json.loads(x) for x in buf.splitlines() if b'"pong"' in x)
        assert pong["token"] == "end"
        watcher.close()
