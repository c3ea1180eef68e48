"""The attack pass's one-line freezes, replayed over real sockets on both engines.

While the attack runs, a probe client must still get its PONG within a second: the server
keeps answering everyone, whatever one connection sends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from conftest import IrcClient
from support import Clients, wait_until

PROBE_DEADLINE = 1.0  # the old matcher stalled everyone for 2.5 s to more than 20 s


def probe_answers(probe: IrcClient, token: str) -> float:
    """Seconds until the probe's PING is answered."""
    started = time.monotonic()
    probe.cmd(f"PING :{token}")
    probe.expect(lambda line: "PONG" in line and line.endswith(token), timeout=PROBE_DEADLINE)
    return time.monotonic() - started


def test_who_with_hundreds_of_stars_freezes_nobody(
        clients: Clients, irc: Callable[..., IrcClient]) -> None:
    for n in range(5):
        irc("a" * 25 + str(n))
    probe = irc("probe")
    attacker = irc("mallory")
    attacker.cmd("WHO " + "*" * 400 + "x")
    attacker.cmd("WHO " + "*a" * 13 + "*b")
    attacker.cmd("WHO " + "*" * 40 + "x")
    probe_answers(probe, "during")
    attacker.numeric("416")  # the 400-star mask is refused outright
    attacker.numeric("315")
    attacker.sync()


def test_a_backtracking_ban_mask_freezes_nobody(
        clients: Clients, irc: Callable[..., IrcClient]) -> None:
    op = irc("op", "#den")
    probe = irc("probe")
    op.cmd("MODE #den +b *a*a*a*a*a*a*a*a*a*a*b")
    op.verb("MODE")
    victim = irc("a" * 29)
    victim.cmd("JOIN #den")
    probe_answers(probe, "during")
    victim.numeric("366")


def test_a_surrogate_topic_poisons_nothing(clients: Clients,
                                           irc: Callable[..., IrcClient]) -> None:
    bot = clients.bot("alice", "#lobby")
    bot.send('{"type":"topic","room":"#lobby","topic":"hi \\ud800"}\n')
    assert bot.expect_json(type="error")["code"] == "bad_encoding"
    bot.send('{"type":"message","to":"#lobby","text":"bad \\ud800"}\n')
    assert bot.expect_json(type="error")["code"] == "bad_encoding"
    ivan = irc("ivan", "#lobby")  # joining the room (and its topic) still works
    ivan.cmd("LIST")
    ivan.numeric("323")
    bot.request(type="message", to="#lobby", text="still here")
    assert ivan.expect("still here")
    assert not any("surrogates" in line or "codec" in line for line in ivan.received)
    assert all(json.loads(line).get("type") != "disconnect" for line in bot.received)


def test_a_long_list_is_paced_to_slow_readers_and_cuts_nobody(
        serve_with: Callable[..., Clients]) -> None:
    made = serve_with(sendq=64 * 1024, sendq_grace=60.0, max_rooms_per_user=0,
                      rate_per_second=0)
    creator = made.bot("creator")
    for n in range(1500):  # ~500 KB of LIST: eight send queues
        creator.request(type="join", room=f"#room{n:04d}")
        creator.request(type="topic", room=f"#room{n:04d}", topic="t" * 300)
    creator.request(type="ping", token="made")
    creator.expect_json(type="pong", token="made")
    listers = [made.raw(rcvbuf=4096) for _ in range(3)]  # small windows: they lag behind
    for n, lister in enumerate(listers):
        lister.send(f"NICK lister{n}\r\nUSER l 0 * :l\r\nLIST\r\nPING :after\r\n")
    for lister in listers:
        rooms = 0
        while True:
            line = lister.line()
            rooms += " 322 " in line
            if "PONG" in line:
                break
        assert rooms == 1500 and any(" 323 " in line for line in lister.received[-3:])


def test_the_default_room_and_service_nicks_belong_to_the_server(
        clients: Clients, irc: Callable[..., IrcClient]) -> None:
    first = clients.human("first")
    first.send("/mode +i\r\n")
    first.expect("operator")
    clients.human("second")  # still gets in
    squatter = IrcClient(clients.server.host, clients.server.port)
    clients.all.append(squatter)
    squatter.cmd("NICK NickServ")
    squatter.cmd("USER n 0 * :n")
    assert squatter.numeric("432")[0] == "NickServ"


def test_an_unterminated_telnet_subnegotiation_swallows_nothing_after_it(
        clients: Clients) -> None:
    person = clients.human("tina")
    bot = clients.bot("bob", "#lobby")
    person.send(b"\xff\xfa\x18" + b"x" * 1000 + b"\r\n")
    person.send("hello after\r\n")
    assert bot.expect_json(type="message", text="hello after")


def test_a_reconnect_storm_leaves_no_timers_behind(clients: Clients) -> None:
    for _ in range(300):
        clients.raw().close()
    hub = clients.server.hub
    wait_until(lambda: not hub.sessions)
    assert len(hub.timers) <= 200
