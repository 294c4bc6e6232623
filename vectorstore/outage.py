"""A Chroma server that goes away under a long-running process (restarted, redeployed, briefly unreachable).

Chroma's HTTP client connects again by itself once the server is back (tested by killing a real `chroma run` under a
running bot: tests/test_store_outage.py), so a reader only has to tell "the server could not be reached" from "the
server answered no", and wait a bounded time for it. The store wraps a lost server in a StoreError (store.py);
the network error it came from is still on the exception's chain, which is what `unreachable` looks for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

FIRST_WAIT, MAX_WAIT = 0.25, 2.0  # seconds between tries while waiting: doubling, capped


def unreachable(exc: BaseException | None) -> bool:
    """Whether the store could not be reached (refused, reset, timed out): an httpx transport error anywhere on
    the exception's chain. chromadb re-raises some as ValueError and the store as StoreError, hence the chain."""
    import httpx

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, httpx.TransportError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def wait_out(call: Callable[[], T], seconds: float) -> T:
    """call(), tried again while the store is unreachable, for up to `seconds`; then its error is raised. Any
    other error is raised at once. Meant for reads: a call that wrote half its work must not be repeated blindly."""
    deadline = time.monotonic() + seconds
    wait = FIRST_WAIT
    while True:
        try:
            return call()
        except Exception as exc:
            left = deadline - time.monotonic()
            if not unreachable(exc) or left <= 0:
                raise
            log.info("the store is unreachable (%s); trying again in %.2f s", type(exc).__name__, min(wait, left))
            time.sleep(min(wait, left))
            wait = min(wait * 2, MAX_WAIT)
