"""A real ``redis-server`` for the cluster tests: started on a free port, persistence off
(``persistent=True``: an append-only file synced on every write, kept across ``stop``/``start``).

Tests never assume a Redis is running; each module that needs one gets its own from the
``redis_server`` fixture (tests/conftest.py), which skips with the install command when the
program is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

INSTALL = "apt-get install redis-server"
START_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """One redis-server process on 127.0.0.1; ``stop``/``start`` and ``pause``/``resume``
    let tests take it away (as a crash or a stall would) and bring it back on the same port."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="chat-redis-"))
    persistent: bool = False

    @property
    def url(self) -> str:
        """The ``--cluster`` URL of this server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart: empty, unless persistent) the server; wait until it answers PING
        (a persistent one answers once it has loaded its file)."""
        program = shutil.which("redis-server")
        if program is None:
            raise FileNotFoundError(f"redis-server is not installed ({INSTALL})")
        self.process = subprocess.Popen(
            [program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *(["--appendonly", "yes", "--appendfsync", "always"] if self.persistent
               else ["--appendonly", "no"]),
             "--dir", self.workdir, "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)  # polling a process that is starting: no event to wait on
        raise TimeoutError("redis-server did not answer PING")

    def stop(self) -> None:
        """Kill the server (its data goes with it, unless persistent)."""
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing (a stall)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def flush(self) -> None:
        """FLUSHALL, so tests sharing one server start from nothing."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
