"""Telegram pushing back, for the Bot API stand-in (botapi_server.py consults a plan in one place).

A plan answers a seeded share of one method's calls with an error, or scripts the next few calls of a method:
- `refuse(method, share, retry_after)`: 429 "Too Many Requests: retry after N", as Telegram's flood control does;
- `fail(method, share, status)`: a 5xx (502 Bad Gateway by default), the call not carried out;
- `late(method, share, delay)`: the call IS carried out (the message is sent), but the reply comes only after
  `delay` seconds, past the client's read timeout: the case where retrying would send a message twice;
- `script(method, [status, ...])`: the next calls of the method answer these statuses in order (200 = normal).
"""
from __future__ import annotations

import random
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

NAMES = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
         504: "Gateway Timeout"}


@dataclass(frozen=True)
class Fault:
    status: int               # 200 for a late reply to a call that took effect
    retry_after: int = 1      # for 429
    delay: float = 0.0        # for a late reply

    @property
    def refuses(self) -> bool:
        return self.status != 200

    def payload(self) -> dict:
        if self.status == 429:
            return {"ok": False, "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.retry_after}",
                    "parameters": {"retry_after": self.retry_after}}
        return {"ok": False, "error_code": self.status, "description": NAMES.get(self.status, "Error")}


@dataclass
class FaultPlan:
    seed: int = 29
    shares: dict = field(default_factory=lambda: defaultdict(list))    # method -> [(share, Fault)]
    scripted: dict = field(default_factory=lambda: defaultdict(deque))  # method -> deque[Fault | None]
    served: dict = field(default_factory=lambda: defaultdict(int))      # "method status" -> count

    def __post_init__(self):
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def refuse(self, method: str, share: float, retry_after: int = 1) -> FaultPlan:
        self.shares[method].append((share, Fault(429, retry_after=retry_after)))
        return self

    def fail(self, method: str, share: float, status: int = 502) -> FaultPlan:
        self.shares[method].append((share, Fault(status)))
        return self

    def late(self, method: str, share: float, delay: float) -> FaultPlan:
        self.shares[method].append((share, Fault(200, delay=delay)))
        return self

    def script(self, method: str, statuses: list[int], retry_after: int = 1, delay: float = 0.0) -> FaultPlan:
        with self._lock:
            for status in statuses:
                if status == 200 and not delay:
                    self.scripted[method].append(None)
                else:
                    self.scripted[method].append(Fault(status, retry_after=retry_after, delay=delay))
        return self

    def pick(self, method: str) -> Fault | None:
        """The fault for this call of `method`, if any (thread-safe; the stand-in calls it once per call)."""
        with self._lock:
            if self.scripted[method]:
                fault = self.scripted[method].popleft()
            else:
                fault, draw = None, self._random.random()
                for share, candidate in self.shares.get(method, ()):
                    if draw < share:
                        fault = candidate
                        break
                    draw -= share
            if fault is not None:
                self.served[f"{method} {fault.status if fault.refuses else 'late'}"] += 1
            return fault
