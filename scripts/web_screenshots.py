"""Screenshots of the bundled web client for the README: desktop and phone, light and dark.

Starts a server in this process (asyncio engine, HTTP listener on 127.0.0.1), stages a small
conversation with a few JSON bots (a topic, history, an action, a mention, a private message),
signs a browser page in, and saves PNGs into docs/screenshots/. Needs Playwright for Python and
Debian's chromium (never a downloaded browser):

    python scripts/web_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from chat.config import Listener, ServerConfig
from chat.engines import serve_in_background

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1200, "height": 720}
PHONE = {"width": 390, "height": 760}


class Bot:
    """A structured-dialect client over TCP that says things and reads nothing back."""

    def __init__(self, port: int, nick: str, *rooms: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.send(type="hello", version=1, nick=nick)
        self.wait("welcome")
        for room in rooms:
            self.send(type="join", room=room)
            self.wait("members")

    def send(self, **obj: object) -> None:
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def wait(self, kind: str) -> dict[str, object]:
        while True:
            obj: dict[str, object] = json.loads(self.file.readline())
            if obj.get("type") == kind:
                return obj

    def say(self, to: str, text: str, kind: str = "message") -> None:
        self.send(type="message", to=to, text=text, kind=kind)
        self.wait("message")  # our echo: the line is in before the next one


def stage(port: int) -> list[Bot]:
    ada = Bot(port, "ada", "#lobby", "#dev")
    grace = Bot(port, "grace", "#lobby", "#dev")
    linus = Bot(port, "linus", "#lobby")
    ada.send(type="topic", room="#lobby", topic="Friday release: notes in #dev, be kind")
    ada.wait("topic")
    ada.say("#lobby", "morning all")
    grace.say("#lobby", "morning! the build is green again")
    linus.say("#lobby", "nice. who broke it?")
    grace.say("#lobby", "a flaky test, fixed with an event instead of a sleep")
    ada.say("#lobby", "hands out coffee", "action")
    linus.say("#lobby", "<b>markup</b> stays text: <img src=x onerror=alert(1)>")
    return [ada, grace, linus]


def after_join(bots: list[Bot]) -> None:
    ada, grace, linus = bots
    ada.say("#lobby", "welcome, you!")
    grace.say("#dev", "you: can you review the web client today?")
    grace.say("#dev", "it is on the branch")
    linus.say("you", "psst: lunch at noon?")
    ada.say("#lobby", "release notes are up")


def variant(browser: Browser, out: Path, scheme: str, size_name: str) -> list[Path]:
    """One screenshot (two for the light phone: the rooms drawer too), on a fresh server so
    every variant shows the same conversation."""
    phone = size_name == "phone"
    saved: list[Path] = []
    config = ServerConfig(port=0, listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    with serve_in_background("asyncio", config) as srv:
        http_port = next(port for spec, (_, port) in srv.engine.addresses  # type: ignore[attr-defined]
                         if spec.dialect == "http")
        bots = stage(srv.port)
        context = browser.new_context(viewport=PHONE if phone else DESKTOP, color_scheme=scheme,
                                      device_scale_factor=2 if phone else 1,
                                      is_mobile=phone, has_touch=phone)
        try:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{http_port}/")
            page.fill("#login-nick", "you")
            if (scheme, size_name) == ("light", "desktop"):
                saved.append(out / "web-login.png")
                page.screenshot(path=str(saved[-1]))
            page.fill("#login-rooms", "#lobby #dev")
            page.click("#login-submit")
            page.wait_for_selector('#status[data-state="connected"]')
            page.wait_for_selector('.conv[data-key="#dev"]')
            page.evaluate("() => document.querySelector('.conv[data-key=\"#lobby\"] button')"
                          ".click()")
            page.wait_for_selector("#member-list .member-nick >> text=linus")
            after_join(bots)
            page.wait_for_selector('.conv[data-key="linus"]')  # linus's private message
            page.wait_for_selector("#log .text >> text=release notes are up")
            saved.append(out / f"web-{size_name}-{scheme}.png")
            page.screenshot(path=str(saved[-1]))
            if phone and scheme == "light":
                page.click("#toggle-rooms")
                page.wait_for_timeout(300)  # the drawer's slide-in transition (0.15 s)
                saved.append(out / "web-phone-rooms.png")
                page.screenshot(path=str(saved[-1]))
        finally:
            context.close()
            for bot in bots:
                bot.sock.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/screenshots", type=Path)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            for scheme in ("light", "dark"):
                for size_name in ("desktop", "phone"):
                    for path in variant(browser, args.out, scheme, size_name):
                        print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
