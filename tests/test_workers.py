"""``chat-server --workers N --cluster redis://...``: real processes on one port.

What holds without the backplane: both workers start as cluster nodes on a real
redis-server, both accept on the same port (SO_REUSEPORT), a worker killed with ``kill -9`` is
reported and restarted, SIGTERM to the parent ends them all within a bound, and nothing is
left running. The option's errors are one line each.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis_server import RedisServer, free_port
from support import WAIT

from chat.cli import parse_args
from chat.workers import node_names, worker_commands

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(),
                                reason="reads /proc to see which worker holds a connection")

#: Longest a worker group may take to stop after SIGTERM (the workers' grace is 0.5 s).
STOP_BOUND = 15.0


class Group:
    """A ``chat-server --workers`` parent, its log lines as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chat", *args], stderr=subprocess.PIPE, text=True,
            cwd=Path(__file__).parent.parent)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def expect(self, pattern: str, timeout: float = WAIT * 3) -> re.Match[str]:
        """The next log line matching ``pattern`` (lines before it are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no log line like {pattern!r}; saw:\n"
                                     + "".join(self.seen)) from None
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@contextmanager
def group(*args: str) -> Iterator[Group]:
    made = Group(*args)
    try:
        yield made
    finally:
        made.stop()


def server_side_owner(port: int, client: socket.socket, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server end of ``client``'s connection to ``port``."""
    client_port = client.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped yet counts: it serves nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def test_two_workers_accept_on_one_port_and_stop_together(redis_server: RedisServer) -> None:
    port = free_port()
    with group("--workers", "2", "--cluster", redis_server.url, "--port", str(port),
               "--http-port", "0", "--shutdown-grace", "0.5", "--node-name", "box") as made:
        pids = {made.expect(r"worker box-w1 started \(pid (\d+)\)").group(1),
                made.expect(r"worker box-w2 started \(pid (\d+)\)").group(1)}
        workers = sorted(int(pid) for pid in pids)
        ready = {made.expect(rf"^\[(box-w\d)\] .* ready: .* port={port}").group(1)
                 for _ in range(2)}
        assert ready == {"box-w1", "box-w2"}  # each worker's lines carry its node name
        owners: set[int] = set()
        clients = []
        try:
            # The kernel spreads connections over the two listeners by a hash of the
            # addresses: a few dozen connections reach both with near certainty.
            for _ in range(64):
                client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
                client.sendall(b"NICK x\r\n")
                clients.append(client)
                deadline = time.monotonic() + WAIT
                while (owner := server_side_owner(port, client, workers)) is None:
                    assert time.monotonic() < deadline, "no worker holds the connection"
                    time.sleep(0.01)  # polling /proc: no event to wait on
                owners.add(owner)
                if owners == set(workers):
                    break
            assert owners == set(workers)
        finally:
            for client in clients:
                client.close()
        started = time.monotonic()
        made.process.send_signal(signal.SIGTERM)
        assert made.process.wait(STOP_BOUND) == 0
        assert time.monotonic() - started < STOP_BOUND
        made.expect("all workers stopped")
        assert all(gone(pid) for pid in workers)


def test_a_killed_worker_is_reported_and_restarted(redis_server: RedisServer) -> None:
    port = free_port()
    with group("--workers", "2", "--cluster", redis_server.url, "--port", str(port),
               "--http-port", "0", "--shutdown-grace", "0.5", "--node-name", "box") as made:
        first = int(made.expect(r"worker box-w1 started \(pid (\d+)\)").group(1))
        second = int(made.expect(r"worker box-w2 started \(pid (\d+)\)").group(1))
        made.expect("ready:")
        made.expect("ready:")
        os.kill(first, signal.SIGKILL)
        made.expect(rf"worker box-w1 \(pid {first}\) killed by SIGKILL unexpectedly: "
                    r"restarting it in 1 s")
        again = int(made.expect(r"worker box-w1 started \(pid (\d+)\)").group(1))
        assert again != first and not gone(second)
        made.expect("ready:")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT):
            pass
        made.process.send_signal(signal.SIGTERM)
        assert made.process.wait(STOP_BOUND) == 0
        assert gone(again) and gone(second)


def test_workers_that_cannot_start_stop_the_group_with_status_1() -> None:
    port = free_port()
    with group("--workers", "2", "--cluster", "redis://127.0.0.1:1/0", "--port", str(port),
               "--http-port", "0") as made:
        assert made.process.wait(STOP_BOUND) == 1
        made.expect(r"cannot use the cluster's Redis: .*127\.0\.0\.1:1/0")
        made.expect(r"worker .*-w\d \(pid \d+\) exited with status 1 while starting: "
                    r"stopping every worker")


@pytest.mark.parametrize(("args", "error"), [
    (["--workers", "2"], "--workers needs --cluster redis://HOST:PORT/DB"),
    (["--workers", "2", "--cluster", "redis://127.0.0.1:6379/0", "--port", "0"],
     "--workers needs fixed ports"),
    (["--workers", "many", "--cluster", "redis://127.0.0.1:6379/0"],
     "--workers must be a number or 'auto', not 'many'"),
    (["--workers", "0", "--cluster", "redis://127.0.0.1:6379/0"],
     "--workers must be at least 1 (0)"),
])
def test_workers_option_errors_are_one_line(args: list[str], error: str) -> None:
    done = subprocess.run([sys.executable, "-m", "chat", *args], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).parent.parent)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"chat-server: error: {error}"), lines


def test_killing_the_parent_leaves_no_worker_behind(redis_server: RedisServer) -> None:
    port = free_port()
    with group("--workers", "2", "--cluster", redis_server.url, "--port", str(port),
               "--http-port", "0", "--shutdown-grace", "0.5", "--node-name", "box") as made:
        workers = [int(made.expect(rf"worker box-w{i} started \(pid (\d+)\)").group(1))
                   for i in (1, 2)]
        made.expect("ready:")
        made.expect("ready:")
        made.process.kill()  # SIGKILL: the parent cannot pass anything on
        made.process.wait(10)
        deadline = time.monotonic() + STOP_BOUND
        while not all(gone(pid) for pid in workers):
            assert time.monotonic() < deadline, "workers outlived their parent"
            time.sleep(0.05)  # the orphans stop on their own (PR_SET_PDEATHSIG): poll /proc


def test_workers_and_cluster_can_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "chat.toml"
    config.write_text('cluster = "redis://127.0.0.1:6379/0"\nworkers = 3\nport = 7000\n'
                      'node-name = "box"\n')
    args = parse_args(["--config", str(config)])
    assert (args.workers, args.cluster, args.node_name) == (3, "redis://127.0.0.1:6379/0",
                                                            "box")
    config.write_text('cluster = "redis://127.0.0.1:6379/0"\nworkers = "auto"\n')
    assert parse_args(["--config", str(config)]).workers == os.cpu_count()  # resolved once
    assert [name for name, _ in worker_commands(["--config", "x"], node_names("box", 2))] == [
        "box-w1", "box-w2"]
