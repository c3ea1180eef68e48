"""Human dialect: a person on telnet or nc. Plain lines are chat, commands start with ``/``.

Output is meant to be read, not parsed: ``[12:04] <alice> hello``. Messages from a room other
than the reader's current room carry the room name, so a person in several rooms can tell.

Laid out like the IRC dialect: ``commands`` (input, a handler per slash command in
``COMMANDS``), ``render`` (output, a renderer per event type in ``RENDERERS``) and ``dialect``
(:class:`HumanDialect`, the per-connection object).
"""

from chat.dialects.human.commands import HELP
from chat.dialects.human.dialect import HumanDialect

__all__ = ["HELP", "HumanDialect"]
