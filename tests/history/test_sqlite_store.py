"""What only the SQLite store does: persistence, migrations, refusing a bad file at open,
one server per data directory, and surviving a full disk."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest

from chat.history.records import Ban, Query, Record, Ref, RoomState
from chat.history.sqlite import (
    DB_NAME,
    MIGRATIONS,
    SCHEMA_V1,
    SCHEMA_VERSION,
    SqliteStore,
    open_data_dir,
)
from chat.history.store import StoreError

T0 = 1_700_000_000.0
WORKTREE = Path(__file__).resolve().parents[2]


def rec(n: int, room: str = "#room", text: str = "hello") -> Record:
    return Record(f"m{n}", T0 + n, room, "message", "alice", "al", "host.example", text)


def latest(store: SqliteStore, room: str = "#room") -> list[str]:
    return [r.msgid for r in store.query(Query(room, "latest", limit=1000))]


def test_records_and_rooms_survive_close_and_reopen(tmp_path: Path) -> None:
    state = RoomState("#Room", T0, "topic", "bob", T0 + 1, "nt", "", 5, (Ban("*!*@x", "op", T0),))
    store = open_data_dir(tmp_path / "data")
    store.append([rec(1), rec(2, room="#Room"), rec(3, room="#other")])
    store.save_rooms([state])
    store.close()
    store.close()  # twice is fine
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    store = open_data_dir(tmp_path / "data")
    try:
        assert latest(store) == ["m1", "m2"]
        assert [r.room for r in store.query(Query("#room", "latest"))] == ["#Room", "#Room"]
        assert latest(store, "#other") == ["m3"]
        assert store.load_rooms() == [state]
        store.append([rec(4)])
        assert latest(store) == ["m1", "m2", "m4"]
    finally:
        store.close()
    with pytest.raises(StoreError, match="closed"):
        store.query(Query("#room", "latest"))


def test_a_version_1_database_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.executescript("""
        INSERT INTO rooms (id, folded, name) VALUES (1, '#old', '#Old');
        INSERT INTO sources (id, nick, ident, host) VALUES (1, 'carol', 'c', 'h');
        INSERT INTO messages (room_id, ts, seq, kind, source_id, msgid, text, target)
            VALUES (1, 1700000000500, 1, 0, 1, 'v1-msg', 'from version 1', '');
        UPDATE counters SET value = 1 WHERE name = 'seq';
        PRAGMA user_version = 1;
    """)
    db.close()
    store = SqliteStore(path)
    try:
        assert store._read.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert SCHEMA_VERSION == len(MIGRATIONS) >= 2
        (record,) = store.query(Query("#old", "latest"))
        assert (record.msgid, record.ts, record.room, record.nick, record.text) == (
            "v1-msg", T0 + 0.5, "#Old", "carol", "from version 1")
        # The v2 message count was filled in, so the room cap sees the old message.
        assert store.prune(0, 0, batch=10) == 1
    finally:
        store.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}.*newer server"):
        SqliteStore(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match=f"{path}.*not a SQLite database"):
        SqliteStore(path)


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE accounts (id INTEGER)")
    db.close()
    with pytest.raises(StoreError, match="not a chat history"):
        SqliteStore(path)


def test_a_damaged_database_is_caught_by_verify(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    store = SqliteStore(path)
    store.append([rec(n, text="x" * 200) for n in range(200)])
    store.close()
    with path.open("r+b") as file:  # keep the header, wreck the pages after it
        file.seek(4096)
        file.write(os.urandom(os.path.getsize(path) - 4096))
    with pytest.raises(StoreError, match=str(path)):
        store = SqliteStore(path, verify=True)
        store.query(Query("#room", "latest"))  # in case the open itself got through


def test_a_second_server_on_the_same_data_dir_is_refused_until_the_first_closes(
        tmp_path: Path) -> None:
    first = open_data_dir(tmp_path)
    with pytest.raises(StoreError, match=f"another server is using {tmp_path}"):
        SqliteStore.open_data_dir(tmp_path)
    first.close()
    second = SqliteStore.open_data_dir(tmp_path)
    second.close()


_READ_ONLY_CHECK = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from chat.history.sqlite import SqliteStore
    from chat.history.store import StoreError
    try:
        SqliteStore(sys.argv[1])
    except StoreError as error:
        print(error)
        sys.exit(3)
""")


def _python_for_nobody() -> str | None:
    """A Python interpreter user ``nobody`` may run (root's own may sit under /root)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            done = subprocess.run([candidate, "-c", "pass"], user=65534, group=65534,
                                  capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return candidate
    return None


def test_a_read_only_database_is_refused_at_open(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        directory = tmp_path / "ro"
        directory.mkdir()
        SqliteStore(directory / DB_NAME).close()
        (directory / DB_NAME).chmod(0o400)
        directory.chmod(0o500)
        try:
            with pytest.raises(StoreError, match=f"{directory / DB_NAME}.*(read-only|writable)"):
                SqliteStore(directory / DB_NAME)
        finally:
            directory.chmod(0o700)
        return
    # Root ignores permissions: check as user nobody, in a directory nobody cannot write.
    python = _python_for_nobody()
    if python is None:
        pytest.skip("running as root and no Python that user nobody can run")
    directory = Path(tempfile.mkdtemp(prefix="chat-ro-"))
    try:
        directory.chmod(0o755)
        SqliteStore(directory / DB_NAME).close()
        (directory / DB_NAME).chmod(0o644)
        # A copy of the package nobody can read (the checkout may sit under /root).
        code = directory / "code"
        shutil.copytree(WORKTREE / "chat", code / "chat",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for path in [code, *code.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        done = subprocess.run([python, "-c", _READ_ONLY_CHECK, str(directory / DB_NAME),
                               str(code)], user=65534, group=65534, capture_output=True,
                              text=True, timeout=30, check=False, cwd=directory)
        assert done.returncode == 3, done.stdout + done.stderr
        assert str(directory / DB_NAME) in done.stdout
        assert "read-only" in done.stdout or "writable" in done.stdout
    finally:
        shutil.rmtree(directory)


def test_a_full_disk_fails_the_append_and_the_store_carries_on(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_NAME)
    try:
        store.append([rec(1)])
        pages = store._write.execute("PRAGMA page_count").fetchone()[0]
        store._write.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow
        with pytest.raises(StoreError, match="full"):
            store.append([rec(n, text="x" * 500) for n in range(2, 200)])
        assert latest(store) == ["m1"]  # nothing of the failed batch, reads still work
        assert [r.msgid for r in store.query(Query("#room", "before", Ref("m1")))] == []
        store._write.execute("PRAGMA max_page_count = 1073741823")  # space freed
        store.append([rec(2)])
        store.save_rooms([RoomState("#room", T0)])
        assert latest(store) == ["m1", "m2"]
    finally:
        store.close()


def test_reads_and_writes_run_from_two_threads(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_NAME)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for n in range(0, 400, 20):
                store.append([rec(k) for k in range(n, n + 20)])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        page = store.query(Query("#room", "latest", limit=1000))
        assert [r.seq for r in page] == sorted(r.seq for r in page)
        assert len(page) % 20 == 0  # whole batches only: each append is one transaction
    writer.join()
    assert len(store.query(Query("#room", "latest", limit=1000))) == 400
    store.close()
    assert not errors
