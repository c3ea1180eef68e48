"""Accounts in Redis, shared by every node of a cluster (``--cluster redis://...``).

Layout (under ``chat:a:`` by default):

- ``names``: a hash, folded account name to the name as chosen. Claiming a name is
  ``HSETNX`` on it, inside the creation script: of any number of nodes registering one name at
  once, exactly one gets it.
- ``acct:<folded>``: a hash per account: ``name``, ``hash`` (argon2id), ``salt``, ``stored``,
  ``server``, ``iterations`` (SCRAM-SHA-256), ``created``. Written by the same script that
  claims the name, so an account is never seen half made.

A password change is a script too: it replaces the credentials only if the account exists,
so a change racing an (impossible today) deletion never resurrects an account.
"""

from __future__ import annotations

from typing import cast

import redis

from chat.accounts.records import Account, Scram
from chat.history.redis_store import connect, redis_errors, where
from chat.wire.names import fold

#: KEYS = names hash, account hash; ARGV = folded name, then the account's fields as
#: field/value pairs. 1 if made, 0 if the name was taken.
_CREATE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 1
"""

#: KEYS = account hash; ARGV = field/value pairs. 1 if changed, 0 if there is no account.
_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class RedisAccounts:
    """The :class:`~chat.accounts.store.AccountStore` in Redis (see the module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str = "chat:a:") -> None:
        self.client = client
        self.where = where(client)
        self.prefix = prefix
        self._names_key = prefix + "names"
        self._create = client.register_script(_CREATE)
        self._set = client.register_script(_SET)
        with redis_errors("connecting to", self.where):
            client.ping()

    @classmethod
    def from_url(cls, url: str, prefix: str = "chat:a:") -> RedisAccounts:
        """The store on the Redis at ``url``."""
        return cls(connect(url), prefix)

    def _key(self, name: str) -> str:
        return f"{self.prefix}acct:{fold(name)}"

    def create_account(self, account: Account) -> bool:
        """Keep a new account unless the name is taken, atomically across every node."""
        scram = account.scram
        fields: list[str | bytes | int | float] = [
            "name", account.name, "hash", account.password_hash, "salt", scram.salt,
            "stored", scram.stored_key, "server", scram.server_key,
            "iterations", scram.iterations, "created", repr(account.created)]
        with redis_errors("registering an account in", self.where):
            made = self._create(keys=[self._names_key, self._key(account.name)],
                                args=[fold(account.name), *fields])
        return bool(made)

    def get_account(self, name: str) -> Account | None:
        """The account called ``name`` (any case), or None."""
        with redis_errors("reading an account from", self.where):
            found = cast(dict[bytes, bytes], self.client.hgetall(self._key(name)))
        if not found:
            return None
        return Account(found[b"name"].decode(), found[b"hash"].decode(),
                       Scram(found[b"salt"], found[b"stored"], found[b"server"],
                             int(found[b"iterations"])),
                       float(found[b"created"]))

    def set_password(self, name: str, password_hash: str, scram: Scram) -> bool:
        """Replace an account's credentials; False if there is no such account."""
        with redis_errors("changing a password in", self.where):
            changed = self._set(keys=[self._key(name)], args=[
                "hash", password_hash, "salt", scram.salt, "stored", scram.stored_key,
                "server", scram.server_key, "iterations", scram.iterations])
        return bool(changed)

    def account_names(self) -> list[str]:
        """Every account's name (HVALS of the names hash)."""
        with redis_errors("reading account names from", self.where):
            return [cast(bytes, name).decode() for name in self.client.hvals(self._names_key)]

    def close(self) -> None:
        """Close the connections."""
        self.client.close()
