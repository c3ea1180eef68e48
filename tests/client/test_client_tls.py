"""The client over TLS: verifies the server's certificate, chats with plain-port users."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from client_harness import Clients
from support import TEST_LIMITS

from chat.config import ServerConfig
from chat.engines import serve_in_background
from chat.tls import client_context
from client.model import ConnState


@pytest.fixture
async def tls_clients(engine: str, tmp_path: Path) -> AsyncIterator[tuple[Clients, Any, Path]]:
    """A TLS-enabled server of each engine, its certificate's CA file, and a client factory."""
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert, key, ca_file = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
    ca.cert_pem.write_to_path(str(ca_file))
    config = ServerConfig(port=0, tls_cert=str(cert), tls_key=str(key), tls_port=0,
                          limits=TEST_LIMITS, shutdown_grace=0.5)
    with serve_in_background(engine, config) as srv:
        async with contextlib.AsyncExitStack() as stack:
            made = Clients(stack)
            made.host, made.port = srv.host, srv.port
            yield made, srv, ca_file


async def test_tls_client_chats_with_a_plain_client(tls_clients) -> None:
    made, srv, ca_file = tls_clients
    secure = await made.start("secure", port=srv.tls_port, ssl=client_context(str(ca_file)))
    plain = await made.start("plain")
    await secure.wait_joined("#lobby", "secure", "plain")
    secure.type("over tls\r")
    await plain.wait_line("#lobby", "over tls")
    plain.type("over tcp\r")
    await secure.wait_line("#lobby", "over tcp")


async def test_untrusted_certificate_is_refused_with_a_clear_message(tls_clients) -> None:
    made, srv, _ = tls_clients
    wary = await made.start("wary", port=srv.tls_port, ssl=client_context(), wait=False)
    await wary.wait(lambda: "certificate" in wary.text() and "not trusted" in wary.text(),
                    "a certificate error")
    assert wary.app.connection.attempts == 1  # no pointless retries
    assert "--ca-file" in wary.text()


async def test_untrusted_with_a_ca_file_given_names_that_file_not_the_option(
        tls_clients, tmp_path: Path) -> None:
    made, srv, _ = tls_clients
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))  # a CA that did not sign the server's
    wary = await made.start("wary", port=srv.tls_port, ssl=client_context(str(other_ca)),
                            ca_file=str(other_ca), wait=False)
    await wary.wait(lambda: "not signed by the CA in" in wary.text(), "the advice")
    assert str(other_ca) in wary.text()
    assert "--ca-file" not in wary.text()  # they gave one: the option is no answer
    assert wary.app.connection.attempts == 1


async def test_a_plain_client_on_the_tls_port_is_told_to_use_tls(tls_clients) -> None:
    made, srv, _ = tls_clients
    plain = await made.start("plain", port=srv.tls_port, wait=False)
    await plain.wait(lambda: plain.model.state is ConnState.CLOSED, "gave up")
    assert "connect with --tls" in plain.text()
    assert plain.app.connection.attempts == 1  # no reconnect loop
    assert "Reconnecting" not in plain.text()


async def test_a_tls_client_on_the_plain_port_is_told_to_drop_tls(tls_clients) -> None:
    made, srv, ca_file = tls_clients
    secure = await made.start("secure", port=srv.port, ssl=client_context(str(ca_file)),
                              ca_file=str(ca_file), wait=False)
    await secure.wait(lambda: secure.model.state is ConnState.CLOSED, "gave up")
    assert "does not speak TLS on this port" in secure.text()
    assert "without --tls and --ca-file" in secure.text()
    assert "_ssl.c" not in secure.text()  # no raw "[SSL: ...] (_ssl.c:...)" error
    assert secure.app.connection.attempts == 1
