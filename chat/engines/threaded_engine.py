"""The threaded engine: a thread per connection, as in the classic socketserver shape.

Each connection's thread blocks in ``recv`` and hands bytes to the hub under one lock (the hub
and core are not thread-safe, and one lock also fixes a single delivery order). Output never
blocks a reader: it is appended to the recipient's bounded outbox under that lock and sent with
non-blocking ``send``; what the kernel will not take yet is finished by one service thread that
waits for writable sockets (and also runs the hub's timers). A client that stops reading fills
only its own outbox and is dropped when it passes the send-queue limit.

TLS connections (their own listener) differ only in the socket calls: the handshake runs in
the connection's thread, and since an SSL object must not be read and written at once, the
thread polls for input and reads without blocking under the outbox lock that sends also take.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import logging
import select
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable

from chat.config import ServerConfig
from chat.engines.sockopts import tune
from chat.hub import Hub, Output
from chat.tls import server_context

log = logging.getLogger("chat.engine.threaded")

_STACK_SIZE = 256 * 1024  # plenty for a recv loop, and keeps thousands of threads cheap
_RECV_SIZE = 65536
_TLS_CHUNK = 16384  # one TLS record: a retried SSL write must repeat exactly the same bytes


class _Outbox:
    """One connection's socket and the bytes waiting to go out on it.

    ``waiting`` means the service thread owns flushing this box until it is empty; it changes
    only under ``lock``, together with ``pending``, so no byte can be left behind unowned.
    """

    __slots__ = ("close_by", "closing", "conn", "dropped", "lock", "pending", "reason", "sock",
                 "waiting")

    def __init__(self, conn: int, sock: socket.socket) -> None:
        self.conn = conn
        self.sock = sock
        self.lock = threading.Lock()
        self.pending = bytearray()
        self.closing = False  # close once pending is sent...
        self.close_by = 0.0  # ...or at this time, whatever is left
        self.reason: str | None = None  # why the server ended it, for the quit message
        self.dropped = False  # cut off (too slow, or the socket failed): no more output
        self.waiting = False

    def flush(self, service: bool = False) -> bool | None:
        """Send what the kernel takes now, never blocking.

        True: all sent. False: the rest waits for the service thread. None: the service thread
        already owns this box (only it may send, so bytes stay in order).
        """
        with self.lock:
            if self.waiting and not service:
                return None
            pending = self.pending
            while pending:
                try:
                    sent = self._send_once(pending)
                except (OSError, ValueError):  # ValueError: an SSLSocket already closed
                    pending.clear()
                    self.dropped = True
                    break
                if sent is None:
                    self.waiting = True
                    return False
                del pending[:sent]
            self.waiting = False
            return True

    def _send_once(self, pending: bytearray) -> int | None:
        """One non-blocking send: bytes taken, or None if the kernel takes nothing now."""
        try:
            return self.sock.send(pending, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None

    def cut(self) -> None:
        """End the connection now; its reader thread sees EOF and reports the close."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class _TlsOutbox(_Outbox):
    """An outbox over an SSLSocket: no send flags, so the socket itself is non-blocking.

    ``lock`` also guards reads (the reader thread takes it around ``recv``). OpenSSL wants a
    write that could not finish retried with the same bytes, so writes go in record-sized
    chunks and ``inflight`` remembers the size of one that must be retried.
    """

    __slots__ = ("inflight",)

    def __init__(self, conn: int, sock: socket.socket) -> None:
        super().__init__(conn, sock)
        self.inflight = 0

    def _send_once(self, pending: bytearray) -> int | None:
        size = self.inflight or min(len(pending), _TLS_CHUNK)
        try:
            sent = self.sock.send(pending[:size])
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError,
                InterruptedError):
            self.inflight = size  # OpenSSL wants the very same bytes again
            return None
        self.inflight = 0
        return sent

    def cut(self) -> None:
        """End the connection now, under the TLS layer.

        ``SSLSocket.shutdown`` would forget the SSL object, and the reader would then take
        ciphertext for input; shutting down the plain socket makes its next read see EOF.
        """
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)


class ThreadedEngine:
    """Serves a :class:`ServerConfig` with a thread per connection until :meth:`stop`."""

    name = "threaded"

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.hub = Hub(config)
        self._lock = threading.Lock()  # guards the hub and every outbox's membership
        self._outboxes: dict[int, _Outbox] = {}
        # Connection threads are bare _thread threads: a threading.Thread object (its Event,
        # Condition, locks and dict) costs ~2.6 KiB per connection on top of the thread itself.
        # Each holds a token here until its function returns; shutdown waits for the set to
        # empty, so no connection thread outlives the engine.
        self._readers: set[int] = set()
        self._readers_gone = threading.Condition()
        self._reader_ids = itertools.count(1)
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._to_watch: list[_Outbox] = []  # handed to the service thread under _lock
        self._woken = False  # a wake-up byte is already on its way
        self._wake_at = 0.0  # when the service thread will look again by itself
        self._tls_listener: socket.socket | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._handshaking: set[socket.socket] = set()  # TLS sockets not yet given to the hub
        self.tls_port: int | None = None  # the TLS listener's port once listening

    # -- lifecycle -----------------------------------------------------------------------

    def run(self, on_ready: Callable[[str, int], None] | None = None) -> None:
        """Serve until :meth:`stop`; calls ``on_ready(host, port)`` once listening."""
        config = self.config
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        if config.tls_cert:
            self._tls_context = server_context(config.tls_cert, config.tls_key)
        listener = socket.create_server((config.host, config.port), backlog=1024,
                                        reuse_port=False, family=family)
        self._listener = listener
        if self._tls_context is not None:
            try:
                self._tls_listener = socket.create_server(
                    (config.host, config.tls_port), backlog=1024, family=family)
            except OSError:
                listener.close()
                raise
            self.tls_port = self._tls_listener.getsockname()[1]
        old_stack = threading.stack_size(_STACK_SIZE)
        service = threading.Thread(target=self._service, name="chat-service", daemon=True)
        service.start()
        acceptors = [threading.Thread(target=self._accept, args=(listener, False),
                                      name="chat-accept", daemon=True)]
        if self._tls_listener is not None:
            acceptors.append(threading.Thread(target=self._accept,
                                              args=(self._tls_listener, True),
                                              name="chat-accept-tls", daemon=True))
        for acceptor in acceptors:
            acceptor.start()
        threading.stack_size(old_stack)
        host, port = listener.getsockname()[:2]
        if on_ready:
            on_ready(host, port)
        try:
            self._stop.wait()
        finally:
            self._shutdown(acceptors, service)

    def stop(self) -> None:
        """Ask the engine to shut down; safe from any thread and from signal handlers."""
        self._stop.set()

    def _shutdown(self, acceptors: list[threading.Thread], service: threading.Thread) -> None:
        for listener in (self._listener, self._tls_listener):
            if listener is not None:
                with contextlib.suppress(OSError):
                    listener.shutdown(socket.SHUT_RDWR)
                listener.close()
        for acceptor in acceptors:
            acceptor.join(2)
        with self._lock:
            for sock in self._handshaking:  # their threads see the error and end
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            self.hub.shutdown()
            touched = self._dispatch(self.hub.take_output())
        self._send(touched)
        self._join_readers(self.config.shutdown_grace)
        with self._lock:
            leftovers = list(self._outboxes.values())
        for box in leftovers:
            box.cut()
        self._join_readers(2)
        self._wake()
        service.join(2)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- threads -------------------------------------------------------------------------

    @property
    def connection_threads(self) -> int:
        """Connection threads still running (bare threads: ``threading`` does not list them)."""
        return len(self._readers)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        """Run ``target(*args)`` in a new connection thread, tracked in ``_readers``."""
        token = next(self._reader_ids)
        with self._readers_gone:
            self._readers.add(token)
        try:
            _thread.start_new_thread(self._reader_main, (token, target, args))
        except RuntimeError:
            self._reader_done(token)
            raise

    def _reader_main(self, token: int, target: Callable[..., None],
                     args: tuple[object, ...]) -> None:
        try:
            target(*args)
        except BaseException as exc:  # what threading.Thread would have reported
            log.exception("connection thread failed: %s", exc)
        finally:
            self._reader_done(token)

    def _reader_done(self, token: int) -> None:
        with self._readers_gone:
            self._readers.discard(token)
            if not self._readers:
                self._readers_gone.notify_all()

    def _join_readers(self, timeout: float) -> bool:
        """Wait until every connection thread has finished (True) or ``timeout`` passes."""
        with self._readers_gone:
            return self._readers_gone.wait_for(lambda: not self._readers, timeout)

    def _accept(self, listener: socket.socket, tls: bool) -> None:
        limits = self.config.limits
        while not self._stop.is_set():
            try:
                sock, addr = listener.accept()
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.05)  # EMFILE and friends: back off instead of spinning
                continue
            tune(sock, limits)
            if tls:
                with self._lock:
                    # Handshakes hold a thread each: bound them by the connection limit too.
                    busy = len(self._outboxes) + len(self._handshaking)
                    full = bool(limits.max_connections) and busy >= limits.max_connections
                    if not full:
                        self._handshaking.add(sock)
                if full:
                    sock.close()
                    continue
                self._spawn(self._read_tls, sock, addr[0])
                continue
            box, touched = self._open(sock, addr[0], _Outbox)
            self._spawn(self._read, box)
            self._send(touched)

    def _open(self, sock: socket.socket, host: str,
              kind: type[_Outbox]) -> tuple[_Outbox, list[_Outbox]]:
        with self._lock:
            conn = self.hub.open(host)
            box = self._outboxes[conn] = kind(conn, sock)
            return box, self._dispatch(self.hub.take_output())

    def _read(self, box: _Outbox) -> None:
        sock, conn = box.sock, box.conn
        reason = "Connection closed"
        # Wait in poll(), not in recv(): a thread blocked in recv() holds a 64 KiB receive
        # buffer, which is most of an idle connection's memory. A busy connection still reads
        # back to back, since poll() is only reached when nothing is waiting.
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        try:
            while True:
                try:
                    data = sock.recv(_RECV_SIZE, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    poller.poll()
                    continue
                except OSError as exc:
                    reason = f"Connection error: {exc.strerror or exc}"
                    break
                if not data:
                    break
                self._received(conn, data)
        finally:
            self._finish(box, reason)

    def _received(self, conn: int, data: bytes) -> None:
        """Bytes from one connection: through the hub under the lock, then out without it."""
        with self._lock:
            self.hub.receive(conn, data)
            touched = self._dispatch(self.hub.take_output())
        self._send(touched)

    def _finish(self, box: _Outbox, reason: str) -> None:
        with self._lock:
            self._outboxes.pop(box.conn, None)
            self.hub.closed(box.conn, box.reason or reason)
            touched = self._dispatch(self.hub.take_output())
        box.sock.close()
        self._send(touched)

    def _read_tls(self, raw: socket.socket, host: str) -> None:
        """Handshake, then the same loop as :meth:`_read` with non-blocking reads."""
        assert self._tls_context is not None
        sock: socket.socket = raw
        try:
            sock = self._tls_context.wrap_socket(raw, server_side=True,
                                                 do_handshake_on_connect=False)
            with self._lock:
                self._handshaking.discard(raw)
                self._handshaking.add(sock)
            if self._stop.is_set():
                raise ConnectionAbortedError("shutting down")
            sock.settimeout(self.config.tls_handshake_timeout)
            sock.do_handshake()
            sock.setblocking(False)
            failed = False
        except (OSError, ValueError) as exc:
            log.debug("TLS handshake with %s failed: %s", host, exc)
            failed = True
        finally:
            with self._lock:
                self._handshaking.discard(raw)
                self._handshaking.discard(sock)
        if failed or self._stop.is_set():
            sock.close()
            return
        box, touched = self._open(sock, host, _TlsOutbox)
        self._send(touched)
        conn = box.conn
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        reason = "Connection closed"
        try:
            while True:
                with box.lock:
                    try:
                        data: bytes | None = sock.recv(_RECV_SIZE)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError,
                            InterruptedError):
                        data = None
                    except (OSError, ValueError) as exc:
                        reason = f"Connection error: {getattr(exc, 'strerror', None) or exc}"
                        break
                if data is None:
                    poller.poll()  # cut() shuts the socket down, which wakes this too
                    continue
                if not data:
                    break
                self._received(conn, data)
        finally:
            self._finish(box, reason)

    def _service(self) -> None:
        """Finish writes the kernel could not take at once, close drained boxes, run timers."""
        selector = self._selector
        selector.register(self._wake_r, selectors.EVENT_READ)
        watched: dict[int, _Outbox] = {}
        while True:
            now = time.monotonic()
            with self._lock:
                new, self._to_watch = self._to_watch, []
                deadline = self.hub.next_deadline()
                if deadline is not None and deadline <= now:
                    self.hub.tick()
                    touched = self._dispatch(self.hub.take_output())
                    deadline = self.hub.next_deadline()
                else:
                    touched = []
            self._send(touched)
            for box in new:
                if box.conn not in watched:
                    with contextlib.suppress(OSError, ValueError, KeyError):
                        selector.register(box.sock, selectors.EVENT_WRITE, box)
                        watched[box.conn] = box
            for box in list(watched.values()):
                if box.dropped or (box.closing and now >= box.close_by):
                    self._unwatch(box, watched)
                    box.cut()
            if self._stop.is_set() and not self._readers:
                return
            wake_at = now + 0.5
            if deadline is not None:
                wake_at = min(wake_at, deadline)
            for box in watched.values():
                if box.closing:
                    wake_at = min(wake_at, box.close_by)
            self._wake_at = wake_at
            self._woken = False
            for key, _ in selector.select(max(0.0, wake_at - time.monotonic())):
                if key.fileobj is self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    continue
                box = key.data
                if box.flush(service=True):
                    self._unwatch(box, watched)
                    if box.closing or box.dropped:
                        box.cut()

    # -- output --------------------------------------------------------------------------

    def _dispatch(self, out: Output) -> list[_Outbox]:
        """Append the hub's output to outboxes (caller holds the lock, so order is global)."""
        touched = []
        sendq = self.config.limits.sendq
        boxes = self._outboxes
        for conn, chunks in out.writes.items():
            box = boxes.get(conn)
            if box is None or box.dropped:
                continue
            with box.lock:
                box.pending += chunks[0] if len(chunks) == 1 else b"".join(chunks)
                over = sendq and len(box.pending) > sendq
                if over:
                    box.pending.clear()
                    box.dropped = True
            if over:
                box.reason = f"Send queue exceeded ({sendq} bytes): reading too slowly"
                log.info("dropping connection %d: %s", conn, box.reason)
                box.cut()
                continue
            touched.append(box)
        for conn, reason in out.closes.items():
            box = boxes.get(conn)
            if box is not None and not box.closing:
                box.closing = True
                box.reason = box.reason or reason
                box.close_by = time.monotonic() + self.config.shutdown_grace
                touched.append(box)
        return touched

    def _send(self, boxes: list[_Outbox]) -> None:
        """Try each box once without blocking; hand leftovers to the service thread."""
        leftovers = []
        for box in boxes:
            done = box.flush()
            if done:
                if box.closing or box.dropped:
                    box.cut()
            elif done is False:
                leftovers.append(box)
        if leftovers:
            with self._lock:
                self._to_watch.extend(leftovers)
            self._wake()
        elif not self._woken:
            deadline = self.hub.next_deadline()
            if deadline is not None and deadline < self._wake_at:
                self._wake()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x", socket.MSG_DONTWAIT)

    def _unwatch(self, box: _Outbox, watched: dict[int, _Outbox]) -> None:
        watched.pop(box.conn, None)
        box.waiting = False
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(box.sock)

