"""Tab completion: ``/commands`` at the start of a line, ``#rooms``, and nicks anywhere else."""

from __future__ import annotations

from collections.abc import Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from chat.wire.names import fold
from client.commands import COMMANDS
from client.model import ChatModel


class ChatCompleter(Completer):
    """Completes from the live model, so new members and rooms complete at once."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        word = before.split(" ")[-1]
        if not word:
            return
        start = -len(word)
        if word == before and word.startswith("/"):
            for name in sorted(COMMANDS):
                if name.startswith(word[1:].lower()):
                    yield Completion(f"/{name} ", start, display=f"/{name}",
                                     display_meta=COMMANDS[name].help)
            return
        if word.startswith("#"):
            for room in self.model.all_rooms():
                if fold(room).startswith(fold(word)):
                    yield Completion(room + " ", start, display=room)
            return
        # Nicks: the current room's members first (most likely meant), then everyone else.
        # At the start of a line, address them IRC-style: "alice: ".
        suffix = ": " if word == before else " "
        current = [m.nick for m in self.model.current.sorted_members()]
        if self.model.current.kind == "private":
            current.append(self.model.current.name)
        seen: set[str] = set()
        for nick in [*current, *self.model.all_nicks()]:
            key = fold(nick)
            if key in seen or self.model.is_me(nick) or not key.startswith(fold(word)):
                continue
            seen.add(key)
            yield Completion(nick + suffix, start, display=nick)
