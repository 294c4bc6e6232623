"""Per-user throttling of questions: a sliding one-minute window, with one warning per window."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class Throttle:
    """A sliding one-minute window per user; warns once per window instead of on every message."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.seen: dict[int, deque[float]] = defaultdict(deque)
        self.warned: set[int] = set()
        self._swept = 0.0

    def allow(self, user_id: int, now: float | None = None) -> tuple[bool, bool]:
        """(allowed, should_warn)."""
        if self.per_minute <= 0:
            return True, False
        now = time.monotonic() if now is None else now
        if now - self._swept >= 60:
            self._sweep(now)
        window = self.seen[user_id]
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= self.per_minute:
            warn = user_id not in self.warned
            self.warned.add(user_id)
            return False, warn
        self.warned.discard(user_id)
        window.append(now)
        return True, False

    def _sweep(self, now: float) -> None:
        """Forget users quiet for a minute, so a public bot's memory does not grow with every user it ever saw."""
        self._swept = now
        for uid in [u for u, w in self.seen.items() if not w or now - w[-1] >= 60]:
            del self.seen[uid]
            self.warned.discard(uid)
