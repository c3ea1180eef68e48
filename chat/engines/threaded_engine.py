"""The threaded engine: a thread per connection, as in the classic socketserver shape.

Each connection's thread waits for input in ``poll`` (not in ``recv``: a thread blocked in
``recv`` pins a receive buffer), reads without blocking and hands the bytes to the hub under
one lock (the hub and core are not thread-safe, and one lock also fixes a single delivery
order). Output never blocks a reader: the hub's bytes are queued on the recipient's outbox
under that lock (the very bytes objects the hub made, shared between recipients) and sent
with non-blocking ``sendmsg``; what the kernel will not take yet is finished by one service
thread that waits for writable sockets (and also runs the hub's timers). The engine reports
byte-level facts to the hub (a queue over ``sendq``: ``backlogged``; back down to
the hub's ``low_water``: ``drained``) and obeys its verdicts: the send-queue policy is the hub's.

TLS connections (their own listener) differ only in the socket calls: the handshake runs in
the connection's thread, and since an SSL object must not be read and written at once, the
thread polls for input and reads without blocking under the outbox lock that sends also take.

Ownership: only the service thread touches its selector, and a socket it has registered is
closed by the service thread after unregistering it (a closed descriptor left in a selector
would shadow the next socket given the same number).
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
from chat.hub import Hub, Output, Work
from chat.tls import server_context

log = logging.getLogger("chat.engine.threaded")

#: Stack size of the service and accept threads only (their loops are shallow); connection
#: threads are started after it is restored, with the platform default.
_STACK_SIZE = 256 * 1024
_RECV_SIZE = 65536
_TLS_CHUNK = 16384  # one TLS record: a retried SSL write must repeat exactly the same bytes
_IOV_MAX = 64  # chunks per sendmsg
_SEND_MAX = 256 * 1024  # bytes offered per sendmsg


class _Outbox:
    """One connection's socket and the bytes waiting to go out on it.

    ``chunks`` holds the hub's bytes objects as they are (shared with other recipients), the
    first one sent up to ``offset``; ``queued`` counts the unsent bytes. ``waiting`` means the
    service thread owns flushing this box until it is empty; it changes only under ``lock``,
    together with the queue, so no byte can be left behind unowned. ``armed``: the hub wants
    to hear (``drained``) once ``queued`` falls to the hub's ``low_water``.
    """

    __slots__ = ("armed", "chunks", "close_by", "closing", "conn", "dropped", "fd", "finished",
                 "host", "lock", "offset", "queued", "read_paused", "reason", "registered", "sock",
                 "waiting")

    def __init__(self, conn: int, sock: socket.socket, host: str) -> None:
        self.conn = conn
        self.sock = sock
        self.host = host
        self.lock = threading.Lock()
        self.chunks: deque[bytes] = deque()
        self.offset = 0
        self.queued = 0
        self.closing = False  # close once the queue is sent...
        self.close_by = 0.0  # ...or at this time, whatever is left
        self.reason: str | None = None  # why the server ended it, for the quit message
        self.dropped = False  # cut off (by the hub, or the socket failed): no more output
        self.waiting = False
        self.armed = False
        self.finished = False  # the reader is done: the socket is closed or about to be
        self.registered = False  # in the service thread's selector (under ``fd``)
        self.fd = -1
        self.read_paused = False  # flow control: the hub wants no input from it for now

    def add(self, chunks: list[bytes]) -> int:
        """Queue the hub's bytes (caller holds ``lock``); returns how many."""
        self.chunks.extend(chunks)
        size = sum(map(len, chunks))
        self.queued += size
        return size

    def discard(self) -> None:
        """Forget everything queued (caller holds ``lock``)."""
        self.chunks.clear()
        self.offset = self.queued = 0

    def flush(self, service: bool = False) -> bool | None:
        """Send what the kernel takes now, never blocking.

        True: all sent. False: the rest waits for the service thread. None: the service thread
        already owns this box (only it may send, so bytes stay in order).
        """
        with self.lock:
            if self.waiting and not service:
                return None
            if self.dropped:  # (bytes queued by a dispatch that raced the drop: never sent)
                self.discard()
                return True
            while self.queued:
                try:
                    sent = self._send_once()
                except (OSError, ValueError):  # ValueError: an SSLSocket already closed
                    self.discard()
                    self.dropped = True
                    break
                if sent is None:
                    self.waiting = True
                    return False
                self._consume(sent)
            self.waiting = False
            return True

    def _consume(self, sent: int) -> None:
        self.queued -= sent
        chunks = self.chunks
        while sent:
            left = len(chunks[0]) - self.offset
            if sent < left:
                self.offset += sent
                return
            chunks.popleft()
            self.offset = 0
            sent -= left

    def _send_once(self) -> int | None:
        """One non-blocking send: bytes taken, or None if the kernel takes nothing now."""
        chunks = self.chunks
        if len(chunks) == 1 and not self.offset:  # the common case: one flush's bytes
            try:
                return self.sock.send(chunks[0], socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return None
        head = memoryview(chunks[0])[self.offset:]
        iov: list[bytes | memoryview] = [head]
        size = len(head)
        for chunk in itertools.islice(chunks, 1, _IOV_MAX):
            if size >= _SEND_MAX:
                break
            iov.append(chunk)
            size += len(chunk)
        try:
            return self.sock.sendmsg(iov, (), socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None

    def peek(self, size: int) -> bytes | memoryview:
        """The first ``size`` unsent bytes (caller holds ``lock``; ``size <= queued``)."""
        head = memoryview(self.chunks[0])[self.offset:]
        if len(head) >= size:
            return head[:size]
        parts: list[bytes | memoryview] = [head]
        have = len(head)
        for chunk in itertools.islice(self.chunks, 1, None):
            parts.append(chunk)
            have += len(chunk)
            if have >= size:
                break
        return b"".join(parts)[:size]

    def report(self, high_water: int, low_water: int) -> int:
        """What the hub must hear now (caller holds ``lock``): the unsent bytes when over
        ``high_water`` (backlogged), -1 when an armed box fell to ``low_water`` (drained),
        else 0."""
        if self.dropped or self.finished:
            return 0
        if self.queued > high_water:
            self.armed = True
            return self.queued
        if self.armed and self.queued <= low_water:
            self.armed = False
            return -1
        return 0

    def cut(self) -> None:
        """End the connection now; its reader thread sees EOF and reports the close."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class _TlsOutbox(_Outbox):
    """An outbox over an SSLSocket: no send flags, so the socket itself is non-blocking.

    ``lock`` also guards reads (the reader thread takes it around ``recv``). OpenSSL wants a
    write that could not finish retried with the same bytes, so writes go in record-sized
    pieces taken from the head of the queue (which only ever grows at its tail), and
    ``inflight`` remembers the size of one that must be retried.
    """

    __slots__ = ("inflight",)

    def __init__(self, conn: int, sock: socket.socket, host: str) -> None:
        super().__init__(conn, sock, host)
        self.inflight = 0

    def _send_once(self) -> int | None:
        size = self.inflight or min(self.queued, _TLS_CHUNK)
        try:
            sent = self.sock.send(self.peek(size))
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError,
                InterruptedError):
            self.inflight = size  # OpenSSL wants the very same bytes again
            return None
        self.inflight = 0
        return sent

    def discard(self) -> None:
        super().discard()
        self.inflight = 0

    def cut(self) -> None:
        """End the connection now, under the TLS layer.

        ``SSLSocket.shutdown`` would forget the SSL object, and the reader would then take
        ciphertext for input; shutting down the plain socket makes its next read see EOF.

        A close the server chose, with everything sent, first says so in TLS (close_notify):
        without it a client cannot tell the end from a truncation ("unexpected EOF"). One
        non-blocking ``SSL_shutdown`` writes the alert; the peer's answer is not waited for.
        """
        if self.closing and not self.dropped and not self.queued:
            with self.lock, contextlib.suppress(OSError, ValueError):
                self.sock.unwrap()  # type: ignore[attr-defined]  # an SSLSocket
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)


class ThreadedEngine:
    """Serves a :class:`ServerConfig` with a thread per connection until :meth:`stop`."""

    name = "threaded"

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        history = open_history(config)
        accounts = open_accounts(config, history.store if history else None)
        self.hub = Hub(config, history=history, accounts=accounts)
        self.hub.engine_stats = self.stats  # for metrics
        self.hub.waker = self._kick  # an answer from the history thread waits
        self.hub.run_now = self._run_now
        self._lock = threading.Lock()  # guards the hub and every outbox's membership
        #: Readers paused by flow control wait here (under ``_lock``) to be resumed.
        self._resumed = threading.Condition(self._lock)
        self._outboxes: dict[int, _Outbox] = {}
        # Connection threads are bare _thread threads: a threading.Thread object (its Event,
        # Condition, locks and dict) costs ~2.6 KiB per connection on top of the thread itself.
        # Each holds a token here until its function returns; shutdown waits for the set to
        # empty, so no connection thread outlives the engine.
        self._readers: set[int] = set()
        self._readers_gone = threading.Condition()
        self._reader_ids = itertools.count(1)
        self._stop = threading.Event()
        self._accepting = threading.Event()  # set once connection threads may be started
        self._listeners: list[tuple[socket.socket, Listener]] = []
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._to_watch: list[_Outbox] = []  # handed to the service thread under _lock
        self._to_close: list[_Outbox] = []  # finished boxes the service thread must close
        self._woken = False  # a wake-up byte is already on its way
        self._wake_at = 0.0  # when the service thread will look again by itself
        self._tls_context: ssl.SSLContext | None = None
        self._handshaking: set[socket.socket] = set()  # TLS sockets not yet given to the hub
        self._hosts = HostCount(config.limits)  # sockets held per address, handshakes too
        self.tls_port: int | None = None  # the TLS listener's port once listening
        #: Connections refused because their set-up failed (no thread could be started...).
        self.setup_failures = 0
        self.bytes_out = 0  # bytes the hub handed us for sending (metrics read it)
        #: Every listener with the (host, port) it is bound to, once listening.
        self.addresses: list[tuple[Listener, tuple[str, int]]] = []

    # -- lifecycle -----------------------------------------------------------------------

    def run(self, on_ready: Callable[[str, int], None] | None = None) -> None:
        """Serve until :meth:`stop`; calls ``on_ready(host, port)`` once listening."""
        config = self.config
        if config.tls_cert:
            self._tls_context = server_context(config.tls_cert, config.tls_key)
        self._listeners = bind_listeners(config)
        self.addresses = [(spec, sock.getsockname()[:2]) for sock, spec in self._listeners]
        self.tls_port = next((port for spec, (_, port) in self.addresses if spec.tls), None)
        # The small stack is for these few long-lived threads only: it is restored before
        # any connection thread can start (acceptors wait for ``_accepting``).
        old_stack = threading.stack_size(_STACK_SIZE)
        try:
            service = threading.Thread(target=self._service, name="chat-service", daemon=True)
            service.start()
            acceptors = [threading.Thread(target=self._accept, args=(sock, spec),
                                          name=f"chat-accept-{spec.port}", daemon=True)
                         for sock, spec in self._listeners]
            for acceptor in acceptors:
                acceptor.start()
        finally:
            threading.stack_size(old_stack)
        try:
            # The hub first: in a cluster it joins (takes its node number, loads the state)
            # before the first connection may be opened.
            self.hub.start()
            self._accepting.set()
            host, port = self.addresses[0][1]
            if on_ready:
                on_ready(host, port)
            while not self._stop.wait(0.5):  # timed: a signal can never leave it stuck
                pass
        finally:
            self._stop.set()  # also when start-up failed: acceptors must end
            self._accepting.set()  # acceptors still waiting for it find their listener closed
            self._shutdown(acceptors, service)

    def stats(self) -> EngineStats:
        """What the engine holds right now (read from any thread: a racy snapshot)."""
        boxes = list(self._outboxes.values())
        return EngineStats(connections=len(boxes), handshaking=len(self._handshaking),
                           queued_bytes=sum(box.queued for box in boxes),
                           workers=len(self._readers), fds=open_fds(),
                           bytes_out=self.bytes_out)

    def stop(self) -> None:
        """Ask the engine to shut down; safe from any thread."""
        self._stop.set()

    def _shutdown(self, acceptors: list[threading.Thread], service: threading.Thread) -> None:
        for listener, _ in self._listeners:
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
        self.hub.close()  # after every connection's quit reached it
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
        except BaseException:
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

    def _accept(self, listener: socket.socket, spec: Listener) -> None:
        self._accepting.wait()
        backoff = AcceptBackoff(f"threaded {spec.port}")
        tls = spec.tls
        while not self._stop.is_set():
            try:
                sock, addr = listener.accept()
            except OSError as exc:
                if self._stop.is_set():
                    return
                # EMFILE and friends: wait (longer while it goes on) and say so now and then.
                self._stop.wait(backoff.failed(exc))
                continue
            backoff.succeeded()
            host = addr[0] if isinstance(addr, tuple) else "?"
            try:
                self._admit(sock, host, spec)
            except Exception as exc:  # one connection's set-up: refuse it, keep accepting
                self.setup_failures += 1
                log.warning("refused a connection from %s: set-up failed: %s", host,
                            setup_failure(exc))
                if not tls:  # nothing can be said in plain text on the TLS port
                    with contextlib.suppress(OSError):
                        sock.send(BUSY, socket.MSG_DONTWAIT)
                sock.close()

    def _admit(self, sock: socket.socket, host: str, spec: Listener) -> None:
        """Start serving one accepted socket; raises if it cannot be served."""
        tune(sock, self.config.limits)
        if spec.tls:
            with self._lock:
                # Handshakes hold a socket and a thread each: they count towards both caps.
                busy = len(self._outboxes) + len(self._handshaking)
                refusal = self._hosts.refusal(host, busy)
                if refusal is None:
                    self._handshaking.add(sock)
                    self._hosts.add(host)
            if refusal is not None:
                log.debug("TLS connection from %s refused: %s", host, refusal)
                sock.close()
                return
            try:
                self._spawn(self._read_tls, sock, host, spec.dialect)
            except BaseException:
                with self._lock:
                    self._handshaking.discard(sock)
                    self._hosts.remove(host)
                raise
            return
        box, touched = self._open(sock, host, _Outbox, spec.dialect)
        try:
            self._spawn(self._read, box)
        except BaseException:
            with self._lock:  # never served: the hub forgets it, nobody heard of it
                self._outboxes.pop(box.conn, None)
                self._hosts.remove(host)
                self.hub.closed(box.conn, "Server is busy")
                touched = self._dispatch(self.hub.take_output())
            self._send([b for b in touched if b is not box])
            raise
        self._send(touched)

    def _open(self, sock: socket.socket, host: str, kind: type[_Outbox],
              dialect: str | None) -> tuple[_Outbox, list[_Outbox]]:
        with self._lock:
            conn = self.hub.open(host, dialect, kind is _TlsOutbox)
            box = self._outboxes[conn] = kind(conn, sock, host)
            self._hosts.add(host)
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
                    reason = quit_reason(exc)
                    break
                if not data:
                    break
                self._received(conn, data)
                if box.read_paused:
                    self._wait_resumed(box)
        finally:
            self._finish(box, reason)

    def _wait_resumed(self, box: _Outbox) -> None:
        """Flow control: read no more from this connection until the hub resumes it (or it
        is closing, or the engine stops: then reading goes on to find the end)."""
        with self._lock:
            while box.read_paused and not (box.dropped or box.closing or self._stop.is_set()):
                self._resumed.wait(0.5)

    def _received(self, conn: int, data: bytes) -> None:
        """Bytes from one connection: through the hub under the lock, then out without it."""
        with self._lock:
            self.hub.receive(conn, data)
            out = self.hub.take_output()
            touched = self._dispatch(out)
        self._send(touched)
        self.hub.written(out)  # after the last recipient's write: the fan-out latency

    def _finish(self, box: _Outbox, reason: str) -> None:
        with self._lock:
            self._outboxes.pop(box.conn, None)
            self._hosts.remove(box.host)
            self.hub.closed(box.conn, box.reason or reason)
            touched = self._dispatch(self.hub.take_output())
        with box.lock:
            box.finished = True
            box.dropped = True
            box.discard()
            registered = box.registered
        if registered:  # the service thread unregisters it first, then closes it
            with self._lock:
                self._to_close.append(box)
            self._wake()
        else:
            box.sock.close()
        self._send(touched)

    def _read_tls(self, raw: socket.socket, host: str, dialect: str | None) -> None:
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
                self._hosts.remove(host)
        if failed or self._stop.is_set():
            sock.close()
            return
        box, touched = self._open(sock, host, _TlsOutbox, dialect)
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
                        reason = quit_reason(exc)
                        break
                if data is None:
                    poller.poll()  # cut() shuts the socket down, which wakes this too
                    continue
                if not data:
                    # The peer's close_notify: answer with ours, as the asyncio engine's
                    # transport does, so that a strict client sees a clean end. Nothing goes
                    # out after it: the box is dropped first (an unwrapped socket would send
                    # plain text).
                    with box.lock:
                        box.discard()
                        box.dropped = True
                        with contextlib.suppress(OSError, ValueError):
                            sock.unwrap()  # type: ignore[attr-defined]  # an SSLSocket
                    break
                self._received(conn, data)
                if box.read_paused:
                    self._wait_resumed(box)
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
                closing, self._to_close = self._to_close, []
                deadline = self.hub.next_deadline()
                if deadline is not None and deadline <= now:
                    self.hub.tick()
                    touched = self._dispatch(self.hub.take_output())
                    deadline = self.hub.next_deadline()
                else:
                    touched = []
            for box in closing:
                self._unwatch(box, watched)
            self._send(touched)
            for box in new:
                if box.conn not in watched:
                    self._watch(box, watched)
            for box in list(watched.values()):
                if box.dropped or (box.closing and now >= box.close_by):
                    self._unwatch(box, watched)
                    box.cut()
            if self._stop.is_set() and not self._readers:
                with self._lock:  # every reader has finished: this list is complete
                    closing, self._to_close = self._to_close, []
                for box in closing:
                    self._unwatch(box, watched)
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
                if box.conn not in watched:
                    continue  # unwatched earlier in this round
                done = box.flush(service=True)
                if done:
                    self._unwatch(box, watched)
                    if box.closing or box.dropped:
                        box.cut()
                if self._due(box):
                    self._send(self._report([box]))

    # -- output --------------------------------------------------------------------------

    def _dispatch(self, out: Output) -> list[_Outbox]:
        """Queue the hub's output on outboxes (caller holds the lock, so order is global)."""
        touched = []
        boxes = self._outboxes
        for conn, reason in out.aborts.items():
            box = boxes.get(conn)
            if box is None:
                continue
            box.reason = box.reason or reason
            with box.lock:
                box.discard()
                box.dropped = True
            box.cut()
        sent = 0
        for conn, chunks in out.writes.items():
            box = boxes.get(conn)
            if box is None or box.dropped:
                continue
            with box.lock:
                sent += box.add(chunks)
            touched.append(box)
        self.bytes_out += sent
        for conn in out.watch:
            box = boxes.get(conn)
            if box is not None and not box.dropped:
                with box.lock:
                    box.armed = True
                touched.append(box)
        for conn, reason in out.closes.items():
            box = boxes.get(conn)
            if box is not None and not box.closing:
                box.closing = True
                box.reason = box.reason or reason
                box.close_by = time.monotonic() + self.config.shutdown_grace
                touched.append(box)
        for conn in out.pause:  # flow control: its reader thread waits after its next read
            box = boxes.get(conn)
            if box is not None:
                box.read_paused = True
        for conn in out.resume:
            box = boxes.get(conn)
            if box is not None:
                box.read_paused = False
        if out.resume or out.closes or out.aborts:
            self._resumed.notify_all()
        return touched

    def _due(self, box: _Outbox) -> bool:
        """Whether the hub may have to hear about this box's queue (a lock-free first look)."""
        return box.queued > self.hub.high_water or (
            box.armed and box.queued <= self.hub.low_water)

    def _report(self, boxes: list[_Outbox]) -> list[_Outbox]:
        """Tell the hub which queues are backlogged or drained; return the boxes its answer
        touched. Decided and told under the engine lock, so the hub hears them in order."""
        with self._lock:
            for box in boxes:
                if self._outboxes.get(box.conn) is not box:
                    continue
                with box.lock:
                    queued = box.report(self.hub.high_water, self.hub.low_water)
                if queued > 0:
                    self.hub.backlogged(box.conn, queued)
                elif queued < 0:
                    self.hub.drained(box.conn)
            return self._dispatch(self.hub.take_output())

    def _send(self, boxes: list[_Outbox]) -> None:
        """Try each box once without blocking; hand leftovers to the service thread."""
        while boxes:
            leftovers = []
            due = []
            for box in dict.fromkeys(boxes):
                done = box.flush()
                if done:
                    if box.closing or box.dropped:
                        box.cut()
                elif done is False:
                    leftovers.append(box)
                if self._due(box):
                    due.append(box)
            if leftovers:
                with self._lock:
                    self._to_watch.extend(leftovers)
                self._wake()
            boxes = self._report(due) if due else []
        if not self._woken:
            deadline = self.hub.next_deadline()
            if deadline is not None and deadline < self._wake_at:
                self._wake()

    def _run_now(self, work: Work) -> None:
        """Run work another thread hands back (a cluster's entries) on that thread, under
        the lock, and send what it says; unless work handed back earlier still waits for the
        service thread: then behind it, in order."""
        with self._lock:
            if not self.hub.collect_now(work):
                return
            touched = self._dispatch(self.hub.take_output())
        self._send(touched)

    def _kick(self) -> None:
        """Wake the service thread from any thread (it then runs ``hub.tick``)."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x", socket.MSG_DONTWAIT)

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x", socket.MSG_DONTWAIT)

    def _watch(self, box: _Outbox, watched: dict[int, _Outbox]) -> None:
        """Register a box whose writes wait for the kernel (service thread only)."""
        with box.lock:
            if box.finished or box.dropped:
                return  # its socket is closed (its number may be someone else's already)
            try:
                fd = box.sock.fileno()
                self._selector.register(fd, selectors.EVENT_WRITE, box)
            except (KeyError, ValueError, OSError) as exc:
                failed: Exception | None = exc
            else:
                failed = None
                box.fd = fd
                box.registered = True
                watched[box.conn] = box
        if failed is not None:  # never leave a box waiting on nobody: cut it, loudly
            log.error("connection %d: cannot watch its socket (%s); dropping it", box.conn,
                      failed)
            with box.lock:
                box.discard()
                box.dropped = True
                box.waiting = False
            box.cut()

    def _unwatch(self, box: _Outbox, watched: dict[int, _Outbox]) -> None:
        """Stop watching a box (service thread only); close its socket if its reader is done."""
        watched.pop(box.conn, None)
        with box.lock:
            box.waiting = False
            if box.registered:
                box.registered = False
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(box.fd)
            close = box.finished
        if close:
            box.sock.close()
