"""Rate limits that hold per person, not per connection: sliding windows keyed by a session
id or a client address (five sockets of one session share one budget).

Counted in each gateway's memory: behind a load balancer that keeps a client on one gateway
(sticky sessions, which Socket.IO's polling transport needs anyway) that is per client.
"""

from __future__ import annotations

import time
from collections import deque


class SlidingWindow:
    """At most `limit` events per `seconds` for each key."""

    def __init__(self, limit: int, seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.seconds = seconds
        self.max_keys = max_keys
        self.events: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False (and not counted) when over the limit."""
        if self.limit <= 0:
            return True  # no limit configured
        now = time.monotonic()
        recent = self.events.get(key)
        if recent is None:
            if len(self.events) >= self.max_keys:
                self._forget_idle(now)
            recent = self.events[key] = deque()
        while recent and now - recent[0] > self.seconds:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, recent in self.events.items()
                    if not recent or now - recent[-1] > self.seconds]:
            del self.events[key]


class Limits:
    """Every limit of a customer's traffic, by session and by address: all must allow."""

    def __init__(self, *windows: tuple[SlidingWindow, str]) -> None:
        self.windows = windows  # (window, what it is keyed by: "session" or "address")

    def allow(self, session: str, address: str) -> bool:
        keys = {"session": session, "address": address}
        return all(window.allow(keys[by]) for window, by in self.windows)
