"""The asyncio engine: one Protocol per connection on one event loop.

It only moves bytes: every decision comes from the hub, which runs on the loop, so no locks
are needed. Writes go through the transport's buffer; a connection whose buffer grows past the
send-queue limit is aborted so it can never hold up anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from chat.config import ServerConfig
from chat.engines.sockopts import tune
from chat.hub import Hub
from chat.tls import server_context

log = logging.getLogger("chat.engine.asyncio")


class _Connection(asyncio.Protocol):
    """Hands socket events to the engine; holds nothing but its id and transport."""

    __slots__ = ("conn", "engine", "transport")

    def __init__(self, engine: AsyncioEngine) -> None:
        self.engine = engine
        self.conn = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            tune(sock, self.engine.config.limits)
        peer = transport.get_extra_info("peername")
        self.conn = self.engine.opened(self, peer[0] if peer else "?")

    def data_received(self, data: bytes) -> None:
        engine = self.engine
        engine.hub.receive(self.conn, data)
        if not engine._flush_due:
            # One flush after every read of this loop iteration: each recipient then gets one
            # write carrying what all senders said, not one write per sender.
            engine._flush_due = True
            engine._call_soon(engine._flush_soon)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine.lost(self.conn, exc)


class AsyncioEngine:
    """Serves a :class:`ServerConfig` on an asyncio loop until :meth:`stop` is called."""

    name = "asyncio"

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.hub = Hub(config)
        self._conns: dict[int, _Connection] = {}
        self._reasons: dict[int, str] = {}  # why we closed a connection, for its quit message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._flush_due = False  # a flush is scheduled for the end of this loop iteration
        self._stop_requested = False  # stop() may come (from a signal) before the loop runs
        self._all_gone: asyncio.Event | None = None  # set when the last connection is lost
        self._call_soon: Callable[..., object] = lambda cb: cb()
        self.tls_port: int | None = None  # the TLS listener's port once listening

    # -- lifecycle -----------------------------------------------------------------------

    def run(self, on_ready: Callable[[str, int], None] | None = None) -> None:
        """Serve until :meth:`stop`; calls ``on_ready(host, port)`` once listening."""
        asyncio.run(self.serve(on_ready))

    async def serve(self, on_ready: Callable[[str, int], None] | None = None) -> None:
        """The same as :meth:`run`, for callers already on a loop."""
        self._loop = asyncio.get_running_loop()
        self._call_soon = self._loop.call_soon
        self._stopping = asyncio.Event()
        if self._stop_requested:
            self._stopping.set()
        config = self.config
        # Built first: a bad certificate fails start-up before anything listens.
        context = server_context(config.tls_cert, config.tls_key) if config.tls_cert else None
        servers = [await self._loop.create_server(
            lambda: _Connection(self), config.host, config.port, backlog=1024,
            reuse_address=True,
        )]
        try:
            if context is not None:
                # Connections appear (connection_made) only once their handshake is done.
                servers.append(await self._loop.create_server(
                    lambda: _Connection(self), config.host, config.tls_port, backlog=1024,
                    reuse_address=True, ssl=context,
                    ssl_handshake_timeout=config.tls_handshake_timeout,
                    ssl_shutdown_timeout=config.shutdown_grace or None,
                ))
                self.tls_port = servers[1].sockets[0].getsockname()[1]
            host, port = servers[0].sockets[0].getsockname()[:2]
            if on_ready:
                on_ready(host, port)
            await self._stopping.wait()
        finally:
            for server in servers:
                server.close()
            await self._close_all()
            for server in servers:
                await server.wait_closed()
            if self._timer:
                self._timer.cancel()

    def stop(self) -> None:
        """Ask the engine to shut down; safe from any thread and from signal handlers."""
        self._stop_requested = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)

    async def _close_all(self) -> None:
        """Tell everyone, give their sockets a moment to flush, then cut whatever is left."""
        self._all_gone = asyncio.Event()
        self.hub.shutdown()
        self.flush()
        if self._conns:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), self.config.shutdown_grace)
        for conn in list(self._conns.values()):
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)  # let connection_lost callbacks run

    # -- called by connections -----------------------------------------------------------

    def opened(self, conn: _Connection, host: str) -> int:
        """A connection was accepted."""
        conn_id = self.hub.open(host)
        self._conns[conn_id] = conn
        self.flush()
        return conn_id

    def lost(self, conn_id: int, exc: Exception | None) -> None:
        """A connection's socket is closed."""
        self._conns.pop(conn_id, None)
        if not self._conns and self._all_gone is not None:
            self._all_gone.set()
        reason = self._reasons.pop(conn_id, None)
        if reason is None:
            reason = f"Connection error: {exc}" if exc else "Connection closed"
        self.hub.closed(conn_id, reason)
        self.flush()

    def _flush_soon(self) -> None:
        self._flush_due = False
        self.flush()

    def flush(self) -> None:
        """Move what the hub produced onto the transports, one write per connection."""
        out = self.hub.take_output()
        sendq = self.config.limits.sendq
        conns = self._conns
        for conn_id, chunks in out.writes.items():
            conn = conns.get(conn_id)
            if conn is None or conn.transport is None:
                continue
            transport = conn.transport
            if transport.is_closing():
                continue  # the peer is gone or we are closing: writing would only log warnings
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            if sendq and transport.get_write_buffer_size() > sendq:
                self._abort(conn_id, f"Send queue exceeded ({sendq} bytes): reading too slowly")
        for conn_id, reason in out.closes.items():
            conn = conns.get(conn_id)
            if conn is not None and conn.transport is not None:
                self._reasons.setdefault(conn_id, reason)
                conn.transport.close()  # flushes what is queued, then closes
                # A peer that never reads would keep a closing transport forever.
                assert self._loop is not None
                self._loop.call_later(self.config.shutdown_grace, conn.transport.abort)
        self._schedule()

    def _abort(self, conn_id: int, reason: str) -> None:
        conn = self._conns.get(conn_id)
        if conn is not None and conn.transport is not None:
            self._reasons[conn_id] = reason
            log.info("dropping connection %d: %s", conn_id, reason)
            conn.transport.abort()

    def _schedule(self) -> None:
        deadline = self.hub.next_deadline()
        if deadline is None or deadline >= self._timer_at or self._loop is None:
            return
        if self._timer:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._tick)

    def _tick(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        self.hub.tick()
        self.flush()
