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


def test_short_forms_do_what_the_long_ones_do(ctx) -> None:
    for line in ("/j #dev", "/leave #dev bye", "/names #x", "/list", "/w bob"):
        assert commands.execute(ctx, line), line
    assert ctx.connection.sent == [
        ("join", {"room": "#dev"}),
        ("part", {"room": "#dev", "reason": "bye"}),
        ("who", {"room": "#x"}),
        ("rooms", {}),
        ("whois", {"nick": "bob"}),
    ]
    # /wc closes the conversation on screen: a private one goes at once.
    commands.execute(ctx, "/query bob")
    assert ctx.model.current.name == "bob"
    assert commands.execute(ctx, "/wc")
    assert ctx.model.get("bob") is None


def test_help_lists_short_forms_apart(ctx) -> None:
    commands.execute(ctx, "/help")
    text = "\n".join(line.text for line in ctx.model.current.lines)
    assert "/j = /join" in text and "/w = /whois" in text and "/win = /window" in text
    assert "  /j #room" not in text  # not a second row for each short form


def test_window_goes_to_a_conversation_by_number(ctx) -> None:
    for nick in ("bob", "carol", "dave"):
        ctx.model.open_private(nick, select=False)
    assert commands.execute(ctx, "/window 4")
    assert ctx.model.current.name == "carol"
    assert commands.execute(ctx, "/win 1")
    assert ctx.model.current is ctx.model.server
    assert not commands.execute(ctx, "/window 9")
    assert "No conversation 9: there are 5" in ctx.model.current.lines[-1].text
    assert not commands.execute(ctx, "/window")
    assert "Usage: /window N" in ctx.model.current.lines[-1].text


def test_say_sends_a_slash_line_as_text_and_notice_a_notice(ctx) -> None:
    assert commands.execute(ctx, "/say /quit is how you leave")
    assert commands.execute(ctx, "/notice bob the build is back")
    assert not commands.execute(ctx, "/notice bob")
    assert ctx.connection.sent == [
        ("message", {"to": "#lobby", "text": "/quit is how you leave", "kind": "message"}),
        ("message", {"to": "bob", "text": "the build is back", "kind": "notice"}),
    ]
    assert ctx.connection.quits == []


def test_ignore_hides_messages_and_is_saved(ctx) -> None:
    saved: list[list[str]] = []

    def save(ignored: list[str]) -> str:
        saved.append(list(ignored))
        return "in the test"

    ctx.save_ignore = save
    model = ctx.model
    assert commands.execute(ctx, "/ignore Spammer bot*")
    assert saved == [["Spammer", "bot*"]]
    assert "Ignoring Spammer, bot* (kept in the test)" in model.current.lines[-1].text
    for sender, text in (("spammer", "buy now"), ("botty", "beep"), ("bob", "hi all"),
                         ("[bot]", "not matched: brackets are not a pattern")):
        model.apply({"type": "message", "room": "#lobby", "to": "#lobby", "from": sender,
                     "text": text})
    model.apply({"type": "message", "room": None, "to": "alice", "from": "SPAMMER",
                 "text": "psst"})
    shown = [line.text for line in model.get("#lobby").lines if line.kind == "message"]
    assert shown == ["hi all", "not matched: brackets are not a pattern"]
    assert model.get("spammer") is None  # no private conversation opened either
    assert model.ignored_count == 3

    commands.execute(ctx, "/ignore")
    assert "Ignoring: Spammer, bot*." in model.current.lines[-1].text
    assert not commands.execute(ctx, "/ignore alice")  # ourselves
    assert commands.execute(ctx, "/unignore spammer")
    assert saved[-1] == ["bot*"]
    assert not commands.execute(ctx, "/unignore nobody")
    model.apply({"type": "message", "room": "#lobby", "to": "#lobby", "from": "spammer",
                 "text": "back"})
    assert model.get("#lobby").lines[-1].text == "back"


def test_mode_help_names_every_room_mode_the_server_takes(ctx) -> None:
    from chat.core.modes import ROOM_MODES

    commands.execute(ctx, "/help")
    line = next(x.text for x in ctx.model.current.lines if x.text.lstrip().startswith("/mode"))
    letters = line.rsplit(":", 1)[1].split()
    assert sorted(letters) == sorted(ROOM_MODES)
