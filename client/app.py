"""``ChatApp``: the model, the connection and the prompt_toolkit application, wired together.

The network task appends to the model and calls :meth:`ChatApp.invalidate`; the UI redraws
from the model. ``input``/``output`` are parameters so tests drive the real app through a
pipe input and ``DummyOutput``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from ssl import SSLContext

from prompt_toolkit.application import Application, create_app_session
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style

from client import commands
from client.completion import ChatCompleter
from client.config import save_ignore
from client.connection import BACKOFF, Connection
from client.keys import build_key_bindings
from client.layout import build_layout
from client.model import ChatModel
from client.pane import MessagePane
from client.paste import PASTE_LIMIT, PASTE_MAX_LINES, Paste, send_paced, split_paste
from client.style import STYLE


class ChatApp:
    """One chat session on screen."""

    def __init__(
        self,
        host: str,
        port: int,
        nick: str,
        rooms: Sequence[str] = ("#lobby",),
        *,
        input: Input | None = None,
        output: Output | None = None,
        backoff: Sequence[float] = BACKOFF,
        keepalive: float = 60.0,
        mouse: bool = False,
        ssl: SSLContext | None = None,
        account: str | None = None,
        password: str | None = None,
        paste_max_lines: int = PASTE_MAX_LINES,
        ignore: Sequence[str] = (),
        config_path: Path | None = None,
        sidebar: bool = True,
        style_rules: dict[str, str] | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.model = ChatModel(nick)
        self.model.set_ignored(list(ignore))
        self.config_path = config_path  # where /ignore keeps its list (None: nowhere)
        self.show_sidebar = sidebar  # F2 toggles it
        # ``password`` (with ``account``, default the nick) logs in on every connect.
        self.connection = Connection(
            self.model, host, port, rooms=rooms, on_change=self.invalidate, backoff=backoff,
            keepalive=keepalive, ssl=ssl, account=account, password=password, ca_file=ca_file,
        )
        # Paging up past the oldest line of a room asks the server for older lines.
        self.pane = MessagePane(self.model, on_top=lambda conv: self.connection.request_older(
            conv.name))
        self.input_buffer = Buffer(
            name="input", multiline=False, history=InMemoryHistory(),
            completer=ChatCompleter(self.model), complete_while_typing=False,
            accept_handler=self._accept,
        )
        self.context = commands.Context(self.model, self.connection, self.quit,
                                        clear=lambda: self.pane.forget(self.model.current_key),
                                        save_ignore=self._save_ignore)
        self.application: Application[None] = Application(
            layout=build_layout(self), key_bindings=build_key_bindings(self),
            style=Style.from_dict(style_rules) if style_rules else STYLE,
            full_screen=True, mouse_support=mouse, input=input, output=output,
        )
        self._quit_reason = "Leaving"
        self.paste_max_lines = paste_max_lines
        self.pending_paste: Paste | None = None  # a long paste waiting for yes or no
        self._paste_tasks: set[asyncio.Task[int]] = set()

    def invalidate(self) -> None:
        """Redraw soon (safe to call often: prompt_toolkit coalesces redraws)."""
        self.application.invalidate()

    def _accept(self, buffer: Buffer) -> bool:
        """Enter: run the line, then always empty the box.

        A line that fails (unknown command, not in that room, not connected) is cleared too and
        kept in the input history (Up brings it back to fix): left in the box, whatever was
        typed next was appended to it and the whole line re-sent later as one message.
        """
        if commands.is_secret(buffer.text):
            # A password: run it, then empty the box before prompt_toolkit records the line in
            # the history (it does after this returns), sent or not; the undo stack goes too.
            commands.execute(self.context, buffer.text)
            buffer.reset()
            self.invalidate()
            return False
        commands.execute(self.context, buffer.text)
        self.invalidate()
        return False  # prompt_toolkit appends the line to the history, then empties the box

    def _save_ignore(self, ignored: list[str]) -> str:
        if self.config_path is None:
            return "for this session only (no config file)"
        save_ignore(self.config_path, ignored)
        return f"in {self.config_path}"

    def paste(self, data: str) -> None:
        """A bracketed paste: one line goes into the box; several are sent line by line (after
        a question when there are more than ``paste_max_lines``)."""
        lines = split_paste(data)
        buf = self.input_buffer
        if len(lines) <= 1:
            buf.insert_text(lines[0] if lines else "")
            return
        before, after = buf.document.text_before_cursor, buf.document.text_after_cursor
        lines[0], lines[-1] = before + lines[0], lines[-1] + after
        lines = [line for line in lines if line.strip()]
        if len(lines) > PASTE_LIMIT:
            self.model.info(f"A paste of {len(lines)} lines is too long to send as chat lines "
                            f"(at most {PASTE_LIMIT}); nothing was sent.", kind="error")
            self.invalidate()
            return
        buf.reset()
        pending = Paste(lines, self.model.current_key, before.startswith("/"))
        if len(lines) > self.paste_max_lines:
            self.pending_paste = pending
        else:
            self._send_paste(pending)
        self.invalidate()

    def answer_paste(self, send: bool) -> None:
        """The answer to "Send N pasted lines?"."""
        pending, self.pending_paste = self.pending_paste, None
        if pending is not None and send:
            self._send_paste(pending)
        elif pending is not None:
            self.model.info(f"Paste of {len(pending.lines)} lines cancelled.")
        self.invalidate()

    def _send_paste(self, pending: Paste) -> None:
        def send_one(line: str, as_command: bool) -> bool:
            if as_command:
                return commands.execute(self.context, line)
            return commands.say_in(self.context, pending.conversation, line)

        async def send_all() -> int:
            sent = await send_paced(pending, send_one)
            if sent < len(pending.lines):
                left = len(pending.lines) - sent
                self.model.info(f"{left} pasted line{'s' if left != 1 else ''} not sent.",
                                kind="error")
                self.invalidate()
            return sent

        task = asyncio.get_running_loop().create_task(send_all())
        self._paste_tasks.add(task)
        task.add_done_callback(self._paste_tasks.discard)

    def quit(self, reason: str = "Leaving") -> None:
        """Leave: the application exits and :meth:`run_async` says goodbye to the server."""
        self._quit_reason = reason
        future = self.application.future  # set while the application runs
        if self.application.is_running and future is not None and not future.done():
            self.application.exit()

    async def run_async(self) -> None:
        """Run until the user quits; the terminal is restored and the socket closed on return."""
        network = asyncio.create_task(self.connection.run(), name="chat-client-connection")
        try:
            # A session of our own: prompt_toolkit keeps "the running app" in a shared session
            # object, so two apps in one process (tests, embedding) would steal each other's keys.
            with create_app_session(self.application.input, self.application.output):
                await self.application.run_async()
        finally:
            for task in list(self._paste_tasks):  # a long paste still going out: stop it
                task.cancel()
            await self.connection.close(self._quit_reason)
            try:
                await asyncio.wait_for(network, 5)
            except (TimeoutError, asyncio.CancelledError):
                network.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await network
