"""Harness for the client tests: the real ChatApp on a pipe input and DummyOutput.

Not a conftest.py on purpose: other test modules do ``from conftest import ...``, and a second
package-less conftest would shadow the root one in ``sys.modules``. Test modules import the
``clients`` fixture from here.

The app runs on the test's event loop against a real server (the root conftest's ``server``
fixture, once per engine). Tests wait on conditions, re-checked whenever the app reports a
change, with generous timeouts; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from client.app import ChatApp
from client.layout import sidebar_fragments
from client.model import ConnState

WAIT = 15.0  # two loaded cores: be generous, a passing test never waits this long
FAST_BACKOFF = (0.05, 0.1, 0.2)


class Driver:
    """One running client: type into it, wait for what it shows."""

    def __init__(self, app: ChatApp, pipe: Any) -> None:
        self.app = app
        self.pipe = pipe
        self.model = app.model
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        # Wake waiters on every model change (network) and every input change (keys).
        original = app.invalidate

        def invalidate() -> None:
            self._changed.set()
            original()

        app.invalidate = invalidate  # type: ignore[method-assign]
        app.connection.on_change = invalidate
        app.input_buffer.on_text_changed += lambda _: self._changed.set()

    def type(self, text: str) -> None:
        """Keys as a terminal sends them ("\\r" is Enter, "\\t" Tab, "\\x0e" Ctrl+N...)."""
        self.pipe.send_text(text)

    async def wait(self, predicate: Callable[[], object], what: str = "",
                   timeout: float = WAIT) -> None:
        """Until ``predicate()`` is true; fails with the pane's contents if it never is."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {what or predicate}; pane:\n{self.pane().strip()}\n"
                    f"sidebar:\n{self.sidebar()}\nstate: {self.model.state}")
            self._changed.clear()
            # Keys are handled by prompt_toolkit between our checks; the short cap covers
            # changes no callback reports (a completion menu opening), not a fixed delay.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    async def wait_joined(self, room: str, *members: str) -> None:
        """Until we are in ``room`` and see ``members`` there."""
        def ok() -> bool:
            conv = self.model.get(room)
            return (self.model.state is ConnState.CONNECTED and conv is not None and conv.joined
                    and all(conv.members.get(m.lower()) for m in members))
        await self.wait(ok, f"{self.model.nick} in {room} with {members}")

    async def wait_line(self, room: str, text: str) -> None:
        """Until a line containing ``text`` is in ``room``'s conversation."""
        def ok() -> bool:
            conv = self.model.get(room)
            return conv is not None and any(text in line.text for line in conv.lines)
        await self.wait(ok, f"{text!r} in {room}")

    def pane(self) -> str:
        """What the message pane shows now (wrapped to the screen, blank rows on top)."""
        return self.app.pane.render_text()

    def text(self, room: str | None = None) -> str:
        """Every line of a conversation (default: the current one), unwrapped."""
        conv = self.model.get(room) if room else self.model.current
        return "\n".join(line.text for line in conv.lines) if conv else ""

    def screen(self) -> list[str]:
        """The rows prompt_toolkit last drew (80x40 on ``DummyOutput``), as plain text: what a
        person would see, prompt and scrolling of the input line included."""
        screen = self.app.application.renderer._last_screen
        if screen is None:
            return []
        size = self.app.application.output.get_size()
        return ["".join(screen.data_buffer[y][x].char for x in range(size.columns)).rstrip()
                for y in range(size.rows)]

    def input_row(self) -> str:
        """The bottom row of the screen: the prompt and what is being typed."""
        rows = self.screen()
        return rows[-1] if rows else ""

    def sidebar(self) -> str:
        """What the side panel shows now."""
        return "".join(t for _, t, *_ in sidebar_fragments(self.model))

    async def quit(self) -> None:
        """Leave cleanly and wait until the app and its connection are done."""
        self.app.quit("test over")
        if self.task is not None:
            await asyncio.wait_for(self.task, WAIT)


class Clients:
    """Starts ChatApps against one server and stops them all at the end."""

    def __init__(self, stack: contextlib.AsyncExitStack) -> None:
        self.stack = stack
        self.host = "127.0.0.1"
        self.port = 0

    async def start(self, nick: str, *rooms: str, port: int | None = None,
                    wait: bool = True, **kwargs: Any) -> Driver:
        """A client as ``nick``, in ``rooms`` (default #lobby), connected unless ``wait=False``."""
        pipe = self.stack.enter_context(create_pipe_input())
        app = ChatApp(self.host, port or self.port, nick, rooms or ("#lobby",), input=pipe,
                      output=DummyOutput(), backoff=kwargs.pop("backoff", FAST_BACKOFF),
                      **kwargs)
        driver = Driver(app, pipe)
        driver.task = asyncio.create_task(app.run_async())
        self.stack.push_async_callback(self._stop, driver)
        if wait:
            for room in rooms or ("#lobby",):
                await driver.wait_joined(room, nick)
        return driver

    @staticmethod
    async def _stop(driver: Driver) -> None:
        if driver.task is not None and not driver.task.done():
            await driver.quit()
        if driver.task is not None:
            driver.task.result()  # re-raise whatever crashed the app


@pytest.fixture(name="clients")
async def clients_fixture(server: Any) -> AsyncIterator[Clients]:
    """ChatApps against the test's server (the root conftest runs it once per engine)."""
    async with contextlib.AsyncExitStack() as stack:
        made = Clients(stack)
        made.host, made.port = server.host, server.port
        yield made
