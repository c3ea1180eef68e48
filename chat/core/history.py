"""Remembering rooms: the recent lines replayed on join, lasting room state, history requests.

The core holds only what a join needs at once (the last ``replay_lines`` of each room, in
memory); older pages come from a store, which the core asks for with a :class:`Recall` effect
and gets back through :meth:`ChatCore.recalled`, so it never waits on a disk.
"""

from __future__ import annotations

from collections import deque

from chat.core import commands as c
from chat.core import events as e
from chat.core.context import Context, Effects, Handlers
from chat.core.model import Room, User
from chat.core.names import fold
from chat.history.records import ALL_KINDS, CHAT_KINDS, Ban, Query, RoomState, private_key

HANDLERS = Handlers()

#: Most records one history request returns (IRC's ISUPPORT ``CHATHISTORY``).
MAX_PAGE = 100


def remember(ctx: Context, room: Room, event: e.Event) -> None:
    """Keep ``event`` (a line someone said, a topic change) for the next joiner's replay."""
    if ctx.replay_lines:
        recent = room.recent
        if recent is None:
            recent = room.recent = deque(maxlen=ctx.replay_lines)
        recent.append(event)


def replay(ctx: Context, fx: Effects, user: User, room: Room) -> None:
    """Show a joiner what was said before it came."""
    if room.recent:
        ctx.reply(fx, user, e.History, room.name, events=tuple(room.recent), replay=True)


def state_of(room: Room) -> RoomState:
    """The part of a room that outlives its members."""
    return RoomState(room.name, room.created, room.topic, room.topic_by, room.topic_at,
                     "".join(sorted(room.modes)), room.key, room.limit, _kept(room.bans),
                     room.founder, _kept(room.excepts), _kept(room.invex))


def _kept(masks: list[e.BanInfo]) -> tuple[Ban, ...]:
    return tuple(Ban(b.mask, b.set_by, b.set_at) for b in masks)


def _restored(masks: tuple[Ban, ...]) -> list[e.BanInfo]:
    return [e.BanInfo(b.mask, b.set_by, b.set_at) for b in masks]


def save(fx: Effects, room: Room) -> None:
    """The room's lasting state changed: let a store keep it."""
    fx.out.append(e.SaveRoom(state_of(room)))


def restored(state: RoomState, recent: list[e.Event], replay_lines: int) -> Room:
    """A room as a store kept it, with its recent lines, and nobody in it."""
    room = Room(name=state.name, created=state.created, topic=state.topic,
                topic_by=state.topic_by, topic_at=state.topic_at, modes=set(state.modes),
                key=state.key, limit=state.limit,
                bans=_restored(state.bans), founder=state.founder,
                excepts=_restored(state.excepts), invex=_restored(state.invex))
    if replay_lines and recent:
        room.recent = deque(recent, maxlen=replay_lines)
    return room


@HANDLERS.on(c.FetchHistory)
def fetch(ctx: Context, fx: Effects, user: User, cmd: c.FetchHistory) -> None:
    """A page of a room's history, for its members; or of a private conversation, for its two
    accounts (the store answers, later)."""
    if not 0 < cmd.limit <= MAX_PAGE:
        text = f"History comes in pages of 1 to {MAX_PAGE} lines"
        ctx.error(fx, user, "bad_limit", text, str(cmd.limit), cmd.room or "")
        return
    if cmd.room is not None and not cmd.room.startswith("#"):
        _fetch_private(ctx, fx, user, cmd)
        return
    room = ctx.find_room(fx, user, cmd.room)
    if room is None:
        return
    if user.conn not in room.members:
        text = f"Join {room.name} to read its history"
        ctx.error(fx, user, "not_in_room", text, room.name, room.name)
        return
    kinds = ALL_KINDS if cmd.everything else CHAT_KINDS
    query = Query(room.name, cmd.direction, cmd.anchor, cmd.end, cmd.limit, kinds)
    fx.out.append(e.Recall(user.conn, query, fx.ref))


def _fetch_private(ctx: Context, fx: Effects, user: User, cmd: c.FetchHistory) -> None:
    """Private history is kept between accounts: both sides must be one."""
    name = cmd.room or ""
    if not user.account:
        ctx.error(fx, user, "not_logged_in", "Private history is kept for accounts: log in",
                  name)
        return
    peer = ctx.nicks.get(fold(name))
    other = peer.account if peer is not None and peer.account else (
        name if fold(name) in ctx.accounts else "")
    if not other:
        ctx.error(fx, user, "no_such_account",
                  f"{name} has no account: private history is kept between accounts", name)
        return
    query = Query(private_key(user.account, other), cmd.direction, cmd.anchor, cmd.end,
                  cmd.limit, CHAT_KINDS)
    fx.out.append(e.Recall(user.conn, query, fx.ref, target=name))


@HANDLERS.on(c.HistoryTargets)
def targets(ctx: Context, fx: Effects, user: User, cmd: c.HistoryTargets) -> None:
    """Which of the user's rooms were active in a window (private history needs accounts)."""
    limit = max(1, min(cmd.limit, MAX_PAGE))
    rooms = tuple(room.name for room in user.rooms.values())
    fx.out.append(e.Recall(user.conn, None, fx.ref, rooms, cmd.start, cmd.end, limit))


def recalled(ctx: Context, user: User, recall: e.Recall,
             answer: list[e.Event] | list[tuple[str, float]]) -> list[e.Output]:
    """The store's answer to ``recall``, as an event for the user who asked."""
    fx = Effects(user.conn, recall.ref)
    if recall.query is None:
        ctx.reply(fx, user, e.HistoryTargetList, targets=tuple(answer))
    else:
        query = recall.query
        ctx.reply(fx, user, e.History, recall.target or query.room, events=tuple(answer),
                  direction=query.direction)
    return fx.out
