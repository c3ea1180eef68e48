"""Accounts over IRC in memory (tests/memnet.py): SASL PLAIN and SCRAM-SHA-256, REGISTER
(draft/account-registration), NickServ, PASS, account-tag, account-notify, extended-join, WHOIS.

The account workers run inline with cheap hashes, so an answer is in as soon as a line is sent.
"""

from __future__ import annotations

import base64

import pytest
import scramp
from irc_lines import irc_params, irc_verb
from memnet import MemClient, MemoryNet

PASSWORD = "correct-horse"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def with_account(net: MemoryNet, nick: str, password: str = PASSWORD) -> None:
    """``nick`` registered as an account (by an IRC client that then leaves)."""
    owner = net.irc(nick)
    owner.line(f"REGISTER * * :{password}")
    owner.verb("REGISTER")
    owner.close()


def negotiating(net: MemoryNet, nick: str, caps: str = "sasl") -> MemClient:
    """A client in CAP negotiation, NICK and USER sent, ``caps`` acked, no CAP END yet."""
    client = net.connect()
    client.line("CAP LS 302")
    client.verb("CAP")
    client.line(f"NICK {nick}").line(f"USER {nick} 0 * :{nick} the tester")
    client.line(f"CAP REQ :{caps}")
    assert irc_params(client.verb("CAP"))[1] == "ACK"
    return client


def codes(lines: list[str]) -> list[str]:
    return [irc_verb(line) for line in lines]


def leaked(clients: list[MemClient], *secrets: str) -> list[str]:
    """Lines any of ``clients`` received that hold a secret (or its base64)."""
    found = []
    for client in clients:
        for line in client.lines:
            for secret in secrets:
                if secret in line or b64(secret.encode()) in line:
                    found.append(line)
    return found


@pytest.fixture
def net() -> MemoryNet:
    return MemoryNet()


# -- SASL PLAIN -----------------------------------------------------------------------------

def test_cap_ls_302_lists_the_mechanisms_and_older_ls_the_bare_name(net: MemoryNet) -> None:
    modern = net.connect()
    modern.line("CAP LS 302")
    offered = irc_params(modern.verb("CAP"))[-1].split()
    assert "sasl=PLAIN,SCRAM-SHA-256" in offered
    for cap in ("account-tag", "account-notify", "extended-join", "draft/account-registration"):
        assert cap in offered  # account-registration without before-connect: not supported
    old = net.connect()
    old.line("CAP LS")
    offered = irc_params(old.verb("CAP"))[-1].split()
    assert "sasl" in offered and not any("=" in cap for cap in offered)


def test_sasl_plain_logs_in_before_registration(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = negotiating(net, "alice")
    client.line("AUTHENTICATE PLAIN")
    assert client.verb("AUTHENTICATE") == "AUTHENTICATE +"
    client.line("AUTHENTICATE " + b64(f"alice\0alice\0{PASSWORD}".encode()))
    assert irc_params(client.expect(" 900 ")) == [
        "*", "*!alice@127.0.0.1", "alice", "You are now logged in as alice"]
    client.numeric("903")
    assert client.received[-1].split()[2] == "*"  # not registered yet: no nick
    assert not any(irc_verb(line) == "001" for line in client.lines)  # waits for CAP END
    client.line("CAP END")
    client.numeric("001")
    client.line("WHOIS alice")
    assert client.numeric("330") == ["alice", "alice", "is logged in as"]


def test_sasl_plain_with_an_empty_authzid_and_a_wrong_password(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = negotiating(net, "alice")
    client.line("AUTHENTICATE PLAIN")
    client.line("AUTHENTICATE " + b64(b"\0alice\0not the password"))
    assert client.numeric("904") == ["SASL authentication failed"]
    client.line("AUTHENTICATE PLAIN")  # the client may try again
    client.line("AUTHENTICATE " + b64(f"\0alice\0{PASSWORD}".encode()))
    client.numeric("900")
    client.numeric("903")


@pytest.mark.parametrize("blob", [b"alice\0bob\0" + PASSWORD.encode(), b"alice\0" + b"x" * 9,
                                  b"\0\0" + PASSWORD.encode()])
def test_sasl_plain_refuses_malformed_blobs(net: MemoryNet, blob: bytes) -> None:
    with_account(net, "alice")
    client = negotiating(net, "alice")
    client.line("AUTHENTICATE PLAIN")
    client.line("AUTHENTICATE " + b64(blob))
    client.numeric("904")
    client.line("AUTHENTICATE PLAIN")
    client.line("AUTHENTICATE not*base64")
    assert client.numeric("904") == ["SASL authentication failed: invalid base64"]


def test_a_response_of_exactly_400_bytes_needs_a_plus(net: MemoryNet) -> None:
    nick = "chunky" + "x" * 24  # 30 characters, the longest nick
    password = "p" * (300 - 2 * len(nick) - 2)  # 300 bytes of blob: 400 of base64
    with_account(net, nick, password)
    client = negotiating(net, nick)
    client.line("AUTHENTICATE PLAIN")
    encoded = b64(f"{nick}\0{nick}\0{password}".encode())
    assert len(encoded) == 400
    client.line(f"AUTHENTICATE {encoded}")
    client.sync("more")
    assert not any(irc_verb(line) in ("900", "903", "904") for line in client.lines)
    client.line("AUTHENTICATE +")
    client.numeric("900")
    client.numeric("903")


def test_a_response_in_two_chunks(net: MemoryNet) -> None:
    nick, password = "y" * 30, "q" * 256  # 318 bytes of blob, 424 of base64
    with_account(net, nick, password)
    client = negotiating(net, nick)
    client.line("AUTHENTICATE PLAIN")
    encoded = b64(f"{nick}\0{nick}\0{password}".encode())
    client.line(f"AUTHENTICATE {encoded[:400]}")
    client.line(f"AUTHENTICATE {encoded[400:]}")
    client.numeric("900")
    client.numeric("903")


def test_abort_unknown_mechanism_before_cap_and_twice(net: MemoryNet) -> None:
    with_account(net, "alice")
    early = net.connect()
    early.line("CAP LS 302").line("NICK early").line("USER e 0 * :e")
    early.line("AUTHENTICATE PLAIN")  # sasl not requested: refused
    assert early.numeric("904")[0].startswith("SASL authentication failed")

    client = negotiating(net, "alice")
    client.line("AUTHENTICATE PLAIN")
    client.line("AUTHENTICATE *")
    assert client.numeric("906") == ["SASL authentication aborted"]
    client.line("AUTHENTICATE DIGEST-MD5")
    assert client.numeric("908") == ["PLAIN,SCRAM-SHA-256", "are available SASL mechanisms"]
    client.numeric("904")
    client.line("AUTHENTICATE PLAIN")
    client.line("AUTHENTICATE " + b64(f"alice\0alice\0{PASSWORD}".encode()))
    client.numeric("903")
    client.line("AUTHENTICATE PLAIN")
    client.numeric("907")
    client.line("CAP END")
    client.numeric("001")
    client.line("AUTHENTICATE PLAIN")  # after registration too
    client.numeric("907")


def test_too_long_responses_get_905_and_start_over(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = negotiating(net, "alice")
    client.line("AUTHENTICATE PLAIN")
    client.line("AUTHENTICATE " + "A" * 401)
    assert client.numeric("905") == ["SASL message too long"]
    mark = len(client.lines)
    client.line("AUTHENTICATE PLAIN")
    for _ in range(10):
        client.line("AUTHENTICATE " + "A" * 400)
    client.sync()
    assert "905" not in codes(client.lines[mark:])
    client.line("AUTHENTICATE " + "A" * 400)  # past 4096 bytes
    client.numeric("905")
    client.line("AUTHENTICATE " + b64(f"alice\0alice\0{PASSWORD}".encode()))  # no mechanism
    client.numeric("904")  # taken for a mechanism name, unknown


def test_cap_end_during_an_exchange_aborts_it_and_registers(net: MemoryNet) -> None:
    client = negotiating(net, "alice")
    client.line("AUTHENTICATE PLAIN")
    client.line("CAP END")
    client.numeric("906")
    client.numeric("001")


def test_sasl_after_registration_works_for_a_client_not_logged_in(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = net.irc("alice", caps=("sasl",))
    client.line("AUTHENTICATE PLAIN")
    client.line("AUTHENTICATE " + b64(f"alice\0alice\0{PASSWORD}".encode()))
    assert client.numeric("900")[0] == "alice!alice@127.0.0.1"
    client.numeric("903")


# -- SASL SCRAM-SHA-256 ---------------------------------------------------------------------

def scram_login(client: MemClient, account: str, password: str) -> scramp.ScramClient:
    """Run a SCRAM-SHA-256 exchange up to the server-final message (checked)."""
    scram = scramp.ScramClient(["SCRAM-SHA-256"], account, password)
    client.line("AUTHENTICATE SCRAM-SHA-256")
    assert client.verb("AUTHENTICATE") == "AUTHENTICATE +"
    client.line("AUTHENTICATE " + b64(scram.get_client_first().encode()))
    server_first = irc_params(client.verb("AUTHENTICATE"))[0]
    scram.set_server_first(base64.b64decode(server_first).decode())
    client.line("AUTHENTICATE " + b64(scram.get_client_final().encode()))
    return scram


def test_scram_sha_256_logs_in_after_the_client_checks_the_server(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = negotiating(net, "alice")
    scram = scram_login(client, "alice", PASSWORD)
    server_final = irc_params(client.verb("AUTHENTICATE"))[0]
    scram.set_server_final(base64.b64decode(server_final).decode())  # raises if forged
    assert "900" not in codes(client.new())  # not until the client answers
    client.line("AUTHENTICATE +")
    assert client.numeric("900")[1] == "alice"
    client.numeric("903")
    client.line("CAP END")
    client.numeric("001")


def test_scram_sha_256_with_a_wrong_password_or_no_such_account_fails(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = negotiating(net, "alice")
    scram_login(client, "alice", "not the password")
    assert client.numeric("904") == ["SASL authentication failed"]
    scram_login(client, "nobody", PASSWORD)  # the same answer: nothing says who exists
    assert client.numeric("904") == ["SASL authentication failed"]
    client.line("CAP END")
    client.numeric("001")
    client.line("WHOIS alice")
    client.numeric("318")
    assert "330" not in codes(client.received)


def test_scram_abort_after_server_final_logs_out(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = negotiating(net, "alice")
    scram_login(client, "alice", PASSWORD)
    client.verb("AUTHENTICATE")
    client.line("AUTHENTICATE *")  # say, the server's signature did not check out
    client.numeric("901")
    client.numeric("906")
    client.line("CAP END")
    client.line("WHOIS alice")
    client.numeric("318")
    assert "330" not in codes(client.received)


# -- REGISTER (draft/account-registration) ------------------------------------------------

def test_register_creates_the_account_and_logs_in(net: MemoryNet) -> None:
    alice = net.irc("alice", caps=("draft/account-registration",))
    alice.line("REGISTER * alice@example.org :a long enough password")
    assert irc_params(alice.expect(" 900 "))[2] == "alice"
    assert irc_params(alice.verb("REGISTER")) == ["SUCCESS", "alice", "Account created"]
    alice.line(f"REGISTER alice * {PASSWORD}")
    assert irc_params(alice.verb("FAIL"))[:3] == ["REGISTER", "ALREADY_AUTHENTICATED", "alice"]
    alice.line("VERIFY alice 1234")
    assert irc_params(alice.verb("FAIL"))[:3] == ["VERIFY", "INVALID_CODE", "alice"]


@pytest.mark.parametrize(("line", "code", "context"), [
    ("REGISTER * * short", "WEAK_PASSWORD", "bob"),
    ("REGISTER * * :" + "x" * 257, "UNACCEPTABLE_PASSWORD", "bob"),
    (f"REGISTER carol * {PASSWORD}", "ACCOUNT_NAME_MUST_BE_NICK", "carol"),
])
def test_register_failures(net: MemoryNet, line: str, code: str, context: str) -> None:
    bob = net.irc("bob")
    bob.line(line)
    assert irc_params(bob.verb("FAIL"))[:3] == ["REGISTER", code, context]


def test_register_an_existing_account_and_before_connecting(net: MemoryNet) -> None:
    with_account(net, "alice")
    early = net.connect()
    early.line("NICK x").line("REGISTER * * :whatever password")
    assert irc_params(early.verb("FAIL"))[:2] == ["REGISTER", "COMPLETE_CONNECTION_REQUIRED"]
    again = net.irc("Alice")
    again.line(f"REGISTER * * {PASSWORD}")
    assert irc_params(again.verb("FAIL"))[:3] == ["REGISTER", "ACCOUNT_EXISTS", "Alice"]
    again.line("REGISTER")
    assert again.numeric("461")[0] == "REGISTER"


# -- NickServ and PASS ----------------------------------------------------------------------

def nickserv_says(client: MemClient) -> str:
    line = client.expect(lambda text: text.startswith(":NickServ!NickServ@services.chat.local "
                                                      "NOTICE "))
    return irc_params(line)[-1]


def test_nickserv_register_logout_identify_and_password(net: MemoryNet) -> None:
    alice = net.irc("alice", "#r")
    watcher = net.irc("watcher", "#r", caps=("echo-message",))
    alice.line(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    alice.numeric("900")
    assert nickserv_says(alice) == "Account alice registered; you are logged in to it"
    alice.line("PRIVMSG nickserv :LOGOUT")
    assert alice.numeric("901") == ["alice!alice@127.0.0.1", "You are now logged out"]
    assert nickserv_says(alice) == "You are now logged out"
    alice.line("PRIVMSG NickServ :IDENTIFY wrong-password")
    assert nickserv_says(alice) == "Wrong account name or password"
    alice.line(f"NS IDENTIFY alice {PASSWORD}")
    alice.numeric("900")
    assert nickserv_says(alice) == "You are now identified for alice"
    alice.line(f"NICKSERV SET PASSWORD {PASSWORD} new-password!")
    assert nickserv_says(alice) == "Your password is changed"
    alice.line("PRIVMSG NickServ :PASSWORD onlyone")
    assert nickserv_says(alice) == "Usage: SET PASSWORD old new"
    alice.line("PRIVMSG NickServ :LOGOUT")
    assert nickserv_says(alice) == "You are now logged out"
    alice.line("PRIVMSG NickServ :IDENTIFY new-password!")
    assert nickserv_says(alice) == "You are now identified for alice"
    alice.line("PRIVMSG NickServ :HELP")
    assert nickserv_says(alice).startswith("NickServ keeps accounts")
    alice.new()
    alice.line("PRIVMSG NickServ :hunter2")
    assert nickserv_says(alice) == "Unknown command; send HELP for the list"
    alice.line("NOTICE NickServ :IDENTIFY hunter2")  # a NOTICE gets no answer
    alice.line(f"PRIVMSG watcher,NickServ :IDENTIFY {PASSWORD}")  # NickServ alone gets it
    alice.sync()
    watcher.sync()
    assert not any("hunter2" in line for line in alice.lines)
    assert leaked([watcher], PASSWORD, "new-password!", "hunter2", "wrong-password") == []


def test_nickserv_is_no_nick_anyone_can_take(net: MemoryNet) -> None:
    client = net.connect()
    client.line("NICK NickServ").line("USER n 0 * :n")
    assert client.numeric("432")[0] == "NickServ"


def test_pass_account_password_logs_in_at_registration(net: MemoryNet) -> None:
    with_account(net, "alice")
    client = net.connect()
    client.line(f"PASS :alice:{PASSWORD}").line("NICK al").line("USER al 0 * :Al")
    client.numeric("001")
    assert client.numeric("900")[:2] == ["al!al@127.0.0.1", "alice"]
    wrong = net.connect()
    wrong.line("PASS alice:nope-nope").line("NICK al2").line("USER al 0 * :Al")
    wrong.numeric("001")
    assert nickserv_says(wrong) == "Wrong account name or password"
    bare = net.connect()  # a bare PASS is no login: ignored, as it always was
    bare.line(f"PASS {PASSWORD}").line("NICK al3").line("USER al 0 * :Al")
    bare.numeric("001")
    bare.sync()
    assert not {"900", "NOTICE"} & set(codes(bare.received[-3:]))


# -- what others see ------------------------------------------------------------------------

def test_account_tag_account_notify_and_extended_join(net: MemoryNet) -> None:
    with_account(net, "alice")
    caps = ("account-tag", "account-notify", "extended-join")
    seer = net.irc("seer", "#r", caps=caps)
    plain = net.irc("plain", "#r")
    seer.new()
    plain.new()
    alice = net.irc("alice", "#r")
    assert irc_params(seer.verb("JOIN")) == ["#r", "*", "alice the tester"]
    assert irc_params(plain.verb("JOIN")) == ["#r"]
    alice.line(f"PRIVMSG NickServ :IDENTIFY {PASSWORD}")
    assert seer.verb("ACCOUNT").startswith("@account=alice :alice!alice@127.0.0.1 ACCOUNT")
    assert irc_params(seer.received[-1]) == ["alice"]
    alice.line("PRIVMSG #r :hello")
    assert seer.expect(":hello").startswith("@account=alice :alice!")
    assert plain.expect(":hello").startswith(":alice!")
    alice.line("PART #r").line("JOIN #r")
    assert irc_params(seer.verb("JOIN")) == ["#r", "alice", "alice the tester"]
    assert seer.received[-1].startswith("@account=alice ")
    assert irc_params(plain.verb("JOIN")) == ["#r"]
    alice.line("PRIVMSG NickServ :LOGOUT")
    assert irc_params(seer.verb("ACCOUNT")) == ["*"]
    alice.line("PRIVMSG #r :bye")
    assert seer.expect(":bye").startswith(":alice!")  # no account, no tag
    plain.sync()
    assert "ACCOUNT" not in codes(plain.received)
    assert leaked([seer, plain], PASSWORD) == []


def test_whois_shows_the_account_only_when_logged_in(net: MemoryNet) -> None:
    with_account(net, "alice")
    alice = net.irc("alice")
    bob = net.irc("bob")
    bob.line("WHOIS alice")
    bob.numeric("318")
    assert "330" not in codes(bob.received)
    alice.line(f"PRIVMSG NickServ :IDENTIFY {PASSWORD}")
    bob.line("WHOIS alice")
    assert bob.numeric("330") == ["alice", "alice", "is logged in as"]


def test_no_password_reaches_anyone_else(net: MemoryNet) -> None:
    """Every way of sending a password, watched by clients with every capability."""
    everything = ("account-tag", "account-notify", "extended-join", "echo-message",
                  "message-tags", "server-time", "away-notify")
    watcher = net.irc("watcher", "#r", caps=everything)
    human = net.human("person")
    human.line("/join #r")
    bot = net.bot("robot", "#r")
    alice = net.irc("alice", "#r", caps=("sasl", "draft/account-registration"))
    alice.line(f"REGISTER * * :{PASSWORD}")
    alice.line(f"PRIVMSG NickServ :SET PASSWORD {PASSWORD} second-secret")
    alice.line("PRIVMSG NickServ :LOGOUT")
    alice.line("AUTHENTICATE PLAIN")
    alice.line("AUTHENTICATE " + b64(b"alice\0alice\0second-secret"))
    alice.numeric("903")
    alice.line("PRIVMSG NickServ :LOGOUT")
    scram_login(alice, "alice", "second-secret")
    alice.verb("AUTHENTICATE")
    alice.line("AUTHENTICATE +")
    alice.numeric("903")
    for client in (watcher, alice):
        client.sync()
    assert leaked([watcher, human, bot], PASSWORD, "second-secret") == []
    assert leaked([alice], PASSWORD, "second-secret") == []  # nor echoed to its owner
