"""The attack pass's one-line freezes, replayed over real sockets on both engines.

While the attack runs, a probe client must still get its PONG within a second: the server
keeps answering everyone, whatever one connection sends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from conftest import IrcClient
from support import Clients

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
