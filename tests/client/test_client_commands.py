"""Slash commands against the model and a fake connection that records what would be sent."""

from __future__ import annotations

from typing import Any

import pytest

from client import commands
from client.model import ChatModel


class FakeConnection:
    """Records requests; ``up`` says whether it is registered."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.up = True
        self.nick_changes: list[str] = []
        self.woken = False
        self.quits: list[str] = []  # what the UI's quit callback got

    def send(self, request: str, /, **fields: Any) -> bool:
        if self.up:
            self.sent.append((request, {k: v for k, v in fields.items() if v is not None}))
        return self.up

    def change_nick(self, nick: str) -> bool:
        self.nick_changes.append(nick)
        return self.up

    def reconnect_now(self) -> None:
        self.woken = True


@pytest.fixture
def ctx() -> commands.Context:
    model = ChatModel("alice")
    model.expect_join("#lobby")
    model.apply({"type": "join", "room": "#lobby", "from": "alice", "text": ""})
    conn = FakeConnection()
    return commands.Context(model, conn, conn.quits.append)  # type: ignore[arg-type]


def test_plain_text_goes_to_the_current_room(ctx) -> None:
    assert commands.execute(ctx, "hello")
    assert commands.execute(ctx, "//slash at start")
    assert ctx.connection.sent == [
        ("message", {"to": "#lobby", "text": "hello", "kind": "message"}),
        ("message", {"to": "#lobby", "text": "/slash at start", "kind": "message"}),
    ]
    assert not ctx.model.current.lines or ctx.model.current.lines[-1].kind == "join"


def test_me_join_part_topic_who_rooms(ctx) -> None:
    for line in ("/me waves", "/join dev", "/part", "/part #x gone home", "/topic",
                 "/topic new one", "/rooms", "/who #x"):
        assert commands.execute(ctx, line), line
    assert ctx.connection.sent == [
        ("message", {"to": "#lobby", "text": "waves", "kind": "action"}),
        ("join", {"room": "#dev"}),
        ("part", {"room": "#lobby"}),
        ("part", {"room": "#x", "reason": "gone home"}),
        ("topic", {"room": "#lobby"}),
        ("topic", {"room": "#lobby", "topic": "new one"}),
        ("rooms", {}),
        ("who", {"room": "#x"}),
    ]


def test_msg_opens_the_private_conversation(ctx) -> None:
    assert commands.execute(ctx, "/msg bob psst there")
    assert ctx.connection.sent == [("message", {"to": "bob", "text": "psst there"})]
    assert ctx.model.current.name == "bob" and ctx.model.current.kind == "private"
    assert commands.execute(ctx, "reply in private")
    assert ctx.connection.sent[-1][1]["to"] == "bob"


def test_nothing_sent_keeps_the_input_and_explains(ctx) -> None:
    ctx.connection.up = False
    assert not commands.execute(ctx, "hello")
    assert "Not connected" in ctx.model.current.lines[-1].text
    assert not commands.execute(ctx, "/nosuch")
    assert "Unknown command /nosuch" in ctx.model.current.lines[-1].text
    assert not commands.execute(ctx, "/join")
    assert "Usage: /join #room" in ctx.model.current.lines[-1].text


def test_server_tab_does_not_take_plain_text(ctx) -> None:
    ctx.model.select_index(0)
    assert not commands.execute(ctx, "hello")
    assert ctx.connection.sent == []


def test_help_lists_every_command(ctx) -> None:
    commands.execute(ctx, "/help")
    text = "\n".join(line.text for line in ctx.model.current.lines)
    for name in commands.COMMANDS:
        assert f"/{name}" in text


def test_quit_nick_reconnect(ctx) -> None:
    commands.execute(ctx, "/nick alicia")
    commands.execute(ctx, "/reconnect")
    commands.execute(ctx, "/quit see you")
    assert ctx.connection.nick_changes == ["alicia"] and ctx.connection.woken
    assert ctx.connection.quits == ["see you"]


def test_operator_and_status_commands(ctx) -> None:
    for line in ("/kick bob spamming", "/invite carol", "/invite dave #dev", "/mode",
                 "/mode +k secret", "/op bob", "/devoice bob", "/whois bob", "/away lunch",
                 "/back"):
        assert commands.execute(ctx, line), line
    assert ctx.connection.sent == [
        ("kick", {"room": "#lobby", "nick": "bob", "reason": "spamming"}),
        ("invite", {"nick": "carol", "room": "#lobby"}),
        ("invite", {"nick": "dave", "room": "#dev"}),
        ("mode", {"target": "#lobby"}),
        ("mode", {"target": "#lobby", "modes": "+k", "args": ["secret"]}),
        ("mode", {"target": "#lobby", "modes": "+o", "args": ["bob"]}),
        ("mode", {"target": "#lobby", "modes": "-v", "args": ["bob"]}),
        ("whois", {"nick": "bob"}),
        ("away", {"text": "lunch"}),
        ("away", {"text": ""}),
    ]
    assert not commands.execute(ctx, "/kick")  # usage, nothing sent
    assert len(ctx.connection.sent) == 10
