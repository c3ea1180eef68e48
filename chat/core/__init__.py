"""The I/O-free core: commands in, deliveries out. See chat/__init__.py for the whole server.

Layout, one module per concern, each with a ``HANDLERS`` table of the commands it handles:

- ``core``: :class:`ChatCore`, the facade the hub calls; dispatches by command type.
- ``context``: the shared state (users, nicks, rooms, event ids), one call's ``Effects``, and
  the ``Handlers`` registry.
- ``registration``: registering, nick changes, quitting, reserved service nicks.
- ``rooms``: joining, parting, topics, room and member lists.
- ``messages``: talking to rooms and people.
- ``moderation``: operator and membership checks, bans, kicks, invites.
- ``modes``: room and user modes.
- ``presence``: away, WHOIS, WHO, online lookups, pings.
- ``commands``: what comes in. ``events``: what goes out (announcements, ``Delivery``,
  ``Close``), re-exporting ``envelope`` (the fields every event has) and ``replies`` (answers
  to one requester). ``model``: users and rooms as kept. ``names``: nick, room and mask rules.
"""

from chat.core.core import ChatCore

__all__ = ["ChatCore"]
