"""The threaded engine's outbox: one thread sends at a time, outside the outbox's lock, so a
thread queueing bytes (under the engine lock) never waits for another thread's ``send``."""

from __future__ import annotations

import threading

from chat.engines.threaded_engine import _Outbox

WAIT = 10.0


class SlowSocket:
    """A socket whose first send waits until the test lets it go; records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.in_send = threading.Event()
        self.go_on = threading.Event()
        self.closed = False
        self.closed_during_send = False
        self._sending = False

    def send(self, data: bytes, flags: int = 0) -> int:
        return self._take([data])

    def sendmsg(self, iov: list[bytes], *_: object) -> int:
        return self._take(iov)

    def _take(self, iov: list[bytes]) -> int:
        self._sending = True
        if not self.in_send.is_set():
            self.in_send.set()
            assert self.go_on.wait(WAIT)
        data = b"".join(bytes(part) for part in iov)
        self.sent.append(data)
        self._sending = False
        return len(data)

    def close(self) -> None:
        self.closed = True
        self.closed_during_send = self._sending


def test_bytes_queued_during_a_send_wait_for_no_one_and_go_out_in_order() -> None:
    sock = SlowSocket()
    box = _Outbox(1, sock, "127.0.0.1")  # type: ignore[arg-type]
    with box.lock:
        box.add([b"first "])
    results: list[bool | None] = []
    sender = threading.Thread(target=lambda: results.append(box.flush()))
    sender.start()
    assert sock.in_send.wait(WAIT)
    # Mid-send: the lock is free, so a dispatch (which holds the engine lock) does not wait.
    assert box.lock.acquire(timeout=WAIT)
    box.add([b"second ", b"third"])
    box.lock.release()
    assert box.flush() is None  # the sending thread sends these too
    sock.go_on.set()
    sender.join(WAIT)
    assert results == [True]
    assert b"".join(sock.sent) == b"first second third"
    assert box.queued == 0 and not box.sending and not box.waiting


def test_a_socket_is_not_closed_under_a_send() -> None:
    """A descriptor closed during a send could be reused by the next accept and get the
    rest of the bytes: the close waits for the send to finish."""
    sock = SlowSocket()
    box = _Outbox(1, sock, "127.0.0.1")  # type: ignore[arg-type]
    with box.lock:
        box.add([b"bye"])
    sender = threading.Thread(target=box.flush)
    sender.start()
    assert sock.in_send.wait(WAIT)
    with box.lock:  # the reader finished meanwhile
        box.finished = box.dropped = True
        box.discard()
    box.close_socket()
    assert not sock.closed
    sock.go_on.set()
    sender.join(WAIT)
    assert sock.closed and not sock.closed_during_send
    assert box.queued == 0 and not box.sending
