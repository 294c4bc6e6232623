"""Questions answered at the same time share their model and store calls.

While one call runs, the calls that other question threads make meanwhile wait and then go together as the next
one: a lone question never waits for a timer, and a busy bot batches by itself, as many questions at a time as are
waiting. Two seams, both wrapped once by the engine:
- the embedder: the waiting questions' query vectors in one model run, and the sentences the reader re-scores for
  each of them in one run (large calls, an ingest's, go straight through);
- the sentence collection's nearest-neighbour query: one Chroma query for the waiting questions' vectors.
One model run or one Chroma query for several questions costs much less than one each (benchmarks/load.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

QUERY_BATCH = 32  # query vectors in one model run at most
TEXT_BATCH = 256  # texts in one document run at most (eight questions' reading is ~72)
SMALL_CALL = 64  # a call with more texts than this (an ingest's) is not held for others
NEIGHBOUR_BATCH = 32  # vectors in one Chroma query at most


class _Call:
    __slots__ = ("item", "key", "size", "done", "result", "error")

    def __init__(self, item: Any, key: Hashable, size: int):
        self.item, self.key, self.size = item, key, size
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class Coalescer:
    """`run(items) -> results` called for many threads' items at once.

    The first caller runs its item at once; callers arriving while a run is going on wait, and when it ends one of
    them runs every waiting item with the same key (up to `limit` in total `size`) in one call. Each caller gets its
    own result, or the run's exception.
    """

    def __init__(self, run: Callable[[list], Sequence], limit: int, size: Callable[[Any], int] = lambda _: 1):
        self._run = run
        self._limit = limit
        self._size = size
        self._cond = threading.Condition()
        self._waiting: list[_Call] = []
        self._busy = False
        self.runs = 0  # how many calls `run` got (for tests and benchmarks)

    def __call__(self, item: Any, key: Hashable = None) -> Any:
        me = _Call(item, key, self._size(item))
        with self._cond:
            self._waiting.append(me)
            while True:
                while self._busy and not me.done:
                    self._cond.wait()
                if me.done:
                    break
                batch = self._take(me)
                self._busy = True
                self._cond.release()
                try:
                    results, error = self._run([c.item for c in batch]), None
                except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
                    results, error = [None] * len(batch), exc
                finally:
                    self._cond.acquire()
                    self._busy = False
                for call, result in zip(batch, results):
                    call.result, call.error, call.done = result, error, True
                self.runs += 1
                self._cond.notify_all()
        if me.error is not None:
            raise me.error
        return me.result

    def _take(self, me: _Call) -> list[_Call]:
        """The oldest waiting calls sharing `me`'s key, `me` among them, within the limit (called under the lock)."""
        batch, total = [me], me.size
        for call in self._waiting:
            if call is not me and call.key == me.key and total + call.size <= self._limit:
                batch.append(call)
                total += call.size
        taken = set(map(id, batch))
        self._waiting = [c for c in self._waiting if id(c) not in taken]
        return batch


class BatchedEmbedder:
    """The embedder with concurrent small calls merged; everything else is the embedder's own."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.queries = Coalescer(self._embed_queries, QUERY_BATCH)
        self.documents = Coalescer(self._embed_documents, TEXT_BATCH, size=len)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed_query(self, text: str) -> list[float]:
        return self.queries(text)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) > SMALL_CALL:
            return self.inner.embed_documents(texts)
        return self.documents(list(texts))

    def _embed_queries(self, texts: list[str]) -> list[list[float]]:
        many = getattr(self.inner, "embed_queries", None)
        return many(texts) if many else [self.inner.embed_query(t) for t in texts]

    def _embed_documents(self, groups: list[list[str]]) -> list[list[list[float]]]:
        vectors = self.inner.embed_documents([t for group in groups for t in group])
        out, start = [], 0
        for group in groups:
            out.append(vectors[start : start + len(group)])
            start += len(group)
        return out


class BatchedNeighbours:
    """A Chroma collection whose single-vector queries are merged with those of other threads (same n_results,
    filter and fields); everything else is the collection's own."""

    def __init__(self, inner):
        self.inner = inner
        self.merged = Coalescer(self._query, NEIGHBOUR_BATCH)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def query(self, query_embeddings=None, n_results: int = 10, where=None, include=None, **kwargs):
        if kwargs or query_embeddings is None or len(query_embeddings) != 1:
            return self.inner.query(
                query_embeddings=query_embeddings, n_results=n_results, where=where, include=include, **kwargs
            )
        key = (n_results, repr(where), tuple(include or ()))
        return self.merged((query_embeddings[0], n_results, where, include), key)

    def _query(self, items: list[tuple]) -> list[dict]:
        _, n_results, where, include = items[0]
        got = self.inner.query(
            query_embeddings=[vector for vector, *_ in items], n_results=n_results, where=where, include=include
        )
        # every field Chroma returns (but the names of those included) holds one entry per query vector
        return [
            {k: v if k == "included" or not isinstance(v, list) else [v[i]] for k, v in dict(got).items()}
            for i in range(len(items))
        ]


def batched(store, embedder) -> BatchedEmbedder:
    """Installs the merged nearest-sentence queries on the store and returns the embedder with merged calls."""
    if not isinstance(getattr(store, "sentences", None), BatchedNeighbours):
        store.sentences = BatchedNeighbours(store.sentences)
    return embedder if isinstance(embedder, BatchedEmbedder) else BatchedEmbedder(embedder)
