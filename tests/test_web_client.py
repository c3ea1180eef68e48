"""The bundled web client in a real browser: Debian's chromium driven by Playwright, against a
real server of each engine (the HTTP listener serves the page and the WebSocket).

One browser for the module (starting chromium is the slow part); each test gets fresh browser
contexts (separate storage, like separate people). Waits are on the page's state (a selector,
the status element's ``data-state``), never fixed sleeps.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from support import TEST_LIMITS, WAIT, LineClient, http_listener_port, say_hello
from test_tls import Certs

from chat.config import Listener, ServerConfig
from chat.engines import BackgroundServer, serve_in_background

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: What every helper's browser is launched with: headless, and nothing reaching the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MS = int(WAIT * 1000)  # Playwright's timeouts are in milliseconds

pytestmark = [
    pytest.mark.skipif(sync_playwright is None,
                       reason="Playwright is not installed (pip install playwright)"),
    pytest.mark.skipif(CHROMIUM is None,
                       reason="chromium is not installed (apt-get install chromium)"),
]

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A test CA and a certificate for localhost / 127.0.0.1 (trustme)."""
    return Certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the module (Debian's, never a downloaded one)."""
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def web_server(engine: str, http_port: int = 0,
               **changes: Any) -> Iterator[tuple[BackgroundServer, int]]:
    """A server with an HTTP listener on 127.0.0.1; yields it and the HTTP port."""
    tls = bool(changes.get("tls_cert"))
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5, tls_port=0,
                          listeners=(Listener(http_port, "127.0.0.1", tls=tls, dialect="http"),),
                          **changes)
    with serve_in_background(engine, config) as srv:
        yield srv, http_listener_port(srv)


class Person:
    """One browser page (its own context: its own storage), signed in through the form."""

    def __init__(self, browser: Browser, url: str, **options: Any) -> None:
        self.context = browser.new_context(**options)
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(MS)
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text)
                     if msg.type == "error" else None)

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)
        self.response = self.page.goto(url)

    def sign_in(self, nick: str, rooms: str = "#room") -> Person:
        page = self.page
        page.fill("#login-nick", nick)
        page.fill("#login-rooms", rooms)
        page.click("#login-submit")
        self.wait_connected()
        for room in rooms.split():
            page.wait_for_selector(f'.conv[data-key="{room.lower()}"]')
        return self

    def wait_connected(self) -> None:
        self.page.wait_for_selector('#status[data-state="connected"]')

    def say(self, text: str) -> None:
        self.page.fill("#input", text)
        self.page.press("#input", "Enter")

    def line(self, text: str) -> Any:
        """Wait for a line in the open conversation whose text is exactly ``text``."""
        locator = self.page.locator("#log .line .text", has_text=text).filter(
            has_text=text).first
        locator.wait_for()
        return locator

    def members(self) -> list[str]:
        return [text.strip() for text in self.page.locator("#member-list .member-nick")
                .all_inner_texts()]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(browser: Browser) -> Iterator[list[Person]]:
    made: list[Person] = []
    yield made
    for person in made:
        person.close()


def nc_user(srv: BackgroundServer, nick: str, room: str) -> LineClient:
    """A person on nc: types a nick, then /join."""
    nc = LineClient(srv.host, srv.port)
    nc.send(f"{nick}\r\n")
    nc.expect(f"Welcome to {srv.engine.config.name}, {nick}")
    nc.send(f"/join {room}\r\n")
    nc.expect(f"In {room}")
    return nc


def test_two_pages_and_an_nc_user_chat_in_one_room(engine: str, browser: Browser,
                                                   people: list[Person]) -> None:
    with web_server(engine) as (srv, port):
        url = f"http://127.0.0.1:{port}/"
        alice = Person(browser, url).sign_in("alice")
        people.append(alice)
        bob = Person(browser, url).sign_in("bob")
        people.append(bob)
        carol = nc_user(srv, "carol", "#room")
        try:
            alice.say("hello from the browser")
            bob.line("hello from the browser")
            carol.expect("hello from the browser")
            carol.send("hi from nc, alice\r\n")
            alice.line("hi from nc, alice")
            bob.line("hi from nc, alice")
            bob.say("and from bob")
            alice.line("and from bob")
            carol.expect("and from bob")
            # Members with nick colours; the line naming alice is a mention on her page only.
            alice.page.wait_for_function(
                "() => document.querySelectorAll('#member-list .member').length === 3")
            assert sorted(alice.members()) == ["alice", "bob", "carol"]
            colour = alice.page.locator("#member-list .member-nick", has_text="carol")
            assert "nick-c" in (colour.get_attribute("class") or "")
            assert "mention" in (alice.line("hi from nc, alice").locator("..")
                                 .get_attribute("class") or "")
            assert "mention" not in (bob.line("hi from nc, alice").locator("..")
                                     .get_attribute("class") or "")
            # Away from the room, its unread count and mention marker show in the side panel.
            alice.page.click('.conv[data-key="*server*"] button')
            carol.send("alice, are you there?\r\n")
            carol.send("second line\r\n")
            room = alice.page.locator('.conv[data-key="#room"]')
            room.locator(".badge", has_text="2").wait_for()
            assert "mention" in (room.get_attribute("class") or "")
            room.locator("button").click()
            alice.line("second line")
            assert room.locator(".badge").count() == 0
            # A slash command: /me is an action everyone sees.
            bob.say("/me waves")
            carol.expect("bob waves")
            alice.page.locator("#log .line.kind-action .text", has_text="waves").wait_for()
        finally:
            carol.close()
        assert not alice.errors and not bob.errors, alice.errors + bob.errors


def test_markup_from_users_is_shown_as_text(engine: str, browser: Browser,
                                           people: list[Person]) -> None:
    with web_server(engine) as (srv, port):
        url = f"http://127.0.0.1:{port}/"
        victim = Person(browser, url)
        people.append(victim)
        assert victim.response is not None
        policy = victim.response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        victim.sign_in("victim")
        attacker = say_hello(LineClient(srv.host, srv.port), "attacker", "#room")
        try:
            attacker.request(type="message", to="#room", text=XSS)
            attacker.request(type="message", to="#room", text="<b>bold</b> & <script>x()</script>")
            attacker.request(type="topic", room="#room", topic=XSS)
            attacker.request(type="message", to="victim", text=XSS)  # a private message
            victim.line("<b>bold</b> & <script>x()</script>")
            assert victim.line(XSS).inner_text() == XSS
            victim.page.wait_for_function(
                "t => document.getElementById('topic').textContent === t", arg=XSS)
            victim.page.locator('.conv[data-key="attacker"] button').click()
            assert victim.line(XSS).inner_text() == XSS
        finally:
            attacker.close()
        page = victim.page
        assert page.locator("#log img, #log b, #log script, #topic img").count() == 0
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert victim.dialogs == []
        assert not victim.errors, victim.errors


def test_the_page_reconnects_and_rejoins_after_a_server_restart(
        engine: str, browser: Browser, people: list[Person]) -> None:
    with web_server(engine) as (srv, port):
        url = f"http://127.0.0.1:{port}/"
        page = Person(browser, url).sign_in("phoenix", rooms="#room #other")
        people.append(page)
        page.page.click('.conv[data-key="#room"] button')
        page.say("before the restart")
        page.line("before the restart")
    # The server is gone: the page says so and keeps trying.
    page.page.wait_for_selector('#status[data-state="waiting"]')
    with web_server(engine, http_port=port) as (srv, _):
        page.wait_connected()
        watcher = say_hello(LineClient(srv.host, srv.port), "watcher", "#room", "#other")
        try:
            # Both rooms were rejoined: the watcher sees phoenix in each member list.
            for room in ("#room", "#other"):
                watcher.request(type="who", room=room)
                members = watcher.expect_json(type="members", room=room)["members"]
                if "phoenix" not in [m["nick"] for m in members]:
                    watcher.expect_json(type="join", room=room, **{"from": "phoenix"})
            page.say("after the restart")
            watcher.expect_json(type="message", text="after the restart", room="#room")
            page.line("after the restart")
            page.line("before the restart")  # the scrollback survived
        finally:
            watcher.close()
    # The only console errors allowed are the failed WebSocket attempts while it was down.
    assert all("WebSocket" in error or "ERR_CONNECTION_REFUSED" in error
               for error in page.errors), page.errors


def test_history_on_join_and_older_lines_on_scrolling_up(browser: Browser,
                                                          people: list[Person]) -> None:
    """History is above the engines (one engine is enough): the replay on join, then older
    pages as the reader scrolls up, until the beginning."""
    with web_server("asyncio") as (srv, port):
        writer = say_hello(LineClient(srv.host, srv.port), "writer", "#hist")
        try:
            for n in range(1, 81):
                writer.request(type="message", to="#hist", text=f"line {n}")
            writer.expect_json(type="message", text="line 80")
            reader = Person(browser, f"http://127.0.0.1:{port}/").sign_in("reader", "#hist")
            people.append(reader)
            page = reader.page
            reader.line("line 80")
            replayed = srv.engine.config.replay_lines
            texts = page.locator("#log .line.history .text").all_inner_texts()
            assert texts == [f"line {n}" for n in range(81 - replayed, 81)]

            def scroll_up_until(text: str) -> None:
                """Scroll to the top until ``text`` is shown: a scroll while a page is still
                being asked for is (rightly) ignored, so scroll again on each poll."""
                page.wait_for_function(
                    "(t) => { const s = document.getElementById('scroller');"
                    " s.scrollTop = 0; s.dispatchEvent(new Event('scroll'));"
                    " return [...document.querySelectorAll('#log .line .text')]"
                    ".some(e => e.textContent === t); }", arg=text, polling=300)

            scroll_up_until(f"line {81 - replayed - 50}")  # one page of 50 more
            scroll_up_until("line 1")
            page.wait_for_function(
                "() => document.getElementById('older').textContent.includes('Beginning')")
            texts = page.locator("#log .line.kind-message .text").all_inner_texts()
            assert texts == [f"line {n}" for n in range(1, 81)]  # in order, none twice
        finally:
            writer.close()


def test_register_then_log_in_from_another_page(browser: Browser, people: list[Person]) -> None:
    """Accounts are above the engines (one is enough): the form registers a nick, and a later
    page logs in to it; a wrong password is said and the page carries on without an account."""
    config = ServerConfig(port=0, limits=TEST_LIMITS, shutdown_grace=0.5,
                          password_hash_time=1, password_hash_memory=8,
                          listeners=(Listener(0, "127.0.0.1", dialect="http"),))
    with serve_in_background("asyncio", config) as srv:
        url = f"http://127.0.0.1:{http_listener_port(srv)}/"
        first = Person(browser, url)
        people.append(first)
        first.page.fill("#login-password", "correct horse")
        first.page.check("#login-register")
        first.sign_in("ada")
        first.page.wait_for_function(
            "() => document.getElementById('me-account').textContent.includes('ada')")
        first.close()
        people.remove(first)
        watcher = say_hello(LineClient(srv.host, srv.port), "watcher")
        try:
            # Wait until the first page's session is gone, so the nick is free again.
            while True:
                watcher.request(type="whois", nick="ada")
                reply = watcher.expect(lambda line: '"whois"' in line or '"error"' in line)
                if '"error"' in reply:
                    break
            second = Person(browser, url)
            people.append(second)
            second.page.fill("#login-password", "correct horse")
            second.sign_in("ada")
            second.page.wait_for_function(
                "() => document.getElementById('me-account').textContent.includes('ada')")
            watcher.request(type="whois", nick="ada")
            assert watcher.expect_json(type="whois", nick="ada")["account"] == "ada"
            second.close()
            people.remove(second)
            third = Person(browser, url)
            people.append(third)
            third.page.fill("#login-password", "wrong password")
            third.sign_in("bea")
            third.page.locator("#log .line.kind-error .text",
                               has_text="Could not log in").wait_for()
            assert third.page.locator("#me-account").inner_text() == ""
        finally:
            watcher.close()


def test_the_page_over_https_talks_over_wss(browser: Browser, people: list[Person],
                                            certs: Certs) -> None:
    """With a certificate the HTTP listener is HTTPS, and the page opens wss:// to it. (The
    browser is told to accept the test CA's certificate; test_web_tls.py verifies it.)"""
    with web_server("asyncio", tls_cert=str(certs.cert), tls_key=str(certs.key)) as (srv, port):
        url = f"https://localhost:{port}/"
        person = Person(browser, url, ignore_https_errors=True).sign_in("secure")
        people.append(person)
        assert person.page.evaluate("location.protocol") == "https:"
        plain = say_hello(LineClient(srv.host, srv.port), "plain", "#room")
        try:
            person.say("sent over wss")
            plain.expect_json(type="message", text="sent over wss")
            plain.request(type="message", to="#room", text="read over wss")
            person.line("read over wss")
        finally:
            plain.close()
        assert not person.errors, person.errors


def test_a_phone_sized_screen_and_the_dark_scheme(browser: Browser,
                                                   people: list[Person]) -> None:
    """On a phone the conversation takes the screen and the rooms slide in; a dark system
    setting gives the dark palette. (Layout is the browser's: one engine is enough.)"""
    with web_server("asyncio") as (_srv, port):
        url = f"http://127.0.0.1:{port}/"
        phone = Person(browser, url, viewport={"width": 390, "height": 760},
                       is_mobile=True, has_touch=True, color_scheme="dark").sign_in("pocket")
        people.append(phone)
        page = phone.page

        def left_edge(selector: str) -> float:
            box = page.locator(selector).bounding_box()
            assert box is not None
            return box["x"] + box["width"]

        assert left_edge("#sidebar") <= 0  # off screen to the left
        log = page.locator("#scroller").bounding_box()
        assert log is not None and log["width"] >= 380  # the conversation has the width
        page.click("#toggle-rooms")
        page.wait_for_function(
            "() => document.getElementById('sidebar').getBoundingClientRect().left >= 0")
        page.click('.conv[data-key="*server*"] button')  # picking one closes the drawer
        page.wait_for_function(
            "() => document.getElementById('sidebar').getBoundingClientRect().right <= 0")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(22, 24, 29)"  # --bg of the dark scheme
        light = Person(browser, url, color_scheme="light")
        people.append(light)
        assert light.page.evaluate(
            "getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"


def test_after_a_drop_the_page_fills_the_gap_from_history(browser: Browser,
                                                          people: list[Person]) -> None:
    """Lines said while the page was away come back through history once it rejoins, in
    order and once each, even more of them than the rejoin's replay shows. (The browser is put
    offline so it cannot come back too soon.)"""
    with web_server("asyncio", replay_lines=2) as (srv, port):
        page = Person(browser, f"http://127.0.0.1:{port}/").sign_in("roamer", "#gap")
        people.append(page)
        talker = say_hello(LineClient(srv.host, srv.port), "talker", "#gap")
        try:
            talker.request(type="message", to="#gap", text="before the drop")
            page.line("before the drop")
            page.context.set_offline(True)
            page.say("/reconnect")  # closes the WebSocket; new ones fail while offline
            page.page.wait_for_selector('#status[data-state="waiting"]')
            talker.expect_json(type="quit", **{"from": "roamer"})
            for n in range(6):
                talker.request(type="message", to="#gap", text=f"missed {n}")
            talker.expect_json(type="message", text="missed 5")
            page.context.set_offline(False)
            page.wait_connected()
            for n in range(6):
                page.line(f"missed {n}")
            rows = page.page.locator("#log .line.kind-message")
            texts = rows.locator(".text").all_inner_texts()
            assert texts == ["before the drop", *(f"missed {n}" for n in range(6))]
            # They came from history (the replay has the last two, the gap fill the rest).
            assert all("history" in (rows.nth(i).get_attribute("class") or "")
                       for i in range(1, 7))
        finally:
            talker.close()
