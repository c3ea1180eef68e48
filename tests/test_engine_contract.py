"""The engine contract, over real sockets on both engines: every configured listener is
served, a pinned dialect reaches the hub, and ``stats()`` says what the engine holds."""

from __future__ import annotations

from collections.abc import Callable

from support import Clients, LineClient, wait_until

from chat.config import Listener

Serve = Callable[..., Clients]


def test_every_listener_is_served_and_a_pinned_one_skips_detection(serve_with: Serve) -> None:
    made = serve_with(listeners=(Listener(0, dialect="irc"), Listener(0, dialect="structured")))
    engine = made.server.engine
    kinds = [(spec.dialect, port) for spec, (_, port) in engine.addresses]
    assert [kind for kind, _ in kinds] == [None, "irc", "structured"]
    assert all(port for _, port in kinds)
    irc = LineClient(made.server.host, kinds[1][1])
    made.all.append(irc)
    irc.send("hello there\r\n")  # a person's first line, but this port speaks IRC
    assert " 451 " in irc.expect(" 451 ")
    bot = LineClient(made.server.host, kinds[2][1])
    made.all.append(bot)
    bot.send("NICK x\r\n")
    assert bot.expect_json(type="error")["code"] == "bad_json"
    person = made.human("tina")  # the main port still detects
    person.send("hi\r\n")


def test_stats_count_connections_and_come_back_down(serve_with: Serve) -> None:
    made = serve_with()
    engine = made.server.engine
    before = engine.stats()
    bots = [made.bot(f"b{n}", "#lobby") for n in range(3)]
    stats = engine.stats()
    assert stats.connections == before.connections + 3
    assert stats.fds == -1 or stats.fds >= before.fds + 3
    for bot in bots:
        bot.close()
    wait_until(lambda: engine.stats().connections == before.connections)
