"""The asyncio engine: one Protocol per connection on one event loop.

It only moves bytes: every decision comes from the hub, which runs on the loop, so no locks
are needed. Plain TCP connections are read by the engine itself, through one epoll of their
sockets registered with the loop as one reader (``_read_ready``: every ready socket read
once, then one flush), and written straight to their sockets while nothing waits; their
transports only take what the kernel would not. TLS connections go through their transports.

The engine accepts connections itself (so running out of file descriptors backs off quietly,
and TLS handshakes in progress are counted against the connection caps), keeps each
connection's output as a queue of the hub's bytes objects (shared between recipients,
never copied per reader) and feeds the transport a bounded amount at a time. It reports the
unsent bytes to the hub (``backlogged`` over ``sendq``, ``drained`` back at the hub's
``low_water``) and obeys its verdicts: the send-queue policy is the hub's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable

from chat.accounts.service import open_accounts
from chat.config import Listener, ServerConfig
from chat.engines.admission import BUSY, HostCount, quit_reason, setup_failure
from chat.engines.contract import EngineStats, open_fds
from chat.engines.fdlimit import AcceptBackoff
from chat.engines.listeners import bind_listeners
from chat.engines.sockopts import tune
from chat.history.service import open_history
from chat.hub import Hub
from chat.tls import server_context

log = logging.getLogger("chat.engine.asyncio")

#: Bytes a transport's own buffer may hold: the rest waits in the connection's chunk queue.
_FEED = 256 * 1024
#: Bytes one read may take (asyncio's own default for ``data_received`` transports).
_READ = 256 * 1024
_ACCEPT_BATCH = 64  # accepts per readiness event, so one listener cannot starve the loop


class _Connection(asyncio.BufferedProtocol):
    """One connection: its id, transport and the output not yet handed to the transport.

    Plain TCP connections are read by the engine itself (``AsyncioEngine._read_ready``: their
    transport's reading is paused for good and only writes go through it). TLS connections
    are read by their transport, as a buffered protocol: into the engine's one buffer
    (``get_buffer``) rather than a new bytes object per read, since a transport's
    ``recv(256 KiB)`` allocates 256 KiB each time, which glibc serves with ``mmap`` and gives
    back with ``mremap`` and ``munmap`` (three system calls and a page fault per read).
    """

    __slots__ = ("armed", "chunks", "closing", "conn", "dialect", "direct", "dropped", "engine",
                 "eof", "fd", "host", "offset", "paused", "queued", "reading", "sock", "tls",
                 "transport")

    def __init__(self, engine: AsyncioEngine, host: str, spec: Listener,
                 sock: socket.socket | None = None) -> None:
        self.engine = engine
        self.host = host
        self.tls = spec.tls
        #: The plain TCP socket under the transport: written directly while nothing waits in
        #: the transport (see ``AsyncioEngine.flush``). None for TLS.
        self.sock = sock
        self.dialect = spec.dialect  # pinned by the listener, or None: detected
        self.conn = 0
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.offset = 0  # bytes of chunks[0] already handed to the transport
        self.queued = 0  # bytes in chunks not yet handed to the transport
        self.paused = False  # the transport's buffer is over its high-water mark
        self.armed = False  # the hub wants ``drained`` once the unsent bytes reach low_water
        self.closing = False  # close once the queue is out
        self.dropped = False  # aborted: no more output
        #: A plain socket with nothing waiting (no chunks, nothing in the transport, not
        #: paused, not closed): the flush writes to it without asking (see ``flush``).
        self.direct = False
        #: The socket's descriptor when the engine reads it itself (plain TCP), else -1;
        #: ``reading``: registered in its poller now (not paused, no EOF yet); ``eof``: the
        #: peer said it sends no more.
        self.fd = -1
        self.reading = False
        self.eof = False

    def drop(self) -> None:
        """No more output: forget what is queued."""
        self.chunks.clear()
        self.queued = self.offset = 0
        self.dropped = True
        self.direct = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        try:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                tune(sock, self.engine.config.limits)
            # Paused (and resumed at low water) well before _FEED, so a full transport
            # always has a resume_writing coming that feeds it again.
            transport.set_write_buffer_limits(high=_FEED // 2)
            self.engine.opened(self)
            if self.sock is not None and self.engine.polls:
                # The engine reads it (its transport's reader is never added: paused before
                # the transport's own call to add it comes round).
                self.fd = self.sock.fileno()
                transport.pause_reading()
                self.engine.read_from(self)
        except Exception as exc:  # refuse this one connection; the loop carries on
            self.engine.setup_failed(self, exc)

    def get_buffer(self, sizehint: int) -> memoryview:
        # Shared by every connection: the loop runs one callback at a time, and
        # ``buffer_updated`` takes the bytes out before anything else reads.
        return self.engine.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        engine = self.engine
        if not self.conn:
            return
        engine.hub.receive(self.conn, engine.read_buffer[:nbytes].tobytes())
        engine.flush_soon()

    def eof_received(self) -> bool:
        # The peer will send no more: send what is queued for it (within the close grace),
        # then close. TLS transports close at EOF whatever this returns, and log a warning
        # for every connection that returns true: so only plain TCP says "keep it open".
        self.engine.finish(self)
        return not self.tls

    def pause_writing(self) -> None:
        self.paused = True
        self.direct = False

    def resume_writing(self) -> None:
        self.paused = False
        self.engine.pump(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine.lost(self, exc)


class AsyncioEngine:
    """Serves a :class:`ServerConfig` on an asyncio loop until :meth:`stop` is called."""

    name = "asyncio"

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        history = open_history(config)
        accounts = open_accounts(config, history.store if history else None)
        self.hub = Hub(config, history=history, accounts=accounts)
        self.hub.engine_stats = self.stats  # for metrics
        self._conns: dict[int, _Connection] = {}
        self._reasons: dict[int, str] = {}  # why we closed a connection, for its quit message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0  # the loop's thread (ident), once it runs
        self._stopping: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._flush_due = False  # a flush is scheduled for the end of this loop iteration
        self._stop_requested = False  # stop() may come (from a signal) before the loop runs
        self._all_gone: asyncio.Event | None = None  # set when the last connection is lost
        self._listeners: list[tuple[socket.socket, Listener]] = []
        self._resume: dict[int, asyncio.TimerHandle] = {}  # accept paused after an error
        self._tasks: set[asyncio.Task[None]] = set()  # connections being set up (handshakes)
        self._tls_context: ssl.SSLContext | None = None
        self._handshaking = 0  # TLS connections accepted but not yet open in the hub
        self._hosts = HostCount(config.limits)  # sockets held per address, handshakes too
        self._backoff: dict[Listener, AcceptBackoff] = {}
        self.tls_port: int | None = None  # the TLS listener's port once listening
        #: Every listener with the (host, port) it is bound to, once listening.
        self.addresses: list[tuple[Listener, tuple[str, int]]] = []
        #: Connections refused because their set-up failed.
        self.setup_failures = 0
        self.bytes_out = 0  # bytes the hub handed us for sending (metrics read it)
        #: Where every connection's reads land (see ``_Connection``), copied out at once.
        self.read_buffer = memoryview(bytearray(_READ))
        #: The poller of plain TCP connections (see ``_read_ready``), by file descriptor;
        #: None where there is no epoll: then transports read them too.
        self._poller: select.epoll | None = None
        self._by_fd: dict[int, _Connection] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def run(self, on_ready: Callable[[str, int], None] | None = None) -> None:
        """Serve until :meth:`stop`; calls ``on_ready(host, port)`` once listening."""
        asyncio.run(self.serve(on_ready))

    async def serve(self, on_ready: Callable[[str, int], None] | None = None) -> None:
        """The same as :meth:`run`, for callers already on a loop."""
        loop = self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop_requested:
            self._stopping.set()
        config = self.config
        # Built first: a bad certificate fails start-up before anything listens.
        if config.tls_cert:
            self._tls_context = server_context(config.tls_cert, config.tls_key)
        try:
            self._listeners = bind_listeners(config)
            self.addresses = [(spec, sock.getsockname()[:2]) for sock, spec in self._listeners]
            self.tls_port = next((port for spec, (_, port) in self.addresses if spec.tls), None)
            for sock, spec in self._listeners:
                self._backoff[spec] = AcceptBackoff(f"asyncio {spec.port}")
                sock.setblocking(False)
                loop.add_reader(sock.fileno(), self._accept, sock, spec)
            if hasattr(select, "epoll"):
                self._poller = select.epoll()
                loop.add_reader(self._poller.fileno(), self._read_ready)
            self._thread = threading.get_ident()
            self.hub.waker = self._wake
            self.hub.loop = loop
            self.hub.start()
            host, port = self.addresses[0][1]
            if on_ready:
                on_ready(host, port)
            await self._stopping.wait()
        finally:
            for sock, _ in self._listeners:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(sock.fileno())
                sock.close()
            for handle in self._resume.values():
                handle.cancel()
            for task in list(self._tasks):  # handshakes in progress
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._close_all()
            if self._poller is not None:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(self._poller.fileno())
                self._poller.close()
            if self._timer:
                self._timer.cancel()
            self.hub.close()  # after every connection's quit reached it

    def stats(self) -> EngineStats:
        """What the engine holds right now (read from any thread: a racy snapshot)."""
        conns = list(self._conns.values())
        queued = sum(c.queued + (c.transport.get_write_buffer_size() if c.transport else 0)
                     for c in conns)
        return EngineStats(connections=len(conns), handshaking=self._handshaking,
                           queued_bytes=queued, workers=len(self._tasks), fds=open_fds(),
                           bytes_out=self.bytes_out)

    def stop(self) -> None:
        """Ask the engine to shut down; safe from any thread."""
        self._stop_requested = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
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
            self._cut(conn)
        await asyncio.sleep(0)  # let connection_lost callbacks run

    # -- accepting -----------------------------------------------------------------------

    def _accept(self, listener: socket.socket, spec: Listener) -> None:
        """The listener is readable: take what is waiting (a bounded batch)."""
        backoff = self._backoff[spec]
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                delay = backoff.failed(exc)  # out of descriptors: wait, quietly
                if delay:
                    assert self._loop is not None
                    fd = listener.fileno()
                    self._loop.remove_reader(fd)
                    self._resume[fd] = self._loop.call_later(delay, self._resume_accept,
                                                             listener, spec)
                    return
                continue
            backoff.succeeded()
            self._adopt(sock, addr[0] if isinstance(addr, tuple) else "?", spec)

    def _resume_accept(self, listener: socket.socket, spec: Listener) -> None:
        assert self._loop is not None
        self._resume.pop(listener.fileno(), None)
        if not (self._stopping and self._stopping.is_set()):
            self._loop.add_reader(listener.fileno(), self._accept, listener, spec)

    def _adopt(self, sock: socket.socket, host: str, spec: Listener) -> None:
        """Hand an accepted socket to the loop as a transport, TLS after the caps allow it."""
        assert self._loop is not None
        tls = spec.tls
        try:
            sock.setblocking(False)
            if tls:
                # Handshakes hold a socket each: they count towards both caps.
                refusal = self._hosts.refusal(host, len(self._conns) + self._handshaking)
                if refusal is not None:
                    log.debug("TLS connection from %s refused: %s", host, refusal)
                    sock.close()
                    return
            task = self._loop.create_task(self._connect(sock, host, spec))
        except Exception as exc:
            self.setup_failures += 1
            log.warning("refused a connection from %s: set-up failed: %s", host,
                        setup_failure(exc))
            if not tls:
                with contextlib.suppress(OSError):
                    sock.send(BUSY)
            sock.close()
            return
        if tls:
            self._handshaking += 1
            self._hosts.add(host)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, sock: socket.socket, host: str, spec: Listener) -> None:
        assert self._loop is not None
        config = self.config
        tls = spec.tls
        try:
            if tls:
                # connection_made comes once the handshake is done (within its timeout).
                await self._loop.connect_accepted_socket(
                    lambda: _Connection(self, host, spec), sock, ssl=self._tls_context,
                    ssl_handshake_timeout=config.tls_handshake_timeout,
                    ssl_shutdown_timeout=config.shutdown_grace or None)
            else:
                await self._loop.connect_accepted_socket(
                    lambda: _Connection(self, host, spec, sock), sock)
        except (OSError, ssl.SSLError, EOFError) as exc:  # a failed handshake, a reset
            log.debug("connection from %s failed before it opened: %s", host, exc)
        except Exception as exc:
            self.setup_failures += 1
            log.warning("refused a connection from %s: set-up failed: %s", host,
                        type(exc).__name__)
        finally:
            if tls:
                self._handshaking -= 1
                self._hosts.remove(host)

    # -- called by connections -----------------------------------------------------------

    def opened(self, conn: _Connection) -> None:
        """A connection is ready (its TLS handshake, if any, done)."""
        conn.conn = conn_id = self.hub.open(conn.host, conn.dialect, conn.tls)
        self._conns[conn_id] = conn
        self._hosts.add(conn.host)
        self.flush()

    def setup_failed(self, conn: _Connection, exc: Exception) -> None:
        """``connection_made`` failed: refuse that one connection, once, with a log line."""
        self.setup_failures += 1
        log.warning("refused a connection from %s: set-up failed: %s", conn.host,
                    setup_failure(exc))
        conn.dropped = True
        transport = conn.transport
        if transport is None:
            return
        if not conn.tls and not transport.is_closing():
            with contextlib.suppress(Exception):
                transport.write(BUSY)
            transport.close()
        else:
            transport.abort()

    def finish(self, conn: _Connection) -> None:
        """The peer sent EOF: close once its queue is out (or the close grace passes)."""
        if conn.conn and not conn.closing:
            self._close(conn)
            self.pump(conn)

    def lost(self, conn: _Connection, exc: Exception | None) -> None:
        """A connection's socket is closed."""
        self._stop_reading(conn)  # before its transport closes the socket
        conn.drop()
        conn_id = conn.conn
        if not conn_id or self._conns.get(conn_id) is not conn:
            return
        del self._conns[conn_id]
        self._hosts.remove(conn.host)
        if not self._conns and self._all_gone is not None:
            self._all_gone.set()
        reason = self._reasons.pop(conn_id, None) or quit_reason(exc)
        self.hub.closed(conn_id, reason)
        self.flush()

    # -- input (plain TCP) -----------------------------------------------------------------

    @property
    def polls(self) -> bool:
        """Whether plain TCP connections are read by the engine (where epoll exists)."""
        return self._poller is not None

    def read_from(self, conn: _Connection) -> None:
        """Read ``conn`` in ``_read_ready`` (again); its transport only writes."""
        if not conn.reading and not conn.eof and conn.fd >= 0 and self._poller is not None:
            self._poller.register(conn.fd, select.EPOLLIN)
            self._by_fd[conn.fd] = conn
            conn.reading = True

    def _stop_reading(self, conn: _Connection) -> None:
        """Take ``conn`` out of the poller (paused, at EOF, or about to be closed)."""
        if conn.reading and self._poller is not None:
            conn.reading = False
            if self._by_fd.get(conn.fd) is conn:
                del self._by_fd[conn.fd]
            with contextlib.suppress(OSError, ValueError):
                self._poller.unregister(conn.fd)

    def _read_ready(self) -> None:
        """Some plain TCP connections are readable: read each once, then flush once.

        One loop callback for every connection ready, instead of a transport callback each
        and a flush scheduled behind them: the loop's per-event machinery (a handle per
        read, the transport's read path, a second pass through the loop for the flush) cost
        more than the hub's own work for a message; batching is as before, every sender
        ready in this round is heard before anyone is written to.
        """
        assert self._poller is not None
        hub = self.hub
        buffer = self.read_buffer
        by_fd = self._by_fd
        for fd, _ in self._poller.poll(0):
            conn = by_fd.get(fd)
            if conn is None or conn.sock is None:
                continue
            try:
                size = conn.sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                self._reset(conn, exc)
                continue
            if size:
                hub.receive(conn.conn, buffer[:size].tobytes())
            else:  # EOF: the peer sends no more; what is queued for it still goes
                conn.eof = True
                self._stop_reading(conn)
                self.finish(conn)
        self.flush()

    def _reset(self, conn: _Connection, exc: OSError) -> None:
        """The peer reset ``conn`` under a read or write of ours: close it as the transport
        would have, quitting its user with the kernel's reason."""
        self._stop_reading(conn)
        self._reasons.setdefault(conn.conn, quit_reason(exc))
        conn.drop()
        if conn.transport is not None:
            conn.transport.abort()

    # -- output --------------------------------------------------------------------------

    def flush_soon(self) -> None:
        """Flush at the end of this loop iteration: each recipient then gets what every
        sender of this iteration said in one go."""
        if not self._flush_due and self._loop is not None:
            self._flush_due = True
            self._loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_due = False
        self.flush()

    def flush(self) -> None:
        """Move what the hub produced onto the connections' queues and transports."""
        out = self.hub.take_output()
        conns = self._conns
        for conn_id, reason in out.aborts.items():
            self._abort(conn_id, reason)
        touched: dict[_Connection, None] = {}
        high_water = self.hub.high_water
        sent = 0
        shared: list[bytes] | None = None  # the last write list joined, and its bytes
        data = b""
        for conn_id, chunks in out.writes.items():
            conn = conns.get(conn_id)
            if conn is None:
                continue
            if conn.direct:
                # The common case: a plain socket with nothing waiting anywhere, so this
                # flush's bytes go straight to it in one write, skipping the transport (its
                # checks cost as much as our whole loop here). What the kernel does not
                # take, and any error, is the transport's. A room's readers of one variant
                # share one write list, one after another here: joined once for them all.
                if chunks is not shared:
                    shared = chunks
                    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                size = len(data)
                sent += size
                try:
                    took = conn.sock.send(data)  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    took = 0
                except OSError as exc:
                    self._reset(conn, exc)
                    continue
                if took == size:
                    if conn.armed:
                        touched[conn] = None  # pump() tells the hub it has drained
                    continue
                conn.direct = False
                transport = conn.transport
                assert transport is not None
                transport.write(memoryview(data)[took:] if took else data)
                if conn.armed or transport.get_write_buffer_size() > high_water:
                    touched[conn] = None  # pump() tells the hub where it stands
                continue
            if conn.dropped:
                continue
            transport = conn.transport
            if transport is None or transport.is_closing():
                continue  # the peer is gone or we are closing: writing would only log warnings
            size = len(chunks[0]) if len(chunks) == 1 else sum(map(len, chunks))
            sent += size
            if size <= _FEED and not conn.chunks and not conn.paused:
                # Nothing queued here: this flush's bytes go out in one write.
                if chunks is not shared:
                    shared = chunks
                    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                sock = conn.sock
                if sock is not None and not transport.get_write_buffer_size():
                    # Nor in the transport (it drained since): straight to the socket again,
                    # and from now on (``direct``) without asking.
                    try:
                        took = sock.send(data)
                    except (BlockingIOError, InterruptedError):
                        took = 0
                    except OSError as exc:
                        self._reset(conn, exc)
                        continue
                    if took == size:
                        conn.direct = True
                        if conn.armed:
                            touched[conn] = None  # pump() tells the hub it has drained
                        continue
                    transport.write(memoryview(data)[took:] if took else data)
                else:
                    transport.write(data)
                if conn.armed or transport.get_write_buffer_size() > high_water:
                    touched[conn] = None  # pump() tells the hub where it stands
                continue
            conn.chunks.extend(chunks)  # shared with other readers: queued, not copied
            conn.queued += size
            conn.direct = False
            touched[conn] = None
        self.bytes_out += sent
        for conn_id in out.watch:
            conn = conns.get(conn_id)
            if conn is not None and not conn.dropped:
                conn.armed = True
                touched[conn] = None
        for conn_id in out.pause:  # flow control: what it says goes to readers behind
            conn = conns.get(conn_id)
            if conn is not None and conn.transport is not None:
                if conn.fd >= 0:
                    self._stop_reading(conn)
                else:
                    conn.transport.pause_reading()
        for conn_id in out.resume:
            conn = conns.get(conn_id)
            if conn is not None and conn.transport is not None:
                if conn.fd < 0:
                    conn.transport.resume_reading()
                elif not conn.transport.is_closing():
                    self.read_from(conn)
        for conn_id, reason in out.closes.items():
            conn = conns.get(conn_id)
            if conn is not None and conn.transport is not None and not conn.closing:
                self._reasons.setdefault(conn_id, reason)
                self._close(conn)
                touched[conn] = None
        for conn in touched:
            self.pump(conn)
        if out.started:
            self.hub.written(out)  # after the last recipient's write: the fan-out latency
        self._schedule()

    def _close(self, conn: _Connection) -> None:
        conn.closing = True
        # A peer that never reads would keep a closing connection forever.
        assert self._loop is not None and conn.transport is not None
        self._loop.call_later(self.config.shutdown_grace, self._cut, conn)

    def _cut(self, conn: _Connection) -> None:
        """Abort ``conn``'s transport (nothing more is written to its socket)."""
        conn.direct = False
        if conn.transport is not None:
            conn.transport.abort()

    def pump(self, conn: _Connection) -> None:
        """Feed the transport from the queue up to its bound; tell the hub where it stands."""
        transport = conn.transport
        if transport is None or conn.dropped:
            return
        chunks = conn.chunks
        while chunks and not conn.paused and not transport.is_closing():
            room = _FEED - transport.get_write_buffer_size()
            if room <= 0:  # over the high-water mark yet not paused: look again shortly
                assert self._loop is not None
                self._loop.call_later(0.01, self.pump, conn)
                break
            pieces: list[bytes | memoryview] = []
            size = 0
            while chunks and size < room:
                head = chunks[0]
                offset = conn.offset
                take = min(len(head) - offset, room - size)
                if offset == 0 and take == len(head):
                    pieces.append(head)
                    chunks.popleft()
                else:
                    pieces.append(memoryview(head)[offset:offset + take])
                    if offset + take == len(head):
                        chunks.popleft()
                        conn.offset = 0
                    else:
                        conn.offset = offset + take
                size += take
            conn.queued -= size
            transport.write(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        if conn.closing and not chunks and not transport.is_closing():
            conn.direct = False
            transport.close()  # flushes what the transport holds, then closes
        if conn.closing or not conn.conn:
            return
        unsent = conn.queued + transport.get_write_buffer_size()
        if unsent > self.hub.high_water:  # behind (and maybe over the send queue): hub decides
            conn.armed = True
            self.hub.backlogged(conn.conn, unsent)
            self.flush_soon()
        elif conn.armed and unsent <= self.hub.low_water:
            conn.armed = False
            self.hub.drained(conn.conn)
            self.flush_soon()

    def _abort(self, conn_id: int, reason: str) -> None:
        conn = self._conns.get(conn_id)
        if conn is not None and conn.transport is not None:
            self._reasons[conn_id] = reason
            self._stop_reading(conn)
            conn.drop()
            conn.transport.abort()

    def _schedule(self) -> None:
        deadline = self.hub.next_deadline()
        if deadline is None or deadline >= self._timer_at or self._loop is None:
            return
        if self._timer:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._tick)

    def _wake(self) -> None:
        """Work waits in the hub's inbox (posted from any thread): hand it out soon. From
        the loop's own thread (a cluster log read on the loop) without the self-pipe's write
        and the extra wake-up it costs."""
        loop = self._loop
        assert loop is not None
        if threading.get_ident() == self._thread:
            loop.call_soon(self._answers)
        else:
            loop.call_soon_threadsafe(self._answers)

    def _answers(self) -> None:
        """The history thread answered: hand the answers out now."""
        self.hub.tick()
        self.flush()

    def _tick(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        self.hub.tick()
        self.flush()
