"""Accounts above the engines: register, log in and out, change the password, throttling,
what others are told; the workers that hash off the engine's thread.

Driven in memory (``MemoryNet``: real hub, core, dialects; the account workers inline with
cheap argon2id parameters; a fake clock for throttling).
"""

from __future__ import annotations

import threading
from typing import Any

from memnet import CHEAP_HASHES, MemoryNet

from chat.accounts.memory import MemoryAccounts
from chat.accounts.records import Account
from chat.accounts.service import MAX_PENDING, AuthService
from chat.config import Limits, ServerConfig
from chat.core import events as e
from chat.core.throttle import THROTTLE_FAILURES, THROTTLE_WINDOW

CONFIG = ServerConfig(limits=Limits(rate_per_second=0))


def registered(net: MemoryNet, nick: str, password: str = "correct horse") -> Any:
    bot = net.bot(nick)
    bot.request(type="register", password=password, ref="r")
    answer = bot.expect_json(type="account", ref="r")
    assert (answer["status"], answer["account"]) == ("registered", nick)
    return bot


def test_a_person_registers_logs_out_and_back_in() -> None:
    net = MemoryNet(CONFIG)
    alice = net.human("alice")
    alice.line("/register hunter2hunter2")
    alice.expect("Account alice registered; you are logged in to it")
    alice.line("/logout")
    alice.expect("You are now logged out")
    alice.line("/login wrongwrong")
    alice.expect("! Wrong account name or password")
    alice.line("/identify alice hunter2hunter2")
    alice.expect("You are now logged in as alice")
    alice.line("/password hunter2hunter2 swordfish!")
    alice.expect("Your password is changed")
    alice.line("/logout")
    alice.line("/login swordfish!")
    alice.expect("You are now logged in as alice")
    assert not any("hunter2" in line or "swordfish" in line for line in alice.lines
                   if not line.startswith("/"))  # the server never echoes a password


def test_the_error_never_says_whether_an_account_exists() -> None:
    net = MemoryNet(CONFIG)
    registered(net, "alice").close()
    bob = net.bot("bob")
    bob.request(type="login", account="alice", password="not the one", ref=1)
    wrong = bob.expect_json(type="error", ref=1)
    bob.request(type="login", account="nobody", password="not the one", ref=2)
    missing = bob.expect_json(type="error", ref=2)
    assert (wrong["code"], wrong["text"]) == (missing["code"], missing["text"]) == (
        "login_failed", "Wrong account name or password")


def test_bad_requests_get_clear_errors() -> None:
    net = MemoryNet(CONFIG)
    registered(net, "alice").close()
    bob = net.bot("bob")
    cases = [({"type": "register", "password": "short"}, "password_invalid"),
             ({"type": "register", "password": "x" * 257}, "password_invalid"),
             ({"type": "login", "password": "x" * 257}, "password_invalid"),
             ({"type": "login", "account": "bad nick!", "password": "whatever1"}, "login_failed"),
             ({"type": "logout"}, "not_logged_in"),
             ({"type": "password", "old": "a", "new": "bbbbbbbbbb"}, "not_logged_in"),
             ({"type": "login"}, "bad_request")]
    for request, code in cases:
        bob.request(ref=code, **request)
        assert bob.expect_json(type="error", ref=code)["code"] == code, request
    bob.request(type="nick", nick="alice2")
    bob.expect_json(type="nick")
    carol = net.bot("alice_")
    carol.request(type="nick", nick="Alice")  # the nick is free: alice left
    carol.expect_json(type="nick")
    carol.request(type="register", password="another one", ref=9)
    taken = carol.expect_json(type="error", ref=9)
    assert taken["code"] == "account_taken"


def test_failed_logins_are_throttled_per_address_and_per_account() -> None:
    net = MemoryNet(CONFIG)
    registered(net, "alice").close()
    guesser = net.bot("guesser")
    for n in range(THROTTLE_FAILURES):
        guesser.request(type="login", account="alice", password=f"guess {n}x", ref=n)
        assert guesser.expect_json(type="error", ref=n)["code"] == "login_failed"
    guesser.request(type="login", account="alice", password="correct horse", ref="right")
    throttled = guesser.expect_json(type="error", ref="right")
    assert throttled["code"] == "login_throttled" and "60 seconds" in throttled["text"]
    # Another account from the same address waits too (the address is throttled)...
    guesser.request(type="login", account="other", password="whatever1", ref="o")
    assert guesser.expect_json(type="error", ref="o")["code"] == "login_throttled"
    # ...and so does the account from another address.
    elsewhere = net.connect(host="203.0.113.9")
    elsewhere.request(type="hello", nick="elsewhere")
    elsewhere.expect_json(type="welcome")
    elsewhere.request(type="login", account="alice", password="correct horse", ref="e")
    assert elsewhere.expect_json(type="error", ref="e")["code"] == "login_throttled"
    net.advance(THROTTLE_WINDOW)
    guesser.request(type="login", account="alice", password="correct horse", ref="later")
    assert guesser.expect_json(type="account", ref="later")["status"] == "logged_in"


def test_rooms_hear_who_logged_in_and_out() -> None:
    net = MemoryNet(CONFIG)
    registered(net, "alice").close()
    alice = net.bot("alice", "#r")
    watcher = net.bot("watcher", "#r")
    alice.request(type="login", password="correct horse")
    told = watcher.expect_json(type="account_notify")
    assert (told["nick"], told["account"]) == ("alice", "alice")
    alice.request(type="logout")
    assert watcher.expect_json(type="account_notify")["account"] is None


def test_accounts_survive_a_restart() -> None:
    net = MemoryNet(CONFIG)
    registered(net, "alice")
    net.restart()
    bob = net.bot("bob")
    bob.request(type="login", account="ALICE", password="correct horse", ref=1)
    answer = bob.expect_json(type="account", ref=1)
    assert (answer["status"], answer["account"]) == ("logged_in", "alice")
    carol = net.bot("carol")
    carol.request(type="nick", nick="alice")
    carol.expect_json(type="nick")
    carol.request(type="register", password="mine now!", ref=2)
    assert carol.expect_json(type="error", ref=2)["code"] == "account_taken"


def test_one_account_request_at_a_time_and_none_after_leaving() -> None:
    """The workers answer later: a second request meanwhile is refused; an answer for a
    connection that has gone is dropped."""
    net = MemoryNet(CONFIG)
    registered(net, "alice").close()
    accounts = net.hub.accounts
    assert accounts is not None
    held: list[tuple[e.Authenticate, Any]] = []
    accounts.submit = lambda request, done: held.append((request, done))  # type: ignore[method-assign]
    bob = net.bot("bob")
    bob.request(type="login", account="alice", password="correct horse", ref=1)
    bob.request(type="login", account="alice", password="correct horse", ref=2)
    assert bob.expect_json(type="error", ref=2)["code"] == "login_in_progress"
    net.hang_up(bob)
    request, done = held[0]
    done(request, e.AuthResult(True, "alice"))
    net.pump()
    assert net.hub.core.user(bob.conn) is None


def test_the_workers_hash_off_the_callers_thread_and_refuse_when_full() -> None:
    store = MemoryAccounts()
    service = AuthService(store, CHEAP_HASHES)
    service.start()
    try:
        results: list[e.AuthResult] = []
        threads: set[str] = set()
        done = threading.Event()

        def answer(request: e.Authenticate, result: e.AuthResult) -> None:
            threads.add(threading.current_thread().name)
            results.append(result)
            if len(results) == 3:
                done.set()

        service.submit(e.Authenticate(1, "register", "alice", "correct horse"), answer)
        service.submit(e.Authenticate(1, "register", "Alice", "other one!"), answer)
        service.submit(e.Authenticate(2, "login", "alice", "correct horse"), answer)
        assert done.wait(10)
        assert threading.current_thread().name not in threads
        assert sorted(r.problem for r in results).count("taken") == 1
        account = store.get_account("ALICE")
        assert isinstance(account, Account) and "correct horse" not in account.password_hash
        assert account.password_hash.startswith("$argon2id$")
    finally:
        service.close()
    stuck = AuthService(store, CHEAP_HASHES)  # never started: nothing takes requests
    busy: list[e.AuthResult] = []
    for _ in range(MAX_PENDING + 1):
        stuck.submit(e.Authenticate(3, "login", "alice", "x"), lambda r, res: busy.append(res))
    assert [r.problem for r in busy] == ["busy"]


def test_passwords_never_show_in_a_repr() -> None:
    request = e.Authenticate(1, "password", "alice", "old secret", "new secret")
    assert "secret" not in repr(request)


def test_scram_sha_256_proves_the_password_without_sending_it() -> None:
    import scramp

    store = MemoryAccounts()
    service = AuthService(store, CHEAP_HASHES, threaded=False)
    results: list[e.AuthResult] = []

    def run(op: str, message: str, conn: int = 1) -> e.AuthResult:
        service.submit(e.Authenticate(conn, op, "", message), lambda r, res: results.append(res))
        return results[-1]

    service.submit(e.Authenticate(1, "register", "alice", "correct horse"), lambda r, s: None)
    for password, ok in (("correct horse", True), ("wrong horse", False)):
        client = scramp.ScramClient(["SCRAM-SHA-256"], "alice", password)
        first = run("scram-first", client.get_client_first())
        assert first.ok and first.account == "alice"
        client.set_server_first(first.reply)
        final = run("scram-final", client.get_client_final())
        assert final.ok is ok
        if ok:
            client.set_server_final(final.reply)  # the server proved it knows the password too
    # An unknown account looks the same until the proof fails: same salt on every try.
    salts = []
    for _ in range(2):
        client = scramp.ScramClient(["SCRAM-SHA-256"], "nobody", "whatever")
        first = run("scram-first", client.get_client_first(), conn=2)
        assert first.ok
        salts.append(first.reply.split(",s=")[1].split(",")[0])
        client.set_server_first(first.reply)
        assert not run("scram-final", client.get_client_final(), conn=2).ok
    assert salts[0] == salts[1]
    assert not run("scram-first", "not a scram message").ok
    assert not run("scram-final", "c=biws,r=x,p=y", conn=9).ok  # no exchange under way


def test_a_registered_nick_is_taken_back_after_the_grace_unless_its_owner_logs_in() -> None:
    net = MemoryNet(CONFIG)
    registered(net, "alice", "correct-horse").close()
    squatter = net.human("alice")
    squatter.expect("belongs to a registered account. Log in (/login PASSWORD) within 30")
    watcher = net.bot("watcher", "#lobby")
    net.advance(29)
    assert net.hub.core.user(squatter.conn).nick == "alice"  # type: ignore[union-attr]
    net.advance(1)
    squatter.expect("You are now Guest1: the nickname alice belongs to a registered account")
    assert watcher.expect_json(type="nick")["nick"] == "Guest1"
    owner = net.human("bob")
    owner.line("/nick alice")
    owner.expect("belongs to a registered account")
    net.advance(10)
    owner.line("/login correct-horse")
    owner.expect("You are now logged in as alice")
    net.advance(60)
    assert net.hub.core.user(owner.conn).nick == "alice"  # type: ignore[union-attr]


def test_a_later_nick_change_gets_a_grace_of_its_own() -> None:
    net = MemoryNet(CONFIG)
    registered(net, "alice").close()
    registered(net, "anna").close()
    person = net.human("alice")
    net.advance(20)
    person.line("/nick anna")
    net.advance(10)  # the first grace ends, but the nick now is anna's, taken 10 s ago
    assert net.hub.core.user(person.conn).nick == "anna"  # type: ignore[union-attr]
    net.advance(20)
    person.expect("You are now Guest")


def test_strict_protection_refuses_a_registered_nick() -> None:
    from dataclasses import replace

    net = MemoryNet(replace(CONFIG, nick_protection="strict"))
    registered(net, "alice").close()
    bob = net.bot("bob")
    bob.request(type="nick", nick="ALICE", ref=1)
    assert bob.expect_json(type="error", ref=1)["code"] == "nick_protected"
    bob.request(type="login", account="alice", password="correct horse")
    bob.expect_json(type="account", status="logged_in")
    bob.request(type="nick", nick="alice", ref=2)
    assert bob.expect_json(type="nick")["nick"] == "alice"


def test_private_history_is_kept_between_accounts_only() -> None:
    net = MemoryNet(CONFIG)
    alice = registered(net, "alice")
    bob = registered(net, "bob")
    guest = net.bot("guest")
    alice.request(type="message", to="bob", text="kept: both have accounts")
    bob.expect_json(type="message", text="kept: both have accounts")
    guest.request(type="message", to="bob", text="not kept: no account")
    bob.expect_json(type="message", text="not kept: no account")
    bob.request(type="history", room="alice", ref=1)
    page = bob.expect_json(type="history", ref=1)
    assert [(ev["from"], ev["to"], ev["text"]) for ev in page["events"]] == [
        ("alice", "bob", "kept: both have accounts")]
    assert page["room"] == "alice" and page["events"][0]["room"] is None
    alice.request(type="history", room="bob", ref=2)
    assert len(alice.expect_json(type="history", ref=2)["events"]) == 1
    bob.request(type="history", room="guest", ref=3)
    assert bob.expect_json(type="error", ref=3)["code"] == "no_such_account"
    guest.request(type="history", room="bob", ref=4)
    assert guest.expect_json(type="error", ref=4)["code"] == "not_logged_in"
    alice.request(type="logout")
    alice.expect_json(type="account", status="logged_out")
    alice.request(type="message", to="bob", text="not kept: logged out")
    bob.expect_json(type="message", text="not kept: logged out")
    bob.request(type="history", room="alice", ref=5)
    assert len(bob.expect_json(type="history", ref=5)["events"]) == 1


def test_member_lists_show_accounts() -> None:
    net = MemoryNet(CONFIG)
    alice = registered(net, "alice")
    alice.request(type="join", room="#r")
    net.bot("guest", "#r").request(type="who", room="#r", ref="w")
    guest = list(net.clients.values())[-1]
    members = {m["nick"]: m["account"] for m in guest.expect_json(type="members", ref="w")[
        "members"]}
    assert members == {"alice": "alice", "guest": None}
