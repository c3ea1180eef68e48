"""LIST with ELIST filters in, and the room-mode lists out (bans, ban and invite exceptions),
plus the ISUPPORT tokens for the room features behind them.

Kept apart from ``commands`` and ``render`` so the channel-mode features have one home.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.core import commands as c
from chat.core import events as e
from chat.core.modes import MAX_BANS
from chat.dialects.base import Decoded

if TYPE_CHECKING:
    from chat.dialects.irc.dialect import IrcDialect

#: ISUPPORT tokens for room lists and modes: +e and +I (with their letters), the LIST
#: filters understood (C creation time, M mask, N negated mask, T topic time, U user count),
#: the bot user mode, STATUSMSG prefixes, and that input must be UTF-8 (else FAIL INVALID_UTF8).
ISUPPORT = ("BOT=B", "ELIST=CMNTU", "EXCEPTS=e", "INVEX=I", "STATUSMSG=@+", "UTF8ONLY")
#: How full each list mode may get (each list on its own).
MAXLIST = f"MAXLIST=b:{MAX_BANS},e:{MAX_BANS},I:{MAX_BANS}"
#: 353's channel symbol by the room's visibility.
SYMBOL = {"public": "=", "secret": "@", "private": "*"}
#: (entry numeric, end numeric, what the list is called) per list mode.
LIST_NUMERICS = {
    "b": ("367", "368", "End of channel ban list"),
    "e": ("348", "349", "End of channel exception list"),
    "I": ("346", "347", "End of channel invite list"),
}
MAX_CONDITIONS = 8  # comma-separated LIST conditions read from one line


def list_rooms(d: IrcDialect, verb: str, params: list[str]) -> list[Decoded]:
    """``LIST [#a,#b | conditions]``: names, or ELIST conditions (``>3``, ``<10``, ``C>5``,
    ``C<5``, ``T>5``, ``T<5``, ``*mask*``, ``!mask``); times are in minutes."""
    if not params or not params[0]:
        return [c.ListRooms(ref=verb)]
    names: list[str] = []
    where: dict[str, object] = {}
    masks: list[str] = []
    not_masks: list[str] = []
    for word in params[0].split(",")[:MAX_CONDITIONS]:
        if not word:
            continue
        if word.startswith("!"):
            not_masks.append(word[1:])
        elif "*" in word or "?" in word:
            masks.append(word)
        elif word.startswith("#"):
            names.append(word)
        elif not _condition(word, where):
            return [d.num("403", word, text="Invalid LIST condition"),
                    d.num("323", text="End of /LIST")]
    if masks or not_masks:
        where["masks"], where["not_masks"] = tuple(masks), tuple(not_masks)
    room_filter = c.RoomFilter(**where) if where else None  # type: ignore[arg-type]
    return [c.ListRooms(ref=verb, names=tuple(names), where=room_filter)]


def _condition(word: str, where: dict[str, object]) -> bool:
    """Read one ELIST condition into ``where``; False if it is not one."""
    kind = ""
    if word[:1] in ("C", "T", "c", "t") and word[1:2] in ("<", ">"):
        kind, word = word[0].upper(), word[1:]
    op, number = word[:1], word[1:]
    if op not in ("<", ">") or not number.isdigit() or len(number) > 9:
        return False
    value = int(number)
    if not kind:  # member count (U)
        where["min_members" if op == ">" else "max_members"] = value
        return True
    field = "created" if kind == "C" else "topic"
    # C<n: created less than n minutes ago, so at most n minutes old; C>n: more than.
    where[f"{field}_{'max' if op == '<' else 'min'}_age"] = value * 60.0
    return True


def mask_list(d: IrcDialect, event: e.BanList, is_self: bool) -> bytes:
    """367/368 (bans), 348/349 (ban exceptions) or 346/347 (invite exceptions)."""
    room = event.room or "*"
    entry, end, text = LIST_NUMERICS.get(event.kind, LIST_NUMERICS["b"])
    lines = [d.num(entry, room, b.mask, b.set_by, str(int(b.set_at))) for b in event.bans]
    lines.append(d.num(end, room, text=text))
    return b"".join(lines)
