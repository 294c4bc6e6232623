"""Reaching Chroma: embedded under the data dir (one process per data dir, held by a lock file) or a Chroma server
(retried with backoff while it starts; its network failures become one StoreError the operator can act on).

The only module that knows Chroma has two forms; vectorstore/store.py keeps the collections in it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from vectorstore.config import StoreConfig, reveal

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """A problem the operator must act on; the message says what to do."""


class DataDirBusy(StoreError):
    """The embedded store is open in another live process (the OS drops the lock when a process dies)."""

    def __init__(self, pid: str, message: str):
        super().__init__(message)
        self.pid = pid


def _no_telemetry():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class DataDirLock:
    """Embedded Chroma is unsafe with two processes on one path: the second one is told what to do instead."""

    def __init__(self, data_dir: Path):
        from filelock import FileLock, Timeout

        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "articlebot.lock"
        self._lock = FileLock(str(self.path))
        self._timeout = Timeout

    def acquire(self) -> None:
        try:
            self._lock.acquire(timeout=0)
        except self._timeout:
            owner = ""
            try:
                owner = (self.path.parent / "articlebot.pid").read_text().strip()
            except OSError:
                pass
            raise DataDirBusy(
                owner,
                f"the data dir {self.path.parent} is in use by another articlebot process"
                f"{f' (pid {owner})' if owner else ''}. Stop it first, or run a Chroma server and set CHROMA_HOST "
                "so several processes (a bot and an ingest) can share one store.",
            ) from None
        (self.path.parent / "articlebot.pid").write_text(str(os.getpid()))

    def release(self) -> None:
        self._lock.release()


class _ServerGuard:
    """A Chroma server collection whose network failures become one StoreError the operator can act on.

    Without it a server that goes away mid-run surfaces as an httpx traceback from deep inside chromadb.
    """

    def __init__(self, target, where: str):
        self._target = target
        self._where = where

    def __getattr__(self, name):
        import httpx

        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except httpx.TransportError as exc:
                raise lost_server(self._where, exc) from None

        return call


def server_address(settings: StoreConfig) -> str:
    """HOST:PORT of the configured Chroma server, as every message about it names it."""
    return f"{settings.chroma_host}:{settings.chroma_port}"


def lost_server(where: str, exc: BaseException) -> StoreError:
    """The one line for a Chroma server that went away mid-run."""
    return StoreError(
        f"lost the Chroma server at {where} ({type(exc).__name__}: {exc}). "
        "Is it running? Re-run the same command once it is back; what was written is kept."
    )


def open_client(settings: StoreConfig):
    """Embedded Chroma under the data dir unless CHROMA_HOST names a server."""
    import chromadb

    if settings.chroma_host:
        return _wait_for_server(settings)
    return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=_no_telemetry())


def _transport_error(exc: BaseException | None):
    """The network error behind exc, if any: a server that is not up yet (refused, unresolvable name, timeout),
    as opposed to one that answered no. chromadb re-raises a ConnectError as a ValueError, hence the chain."""
    import httpx

    for _ in range(10):
        if exc is None or isinstance(exc, httpx.TransportError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _wait_for_server(settings: StoreConfig):
    """A connected HttpClient, retried with capped exponential backoff and jitter for CHROMA_START_TIMEOUT seconds
    (compose may start the bot before Chroma answers, and podman-compose ignores `condition: service_healthy`).
    One log line per failed try; a server that answers with an error is not retried."""
    import chromadb
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

    where = server_address(settings)
    timeout = max(0.0, settings.chroma_start_timeout)
    headers = (
        {"Authorization": f"Bearer {reveal(settings.chroma_auth_token)}"}
        if reveal(settings.chroma_auth_token)
        else None
    )
    backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)

    def connect():
        client = chromadb.HttpClient(
            host=settings.chroma_host,
            port=settings.chroma_port,
            ssl=settings.chroma_ssl,
            headers=headers,
            settings=_no_telemetry(),
        )
        client.heartbeat()
        return client

    def reason(exc: BaseException) -> str:
        exc = _transport_error(exc) or exc
        return f"{type(exc).__name__}: {exc}"

    def say(state) -> None:
        log.warning(
            "Chroma server at %s not reachable (%s); try %d failed, next in %.1f s, giving up %g s after "
            "start (CHROMA_START_TIMEOUT)",
            where,
            reason(state.outcome.exception()),
            state.attempt_number,
            state.next_action.sleep,
            timeout,
        )

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        before_sleep=say,
        reraise=True,
        retry=retry_if_exception(lambda exc: _transport_error(exc) is not None),
        # the last wait is cut to the time left, so the last try comes at the deadline
        wait=lambda state: min(backoff(state), max(0.0, timeout - (state.seconds_since_start or 0.0))),
    )
    try:
        return retrying(connect)
    except Exception as exc:
        tries = retrying.statistics.get("attempt_number", 1)
        waited = retrying.statistics.get("delay_since_first_attempt", 0)
        after = f" (tried {tries} times in {waited:.0f} s)" if tries > 1 else ""
        raise StoreError(f"cannot reach the Chroma server at {where}{after}: {reason(exc)}. Is it running?") from None
