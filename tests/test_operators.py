"""Server operators in memory: OPER against the config's hashes, KILL, WALLOPS, server bans
with expiry; every action logged, no password in the log."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from memnet import CHEAP_HASHES, MemoryNet

from chat.config import Limits, ServerConfig

HASH = CHEAP_HASHES.hash("opersecret1")[0]
CONFIG = ServerConfig(limits=Limits(rate_per_second=0), operators=(("root", HASH),))


def opered(net: MemoryNet, nick: str) -> object:
    client = net.human(nick)
    client.line("/oper root opersecret1")
    client.expect("You are now a server operator (root)")
    return client


def test_oper_needs_the_right_name_and_password(caplog: pytest.LogCaptureFixture) -> None:
    net = MemoryNet(CONFIG)
    bob = net.human("bob")
    bob.line("/oper root wrongsecret")
    bob.expect("! Wrong operator name or password")
    bob.line("/oper nobody opersecret1")
    bob.expect("! Wrong operator name or password")
    bob.line("/kill alice")
    bob.expect("! Only server operators may do that")
    with caplog.at_level(logging.WARNING, logger="chat.operators"):
        bob.line("/oper ROOT opersecret1")
        bob.expect("You are now a server operator (root)")
    assert "bob" in caplog.text and "secret" not in caplog.text


def test_kill_disconnects_and_the_room_hears_why(caplog: pytest.LogCaptureFixture) -> None:
    net = MemoryNet(CONFIG)
    oper = opered(net, "oper")
    victim = net.bot("victim", "#lobby")
    watcher = net.bot("watcher", "#lobby")
    with caplog.at_level(logging.WARNING, logger="chat.operators"):
        oper.line("/kill victim spamming")
    assert victim.expect_json(type="disconnect")["reason"] == "Killed by oper (spamming)"
    assert victim.closed is not None
    assert watcher.expect_json(type="quit")["reason"] == "Killed by oper (spamming)"
    assert "KILL victim" in caplog.text


def test_wallops_reach_users_with_mode_w() -> None:
    net = MemoryNet(CONFIG)
    oper = opered(net, "oper")
    listener = net.irc("listener")
    listener.line("MODE listener +w")
    listener.verb("MODE")
    deaf = net.bot("deaf")
    oper.line("/wallops maintenance at noon")
    oper.expect("!oper! maintenance at noon")
    assert "maintenance at noon" in listener.expect("maintenance at noon")
    deaf.request(type="ping", token="t")
    deaf.expect_json(type="pong")
    assert not any("maintenance" in line for line in deaf.lines)


def test_a_server_ban_disconnects_matches_refuses_them_and_expires() -> None:
    net = MemoryNet(CONFIG)
    oper = opered(net, "oper")
    spammer = net.connect(host="198.51.100.7")
    spammer.request(type="hello", nick="spammer")
    spammer.expect_json(type="welcome")
    oper.line("/ban *!*@198.51.100.7 1h flooding")
    oper.expect("Server ban on *!*@198.51.100.7 for 3600 s: flooding")
    assert "Banned from this server: flooding" in spammer.expect_json(
        type="disconnect")["reason"]
    again = net.connect(host="198.51.100.7")
    again.request(type="hello", nick="again")
    assert again.expect_json(type="disconnect")["reason"] == "Banned from this server: flooding"
    oper.line("/bans")
    oper.expect("Server bans: *!*@198.51.100.7 (flooding, by root)")
    net.advance(3601)
    later = net.connect(host="198.51.100.7")
    later.request(type="hello", nick="later")
    later.expect_json(type="welcome")
    oper.line("/ban baduser")
    oper.expect("Server ban on baduser!*@* until lifted")
    oper.line("/unban baduser")
    oper.expect("Server ban on baduser!*@* lifted")
    oper.line("/unban baduser")
    oper.expect("! No server ban on baduser!*@*")


def test_operators_config_must_hold_hashes() -> None:
    with pytest.raises(ValueError, match="hash-password"):
        replace(CONFIG, operators=(("root", "plaintext"),))


def test_operators_come_from_config_tables_with_hashes_made_by_the_cli(tmp_path: object) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from chat.accounts.passwords import Hasher
    from chat.cli import config_from_args, parse_args

    made = subprocess.run([sys.executable, "-m", "chat", "hash-password"], input="opersecret1\n",
                          capture_output=True, text=True, timeout=60, check=True)
    password_hash = made.stdout.strip()
    assert password_hash.startswith("$argon2id$") and "opersecret1" not in made.stdout
    assert Hasher().verify(password_hash, "opersecret1")
    path = Path(str(tmp_path)) / "chat.toml"
    path.write_text(f'[operators.root]\npassword = "{password_hash}"\n')
    config = config_from_args(parse_args(["--config", str(path)]))
    assert config.operators == (("root", password_hash),)
    short = subprocess.run([sys.executable, "-m", "chat", "hash-password"], input="short\n",
                           capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "at least 8" in short.stderr
    path.write_text('[operators.root]\npassword = "plain"\n')
    bad = subprocess.run([sys.executable, "-m", "chat", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "hash-password" in bad.stderr
