"""The account store interface, implemented by the memory store and the SQLite store."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from chat.accounts.records import Account, Scram


@runtime_checkable
class AccountStore(Protocol):
    """Accounts by folded name. Called from the account workers only, never an engine thread."""

    def create_account(self, account: Account) -> bool:
        """Keep a new account; False (and nothing changed) if the name is taken."""

    def get_account(self, name: str) -> Account | None:
        """The account called ``name`` (any case), or None."""

    def set_password(self, name: str, password_hash: str, scram: Scram) -> bool:
        """Replace an account's credentials; False if there is no such account."""

    def account_names(self) -> list[str]:
        """Every account's name, for start-up (nick protection needs them in memory)."""
