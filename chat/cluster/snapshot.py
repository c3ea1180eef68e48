"""A core's whole state as plain JSON values, and back: what a node joining a cluster loads
instead of replaying the log from its beginning.

Every node applies the same log to its own copy of the core, so one node's snapshot is every
node's state at the log position it covers. Users of every node are in it (a remote user is a
user whose connection lives on another node); what only one process holds (sockets, dialect
state, timers) is not.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from chat.cluster.codec import from_plain, to_plain
from chat.core import ChatCore
from chat.core.model import Room, User
from chat.core.names import fold
from chat.core.throttle import THROTTLE_FAILURES

#: Bumped when the layout changes, so a node never loads a snapshot it would misread.
VERSION = 2


def dump(core: ChatCore) -> dict[str, Any]:
    """The core's state as JSON-ready values."""
    ctx = core._ctx  # the snapshot is the one reader of the whole state
    rooms = []
    for key, room in ctx.rooms.items():
        rooms.append({
            "key": key, "name": room.name, "created": room.created,
            "members": list(room.members), "ops": sorted(room.ops),
            "voiced": sorted(room.voiced), "topic": room.topic, "topic_by": room.topic_by,
            "topic_at": room.topic_at, "modes": sorted(room.modes), "rkey": room.key,
            "limit": room.limit, "bans": to_plain(room.bans),
            "recent": None if room.recent is None else to_plain(list(room.recent)),
            "founder": room.founder, "excepts": to_plain(room.excepts),
            "invex": to_plain(room.invex),
        })
    users = []
    # By connection id: a node makes its own users before the log has them (their order in
    # the dict differs between nodes, and means nothing), so the snapshot is canonical.
    for user in sorted(ctx.users.values(), key=lambda user: user.conn):
        room_keys = {id(room): key for key, room in user.rooms.items()}
        users.append({
            "conn": user.conn, "host": user.host, "nick": user.nick, "ident": user.ident,
            "realname": user.realname, "registered": user.registered,
            "rooms": list(user.rooms),
            "current": None if user.current is None else room_keys.get(id(user.current)),
            "away": user.away, "account": user.account,
            "authenticating": user.authenticating, "grace_until": user.grace_until,
            "oper": user.oper, "modes": sorted(user.modes), "invites": sorted(user.invites),
            "signon": user.signon, "last_active": user.last_active,
            "ctcp_by_server": user.ctcp_by_server,
            "monitoring": None if user.monitoring is None else list(user.monitoring.items()),
        })
    failed = [[key, list(times)] for key, times in ctx.failed_logins._times.items()]
    return {
        "version": VERSION, "started": ctx.started, "guests": ctx.guests,
        "accounts": sorted(ctx.accounts), "server_bans": to_plain(ctx.server_bans),
        "idle_rooms": list(ctx.idle_rooms), "failed_logins": failed,
        "rooms": rooms, "users": users,
        # WHOWAS, MONITOR and LUSERS' peak: state a late node must have as the others do.
        "nick_history": [[key, to_plain(list(past))]
                         for key, past in ctx.nick_history._nicks.items()],
        "watchers": [[key, list(conns)] for key, conns in ctx.watchers.items()],
        "max_users": ctx.max_users,
        "counted": None if ctx.counted is None else list(ctx.counted),
    }


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

