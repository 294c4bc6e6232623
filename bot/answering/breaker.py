"""A circuit breaker for the LLM: when it stops answering, stop asking it for a while.

After FAILURES calls in a row fail (unreachable, timed out, a server error after the client's own retries), the
breaker opens: for COOL_DOWN seconds no call is made, and answers are the quotes at once, instead of every question
holding a worker for the full timeout (a pile-up that stalls the whole bot). Then one call is let through as a trial:
if it answers, the breaker closes; if not, it stays open for another COOL_DOWN. A reply the checks reject (no
citation, NOT FOUND) is an answer, not a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FAILURES = 3  # failed calls in a row that open the breaker
COOL_DOWN = 30.0  # seconds it stays open before a trial call


class Breaker:
    def __init__(
        self, failures: int = FAILURES, cool_down: float = COOL_DOWN, clock: Callable[[], float] = time.monotonic
    ):
        self.failures = failures
        self.cool_down = cool_down
        self._clock = clock
        self._lock = threading.Lock()
        self._failed = 0  # calls failed in a row
        self._opened: float | None = None  # when it (last) opened; None while closed
        self._trial = False  # the one call let through while open is under way
        self.openings = 0  # how often it opened: a new outage is a new one (each chat is told once per outage)

    @property
    def closed(self) -> bool:
        return self._opened is None

    def allow(self) -> bool:
        """Whether to call the model now. Every call allowed must be reported: success() or failure()."""
        with self._lock:
            if self._opened is None:
                return True
            if self._trial or self._clock() - self._opened < self.cool_down:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        with self._lock:
            if self._opened is not None:
                log.warning("the language model answers again: calling it for every question again")
            self._failed, self._opened, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failed += 1
            if self._opened is not None:  # the trial failed: another cool-down
                self._opened, self._trial = self._clock(), False
            elif self._failed >= self.failures:
                self._opened = self._clock()
                self.openings += 1
                log.warning(
                    "the language model failed %d times in a row: answering with quotes for %g s, then trying it again",
                    self._failed,
                    self.cool_down,
                )
