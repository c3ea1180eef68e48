"""Accounts in memory: for tests, and for servers started with ``--data-dir none``."""

from __future__ import annotations

import threading

from chat.accounts.records import Account, Scram
from chat.wire.names import fold


class MemoryAccounts:
    """The :class:`~chat.accounts.store.AccountStore` in a dict (one lock: two workers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {}

    def create_account(self, account: Account) -> bool:
        """Keep a new account unless the name is taken."""
        with self._lock:
            key = fold(account.name)
            if key in self._accounts:
                return False
            self._accounts[key] = account
            return True

    def get_account(self, name: str) -> Account | None:
        """The account called ``name``, or None."""
        with self._lock:
            return self._accounts.get(fold(name))

    def set_password(self, name: str, password_hash: str, scram: Scram) -> bool:
        """New credentials for an existing account."""
        with self._lock:
            key = fold(name)
            account = self._accounts.get(key)
            if account is None:
                return False
            self._accounts[key] = account._replace(password_hash=password_hash, scram=scram)
            return True

    def account_names(self) -> list[str]:
        """Every account's name."""
        with self._lock:
            return [account.name for account in self._accounts.values()]
