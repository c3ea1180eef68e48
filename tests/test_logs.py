"""The server log: connections, nick changes, kicks and bans at INFO, never what people say;
and the JSON format."""

from __future__ import annotations

import json
import logging

import pytest
from memnet import MemoryNet

from chat.config import Limits, ServerConfig
from chat.logs import TEXT_FORMAT, JsonFormatter, NodeFormatter


def test_the_log_tells_who_came_and_did_what_but_never_what_was_said(
        caplog: pytest.LogCaptureFixture) -> None:
    net = MemoryNet(ServerConfig(limits=Limits(rate_per_second=0)))
    with caplog.at_level(logging.INFO):
        alice = net.irc("alice", "#r")
        bob = net.irc("bob", "#r")
        bob.line("PRIVMSG #r :a private thought about the weather")
        bob.line("NICK robert")
        alice.line("MODE #r +b *!*@spam.example")
        alice.line("KICK #r robert :enough")
        alice.sync()
        net.hang_up(alice)
    text = caplog.text
    assert "connection 1 from 127.0.0.1" in text
    assert "bob (127.0.0.1) is now known as robert" in text
    assert "banned *!*@spam.example on #r" in text
    assert "kicked robert from #r (enough)" in text
    assert "connection 1 from 127.0.0.1 closed (irc, alice): Connection closed" in text
    assert "weather" not in text


def test_json_log_lines_are_one_object_each() -> None:
    record = logging.LogRecord("chat.hub", logging.INFO, __file__, 1, "connection %d", (7,),
                               None)
    obj = json.loads(JsonFormatter().format(record))
    assert obj["msg"] == "connection 7" and obj["level"] == "INFO" and obj["logger"] == "chat.hub"
    assert obj["ts"].endswith("Z")


def test_a_workers_lines_are_marked_with_its_node_in_both_formats() -> None:
    record = logging.LogRecord("chat", logging.INFO, __file__, 1, "ready: port=%d", (7,), None)
    text = NodeFormatter(logging.Formatter(TEXT_FORMAT), "box-w2").format(record)
    assert text.startswith("[box-w2] ") and text.endswith("INFO chat: ready: port=7")
    obj = json.loads(NodeFormatter(JsonFormatter(), "box-w2").format(record))
    assert (obj["node"], obj["msg"]) == ("box-w2", "ready: port=7")
