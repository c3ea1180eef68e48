"""``chat-server --workers N --cluster redis://...``: N server processes on the same ports.

One Python process serves on one core. The parent started with ``--workers`` serves nobody
itself: it starts N children, each the same ``chat-server`` command as one cluster node named
``<node-name or host>-w<i>`` with ``--reuse-port`` (SO_REUSEPORT on every listener, so the
kernel spreads new connections over the workers; each worker's log lines start with
``[<its node name>]``, JSON lines carry ``"node"``), and supervises them:

- SIGTERM or SIGINT to the parent is passed on to every worker; the parent waits for them
  (their ``--shutdown-grace`` plus :data:`STOP_MARGIN` seconds), kills any still running and
  exits 0 if all stopped cleanly, else 1.
- A worker that exits with an error status within :data:`START_GRACE` seconds of the first
  start (a port in use, an unreachable Redis: a configuration problem every restart would
  repeat) stops the group: the others are stopped and the parent exits 1, the worker's own
  log line saying why.
- A worker that dies otherwise (a crash, ``kill -9``, an exit later on) is reported with its
  exit status and restarted after a backoff (1 s, doubling up to :data:`RESTART_MAX` s, back
  to 1 s once it has stayed up :data:`RESTART_RESET` s); the others serve on meanwhile.
  With the backplane the other nodes quit its users as "node lost", and those users
  reconnect to a live worker.
- Workers ask the kernel for SIGTERM when the parent dies (Linux ``PR_SET_PDEATHSIG``), so a
  ``kill -9`` of the parent leaves no orphan serving on.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

log = logging.getLogger("chat.workers")

#: Seconds after the first start within which a worker's error exit stops the whole group.
START_GRACE = 5.0
#: Restart backoff: first wait, longest wait, and how long a worker must stay up to reset it.
RESTART_FIRST = 1.0
RESTART_MAX = 30.0
RESTART_RESET = 60.0
#: Seconds beyond the workers' shutdown grace to wait for them before killing them.
STOP_MARGIN = 10.0
#: How often the parent looks at its workers and at signals received.
POLL = 0.1

_PR_SET_PDEATHSIG = 1


def parse_workers(text: str) -> int:
    """``N`` (at least 1) or ``auto`` (one per CPU) as a number of workers."""
    if text.strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"--workers must be a number or 'auto', not {text!r}") from None
    if count < 1:
        raise ValueError(f"--workers must be at least 1 ({count})")
    return count


def node_names(base: str, count: int) -> list[str]:
    """The workers' node names: ``<base or host>-w1`` ... ``-wN``."""
    base = base or socket.gethostname()
    return [f"{base}-w{i}" for i in range(1, count + 1)]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Worker:
    """One worker process and its restart state."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: float = RESTART_FIRST
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, preexec_fn=_die_with_parent)
        self.started = time.monotonic()
        self.restart_at = None
        log.info("worker %s started (pid %d)", self.name, self.process.pid)

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)


def describe(status: int) -> str:
    """An exit status as people say it."""
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"


class Supervisor:
    """Starts the workers and keeps them running until a signal (see the module docstring)."""

    def __init__(self, commands: list[tuple[str, list[str]]], shutdown_grace: float) -> None:
        self.workers = [Worker(name, command) for name, command in commands]
        self.stop_wait = shutdown_grace + STOP_MARGIN
        self._signals: list[int] = []
        self._first_start = 0.0

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)  # handled in the loop: never log inside a handler

    def run(self) -> int:
        """Supervise until told to stop; the exit status for the parent."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._first_start = time.monotonic()
            for worker in self.workers:
                worker.start()
            while not self._signals:
                failed = self._look()
                if failed is not None:
                    self.stop(signal.SIGTERM)
                    return failed
                time.sleep(POLL)
            signum = self._signals[0]
            log.info("received %s, stopping %d workers", signal.Signals(signum).name,
                     len(self.workers))
            return self.stop(signum)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _look(self) -> int | None:
        """Restart workers that died and are due; an exit status if the group must stop."""
        now = time.monotonic()
        for worker in self.workers:
            process = worker.process
            if worker.restart_at is not None:
                if now >= worker.restart_at:
                    worker.restarts += 1
                    worker.start()
                continue
            if process is None or (status := process.poll()) is None:
                continue
            if status > 0 and worker.restarts == 0 and now - self._first_start < START_GRACE:
                log.error("worker %s (pid %d) %s while starting: stopping every worker",
                          worker.name, process.pid, describe(status))
                return 1
            if now - worker.started >= RESTART_RESET:
                worker.backoff = RESTART_FIRST
            log.error("worker %s (pid %d) %s unexpectedly: restarting it in %g s",
                      worker.name, process.pid, describe(status), worker.backoff)
            worker.restart_at = now + worker.backoff
            worker.backoff = min(RESTART_MAX, worker.backoff * 2)
        return None

    def stop(self, signum: int) -> int:
        """Pass ``signum`` to every worker, wait, kill the late; 0 if all stopped cleanly."""
        running = [w for w in self.workers if w.process is not None and w.process.poll() is None]
        for worker in self.workers:
            worker.restart_at = None  # a worker waiting for its restart stays down
        for worker in running:
            worker.signal(signum)
        deadline = time.monotonic() + self.stop_wait
        clean = True
        for worker in running:
            process = worker.process
            assert process is not None
            try:
                status = process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker %s (pid %d) still running after %g s: killing it",
                          worker.name, process.pid, self.stop_wait)
                process.kill()
                status = process.wait()
            if status != 0:
                clean = False
                log.error("worker %s (pid %d) %s while stopping", worker.name, process.pid,
                          describe(status))
        log.info("all workers stopped")
        return 0 if clean else 1


def worker_commands(argv: list[str], names: list[str]) -> list[tuple[str, list[str]]]:
    """Each worker's command line: this command again, as one node on shared ports (options
    given later win, so these override the same options in ``argv`` or a config file)."""
    base = [sys.executable, "-m", "chat", *argv]
    return [(name, [*base, "--workers", "1", "--node-name", name, "--reuse-port"])
            for name in names]
