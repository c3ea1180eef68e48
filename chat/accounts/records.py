"""An account as a store keeps it: never the password, only what proves it."""

from __future__ import annotations

from typing import NamedTuple


class Scram(NamedTuple):
    """SCRAM-SHA-256 credentials (RFC 7677): what a server keeps to check a SCRAM login."""

    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


class ServerBan(NamedTuple):
    """One server-wide ban (operators set them): a ``nick!ident@host`` mask, until ``expires``
    (epoch seconds; 0: until lifted)."""

    mask: str
    reason: str
    set_by: str
    set_at: float
    expires: float = 0.0


class Account(NamedTuple):
    """A registered account: its name as chosen, an argon2id hash, SCRAM credentials."""

    name: str
    password_hash: str  # argon2id, PHC string format ($argon2id$v=19$m=...,t=...,p=...$...)
    scram: Scram
    created: float
