"""TLS on the HTTP listener: with --tls-cert, --http-port speaks HTTPS and wss:// (the same
certificate as the chat TLS port), on both engines, verified against a trustme CA."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from support import WAIT
from test_tls import Certs

from chat.config import Listener, ServerConfig


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A test CA and a certificate for localhost / 127.0.0.1 (trustme)."""
    return Certs(tmp_path_factory.mktemp("tls"))

if TYPE_CHECKING:
    from support import Clients


def free_port() -> int:
    """A port nobody listens on right now (for --http-port, where 0 means "off")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_http_listener_is_tls_when_a_certificate_is_set() -> None:
    plain = ServerConfig(port=7000, http_port=8080)
    assert Listener(8080, plain.host, dialect="http") in plain.all_listeners()
    secure = ServerConfig(port=7000, http_port=8443, tls_cert="cert.pem")
    assert Listener(8443, secure.host, tls=True, dialect="http") in secure.all_listeners()
    # The chat TLS port stays the engine's "TLS port": it comes first.
    assert [spec.port for spec in secure.all_listeners() if spec.tls] == [secure.tls_port, 8443]


async def wss_expect_json(ws: Any, **fields: Any) -> dict[str, Any]:
    """``ws_expect_json`` for an asyncio client connection."""
    while True:
        obj = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if all(obj.get(k) == v for k, v in fields.items()):
            return obj  # type: ignore[no-any-return]


def wss_connect(port: int, certs: Certs) -> Any:
    """A ``wss://`` client for ``chat.json``. The asyncio client, not the sync one: the sync
    client reads its TLS socket on a thread of its own while the caller writes to it, and an
    SSL socket written and read by two threads at once can lose what it reads (a handshake
    then never answered; seen once in a few full runs, on either engine)."""
    from websockets.asyncio.client import connect
    from websockets.typing import Origin, Subprotocol

    return connect(f"wss://localhost:{port}/", ssl=certs.client(),
                   subprotocols=[Subprotocol("chat.json")],
                   origin=Origin(f"https://localhost:{port}"), open_timeout=WAIT)


def test_https_and_wss_on_the_http_port(serve_with: Callable[..., Clients],
                                        certs: Certs) -> None:
    port = free_port()
    made = serve_with(tls_cert=str(certs.cert), tls_key=str(certs.key), host="127.0.0.1",
                      http_port=port)
    context = certs.client()
    conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=WAIT)
    try:
        conn.request("GET", "/healthz")
        reply = conn.getresponse()
        assert (reply.status, reply.read()) == (200, b"ok\n")
    finally:
        conn.close()
    conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=WAIT)
    try:
        conn.request("GET", "/")
        reply = conn.getresponse()
        assert reply.status == 200 and b"/app.js" in reply.read()
        assert f"wss://localhost:{port}" in reply.getheader("Content-Security-Policy", "")
    finally:
        conn.close()
    tcp = made.bot("plain", "#room")

    async def over_wss() -> None:
        async with wss_connect(port, certs) as ws:
            await ws.send(json.dumps({"type": "hello", "nick": "secure"}))
            await wss_expect_json(ws, type="welcome")
            await ws.send(json.dumps({"type": "join", "room": "#room"}))
            await wss_expect_json(ws, type="members", room="#room")
            await ws.send(json.dumps({"type": "message", "to": "#room", "text": "over wss"}))
            tcp.expect_json(type="message", text="over wss")  # (blocks the loop: fine here)
            tcp.request(type="message", to="#room", text="over tcp")
            await wss_expect_json(ws, type="message", text="over tcp")

    asyncio.run(over_wss())


def test_plain_http_on_the_https_port_gets_no_page(serve_with: Callable[..., Clients],
                                                   certs: Certs) -> None:
    port = free_port()
    serve_with(tls_cert=str(certs.cert), tls_key=str(certs.key), host="127.0.0.1",
               http_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    assert b"HTTP/1.1 200" not in got and b"<html" not in got


def test_connections_are_counted_by_transport(serve_with: Callable[..., Clients],
                                              certs: Certs) -> None:
    """tcp, tls, and WebSocket over each (ws, wss) in chat_connections_by_transport."""
    from test_http import fetch, metric
    from test_tls import tls_bot
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    https_port = free_port()
    made = serve_with(tls_cert=str(certs.cert), tls_key=str(certs.key), host="127.0.0.1",
                      http_port=https_port,
                      listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    plain_http = next(port for spec, (_, port) in made.server.engine.addresses  # type: ignore[attr-defined]
                      if spec.dialect == "http" and not spec.tls)
    made.bot("plain", "#room")
    tls_bot(made, certs, "secure", "#room")
    chat = [Subprotocol("chat.json")]

    async def both_open() -> str:
        with connect(f"ws://127.0.0.1:{plain_http}/", subprotocols=chat,
                     open_timeout=WAIT) as ws:
            ws.send(json.dumps({"type": "hello", "nick": "webby"}))
            assert json.loads(ws.recv(timeout=WAIT))["type"] == "welcome"
            async with wss_connect(https_port, certs) as wss:
                await wss.send(json.dumps({"type": "hello", "nick": "webbys"}))
                await wss_expect_json(wss, type="welcome")
                return fetch(plain_http, "/metrics")[2]

    text = asyncio.run(both_open())
    # tcp: the plain bot and this scrape's own connection
    assert metric(text, "chat_connections_by_transport", transport="tcp") == 2
    assert metric(text, "chat_connections_by_transport", transport="tls") == 1
    assert metric(text, "chat_connections_by_transport", transport="ws") == 1
    assert metric(text, "chat_connections_by_transport", transport="wss") == 1
    assert metric(text, "chat_connections", dialect="structured") == 4
