"""The bundled client meeting IRC users, in the real app against a real server (both engines):
it answers CTCP VERSION/PING itself and shows IRC formatting as formatting."""

from __future__ import annotations

import asyncio

from client_harness import clients_fixture  # noqa: F401  (provides `clients`)
from conftest import IrcClient
from irc_lines import irc_params

from client.pane import render_line


def _irc(server: object, nick: str, room: str) -> IrcClient:
    client = IrcClient(server.host, server.port)  # type: ignore[attr-defined]
    client.cmd(f"NICK {nick}")
    client.cmd(f"USER {nick} 0 * :{nick}")
    client.numeric("001")
    client.cmd(f"JOIN {room}")
    client.numeric("366")
    return client


async def test_the_client_answers_ctcp_and_shows_formatting(clients, server) -> None:
    alice = await clients.start("alice", "#fmt")
    await alice.wait_joined("#fmt", "alice")
    irc = await asyncio.to_thread(_irc, server, "ircer", "#fmt")
    try:
        irc.cmd("PRIVMSG alice :\x01VERSION\x01")
        reply = await asyncio.to_thread(irc.verb, "NOTICE")
        assert reply.startswith(":alice!")
        assert irc_params(reply)[1].startswith("\x01VERSION chat-client")
        irc.cmd("PRIVMSG alice :\x01PING 42\x01")
        reply = await asyncio.to_thread(irc.verb, "NOTICE")
        assert irc_params(reply)[1] == "\x01PING 42\x01"
        irc.cmd("PRIVMSG #fmt :\x02bold\x02 and \x0304red\x03 text")
        await alice.wait_line("#fmt", "red\x03 text")  # the model keeps the codes
        assert "bold and red text" in alice.pane()  # the pane shows them as formatting
        line = next(x for x in alice.model.get("#fmt").lines if "bold" in x.text)
        styles = {text: style for style, text, *_ in render_line(line)}
        assert "bold" in styles["bold"].split()
        assert "fg:#ff0000" in styles["red"].split()
        assert "bold" not in styles[" text"].split()
        assert "VERSION" not in alice.pane() and "\x01" not in alice.pane()
    finally:
        irc.close()
