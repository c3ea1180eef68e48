"""Structured dialect: one JSON object per line (bundled client, bots). See docs/protocol.md."""

from __future__ import annotations

import datetime as _dt
import functools
import time as _time
from collections.abc import Callable
from typing import Any

from chat.core import commands as c
from chat.core import events as e
from chat.core.names import unencodable
from chat.dialects.base import UNENCODABLE_TEXT, Decoded, Dialect
from chat.dialects.render import describe, irc_only
from chat.history.records import Ref
from chat.wire.jsonlines import (
    PROTOCOL_VERSION,
    JsonLineError,
    decode_json_line,
    encode_json_line,
)

# -- the server side: requests in, events out ------------------------------------------------



def iso_time(ts: float) -> str:
    """Server timestamps as ISO 8601 UTC with milliseconds."""
    ms = int(ts * 1000) % 1000
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(ts)) + f".{ms:03d}Z"


#: Lines a ``history`` request returns when it names no ``limit``.
HISTORY_PAGE = 50


class _BadRequest(Exception):
    pass


def _text(obj: dict[str, Any], key: str, *, required: bool = True, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise _BadRequest(f"'{key}' is required")
        return default
    if not isinstance(value, str):
        raise _BadRequest(f"'{key}' must be a string")
    return value


def _hello(o: dict[str, Any], ref: object) -> c.Command:
    version = o.get("version", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        return c.Invalid("bad_version", f"This server speaks version {PROTOCOL_VERSION}", ref)
    return c.Register(_text(o, "nick"), ident=_text(o, "client", required=False)[:16], ref=ref)


def _message(o: dict[str, Any], ref: object) -> c.Command:
    kind = _text(o, "kind", required=False, default="message")
    if kind not in ("message", "action", "notice", "ctcp", "ctcp_reply"):
        raise _BadRequest("'kind' must be message, action, notice, ctcp or ctcp_reply")
    return c.Say(_text(o, "to"), _text(o, "text"), kind, ref)  # type: ignore[arg-type]


def _point(o: dict[str, Any], key: str) -> Ref | None:
    """A history reference: an event id, or an ISO 8601 UTC time like the ``ts`` of events."""
    value = o.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise _BadRequest(f"'{key}' must be an event id or an ISO 8601 time")
    if value[:4].isdigit() and "T" in value:
        try:
            when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _BadRequest(f"'{key}' is not a valid ISO 8601 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        return Ref(ts=when.timestamp())
    return Ref(msgid=value)


def _history(o: dict[str, Any], ref: object) -> c.Command:
    """``before``/``after``/``around`` an id or time (both ``after`` and ``before``: between)."""
    limit = o.get("limit", HISTORY_PAGE)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise _BadRequest("'limit' must be an integer")
    everything = o.get("all", False)
    if not isinstance(everything, bool):
        raise _BadRequest("'all' must be true or false")
    before, after, around = _point(o, "before"), _point(o, "after"), _point(o, "around")
    room = _text(o, "room")
    fetch = functools.partial(c.FetchHistory, room, limit=limit, everything=everything,
                              ref=ref)
    if around is not None:
        if before or after:
            raise _BadRequest("'around' goes alone")
        return fetch("around", around)
    if before is not None and after is not None:
        return fetch("between", after, before)
    if before is not None:
        return fetch("before", before)
    if after is not None:
        return fetch("after", after)
    return fetch("latest")


_REQUESTS: dict[str, Callable[[dict[str, Any], object], c.Command]] = {
    "hello": _hello,
    "join": lambda o, ref: c.Join(_text(o, "room"), o.get("key") and _text(o, "key"), ref),
    "part": lambda o, ref: c.Part(_text(o, "room"), _text(o, "reason", required=False), ref),
    "message": _message,
    "nick": lambda o, ref: c.ChangeNick(_text(o, "nick"), ref),
    "topic": lambda o, ref: c.SetTopic(_text(o, "room"), _text(o, "topic", required=False,
                                                                default=None), ref),  # type: ignore[arg-type]
    "rooms": lambda o, ref: c.ListRooms(ref),
    "who": lambda o, ref: c.ListMembers(_text(o, "room"), ref),
    "ping": lambda o, ref: c.Ping(str(o.get("token", ""))[:64], ref),
    "pong": lambda o, ref: c.Pong(str(o.get("token", ""))[:64], ref),
    "quit": lambda o, ref: c.Quit(_text(o, "reason", required=False), ref),
    "kick": lambda o, ref: c.Kick(_text(o, "room"), _text(o, "nick"),
                                  _text(o, "reason", required=False), ref),
    "invite": lambda o, ref: c.Invite(_text(o, "nick"), _text(o, "room"), ref),
    "mode": lambda o, ref: c.Mode(_text(o, "target"), _text(o, "modes", required=False),
                                  _strings(o, "args"), ref),
    "away": lambda o, ref: c.Away(_text(o, "text", required=False), ref),
    "whois": lambda o, ref: c.Whois(_text(o, "nick"), ref),
    "history": _history,
    "register": lambda o, ref: c.RegisterAccount(_text(o, "password"), ref),
    "login": lambda o, ref: c.Login(_text(o, "account", required=False) or None,
                                    _text(o, "password"), ref),
    "logout": lambda o, ref: c.Logout(ref),
    "password": lambda o, ref: c.ChangePassword(_text(o, "old"), _text(o, "new"), ref),
    "oper": lambda o, ref: c.Oper(_text(o, "name"), _text(o, "password"), ref),
    "kill": lambda o, ref: c.Kill(_text(o, "nick"), _text(o, "reason", required=False), ref),
    "wallops": lambda o, ref: c.Wallops(_text(o, "text"), ref),
    "server_ban": lambda o, ref: c.ServerBan(_text(o, "mask"), _seconds(o, "duration"),
                                             _text(o, "reason", required=False), ref=ref),
    "server_unban": lambda o, ref: c.ServerBan(_text(o, "mask"), remove=True, ref=ref),
    "server_bans": lambda o, ref: c.ServerBan("", ref=ref),
    "register_room": lambda o, ref: c.RegisterRoom(_text(o, "room"), ref=ref),
    "unregister_room": lambda o, ref: c.RegisterRoom(_text(o, "room"), unregister=True, ref=ref),
    "transfer_room": lambda o, ref: c.RegisterRoom(_text(o, "room"), to=_text(o, "account"),
                                                   ref=ref),
}


def _seconds(o: dict[str, Any], key: str) -> float:
    value = o.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 <= value <= 10 * 365 * 86400):
        raise _BadRequest(f"'{key}' must be a number of seconds (0: until lifted)")
    return float(value)


def _strings(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadRequest(f"'{key}' must be a list of strings")
    return tuple(value[:16])


def _topic(event: e.Topic) -> dict[str, Any]:
    return {"type": "topic", "topic": event.topic, "set_by": event.set_by or None,
            "set_at": iso_time(event.set_at) if event.set_at else None,
            "changed": event.changed}


def _mode(event: e.ModeChanged) -> dict[str, Any]:
    modes, args = e.mode_string(event.changes)
    return {"type": "mode", "target": event.target, "modes": modes, "args": list(args)}


def _whois(event: e.WhoisReply) -> dict[str, Any]:
    u = event.user
    rooms = [{"room": r.room, "op": r.op, "voice": r.voice} for r in event.rooms]
    return {"type": "whois", "nick": u.nick, "ident": u.ident, "host": u.host,
            "realname": u.realname, "away": u.away, "account": u.account or None,
            "rooms": rooms, "idle": event.idle,
            "signon": iso_time(event.signon), **({"bot": True} if u.bot else {})}


#: Event type -> the type-specific part of its JSON object (the same registry idiom as every
#: dialect's input side). Events not listed are notices: their ``text`` says it all.
_FIELDS: dict[type, Callable[[Any], dict[str, Any]]] = {
    e.Message: lambda ev: {"type": "message", "to": ev.target, "kind": ev.kind,
                           **({"status": ev.status} if ev.status else {})},
    e.Joined: lambda ev: {"type": "join"},
    e.Parted: lambda ev: {"type": "part", "reason": ev.reason},
    e.Quitted: lambda ev: {"type": "quit", "reason": ev.reason, "rooms": list(ev.rooms)},
    e.NickChanged: lambda ev: {"type": "nick", "nick": ev.new_nick, "rooms": list(ev.rooms)},
    e.Topic: _topic,
    e.MemberList: lambda ev: {"type": "members", "members": [
        {"nick": m.nick, "op": m.op, "voice": m.voice, "account": m.account or None}
        for m in ev.members]},
    e.RoomList: lambda ev: {"type": "rooms", "rooms": [
        {"room": r.name, "members": r.members, "topic": r.topic} for r in ev.rooms]},
    e.Welcome: lambda ev: {"type": "welcome", "version": PROTOCOL_VERSION, "nick": ev.nick,
                           "server": ev.server, "motd": ev.motd, "limits": ev.limits},
    e.PongReply: lambda ev: {"type": "pong", "token": ev.token},
    e.PingRequest: lambda ev: {"type": "ping", "token": ev.token},
    e.Kicked: lambda ev: {"type": "kick", "nick": ev.target, "reason": ev.reason},
    e.Invited: lambda ev: {"type": "invite", "nick": ev.target},
    e.ModeChanged: _mode,
    e.ModeInfo: lambda ev: {"type": "modes", "target": ev.target, "modes": ev.modes,
                            "args": list(ev.args),
                            "created": iso_time(ev.created) if ev.created else None},
    e.BanList: lambda ev: {"type": "bans", "list": ev.kind, "bans": [
        {"mask": b.mask, "set_by": b.set_by, "set_at": iso_time(b.set_at)} for b in ev.bans]},
    e.AwayStatus: lambda ev: {"type": "away", "nick": ev.nick, "away": ev.text,
                              "changed": ev.changed},
    e.WhoisReply: _whois,
    e.Error: lambda ev: {"type": "error", "code": ev.code, "ref": ev.ref},
    e.Disconnect: lambda ev: {"type": "disconnect", "reason": ev.reason},
    e.AccountStatus: lambda ev: {"type": "account", "account": ev.account or None,
                                 "status": ev.status},
    e.RealnameChanged: lambda ev: {"type": "realname", "nick": ev.source.nick,
                                   "realname": ev.realname},
    e.AccountChanged: lambda ev: {"type": "account_notify", "nick": ev.source.nick,
                                  "account": ev.account or None},
    e.OperStatus: lambda ev: {"type": "oper", "name": ev.name},
    e.WallopsMessage: lambda ev: {"type": "wallops"},
    e.ServerBanList: lambda ev: {"type": "server_bans", "bans": [
        {"mask": b.mask, "reason": b.reason, "set_by": b.set_by, "set_at": iso_time(b.set_at),
         "expires": iso_time(b.expires) if b.expires else None} for b in ev.bans]},
    e.History: lambda ev: {"type": "history", "replay": ev.replay, "direction": ev.direction,
                           "events": [_replayed(past) for past in ev.events]},
}


def _replayed(event: e.Event) -> dict[str, Any]:
    """A past event as it was sent then, marked as a replay."""
    obj = event_to_json(event)
    obj["replayed"] = True
    return obj


def _notice(event: e.Event) -> dict[str, Any]:
    code = getattr(event, "code", "")  # programs tell notices apart by it (cluster_degraded)
    return {"type": "notice", "code": code} if code else {"type": "notice"}


def _fields(event: e.Event) -> dict[str, Any]:
    """The type-specific part of an event's JSON object."""
    return _FIELDS.get(type(event), _notice)(event)


def event_to_json(event: e.Event) -> dict[str, Any]:
    """The JSON object for an event: the common envelope, then its own fields."""
    obj: dict[str, Any] = {
        "type": "", "id": event.id, "ts": iso_time(event.ts), "room": event.room,
        "from": event.source.nick if event.source else None, "text": describe(event),
    }
    obj.update(_fields(event))
    if event.ref is not None:  # a reply to one request of this client's (see Event.ref)
        obj["ref"] = event.ref
    return obj


def _holds_unencodable(value: object) -> bool:
    """True if any string in a decoded JSON value (keys included) cannot be relayed."""
    stack = [value]
    while stack:  # iterative: the line limit bounds the size, not the nesting depth
        item = stack.pop()
        if isinstance(item, str):
            if unencodable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class StructuredDialect(Dialect):
    """JSON lines for the bundled client and bots."""

    name = "structured"
    __slots__ = ()
    variant = "json"  # every connection gets the same bytes for an event

    @classmethod
    def sniff(cls, first_line: bytes) -> bool:
        return first_line.lstrip()[:1] == b"{"

    def decode(self, line: bytes) -> list[Decoded]:
        if not line.strip():
            return []
        try:
            obj = decode_json_line(line)
        except JsonLineError as exc:
            return [c.Invalid(exc.code, exc.text)]
        # Only escapes (\\ud800) or raw non-ASCII can carry what UTF-8 cannot encode.
        if (b"\\u" in line or not line.isascii()) and _holds_unencodable(obj):
            return [c.Invalid("bad_encoding", UNENCODABLE_TEXT)]
        ref = obj.get("ref")
        if not (ref is None or isinstance(ref, int) or (isinstance(ref, str) and len(ref) <= 64)):
            return [c.Invalid("bad_request", "'ref' must be an integer or a short string")]
        kind = obj.get("type")
        build = _REQUESTS.get(kind) if isinstance(kind, str) else None
        if build is None:
            return [c.Invalid("unknown_command", f"Unknown request type {kind!r}", ref)]
        try:
            return [build(obj, ref)]
        except _BadRequest as exc:
            return [c.Invalid("bad_request", f"{kind}: {exc}", ref)]

    def encode(self, event: e.Event, cache: dict[Any, bytes | None]) -> bytes | None:
        if irc_only(event):
            return None
        data = cache.get("json")
        if data is None:
            data = cache["json"] = encode_json_line(event_to_json(event))
        return data
