"""The one contract every engine keeps, so the CLI, tests and (later) metrics need not know
which engine runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chat.config import Listener
from chat.hub import Hub


@dataclass(frozen=True, slots=True)
class EngineStats:
    """A snapshot of what an engine holds; read from any thread (racy, never wrong in kind)."""

    connections: int  # open and known to the hub
    handshaking: int  # accepted, TLS handshake not finished
    queued_bytes: int  # unsent bytes the engine holds for all connections
    workers: int  # connection threads (threaded) or set-up tasks (asyncio)
    fds: int  # open file descriptors of the process (-1 where that cannot be read)
    #: Bytes the hub handed the engine for sending, since start (counted where each write is
    #: measured anyway, so metrics need no second pass over every recipient's chunks).
    bytes_out: int = 0


class Engine(Protocol):
    """An engine: serve the config's listeners, move bytes, obey the hub.

    After writing the output of a flush that follows a read (``Output.started`` set), an
    engine calls ``hub.written(out)``: the fan-out latency metric ends there.
    """

    name: str
    hub: Hub
    #: Every listener with the (host, port) it is bound to, once listening.
    addresses: list[tuple[Listener, tuple[str, int]]]
    tls_port: int | None

    def run(self, on_ready: Callable[[str, int], None] | None = None) -> None:
        """Serve until ``stop``; ``on_ready(host, port)`` once the first listener listens."""

    def stop(self) -> None:
        """Ask the engine to shut down; safe from any thread and from a signal handler."""

    def stats(self) -> EngineStats:
        """What it holds right now."""


def open_fds() -> int:
    """Open file descriptors of this process, or -1 where /proc is not there."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1
