"""SIGTERM/SIGINT on the real ``chat-server`` process: clients are told, the process exits 0
within a bound, even with a client that never reads."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import pytest
from support import WAIT, LineClient, start_server_process

GRACE = 0.5


def start_server(engine: str) -> tuple[subprocess.Popen[str], int]:
    return start_server_process(
        "--engine", engine, "--port", "0", "--http-port", "0", "--data-dir", "none",
        "--shutdown-grace", str(GRACE), "--rate-per-second", "0", "--sendq", "65536")


@pytest.mark.parametrize("engine", ["asyncio", "threaded"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_tells_clients_and_exits_promptly(engine: str, sig: signal.Signals) -> None:
    proc, port = start_server(engine)
    clients: list[LineClient] = []
    try:
        person = LineClient("127.0.0.1", port)
        clients.append(person)
        person.send("alice\r\n")
        person.expect("In #lobby")
        bot = LineClient("127.0.0.1", port)
        clients.append(bot)
        bot.request(type="hello", version=1, nick="bob")
        bot.expect_json(type="welcome")
        # A client with a tiny window that never reads, and a pile of output queued for it.
        stalled = LineClient("127.0.0.1", port, rcvbuf=4096)
        clients.append(stalled)
        stalled.request(type="hello", version=1, nick="stalled")
        stalled.request(type="join", room="#lobby")
        for n in range(20):
            bot.request(type="rooms", ref=n)
        idle = socket.create_connection(("127.0.0.1", port))  # never says anything
        bot.request(type="ping", token="sync")
        bot.expect_json(type="pong", token="sync")
        start = time.monotonic()
        proc.send_signal(sig)
        assert "Disconnecting: Server shutting down" in person.wait_closed()[-1]
        last = json.loads(bot.wait_closed()[-1])
        assert last == {**last, "type": "disconnect", "reason": "Server shutting down"}
        assert proc.wait(timeout=WAIT) == 0
        elapsed = time.monotonic() - start
        assert elapsed < GRACE + 3, f"took {elapsed:.1f} s to stop"
        idle.settimeout(WAIT)
        try:
            while idle.recv(65536):
                pass
        except ConnectionResetError:
            pass
        idle.close()
        assert proc.stderr is not None
        log = proc.stderr.read()
        assert f"received {sig.name}, shutting down" in log and "stopped" in log
        assert "Traceback" not in log
    finally:
        for client in clients:
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("engine", ["asyncio", "threaded"])
def test_sigterm_is_honoured_promptly_while_the_server_is_busy(engine: str) -> None:
    """Attackers keep the server busy with the most expensive commands there are (long masks,
    WHO scans, floods of messages); SIGTERM still stops it within the grace bound."""
    proc, port = start_server(engine)
    clients: list[LineClient] = []
    try:
        for n in range(30):  # nicks the masks have to work on
            bot = LineClient("127.0.0.1", port)
            clients.append(bot)
            bot.request(type="hello", version=1, nick="a" * 25 + str(n))
            bot.request(type="join", room="#busy")
        attackers = []
        for n in range(4):
            attacker = LineClient("127.0.0.1", port)
            clients.append(attacker)
            attacker.send(f"NICK mallory{n}\r\nUSER m 0 * :m\r\nJOIN #busy\r\n")
            attacker.expect(" 366 ")
            attackers.append(attacker)
        burst = ("WHO " + "*a" * 60 + "*b\r\n" + "WHO " + "*" * 120 + "x\r\n"
                 + "PRIVMSG #busy :" + "x" * 400 + "\r\n" + "LIST\r\n") * 50
        for attacker in attackers:
            attacker.send(burst)
        attackers[0].expect(" 315 ")  # the attack is being served
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
        elapsed = time.monotonic() - start
        assert elapsed < GRACE + 3, f"took {elapsed:.1f} s to stop while busy"
    finally:
        for client in clients:
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
