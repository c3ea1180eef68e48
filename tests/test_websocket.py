"""WebSocket on the HTTP listener: in memory (memnet) and over real sockets on both engines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from memnet import MemClient, MemoryNet
from support import (
    TEST_LIMITS,
    Clients,
    http_listener_port,
    say_hello,
    ws_expect_irc,
    ws_expect_json,
)
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from chat.config import Listener, ServerConfig
from chat.dialects.websocket import origin_allowed

CONFIG = ServerConfig(port=0, http_port=8080, limits=TEST_LIMITS)


class WsClient:
    """A WebSocket client in memory: the ``websockets`` client protocol over a MemClient."""

    def __init__(self, net: MemoryNet, subprotocols: list[str] | None = None,
                 origin: str | None = None, path: str = "/") -> None:
        self.client: MemClient = net.connect(dialect="http")
        self.raw = bytearray()
        self.client._receive = self.raw.extend  # type: ignore[method-assign]
        self.protocol = ClientProtocol(
            parse_uri(f"ws://chat.test:8080{path}"), origin=origin,  # type: ignore[arg-type]
            subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None)
        self.protocol.send_request(self.protocol.connect())
        self.response: Response | None = None
        self.frames: list[Frame] = []
        self.messages: list[str | bytes] = []
        self._seen = 0
        self._flush()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data and self.client.closed is None:
                self.client.send(data)
        self._read()

    def _read(self) -> None:
        if self.raw:
            data, self.raw[:] = bytes(self.raw), b""
            self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.response = event
            else:
                self.frames.append(event)
                if event.opcode is Opcode.TEXT:
                    self.messages.append(event.data.decode())
                elif event.opcode is Opcode.BINARY:
                    self.messages.append(bytes(event.data))

    @property
    def status(self) -> int:
        assert self.response is not None
        return self.response.status_code

    def send(self, text: str | bytes) -> WsClient:
        if isinstance(text, str):
            self.protocol.send_text(text.encode())
        else:
            self.protocol.send_binary(text)
        self._flush()
        return self

    def request(self, **fields: Any) -> WsClient:
        return self.send(json.dumps(fields))

    def new(self) -> list[str | bytes]:
        self._read()
        fresh = self.messages[self._seen:]
        self._seen = len(self.messages)
        return fresh

    def expect(self, want: str | Callable[[str], bool]) -> str:
        self._read()
        match = want if callable(want) else (lambda m: want in m)
        for index in range(self._seen, len(self.messages)):
            message = self.messages[index]
            text = message if isinstance(message, str) else message.decode()
            if match(text):
                self._seen = index + 1
                return text
        raise AssertionError(f"never got {want!r}; last: {self.messages[-6:]}")

    def expect_json(self, **fields: Any) -> dict[str, Any]:
        def match(text: str) -> bool:
            obj = json.loads(text)
            return all(obj.get(k) == v for k, v in fields.items())
        return json.loads(self.expect(match))


def ws_bot(net: MemoryNet, nick: str, room: str, subprotocol: str | None = "chat.json") -> WsClient:
    ws = WsClient(net, [subprotocol] if subprotocol else None)
    assert ws.status == 101
    ws.request(type="hello", nick=nick).expect_json(type="welcome")
    ws.request(type="join", room=room).expect_json(type="members", room=room)
    return ws


def ws_irc(net: MemoryNet, nick: str, room: str, binary: bool = False) -> WsClient:
    ws = WsClient(net, ["binary.ircv3.net" if binary else "text.ircv3.net"])
    assert ws.status == 101
    send: Callable[[str], Any] = (lambda s: ws.send(s.encode())) if binary else ws.send
    send(f"NICK {nick}")
    send(f"USER {nick} 0 * :{nick}")
    ws.expect(" 001 ")
    send(f"JOIN {room}")
    ws.expect(" 366 ")
    return ws


@pytest.mark.parametrize(("offered", "chosen"), [
    (["chat.json"], "chat.json"), (["text.ircv3.net"], "text.ircv3.net"),
    (["binary.ircv3.net"], "binary.ircv3.net"), (None, None),
    (["unknown", "text.ircv3.net"], "text.ircv3.net"),
])
def test_handshake_picks_the_subprotocol(offered: list[str] | None, chosen: str | None) -> None:
    net = MemoryNet(CONFIG)
    ws = WsClient(net, offered)
    assert ws.status == 101
    assert ws.response is not None
    assert ws.response.headers.get("Sec-WebSocket-Protocol") == chosen
    assert "Sec-WebSocket-Extensions" not in ws.response.headers  # no compression
    assert ws.client.closed is None


def test_any_path_upgrades_and_a_plain_get_is_still_http() -> None:
    net = MemoryNet(CONFIG)
    assert WsClient(net, ["chat.json"], path="/anything?x=1").status == 101
    client = net.connect(dialect="http")
    got = bytearray()
    client._receive = got.extend  # type: ignore[method-assign]
    client.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 OK") and client.closed is not None


def test_json_irc_and_telnet_users_chat_in_one_room() -> None:
    net = MemoryNet(CONFIG)
    ann = net.human("ann")
    ann.line("/join #room")
    js = ws_bot(net, "jay", "#room")
    irc = ws_irc(net, "ira", "#room")
    irc_bin = ws_irc(net, "bin", "#room", binary=True)
    js.request(type="message", to="#room", text="hello from json")
    ann.expect("hello from json")
    assert "PRIVMSG #room :hello from json" in irc.expect("hello from json")
    assert all(isinstance(m, bytes) for m in irc_bin.new())  # binary frames both ways
    irc.send("PRIVMSG #room :hello from irc")
    js.expect_json(type="message", text="hello from irc", **{"from": "ira"})
    ann.expect("hello from irc")
    ann.line("hello from telnet")
    js.expect_json(type="message", text="hello from telnet", **{"from": "ann"})
    assert not irc.expect("hello from telnet").endswith("\n")  # one line, no CRLF


def test_no_subprotocol_is_json_and_newlines_in_a_message() -> None:
    net = MemoryNet(CONFIG)
    js = ws_bot(net, "jay", "#room", subprotocol=None)
    other = ws_bot(net, "kim", "#room")
    js.send('{"type": "message",\n "to": "#room", "text": "two\\nlines"}')
    other.expect_json(type="message", **{"from": "jay"})
    irc = ws_irc(net, "ira", "#room")
    irc.send("PRIVMSG #room :one\r\nPRIVMSG #room :two")  # several IRC lines: split
    other.expect_json(type="message", text="one")
    other.expect_json(type="message", text="two")


def test_forbidden_origin_is_403_and_closed() -> None:
    net = MemoryNet(CONFIG)
    ws = WsClient(net, ["chat.json"], origin="http://evil.example")
    assert ws.status == 403
    assert ws.client.closed is not None
    assert not net.hub.core.nicks


def test_same_origin_and_configured_origins() -> None:
    net = MemoryNet(CONFIG)
    assert WsClient(net, origin="http://chat.test:8080").status == 101
    assert origin_allowed(None, "x", ())
    assert origin_allowed("https://chat.test", "chat.test:443", ())
    assert not origin_allowed("http://chat.test:9", "chat.test:8080", ())
    assert not origin_allowed("null", "chat.test", ())
    assert origin_allowed("https://app.example", "chat.test", ("https://app.example",))
    assert not origin_allowed("https://evil.example", "chat.test", ("https://app.example",))
    net = MemoryNet(ServerConfig(port=0, http_port=8080, limits=TEST_LIMITS,
                                 web_origins=("https://app.example",)))
    assert WsClient(net, origin="https://app.example").status == 101
    assert WsClient(net, origin="http://chat.test:8080").status == 403


def test_oversized_message_closes_with_1009() -> None:
    net = MemoryNet(CONFIG)
    ws = ws_bot(net, "jay", "#room")
    ws.send("x" * (TEST_LIMITS.max_line + 1))
    ws._read()
    close = Close.parse(ws.frames[-1].data)
    assert ws.frames[-1].opcode is Opcode.CLOSE and close.code == 1009
    assert ws.client.closed is not None


def test_ping_is_answered_with_pong() -> None:
    net = MemoryNet(CONFIG)
    ws = ws_bot(net, "jay", "#room")
    ws.protocol.send_ping(b"abc")
    ws._flush()
    assert ws.frames[-1].opcode is Opcode.PONG and ws.frames[-1].data == b"abc"
    assert ws.client.closed is None


def test_close_from_the_client_ends_the_session() -> None:
    net = MemoryNet(CONFIG)
    ann = net.human("ann")
    ann.line("/join #room")
    ws = ws_bot(net, "jay", "#room")
    ws.protocol.send_close(1000, "bye")
    ws._flush()
    assert ws.frames[-1].opcode is Opcode.CLOSE
    assert Close.parse(ws.frames[-1].data).code == 1000
    assert ws.client.closed is not None
    assert "jay" not in net.hub.core.nicks
    ann.expect("jay")


def test_frames_sent_with_the_handshake_are_not_lost() -> None:
    net = MemoryNet(CONFIG)
    protocol = ClientProtocol(parse_uri("ws://chat.test:8080/"),  # type: ignore[arg-type]
                              subprotocols=[Subprotocol("chat.json")])
    protocol.send_request(protocol.connect())
    hello = Frame(Opcode.TEXT, json.dumps({"type": "hello", "nick": "early"}).encode())
    client = net.connect(dialect="http")
    raw = bytearray()
    client._receive = raw.extend  # type: ignore[method-assign]
    client.send(b"".join(protocol.data_to_send()) + hello.serialize(mask=True))
    protocol.receive_data(bytes(raw))
    events = protocol.events_received()
    assert isinstance(events[0], Response) and events[0].status_code == 101
    assert any(b'"welcome"' in bytes(ev.data) for ev in events[1:] if isinstance(ev, Frame))


# -- over real sockets, both engines ---------------------------------------------------------


def test_websocket_client_and_tcp_client_chat_over_sockets(
        serve_with: Callable[..., Clients]) -> None:
    from websockets.sync.client import connect

    clients = serve_with(listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    port = http_listener_port(clients.server)
    tcp = say_hello(clients.raw(), "nc", "#room")
    with connect(f"ws://127.0.0.1:{port}/", subprotocols=[Subprotocol("chat.json")],
                 open_timeout=10) as ws:
        assert ws.subprotocol == "chat.json"
        ws.send(json.dumps({"type": "hello", "nick": "web"}))
        ws_expect_json(ws, type="welcome")
        ws.send(json.dumps({"type": "join", "room": "#room"}))
        ws_expect_json(ws, type="members", room="#room")
        ws.send(json.dumps({"type": "message", "to": "#room", "text": "from the web"}))
        tcp.expect_json(type="message", text="from the web", **{"from": "web"})
        tcp.request(type="message", to="#room", text="from nc")
        ws_expect_json(ws, type="message", text="from nc", **{"from": "nc"})
        ws.ping().wait(10)
    tcp.expect(lambda line: '"from":"web"' in line and '"type":"quit"' in line)


def test_the_server_ending_a_session_sends_a_close_frame() -> None:
    net = MemoryNet(CONFIG)
    irc = ws_irc(net, "ira", "#room")
    irc.send("QUIT :bye")
    irc._read()
    assert irc.frames[-1].opcode is Opcode.CLOSE
    assert Close.parse(irc.frames[-1].data).code == 1000
    assert irc.client.closed is not None
    js = ws_bot(net, "jay", "#room")
    net.hub.shutdown()
    net.pump()
    js._read()
    assert Close.parse(js.frames[-1].data).code == 1001


def test_web_origin_option_and_config_file(tmp_path: Any) -> None:
    from chat.cli import config_from_args, parse_args

    assert config_from_args(parse_args([])).web_origins == ()
    args = ["--web-origin", "https://a.example", "--web-origin", "https://b.example"]
    assert config_from_args(parse_args(args)).web_origins == ("https://a.example",
                                                               "https://b.example")
    path = tmp_path / "chat.toml"
    path.write_text('web_origins = ["https://c.example"]\n')
    assert config_from_args(parse_args(["--config", str(path)])).web_origins == (
        "https://c.example",)


def test_irc_over_websocket_over_sockets(serve_with: Callable[..., Clients]) -> None:
    from websockets.sync.client import connect

    clients = serve_with(listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    port = http_listener_port(clients.server)
    tcp = say_hello(clients.raw(), "nc", "#room")
    with connect(f"ws://127.0.0.1:{port}/", subprotocols=[Subprotocol("text.ircv3.net")],
                 open_timeout=10) as ws:
        assert ws.subprotocol == "text.ircv3.net"
        ws.send("NICK ira")
        ws.send("USER ira 0 * :Ira")
        ws_expect_irc(ws, " 001 ")
        ws.send("JOIN #room")
        ws_expect_irc(ws, " 366 ")
        ws.send("PRIVMSG #room :from irc over ws")
        tcp.expect_json(type="message", text="from irc over ws", **{"from": "ira"})
        tcp.request(type="message", to="#room", text="to irc")
        assert ws_expect_irc(ws, "to irc").endswith("PRIVMSG #room :to irc")


def test_labeled_response_over_websocket_one_message_per_line() -> None:
    net = MemoryNet(CONFIG)
    net.irc("bob", "#room")
    ws = WsClient(net, ["text.ircv3.net"])
    for line in ("CAP LS 302", "NICK ira", "USER ira 0 * :ira",
                 "CAP REQ :labeled-response batch", "CAP END"):
        ws.send(line)
    ws.expect(" 001 ")
    ws.new()
    ws.send("@label=p1 PING :x")
    assert ws.new() == ["@label=p1 :chat.local PONG chat.local :x"]
    ws.send("@label=w1 WHOIS bob")
    messages = ws.new()
    assert str(messages[0]).startswith("@label=w1 :chat.local BATCH +")
    assert all("\n" not in str(m) for m in messages) and " 318 " in str(messages[-2])
    ws.send("@label=a1 PRIVMSG #nowhere-else :x")
    assert "label=a1" in str(ws.new()[0])
    ws.send("@label=a2 PONG :y")
    assert ws.new() == ["@label=a2 :chat.local ACK"]
