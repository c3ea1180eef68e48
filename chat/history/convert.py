"""Core events to history records and back: what is kept of each kind of room event."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from chat.core import events as e
from chat.history.records import Record, RoomState, is_private

T = TypeVar("T", contravariant=True)


class Appendable(Protocol[T]):
    """A list or a deque: what records are added to."""

    def append(self, item: T, /) -> None:
        """Add one item at the end."""

    def extend(self, items: Iterable[T], /) -> None:
        """Add items at the end."""


Records = Appendable[Record]


def records(outputs: Iterable[e.Output], into: Records,
            states: Appendable[RoomState | tuple[e.ServerBanInfo, ...]]) -> None:
    """Append to ``into`` the records a core call's outputs leave in history (room events
    only, never replies), and to ``states`` the room states and server ban lists it saves.
    Room messages, nearly all of history, take the shortest path: this runs once per message,
    on the engine's thread, straight into the history thread's queue (nothing allocated but
    the record)."""
    for output in outputs:
        if output.__class__ is not e.Delivery:
            if output.__class__ is e.SaveRoom:
                states.append(output.state)
            elif output.__class__ is e.SaveServerBans:
                states.append(output.bans)
            continue
        event = output.event
        if event.__class__ is e.Message:
            room = event.room
            if event.status:  # for a room's operators only: not history the room may read
                continue
            if room is not None:  # private messages are kept only for accounts (not yet)
                source = event.source
                if source is not None:
                    into.append(_new(Record, (event.id, event.ts, room, event.kind, source.nick,
                                             source.ident, source.host, event.text, "", 0)))
                else:
                    into.append(_record(event, room, event.kind, event.text))
            elif event.kept_as:  # a private message between two accounts
                into.append(_record(event, event.kept_as, event.kind, event.text, event.target))
            continue
        convert = _TO_RECORDS.get(event.__class__)
        if convert is not None:
            into.extend(convert(event))


_new = tuple.__new__  # a Record from a full tuple of fields, skipping the keyword handling


def _message(ev: e.Message) -> Iterator[Record]:
    if ev.room is not None:  # private messages are kept only for accounts (not yet)
        yield _record(ev, ev.room, ev.kind, ev.text)


def _topic(ev: e.Topic) -> Iterator[Record]:
    if ev.changed and ev.room is not None:
        yield _record(ev, ev.room, "topic", ev.topic)


def _joined(ev: e.Joined) -> Iterator[Record]:
    if ev.room is not None:
        yield _record(ev, ev.room, "join")


def _parted(ev: e.Parted) -> Iterator[Record]:
    if ev.room is not None:
        yield _record(ev, ev.room, "part", ev.reason)


def _kicked(ev: e.Kicked) -> Iterator[Record]:
    if ev.room is not None:
        yield _record(ev, ev.room, "kick", ev.reason, ev.target)


def _quitted(ev: e.Quitted) -> Iterator[Record]:
    for room in ev.rooms:
        yield _record(ev, room, "quit", ev.reason)


def _nick(ev: e.NickChanged) -> Iterator[Record]:
    for room in ev.rooms:
        yield _record(ev, room, "nick", target=ev.new_nick)


_TO_RECORDS: dict[type, Callable[[Any], Iterator[Record]]] = {
    e.Message: _message, e.Topic: _topic, e.Joined: _joined, e.Parted: _parted,
    e.Kicked: _kicked, e.Quitted: _quitted, e.NickChanged: _nick}


def _record(ev: e.Event, room: str, kind: str, text: str = "", target: str = "") -> Record:
    source = ev.source
    if source is None:
        return Record(ev.id, ev.ts, room, kind, "", text=text, target=target)
    return Record(ev.id, ev.ts, room, kind, source.nick, source.ident, source.host, text, target)


def event(record: Record) -> e.Event:
    """The event a record was made from, as a replay shows it (same id, same time)."""
    source = e.Source(record.nick, record.ident, record.host)
    envelope = (record.msgid, record.ts, record.room, source)
    kind = record.kind
    if kind in ("message", "action", "notice"):
        if is_private(record.room):
            return e.Message(record.msgid, record.ts, None, source, target=record.target,
                             text=record.text, kind=kind,  # type: ignore[arg-type]
                             kept_as=record.room)
        return e.Message(*envelope, target=record.room, text=record.text,
                         kind=kind)  # type: ignore[arg-type]
    if kind == "topic":
        return e.Topic(*envelope, topic=record.text, set_by=record.nick, set_at=record.ts,
                       changed=True)
    if kind == "join":
        return e.Joined(*envelope)
    if kind == "part":
        return e.Parted(*envelope, reason=record.text)
    if kind == "kick":
        return e.Kicked(*envelope, target=record.target, reason=record.text)
    if kind == "quit":
        return e.Quitted(*envelope, reason=record.text, rooms=(record.room,))
    if kind == "nick":
        return e.NickChanged(*envelope, new_nick=record.target, rooms=(record.room,))
    raise ValueError(f"unknown history record kind {kind!r}")
