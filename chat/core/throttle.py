"""Counting failures per key in a sliding window: the brake on password guessing."""

from __future__ import annotations

from collections import OrderedDict, deque

#: Failed logins allowed per address and per account within ``THROTTLE_WINDOW`` seconds.
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = 60.0
#: Addresses and account names whose failures are remembered (the oldest are forgotten first).
THROTTLE_KEYS = 10_000

class FailedLogins:
    """Recent failed logins per key (an address, an account name), bounded in keys and times."""

    def __init__(self) -> None:
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, now: float, *keys: str) -> float:
        """Seconds before another attempt under ``keys`` is allowed (0: now)."""
        longest = 0.0
        for key in keys:
            times = self._times.get(key)
            if times is not None:
                while times and times[0] <= now - THROTTLE_WINDOW:
                    times.popleft()
                if len(times) >= THROTTLE_FAILURES:
                    longest = max(longest, times[0] + THROTTLE_WINDOW - now)
        return longest

    def failed(self, now: float, *keys: str) -> None:
        """One more failure under each of ``keys``."""
        for key in keys:
            times = self._times.get(key)
            if times is None:
                times = self._times[key] = deque(maxlen=THROTTLE_FAILURES)
                if len(self._times) > THROTTLE_KEYS:
                    self._times.popitem(last=False)
            self._times.move_to_end(key)
            times.append(now)
