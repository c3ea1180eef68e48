"""Client accounts: ``--login``, logging in before joining (and again after a reconnect),
``/register`` ``/login`` ``/logout`` ``/password`` with the password kept out of the input history
and the scrollback, the account in the status bar. The connection against a fake socket first,
then the real app against a real server of each engine."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from client_harness import clients_fixture  # noqa: F401  (provides `clients`)
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.layout.processors import TransformationInput
from prompt_toolkit.output import DummyOutput
from support import TEST_LIMITS

from chat.config import ServerConfig
from client import cli
from client.app import ChatApp
from client.commands import secret_spans
from client.connection import Connection
from client.layout import MaskPasswords, status_fragments
from client.model import ChatModel, ConnState

PASSWORD = "correct-horse"
SPACED = "with some spaces"  # /register takes the rest of the line
WRONG = "wrong-password"
ENTER = "\r"


@pytest.fixture
def server_config() -> ServerConfig:
    """The real server with cheap password hashing (the default costs ~30 ms a hash)."""
    return ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5, password_hash_time=1,
                        password_hash_memory=64)


class FakeWriter:
    """Collects what the connection writes, as request dicts."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.sent.extend(json.loads(line) for line in data.splitlines())

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def types(self) -> list[str]:
        return [r["type"] for r in self.sent]


def welcome(nick: str = "alice") -> dict[str, Any]:
    return {"type": "welcome", "nick": nick, "server": "s", "text": "hi", "limits": {}}


def session(conn: Connection) -> FakeWriter:
    """A new session: what ``_session`` does before the server's welcome, then the welcome."""
    writer = FakeWriter()
    conn._writer = writer  # type: ignore[assignment]
    conn._account_asks.clear()
    conn._login_ref = None
    conn.model.set_state(ConnState.REGISTERING)
    conn._handle(welcome(conn.model.nick))
    return writer


def drop(conn: Connection) -> None:
    conn._writer = None
    conn.model.connection_lost()
    conn.model.set_state(ConnState.DISCONNECTED)


def answer(conn: Connection, request: dict[str, Any], status: str = "logged_in",
           account: str = "alice") -> None:
    conn._handle({"type": "account", "account": account, "status": status,
                  "text": f"You are now logged in as {account}", "ref": request["ref"]})


def error(conn: Connection, request: dict[str, Any], code: str, text: str) -> None:
    conn._handle({"type": "error", "code": code, "text": text, "ref": request["ref"]})


def all_text(model: ChatModel) -> str:
    return "\n".join(line.text for conv in model.conversations.values() for line in conv.lines)


def status(model: ChatModel) -> str:
    return "".join(t for _, t, *_ in status_fragments(model))


# -- the connection, against a fake socket -------------------------------------------------------

def test_login_goes_before_the_joins_on_connect_and_after_a_reconnect() -> None:
    model = ChatModel("alice")
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a", "#b"], password=PASSWORD)
    writer = session(conn)
    assert writer.types() == ["login"]  # nothing joined before the answer
    login = writer.sent[0]
    assert login["account"] == "alice" and login["password"] == PASSWORD and login["ref"]
    assert conn.logging_in and "logging in as alice" in status(model)

    answer(conn, login)
    assert writer.types() == ["login", "join", "join"]
    assert model.account == "alice" and not conn.logging_in
    assert "alice (logged in) in" in status(model)
    for room in ("#a", "#b"):
        conn._handle({"type": "join", "room": room, "from": "alice", "text": ""})

    drop(conn)
    assert model.account is None and "logged in" not in status(model)
    writer = session(conn)
    assert writer.types() == ["login"]
    answer(conn, writer.sent[0])
    assert writer.types() == ["login", "join", "join"]
    assert [r["room"] for r in writer.sent[1:]] == ["#a", "#b"]
    assert model.account == "alice"
    assert PASSWORD not in all_text(model)


def test_rooms_held_back_by_a_login_are_joined_after_a_drop() -> None:
    model = ChatModel("alice")
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a"], password=PASSWORD)
    assert session(conn).types() == ["login"]
    drop(conn)  # before the login was answered: #a was never joined
    writer = session(conn)
    answer(conn, writer.sent[0])
    assert [(r["type"], r.get("room")) for r in writer.sent] == [("login", None), ("join", "#a")]


def test_the_account_is_kept_when_the_nick_comes_back_as_a_variant() -> None:
    model = ChatModel("alice")
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a"], account="alice", password=PASSWORD)
    answer(conn, session(conn).sent[0])
    drop(conn)
    model.set_nick("alice_")  # our ghost still held the nick
    writer = session(conn)
    assert writer.sent[0]["account"] == "alice"
    answer(conn, writer.sent[0])
    assert "alice_ (logged in as alice)" in status(model)


def test_a_failed_login_is_said_once_and_the_wrong_password_is_not_tried_again() -> None:
    model = ChatModel("alice")
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a"], password=WRONG)
    writer = session(conn)
    error(conn, writer.sent[0], "login_failed", "Wrong account name or password")
    assert writer.types() == ["login", "join"]  # still joins, without an account
    assert model.state is ConnState.CONNECTED and model.account is None
    text = all_text(model)
    assert text.count("Could not log in as alice: Wrong account name or password.") == 1
    assert "connected without an account" in text and WRONG not in text

    conn._handle({"type": "join", "room": "#a", "from": "alice", "text": ""})
    drop(conn)
    writer = session(conn)
    assert writer.types() == ["join"]  # no login with the wrong password again
    assert all_text(model).count("Could not log in") == 1


def test_a_throttled_login_is_not_retried_at_each_reconnect() -> None:
    model = ChatModel("alice")
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a"], password=PASSWORD)
    writer = session(conn)
    error(conn, writer.sent[0], "login_throttled", "Too many failed logins; wait a minute")
    assert writer.types() == ["login", "join"]
    conn._handle({"type": "join", "room": "#a", "from": "alice", "text": ""})
    for _ in range(3):
        drop(conn)
        assert session(conn).types() == ["join"]
    assert all_text(model).count("Could not log in") == 1
    # A /login that works clears the pause.
    assert conn.login(None, PASSWORD)
    answer(conn, conn._writer.sent[-1])  # type: ignore[union-attr]
    drop(conn)
    assert session(conn).types() == ["login"]


async def test_no_answer_to_the_login_joins_after_the_timeout() -> None:
    model = ChatModel("alice")
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a"], password=PASSWORD,
                      login_timeout=0.05)
    reader = asyncio.StreamReader()
    writer = FakeWriter()
    reader.feed_data(json.dumps(welcome()).encode() + b"\n")
    task = asyncio.create_task(conn._session(reader, writer))  # type: ignore[arg-type]
    for _ in range(200):
        if "join" in writer.types():
            break
        await asyncio.sleep(0.01)
    assert writer.types()[:3] == ["hello", "login", "join"]
    assert "did not answer the login as alice in time" in all_text(model)
    reader.feed_eof()
    await asyncio.wait_for(task, 5)


def test_login_register_password_and_logout_change_what_reconnects_use() -> None:
    model = ChatModel("alice")
    conn = Connection(model, "127.0.0.1", 1, rooms=["#a"])
    writer = session(conn)
    assert writer.types() == ["join"]  # no credentials: no login

    assert conn.login("bob", "first-pw")  # wrong: nothing remembered
    error(conn, writer.sent[-1], "login_failed", "Wrong account name or password")
    assert conn.login_account is None
    assert conn.register("second-pw")
    assert writer.sent[-1] == {"type": "register", "password": "second-pw",
                               "ref": writer.sent[-1]["ref"]}
    answer(conn, writer.sent[-1], "registered")
    assert conn.login_account == "alice" and model.account == "alice"
    assert conn.change_password("second-pw", "third-pw")
    answer(conn, writer.sent[-1], "password_changed")
    drop(conn)
    writer = session(conn)
    assert writer.sent[0]["type"] == "login" and writer.sent[0]["password"] == "third-pw"
    answer(conn, writer.sent[0])

    assert conn.logout()
    conn._handle({"type": "account", "account": None, "status": "logged_out", "text": "Bye",
                  "ref": writer.sent[-1]["ref"]})
    assert model.account is None and conn.login_account is None
    drop(conn)
    assert "login" not in session(conn).types()


def test_account_notify_updates_members() -> None:
    model = ChatModel("alice")
    model.apply({"type": "join", "room": "#a", "from": "alice", "text": ""})
    model.apply({"type": "members", "room": "#a", "members": [{"nick": "alice"}, {"nick": "Bob"}]})
    model.apply({"type": "account_notify", "nick": "bob", "account": "bobby"})
    assert model.get("#a").members["bob"].account == "bobby"
    model.apply({"type": "account_notify", "nick": "bob", "account": None})
    assert model.get("#a").members["bob"].account is None


# -- the input line: passwords stay out of the history and the scrollback ------------------------

async def test_login_is_masked_and_never_in_the_history_or_the_scrollback() -> None:
    with create_pipe_input() as pipe:
        app = ChatApp("127.0.0.1", 1, "alice", ["#a"], input=pipe, output=DummyOutput())
        conn, model, buf = app.connection, app.model, app.input_buffer
        writer = session(conn)
        buf.text = "hello before"
        buf.validate_and_handle()  # not connected to a room: an error, but kept in history

        for line in (f"/login alice {PASSWORD}", f"/identify {PASSWORD}",
                     f"/register {SPACED}", f"/password {PASSWORD} new-password",
                     "/login", f"/LOGIN alice {PASSWORD}"):
            buf.text = line
            buf.validate_and_handle()
            assert buf.text == ""

        history = list(buf.history.get_strings())
        assert history == ["hello before"]
        text = all_text(model)
        assert PASSWORD not in text and "new-password" not in text and "spaces" not in text
        assert "/login alice ********" in text and "/identify ********" in text
        assert "/register ********" in text and "/password ******** ********" in text
        assert "Usage: /login [account] password" in text
        logins = [r for r in writer.sent if r["type"] == "login"]
        assert [(r.get("account"), r["password"]) for r in logins] == [
            ("alice", PASSWORD), ("alice", PASSWORD), ("alice", PASSWORD)]
        assert writer.sent[3] == {"type": "register", "password": SPACED,
                                  "ref": writer.sent[3]["ref"]}


def test_the_password_is_shown_as_stars_while_typed() -> None:
    assert secret_spans("/login alice secret") == [(13, 19)]
    assert secret_spans("/login secret") == [(7, 13)]
    assert secret_spans("/register two words") == [(10, 19)]
    assert secret_spans("/password old new") == [(10, 17)]
    assert secret_spans("/join #a") == secret_spans("hello") == secret_spans("/login") == []

    from prompt_toolkit.document import Document
    doc = Document("/login alice hunter22")
    ti = TransformationInput(None, doc, 0, lambda i: i, [("", doc.text)], 80, 1)  # type: ignore[arg-type]
    shown = "".join(t for _, t, *_ in MaskPasswords().apply_transformation(ti).fragments)
    assert shown == "/login alice ********"


# -- the command line --------------------------------------------------------------------------

def test_the_password_comes_from_the_environment_or_a_prompt(monkeypatch) -> None:
    monkeypatch.setenv("CHAT_PASSWORD", PASSWORD)
    assert cli.read_password("alice") == PASSWORD
    monkeypatch.delenv("CHAT_PASSWORD")
    asked: list[str] = []
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: asked.append(prompt) or "typed")
    assert cli.read_password("alice") == "typed" and asked == ["Password for alice: "]
    args = cli.parse_args(["--login", "--nick", "bob"])
    assert args.login == "" and args.nick == "bob"
    assert cli.parse_args(["--login", "carol"]).login == "carol"
    assert cli.parse_args([]).login is None


# -- the real app against a real server ----------------------------------------------------------

def spy(driver: Any) -> list[dict[str, Any]]:
    """Every request the driver's connection writes from now on."""
    conn = driver.app.connection
    sent: list[dict[str, Any]] = []
    write = conn._write

    def recording(data: bytes) -> None:
        sent.extend(json.loads(line) for line in data.splitlines())
        write(data)

    conn._write = recording
    return sent


def status_bar(driver: Any) -> str:
    return status(driver.model)


async def test_register_then_a_reconnect_logs_in_again(clients) -> None:
    alice = await clients.start("alice")
    bob = await clients.start("bob")
    alice.type(f"/register {PASSWORD}" + ENTER)
    await alice.wait(lambda: alice.model.account == "alice", "registered")
    assert "alice (logged in)" in status_bar(alice)
    assert "/register ********" in alice.text(alice.model.current.name)
    assert PASSWORD not in all_text(alice.model)
    assert PASSWORD not in list(alice.app.input_buffer.history.get_strings())
    await bob.wait(lambda: bob.model.get("#lobby").members["alice"].account == "alice",
                   "account_notify")

    sent = spy(alice)
    alice.app.connection._writer.transport.abort()
    await alice.wait(lambda: alice.model.state is not ConnState.CONNECTED, "disconnected")
    await alice.wait(lambda: alice.model.account == "alice", "logged in again")
    await alice.wait_joined("#lobby", alice.model.nick)
    assert [r["type"] for r in sent if r["type"] in ("login", "join")][:2] == ["login", "join"]
    assert "logged in" in status_bar(alice)
    # Others can see the account again (the structured join does not carry it).
    bob.type(f"/whois {alice.model.nick}" + ENTER)
    await bob.wait(lambda: "logged in as alice" in bob.text(), "whois shows the account")


async def test_a_wrong_chat_password_is_said_and_the_client_stays_connected(
        clients, monkeypatch) -> None:
    owner = await clients.start("alice")
    owner.type(f"/register {PASSWORD}" + ENTER)
    await owner.wait(lambda: owner.model.account == "alice", "registered")
    await owner.quit()

    monkeypatch.setenv("CHAT_PASSWORD", WRONG)
    alice = await clients.start("alice", password=cli.read_password("alice"))
    await alice.wait(lambda: "Could not log in" in all_text(alice.model), "the error")
    await alice.wait_joined("#lobby", "alice")
    assert alice.model.account is None and alice.model.state is ConnState.CONNECTED
    text = all_text(alice.model)
    assert "Could not log in as alice: Wrong account name or password." in text
    assert text.count("Could not log in") == 1 and WRONG not in text
    assert "logged in" not in status_bar(alice)

    alice.type(f"/login {PASSWORD}" + ENTER)
    await alice.wait(lambda: alice.model.account == "alice", "/login works")
    assert "alice (logged in)" in status_bar(alice)
