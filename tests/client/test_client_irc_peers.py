"""The bundled client beside a real IRC user on the same server (both engines): what an IRC
client sends it (CTCP queries, formatting) is handled as irssi or weechat would."""

from __future__ import annotations

import asyncio

from client_harness import WAIT, clients_fixture  # noqa: F401  (provides `clients`)

from chat import __version__
from client.layout import status_fragments
from client.pane import render_line


class IrcPeer:
    """A bare IRC client on a socket: send lines, wait for the one that matters."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, nick: str) -> IrcPeer:
        reader, writer = await asyncio.open_connection(host, port)
        peer = cls(reader, writer)
        peer.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        await peer.expect(" 001 ")
        return peer

    def send(self, *lines: str) -> None:
        self.writer.write("".join(line + "\r\n" for line in lines).encode())

    async def expect(self, needle: str) -> str:
        """The first line from now on that contains ``needle``."""
        async def read() -> str:
            while True:
                raw = await self.reader.readline()
                assert raw, f"connection closed before {needle!r}"
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                elif needle in line:
                    return line
        return await asyncio.wait_for(read(), WAIT)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_ctcp_version_and_ping_are_answered_not_shown_as_messages(clients, server) -> None:
    bob = await clients.start("bob")
    ivan = await IrcPeer.connect(server.host, server.port, "ivan")
    try:
        ivan.send("PRIVMSG bob :\x01VERSION\x01")
        reply = await ivan.expect("NOTICE ivan :\x01VERSION")
        assert reply.startswith(":bob!")
        assert reply.endswith(f":\x01VERSION chat-client {__version__}\x01")
        ivan.send("PRIVMSG bob :\x01PING 1796080427 503993\x01")
        assert (await ivan.expect("NOTICE ivan :\x01PING")).endswith(
            ":\x01PING 1796080427 503993\x01")
        def noted() -> str:
            return "\n".join(line.text for line in bob.model.server.lines)
        await bob.wait(lambda: "asked for CTCP PING" in noted(),
                       "the queries noted in the server conversation")
        assert "ivan asked for CTCP VERSION; answered" in noted()
        # No private conversation opens with a line saying "VERSION".
        assert bob.model.get("ivan") is None
    finally:
        await ivan.close()


async def test_irc_formatting_shows_as_styles_without_control_bytes(clients, server) -> None:
    bob = await clients.start("bob")
    ivan = await IrcPeer.connect(server.host, server.port, "ivan")
    try:
        ivan.send("JOIN #lobby",
                  "PRIVMSG #lobby :plain \x02bold\x02 and \x0304,12red on blue\x03 end",
                  "TOPIC #lobby :\x02News\x02 \x0303green")
        await bob.wait_line("#lobby", "end")
        await bob.wait_line("#lobby", "News")
        pane = bob.pane()
        assert "<ivan> plain bold and red on blue end" in pane
        assert not any(c in pane for c in "\x02\x03\x0f")
        line = next(x for x in bob.model.get("#lobby").lines if "bold" in x.text)
        styles = {text: style for style, text, *_ in render_line(line)}
        assert "bold" in styles["bold"].split() and "bold" not in styles["plain "].split()
        assert "fg:#ff0000" in styles["red on blue"] and "bg:#0000fc" in styles["red on blue"]
        topic_row = "".join(t for _, t, *_ in render_line(bob.model.get("#lobby").lines[-1]))
        assert topic_row.endswith("News green")
        status = "".join(t for _, t, *_ in status_fragments(bob.model))
        assert status.endswith("— News green")
    finally:
        await ivan.close()
