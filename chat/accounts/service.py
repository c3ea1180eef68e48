"""The account workers: password hashing and checking on threads of their own.

An argon2 hash takes tens of milliseconds by design; done on the event loop or under the
threaded engine's lock it would stall every client for that long. The core hands each request
over as an :class:`~chat.core.events.Authenticate` effect; a worker hashes or verifies, talks to
the store, and hands a result back through the hub's inbox (the same path history answers
take). ``threaded=False`` does it at once on the caller's thread, for the in-memory tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import scramp

from chat.accounts.passwords import SCRAM, SCRAM_ITERATIONS, Hasher
from chat.accounts.records import Account
from chat.accounts.store import AccountStore
from chat.config import ServerConfig
from chat.core import events as e
from chat.history.store import StoreUnavailable
from chat.wire.names import fold

log = logging.getLogger("chat.accounts")

#: Requests waiting for a worker; beyond this a request fails at once as "busy".
MAX_PENDING = 64
WORKERS = 2
#: How much nicer (lower priority) than the rest of the server the workers run (Linux: a
#: thread's own nice value).
WORKER_NICE = 10

Done = Callable[[e.Authenticate, e.AuthResult], None]


class AuthService:
    """Registers accounts, checks and changes passwords, off the engines' threads."""

    def __init__(self, store: AccountStore, hasher: Hasher | None = None, *,
                 threaded: bool = True, clock: Callable[[], float] = time.time,
                 operators: tuple[tuple[str, str], ...] = ()) -> None:
        self.store = store
        self.operators = {fold(name): (name, password_hash) for name, password_hash in operators}
        self.hasher = hasher or Hasher()
        self.threaded = threaded
        self.clock = clock
        self._queue: queue.Queue[tuple[e.Authenticate, Done] | None] = queue.Queue(MAX_PENDING)
        self._workers: list[threading.Thread] = []
        self._scram = ScramExchanges(store)
        #: Closes the store when the service owns it (Redis); the SQLite store is the
        #: history's and is closed with it.
        self.close_store: Callable[[], None] | None = None

    def names(self) -> list[str]:
        """Every account name (at start, for nick protection and registration checks)."""
        return self.store.account_names()

    def start(self) -> None:
        """Start the worker threads (threaded mode)."""
        if self.threaded and not self._workers:
            for n in range(WORKERS):
                worker = threading.Thread(target=self._main, name=f"chat-accounts-{n}",
                                          daemon=True)
                worker.start()
                self._workers.append(worker)

    def close(self) -> None:
        """Let the workers finish what they hold, then stop them."""
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
        self._workers = []
        if self.close_store is not None:
            self.close_store()
            self.close_store = None

    def submit(self, request: e.Authenticate, done: Done) -> None:
        """Handle ``request`` soon and call ``done`` with the result (from a worker thread)."""
        if not self.threaded:
            done(request, self._handle(request))
            return
        try:
            self._queue.put_nowait((request, done))
        except queue.Full:
            done(request, e.AuthResult(False, request.account, "busy"))

    def _main(self) -> None:
        # Hashing is the one CPU-heavy thing the server does: scheduled only when the engine's
        # threads leave the CPU idle (Linux SCHED_IDLE; elsewhere a lower priority), a burst
        # of logins waits for chat, never the other way round.
        tid = threading.get_native_id()
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except (OSError, AttributeError):
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, tid, WORKER_NICE)
        while (item := self._queue.get()) is not None:
            request, done = item
            try:
                result = self._handle(request)
            except StoreUnavailable as exc:  # Redis away: one clear line, no traceback
                log.error("account request %s failed: %s", request.op, exc)
                result = e.AuthResult(False, request.account, "error")
            except Exception:  # a store failure: the asker is told, the worker goes on
                log.exception("account request %s failed", request.op)
                result = e.AuthResult(False, request.account, "error")
            done(request, result)

    def _handle(self, request: e.Authenticate) -> e.AuthResult:
        op = request.op
        if op == "scram-first":
            return self._scram.first(request.conn, request.password)
        if op == "scram-final":
            return self._scram.final(request.conn, request.password)
        name = request.account
        if op == "oper":
            found = self.operators.get(fold(name))
            ok = self.hasher.verify(found[1] if found else None, request.password)
            return e.AuthResult(ok and found is not None, found[0] if found else name,
                                "" if ok else "wrong")
        if op == "register":
            password_hash, scram = self.hasher.hash(request.password)
            made = self.store.create_account(Account(name, password_hash, scram, self.clock()))
            return e.AuthResult(made, name, "" if made else "taken")
        account = self.store.get_account(name)
        ok = self.hasher.verify(account.password_hash if account else None, request.password)
        if not ok or account is None:
            return e.AuthResult(False, name, "wrong")
        if op == "password":
            password_hash, scram = self.hasher.hash(request.new_password)
            if not self.store.set_password(account.name, password_hash, scram):
                return e.AuthResult(False, name, "wrong")
        return e.AuthResult(True, account.name)


def open_accounts(config: ServerConfig, store: object | None) -> AuthService:
    """The account workers over Redis in cluster mode (every node sees one set of accounts),
    else over ``store`` when it keeps accounts too (SQLite), else memory."""
    from chat.accounts.memory import MemoryAccounts

    accounts: AccountStore = MemoryAccounts()
    if config.cluster:
        from chat.accounts.redis_store import RedisAccounts

        redis_accounts = accounts = RedisAccounts.from_url(config.cluster)
    elif isinstance(store, AccountStore):
        accounts = store
    hasher = Hasher(config.password_hash_time, config.password_hash_memory)
    service = AuthService(accounts, hasher, operators=config.operators)
    if config.cluster:
        service.close_store = redis_accounts.close
    return service


class ScramExchanges:
    """SCRAM-SHA-256 exchanges between their two steps, per connection (bounded)."""

    #: Exchanges held at once; the oldest is forgotten first (its client then fails).
    MAX_HELD = 1000

    def __init__(self, store: AccountStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._held: OrderedDict[int, tuple[Any, str]] = OrderedDict()
        self._secret = secrets.token_bytes(32)  # for stand-in credentials

    def first(self, conn: int, message: str) -> e.AuthResult:
        """The client-first message: look the account up, answer with server-first."""
        names: list[str] = []

        def credentials(name: str) -> tuple[bytes, bytes, bytes, int]:
            names.append(name)
            account = self.store.get_account(name) if len(name) <= 64 else None
            if account is None:  # a stand-in that fails later, exactly like a wrong password
                return self._stand_in(name)
            return tuple(account.scram)  # type: ignore[return-value]

        server = SCRAM.make_server(credentials)
        try:
            server.set_client_first(message)
            reply = server.get_server_first()
        except scramp.ScramException:
            return e.AuthResult(False, names[0] if names else "", "wrong")
        with self._lock:
            self._held[conn] = (server, names[0])
            while len(self._held) > self.MAX_HELD:
                self._held.popitem(last=False)
        return e.AuthResult(True, names[0], reply=reply)

    def final(self, conn: int, message: str) -> e.AuthResult:
        """The client-final message: check the proof, answer with server-final."""
        with self._lock:
            held = self._held.pop(conn, None)
        if held is None:
            return e.AuthResult(False, "", "wrong")
        server, name = held
        try:
            server.set_client_final(message)
            reply = server.get_server_final()
        except scramp.ScramException:
            return e.AuthResult(False, name, "wrong")
        account = self.store.get_account(name)
        if account is None:
            return e.AuthResult(False, name, "wrong")
        return e.AuthResult(True, account.name, reply=reply)

    def _stand_in(self, name: str) -> tuple[bytes, bytes, bytes, int]:
        """The same made-up credentials for a name every time: retrying says nothing."""
        seed = hmac.new(self._secret, name.encode(), hashlib.sha256).digest()
        return seed[:16], hashlib.sha256(seed + b"s").digest(), hashlib.sha256(
            seed + b"k").digest(), SCRAM_ITERATIONS
