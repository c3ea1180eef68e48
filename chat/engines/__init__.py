"""The two engines, selectable by name, and a helper that runs one in the background.

Both keep one contract (:class:`Engine` in ``contract.py``): take a :class:`ServerConfig`,
serve its listeners, ``run(on_ready)`` (blocking), ``stop()`` (from any thread or a signal
handler), ``stats()``; each owns a :class:`chat.hub.Hub` and differs from the other only in
how it waits for sockets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chat.config import ServerConfig
from chat.engines.asyncio_engine import AsyncioEngine
from chat.engines.contract import Engine, EngineStats
from chat.engines.threaded_engine import ThreadedEngine
from chat.hub import Hub

__all__ = ["ENGINES", "BackgroundServer", "Engine", "EngineStats", "make_engine",
           "serve_in_background"]

ENGINES: dict[str, type[AsyncioEngine] | type[ThreadedEngine]] = {
    "asyncio": AsyncioEngine,
    "threaded": ThreadedEngine,
}


def make_engine(name: str, config: ServerConfig) -> Engine:
    """An engine by name (``asyncio`` or ``threaded``)."""
    try:
        return ENGINES[name](config)
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}") from None


@dataclass
class BackgroundServer:
    """A server running in a thread of this process (tests, benchmarks, demos)."""

    engine: Engine
    host: str
    port: int

    @property
    def hub(self) -> Hub:
        """The hub, for tests that look at server state (take the engine's care: read only)."""
        return self.engine.hub

    @property
    def tls_port(self) -> int | None:
        """The TLS listener's port, when the config has a certificate."""
        return self.engine.tls_port


@contextmanager
def serve_in_background(engine: str, config: ServerConfig | None = None,
                        timeout: float = 10.0) -> Iterator[BackgroundServer]:
    """Run an engine in a background thread until the block exits, then stop and join it."""
    server = make_engine(engine, config or ServerConfig(port=0))
    ready = threading.Event()
    address: list[tuple[str, int]] = []
    failure: list[BaseException] = []

    def on_ready(host: str, port: int) -> None:
        address.append((host, port))
        ready.set()

    def main() -> None:
        try:
            server.run(on_ready)
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=main, name=f"chat-{engine}-server", daemon=True)
    thread.start()
    if not ready.wait(timeout) or failure:
        server.stop()
        thread.join(timeout)
        raise RuntimeError(f"{engine} server did not start") from (failure[0] if failure else None)
    try:
        yield BackgroundServer(server, *address[0])
    finally:
        server.stop()
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"{engine} server did not stop within {timeout} s")
