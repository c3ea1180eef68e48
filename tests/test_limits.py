"""Limits only engines can show, over real sockets on both engines (a socket that stops
reading, a connection refused at accept), and every limit as an option and a config key.

The limits the hub and core enforce are tested in memory in test_limits_hub.py."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import wait_until

from chat.cli import build_parser, config_from_args, parse_args
from chat.config import Limits, ServerConfig

if TYPE_CHECKING:
    from support import Clients, LineClient

Serve = Callable[..., "Clients"]



def still_chatting(a: LineClient, b: LineClient, text: str) -> None:
    """``a`` (structured, in #lobby) talks and ``b`` (structured, in #lobby) hears it."""
    a.request(type="message", to="#lobby", text=text)
    assert b.expect_json(type="message", text=text)["from"]





# -- outbound queue --------------------------------------------------------------------------

def test_a_client_that_does_not_read_is_dropped_alone(serve_with: Serve) -> None:
    made = serve_with(sendq=64 * 1024)
    made.bot("stalled", "#lobby", rcvbuf=4096)  # never reads again
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    text = "s" * 1900
    sent = 0
    dropped = False
    while not dropped:
        assert sent < 20_000, "the stalled client was never dropped"
        alice.send("".join(json.dumps({"type": "message", "to": "#lobby", "text": f"{n} {text}"})
                           + "\n" for n in range(sent, sent + 8)))  # 16 KB: a quarter of sendq
        sent += 8
        last = f'"{sent - 1} '
        alice.expect(last)
        while True:
            line = bob.line()
            if '"quit"' in line:
                reason = json.loads(line)["reason"]
                assert reason == "Send queue exceeded (65536 bytes): reading too slowly"
                dropped = True
            elif last in line:
                break
    numbers = [int(json.loads(x)["text"].split()[0]) for x in bob.received if '"message"' in x]
    assert numbers == list(range(sent))  # nothing lost or reordered for those who read



# -- connection counts -----------------------------------------------------------------------

def test_max_connections(serve_with: Serve) -> None:
    made = serve_with(max_connections=3)
    alice, bob = made.bot("alice", "#lobby"), made.bot("bob", "#lobby")
    third = made.raw()
    fourth = made.raw()
    assert fourth.wait_closed() == ["ERROR :Server is full, try again later"]
    still_chatting(alice, bob, "full house")
    third.close()
    hub = made.server.hub
    wait_until(lambda: len(hub.sessions) == 2)
    made.bot("carol", "#lobby")



# -- configuration: every limit is an option and a config-file key ---------------------------

def _other_value(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 3
    if isinstance(value, float):
        return value + 0.5
    return value


def test_every_limit_is_an_option_and_a_config_key(tmp_path: Path) -> None:
    limits = {f.name: _other_value(getattr(Limits(), f.name)) for f in dataclasses.fields(Limits)}
    lines = ['engine = "threaded"', "port = 7001", 'tls-cert = "c.pem"', "tls_port = 7002",
             "greet-delay = 0.1", "[limits]"]
    for name, value in limits.items():
        lines.append(f"{name.replace('_', '-')} = {json.dumps(value)}")
    path = tmp_path / "chat.toml"
    path.write_text("\n".join(lines) + "\n")
    args = parse_args(["--config", str(path)])
    config = config_from_args(args)
    assert args.engine == "threaded" and config.port == 7001 and config.tls_port == 7002
    assert config.tls_cert == "c.pem" and config.greet_delay == 0.1
    assert dataclasses.asdict(config.limits) == limits
    # The command line wins over the file.
    args = parse_args(["--config", str(path), "--port", "7003", "--max-line", "999",
                       "--no-limit-loopback"])
    config = config_from_args(args)
    assert config.port == 7003 and config.limits.max_line == 999
    assert config.limits.limit_loopback is False
    options = {a.dest for a in build_parser()._actions}
    assert {f.name for f in dataclasses.fields(Limits)} <= options
    # Operators come as [operators.NAME] tables only (a hash per name), not as options.
    assert {f.name for f in dataclasses.fields(ServerConfig)} - {"limits", "operators"} <= options


@pytest.mark.parametrize(("text", "message"), [
    ("bogus = 1\n", "unknown option 'bogus'"),
    ("port = \"x\"\n", "'port' must be an integer"),
    ("[limits]\nport = 1\n", "unknown option 'port'"),
    ("[limits]\nlimit-loopback = 1\n", "'limit-loopback' must be true or false"),
    ("engine = \"nope\"\n", "'engine' must be one of"),
    ("port = \n", "is not valid TOML"),
])
def test_bad_config_files_are_refused(tmp_path: Path, text: str, message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        parse_args(["--config", str(path)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
