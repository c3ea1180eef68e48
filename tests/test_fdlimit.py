"""Descriptor limits: the server fits ``max_connections`` to ``RLIMIT_NOFILE`` and tells the
extra clients it is full, instead of leaving them hanging or logging a traceback per accept."""

from __future__ import annotations

import re
import resource
import socket
import subprocess
import sys
import threading
import time

import pytest
from support import WAIT, LineClient

from chat.engines.fdlimit import RESERVE, AcceptBackoff, fit_connections

INF = resource.RLIM_INFINITY


def test_fit_connections() -> None:
    # The soft limit is raised to the hard one; the connection limit fits what is left.
    assert fit_connections(10000, 1024, 4096, INF) == (4096, 4096 - RESERVE)
    assert fit_connections(100, 1024, 4096, INF) == (4096, 100)
    assert fit_connections(0, 1024, 1024, INF) == (1024, 1024 - RESERVE)  # 0: unlimited
    assert fit_connections(500, 1024, INF, INF) == (1024, 500)  # no hard limit: keep soft
    assert fit_connections(5000, INF, INF, INF) == (INF, 5000)
    assert fit_connections(10, 8, 8, INF) == (8, 1)  # absurdly low: still one connection


def test_accept_backoff_waits_longer_and_logs_rarely(caplog: pytest.LogCaptureFixture) -> None:
    backoff = AcceptBackoff("test", floor=0.05, ceiling=1.0, quiet=60.0)
    emfile = OSError(24, "Too many open files")
    delays = [backoff.failed(emfile) for _ in range(1000)]
    assert delays[0] == 0.05 and delays[-1] == 1.0 and delays == sorted(delays)
    assert len([r for r in caplog.records if "accept failed" in r.message]) == 1
    assert not any(r.exc_info for r in caplog.records)
    backoff.succeeded()
    assert backoff.failed(emfile) == 0.05


def _low_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))


@pytest.mark.parametrize("engine", ["asyncio", "threaded"])
def test_a_low_descriptor_limit_is_fitted_and_extra_clients_are_told(engine: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chat", "--engine", engine, "--port", "0", "--http-port", "0",
         "--data-dir", "none",
         "--shutdown-grace", "0.5", "--greet-delay", "30"],
        stderr=subprocess.PIPE, text=True, preexec_fn=_low_limit,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    port = 0
    deadline = time.monotonic() + WAIT
    while not port and time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if found := re.search(r"ready: .*port=(\d+)", line):
            port = int(found.group(1))
    clients: list[socket.socket] = []
    try:
        assert port, f"server never became ready: {lines}"
        fitted = [line for line in lines if "max-connections lowered" in line]
        assert fitted and f"to {128 - RESERVE}" in fitted[0], lines  # (a) one line says so
        for _ in range(128 - RESERVE):  # every slot taken by an idle client
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=WAIT))
        for _ in range(5):  # (b) the next ones are told, not left hanging
            extra = LineClient("127.0.0.1", port)
            try:
                assert extra.line() == "ERROR :Server is full, try again later"
            finally:
                extra.close()
        for sock in clients:
            sock.close()
        clients.clear()
        probe_deadline = time.monotonic() + WAIT  # (c) once they are gone, it serves again
        while True:
            probe = LineClient("127.0.0.1", port)
            probe.send("prober\r\n")
            first = probe.line()
            if first.startswith("ERROR"):
                probe.close()
                assert time.monotonic() < probe_deadline, "the server never had room again"
                time.sleep(0.05)
                continue
            probe.expect("Welcome to chat.local, prober")
            probe.close()
            break
    finally:
        for sock in clients:
            sock.close()
        proc.terminate()
        _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0
    assert "Traceback" not in err, err[-2000:]  # (d) no traceback, let alone one per accept


_UNFITTED = """
import logging, resource, sys, time
from chat.config import Limits, ServerConfig
from chat.engines import serve_in_background
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
config = ServerConfig(port=0, greet_delay=30, shutdown_grace=0.5,
                      limits=Limits(max_connections=0))
with serve_in_background(sys.argv[1], config) as srv:
    print(srv.port, flush=True)
    sys.stdin.read()
"""


@pytest.mark.parametrize("engine", ["asyncio", "threaded"])
def test_running_out_of_descriptors_backs_off_quietly(engine: str) -> None:
    """Without the fitting (an engine run directly), EMFILE on accept is one log line now and
    then, never a traceback per attempt, and the server serves again once descriptors free."""
    proc = subprocess.Popen([sys.executable, "-c", _UNFITTED, engine], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    stderr = proc.stderr
    err: list[str] = []
    ran_out = threading.Event()

    def read_stderr() -> None:
        for line in stderr:
            err.append(line)
            if "accept failed" in line:
                ran_out.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    clients: list[socket.socket] = []
    try:
        port = int(proc.stdout.readline())
        for _ in range(80):  # more than the server has descriptors for: some wait in backlog
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=WAIT))
        waiting = LineClient("127.0.0.1", port)  # beyond the limit: it waits in the backlog
        clients.append(waiting.sock)
        assert ran_out.wait(WAIT), "".join(err)[-2000:]
        for sock in clients[:40]:
            sock.close()
        waiting.send("waiter\r\n")  # accepted once others left
        waiting.expect("Welcome to chat.local, waiter")
    finally:
        for sock in clients:
            sock.close()
        proc.stdin.close()
        proc.wait(WAIT)
        reader.join(WAIT)
    text = "".join(err)
    assert "Traceback" not in text, text[-2000:]
    assert text.count("accept failed") <= 3, text[-2000:]  # one line now and then
