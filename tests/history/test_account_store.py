"""The account store contract, run against the memory, SQLite and Redis stores; server bans
and room founders kept by every history store; account creation atomic across processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer

from chat.accounts.memory import MemoryAccounts
from chat.accounts.records import Account, Scram, ServerBan
from chat.accounts.redis_store import RedisAccounts
from chat.accounts.store import AccountStore
from chat.history.memory import MemoryStore
from chat.history.records import RoomState
from chat.history.redis_store import RedisStore
from chat.history.sqlite import SqliteStore

SCRAM = Scram(b"salt", b"stored", b"server", 4096)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AccountStore]:
    if request.param == "memory":
        yield MemoryAccounts()
        return
    if request.param == "redis":
        made = RedisAccounts.from_url(request.getfixturevalue("redis_server").url)
        yield made
        made.close()
        return
    store = SqliteStore(tmp_path / "chat.sqlite3")
    yield store
    store.close()


def test_accounts_are_created_once_per_name_in_any_case(accounts: AccountStore) -> None:
    assert isinstance(accounts, AccountStore)
    assert accounts.create_account(Account("Alice", "$argon2id$one", SCRAM, 1.0))
    assert not accounts.create_account(Account("alice", "$argon2id$two", SCRAM, 2.0))
    found = accounts.get_account("ALICE")
    assert found == Account("Alice", "$argon2id$one", SCRAM, 1.0)
    assert accounts.get_account("bob") is None
    assert accounts.account_names() == ["Alice"]


def test_a_password_change_replaces_both_credentials(accounts: AccountStore) -> None:
    accounts.create_account(Account("alice", "$argon2id$one", SCRAM, 1.0))
    new_scram = Scram(b"salt2", b"stored2", b"server2", 8192)
    assert accounts.set_password("ALICE", "$argon2id$new", new_scram)
    found = accounts.get_account("alice")
    assert found is not None and (found.password_hash, found.scram) == ("$argon2id$new", new_scram)
    assert not accounts.set_password("nobody", "$argon2id$x", SCRAM)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_server_bans_and_founders_are_kept(kind: str, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_server").url if kind == "redis" else ""

    def open_store() -> MemoryStore | SqliteStore | RedisStore:
        if kind == "redis":
            return RedisStore.from_url(url)
        return memory if kind == "memory" else SqliteStore(tmp_path / "chat.sqlite3")

    memory = MemoryStore()
    store = open_store()
    bans = [ServerBan("*!*@bad", "spam", "root", 10.0, 0.0),
            ServerBan("x!*@*", "flood", "root", 11.0, 99.0)]
    store.save_server_bans(bans)
    store.save_rooms([RoomState("#home", 1.0, founder="alice")])
    store.close()
    store = open_store()
    assert store.load_server_bans() == bans
    assert [r.founder for r in store.load_rooms()] == ["alice"]
    store.save_server_bans(bans[1:])
    assert store.load_server_bans() == bans[1:]
    store.close()


def test_the_sqlite_store_keeps_accounts_across_a_restart(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "chat.sqlite3")
    store.create_account(Account("alice", "$argon2id$one", SCRAM, 1.0))
    store.close()
    store = SqliteStore(tmp_path / "chat.sqlite3")
    try:
        assert store.get_account("alice") == Account("alice", "$argon2id$one", SCRAM, 1.0)
    finally:
        store.close()


def _register_many(url: str, threads: int, first: int) -> list[int]:
    """In one process: ``threads`` threads each register "Racer" with its own hash at once;
    the numbers of those that got it."""
    store = RedisAccounts.from_url(url)
    start = threading.Barrier(threads)
    won: list[int] = []

    def register(n: int) -> None:
        start.wait()
        if store.create_account(Account("RACER" if n % 2 else "racer", f"$argon2id${n}",
                                        SCRAM, float(n))):
            won.append(n)

    workers = [threading.Thread(target=register, args=(first + i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    store.close()
    return won


def test_a_hundred_concurrent_registrations_of_one_name_make_one_account(
        redis_server: RedisServer) -> None:
    """4 processes x 25 threads, each its own connection pool to one redis-server."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(_register_many,
                               [(redis_server.url, 25, 25 * p) for p in range(4)])
    winners = [n for won in results for n in won]
    assert len(winners) == 1
    store = RedisAccounts.from_url(redis_server.url)
    try:
        found = store.get_account("racer")
        assert found is not None and found.password_hash == f"$argon2id${winners[0]}"
        assert store.account_names() == [found.name]
    finally:
        store.close()
