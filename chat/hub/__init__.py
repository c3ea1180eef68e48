"""The hub: everything between raw bytes and the core that both engines share, with no I/O.

An engine tells the hub what happened on its sockets and then moves the bytes it is handed;
the two engines cannot drift apart, since they only differ in how they wait for sockets.

- ``hub.py``        the :class:`Hub` engines drive: detection, framing, input flow, policy
  (who is cut, when and why), liveness
- ``session.py``    what is kept per connection
- ``fanout.py``     deliveries become bytes, encoded once per dialect variant; long replies
  paced to their reader
- ``ratelimit.py``  the token bucket
- ``timers.py``     one heap of typed timers for every connection
- ``output.py``     what an engine is handed after each call (:class:`Output`)
- ``observers.py``  the delivery observer seam (history, metrics, a backplane)
"""

from chat.hub.hub import INTERNAL_ERROR, SENDQ_HARD, Hub, Work
from chat.hub.observers import HubObserver, NullObserver
from chat.hub.output import LOW_WATER, PAGE, Output
from chat.hub.session import Session
from chat.hub.timers import Timer

__all__ = ["INTERNAL_ERROR", "LOW_WATER", "PAGE", "SENDQ_HARD", "Hub", "HubObserver",
           "NullObserver", "Output", "Session", "Timer", "Work"]
