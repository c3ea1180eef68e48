"""Listeners: the list in the config, and a listener that pins its connections' dialect."""

from __future__ import annotations

import pytest
from memnet import MemoryNet

from chat.config import Listener, ServerConfig


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
    assert " 451 " in client.lines[-1]  # IRC: "You have not registered"
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
