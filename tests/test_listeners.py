"""Listeners: the list in the config, and a listener that pins its connections' dialect."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from memnet import MemoryNet

from chat.cli import config_from_args, parse_args
from chat.config import Listener, ServerConfig
from chat.engines.listeners import bind_listeners


def test_the_default_listeners_are_the_plain_and_tls_ports() -> None:
    assert ServerConfig(port=7000).all_listeners() == (Listener(7000),)
    config = ServerConfig(port=7000, tls_port=7001, tls_cert="cert.pem",
                          listeners=(Listener(6667, dialect="irc"),))
    assert config.all_listeners() == (Listener(7000), Listener(7001, tls=True),
                                      Listener(6667, dialect="irc"))


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"port": 70000}, "0-65535"), ({"port": 1, "dialect": "xmpp"}, "dialect must be one of"),
])
def test_bad_listeners_are_refused(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Listener(**kwargs)  # type: ignore[arg-type]


def test_a_pinned_irc_listener_skips_detection() -> None:
    net = MemoryNet()
    client = net.connect(dialect="irc")
    assert client.lines == []  # no greeting: IRC clients speak first
    client.line("hello there")  # would make a person on a detecting listener
    assert " 451 " in client.lines[0]  # IRC: "You have not registered" (then a hint)
    net.advance(5)
    assert not any("Pick a nickname" in line for line in client.lines)


def test_a_pinned_human_listener_greets_at_once() -> None:
    net = MemoryNet()
    client = net.connect(dialect="human")
    client.expect("Pick a nickname")
    client.line('{"type":"hello","nick":"bob"}')  # JSON from a person is just a bad nick
    client.expect("Invalid nickname")


def test_a_pinned_structured_listener_takes_json_only() -> None:
    net = MemoryNet()
    client = net.connect(dialect="structured")
    client.line("NICK alice")
    assert client.expect_json(type="error")["code"] == "bad_json"


@pytest.mark.parametrize(("spec", "expected"), [
    ("6667", Listener(6667)), ("6667/irc", Listener(6667, dialect="irc")),
    ("0.0.0.0:6697/tls/irc", Listener(6697, "0.0.0.0", tls=True, dialect="irc")),
    ("[::1]:7000/human", Listener(7000, "::1", dialect="human")),
])
def test_listen_options_and_config_keys(spec: str, expected: Listener, tmp_path: Path) -> None:
    extra = ["--tls-cert", "c.pem"] if "tls" in spec else []
    assert config_from_args(parse_args(["--listen", spec, *extra])).listeners == (expected,)
    path = tmp_path / "chat.toml"
    path.write_text(f'listeners = ["{spec}"]\n' + ('tls-cert = "c.pem"\n' if extra else ""))
    assert config_from_args(parse_args(["--config", str(path)])).listeners == (expected,)


@pytest.mark.parametrize("spec", ["x/irc", "6667/irc/human", "6667/xmpp", "99999"])
def test_bad_listen_options_are_refused(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--listen", spec])
    assert "--listen" in capsys.readouterr().err


def test_a_tls_listener_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="needs --tls-cert"):
        ServerConfig(listeners=(Listener(6697, tls=True),))


def test_reuse_port_lets_two_servers_bind_every_listener_of_one_config() -> None:
    """SO_REUSEPORT on every listener (--workers): a second bind of the same ports works with
    it and fails without it."""
    first = bind_listeners(ServerConfig(port=0, reuse_port=True))
    port = first[0][0].getsockname()[1]
    try:
        shared = ServerConfig(port=port, reuse_port=True,
                              listeners=(Listener(0, dialect="irc"),))
        second = bind_listeners(shared)
        assert [sock.getsockname()[1] for sock, _ in second][:1] == [port]
        for sock, _ in second:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            sock.close()
        with pytest.raises(OSError):
            bind_listeners(ServerConfig(port=port))
    finally:
        for sock, _ in first:
            sock.close()


def test_reuse_port_and_cluster_options_reach_the_config() -> None:
    config = config_from_args(parse_args(["--cluster", "redis://h:1/2", "--node-name", "n1",
                                          "--node-lease", "3", "--reuse-port"]))
    assert (config.cluster, config.node_name, config.node_lease, config.reuse_port) == (
        "redis://h:1/2", "n1", 3.0, True)
