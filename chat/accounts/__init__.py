"""Accounts: who owns a name, proven by a password, checked off the engines' threads.

Layout: ``records`` (an account as kept), ``store`` (the :class:`AccountStore` interface),
``memory`` (the in-memory store; the SQLite store lives with the history in
``chat.history.sqlite``), ``redis_store`` (the cluster's), ``passwords`` (argon2id hashes and
SCRAM-SHA-256 credentials) and ``service`` (the worker threads that hash and verify, so a
login never stalls anyone else). The rules (who may log in, throttling, what others are told)
are the core's: ``chat.core.accounts``.
"""
