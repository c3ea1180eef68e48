"""History over real sockets on both engines: the SQLite store in a temporary data directory,
the history thread's answers reaching clients through each engine, restarts, and start-up
failures of the real ``chat-server`` process (corrupt, locked data directory), ``kill -9``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import IrcClient
from support import (
    TEST_LIMITS,
    WAIT,
    Clients,
    LineClient,
    say_hello,
    start_server_process,
    wait_until,
)

from chat.config import ServerConfig
from chat.engines import BackgroundServer, serve_in_background
from chat.history.sqlite import decode_chunk


@contextmanager
def running(engine: str, data: Path, **changes: object) -> Iterator[Clients]:
    """A server of ``engine`` keeping its rooms and history in ``data``; stopped on exit."""
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5, data_dir=str(data),
                          **changes)  # type: ignore[arg-type]
    with serve_in_background(engine, config) as server:
        made = Clients(server)
        try:
            yield made
        finally:
            made.close_all()


def irc_client(server: BackgroundServer, nick: str, *rooms: str) -> IrcClient:
    client = IrcClient(server.host, server.port)
    client.cmd(f"NICK {nick}")
    client.cmd(f"USER {nick} 0 * :{nick}")
    client.numeric("376")
    for room in rooms:
        client.cmd(f"JOIN {room}")
        client.numeric("366")
    return client


def test_a_restart_keeps_rooms_and_history_for_every_dialect(engine: str,
                                                             tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running(engine, data) as made:
        op = irc_client(made.server, "op", "#keep")
        made.all.append(op)
        op.cmd("TOPIC #keep :kept across restarts")
        op.cmd("MODE #keep +tk sesame")
        op.cmd("MODE #keep +b *!*@banned.example")
        op.cmd("PRIVMSG #keep :from irc")
        op.sync()
        bot = made.bot("bot")
        bot.request(type="join", room="#keep", key="sesame")
        bot.expect_json(type="members", room="#keep")
        bot.request(type="message", to="#keep", text="from json")
        bot.expect_json(type="message", text="from json")
        person = made.human("person")
        person.send("/join #keep sesame\r\n")
        person.expect("--- end of #keep history ---")
        person.send("from telnet\r\n")
        person.expect("<person> from telnet")
    assert (data / "chat.sqlite3").exists() or any(data.iterdir())
    with running(engine, data) as made:
        late = made.human("late")
        late.send("/join #keep\r\n")
        late.expect("#keep needs the right key")  # the key survived
        late.send("/join #keep sesame\r\n")
        late.expect("kept across restarts")
        late.expect("--- #keep: the last 4 lines before you came ---")
        replayed = [late.line() for _ in range(4)]
        assert [line.split("> ", 1)[-1] for line in replayed[1:]] == [
            "from irc", "from json", "from telnet"]
        assert late.line() == "--- end of #keep history ---"
        bot = made.bot("bot2")
        bot.request(type="join", room="#keep", key="sesame")
        history = bot.expect_json(type="history", room="#keep", replay=True)
        assert [ev["text"] for ev in history["events"]][-3:] == [
            "from irc", "from json", "from telnet"]
        irc = irc_client(made.server, "ircuser")  # no capabilities: times in the text
        made.all.append(irc)
        irc.cmd("JOIN #keep sesame")
        irc.numeric("366")
        for text in ("from irc", "from json", "from telnet"):
            line = irc.verb("PRIVMSG")
            assert line.endswith(f"] {text}") and " :[" in line  # [HH:MM] then the text
        bot.request(type="mode", target="#keep", args=[], ref=1)
        modes = bot.expect_json(type="modes", ref=1)
        assert modes["modes"] == "+ntk"
        bot.request(type="mode", target="#keep", modes="+b", ref=2)
        assert [b["mask"] for b in bot.expect_json(type="bans", ref=2)["bans"]] == [
            "*!*@banned.example"]


def test_history_requests_are_answered_through_the_engine(engine: str, tmp_path: Path) -> None:
    """The answer comes from the history thread: the engine must be woken to send it."""
    with running(engine, tmp_path / "data") as made:
        alice = made.bot("alice", "#r")
        for n in range(30):
            alice.request(type="message", to="#r", text=f"m{n}")
        alice.expect_json(type="message", text="m29")
        alice.request(type="history", room="#r", limit=10, ref="a")
        page = alice.expect_json(type="history", ref="a")["events"]
        assert [ev["text"] for ev in page] == [f"m{n}" for n in range(20, 30)]
        alice.request(type="history", room="#r", before=page[0]["id"], limit=100, ref="b")
        older = alice.expect_json(type="history", ref="b")["events"]
        assert [ev["text"] for ev in older] == [f"m{n}" for n in range(20)]


# -- the real process: durability and start-up failures ------------------------------------


def start_process(data: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    return start_server_process(
        "--port", "0", "--http-port", "0", "--data-dir", str(data), "--rate-per-second", "0",
        "--shutdown-grace", "0.5", *extra)


def stored_count(data: Path) -> int:
    """Messages committed to the database, read as another process would."""
    db = sqlite3.connect(f"file:{data / 'chat.sqlite3'}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT first_ts, first_seq, data FROM chunks").fetchall()
        return sum(r.kind == "message" for row in rows for r in decode_chunk(*row))
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_kill_9_loses_nothing_committed_and_sigterm_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, port = start_process(data)
    try:
        alice = say_hello(LineClient("127.0.0.1", port), "alice", "#r")
        for n in range(50):
            alice.request(type="message", to="#r", text=f"before kill {n}")
        alice.expect_json(type="message", text="before kill 49")
        # Committed within the group-commit window (50 ms): wait for it, then kill -9.
        wait_until(lambda: stored_count(data) >= 50)
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT)
        alice.close()
        proc, port = start_process(data)
        bob = say_hello(LineClient("127.0.0.1", port), "bob")
        bob.request(type="join", room="#r")
        replay = bob.expect_json(type="history", replay=True)["events"]
        assert replay[-1]["text"] == "before kill 49"
        bob.request(type="history", room="#r", limit=100, ref=1)
        texts = [ev["text"] for ev in bob.expect_json(type="history", ref=1)["events"]]
        assert texts == [f"before kill {n}" for n in range(50)]
        for n in range(20):  # then SIGTERM at once: a clean stop commits what it holds
            bob.request(type="message", to="#r", text=f"before term {n}")
        bob.expect_json(type="message", text="before term 19")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
        bob.close()
        assert stored_count(data) == 70
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def failed_start(data: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "chat", "--port", "0", "--data-dir",
                             str(data)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


def test_a_corrupt_database_is_one_clear_error_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "chat.sqlite3").write_bytes(os.urandom(8192))
    error = failed_start(data)
    assert "cannot use the data directory" in error and "chat.sqlite3" in error


def test_a_data_directory_in_use_by_another_server_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, _ = start_process(data)
    try:
        error = failed_start(data)
        assert "another server" in error
    finally:
        proc.terminate()
        proc.wait(WAIT)


def test_a_data_directory_that_cannot_be_created_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    error = failed_start(blocker / "data")
    assert "cannot use the data directory" in error


def test_chathistory_is_answered_through_the_engine(engine: str, tmp_path: Path) -> None:
    with running(engine, tmp_path / "data") as made:
        bot = made.bot("talker", "#r")
        for n in range(5):
            bot.request(type="message", to="#r", text=f"line {n}")
        bot.expect_json(type="message", text="line 4")
        client = IrcClient(made.server.host, made.server.port)
        made.all.append(client)
        client.cmd("CAP LS 302")
        client.cmd("NICK reader")
        client.cmd("USER reader 0 * :reader")
        client.verb("CAP")
        client.cmd("CAP REQ :batch server-time message-tags draft/chathistory")
        client.expect(" ACK ")
        client.cmd("CAP END")
        client.numeric("376")
        client.cmd("JOIN #r")
        client.numeric("366")
        client.cmd("CHATHISTORY LATEST #r * 3")
        opened = client.verb("BATCH")
        assert " chathistory #r" in opened
        lines = [client.verb("PRIVMSG") for _ in range(3)]
        assert [line.rsplit(":", 1)[1] for line in lines] == ["line 2", "line 3", "line 4"]
        assert all("time=" in line and "msgid=" in line and "batch=" in line for line in lines)
        assert client.verb("BATCH").split()[-1].startswith("-")
        client.cmd("CHATHISTORY BEFORE #r timestamp=bogus 3")
        assert "FAIL CHATHISTORY" in client.expect("FAIL CHATHISTORY")
