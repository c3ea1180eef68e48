"""Nick history: who went by a nick before (what IRC's WHOWAS answers from), bounded.

Kept in memory only: a nick's past holders matter while people still remember the nick, and
a restart forgetting them is what every ircd does. Two bounds hold it: the last
``PER_NICK`` holders of each nick, and the ``MAX_NICKS`` nicks most recently given up.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from chat.core.directory import PastUser
from chat.core.names import fold

PER_NICK = 8  # past holders kept per nick
MAX_NICKS = 4096  # nicks kept; the one given up longest ago is forgotten first


class NickHistory:
    """Past holders per folded nick, newest last; the least recently touched nick goes first."""

    __slots__ = ("_nicks", "max_nicks", "per_nick")

    def __init__(self, per_nick: int = PER_NICK, max_nicks: int = MAX_NICKS) -> None:
        self.per_nick = per_nick
        self.max_nicks = max_nicks
        self._nicks: OrderedDict[str, deque[PastUser]] = OrderedDict()

    def record(self, entry: PastUser) -> None:
        """``entry.nick`` was just given up by ``entry``'s holder."""
        key = fold(entry.nick)
        past = self._nicks.get(key)
        if past is None:
            past = self._nicks[key] = deque(maxlen=self.per_nick)
        else:
            self._nicks.move_to_end(key)
        past.append(entry)
        while len(self._nicks) > self.max_nicks:
            self._nicks.popitem(last=False)

    def lookup(self, nick: str, count: int = 0) -> tuple[PastUser, ...]:
        """Who held ``nick``, newest first: at most ``count`` (all kept when ``count`` <= 0)."""
        past = self._nicks.get(fold(nick))
        if not past:
            return ()
        newest_first = tuple(reversed(past))
        return newest_first[:count] if count > 0 else newest_first

    def __len__(self) -> int:
        """How many nicks have a history."""
        return len(self._nicks)
