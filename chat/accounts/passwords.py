"""Password hashing: argon2id for every login, SCRAM-SHA-256 credentials for SASL SCRAM.

The two are made together whenever a password is set, from the password itself, which is then
forgotten: it is never stored, logged or put in an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import scramp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from chat.accounts.records import Scram

#: Passwords are between these lengths (characters): long enough to mean something, short
#: enough that hashing one is a bounded cost whatever a client sends.
MIN_PASSWORD = 8
MAX_PASSWORD = 256
#: SCRAM iteration count (RFC 7677 asks for at least 4096).
SCRAM_ITERATIONS = 4096

SCRAM = scramp.ScramMechanism("SCRAM-SHA-256")


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be set, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Passwords are at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"Passwords are at most {MAX_PASSWORD} characters"
    return None


@dataclass(frozen=True, slots=True)
class Hasher:
    """argon2id with a chosen cost. The defaults are OWASP's minimum for argon2id (2 passes over
    19 MiB, one lane): about 30 ms a hash here, so 20 logins a second cost well under a core,
    on worker threads (argon2 releases the GIL)."""

    time_cost: int = 2
    memory_kib: int = 19456

    def _argon2(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib,
                              parallelism=1)

    def hash(self, password: str) -> tuple[str, Scram]:
        """The argon2id hash and the SCRAM credentials of ``password``."""
        salt, stored_key, server_key, iterations = SCRAM.make_auth_info(
            password, iteration_count=SCRAM_ITERATIONS)
        return self._argon2().hash(password), Scram(salt, stored_key, server_key, iterations)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no hash (no such account) the same work is done
        against a stand-in, so the time taken says nothing about whether the account exists."""
        hasher = self._argon2()
        try:
            return hasher.verify(password_hash or self._stand_in(), password) and bool(
                password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _stand_in(self) -> str:
        return _STAND_INS.setdefault(self, self._argon2().hash("no such account, no login"))


_STAND_INS: dict[Hasher, str] = {}
