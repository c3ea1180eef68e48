"""Accounts over real sockets on both engines: the workers' answers reach clients through each
engine's waker, and a slow hash never holds anyone else up."""

from __future__ import annotations

from pathlib import Path

from support import TEST_LIMITS, Clients

from chat.accounts.passwords import Hasher
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


def test_accounts_owners_and_server_bans_survive_a_restart(engine: str, tmp_path: Path) -> None:
    hashes = {"password_hash_time": 1, "password_hash_memory": 64}
    oper_hash = Hasher(1, 64).hash("opersecret1")[0]
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5,
                          data_dir=str(tmp_path / "data"), operators=(("root", oper_hash),),
                          **hashes)  # type: ignore[arg-type]
    with serve_in_background(engine, config) as server:
        made = Clients(server)
        try:
            alice = made.bot("alice", "#home")
            alice.request(type="register", password="correct horse", ref=1)
            alice.expect_json(type="account", ref=1)
            alice.request(type="register_room", room="#home", ref=2)
            alice.expect_json(type="notice", ref=2)
            oper = made.human("oper")
            oper.send("/oper root opersecret1\r\n")
            oper.expect("You are now a server operator")
            oper.send("/ban *!*@banned.example 1h no thanks\r\n")
            oper.expect("Server ban on *!*@banned.example")
        finally:
            made.close_all()
    with serve_in_background(engine, config) as server:
        made = Clients(server)
        try:
            other = made.bot("other", "#home")
            alice = made.bot("alice")
            alice.request(type="login", password="correct horse", ref=3)
            assert alice.expect_json(type="account", ref=3)["status"] == "logged_in"
            alice.request(type="join", room="#home")
            mode = other.expect_json(type="mode")
            assert (mode["modes"], mode["args"]) == ("+o", ["alice"])
            oper = made.human("oper")
            oper.send("/oper root opersecret1\r\n")
            oper.expect("You are now a server operator")
            oper.send("/bans\r\n")
            oper.expect("Server bans: *!*@banned.example (no thanks, by root)")
        finally:
            made.close_all()
