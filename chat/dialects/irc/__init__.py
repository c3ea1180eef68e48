"""IRC dialect: standard IRC clients (irssi, weechat, ii, ...) on the same port as everyone else.

The client side of RFC 1459/2812 as the Modern IRC client protocol document describes it, plus
the IRCv3 capabilities most clients ask for. Only wire concerns live here; every chat rule (who
may join, speak, kick, set modes) is the core's. The package is laid out by concern:

- ``syntax``: line sizes, parsing a client's line, cutting text to fit a line;
- ``numerics``: the core's error codes as IRC numerics, and numeric lines;
- ``registration``: PASS/NICK/USER, CAP negotiation, the welcome burst and ISUPPORT;
- ``commands``: input once registered, a handler per verb in ``COMMANDS``;
- ``render``: output, a renderer per event type in ``RENDERERS``;
- ``history``: CHATHISTORY in, ``chathistory`` batches out (its own ``RENDERERS``);
- ``accounts``: SASL, REGISTER and NickServ (its own ``RENDERERS``);
- ``services``: what NickServ and ChanServ share, and ChanServ;
- ``operators``: OPER, KILL, WALLOPS, KLINE/UNKLINE and STATS k's answer (its own
  ``COMMANDS`` and ``RENDERERS``);
- ``people``: WHO and WHOX, WHOWAS, MONITOR, SETNAME (its own ``COMMANDS`` and ``RENDERERS``);
- ``server``: LUSERS, STATS, INFO, ADMIN (its own ``COMMANDS`` and ``RENDERERS``);
- ``messaging``: PRIVMSG/NOTICE/TAGMSG in (STATUSMSG targets, CTCP, client-only tags);
- ``tags``: reading and writing IRCv3 message tags;
- ``labels``: labeled-response (replies wrapped through the hub's ``Gather``);
- ``listing``: LIST with ELIST filters, the room mask lists (+b/+e/+I), their ISUPPORT tokens;
- ``dialect``: :class:`IrcDialect`, the per-connection object that ties them together.
"""

from chat.dialects.irc.dialect import IrcDialect
from chat.dialects.irc.numerics import NUMERICS
from chat.dialects.irc.registration import CAPS, MAX_JOINS, MAX_TARGETS
from chat.dialects.irc.syntax import LINE, TAGS, parse, split_utf8

__all__ = ["CAPS", "LINE", "MAX_JOINS", "MAX_TARGETS", "NUMERICS", "TAGS", "IrcDialect", "parse",
           "split_utf8"]
