"""A blocking iterator (the engine's answer stream) run on a worker thread, its items handed to the event loop.

The consumer may stop early (sending to Telegram failed, the bot is stopping): cancel() makes the thread drop what
it has and close the iterator at the next item, so the engine never records an answer nobody was shown. `done` is the
thread's future: the question's chat stays locked until it resolves, so a cancelled answer can never be remembered
after the chat's next one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor

_END = object()


class ThreadStream:
    def __init__(self, make: Callable[[], Iterator], executor: Executor):
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._cancelled = threading.Event()
        self.done: asyncio.Future = self._loop.run_in_executor(executor, self._produce, make)

    def cancel(self) -> None:
        self._cancelled.set()

    def _put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (the bot stopped): nobody is listening
            pass

    def _produce(self, make: Callable[[], Iterator]) -> None:
        iterator: Iterator | None = None
        try:
            iterator = make()
            for item in iterator:
                if self._cancelled.is_set():
                    break
                self._put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the event loop, which raises it
            self._put(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator stopped early runs its finally blocks (and records nothing) here
            self._put(_END)

    async def __aiter__(self) -> AsyncIterator:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
