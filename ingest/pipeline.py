"""Compose load → clean → chunk → embed → upsert, incrementally: unchanged input embeds nothing.

Order of writes per batch (what makes a kill -9 at any point safe to re-run):
0. replace the articles' sentence vectors (SENTENCE_VECTORS, on by default);
1. upsert the new chunks (deterministic ids, so a re-run overwrites rather than duplicates);
2. delete the chunks of the text an article used to have, unless another copy still points at it;
3. write the manifest entries. A copy whose entry is missing is simply processed again next run.

A batch's writes run on one writer thread while the next batch is loaded and embedded (ONNX Runtime and Chroma's
Rust core release the GIL): writes stay in batch order, and anything else that writes waits for them first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from ingest.article import Article, Skip
from ingest.chunking import Chunk, chunk
from ingest.cleaning import CLEANING, clean
from ingest.config import IngestConfig
from ingest.copies import META_FIELDS, Copies, meta_sig, published_ts
from ingest.loaders import Loader, is_url
from ingest.report import Report
from ingest.vectors import as_array, embed_sentences
from vectorstore import bm25index
from vectorstore.sentences import SPLITTER
from vectorstore.store import ArticleStore, Record, chunk_id

# chunks embedded and written together: ~25 articles, so progress (counted as articles are stored) moves every
# few seconds
BATCH_CHUNKS = 128
# a link longer than this is not kept: a feed can hand us a 4 KB URL, which no chat message or browser bar shows
MAX_URL_CHARS = 2048
# Which sentences get a vector (benchmarks/ingest.py measures each rule alone):
# - a sentence the chunk shares with the previous chunk of its article (the chunk overlap) gets none: the previous
#   chunk holds it and is found by it;
# - OVERLAP_WRITES: batch n is written while batch n+1 is embedded.
# - EMBED_DISTINCT: a sentence repeated in a batch (the overlap, boilerplate, wire copies) is embedded once.
SKIP_OVERLAP = True
OVERLAP_WRITES = True
EMBED_DISTINCT = True
__all__ = ["Ingestor", "Report", "ingest", "ingest_items"]


class Ingestor:
    """One ingest run against one store."""

    def __init__(
        self,
        settings: IngestConfig,
        store: ArticleStore,
        embedder,
        on_article: Callable[[Article | Skip, str], None] | None = None,
    ):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        # changing how chunks are cut or embedded makes the next run re-embed every article
        # (the sentence splitter's and the cleaning rules' versions too: they decide what each sentence vector holds)
        self.chunker = (
            f"{settings.chunk_size}/{settings.chunk_overlap}"
            + ("/sentences" if settings.sentence_vectors else "")
            + f"/split{SPLITTER}/clean{CLEANING}"
        )
        self.on_article = on_article or (lambda item, status: None)
        self.report = Report()
        self.copies = Copies(store.records())
        self.by_key, self.by_hash = self.copies.by_key, self.copies.by_hash
        self._pending: list[tuple[Article, list[Chunk], str]] = []  # (article, chunks, status)
        self._pending_dups: list[Article] = []
        self._pending_hashes: set[str] = set()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ingest-writes") if OVERLAP_WRITES else None
        self._inflight: Future | None = None
        self._inflight_hashes: set[str] = set()
        self.seen: set[str] = set()
        self.failed_origins: set[str] = set()

    # --- per article -------------------------------------------------------------------------
    def add(self, item: Article | Skip) -> None:
        if isinstance(item, Skip):
            self.report.skipped.append(item)
            self.failed_origins.add(item.source.split(":", 1)[0] if not is_url(item.source) else item.source)
            self.on_article(item, "skipped")
            return
        article = clean(item)
        if len(article.url) > MAX_URL_CHARS:  # the copy keeps its identity (source_key), only the link goes
            article = article.with_(url="")
        self.seen.add(article.source_key)
        if len(article.text) < 20:
            self._skip(Skip(article.source_key, "no article text left after removing page furniture"))
            return
        h = article.content_hash
        known = self.by_key.get(article.source_key)
        if known and known.content_hash == h and known.meta.get("chunker") == self.chunker:
            if known.meta.get("meta_sig") == meta_sig(article):
                self.report.unchanged += 1
                self.on_article(article, "unchanged")
            else:
                self._drain()
                self._write_records([article])
                self._refresh_chunk_meta(h)
                self.report.updated += 1
                self.on_article(article, "updated")
            return
        if h in self._pending_hashes or h in self._inflight_hashes:
            self._pending_dups.append(article)  # its text is in a batch not yet written: record it after that write
            return
        if self._stored_complete(h):
            self._drain()
            self._add_duplicate(article)
            return
        self._queue(article, "replaced" if known else "ingested")
        if sum(len(c) for _, c, _ in self._pending) >= BATCH_CHUNKS:
            self.flush()

    def _queue(self, article: Article, status: str) -> None:
        """Chunk the article into the pending batch (embedded and written at the next flush)."""
        chunks = chunk(article, self.settings.chunk_size, self.settings.chunk_overlap)
        if not chunks:
            self._skip(Skip(article.source_key, "no article text"))
            return
        self._pending.append((article, chunks, status))
        self._pending_hashes.add(article.content_hash)

    def _skip(self, skip: Skip) -> None:
        self.report.skipped.append(skip)
        self.on_article(skip, "skipped")

    def _stored_complete(self, h: str) -> bool:
        for key in self.by_hash.get(h, ()):
            rec = self.by_key[key]
            if rec.meta.get("chunker") == self.chunker:
                return self.store.has_chunks(h, rec.n_chunks)
        return False

    # --- writes ------------------------------------------------------------------------------
    def flush(self) -> None:
        """Embed the pending batch here and hand its writes to the writer thread (after the previous batch's)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        # the batch's texts stay "pending" through the _drain below: a copy of one of them, recorded there, must
        # wait for this batch's write (it found no stored copy and stopped the ingest with a StopIteration)
        hashes = set(self._pending_hashes)
        chunks = [c for _, cs, _ in batch for c in cs]
        n_chunks = {a.content_hash: len(cs) for a, cs, _ in batch}
        now = time.time()
        ids, docs, metas = [], [], []
        for c in chunks:
            a = c.article
            ids.append(chunk_id(a.content_hash, c.position))
            docs.append(c.text)
            metas.append(
                self._chunk_meta(a, n_chunks[a.content_hash], [a.link] if a.link else [], now)
                | {"position": c.position}
            )
        if self.settings.sentence_vectors:
            vectors, sentences = embed_sentences(self.embedder, chunks, ids, metas, SKIP_OVERLAP, EMBED_DISTINCT)
        else:
            vectors, sentences = as_array(self.embedder, [c.embed_text for c in chunks]), None
        self._drain()  # the previous batch's writes, which ran while this batch was embedded
        self._pending_hashes = {a.content_hash for a, _, _ in self._pending}  # queued during the _drain
        old_texts, records = [], []
        for article, cs, _ in batch:
            old_texts.append(self._drop_old_text(article, deferred=True))
            records.append(self._record(article, len(cs)))
        # one manifest write for the batch: one per article cost ~50 ms each (Chroma commits every write)
        records = list({r.id: r for r in records}.values())
        self._inflight_hashes = hashes

        def write() -> None:
            # a re-embedded article's old sentences go first: its chunks may now split into fewer of them
            self.store.delete_sentences(hashes)
            if sentences is not None:
                self.store.upsert_sentences(*sentences)
            self.store.upsert_chunks(ids, vectors, docs, metas)
            for action in old_texts:
                if action is not None:
                    action()
            self.store.put_records(records)
            for article, cs, status in batch:
                self.report.chunks += len(cs)
                setattr(self.report, status, getattr(self.report, status) + 1)
                self.on_article(article, status)

        if self._writer is None:
            write()
            self._inflight_hashes = set()
            self._flush_dups()
        else:
            self._inflight = self._writer.submit(write)

    def _drain(self) -> None:
        """Wait for the batch being written (re-raising its error), then record the copies that waited for it."""
        if self._inflight is None:
            return
        future, self._inflight = self._inflight, None
        future.result()
        self._inflight_hashes = set()
        self._flush_dups()

    def finish(self) -> None:
        """Write what is pending and wait for every write (a copy recorded last may have queued its own text)."""
        while True:
            self.flush()
            self._drain()
            self._flush_dups()
            if not self._pending:
                return

    def close(self) -> None:
        """Wait for the writer thread (also after an error, so the store is not closed under a write)."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def _flush_dups(self) -> None:
        """Record the copies whose text has been written; those whose text is still pending wait."""
        waiting = self._pending_hashes | self._inflight_hashes
        dups = [a for a in self._pending_dups if a.content_hash not in waiting]
        self._pending_dups = [a for a in self._pending_dups if a.content_hash in waiting]
        for article in dups:
            self._add_duplicate(article)

    def _add_duplicate(self, article: Article) -> None:
        h = article.content_hash
        holder = next(iter(self.by_hash.get(h, ())), None)
        if holder is None:
            # the copy it repeats took a newer text of its own source meanwhile (a page captured twice in one
            # collection), so no copy keeps this text: it is ingested as itself
            self._queue(article, "replaced" if article.source_key in self.by_key else "ingested")
            return
        n = self.by_key[holder].n_chunks
        self._drop_old_text(article)
        self._write_records([article], n_chunks=n)
        self._refresh_chunk_meta(h)
        self.report.duplicates += 1
        self.on_article(article, "duplicate")

    def _chunk_meta(self, a: Article, n_chunks: int, urls: list[str], now: float) -> dict:
        return {
            "article_hash": a.content_hash,
            "n_chunks": n_chunks,
            "title": a.title,
            "outlet": a.outlet,
            "url": a.url,
            "path": a.path,
            "published": a.published,
            "published_ts": published_ts(a),
            "published_from": a.published_from,
            "author": a.author,
            "urls": json.dumps(urls),
            "ingested_at": now,
        }

    def _drop_old_text(self, article: Article, deferred: bool = False):
        """The copy's previous text loses its chunks unless another copy still has that text. The bookkeeping is
        done now; with `deferred` the store write is returned (for the writer thread) instead of made."""
        old = self.by_key.get(article.source_key)
        if not old or old.content_hash == article.content_hash:
            return None
        self.by_hash[old.content_hash].discard(article.source_key)
        action = self.copies.settle(self.store, old.content_hash)
        if deferred:
            return action
        action()
        return None

    def _write_records(self, articles: list[Article], n_chunks: int | None = None) -> None:
        self.store.put_records([self._record(a, n_chunks) for a in articles])

    def _record(self, a: Article, n_chunks: int | None) -> Record:
        """The manifest entry of one copy, noted in by_key/by_hash at once (later articles of the batch see it)."""
        n = n_chunks if n_chunks is not None else self.by_key[a.source_key].n_chunks
        meta = {f: getattr(a, f) for f in META_FIELDS} | {
            "origin": a.origin,
            "chunker": self.chunker,
            "meta_sig": meta_sig(a),
            "published_ts": published_ts(a),
            "ingested_at": self.by_key[a.source_key].meta.get("ingested_at", time.time())
            if a.source_key in self.by_key
            else time.time(),
        }
        rec = Record(a.source_key, a.content_hash, n, meta)
        self.copies.note(rec)
        return rec

    def _refresh_chunk_meta(self, h: str) -> None:
        """Every copy's link on the shared chunks; the earliest copy's title, outlet and date lead."""
        if self.by_hash.get(h):
            self.store.update_chunk_meta(h, *self.copies.lead_meta(h))

    # --- end of run --------------------------------------------------------------------------
    def prune(self, scopes: list[str]) -> None:
        """Forget copies from the given sources that were not seen this run (their file or entry is gone)."""
        self._drain()

        def in_scope(origin: str) -> bool:
            return any(origin == s or (not is_url(s) and origin.startswith(s.rstrip("/") + "/")) for s in scopes)

        gone = [
            r
            for r in list(self.by_key.values())
            if r.source_key not in self.seen
            and in_scope(r.meta.get("origin", ""))
            and r.meta.get("origin") not in self.failed_origins
            and not any(r.meta.get("origin", "").startswith(f) for f in self.failed_origins if f)
        ]
        self.copies.remove(self.store, gone)
        self.report.pruned += len(gone)


def ingest(
    settings: IngestConfig,
    store: ArticleStore,
    sources: Iterable[str],
    embedder=None,
    *,
    prune: bool = False,
    on_article: Callable[[Article | Skip, str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    fetcher=None,
) -> Report:
    """Ingest files, folders and URLs into the store; see Report for what happened.

    on_article(item, status) is called once per article or skip, when it is stored (or found unchanged, or skipped);
    on_total(n) says n more of those calls are coming: first the count of everything known before loading (files of
    a folder, lines of a JSONL file), then each feed's entries once it is fetched."""
    from pathlib import Path

    from ingest.fetch import Fetcher
    from vectorstore.embeddings import build_embedder

    started = time.time()
    sources = list(sources)
    run = Ingestor(settings, store, embedder or build_embedder(store.settings), on_article)
    on_total = on_total or (lambda n: None)
    loader = Loader(
        max_bytes=int(settings.max_file_mb * 1e6),
        fetch_timeout=settings.fetch_timeout,
        fetcher=fetcher or Fetcher.from_settings(settings),
        on_found=on_total,
    )
    try:
        expanded = [list(loader.expand(source)) for source in sources]
        on_total(sum(loader.count(item) if isinstance(item, str) else 1 for items in expanded for item in items))
        scopes = []
        for source, items in zip(sources, expanded):
            scopes.append(source if is_url(source) else str(Path(source).expanduser().resolve()))
            for item in items:
                if isinstance(item, Skip):
                    run.add(item)
                    continue
                for article in loader.load(item):
                    run.add(article.with_(origin=article.origin or item) if isinstance(article, Article) else article)
        run.finish()
        if prune:
            run.prune(scopes)
    finally:
        run.close()
        if fetcher is None:
            loader.fetcher.close()  # the one this call opened (a Telegram /ingest per call)
    run.report.orphans = store.collect_garbage()
    bm25index.update(settings, store)  # so the next process that answers loads it instead of rebuilding it
    run.report.seconds = time.time() - started
    return run.report


def ingest_items(settings: IngestConfig, store: ArticleStore, items: Iterable[Article | Skip], embedder) -> Report:
    """Ingest articles already loaded (following picks a feed's new entries itself), with the same dedupe."""
    started = time.time()
    run = Ingestor(settings, store, embedder)
    try:
        for item in items:
            run.add(item)
        run.finish()
    finally:
        run.close()
    if run.report.wrote:  # a pass over every chunk and a BM25 rebuild: only after writes
        run.report.orphans = store.collect_garbage()
        bm25index.update(settings, store)
    run.report.seconds = time.time() - started
    return run.report
