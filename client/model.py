"""What the user sees, with no I/O and no UI: conversations, members, topics, lines.

``ChatModel.apply(event)`` takes one event dict from the server and updates everything the
UI draws from. Keeping this pure makes every rule here (who is in which room, where a private
message goes, when a room counts as unread or mentioned) testable without sockets or a screen.

History: a ``history`` event (the replay after a join, or the answer to a ``history`` request)
merges its past events into the room's lines in time order, marked ``history`` and never counted
as unread. Every room line the server keeps in history carries its event id; each conversation
remembers the ids it shows (bounded), so a replay overlapping what is already there adds nothing,
and the newest and oldest ids it holds (where a gap fill and an older page start from).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from chat.wire.names import fold

SERVER_KEY = "*server*"
SCROLLBACK = 5000  # lines kept per conversation
SEEN_IDS = 2 * SCROLLBACK  # event ids remembered per conversation, for de-duplication
# Event types the server keeps in a room's history (so their ids can anchor a history request).
HISTORY_TYPES = frozenset({"message", "topic", "join", "part", "quit", "kick", "nick"})

LineKind = Literal[
    "message", "action", "notice", "join", "part", "quit", "nick", "topic", "error", "info",
]
ConversationKind = Literal["server", "room", "private"]


def parse_ts(ts: object) -> datetime:
    """Server time (ISO 8601 UTC) as local time; now if absent or malformed."""
    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts).astimezone()
        except ValueError:
            pass
    return datetime.now().astimezone()


class ConnState(Enum):
    """Where the connection is; the status bar shows it."""

    CONNECTING = "connecting"
    REGISTERING = "registering"  # connected, waiting for welcome (or for the user to pick a nick)
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # waiting to reconnect
    CLOSED = "closed"  # the user quit


@dataclass(slots=True)
class Line:
    """One line of a conversation, already classified for styling."""

    ts: datetime
    kind: LineKind
    text: str
    nick: str | None = None
    own: bool = False  # sent by us
    mention: bool = False  # mentions our nick
    id: str | None = None  # the server's event id, for lines the server keeps in room history
    history: bool = False  # replayed from history rather than seen live


@dataclass(slots=True)
class Member:
    """One member of a room."""

    nick: str
    op: bool = False
    voice: bool = False
    account: str | None = None  # from account_notify, when the server told us

    @property
    def prefix(self) -> str:
        """IRC-style marker shown before the nick."""
        return "@" if self.op else "+" if self.voice else ""


@dataclass(slots=True)
class Conversation:
    """A room, a private chat with one nick, or the server's own messages."""

    name: str
    kind: ConversationKind
    lines: deque[Line] = field(default_factory=lambda: deque(maxlen=SCROLLBACK))
    members: dict[str, Member] = field(default_factory=dict)  # folded nick -> member
    topic: str = ""
    joined: bool = False  # rooms: we are a member right now
    unread: int = 0
    mentioned: bool = False
    # History bookkeeping (rooms): ids shown here, oldest first, at most SEEN_IDS of them...
    seen: dict[str, None] = field(default_factory=dict)
    # ...the newest and the oldest of them, as (local time, id)...
    newest: tuple[datetime, str] | None = None
    oldest: tuple[datetime, str] | None = None
    # ...and the state of loading older lines: a request in flight, or nothing older left.
    loading_older: bool = False
    history_start: bool = False
    # The last line on screen when the user last left this conversation: lines after it are
    # the ones they have not seen, and the pane draws a marker row below it.
    read_marker: Line | None = None

    @property
    def newest_id(self) -> str | None:
        """Id of the newest room event shown (live or history): where a gap fill starts."""
        return self.newest[1] if self.newest else None

    @property
    def oldest_id(self) -> str | None:
        """Id of the oldest room event loaded: where the next older page ends."""
        return self.oldest[1] if self.oldest else None

    def remember(self, line: Line) -> bool:
        """Note ``line``'s id; False if a line with that id is already here."""
        if line.id is None:
            return True
        if line.id in self.seen:
            return False
        self.seen[line.id] = None
        if len(self.seen) > SEEN_IDS:
            del self.seen[next(iter(self.seen))]
        return True

    @property
    def key(self) -> str:
        """Lookup key in :attr:`ChatModel.conversations`."""
        return SERVER_KEY if self.kind == "server" else fold(self.name)

    def sorted_members(self) -> list[Member]:
        """Ops first, then voiced, then by name, as chat clients conventionally list them."""
        return sorted(self.members.values(), key=lambda m: (not m.op, not m.voice, fold(m.nick)))


class ChatModel:
    """Every conversation the user has, and which one is on screen."""

    def __init__(self, nick: str, server_name: str = "server") -> None:
        self.nick = nick
        self.server_name = server_name
        self.state = ConnState.CONNECTING
        self.state_detail = ""
        self.registered_once = False
        self.account: str | None = None  # the account we are logged in to, this session
        self.limits: dict[str, int] = {}
        self.known_rooms: dict[str, str] = {}  # folded -> name, from /rooms listings
        server = Conversation(server_name, "server")
        self.conversations: dict[str, Conversation] = {SERVER_KEY: server}
        self.current_key = SERVER_KEY
        self._expected_joins: set[str] = set()
        self._mention_re = self._compile_mention(nick)
        self.ignored: list[str] = []  # nicks (``*`` and ``?`` wildcards) whose messages are hidden
        self._ignore_re: re.Pattern[str] | None = None
        self.ignored_count = 0  # messages hidden so far

    # -- queries ---------------------------------------------------------------------------

    @property
    def current(self) -> Conversation:
        """The conversation on screen."""
        return self.conversations[self.current_key]

    @property
    def server(self) -> Conversation:
        """The conversation holding server-level messages."""
        return self.conversations[SERVER_KEY]

    def get(self, name: str) -> Conversation | None:
        """A room or private conversation by name, case-insensitively."""
        return self.conversations.get(fold(name))

    def joined_rooms(self) -> list[str]:
        """Rooms we are in, in side-panel order (what a reconnect rejoins)."""
        return [c.name for c in self.conversations.values() if c.kind == "room" and c.joined]

    def ordered(self) -> list[Conversation]:
        """Side-panel order: the server entry, then rooms and private chats as they came."""
        return list(self.conversations.values())

    def all_nicks(self) -> list[str]:
        """Every nick we know of (members of our rooms and private peers), for completion."""
        seen: dict[str, str] = {}
        for conv in self.conversations.values():
            if conv.kind == "private":
                seen.setdefault(fold(conv.name), conv.name)
            for m in conv.members.values():
                seen.setdefault(fold(m.nick), m.nick)
        return sorted(seen.values(), key=fold)

    def all_rooms(self) -> list[str]:
        """Rooms we are in plus those seen in a room listing, for completion."""
        names = {fold(r): r for r in self.known_rooms.values()}
        names.update((fold(r), r) for r in self.joined_rooms())
        return sorted(names.values(), key=fold)

    def is_me(self, nick: object) -> bool:
        """Whether ``nick`` is our own nick."""
        return isinstance(nick, str) and fold(nick) == fold(self.nick)

    # -- navigation --------------------------------------------------------------------------

    def select(self, key_or_name: str) -> bool:
        """Put a conversation on screen; clears its unread count and mention marker."""
        key = key_or_name if key_or_name == SERVER_KEY else fold(key_or_name)
        conv = self.conversations.get(key)
        if conv is None:
            return False
        left = self.conversations.get(self.current_key)
        if left is not None and left is not conv:
            left.read_marker = left.lines[-1] if left.lines else None
        self.current_key = key
        conv.unread = 0
        conv.mentioned = False
        return True

    def select_index(self, index: int) -> bool:
        """Select by position in the side panel (0 is the server entry)."""
        convs = self.ordered()
        if not 0 <= index < len(convs):
            return False
        return self.select(convs[index].key)

    def select_relative(self, step: int) -> None:
        """Next/previous conversation, wrapping around."""
        keys = [c.key for c in self.ordered()]
        i = keys.index(self.current_key)
        self.select(keys[(i + step) % len(keys)])

    def select_active(self) -> bool:
        """Alt+A: the next conversation with unread messages, those that mention us (private
        messages count as mentions) first; False when there is none."""
        convs = self.ordered()
        i = next(n for n, c in enumerate(convs) if c.key == self.current_key)
        after = convs[i + 1:] + convs[:i]
        best = (next((c for c in after if c.mentioned), None)
                or next((c for c in after if c.unread), None))
        return best is not None and self.select(best.key)

    def expect_join(self, room: str) -> None:
        """The user asked to join ``room``: switch to it when the server confirms."""
        self._expected_joins.add(fold(room))

    def open_private(self, nick: str, select: bool = True) -> Conversation:
        """The conversation with ``nick``, created if needed."""
        conv = self.conversations.get(fold(nick))
        if conv is None:
            conv = self.conversations[fold(nick)] = Conversation(nick, "private")
        if select:
            self.select(conv.key)
        return conv

    def close(self, key: str) -> Conversation | None:
        """Drop a conversation from the panel (not the server entry)."""
        if key == SERVER_KEY or key not in self.conversations:
            return None
        keys = list(self.conversations)
        conv = self.conversations.pop(key)
        if self.current_key == key:
            i = keys.index(key)
            self.select(keys[i - 1])
        return conv

    # -- local lines -------------------------------------------------------------------------

    def info(self, text: str, conv: Conversation | None = None, kind: LineKind = "info") -> None:
        """A line from the client itself (help, connection state, usage errors)."""
        self._add(conv or self.current, Line(datetime.now().astimezone(), kind, text))

    def info_all(self, text: str, kind: LineKind = "info") -> None:
        """A line in every conversation (connection lost / back): wherever the user looks."""
        now = datetime.now().astimezone()
        for conv in self.conversations.values():
            self._add(conv, Line(now, kind, text), count=False)

    # -- connection lifecycle ----------------------------------------------------------------

    def set_state(self, state: ConnState, detail: str = "") -> None:
        """Record the connection state for the status bar."""
        self.state = state
        self.state_detail = detail

    def connection_lost(self) -> None:
        """The server is gone: nobody is in any room until we rejoin (members are stale), and a new
        session starts logged out."""
        self.account = None
        for conv in self.conversations.values():
            if conv.kind == "room":
                conv.members.clear()

    def set_nick(self, nick: str) -> None:
        """Our own nick changed (welcome, /nick, or a fallback when ours was taken)."""
        self.nick = nick
        self._mention_re = self._compile_mention(nick)

    @staticmethod
    def _compile_mention(nick: str) -> re.Pattern[str]:
        # Nick characters include []\`^{}|-, so "word boundary" must be spelled out.
        return re.compile(
            r"(?<![A-Za-z0-9_\-\[\]\\`^{}|])" + re.escape(nick) + r"(?![A-Za-z0-9_\-\[\]\\`^{}|])",
            re.IGNORECASE,
        )

    def set_ignored(self, patterns: list[str]) -> None:
        """Hide messages, actions and notices from these nicks (``*``/``?`` wildcards), and
        their joins, parts, quits, renames and away/back notices (irssi's ignore of all
        levels); who is in a room is still followed, so the member list stays right."""
        self.ignored = list(patterns)
        parts = [re.escape(fold(p)).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns]
        self._ignore_re = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    def is_ignored(self, nick: object) -> bool:
        """Whether ``nick`` matches the ignore list (never ourselves)."""
        return (isinstance(nick, str) and self._ignore_re is not None and not self.is_me(nick)
                and self._ignore_re.fullmatch(fold(nick)) is not None)

    def mentions_me(self, text: str) -> bool:
        """Whether ``text`` names us as a whole word."""
        return bool(self.nick) and self._mention_re.search(text) is not None

    # -- events ------------------------------------------------------------------------------

    def apply(self, event: dict[str, Any]) -> None:
        """Update the model for one event from the server (unknown types go to the server tab)."""
        handler = getattr(self, "_on_" + str(event.get("type")), None)
        if handler is None:
            self._line(self.server, event, "notice", str(event.get("text", "")))
            return
        handler(event)

    def _add(self, conv: Conversation, line: Line, count: bool = True) -> None:
        if not conv.remember(line):
            return  # already shown (it came in a history answer first)
        conv.lines.append(line)
        if line.id is not None:
            conv.newest = (line.ts, line.id)  # live: the newest by definition
            if conv.oldest is None:
                conv.oldest = (line.ts, line.id)
        if not count or conv.key == self.current_key:
            return
        # Server chatter (welcome, motd, goodbyes) is not worth a number in the side panel.
        if line.kind in ("message", "action") or (line.kind == "notice" and conv.kind != "server"):
            conv.unread += 1
        if line.mention:
            conv.mentioned = True

    def _line(self, conv: Conversation, event: dict[str, Any], kind: LineKind, text: str,
              *, nick: str | None = None, mention: bool = False) -> None:
        own = self.is_me(nick)
        self._add(conv, Line(parse_ts(event.get("ts")), kind, text, nick, own, mention and not own,
                             id=_history_id(conv, event)))

    def _room(self, event: dict[str, Any], create: bool = False) -> Conversation | None:
        name = event.get("room")
        if not isinstance(name, str):
            return None
        conv = self.conversations.get(fold(name))
        if conv is None and create:
            conv = self.conversations[fold(name)] = Conversation(name, "room")
        return conv if conv is None or conv.kind == "room" else None

    def _on_welcome(self, event: dict[str, Any]) -> None:
        self.set_nick(str(event.get("nick") or self.nick))
        self.server_name = str(event.get("server") or self.server_name)
        self.server.name = self.server_name
        limits = event.get("limits")
        self.limits = limits if isinstance(limits, dict) else {}
        self.registered_once = True
        self._line(self.server, event, "notice", str(event.get("text", "")))
        if event.get("motd"):
            self._line(self.server, event, "notice", str(event["motd"]))

    def _on_message(self, event: dict[str, Any]) -> None:
        sender = event.get("from")
        if self.is_ignored(sender):
            self.ignored_count += 1
            return
        text = str(event.get("text", ""))
        kind: LineKind = "message"
        if event.get("kind") in ("action", "notice"):
            kind = event["kind"]
        if event.get("room") is not None:
            conv = self._room(event, create=True)
        elif not isinstance(sender, str):  # a private notice from the server itself
            conv = self.server
        else:
            peer = event.get("to") if self.is_me(sender) else sender
            conv = self.open_private(str(peer), select=False)
        if conv is None:
            return
        nick = sender if isinstance(sender, str) else None
        # In a private chat every line is for us: count it as a mention so the marker shows.
        mention = conv.kind == "private" or self.mentions_me(text)
        self._line(conv, event, kind, text, nick=nick, mention=mention)

    def _on_join(self, event: dict[str, Any]) -> None:
        sender = event.get("from")
        if not isinstance(sender, str):
            return
        conv = self._room(event, create=self.is_me(sender))
        if conv is None:
            return
        if self.is_me(sender):
            conv.joined = True
            conv.members.clear()  # a members event follows with everyone
            conv.topic = ""  # and a topic event, if the room has one (it may be a new server)
            if fold(conv.name) in self._expected_joins:
                self._expected_joins.discard(fold(conv.name))
                self.select(conv.key)
        conv.members[fold(sender)] = Member(sender)
        if not self.is_ignored(sender):
            self._line(conv, event, "join", str(event.get("text", "")), nick=sender)

    def _on_part(self, event: dict[str, Any]) -> None:
        sender = event.get("from")
        conv = self._room(event)
        if conv is None or not isinstance(sender, str):
            return
        if self.is_me(sender):
            # Leaving a room closes its entry, as /part does in most chat clients.
            self.close(conv.key)
            self._line(self.current, event, "part", str(event.get("text", "")), nick=sender)
            return
        conv.members.pop(fold(sender), None)
        if not self.is_ignored(sender):
            self._line(conv, event, "part", str(event.get("text", "")), nick=sender)

    def _on_quit(self, event: dict[str, Any]) -> None:
        sender = event.get("from")
        if not isinstance(sender, str):
            return
        text = str(event.get("text", ""))
        shown = not self.is_ignored(sender)
        for conv in self.conversations.values():
            was_member = conv.kind == "room" and conv.members.pop(fold(sender), None) is not None
            if shown and (was_member or (conv.kind == "private"
                                         and fold(conv.name) == fold(sender))):
                self._line(conv, event, "quit", text, nick=sender)

    def _on_nick(self, event: dict[str, Any]) -> None:
        old, new = event.get("from"), event.get("nick")
        if not isinstance(old, str) or not isinstance(new, str):
            return
        text = str(event.get("text", ""))
        if self.is_me(old):
            self.set_nick(new)
            self._line(self.server, event, "nick", text, nick=old)
        # Someone ignored under either name: the rename is followed, not shown.
        shown = not (self.is_ignored(old) or self.is_ignored(new))
        for conv in self.conversations.values():
            member = conv.members.pop(fold(old), None)
            if member is not None:
                member.nick = new
                conv.members[fold(new)] = member
                if shown:
                    self._line(conv, event, "nick", text, nick=old)
        peer = self.conversations.get(fold(old))
        if peer is not None and peer.kind == "private" and fold(new) not in self.conversations:
            # Keep the chat with someone who renamed under their new name, same position.
            peer.name = new
            self.conversations = {
                (fold(new) if k == fold(old) else k): v for k, v in self.conversations.items()
            }
            if self.current_key == fold(old):
                self.current_key = fold(new)
            if shown:
                self._line(peer, event, "nick", text, nick=old)

    def _on_topic(self, event: dict[str, Any]) -> None:
        conv = self._room(event)
        if conv is None:
            self._line(self.current, event, "topic", str(event.get("text", "")))
            return
        conv.topic = str(event.get("topic") or "")
        if event.get("changed") or conv.topic:
            self._line(conv, event, "topic", str(event.get("text", "")),
                       nick=event.get("set_by") if event.get("changed") else None)

    def _on_members(self, event: dict[str, Any]) -> None:
        conv = self._room(event)
        members = event.get("members")
        if not isinstance(members, list):
            return
        parsed = {
            fold(m["nick"]): Member(m["nick"], bool(m.get("op")), bool(m.get("voice")))
            for m in members if isinstance(m, dict) and isinstance(m.get("nick"), str)
        }
        if conv is not None and conv.joined:
            conv.members = parsed
        else:  # an answer to /who about a room we are not in: show it
            self._line(self.current, event, "info", str(event.get("text", "")))

    def _on_rooms(self, event: dict[str, Any]) -> None:
        rooms = event.get("rooms")
        if not isinstance(rooms, list):
            return
        self.known_rooms = {
            fold(r["room"]): r["room"] for r in rooms
            if isinstance(r, dict) and isinstance(r.get("room"), str)
        }
        conv = self.current
        self._line(conv, event, "info", str(event.get("text", "")))
        for r in rooms:
            if isinstance(r, dict) and isinstance(r.get("room"), str):
                topic = f" — {r['topic']}" if r.get("topic") else ""
                self._line(conv, event, "info", f"  {r['room']} ({r.get('members', 0)}){topic}")

    def _on_kick(self, event: dict[str, Any]) -> None:
        conv = self._room(event)
        target = event.get("nick")
        if conv is None or not isinstance(target, str):
            return
        conv.members.pop(fold(target), None)
        if self.is_me(target):
            # Keep the room on screen so the reason can be read; /join gets back in. Nothing of
            # the room is ours any more: no members, no topic (the side panel and the status
            # bar show it as left).
            conv.joined = False
            conv.members.clear()
            conv.topic = ""
            conv.mentioned = conv.key != self.current_key
        self._line(conv, event, "part", str(event.get("text", "")), nick=event.get("from"))

    def _on_mode(self, event: dict[str, Any]) -> None:
        conv = self._room({"room": event.get("target")})
        modes, args = event.get("modes"), event.get("args")
        if conv is not None and isinstance(modes, str) and isinstance(args, list):
            adding, rest = True, list(args)
            for ch in modes:
                if ch in "+-":
                    adding = ch == "+"
                elif ch in "ovb" or (ch in "kl" and adding):
                    arg = rest.pop(0) if rest else None
                    member = conv.members.get(fold(arg)) if isinstance(arg, str) else None
                    if member is not None and ch == "o":
                        member.op = adding
                    elif member is not None and ch == "v":
                        member.voice = adding
        self._line(conv or self.current, event, "nick", str(event.get("text", "")),
                   nick=event.get("from"))

    def _on_info(self, event: dict[str, Any]) -> None:
        """Answers to a request of ours (whois, away, modes...): where the user is looking."""
        self._line(self.current, event, "info", str(event.get("text", "")))

    _on_invite = _on_whois = _on_modes = _on_bans = _on_info

    def _on_away(self, event: dict[str, Any]) -> None:
        """Someone went away or came back (``changed``), or is away, said when we wrote to
        them: shown where the user is looking, except the comings and goings of the ignored."""
        if event.get("changed") and self.is_ignored(event.get("nick")):
            return
        self._on_info(event)

    def _on_notice(self, event: dict[str, Any]) -> None:
        conv = self._room(event) or self.current
        self._line(conv, event, "notice", str(event.get("text", "")))

    def _on_error(self, event: dict[str, Any]) -> None:
        self._line(self.current, event, "error", str(event.get("text", "")))

    def _on_disconnect(self, event: dict[str, Any]) -> None:
        self._line(self.server, event, "notice", str(event.get("text", "")))

    def _on_account(self, event: dict[str, Any]) -> None:
        """Our own account changed (registered, logged in or out, password changed)."""
        account = event.get("account")
        if event.get("status") == "logged_out" or not isinstance(account, str):
            self.account = None
        else:
            self.account = account
        self._line(self.current, event, "info", str(event.get("text", "")))

    def _on_account_notify(self, event: dict[str, Any]) -> None:
        """Someone in one of our rooms logged in or out: remember it on their member entries."""
        nick, account = event.get("nick"), event.get("account")
        if not isinstance(nick, str):
            return
        account = account if isinstance(account, str) else None
        if self.is_me(nick):
            self.account = account
        for conv in self.conversations.values():
            member = conv.members.get(fold(nick))
            if member is not None:
                member.account = account

    def _on_history(self, event: dict[str, Any]) -> None:
        """Past events of a room (the replay on join, or an answer to a history request)."""
        conv = self._room(event)
        past = event.get("events")
        if conv is None or not isinstance(past, list):
            return
        self.merge_history(conv, [p for p in past if isinstance(p, dict)], event.get("direction"))

    def merge_history(self, conv: Conversation, past: list[dict[str, Any]],
                      direction: object = "latest") -> int:
        """Put past events (oldest first) among ``conv``'s lines in time order; returns how many
        were new. Lines already shown (same id) are skipped; none counts as unread.

        Many events share a millisecond, so their times alone cannot place them: a page comes in
        the server's order, so each line goes after the page's previous one (or after the line
        already shown with that id). The page's first new line goes before the lines of the same
        time for a ``before`` page (all older than what is here), after them otherwise.
        """
        added = 0
        stamped: list[tuple[datetime, str]] = []
        lines = conv.lines
        prev: int | None = None  # where the page's previous event is in ``lines``
        for index, event in enumerate(past):
            line = self._history_line(conv, event)
            if line is None:
                continue
            if line.id is not None:
                stamped.append((line.ts, line.id))
                if not conv.remember(line):
                    prev = _index_of(lines, line.id, prev)
                    continue
            if prev is None:
                # A line of this page already shown later in it marks the spot: the page's
                # order is the server's, and is right even within one millisecond.
                known = next((p.get("id") for p in past[index + 1:]
                              if isinstance(p.get("id"), str) and p.get("id") in conv.seen), None)
                found = None if known is None else _index_of(lines, known, None)
                if found is not None:
                    at = found
                else:
                    side = bisect.bisect_left if direction == "before" else bisect.bisect_right
                    at = side(lines, line.ts, key=lambda x: x.ts)
            else:
                at = prev + 1
                while at < len(lines) and lines[at].ts < line.ts:
                    at += 1
            placed = self._insert(conv, at, line)
            if placed is not None:
                prev = placed
                added += 1
        if stamped:
            first, last = stamped[0], stamped[-1]
            if conv.oldest is None or first[0] <= conv.oldest[0]:
                conv.oldest = first
            if conv.newest is None or last[0] >= conv.newest[0]:
                conv.newest = last
        return added

    def _history_line(self, conv: Conversation, event: dict[str, Any]) -> Line | None:
        kind = event.get("type")
        nick = event.get("from") if isinstance(event.get("from"), str) else None
        text = str(event.get("text", ""))
        line_kind: LineKind
        mention = False
        if kind == "message":
            if self.is_ignored(nick):
                return None
            sub = event.get("kind")
            line_kind = sub if sub in ("action", "notice") else "message"
            mention = self.mentions_me(text) and not self.is_me(nick)
        elif kind == "topic":
            line_kind = "topic"
            nick = event.get("set_by") if isinstance(event.get("set_by"), str) else nick
        elif kind in ("join", "part", "quit", "nick"):
            if self.is_ignored(nick) or (kind == "nick" and self.is_ignored(event.get("nick"))):
                return None
            line_kind = kind
        elif kind == "kick":
            line_kind = "part"
        else:
            return None
        return Line(parse_ts(event.get("ts")), line_kind, text, nick, self.is_me(nick), mention,
                    id=_history_id(conv, event, replayed=True), history=True)

    @staticmethod
    def _insert(conv: Conversation, at: int, line: Line) -> int | None:
        """Insert at ``at``; where it went, or None if older than a full scrollback keeps."""
        lines = conv.lines
        if len(lines) == lines.maxlen:
            if at == 0:
                return None
            lines.popleft()
            at -= 1
        lines.insert(at, line)
        return at

    def _on_pong(self, event: dict[str, Any]) -> None:
        pass  # keepalive answers: the connection layer notes them, nothing to show

    def _on_ping(self, event: dict[str, Any]) -> None:
        pass  # answered by the connection layer


def _history_id(conv: Conversation, event: dict[str, Any], *, replayed: bool = False) -> str | None:
    """The event's id if the server keeps this event in ``conv``'s history, else None."""
    event_id, kind = event.get("id"), event.get("type")
    if conv.kind != "room" or not isinstance(event_id, str) or kind not in HISTORY_TYPES:
        return None
    if kind == "topic" and not (event.get("changed") or replayed):
        return None  # the topic shown on join is a reply, not a room event
    rooms = event.get("rooms") if kind in ("quit", "nick") and not event.get("room") else None
    names = rooms if isinstance(rooms, list) else [event.get("room")]
    return event_id if any(isinstance(n, str) and fold(n) == conv.key for n in names) else None


def _index_of(lines: deque[Line], line_id: str, after: int | None) -> int | None:
    """Where the line with ``line_id`` is, looking after index ``after`` first."""
    start = 0 if after is None else min(after + 1, len(lines))
    for i, line in enumerate(itertools.islice(lines, start, None), start):
        if line.id == line_id:
            return i
    return next((i for i, line in enumerate(itertools.islice(lines, start)) if line.id == line_id),
                None)
