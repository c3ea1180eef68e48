"""The HTTP listener: health checks and Prometheus metrics, in memory and over real sockets."""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from memnet import MemClient, MemoryNet
from support import TEST_LIMITS, Clients, http_listener_port

from chat.config import Listener, ServerConfig
from chat.dialects.http import MAX_HEAD
from chat.metrics import close_label

#: A config with an HTTP listener, so the hub keeps metrics (memnet never binds it).
HTTP_CONFIG = ServerConfig(port=0, http_port=8080, limits=TEST_LIMITS)


def ask(net: MemoryNet, request: bytes) -> tuple[MemClient, bytes]:
    """A connection to the HTTP listener sends ``request``; what it got back, raw."""
    client = net.connect(dialect="http")
    got = bytearray()
    original = client._receive

    def keep(data: bytes) -> None:
        got.extend(data)
        original(data)

    client._receive = keep  # type: ignore[method-assign]
    client.send(request)
    return client, bytes(got)


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *fields = head.decode().split("\r\n")
    version, code, _reason = status.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {}
    for field in fields:
        name, _, value = field.partition(":")
        headers[name.lower()] = value.strip()
    return int(code), headers, body


def get(net: MemoryNet, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    client, raw = ask(net, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert client.closed is not None  # one request, then closed
    return parse(raw)


def metric(text: bytes | str, name: str, **labels: str) -> float:
    """The value of one sample in a text exposition."""
    text = text.decode() if isinstance(text, bytes) else text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no sample {name} {labels} in:\n{text}"
    return float(found.group(1))


# -- the dialect, in memory ------------------------------------------------------------------


def test_healthz_answers_ok_and_closes() -> None:
    net = MemoryNet(HTTP_CONFIG)
    code, headers, body = get(net, "/healthz")
    assert (code, body) == (200, b"ok\n")
    assert headers["connection"] == "close"
    assert headers["content-length"] == "3"
    assert not net.hub.sessions  # closed and gone
    assert not net.hub.core.nicks  # never a chat user


def test_readyz_is_ready_once_serving_and_says_why_not_before() -> None:
    net = MemoryNet(HTTP_CONFIG)
    code, _, body = get(net, "/readyz")
    assert code == 503 and b"not listening" in body
    net.hub.start()
    code, _, body = get(net, "/readyz")
    assert (code, body) == (200, b"ready\n")


def test_readyz_reports_a_failing_history_store() -> None:
    net = MemoryNet(HTTP_CONFIG)
    net.hub.start()
    assert net.hub.history is not None
    net.hub.history.last_error = "disk full"
    code, _, body = get(net, "/readyz")
    assert code == 503 and body == b"not ready: history store failing: disk full\n"


def test_head_has_the_headers_without_a_body() -> None:
    net = MemoryNet(HTTP_CONFIG)
    code, headers, body = get(net, "/healthz", method="HEAD")
    assert code == 200 and headers["content-length"] == "3" and body == b""


def test_unknown_path_is_404_and_a_query_string_is_ignored() -> None:
    net = MemoryNet(HTTP_CONFIG)
    assert get(net, "/nope")[0] == 404
    assert get(net, "/healthz?verbose=1")[0] == 200


def test_other_methods_are_405_with_allow() -> None:
    net = MemoryNet(HTTP_CONFIG)
    client, raw = ask(net, b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    code, headers, _ = parse(raw)
    assert code == 405 and headers["allow"] == "GET, HEAD"
    assert client.closed is not None


@pytest.mark.parametrize("request_bytes", [
    b"hello\r\n\r\n",  # not a request line
    b"GET /healthz\r\n\r\n",  # HTTP/0.9 style
    b"GET /healthz HTTP/1.1\r\n\r\n",  # 1.1 without Host
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",  # two Hosts
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n",  # no colon
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nName : v\r\n\r\n",  # space before the colon
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",  # obsolete line folding
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",  # a control character
])
def test_malformed_requests_are_400(request_bytes: bytes) -> None:
    net = MemoryNet(HTTP_CONFIG)
    client, raw = ask(net, request_bytes)
    assert parse(raw)[0] == 400
    assert client.closed is not None


def test_http_1_0_needs_no_host_and_http_2_is_refused() -> None:
    net = MemoryNet(HTTP_CONFIG)
    assert parse(ask(net, b"GET /healthz HTTP/1.0\r\n\r\n")[1])[0] == 200
    assert parse(ask(net, b"GET /healthz HTTP/2.0\r\n\r\n")[1])[0] == 505


def test_oversized_headers_are_431() -> None:
    net = MemoryNet(HTTP_CONFIG)
    one_long = b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * MAX_HEAD + b"\r\n\r\n"
    assert parse(ask(net, one_long)[1])[0] == 431
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"X: " + b"a" * 1000 + b"\r\n") * 9
    assert parse(ask(net, many + b"\r\n")[1])[0] == 431  # each fits, together they do not


def test_a_request_split_across_reads_is_answered_once_complete() -> None:
    net = MemoryNet(HTTP_CONFIG)
    client = net.connect(dialect="http")
    for piece in (b"GET /hea", b"lthz HTTP/1.1\r\nHo", b"st: x\r\n", b"\r\n"):
        assert client.closed is None
        client.send(piece)
    assert client.lines[0] == "HTTP/1.1 200 OK" and client.closed is not None


def test_a_silent_http_client_is_dropped_by_the_register_timeout() -> None:
    net = MemoryNet(HTTP_CONFIG)
    client = net.connect(dialect="http")
    client.send(b"GET /healthz HTTP/1.1\r\n")  # and never finishes
    net.advance(net.hub.limits.register_timeout + 1)
    assert client.closed == "Registration timed out"
    assert not client.lines  # no chat text on an HTTP connection


def test_an_http_connection_never_reaches_the_chat_core() -> None:
    net = MemoryNet(HTTP_CONFIG)
    _client, raw = ask(net, b'{"type": "hello", "nick": "mallory"}\r\n\r\n')
    assert parse(raw)[0] == 400
    assert "mallory" not in net.hub.core.nicks


def test_metrics_are_404_without_an_http_listener() -> None:
    net = MemoryNet()  # no HTTP listener configured: nothing is counted
    assert net.hub.metrics is None
    assert get(net, "/metrics")[0] == 404


def test_metrics_count_what_happened() -> None:
    net = MemoryNet(HTTP_CONFIG)
    net.hub.start()
    alice = net.bot("alice", "#room")
    bob = net.bot("bob", "#room")
    for n in range(3):
        alice.request(type="message", to="#room", text=f"hello {n}")
    bob.expect_json(type="message", text="hello 2")
    net.irc("carol")
    code, headers, body = get(net, "/metrics")
    assert code == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    assert metric(text, "chat_connections", dialect="structured") == 2
    assert metric(text, "chat_connections", dialect="irc") == 1
    assert metric(text, "chat_connections", dialect="http") == 1  # the one asking
    assert metric(text, "chat_users") == 3
    assert metric(text, "chat_rooms") >= 1
    assert metric(text, "chat_connections_opened_total") == 4
    # hello + join each, three messages, NICK + USER; then this request's three lines
    assert metric(text, "chat_lines_received_total") == 2 + 2 + 3 + 2 + 3
    assert metric(text, "chat_deliveries_total") > 6  # each say reached alice and bob
    assert metric(text, "chat_bytes_sent_total") > 100
    assert metric(text, "chat_history_records_written_total") >= 3
    assert metric(text, "chat_history_queue") == 0
    assert metric(text, "chat_disconnects_total", reason="sendq") == 0
    assert "process_" in text or "chat_" in text  # process metrics where /proc exists
    # Later scrapes see later counts; the first HTTP connection's close was counted.
    again = get(net, "/metrics")[2].decode()
    assert metric(again, "chat_disconnects_total", reason="http") == 1
    assert metric(again, "chat_connections_opened_total") == 5


def test_metrics_count_rate_limit_holds_and_drops() -> None:
    net = MemoryNet(HTTP_CONFIG, rate_per_second=1, rate_burst=3, recvq_lines=5)
    alice = net.bot("alice")
    alice.send(b"".join(b'{"type": "ping"}\n' for _ in range(4)))  # two wait
    alice.send(b"".join(b'{"type": "ping"}\n' for _ in range(10)))  # a flood
    assert alice.closed == "Excess flood"
    text = get(net, "/metrics")[2]
    assert metric(text, "chat_rate_limited_total") == 1
    assert metric(text, "chat_disconnects_total", reason="flood") == 1


@pytest.mark.parametrize(("reason", "label"), [
    ("Excess flood", "flood"), ("Ping timeout: 180 seconds", "ping_timeout"),
    ("Registration timed out", "register_timeout"), ("Too many connections from ::1", "refused"),
    ("HTTP 200", "http"), ("bye now", "other"),
])
def test_close_reasons_become_few_labels(reason: str, label: str) -> None:
    assert close_label(reason) == label


# -- over real sockets, both engines ---------------------------------------------------------


def fetch(port: int, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def test_health_and_metrics_over_sockets(serve_with: Callable[..., Clients]) -> None:
    clients = serve_with(listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    port = http_listener_port(clients.server)
    assert port != clients.server.port
    alice = clients.bot("alice", "#room")
    bob = clients.bot("bob", "#room")
    alice.request(type="message", to="#room", text="hi")
    bob.expect_json(type="message", text="hi")
    assert fetch(port, "/healthz")[::2] == (200, b"ok\n")
    assert fetch(port, "/readyz")[::2] == (200, b"ready\n")
    status, content_type, body = fetch(port, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert metric(body, "chat_connections", dialect="structured") == 2
    assert metric(body, "chat_users") == 2
    assert metric(body, "chat_lines_received_total") >= 5
    assert metric(body, "chat_engine_queued_bytes") >= 0
    assert fetch(port, "/metrics", "HEAD")[::2] == (200, b"")
    assert fetch(port, "/missing")[0] == 404
    assert fetch(port, "/healthz", "DELETE")[0] == 405


def test_http_port_adds_a_listener_pinned_to_http() -> None:
    """``http_port`` (the CLI's --http-port): an HTTP listener on ``host``; 0 is none."""
    config = ServerConfig(port=0, http_port=9100)
    assert config.all_listeners()[-1] == Listener(9100, config.host, dialect="http")
    assert config.http
    assert not ServerConfig(port=0).http
    assert ServerConfig(port=0).all_listeners() == (Listener(0, config.host),)


def test_cli_default_http_port_is_8080_and_0_turns_it_off() -> None:
    from chat.cli import config_from_args, parse_args

    assert config_from_args(parse_args([])).http_port == 8080
    assert config_from_args(parse_args(["--http-port", "0"])).http_port == 0
    config = config_from_args(parse_args(["--http-port", "9100", "--host", "::1"]))
    assert Listener(9100, "::1", dialect="http") in config.all_listeners()


def test_a_test_server_opens_no_http_port(server_config: ServerConfig) -> None:
    assert server_config.http_port == 0
    assert replace(server_config, port=0).all_listeners() == (Listener(0, server_config.host),)
