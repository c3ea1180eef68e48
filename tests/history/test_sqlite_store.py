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

from chat.history.records import ALL_KINDS, Ban, Query, Record, Ref, RoomState, event_id
from chat.history.sqlite import (
    CHUNK_MAX,
    CHUNK_SPAN_MAX,
    DB_NAME,
    MIGRATIONS,
    SCHEMA_V1,
    SCHEMA_VERSION,
    SqliteStore,
    decode_chunk,
    open_data_dir,
)
from chat.history.store import StoreError

T0 = 1_700_000_000.0
WORKTREE = Path(__file__).resolve().parents[2]


def mid(n: int, ts: float | None = None) -> str:
    return event_id(T0 + n if ts is None else ts, "t0", n)


def name(msgid: str) -> str:
    return f"m{int(msgid[13:], 16)}"


def rec(n: int, room: str = "#room", text: str = "hello", ts: float | None = None) -> Record:
    ts = T0 + n if ts is None else ts
    return Record(mid(n, ts), ts, room, "message", "alice", "al", "host.example", text)


def latest(store: SqliteStore, room: str = "#room") -> list[str]:
    return [name(r.msgid) for r in store.query(Query(room, "latest", limit=1000))]


def page(store: SqliteStore, direction: str, ref: Ref | None = None, limit: int = 1000,
         end: Ref | None = None) -> list[str]:
    found = store.query(Query("#room", direction, ref, end, limit, ALL_KINDS))  # type: ignore[arg-type]
    return [name(r.msgid) for r in found]


def chunk_sizes(store: SqliteStore) -> list[int]:
    return [n for (n,) in store._read.execute(
        "SELECT count FROM chunks ORDER BY room_id, first_ts, first_seq")]


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
        INSERT INTO rooms (id, folded, name) VALUES (1, '#old', '#Old'), (2, '#b', '#b');
        INSERT INTO sources (id, nick, ident, host) VALUES (1, 'carol', 'c', 'h');
        INSERT INTO messages (room_id, ts, seq, kind, source_id, msgid, text, target)
            VALUES (1, 1700000000500, 1, 0, 1, 'v1-msg', 'from version 1', '');
        UPDATE counters SET value = 1 WHERE name = 'seq';
        PRAGMA user_version = 1;
    """)
    # Room #b: more than a chunk's worth, seqs interleaved the way several rooms write them.
    many = CHUNK_MAX + 10
    db.executemany("INSERT INTO messages (room_id, ts, seq, kind, source_id, msgid, text, "
                   "target) VALUES (2, ?, ?, 4, 1, ?, ?, '')",
                   [(round(T0 * 1000) + 10 * n, 10 + 3 * n, mid(n, T0 + n / 100), f"b{n}")
                    for n in range(many)])
    db.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (10 + 3 * many,))
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        assert store._read.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert SCHEMA_VERSION == len(MIGRATIONS) >= 3
        tables = {n for (n,) in store._read.execute("SELECT name FROM sqlite_master")}
        assert "messages" not in tables and "sources" not in tables
        assert chunk_sizes(store) == [1, CHUNK_MAX, 10]
        (record,) = store.query(Query("#old", "latest"))
        assert (record.msgid, record.ts, record.room, record.nick, record.text) == (
            "v1-msg", T0 + 0.5, "#Old", "carol", "from version 1")
        got = store.query(Query("#b", "latest", limit=10_000, kinds=None))
        assert [(r.msgid, r.ts, r.kind, r.text) for r in got] == [
            (mid(n, T0 + n / 100), (round(T0 * 1000) + 10 * n) / 1000, "join", f"b{n}")
            for n in range(many)]
        assert [r.seq for r in got] == sorted(r.seq for r in got)
        # Found by the time in their ids, across the chunk boundary.
        ref = Ref(mid(CHUNK_MAX, T0 + CHUNK_MAX / 100))
        before = store.query(Query("#b", "before", ref, limit=3, kinds=None))
        assert [r.text for r in before] == [f"b{n}" for n in range(CHUNK_MAX - 3, CHUNK_MAX)]
        # New records sort after the old ones.
        store.append([rec(many + 1, room="#b")])
        assert store.query(Query("#b", "latest", limit=1, kinds=None))[0].seq > got[-1].seq
        # The counts were carried over, so the room cap sees the old messages.
        assert store.prune(0, 0, batch=1) == 1
        assert store.prune(0, 0, batch=10_000) == many + 1
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
        assert [r.msgid for r in store.query(Query("#room", "before", Ref(mid(1))))] == []
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


# -- chunks -----------------------------------------------------------------------------------


def test_one_chunk_per_room_per_append_split_past_the_maximum(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_NAME)
    try:
        store.append([rec(n, room="#room" if n % 3 else "#Other") for n in range(1, 10)])
        assert sorted(chunk_sizes(store)) == [3, 6]
        store.append([rec(n, ts=T0 + 10 + n / 1000) for n in range(10, 10 + CHUNK_MAX + 5)])
        assert sorted(chunk_sizes(store)) == [3, 5, 6, CHUNK_MAX]
        ids = latest(store)
        assert ids == [f"m{n}" for n in range(1, 10 + CHUNK_MAX + 5) if n % 3 or n >= 10]
        # A clock jump forward inside one append: no chunk spans more than CHUNK_SPAN_MAX.
        store.append([rec(1000, room="#y"), rec(1001, room="#y"),
                      rec(1002, room="#y", ts=T0 + 1001 + CHUNK_SPAN_MAX / 1000 + 0.001)])
        assert [r.room for r in store.query(Query("#y", "latest"))] == ["#y"] * 3
        assert chunk_sizes(store).count(2) == 1 and chunk_sizes(store).count(1) == 1
        # One room under two spellings in one append: one chunk, in order, the last name.
        store.append([rec(2000, room="#x"), rec(2001, room="#X"), rec(2002, room="#x")])
        got = store.query(Query("#x", "latest"))
        assert [(name(r.msgid), r.room) for r in got] == [
            ("m2000", "#x"), ("m2001", "#x"), ("m2002", "#x")]
        assert chunk_sizes(store).count(3) == 2
    finally:
        store.close()


def test_pages_across_many_chunks_match_a_plain_list(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_NAME)
    try:
        n = 0
        for size in [1, 7, 1, 50, 3, CHUNK_MAX + 1, 2, 1, 40]:
            store.append([rec(k) for k in range(n, n + size)])
            n += size
        everything = [f"m{k}" for k in range(n)]
        assert page(store, "latest") == everything
        for limit in (1, 5, 60, 700):
            assert page(store, "latest", limit=limit) == everything[-limit:]
            for at in (0, 1, 9, 10, 62, 300, n - 1):
                ref = Ref(mid(at))
                assert page(store, "before", ref, limit) == everything[max(0, at - limit):at]
                assert page(store, "after", ref, limit) == everything[at + 1:at + 1 + limit]
                half = limit // 2
                assert page(store, "around", ref, limit) == (
                    everything[max(0, at - half):at] + everything[at:at + limit - half])
                assert page(store, "before", Ref(ts=T0 + at), limit) == everything[
                    max(0, at - limit):at]
            assert page(store, "between", Ref(mid(3)), limit, Ref(mid(600))) == everything[
                4:min(600, 4 + limit)]
            assert page(store, "between", Ref(mid(600)), limit, Ref(mid(3))) == everything[
                max(4, 600 - limit):600]
    finally:
        store.close()


def test_a_clock_step_back_splits_chunks_and_pages_stay_in_order(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_NAME)
    try:
        # Within one append: a chunk ends where the time steps back.
        store.append([rec(10), rec(11), rec(12), rec(13, ts=T0 + 5), rec(14, ts=T0 + 6)])
        assert chunk_sizes(store) == [2, 3]
        # Between appends: chunks overlapping in time (an hour back, then forward again).
        store.append([rec(15, ts=T0 - 3600), rec(16, ts=T0 + 11.5), rec(17, ts=T0 + 20)])
        store.append([rec(18, ts=T0 + 5.5), rec(19, ts=T0 + 30)])
        order = ["m15", "m13", "m18", "m14", "m10", "m11", "m16", "m12", "m17", "m19"]
        assert page(store, "latest") == order
        for at, _ in enumerate(order):
            msgid = next(r.msgid for r in store.query(Query("#room", "latest", limit=100))
                         if name(r.msgid) == order[at])
            for limit in (1, 2, 3, 20):
                assert page(store, "before", Ref(msgid), limit) == order[max(0, at - limit):at]
                assert page(store, "after", Ref(msgid), limit) == order[at + 1:at + 1 + limit]
        assert page(store, "latest", limit=3) == order[-3:]
        assert [t.latest for t in store.targets(["#room"], T0, T0 + 11.9, 5)] == [T0 + 11.5]
    finally:
        store.close()


def test_fields_with_nul_or_unicode_survive(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_NAME)
    try:
        store.append([rec(1, text="a\0b"), rec(2, text="héllo ☃ \U0001f600"), rec(3, text="")])
        assert [r.text for r in store.query(Query("#room", "latest"))] == [
            "a\0b", "héllo ☃ \U0001f600", ""]
        store.append([rec(4, text="plain")])
        rows = store._read.execute("SELECT first_ts, first_seq, data FROM chunks").fetchall()
        assert [r.text for row in rows for r in decode_chunk(*row)] == [
            "a\0b", "héllo ☃ \U0001f600", "", "plain"]
    finally:
        store.close()


def test_prune_deletes_whole_chunks(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_NAME)
    try:
        store.append([rec(n) for n in range(1, 6)])  # one chunk of 5
        store.append([rec(n) for n in range(6, 9)])  # one of 3
        # By age: a chunk goes only once its newest record is old.
        assert store.prune(T0 + 5, 1000, batch=100) == 0
        assert store.prune(T0 + 6, 1000, batch=100) == 5
        store.append([rec(n) for n in range(9, 13)])  # 3 + 4 kept
        # By cap: the room keeps at least the cap, up to one chunk more.
        assert store.prune(0, 5, batch=100) == 0  # 7 records, dropping 3 would leave 4
        assert store.prune(0, 4, batch=100) == 3
        assert latest(store) == [f"m{n}" for n in range(9, 13)]
        # A chunk bigger than the batch still goes, alone.
        assert store.prune(0, 0, batch=2) == 4
        assert latest(store) == []
        assert store._read.execute("SELECT count FROM rooms").fetchone()[0] == 0
    finally:
        store.close()


def test_a_version_4_database_gains_empty_exception_lists_and_keeps_its_rooms(
        tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    db = sqlite3.connect(path)
    for step in MIGRATIONS[:4]:
        if callable(step):
            step(db)
        else:
            db.executescript(step)
    db.execute("INSERT INTO room_state (folded, name, created, topic, topic_by, topic_at, "
               "modes, key, \"limit\", bans, founder) VALUES ('#old', '#Old', ?, 'kept', "
               "'alice', ?, 'int', 'k', 5, '[[\"bad!*@*\", \"alice\", 1.5]]', 'alice')",
               (T0, T0 + 1))
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        assert store._read.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        assert store.load_rooms() == [RoomState("#Old", T0, "kept", "alice", T0 + 1, "int", "k",
                                                5, (Ban("bad!*@*", "alice", 1.5),), "alice")]
        grown = RoomState("#Old", T0, modes="int", excepts=(Ban("friend!*@*", "alice", T0),),
                          invex=(Ban("guest!*@*", "alice", T0),))
        store.save_rooms([grown])
    finally:
        store.close()
    reopened = SqliteStore(path)
    try:
        assert reopened.load_rooms() == [grown]
    finally:
        reopened.close()



def test_a_data_dir_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    a_file = tmp_path / "chat-data"
    a_file.write_text("not a directory")
    with pytest.raises(StoreError, match=f"{a_file} is a file, not a directory"):
        open_data_dir(a_file)
