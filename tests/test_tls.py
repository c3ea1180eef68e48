"""TLS on its own port, in both engines: verified handshakes, chat across TLS and plain TCP,
and the same bounds (handshake time, send queue) as plain connections."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme
from support import WAIT, LineClient, say_hello

from chat.tls import client_context, server_context

if TYPE_CHECKING:
    from support import Clients


class TlsLineClient(LineClient):
    """A LineClient whose socket is wrapped in verified TLS before anything is sent."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext,
                 server_hostname: str = "localhost", rcvbuf: int | None = None) -> None:
        super().__init__(host, port, rcvbuf)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)


class Certs:
    """A test CA and a server certificate for localhost / 127.0.0.1, as files."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        leaf = self.ca.issue_cert("localhost", "127.0.0.1")
        self.cert = directory / "server.pem"
        self.key = directory / "server.key"
        self.ca_file = directory / "ca.pem"
        leaf.private_key_pem.write_to_path(str(self.key))
        leaf.cert_chain_pems[0].write_to_path(str(self.cert))
        for pem in leaf.cert_chain_pems[1:]:
            with self.cert.open("ab") as f:
                f.write(pem.bytes())
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def client(self) -> ssl.SSLContext:
        """What the bundled client builds for ``--tls --ca-file ca.pem``."""
        return client_context(str(self.ca_file))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return Certs(tmp_path_factory.mktemp("tls"))


def tls_server(serve_with: Callable[..., Clients], certs: Certs, **changes: object) -> Clients:
    return serve_with(tls_cert=str(certs.cert), tls_key=str(certs.key), **changes)


def tls_bot(made: Clients, certs: Certs, nick: str, *rooms: str,
            rcvbuf: int | None = None) -> TlsLineClient:
    srv = made.server
    assert srv.tls_port
    client = TlsLineClient(srv.host, srv.tls_port, certs.client(), rcvbuf=rcvbuf)
    made.all.append(client)
    return say_hello(client, nick, *rooms)


def test_tls_and_plain_clients_chat_together(serve_with: Callable[..., Clients],
                                             certs: Certs) -> None:
    made = tls_server(serve_with, certs)
    assert made.server.tls_port and made.server.tls_port != made.server.port
    secure = tls_bot(made, certs, "secure", "#lobby")
    plain = made.human("plain")
    secure.request(type="message", to="#lobby", text="over tls")
    assert plain.expect("over tls").endswith("<secure> over tls")
    plain.send("over tcp\r\n")
    assert secure.expect_json(type="message", **{"from": "plain"})["text"] == "over tcp"
    assert secure.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_a_person_on_the_tls_port_is_greeted(serve_with: Callable[..., Clients],
                                            certs: Certs) -> None:
    made = tls_server(serve_with, certs, greet_delay=0.1)  # the greeting waits out the delay
    srv = made.server
    person = TlsLineClient(srv.host, srv.tls_port or 0, certs.client())
    made.all.append(person)
    person.expect("Pick a nickname")
    person.send("tlsperson\r\n")
    person.expect("Welcome to chat.local, tlsperson")


def test_client_refuses_a_certificate_from_an_unknown_ca(serve_with: Callable[..., Clients],
                                                        certs: Certs, tmp_path: Path) -> None:
    made = tls_server(serve_with, certs)
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    srv = made.server
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsLineClient(srv.host, srv.tls_port or 0, client_context(str(tmp_path / "other.pem")))
    with pytest.raises(ssl.SSLCertVerificationError):  # right CA, wrong name
        TlsLineClient(srv.host, srv.tls_port or 0, certs.client(), server_hostname="example.org")
    tls_bot(made, certs, "stillfine")  # the failed handshakes hurt nobody


def test_plaintext_on_the_tls_port_is_closed(serve_with: Callable[..., Clients],
                                           certs: Certs) -> None:
    made = tls_server(serve_with, certs)
    bob = tls_bot(made, certs, "bob", "#lobby")
    srv = made.server
    with socket.create_connection((srv.host, srv.tls_port or 0), timeout=WAIT) as raw:
        raw.sendall(b'{"type":"hello","version":1,"nick":"sneaky"}\n')
        with contextlib.suppress(ConnectionResetError):  # unread input makes it a reset
            while raw.recv(4096):  # whatever the alert, then EOF
                pass
    bob.request(type="ping", token="ok")
    bob.expect_json(type="pong", token="ok")
    assert not any("sneaky" in line for line in bob.received)


def test_a_stalled_handshake_times_out(serve_with: Callable[..., Clients], certs: Certs) -> None:
    made = tls_server(serve_with, certs, tls_handshake_timeout=0.2)
    srv = made.server
    with socket.create_connection((srv.host, srv.tls_port or 0), timeout=WAIT) as raw:
        assert raw.recv(4096) == b""  # closed by the server, having said nothing
    assert not srv.hub.sessions


def test_large_output_arrives_whole_and_in_order(serve_with: Callable[..., Clients],
                                               certs: Certs) -> None:
    made = tls_server(serve_with, certs)
    reader = tls_bot(made, certs, "reader", "#big", rcvbuf=8192)
    sender = made.bot("sender", "#big")
    text = "z" * 1500
    count = 600  # about 1 MB: many partial TLS writes finished by the service thread
    sender.send("".join(json.dumps({"type": "message", "to": "#big", "text": f"{n} {text}"})
                        + "\n" for n in range(count)))
    got = [int(reader.expect_json(type="message")["text"].split()[0]) for _ in range(count)]
    assert got == list(range(count))


def test_tls_reader_that_stalls_is_dropped(serve_with: Callable[..., Clients],
                                           certs: Certs) -> None:
    made = tls_server(serve_with, certs, sendq=64 * 1024)
    tls_bot(made, certs, "stalled", "#flood", rcvbuf=4096)  # never reads again
    watcher = made.bot("watcher", "#flood")
    sender = made.bot("sender", "#flood")
    line = json.dumps({"type": "message", "to": "#flood", "text": "q" * 1900}) + "\n"
    dropped = False
    for _ in range(400):
        sender.send(line * 8)
        for _ in range(8):
            obj = json.loads(watcher.expect(lambda s: '"message"' in s or '"quit"' in s))
            if obj["type"] == "quit":
                assert "Send queue exceeded" in obj["reason"]
                dropped = True
        if dropped:
            break
    assert dropped


def test_context_helpers_validate(certs: Certs, tmp_path: Path) -> None:
    context = server_context(str(certs.cert), str(certs.key))
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    client = client_context()
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    with pytest.raises(OSError):
        server_context(str(tmp_path / "missing.pem"), None)


@pytest.mark.parametrize("engine_name", ["asyncio", "threaded"])
def test_cli_refuses_a_bad_certificate(engine_name: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    proc = subprocess.run(
        [sys.executable, "-m", "chat", "--engine", engine_name, "--port", "0", "--http-port", "0",
         "--data-dir", "none",
         "--tls-port", "0", "--tls-cert", str(bad)],
        capture_output=True, text=True, timeout=WAIT,
    )
    assert proc.returncode == 1
    assert "TLS certificate" in proc.stderr or "cannot read" in proc.stderr


def test_a_close_the_server_chooses_ends_tls_cleanly(serve_with: Callable[..., Clients],
                                                      certs: Certs) -> None:
    """After /quit the server sends TLS close_notify before closing TCP: a client reading to
    the end sees a clean end of stream, not "unexpected EOF" (what ``openssl s_client``
    reported for the threaded engine)."""
    made = tls_server(serve_with, certs)
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    context.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)  # be strict about it
    srv = made.server
    assert srv.tls_port
    person = LineClient(srv.host, srv.tls_port)
    made.all.append(person)
    # suppress_ragged_eofs=False: an EOF without close_notify raises SSLEOFError in recv.
    person.sock = context.wrap_socket(person.sock, server_hostname="localhost",
                                      suppress_ragged_eofs=False)
    person.send("alice\r\n")
    person.expect("Welcome to chat.local, alice!")
    person.send("/quit bye\r\n")
    person.sock.settimeout(WAIT)
    received = person._buf
    while chunk := person.sock.recv(65536):
        received += chunk
    assert received.endswith(b"-- Disconnecting: Goodbye (bye)\r\n")


def test_a_tls_client_that_closes_first_gets_a_clean_close_and_no_warning(
        serve_with: Callable[..., Clients], certs: Certs,
        caplog: pytest.LogCaptureFixture) -> None:
    """A TLS client ending its side (close_notify) is an ordinary goodbye: the server answers
    with its own close_notify (the threaded engine closed without one: "unexpected EOF" for
    a strict client), the user is quit everywhere, and nothing is logged at WARNING (asyncio
    warned on every such close that ``eof_received`` returning true has no effect on TLS)."""
    made = tls_server(serve_with, certs)
    watcher = made.bot("watcher", "#lobby")
    leaving = tls_bot(made, certs, "leaving", "#lobby")
    leaving.sock.settimeout(WAIT)
    with caplog.at_level(logging.WARNING):
        leaving.sock.unwrap()  # close_notify, then the server's: SSLEOFError without it
        watcher.expect_json(type="quit", **{"from": "leaving"})
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
