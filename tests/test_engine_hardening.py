"""Engine hardening, on both engines: per-connection set-up failures, selector ownership,
bursts to fast readers, TLS handshakes under the connection caps, quit reasons.

(Descriptor limits, which need a process of their own, are in tests/test_fdlimit.py.)
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme
from support import WAIT, LineClient, say_hello, wait_until

from chat.config import Limits
from chat.engines.admission import HostCount, quit_reason
from chat.tls import client_context

if TYPE_CHECKING:
    from support import Clients

Serve = Callable[..., "Clients"]



def chat_works(made: Clients, a: str, b: str, text: str) -> None:
    first, second = made.bot(a, "#ok"), made.bot(b, "#ok")
    first.request(type="message", to="#ok", text=text)
    assert second.expect_json(type="message", text=text)["from"] == a


def small_send_buffers(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    """Give the server's sockets a small kernel send buffer: on loopback it would otherwise
    grow to megabytes and absorb the very backlog a test means to build in the engine."""
    module = __import__(f"chat.engines.{engine}_engine", fromlist=["tune"])
    real = module.tune

    def tune(sock: socket.socket, limits: Limits) -> None:
        real(sock, limits)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)

    monkeypatch.setattr(module, "tune", tune)


# -- 4: a connection that cannot be set up is refused alone ----------------------------------

@pytest.mark.parametrize("engine", ["threaded"])  # the only engine with a thread per connection
def test_thread_start_failure_refuses_one_connection(serve_with: Serve, engine: str) -> None:
    made = serve_with()
    srv = made.server.engine
    real = srv._spawn
    failures = [RuntimeError("can't start new thread")]

    def spawn(*args: object) -> None:
        if failures:
            raise failures.pop()
        real(*args)

    srv._spawn = spawn  # type: ignore[method-assign]
    refused = made.raw()
    assert refused.wait_closed() == ["ERROR :Server is busy, try again later"]
    assert srv.setup_failures == 1
    chat_works(made, "alice", "bob", "still accepting")
    wait_until(lambda: len(made.server.hub.sessions) == 2)  # the refused one left no session


def test_socket_tuning_failure_refuses_one_connection(serve_with: Serve, engine: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    made = serve_with()
    module = __import__(f"chat.engines.{engine}_engine", fromlist=["tune"])
    real = module.tune
    failures = [OSError(22, "Invalid argument")]

    def tune(sock: socket.socket, limits: Limits) -> None:
        if failures:
            raise failures.pop()
        real(sock, limits)

    monkeypatch.setattr(module, "tune", tune)
    refused = made.raw()
    with contextlib.suppress(ConnectionResetError):
        assert refused.wait_closed() == ["ERROR :Server is busy, try again later"]
    assert made.server.engine.setup_failures == 1
    chat_works(made, "alice", "bob", "still accepting")


@pytest.mark.parametrize("engine", ["threaded"])
def test_connection_threads_get_the_default_stack(serve_with: Serve, engine: str) -> None:
    made = serve_with()
    srv = made.server.engine
    real = srv._spawn
    seen: list[int] = []

    def spawn(*args: object) -> None:
        seen.append(threading.stack_size())
        real(*args)

    srv._spawn = spawn  # type: ignore[method-assign]
    made.bot("alice")
    assert seen == [0]  # the 256 KiB stack was for the service and accept threads only


# -- 5: a closed socket never shadows the next one in the service thread's selector ---------

def test_half_closed_client_with_a_backlog_does_not_stall_the_next_one(
        serve_with: Serve, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    small_send_buffers(monkeypatch, engine)
    # A short close grace: the half-closed client never reads, so its close waits all of it.
    made = serve_with(sendq=0, message_len=8000, shutdown_grace=0.2, replay_lines=0)
    sender = made.bot("sender", "#big")
    stuck = made.bot("stuck", "#big", rcvbuf=4096)
    text = "h" * 7900
    burst = "".join(json.dumps({"type": "message", "to": "#big", "text": f"{n} {text}"}) + "\n"
                    for n in range(130))  # about 1 MB queued for ``stuck``: 30 times what
    # the kernel buffers hold with the small send buffer, so the engine keeps writing to it
    sender.send(burst)
    sender.expect('"129 ')  # the hub has handed it all out
    srv = made.server.engine
    if engine == "threaded":  # the service thread is finishing its writes
        box = srv._outboxes[max(srv._outboxes)]
        wait_until(lambda: box.registered)
    stuck.sock.shutdown(socket.SHUT_WR)  # half-close with the backlog still queued
    wait_until(lambda: len(made.server.hub.sessions) == 1)
    # The next connection likely gets the same descriptor number; it pauses during a burst.
    late = made.bot("late", "#big", rcvbuf=4096)
    sender.send(burst)
    sender.expect('"129 ')
    got = [int(late.expect_json(type="message")["text"].split()[0]) for _ in range(130)]
    assert got == list(range(130))
    late.request(type="ping", token="after")
    late.expect_json(type="pong", token="after")
    stuck.close()


# -- 6: a legal burst never cuts a reader that reads; one that never reads is cut -----------

def _reader(client: LineClient, want: int, results: dict[str, list[str]], name: str) -> None:
    texts: list[str] = []
    try:
        while len(texts) < want:
            obj = json.loads(client.line())
            if obj["type"] == "message":
                texts.append(obj["text"])
            elif obj["type"] == "quit" or obj["type"] == "disconnect":
                texts.append(f"!{obj['type']} {obj.get('reason')}")
                if obj["type"] == "disconnect":
                    break
    except Exception as exc:  # reported by the test
        texts.append(f"!{type(exc).__name__}")
    results[name] = texts


def test_a_legal_burst_cuts_no_reader(serve_with: Serve, engine: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    small_send_buffers(monkeypatch, engine)
    talkers_n, messages, readers_n = 10, 10, 10
    made = serve_with(sendq=64 * 1024, sendq_grace=8.0, message_len=8000)
    readers = [made.bot(f"r{i}", "#burst") for i in range(readers_n)]
    talkers = [made.bot(f"t{i}", "#burst") for i in range(talkers_n)]
    for talker in talkers:
        talker.request(type="ping", token="x")  # every join is announced before the burst
        talker.expect_json(type="pong", token="x")
    for reader in readers:
        reader.request(type="ping", token="x")
        reader.expect_json(type="pong", token="x")
    text = "b" * 8000
    want = talkers_n * messages
    results: dict[str, list[str]] = {}
    threads = [threading.Thread(target=_reader, args=(r, want, results, f"r{i}"))
               for i, r in enumerate(readers)]
    for thread in threads:
        thread.start()
    bursts = ["".join(json.dumps({"type": "message", "to": "#burst",
                                  "text": f"t{t} {n} {text[:8000 - 12]}"}) + "\n"
                      for n in range(messages)) for t in range(talkers_n)]
    senders = [threading.Thread(target=talker.send, args=(burst,))
               for talker, burst in zip(talkers, bursts, strict=True)]
    for thread in senders:
        thread.start()
    for thread in senders + threads:
        thread.join(WAIT * 2)
    for name, texts in sorted(results.items()):
        assert not [t for t in texts if t.startswith("!")], (name, texts[-3:])
        for t in range(talkers_n):  # everything, in each talker's order
            mine = [int(x.split()[1]) for x in texts if x.startswith(f"t{t} ")]
            assert mine == list(range(messages)), (name, t)
    assert len(results) == readers_n


def test_a_reader_that_never_reads_is_cut_and_others_keep_everything(
        serve_with: Serve, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    small_send_buffers(monkeypatch, engine)
    made = serve_with(sendq=64 * 1024, sendq_grace=0.5, message_len=8000)
    stalled = made.bot("stalled", "#burst", rcvbuf=4096)  # never reads again
    readers = [made.bot(f"r{i}", "#burst") for i in range(3)]
    talker = made.bot("talker", "#burst")
    text = "s" * 7900
    sent = 0
    dropped = False
    deadline = time.monotonic() + WAIT * 2
    while not dropped:
        assert time.monotonic() < deadline, "the stalled reader was never cut"
        talker.send("".join(json.dumps({"type": "message", "to": "#burst",
                                        "text": f"{n} {text}"}) + "\n"
                            for n in range(sent, sent + 8)))
        sent += 8
        talker.expect(f'"{sent - 1} ')  # the talker reads its own echo: it is no stalled one
        for reader in readers:
            while True:
                obj = json.loads(reader.line())
                if obj["type"] == "quit":
                    assert obj["from"] == "stalled"
                    assert obj["reason"] == "Send queue exceeded (65536 bytes): reading too slowly"
                    dropped = True
                elif obj["type"] == "message" and obj["text"].startswith(f"{sent - 1} "):
                    break
    for reader in readers:
        numbers = [int(json.loads(x)["text"].split()[0]) for x in reader.received
                   if '"message"' in x]
        assert numbers == list(range(sent))
    del stalled


# -- 7: TLS handshakes in progress count towards the caps ------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    directory = tmp_path_factory.mktemp("tls-caps")
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert, key, ca_file = directory / "c.pem", directory / "k.pem", directory / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    for pem in leaf.cert_chain_pems[1:]:
        with cert.open("ab") as f:
            f.write(pem.bytes())
    ca.cert_pem.write_to_path(str(ca_file))
    return cert, key, ca_file


def _tls_client(host: str, port: int, ca_file: Path) -> LineClient:
    client = LineClient(host, port)
    client.sock = client_context(str(ca_file)).wrap_socket(client.sock,
                                                           server_hostname="localhost")
    return client


@pytest.mark.parametrize("cap", ["max_per_ip", "max_connections"])
def test_idle_tls_handshakes_are_capped(serve_with: Serve, certs: tuple[Path, Path, Path],
                                        cap: str) -> None:
    cert, key, ca_file = certs
    made = serve_with(tls_cert=str(cert), tls_key=str(key), tls_handshake_timeout=60.0,
                      limit_loopback=True, **{cap: 3})
    srv = made.server
    assert srv.tls_port
    idle = [socket.create_connection((srv.host, srv.tls_port), timeout=WAIT)
            for _ in range(3)]  # never send a ClientHello
    try:
        extra = socket.create_connection((srv.host, srv.tls_port), timeout=WAIT)
        with extra, contextlib.suppress(ConnectionResetError):
            assert extra.recv(4096) == b""  # refused at once, not held
        with pytest.raises((ssl.SSLError, OSError)):
            _tls_client(srv.host, srv.tls_port, ca_file).close()
    finally:
        for sock in idle:
            sock.close()
    # Once the idle handshakes are gone, a real client gets in (after the server notices).
    deadline = time.monotonic() + WAIT
    while True:
        try:
            client = _tls_client(srv.host, srv.tls_port, ca_file)
            made.all.append(client)
            say_hello(client, "legit", "#lobby")
            break
        except (ssl.SSLError, OSError, EOFError, AssertionError):
            assert time.monotonic() < deadline, "no TLS client could connect afterwards"
            time.sleep(0.05)
    client.request(type="ping", token="in")
    client.expect_json(type="pong", token="in")


def test_host_count_follows_the_hub_rules() -> None:
    limits = Limits(max_connections=10, max_per_ip=2)
    count = HostCount(limits)
    count.add("10.0.0.1")
    count.add("10.0.0.1")
    assert count.refusal("10.0.0.1", 2) == "Too many connections from 10.0.0.1"
    assert count.refusal("10.0.0.2", 2) is None
    assert count.refusal("127.0.0.1", 2) is None  # loopback exempt by default
    assert count.refusal("10.0.0.2", 10) == "Server is full, try again later"
    count.remove("10.0.0.1")
    assert count.refusal("10.0.0.1", 2) is None
    count.remove("10.0.0.1")
    count.remove("10.0.0.1")  # never below zero, never left behind
    assert count.hosts == {}


# -- quit reasons never carry internal exception text ----------------------------------------

def test_quit_reasons_are_generic() -> None:
    assert quit_reason(None) == "Connection closed"
    assert quit_reason(ConnectionResetError(104, "Connection reset by peer")) == \
        "Connection error: Connection reset by peer"
    assert quit_reason(ValueError("secret internals at 0x7f")) == "Connection error"
    assert quit_reason(OSError("no strerror")) == "Connection error"


def test_a_reset_peer_quits_with_a_plain_reason(clients: Clients) -> None:
    watcher = clients.bot("watcher", "#lobby")
    leaver = clients.bot("leaver", "#lobby")
    leaver.send(json.dumps({"type": "message", "to": "#lobby", "text": "bye"}) + "\n")
    watcher.expect_json(type="message", text="bye")
    leaver.reset()
    reason = watcher.expect_json(type="quit")["reason"]
    assert reason in ("Connection closed", "Connection error: Connection reset by peer")
