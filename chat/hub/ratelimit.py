"""The per-connection token bucket: lines beyond the burst wait, they are not dropped."""

from __future__ import annotations

from chat.config import Limits
from chat.hub.session import Session


def refill(session: Session, limits: Limits, now: float) -> None:
    """Add the tokens earned since the last refill, up to the burst."""
    session.tokens = min(limits.rate_burst,
                         session.tokens + (now - session.refilled) * limits.rate_per_second)
    session.refilled = now


def take_token(session: Session, limits: Limits, now: float) -> bool:
    """Spend one token for a line; False if the line must wait."""
    if session.tokens < 1:
        refill(session, limits, now)
        if session.tokens < 1:
            return False
    session.tokens -= 1
    return True


def token_due(session: Session, limits: Limits) -> float:
    """When the next token will be there.

    At least a millisecond ahead: float rounding can leave tokens a hair under 1 at the due
    time, and a timer due "now" would spin the hub's tick forever.
    """
    due = session.refilled + max(0.0, 1 - session.tokens) / limits.rate_per_second
    return max(due, session.refilled + 0.001)
