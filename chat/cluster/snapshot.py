"""A core's whole state as plain JSON values, and back: what a node joining a cluster loads
instead of replaying the log from its beginning.

Every node applies the same log to its own copy of the core, so one node's snapshot is every
node's state at the log position it covers. Users of every node are in it (a remote user is a
user whose connection lives on another node); what only one process holds (sockets, dialect
state, timers) is not.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections import OrderedDict, deque
from collections.abc import Iterator
from operator import attrgetter, itemgetter
from typing import Any

from chat.cluster.codec import from_plain, to_plain
from chat.core import ChatCore
from chat.core.model import Room, User
from chat.core.names import fold
from chat.core.throttle import THROTTLE_FAILURES

#: Bumped when the layout changes, so a node never loads a snapshot it would misread.
VERSION = 2


def head(text: str) -> tuple[dict[str, Any], Any]:
    """A snapshot text's replica state and core format number, read from its start (as
    :func:`text` lays it out) without parsing the rest: ``json.loads`` of a 100,000-user
    snapshot (45 MB) holds the interpreter's lock for 1.6 s, which the engine's thread would
    wait out. A text laid out otherwise is read whole. ``ValueError``, ``KeyError`` or
    ``TypeError`` if it is not a snapshot."""
    if text.startswith(_HEAD):
        replica, end = _DECODER.raw_decode(text, len(_HEAD))
        if text.startswith(_CORE_HEAD, end):
            version, _ = _DECODER.raw_decode(text, end + len(_CORE_HEAD))
            return replica, version
    with no_gc():
        data = json.loads(text)
    return data["replica"], data["core"]["version"]


def position(text: str) -> str:
    """The log position a snapshot text covers (the last entry applied in it)."""
    return str(head(text)[0]["last_id"])


def checked_head(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A snapshot text's replica state, read from its head (:func:`head`), or None and why
    this server cannot load it (another release wrote it, or it is not a snapshot at all):
    checked before a node resynchronises, so that it refuses with a reason instead of
    misreading the state or failing half-way, while the engine is serving."""
    try:
        replica, version = head(text)
        why = _refusal(replica, version)
    except (ValueError, TypeError, KeyError) as exc:
        return None, _not_ours(exc)
    return (None, why) if why is not None else (replica, None)


def parse(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A snapshot read whole, or None and why this server cannot load it (as
    :func:`checked_head`). For a node joining, which is not serving yet: it checks all of the
    text before it counts as a member, and then loads what this parsed, one parse of the
    text (0.5 s at 100,000 users) rather than two."""
    try:
        with no_gc():  # millions of objects made, none in a cycle
            data = json.loads(text)
        why = _refusal(data["replica"], data["core"]["version"])
    except (ValueError, TypeError, KeyError) as exc:
        return None, _not_ours(exc)
    return (None, why) if why is not None else (data, None)


def _refusal(replica: dict[str, Any], version: Any) -> str | None:
    replica["last_id"]  # (KeyError or TypeError if it is not a replica's state)
    if version != VERSION:
        return (f"its state is in snapshot format {version!r} and this server reads format "
                f"{VERSION}: every node must run the same release (stop the old nodes, then "
                f"start the new ones)")
    return None


def _not_ours(exc: Exception) -> str:
    return f"its snapshot is not one this server can read ({exc.__class__.__name__})"


#: A user's and a room's attributes, read in one C call each (see ``capture``).
_USER = attrgetter("conn", "host", "nick", "ident", "realname", "registered", "rooms",
                   "current", "away", "account", "authenticating", "grace_until", "oper",
                   "modes", "invites", "signon", "last_active", "ctcp_by_server", "monitoring")
_ROOM = attrgetter("name", "created", "members", "ops", "voiced", "topic", "topic_by",
                   "topic_at", "modes", "key", "limit", "bans", "recent", "founder", "excepts",
                   "invex")


class Captured:
    """The core's state copied as it was at one moment: tuples of attributes, each mutable
    container copied, so that what they hold no longer changes with the core (strings,
    numbers and the core's events are immutable; ``Room`` objects are only compared by
    identity). Made by :func:`capture`; :func:`render` reads it on any thread."""

    __slots__ = ("ctx_fields", "rooms", "users")

    def __init__(self, rooms: list[tuple[Any, ...]], users: list[tuple[Any, ...]],
                 ctx_fields: dict[str, Any]) -> None:
        self.rooms = rooms
        self.users = users
        self.ctx_fields = ctx_fields


def capture(core: ChatCore) -> Captured:
    """The core's state, on the thread that changes it, as cheaply as that can be done.

    A snapshot of a big cluster (100,000 users) took seconds to build and serialize on the
    engine's thread, which meanwhile served nobody; here that thread only copies references
    and containers (C calls: about a microsecond a user), and :func:`text` does the rest
    wherever the caller likes. The caller holds the garbage collector off around both
    (:func:`no_gc`)."""
    ctx = core._ctx  # the snapshot is the one reader of the whole state
    rooms = []
    for key, room in ctx.rooms.items():
        (name, created, members, ops, voiced, topic, topic_by, topic_at, modes, rkey, limit,
         bans, recent, founder, excepts, invex) = _ROOM(room)
        rooms.append((key, name, created, list(members), list(ops), list(voiced), topic,
                      topic_by, topic_at, list(modes), rkey, limit, tuple(bans),
                      None if recent is None else tuple(recent), founder, tuple(excepts),
                      tuple(invex)))
    users = []
    for user in ctx.users.values():
        fields = _USER(user)
        rooms_of, modes, invites, monitoring = fields[6], fields[13], fields[14], fields[18]
        users.append((*fields[:6], dict(rooms_of), *fields[7:13], tuple(modes),
                      tuple(invites), *fields[15:18],
                      None if monitoring is None else tuple(monitoring.items())))
    return Captured(rooms, users, {
        "started": ctx.started, "guests": ctx.guests, "accounts": tuple(ctx.accounts),
        "server_bans": tuple(ctx.server_bans), "idle_rooms": tuple(ctx.idle_rooms),
        "failed_logins": [(key, tuple(times)) for key, times in ctx.failed_logins._times.items()],
        "nick_history": [(key, tuple(past)) for key, past in ctx.nick_history._nicks.items()],
        "watchers": [(key, tuple(conns)) for key, conns in ctx.watchers.items()],
        "max_users": ctx.max_users, "counted": ctx.counted,
    })


def render(captured: Captured) -> dict[str, Any]:
    """A captured state as JSON-ready values (any thread)."""
    return {**_fields(captured.ctx_fields),
            "rooms": [_room(item) for item in captured.rooms],
            # By connection id: a node makes its own users before the log has them (their
            # order in the dict differs between nodes, and means nothing): canonical.
            "users": [_user(item) for item in sorted(captured.users, key=itemgetter(0))]}


def _fields(ctx: dict[str, Any]) -> dict[str, Any]:
    counted = ctx["counted"]
    return {
        "version": VERSION, "started": ctx["started"], "guests": ctx["guests"],
        "accounts": sorted(ctx["accounts"]), "server_bans": to_plain(ctx["server_bans"]),
        "idle_rooms": list(ctx["idle_rooms"]),
        "failed_logins": [[key, list(times)] for key, times in ctx["failed_logins"]],
        # WHOWAS, MONITOR and LUSERS' peak: state a late node must have as the others do.
        "nick_history": [[key, to_plain(past)] for key, past in ctx["nick_history"]],
        "watchers": [[key, list(conns)] for key, conns in ctx["watchers"]],
        "max_users": ctx["max_users"],
        "counted": None if counted is None else list(counted),
    }


def _room(item: tuple[Any, ...]) -> dict[str, Any]:
    (key, name, created, members, ops, voiced, topic, topic_by, topic_at, modes, rkey, limit,
     bans, recent, founder, excepts, invex) = item
    return {
        "key": key, "name": name, "created": created, "members": members, "ops": sorted(ops),
        "voiced": sorted(voiced), "topic": topic, "topic_by": topic_by, "topic_at": topic_at,
        "modes": sorted(modes), "rkey": rkey, "limit": limit, "bans": to_plain(bans),
        "recent": None if recent is None else to_plain(recent), "founder": founder,
        "excepts": to_plain(excepts), "invex": to_plain(invex),
    }


def _user(item: tuple[Any, ...]) -> dict[str, Any]:
    (conn, host, nick, ident, realname, registered, rooms_of, current, away, account,
     authenticating, grace_until, oper, modes, invites, signon, last_active, ctcp_by_server,
     monitoring) = item
    room_keys = {id(room): key for key, room in rooms_of.items()}
    return {
        "conn": conn, "host": host, "nick": nick, "ident": ident, "realname": realname,
        "registered": registered, "rooms": list(rooms_of),
        "current": None if current is None else room_keys.get(id(current)),
        "away": away, "account": account, "authenticating": authenticating,
        "grace_until": grace_until, "oper": oper, "modes": sorted(modes),
        "invites": sorted(invites), "signon": signon, "last_active": last_active,
        "ctcp_by_server": ctcp_by_server,
        "monitoring": None if monitoring is None else [list(item) for item in monitoring],
    }


def dump(core: ChatCore) -> dict[str, Any]:
    """The core's state as JSON-ready values, on the core's own thread."""
    return render(capture(core))


def text(captured: Captured, replica: dict[str, Any], leave_out: frozenset[int]) -> str:
    """A node's snapshot as the text other nodes load: the captured core (without the users
    ``leave_out`` names) and the replica's state (any thread). Consumes ``captured``.

    The text is made a room and a user at a time, and each item of the copy is let go of as
    soon as it is encoded: one ``json.dumps`` of it all would hold the interpreter's lock,
    which the engine's thread needs, for the whole encoding (0.6-0.9 s at 100,000 users), and
    freeing the rendered users, the rooms and the copy each at once held it for 26-42 ms. What
    is left in one piece is the final join (about 20 ms at 45 MB)."""
    rooms, users = captured.rooms, captured.users
    rooms.reverse()  # taken from the end: in their order
    users.sort(key=itemgetter(0), reverse=True)  # the order ``render`` gives
    parts = ['{"replica":', _encode(replica), ',"core":',
             _encode(_fields(captured.ctx_fields))[:-1], ',"rooms":[']
    comma = ""
    while rooms:
        parts += (comma, _encode(_room(rooms.pop())))
        comma = ","
    parts.append('],"users":[')
    comma = ""
    while users:
        item = users.pop()
        if item[0] not in leave_out:
            parts += (comma, _encode(_user(item)))
            comma = ","
    parts.append("]}}")
    return "".join(parts)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DECODER = json.JSONDecoder()
_HEAD, _CORE_HEAD = '{"replica":', ',"core":{"version":'


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a while (back on after, if it was on).

    Around a whole snapshot, from the copy to its text and the copy freed. Both allocate
    objects by the million at 100,000 users, none in a cycle, and the collector's passes over
    them, and maybe over the whole heap (0.5 s at 100,000 users), cost more than the work
    itself (rendering at 20,000 users: 228 ms with it, 89 without); re-enabled while the copy
    lives, it would make that pass at the next allocation, on whichever thread that is (the
    engine's, after ``capture``)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def load(core: ChatCore, data: dict[str, Any]) -> None:
    """Replace the core's state with a snapshot's (in place: the dicts the hub and the
    dialects share stay the same objects; the User objects are new, see ``rebind``)."""
    if data.get("version") != VERSION:
        raise ValueError(f"snapshot version {data.get('version')!r}, expected {VERSION}")
    ctx = core._ctx
    replay_lines = ctx.replay_lines
    rooms: dict[str, Room] = {}
    for item in data["rooms"]:
        room = Room(name=item["name"], created=item["created"], topic=item["topic"],
                    topic_by=item["topic_by"], topic_at=item["topic_at"],
                    modes=set(item["modes"]), key=item["rkey"], limit=item["limit"],
                    bans=list(from_plain(item["bans"])), founder=item["founder"],
                    # Snapshots written before +e/+I were kept have neither list.
                    excepts=list(from_plain(item.get("excepts", []))),
                    invex=list(from_plain(item.get("invex", []))))
        room.ops = set(item["ops"])
        room.voiced = set(item["voiced"])
        if item["recent"] is not None:
            room.recent = deque(from_plain(item["recent"]), maxlen=replay_lines or None)
        rooms[item["key"]] = room
    users: dict[int, User] = {}
    for item in data["users"]:
        user = User(conn=item["conn"], host=item["host"], nick=item["nick"],
                    ident=item["ident"], realname=item["realname"],
                    registered=item["registered"], away=item["away"],
                    account=item["account"], authenticating=item["authenticating"],
                    grace_until=item["grace_until"], oper=item["oper"],
                    signon=item["signon"], last_active=item["last_active"])
        if item["modes"]:
            user.modes = set(item["modes"])
        if item["invites"]:
            user.invites = set(item["invites"])
        user.ctcp_by_server = item["ctcp_by_server"]
        if item["monitoring"] is not None:
            user.monitoring = dict(item["monitoring"])
        user.rooms = {key: rooms[key] for key in item["rooms"]}
        user.current = None if item["current"] is None else rooms[item["current"]]
        users[user.conn] = user
    for item in data["rooms"]:  # members in join order, now that the users exist
        room = rooms[item["key"]]
        room.members = {conn: users[conn] for conn in item["members"]}
    ctx.users.clear()
    ctx.users.update(users)
    ctx.nicks.clear()
    ctx.nicks.update({fold(user.nick): user for user in users.values() if user.registered})
    ctx.rooms.clear()
    ctx.rooms.update(rooms)
    ctx.started = data["started"]
    ctx.guests = data["guests"]
    ctx.accounts.clear()
    ctx.accounts.update(data["accounts"])
    ctx.server_bans[:] = list(from_plain(data["server_bans"]))
    ctx.idle_rooms.clear()
    ctx.idle_rooms.update(OrderedDict.fromkeys(data["idle_rooms"]))
    nicks = ctx.nick_history._nicks
    nicks.clear()
    per_nick = ctx.nick_history.per_nick
    for key, past in data["nick_history"]:
        nicks[key] = deque(from_plain(past), maxlen=per_nick)
    ctx.watchers.clear()
    ctx.watchers.update({key: dict.fromkeys(conns) for key, conns in data["watchers"]})
    ctx.max_users = data["max_users"]
    counted = data["counted"]
    ctx.counted = None if counted is None else (
        float(counted[0]), int(counted[1]), int(counted[2]))
    times = ctx.failed_logins._times
    times.clear()
    for key, stamps in data["failed_logins"]:
        times[key] = deque(stamps, maxlen=THROTTLE_FAILURES)

