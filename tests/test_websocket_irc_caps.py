"""IRC over WebSocket, in memory: clients with different capabilities in one room each get the
bytes their own capabilities ask for (the fan-out shares a room message's bytes only between
connections of one variant, and an IRC connection's variant is its capability set)."""

from __future__ import annotations

from memnet import MemoryNet
from test_websocket import CONFIG, WsClient


def _ws_irc_with_caps(net: MemoryNet, nick: str, caps: str) -> WsClient:
    ws = WsClient(net, ["text.ircv3.net"])
    assert ws.status == 101
    if caps:
        ws.send(f"CAP REQ :{caps}")
    ws.send(f"NICK {nick}")
    ws.send(f"USER {nick} 0 * :{nick}")
    if caps:
        ws.send("CAP END")
    ws.expect(" 001 ")
    ws.send("JOIN #room")
    ws.expect(" 366 ")
    return ws


def _said(ws: WsClient, text: str) -> str:
    return ws.expect(lambda message: message.endswith(f"PRIVMSG #room :{text}"))


def test_websocket_irc_clients_with_different_caps_get_their_own_bytes() -> None:
    net = MemoryNet(CONFIG)
    tagged = _ws_irc_with_caps(net, "tess", "server-time message-tags")
    plain = _ws_irc_with_caps(net, "pat", "")
    also_tagged = _ws_irc_with_caps(net, "tom", "message-tags server-time")
    speaker = net.irc("sam", "#room")
    for ws in (tagged, plain, also_tagged):
        ws.new()
    speaker.line("PRIVMSG #room :hello both")
    assert _said(plain, "hello both").startswith(":sam!")
    line = _said(tagged, "hello both")
    assert line.startswith("@time=") and ";msgid=" in line.split(" ", 1)[0]
    assert _said(also_tagged, "hello both") == line  # same caps: the very same line
    # And the other way round: the client without tags speaks first in a new segment.
    plain.send("PRIVMSG #room :from pat")
    assert _said(tagged, "from pat").startswith("@time=")
    assert speaker.expect("from pat").startswith(":pat!")
