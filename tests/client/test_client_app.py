"""The real app, headless, against a real server of each engine."""

from __future__ import annotations

import socket
from dataclasses import replace

from client_harness import clients_fixture  # noqa: F401  (provides `clients`)

from chat.config import ServerConfig
from chat.engines import serve_in_background
from client.model import ConnState

ENTER, TAB, CTRL_N, CTRL_P, CTRL_U, CTRL_C = "\r", "\t", "\x0e", "\x10", "\x15", "\x03"
PAGE_UP, PAGE_DOWN = "\x1b[5~", "\x1b[6~"


async def test_typed_message_arrives_at_the_other_client(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "alice", "bob")

    alice.type("hello bob, how are you?" + ENTER)

    await bob.wait_line("#lobby", "hello bob, how are you?")
    assert "<alice> hello bob, how are you?" in bob.pane()
    # Our own line is the server's echo, shown exactly once.
    await alice.wait_line("#lobby", "hello bob")
    assert alice.pane().count("hello bob, how are you?") == 1
    assert alice.app.input_buffer.text == ""


async def test_received_action_and_private_message(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    bob.type("/me waves" + ENTER)
    await alice.wait_line("#lobby", "waves")
    assert "* bob waves" in alice.pane()

    bob.type("/msg alice psst" + ENTER)
    await alice.wait(lambda: alice.model.get("bob") is not None, "a private conversation")
    await alice.wait_line("bob", "psst")
    conv = alice.model.get("bob")
    assert conv.kind == "private" and conv.unread == 1 and conv.mentioned
    assert "bob (private)" in alice.sidebar()
    # The sender switched to the private conversation and sees the echo there.
    await bob.wait_line("alice", "psst")
    assert bob.model.current.name == "alice"
    assert "<bob> psst" in bob.pane()


async def test_tab_completes_a_nick_and_a_command(clients) -> None:
    alice = await clients.start("alice")
    await clients.start("bobby")
    await alice.wait_joined("#lobby", "bobby")
    buf = alice.app.input_buffer

    alice.type("bo" + TAB)
    await alice.wait(lambda: buf.text == "bobby: ", "nick completion")

    alice.type(CTRL_U + "/jo" + TAB)
    await alice.wait(lambda: buf.text == "/join ", "command completion")

    alice.type("#lo" + TAB)
    await alice.wait(lambda: buf.text == "/join #lobby ", "room completion")


async def test_switching_rooms_shows_their_history_and_members(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "bob")

    alice.type("/join #dev" + ENTER)
    await alice.wait_joined("#dev", "alice")
    assert alice.model.current.name == "#dev"  # /join switches once the server confirms
    alice.type("dev talk" + ENTER)
    bob.type("lobby talk" + ENTER)
    await alice.wait_line("#dev", "dev talk")
    await alice.wait_line("#lobby", "lobby talk")

    pane, side = alice.pane(), alice.sidebar()
    assert "dev talk" in pane and "lobby talk" not in pane
    assert "Members (1)" in side and "bob" not in side.split("Members")[1]

    alice.type(CTRL_P)
    await alice.wait(lambda: alice.model.current.name == "#lobby", "Ctrl+P to #lobby")
    pane, side = alice.pane(), alice.sidebar()
    assert "lobby talk" in pane and "dev talk" not in pane
    assert "Members (2)" in side and "bob" in side.split("Members")[1]

    alice.type("\x1b3")  # Alt+3: the third entry (server, #lobby, #dev)
    await alice.wait(lambda: alice.model.current.name == "#dev", "Alt+3 to #dev")
    alice.type(CTRL_N)
    await alice.wait(lambda: alice.model.current.name == alice.model.server.name, "wrap around")


async def test_unread_count_and_mention_marker(clients) -> None:
    alice = await clients.start("alice", "#lobby", "#dev")
    bob = await clients.start("bob")
    await alice.wait_joined("#lobby", "bob")
    alice.model.select("#dev")

    bob.type("anyone around?" + ENTER)
    bob.type("alice: release at five" + ENTER)
    await alice.wait_line("#lobby", "release at five")

    lobby = alice.model.get("#lobby")
    assert lobby.unread == 2 and lobby.mentioned
    assert "#lobby ! 2" in alice.sidebar()

    alice.type(CTRL_P)
    await alice.wait(lambda: alice.model.current.name == "#lobby", "switch to #lobby")
    assert lobby.unread == 0 and not lobby.mentioned
    assert lobby.lines[-1].mention and not lobby.lines[-2].mention


async def test_page_up_keeps_the_view_while_messages_arrive(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    for i in range(60):
        bob.type(f"line {i}" + ENTER)
    await alice.wait_line("#lobby", "line 59")
    assert "line 59" in alice.pane()

    alice.type(PAGE_UP)
    await alice.wait(lambda: not alice.app.pane.is_pinned(), "scrolled back")
    before = alice.pane()
    assert "line 59" not in before and "newer lines below" in before

    bob.type("news while scrolled" + ENTER)
    await alice.wait_line("#lobby", "news while scrolled")
    assert alice.pane().splitlines()[:-1] == before.splitlines()[:-1]

    for _ in range(5):
        alice.type(PAGE_DOWN)
    await alice.wait(lambda: alice.app.pane.is_pinned(), "pinned again")
    assert "news while scrolled" in alice.pane()


async def test_taken_nick_gives_a_clear_message_and_nick_fixes_it(clients) -> None:
    await clients.start("alice")
    second = await clients.start("alice", wait=False)
    await second.wait(lambda: "already in use" in second.text(), "nick_taken message")
    assert second.model.state is ConnState.REGISTERING
    assert "/nick" in second.text()

    second.type("/nick alice2" + ENTER)
    await second.wait_joined("#lobby", "alice", "alice2")
    assert second.model.nick == "alice2"


async def test_refused_connection_says_so_and_keeps_trying(clients) -> None:
    nobody = await clients.start("alice", port=_free_port(), wait=False)
    await nobody.wait(lambda: "connection refused" in nobody.text(), "a refusal message")
    assert "Cannot connect to 127.0.0.1" in nobody.text()
    await nobody.wait(lambda: nobody.app.connection.attempts >= 3, "retries")
    assert nobody.model.state in (ConnState.DISCONNECTED, ConnState.CONNECTING)
    assert nobody.text().count("Cannot connect") == 1  # said once, not once per retry


async def test_ctrl_c_exits_cleanly_and_others_see_the_quit(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    await bob.wait_joined("#lobby", "alice")
    alice.type(CTRL_C)
    await alice.task
    await bob.wait(lambda: "alice" not in bob.model.get("#lobby").members, "alice gone")
    assert "alice quit" in bob.pane()
    assert alice.model.state is ConnState.CLOSED


async def test_reconnects_and_rejoins_after_the_server_restarts(engine, clients) -> None:
    config = ServerConfig(port=0, shutdown_grace=0.2)
    with serve_in_background(engine, config) as first:
        port = first.port
        alice = await clients.start("alice", "#lobby", "#dev", port=port)
        bob = await clients.start("bob", port=port)
        await bob.wait_joined("#lobby", "alice")
    # The server is gone: both notice and say so.
    for who in (alice, bob):
        await who.wait(lambda w=who: w.model.state is not ConnState.CONNECTED, "disconnected")
    await alice.wait(lambda: "Disconnected from the server" in alice.text(), "the notice")

    with serve_in_background(engine, replace(config, port=port)):
        await alice.wait_joined("#lobby", "alice", "bob")
        await alice.wait_joined("#dev", "alice")
        await bob.wait_joined("#lobby", "alice", "bob")
        assert alice.model.nick == "alice" and "Reconnected." in alice.text()
        alice.type("back again" + ENTER)
        await bob.wait_line("#lobby", "back again")
        await alice.quit()
        await bob.quit()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_ignore_hides_an_ignored_nicks_comings_and_goings(clients) -> None:
    alice = await clients.start("alice")
    alice.type("/ignore ivan*" + ENTER)
    await alice.wait_line("#lobby", "Ignoring ivan*")
    ivan = await clients.start("ivan")
    await alice.wait_joined("#lobby", "alice", "ivan")
    for line in ("/away lunch", "/back", "/nick ivan_"):
        ivan.type(line + ENTER)
    await alice.wait_joined("#lobby", "ivan_")  # the rename came after the away and back
    ivan.type("/part" + ENTER)
    await alice.wait(lambda: "ivan_" not in alice.model.get("#lobby").members, "ivan_ gone")
    about = [line.text for line in alice.model.get("#lobby").lines
             if "ivan" in line.text and not line.text.startswith("Ignoring")]
    assert about == []
    assert "is back" not in alice.pane() and "ivan joined" not in alice.pane()
