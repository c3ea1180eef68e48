#!/usr/bin/env python3
"""End-to-end demo of the terminal client in real terminals (tmux).

Starts a server on a free port and two clients (alice, bob) in a private tmux server, types
in alice's and captures bob's screen, then restarts the server and checks both come back.
Prints bob's screen; exits non-zero if anything expected never showed up.

    python scripts/client_tmux_demo.py [--engine asyncio|threaded] [--out screen.txt] [--keep]

``--keep`` leaves the tmux session running to look at: ``tmux -L <socket> attach``.
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0


class Tmux:
    """A tmux server of our own (its own socket), so the user's sessions are never touched."""

    def __init__(self, width: int = 100, height: int = 26) -> None:
        self.socket = f"chat-demo-{os.getpid()}"
        self.width, self.height = width, height
        self.started = False

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                             capture_output=True, text=True)
        return out.stdout

    def window(self, name: str, command: str) -> None:
        env = f"cd {ROOT} && exec env TERM=xterm-256color {command}"
        if not self.started:
            self.run("new-session", "-d", "-s", "demo", "-n", name, "-x", str(self.width),
                     "-y", str(self.height), env)
            self.started = True
        else:
            self.run("new-window", "-d", "-t", "demo", "-n", name, env)

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", f"demo:{name}", *keys)

    def type_line(self, name: str, text: str) -> None:
        self.run("send-keys", "-t", f"demo:{name}", "-l", text)
        self.keys(name, "Enter")

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", f"demo:{name}")

    def wait_for(self, name: str, pattern: str, timeout: float = WAIT) -> str:
        """Poll the screen (a terminal gives no events) until ``pattern`` appears."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(name)
            if re.search(pattern, screen):
                return screen
            if time.monotonic() > deadline:
                raise SystemExit(f"never saw {pattern!r} on {name}'s screen:\n{screen}")
            time.sleep(0.02)  # capture-pane is cheap; a coarser poll only adds latency

    def input_row(self, name: str) -> str:
        """The bottom row of the screen: the prompt and what is being typed."""
        return self.screen(name).split("\n")[self.height - 1].rstrip()

    def wait_prompt(self, name: str, prompt: str, timeout: float = WAIT) -> None:
        """Until the input row is exactly ``prompt`` (the box empty, the prompt whole)."""
        deadline = time.monotonic() + timeout
        while (row := self.input_row(name)) != prompt:
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}'s input row is {row!r}, not {prompt!r}:\n"
                                 + self.screen(name))
            time.sleep(0.02)

    def paste(self, name: str, text: str) -> None:
        """Paste as a terminal does: bracketed (-p), since the client asks for that."""
        self.run("set-buffer", "-b", "demo-paste", text)
        self.run("paste-buffer", "-p", "-d", "-b", "demo-paste", "-t", f"demo:{name}")

    def kill(self) -> None:
        if self.started:
            subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


#: One data directory for every server this run starts, so history survives the restart.
DATA_DIR = tempfile.mkdtemp(prefix="chat-demo-data-")
atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)


def start_server(engine: str, port: int = 0) -> tuple[subprocess.Popen[bytes], int]:
    """``python -m chat`` on ``port`` (0: any); returns it and the port it logged."""
    fd, name = tempfile.mkstemp(prefix="chat-demo-server-", suffix=".log")
    log = Path(name)
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chat", "--port", str(port), "--engine", engine,
             "--http-port", "0", "--data-dir", DATA_DIR],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:  # the log is only read here; the server may keep writing to its unlinked file
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"ready:.*port=(\d+)", log.read_text(errors="replace"))
            if found:
                return proc, int(found.group(1))
            time.sleep(0.02)
        proc.kill()
        raise SystemExit("the server never said it was ready:\n" + log.read_text())
    finally:
        log.unlink(missing_ok=True)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", default="asyncio", choices=["asyncio", "threaded"])
    p.add_argument("--out", type=Path, help="also write bob's final screen to this file")
    p.add_argument("--keep", action="store_true", help="leave tmux and the server running")
    args = p.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2

    server, port = start_server(args.engine)
    tmux = Tmux()
    client = f"{sys.executable} -m client --port {port}"
    try:
        tmux.window("alice", f"{client} --nick alice")
        tmux.wait_for("alice", r"\[connected\] alice in #lobby")
        tmux.window("bob", f"{client} --nick bob")
        tmux.wait_for("bob", r"\[connected\] bob in #lobby")
        tmux.wait_for("alice", r"bob joined #lobby")

        tmux.type_line("alice", "/topic Friday release")
        tmux.type_line("alice", "hello bob, ready for the release?")
        tmux.type_line("bob", "/me gives alice a thumbs up")
        tmux.type_line("alice", "/join #dev")
        tmux.wait_for("alice", r"\[connected\] alice in #dev")
        tmux.type_line("alice", "bob: the build is green")
        tmux.wait_for("bob", r"<alice> hello bob, ready for the release\?")
        tmux.wait_for("bob", r"\* bob gives alice a thumbs up")

        # The server goes away and comes back on the same port: both clients reconnect.
        stop_server(server)
        tmux.wait_for("bob", r"Disconnected from the server")
        server, _ = start_server(args.engine, port)
        tmux.wait_for("bob", r"Reconnected\.")
        tmux.wait_for("bob", r"\[connected\] bob in #lobby")
        tmux.wait_for("alice", r"\[connected\] alice in #dev")
        tmux.keys("alice", "C-p")  # back to #lobby
        tmux.wait_for("alice", r"\[connected\] alice in #lobby")
        tmux.type_line("alice", "and we are back")
        tmux.wait_for("bob", r"<alice> and we are back")

        # A line wider than the input box: once sent, the prompt is whole again.
        tmux.type_line("alice", "a long line " + "x" * (tmux.width + 20) + " end")
        tmux.wait_for("bob", r"x end")
        tmux.wait_prompt("alice", "[#lobby]")
        # A two-line paste is two messages.
        tmux.paste("alice", "pasted line one\npasted line two\n")
        tmux.wait_for("bob", r"<alice> pasted line one.*\n.*<alice> pasted line two")
        tmux.wait_prompt("alice", "[#lobby]")
        # A longer paste is asked about first; "y" sends it.
        tmux.paste("alice", "".join(f"step {n} of the plan\n" for n in range(1, 6)))
        tmux.wait_for("alice", r"Send 5 pasted lines to #lobby .*y: send them  n: cancel")
        tmux.keys("alice", "y")
        tmux.wait_for("bob", r"<alice> step 5 of the plan")
        tmux.wait_prompt("alice", "[#lobby]")
        screen = tmux.wait_for("bob", r"<alice> step 5 of the plan")

        print(screen)
        if args.out:
            args.out.write_text(screen)
        if args.keep:
            print(f"tmux -L {tmux.socket} attach   # to look; server pid {server.pid}")
            return 0
        tmux.type_line("alice", "/quit bye")
        tmux.wait_for("bob", r"alice quit \(bye\)")
        return 0
    finally:
        if not args.keep:
            tmux.kill()
            stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
