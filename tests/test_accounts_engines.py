"""Accounts over real sockets on both engines: the workers' answers reach clients through each
engine's waker, and a slow hash never holds anyone else up."""

from __future__ import annotations

from support import TEST_LIMITS, Clients

from chat.config import ServerConfig
from chat.engines import serve_in_background


def test_register_and_login_through_the_engine_while_others_chat(engine: str) -> None:
    # Real argon2id cost (the default, about 30 ms a hash): others must not wait for it.
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5)
    with serve_in_background(engine, config) as server:
        made = Clients(server)
        try:
            alice = made.bot("alice", "#r")
            bob = made.bot("bob", "#r")
            alice.request(type="register", password="correct horse", ref=1)
            bob.request(type="message", to="#r", text="while alice registers")
            alice.expect_json(type="message", text="while alice registers")
            assert alice.expect_json(type="account", ref=1)["status"] == "registered"
            alice.request(type="logout")
            alice.expect_json(type="account", status="logged_out")
            person = made.human("carol")
            person.send("/login alice correct horse\r\n")
            person.expect("Usage: /login [ACCOUNT] PASSWORD")
            person.send("/login alice wrong-password\r\n")
            person.expect("! Wrong account name or password")
            alice.request(type="login", password="correct horse", ref=2)
            assert alice.expect_json(type="account", ref=2)["status"] == "logged_in"
            told = bob.expect_json(type="account_notify")
            assert (told["nick"], told["account"]) == ("alice", "alice")
        finally:
            made.close_all()
