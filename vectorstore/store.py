"""One collection's articles in Chroma (its chunks, sentence vectors and manifest), and the data home that opens them.

All ingest state lives in Chroma itself, so a Chroma server shared by several processes needs nothing else. A
collection's name maps to Chroma names in vectorstore/collections.py; reaching Chroma is vectorstore/chroma.py.
- `<collection>`: one record per chunk, id `<article hash>-<position>`, deterministic, so re-runs upsert in place;
- `<collection>__sentences`: one vector per sentence of a chunk, id `<chunk id>:<n>` (sentence n of
  `units(chunk text)`), with the chunk's id and the metadata filters use (written before its chunk, so a chunk on
  disk always has its sentences). No text: it is in the chunk, and storing it too made writes ~1.6× slower and the
  store ~1.4× larger (Chroma indexes every document for full-text search);
- `<collection>__articles`: one record per ingested copy of an article (file, URL, JSONL line), naming the
  content hash it points to. A copy is written after its chunks, so a kill -9 leaves at worst chunks that the
  next run rewrites in place or garbage-collects; never a manifest entry for chunks that were never written.

llama-index's IngestionPipeline docstore would do the dedupe bookkeeping, but it lives in a local JSON file
persisted only at the end of a run: a kill -9 loses it and it is not shared in server mode. Hence this manifest.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vectorstore.chroma import (
    DataDirBusy,
    DataDirLock,
    StoreError,
    _ServerGuard,
    _transport_error,
    lost_server,
    open_client,
    server_address,
)
from vectorstore.collections import DEFAULT, MANIFEST_SUFFIX, SENTENCE_SUFFIX, check_name, chroma_name
from vectorstore.config import StoreConfig
from vectorstore.passages import Passage

__all__ = ["ArticleStore", "DataDirBusy", "DataDirLock", "Record", "StoreError", "open_client", "open_store"]

SENTENCE_META = ("article_hash", "outlet", "published_ts", "ingested_at")  # for filters, deletes and GC
# Chunks with no manifest entry are collected only when older than this, so a concurrent writer's chunks
# (written just before its manifest entry) are never taken.
GC_GRACE_SECONDS = 120
# How the sentence collection's HNSW index is built (Chroma's defaults: ef_construction 100, batch_size 100,
# sync_threshold 1000); applies to collections created from now on. Measured in benchmarks/ingest.py.
SENTENCE_HNSW: dict = {}
WRITTEN = "written"  # manifest collection metadata: a token every write to the chunks changes (see version())

log = logging.getLogger(__name__)


@dataclass
class Record:
    """One ingested copy of an article, as the manifest keeps it."""

    source_key: str
    content_hash: str
    n_chunks: int
    meta: dict

    @property
    def id(self) -> str:
        return manifest_id(self.source_key)


def manifest_id(source_key: str) -> str:
    import hashlib

    return hashlib.sha256(source_key.encode("utf-8")).hexdigest()[:32]


def chunk_id(content_hash: str, position: int) -> str:
    return f"{content_hash}-{position:05d}"


def split_chunk_id(cid: str) -> tuple[str, int]:
    h, _, pos = cid.rpartition("-")
    return h, int(pos)


def sentence_id(cid: str, n: int) -> str:
    """Sentence n of `units(chunk text)`: the id names its chunk, so the vector needs no copy of the text."""
    return f"{cid}:{n}"


def split_sentence_id(sid: str) -> tuple[str, int]:
    cid, _, n = sid.rpartition(":")
    return cid, int(n)


class ArticleStore:
    """Chunks and manifest of one collection (settings.collection), and the operations ingest and retrieval need.

    `collection` is the collection's name, `name` its Chroma name."""

    def __init__(self, settings: StoreConfig, client=None, lock: DataDirLock | None = None, create: bool = True):
        self.settings = settings
        self.collection = check_name(settings.collection)
        self.name = chroma_name(self.collection)
        self.client = client if client is not None else open_client(settings)
        self._lock = lock
        if not create and self.collection != DEFAULT and not self._exists():
            # reading a mistyped name must not make an empty collection of it
            raise StoreError(
                f"no collection named {self.collection!r}: `articlebot collections` lists them, and "
                f"`articlebot ingest PATH --collection {self.collection}` makes it"
            )
        from vectorstore.embeddings import embedder_identity, resolve_variant

        # EMBED_VARIANT=auto: embed with the variant this store was built with. Build embedders from store.settings.
        self.settings = settings = resolve_variant(settings, self._recorded_model())
        self.embed_identity = embedder_identity(settings)
        self.chunks = self._open(self.name)
        self.manifest = self._open(self.name + MANIFEST_SUFFIX)
        self.sentences = self._open(self.name + SENTENCE_SUFFIX, SENTENCE_HNSW)
        self._check_model()

    def _recorded_model(self) -> str | None:
        """The embedding identity the chunk collection records, None for a new store."""
        try:
            return (self.client.get_collection(self.name, embedding_function=None).metadata or {}).get("embed_model")
        except Exception:  # not there yet (or the server failed: _open says so next)
            return None

    def _exists(self) -> bool:
        try:
            self.client.get_collection(self.name + MANIFEST_SUFFIX, embedding_function=None)
            return True
        except Exception as exc:  # noqa: BLE001 - Chroma's NotFound differs by version
            if _transport_error(exc) is not None:
                raise StoreError(f"cannot reach the Chroma server: {exc}") from None
            return False

    def _open(self, name: str, hnsw: dict | None = None):
        try:
            collection = self.client.get_or_create_collection(
                name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", **(hnsw or {})}},
                metadata={"embed_model": self.embed_identity},
            )
        except Exception as exc:
            raise StoreError(f"cannot open collection {self.collection!r} ({name}): {exc}") from None
        if self.settings.server_mode:
            return _ServerGuard(collection, server_address(self.settings))
        return collection

    def _check_model(self) -> None:
        recorded = (self.chunks.metadata or {}).get("embed_model")
        if recorded and recorded != self.embed_identity:
            from vectorstore.embeddings import variant_hint

            hint = variant_hint(self.settings, recorded)
            if hint:
                raise StoreError(
                    f"collection {self.collection!r} holds vectors of {recorded!r}, but EMBED_VARIANT={self.settings.embed_variant} "
                    f"embeds {self.embed_identity!r}: {hint}"
                )
            from vectorstore.config import DEFAULT_EMBED_MODEL

            model = DEFAULT_EMBED_MODEL if recorded.startswith(DEFAULT_EMBED_MODEL + "+") else recorded
            raise StoreError(
                f"collection {self.collection!r} was built with embedding model {recorded!r}, but EMBED_MODEL is "
                f"{self.settings.embed_model!r}. Vectors of two models cannot be mixed: set EMBED_MODEL={model} "
                f"or use another collection (--collection NAME / ARTICLEBOT_COLLECTION)."
            )

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # --- manifest ----------------------------------------------------------------------------
    def records(self, where: dict | None = None) -> list[Record]:
        got = self.manifest.get(where=where, include=["metadatas"])
        out = []
        for meta in got["metadatas"] or []:
            meta = dict(meta)
            out.append(Record(meta.pop("source_key"), meta.pop("content_hash"), int(meta.pop("n_chunks")), meta))
        return out

    def put_records(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self.manifest.upsert(
            ids=[r.id for r in records],
            embeddings=[[1.0] for _ in records],  # the manifest is looked up by id and metadata only
            documents=[r.source_key for r in records],
            metadatas=[
                {**r.meta, "source_key": r.source_key, "content_hash": r.content_hash, "n_chunks": r.n_chunks}
                for r in records
            ],
        )

    def delete_records(self, source_keys: Iterable[str]) -> None:
        ids = [manifest_id(k) for k in source_keys]
        if ids:
            self.manifest.delete(ids=ids)

    # --- chunks ------------------------------------------------------------------------------
    def has_chunks(self, content_hash: str, n_chunks: int) -> bool:
        if n_chunks == 0:
            return True
        got = self.chunks.get(ids=[chunk_id(content_hash, i) for i in range(n_chunks)], include=[])
        return len(got["ids"]) == n_chunks

    def upsert_chunks(self, ids: list[str], embeddings, documents: list[str], metadatas: list[dict]) -> None:
        _upsert(self.chunks, ids, embeddings, documents, metadatas)
        self._written()

    def upsert_sentences(self, ids: list[str], embeddings, metadatas: list[dict]) -> None:
        """embeddings: a list of vectors or a 2-d numpy array."""
        _upsert(self.sentences, ids, embeddings, None, metadatas)

    def update_chunk_meta(self, content_hash: str, n_chunks: int, meta: dict) -> None:
        ids = [chunk_id(content_hash, i) for i in range(n_chunks)]
        present = self.chunks.get(ids=ids, include=["metadatas"])
        if not present["ids"]:
            return
        self.chunks.update(ids=present["ids"], metadatas=[{**m, **meta} for m in present["metadatas"]])
        self._written()
        shared = {k: meta[k] for k in SENTENCE_META if k in meta}
        if not shared:
            return
        sents = self.sentences.get(where={"article_hash": content_hash}, include=["metadatas"])
        if sents["ids"]:
            self.sentences.update(ids=sents["ids"], metadatas=[{**m, **shared} for m in sents["metadatas"]])

    def delete_article_chunks(self, content_hash: str) -> None:
        self.delete_texts([content_hash])

    def delete_texts(self, content_hashes: Iterable[str]) -> None:
        """Every chunk and sentence vector of these texts. Sentences first: a kill between the two leaves a chunk
        without sentences (found by BM25, deleted by a re-run), never sentences that point at no chunk."""
        hashes = sorted(set(content_hashes))
        for start in range(0, len(hashes), 500):  # a bounded `$in` per call
            self.delete_sentences(hashes[start : start + 500])
        for start in range(0, len(hashes), 500):
            self.chunks.delete(where={"article_hash": {"$in": hashes[start : start + 500]}})
        if hashes:
            self._written()

    def delete_sentences(self, content_hashes: Iterable[str]) -> None:
        self.sentences.delete(where={"article_hash": {"$in": sorted(set(content_hashes))}})

    def collect_garbage(self, grace_seconds: float = GC_GRACE_SECONDS) -> int:
        """Delete chunks no manifest entry accounts for (left by a kill or a changed chunking)."""
        wanted: dict[str, int] = defaultdict(int)
        for r in self.records():
            wanted[r.content_hash] = max(wanted[r.content_hash], r.n_chunks)
        got = self.chunks.get(include=["metadatas"])
        now = time.time()
        orphans = []
        for cid, meta in zip(got["ids"], got["metadatas"]):
            h, pos = split_chunk_id(cid)
            if pos < wanted.get(h, 0):
                continue
            if now - float(meta.get("ingested_at", 0)) < grace_seconds and h not in wanted:
                continue  # maybe a concurrent ingest between writing chunks and its manifest entry
            orphans.append(cid)
        if orphans:
            _delete(self.chunks, orphans)
            self._written()
        self._collect_sentences(set(got["ids"]) - set(orphans), grace_seconds)
        return len(orphans)

    def _collect_sentences(self, chunk_ids: set[str], grace_seconds: float) -> None:
        """Sentences whose chunk is gone (a kill between the two writes, or a pruned chunk); a sentence id names its
        chunk, so only the suspects' metadata is read."""
        suspects = [sid for sid in self.sentences.get(include=[])["ids"] if split_sentence_id(sid)[0] not in chunk_ids]
        if not suspects:
            return
        now = time.time()
        got = self.sentences.get(ids=suspects, include=["metadatas"])
        stale = [
            sid
            for sid, meta in zip(got["ids"], got["metadatas"])
            if now - float(meta.get("ingested_at", 0)) >= grace_seconds
        ]
        _delete(self.sentences, stale)

    def count(self) -> int:
        return self.chunks.count()

    def _written(self) -> None:
        """Record that the chunks changed: every process's BM25 index (this one's, a bot's beside a Chroma server)
        compares version() with the one it mirrors. Counts alone miss a replaced article of the same length."""
        self.manifest.modify(metadata={**self._manifest_meta(), WRITTEN: uuid.uuid4().hex})

    def _manifest_meta(self) -> dict:
        try:  # re-read: the collection object keeps the metadata it was opened with
            return dict(self.client.get_collection(self.manifest.name, embedding_function=None).metadata or {})
        except Exception as exc:
            lost = _transport_error(exc) or (exc if isinstance(exc, ConnectionError) else None)
            if self.settings.server_mode and lost is not None:  # a kill can land on this read, not only on a write
                raise lost_server(server_address(self.settings), lost) from None
            raise StoreError(f"cannot read collection {self.manifest.name!r}: {exc}") from None

    def version(self) -> tuple[int, int, str]:
        """Changes when an ingest (this process or another, via a Chroma server) adds, replaces or prunes chunks or
        changes their metadata: two counts and one collection lookup, cheap enough to check every few seconds."""
        return self.chunks.count(), self.manifest.count(), str(self._manifest_meta().get(WRITTEN, ""))

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict]]:
        """Text and metadata of the given chunks (those that exist), by id."""
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        return {cid: (doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}

    def all_chunks(self, documents: bool = True) -> tuple[list[str], list[str], list[dict]]:
        """Every chunk's id, text (unless not asked for) and metadata (for BM25, near-duplicates and forget)."""
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict] = []
        total = self.chunks.count()
        for offset in range(0, total, 5000):
            got = self.chunks.get(
                include=["documents", "metadatas"] if documents else ["metadatas"], limit=5000, offset=offset
            )
            ids += got["ids"]
            docs += got["documents"] or []
            metas += got["metadatas"]
        return ids, docs, metas

    def sentence_count(self) -> int:
        return self.sentences.count()

    # --- retrieval ---------------------------------------------------------------------------
    def query_sentences(self, vector: list[float], k: int, where: dict | None = None) -> dict[str, float]:
        """The chunks whose sentences are nearest the vector, each scored by its nearest sentence."""
        # ids and distances only: the chunk is in the sentence's id, and leaving metadata out makes the query
        # ~3x faster (300 results; more again over HTTP). An empty collection answers with empty lists: no count()
        # round trip on every question.
        got = self.sentences.query(query_embeddings=[vector], n_results=k, where=where or None, include=["distances"])
        best: dict[str, float] = {}
        for sid, dist in zip(got["ids"][0], got["distances"][0]):
            cid = split_sentence_id(sid)[0]
            best[cid] = max(best.get(cid, -1.0), 1.0 - dist)
        return best

    def query_chunks_by_id(self, vector: list[float], k: int, ids: list[str]) -> dict[str, float]:
        """Chunk vectors' similarity to the vector, searched among `ids` only (vectorstore/prefilter.narrow)."""
        if not ids:
            return {}
        got = self.chunks.query(query_embeddings=[vector], n_results=min(k, len(ids)), ids=ids, include=["distances"])
        return {cid: 1.0 - dist for cid, dist in zip(got["ids"][0], got["distances"][0])}

    def query(self, vector: list[float], k: int, where: dict | None = None) -> list[Passage]:
        got = self.chunks.query(
            query_embeddings=[vector], n_results=k, where=where or None, include=["documents", "metadatas", "distances"]
        )
        return [
            Passage.from_chroma(cid, doc, meta, 1.0 - dist)
            for cid, doc, meta, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]
            )
        ]


def _delete(collection, ids: list[str]) -> None:
    for start in range(0, len(ids), 1000):  # Chroma caps a write's batch size
        collection.delete(ids=ids[start : start + 1000])


def _upsert(
    collection, ids: list[str], embeddings: list[list[float]], documents: list[str] | None, metadatas: list[dict]
) -> None:
    for start in range(0, len(ids), 1000):  # Chroma caps a write's batch size
        end = start + 1000
        collection.upsert(
            ids=ids[start:end],
            embeddings=embeddings[start:end],
            documents=documents[start:end] if documents is not None else None,
            metadatas=metadatas[start:end],
        )


def open_store(settings: StoreConfig, create: bool = True) -> ArticleStore:
    """Open the configured collection (made when new, unless not `create`: then StoreError, except for the default,
    which is always there); embedded mode takes the data dir's lock first (closing the store drops it)."""
    from vectorstore.collections import StoreHome

    home = StoreHome(settings)
    try:
        return home.open(settings.collection, lock=home.take_lock(), create=create)
    except BaseException:
        home.close()
        raise
