"""Ingest: every source type, cleaning, bad input, and incremental, idempotent re-runs."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import EXAMPLES, SHARED, make_pdf
from ingest.pipeline import ingest
from vectorstore.store import split_chunk_id, split_sentence_id


def _titles(store):
    return sorted(r.meta["title"] for r in store.records())


def _chunk_texts(store):
    return store.chunks.get(include=["documents"])["documents"]


def _sentence_texts(store):
    """Each stored sentence vector's text, found through its id (`<chunk id>:<n>`: sentence n of its chunk)."""
    from vectorstore.sentences import units

    chunks = store.chunks.get(include=["documents"])
    text_of = dict(zip(chunks["ids"], chunks["documents"]))
    out = []
    for sid in store.sentences.get(include=[])["ids"]:
        cid, n = split_sentence_id(sid)
        assert cid in text_of, f"sentence {sid} outlived its chunk"
        out.append(units(text_of[cid])[n])
    return out


def test_example_folder_ingests_every_format_with_metadata(settings, store, counting):
    report = ingest(settings, store, [str(EXAMPLES)], counting)
    assert report.skipped == []
    assert report.ingested == 5 and report.duplicates == 1
    by_title = {r.meta["title"]: r.meta for r in store.records()}
    html = by_title["Central Bank of Examplia raises key rate to 4.5%"]
    assert html["outlet"] == "The Daily Quill"
    assert html["published"] == "2025-03-20" and html["published_from"] == "article"
    assert html["author"] == "Tomas Verhoef"
    md = by_title["Lantern Bridge reopens to traffic after two-year repair"]
    # its own date line ("The Harbor City Gazette (fictional) — 14 March 2025") beats the file's time
    assert md["published"] == "2025-03-14" and md["published_from"] == "article"
    assert md["path"].endswith("lantern-bridge-reopens.md")
    festival = by_title["Record crowds at the Harbor City Lantern Festival"]
    assert festival["published_from"] == "file-time"  # no date in its text: the file's time, marked as such
    chess = by_title["Examplia's Runa Halvorsen wins world junior chess title"]
    assert chess["published"] == "2025-03-22" and chess["url"].startswith("https://northwind-wire.example/")
    text = " ".join(_chunk_texts(store))
    for boilerplate in ("Accept all cookies", "Leave a Reply", "Share on Facebook", "Log in", "Connecting to %s"):
        assert boilerplate not in text
    assert "Governor Mira Quell" in text and "Pell Amundsen" in text


def test_rerun_on_unchanged_input_embeds_nothing_and_says_so(settings, store, counting):
    ingest(settings, store, [str(EXAMPLES)], counting)
    first, count = counting.embedded, store.count()
    report = ingest(settings, store, [str(EXAMPLES)], counting)
    assert counting.embedded == first
    assert store.count() == count
    assert report.unchanged == 6 and report.ingested == 0
    assert "Nothing changed" in report.summary()


def test_wire_story_under_two_urls_is_stored_once_with_both_urls(settings, store, counting):
    ingest(settings, store, [str(EXAMPLES / "wire-stories.jsonl")], counting)
    ferry = [m for m in store.chunks.get(include=["metadatas"])["metadatas"] if "Glacier" in m["title"]]
    n_chunks = ferry[0]["n_chunks"]
    assert len(ferry) == n_chunks  # one stored copy, not two
    urls = json.loads(ferry[0]["urls"])
    assert urls == ["https://northwind-wire.example/2025/03/21/glacier-lake-ferry",
                    "https://valley-courier.example/news/glacier-lake-ferry-returns"]


def test_changed_article_has_its_old_chunks_replaced(settings, store, counting, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    article = src / "story.txt"
    article.write_text("Harbor council votes on budget\n\nThe harbor council approved a budget of 3 million crowns "
                       "for new street lights on Tuesday evening after a long debate.")
    ingest(settings, store, [str(src)], counting)
    article.write_text("Harbor council votes on budget\n\nThe harbor council rejected the street light budget on "
                       "Tuesday evening, sending it back to committee for a cheaper plan.")
    report = ingest(settings, store, [str(src)], counting)
    assert report.replaced == 1
    text = " ".join(_chunk_texts(store))
    assert "rejected" in text and "approved" not in text
    sentences = " ".join(_sentence_texts(store))
    assert "rejected" in sentences and "approved" not in sentences
    assert len(store.records()) == 1


def test_prune_removes_articles_whose_file_disappeared(settings, store, counting, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES, src)
    ingest(settings, store, [str(src)], counting)
    (src / "lantern-festival.txt").unlink()
    kept = ingest(settings, store, [str(src)], counting)
    assert kept.pruned == 0 and any("Festival" in t for t in _titles(store))
    report = ingest(settings, store, [str(src)], counting, prune=True)
    assert report.pruned == 1
    assert not any("Festival" in t for t in _titles(store))
    assert "210,000" not in " ".join(_chunk_texts(store))
    assert "210,000" not in " ".join(_sentence_texts(store))


@pytest.mark.slow
def test_every_sentence_has_its_own_vector_unless_the_previous_chunk_of_its_article_holds_it(tmp_path):
    """Sentence n of a chunk is stored as `<chunk id>:<n>` with that sentence's fp32 vector and its chunk's filters;
    a sentence the chunk shares with the previous chunk (the chunk overlap) has no vector of its own; each distinct
    sentence is embedded once."""
    import numpy as np

    from bot.settings import Settings
    from conftest import CountingEmbedder
    from vectorstore.embeddings import build_embedder
    from vectorstore.sentences import units
    from vectorstore.store import open_store

    # small overlapping chunks, so articles have several and the overlap holds whole sentences
    settings = Settings(data_dir=tmp_path / "fp32", embed_variant="fp32", chunk_size=80, chunk_overlap=40)
    store = open_store(settings)
    fp32 = build_embedder(store.settings)
    counting = CountingEmbedder(fp32)
    try:
        ingest(settings, store, [str(EXAMPLES)], counting)
        chunks = store.chunks.get(include=["documents", "metadatas"])
        sents = store.sentences.get(include=["embeddings", "metadatas"])
    finally:
        store.close()
    by_chunk: dict[str, dict[int, list[float]]] = {}
    for sid, vector, meta in zip(sents["ids"], sents["embeddings"], sents["metadatas"]):
        cid, n = split_sentence_id(sid)
        assert cid == meta["chunk"]
        by_chunk.setdefault(cid, {})[n] = vector
    text_of = dict(zip(chunks["ids"], chunks["documents"]))
    skipped = 0
    for cid, text, meta in zip(chunks["ids"], chunks["documents"], chunks["metadatas"]):
        h, pos = split_chunk_id(cid)
        before = set(units(text_of[f"{h}-{pos - 1:05d}"])) if pos else set()
        texts = units(text)
        want = [n for n, t in enumerate(texts) if t not in before]
        skipped += len(texts) - len(want)
        assert sorted(by_chunk.get(cid, {})) == want, cid
        if want:
            expected = np.asarray(fp32.embed_documents([texts[n] for n in want]))
            got = np.asarray([by_chunk[cid][n] for n in want])
            assert np.allclose(got, expected, atol=1e-4)
            sample = store_meta = next(m for s, m in zip(sents["ids"], sents["metadatas"]) if m["chunk"] == cid)
            assert (store_meta["outlet"], sample["published_ts"]) == (meta["outlet"], meta["published_ts"])
    assert skipped > 0  # the overlap did hold whole sentences
    distinct = {t for text in chunks["documents"] for t in units(text)}
    assert counting.embedded == len(distinct)  # one batch here: each distinct sentence once, chunks not at all
    assert sents["documents"] is None or sents["documents"] == [None] * len(sents["ids"])  # text is in the chunk


def test_a_store_without_sentence_vectors_is_upgraded_by_the_next_ingest(settings, store, counting):
    from vectorstore.retrieval import Retriever

    plain = settings.model_copy(update={"sentence_vectors": False})
    ingest(plain, store, [str(EXAMPLES)], counting)
    assert store.sentence_count() == 0 and store.count() > 0
    older = Retriever(settings, store, counting)  # what a bot sees on a store from before sentence vectors
    assert not older.index().by_sentence
    assert older.search("Who won the world junior chess title?")[0].title.startswith("Examplia's Runa Halvorsen")
    report = ingest(settings, store, [str(EXAMPLES)], counting)
    assert report.replaced == 5 and store.sentence_count() > 0
    assert Retriever(settings, store, counting).index().by_sentence
    before = counting.embedded
    assert ingest(settings, store, [str(EXAMPLES)], counting).unchanged == 6 and counting.embedded == before


def test_chunk_ids_are_deterministic_and_carry_article_and_position(settings, store, counting):
    ingest(settings, store, [str(EXAMPLES)], counting)
    got = store.chunks.get(include=["metadatas"])
    for cid, meta in zip(got["ids"], got["metadatas"]):
        h, pos = split_chunk_id(cid)
        assert h == meta["article_hash"] and pos == meta["position"]
        assert meta["title"]


def test_shared_sample_keeps_the_article_and_drops_the_comment_form(settings, store, counting, tmp_path):
    sample = SHARED / "samples" / "us-airstrikes-iraq-syria.txt"
    if not sample.exists():
        pytest.skip("shared sample not present")
    ingest(settings, store, [str(sample)], counting)
    text = "\n".join(_chunk_texts(store))
    for gone in ("Leave a Reply", "Log Out", "Connecting to %s", "Akismet", "commenting using"):
        assert gone not in text
    original = sample.read_text(encoding="utf-8")
    body_end = original.index("Leave a Reply")
    # every paragraph of the article body survives
    for paragraph in original[:body_end].split("\n\n")[1:]:
        if paragraph.strip():
            assert paragraph.strip().split("\n")[0][:60] in text


def test_legacy_encodings_are_decoded_not_skipped(settings, store, counting, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "cp1252.txt").write_bytes("Café owners protest\n\nThe café owners of Åsgard Street said the “new rules” "
                                     "would ruin their summer – a déjà vu of 2019.".encode("cp1252"))
    (src / "latin1.txt").write_bytes("Zoë wins the regatta\n\nZoë Brænne won the Kettlevik regatta for the third "
                                     "time, beating boats from Köln and Malmö.".encode("latin-1"))
    report = ingest(settings, store, [str(src)], counting)
    assert report.ingested == 2 and not report.skipped
    text = " ".join(_chunk_texts(store))
    assert "“new rules”" in text and "déjà vu" in text and "Zoë Brænne" in text and "Malmö" in text


def test_bad_input_is_reported_one_line_each_and_the_rest_ingested(settings, store, counting, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(EXAMPLES / "lantern-bridge-reopens.md", src)
    (src / "empty.txt").write_text("")
    (src / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10)
    with open(src / "huge.txt", "wb") as fh:
        fh.truncate(21_000_000)
    (src / "broken.html").write_text("<html><body><div><script>var x = 1;</script>")
    (src / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (src / "photo.png").write_bytes(b"\x89PNG")
    lines = (EXAMPLES / "wire-stories.jsonl").read_text().splitlines()
    (src / "feed.jsonl").write_text("\n".join([lines[0], '{"title": "cut off", "text": "no end', lines[2]]) + "\n")
    report = ingest(settings, store, [str(src), str(tmp_path / "missing-folder")], counting)
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["image.txt"] == "binary file, not text"
    assert reasons["huge.txt"].startswith("too large")
    assert "no article text" in reasons["broken.html"]
    assert "PDF" in reasons["broken.pdf"]
    assert "unsupported file type" in reasons["photo.png"]
    assert "malformed JSON line" in reasons["feed.jsonl:2"]
    assert reasons["missing-folder"] == "no such file or folder"
    assert report.ingested == 3  # the markdown file and both good JSONL lines
    assert len(report.skipped) == 8
    assert "Skipped:" in report.summary() and "huge.txt: too large" in report.summary()


def test_pdf_text_and_title_are_extracted(settings, store, counting, tmp_path):
    pdf = tmp_path / "council.pdf"
    make_pdf(pdf, "Kettlevik council minutes", [
        "The Kettlevik town council met on 3 February and agreed to build a new harbour crane.",
        "Councillor Bodil Aas said the crane would be ready before the fishing season opens in June."])
    report = ingest(settings, store, [str(pdf)], counting)
    assert report.ingested == 1, report.summary()
    assert _titles(store) == ["Kettlevik council minutes"]
    assert "Bodil Aas" in " ".join(_chunk_texts(store))


def test_pages_and_feeds_are_fetched_over_http(settings, store, counting, http_dir):
    root, base = http_dir
    shutil.copy(EXAMPLES / "central-bank-rates.html", root / "rates.html")
    (root / "festival.html").write_text(
        "<html><head><title>Lantern parade route announced</title></head><body><article>"
        "<h1>Lantern parade route announced</h1><p>The Lantern Festival parade will start at the fish market and end "
        "at the Lantern Bridge, organiser Pell Amundsen said on Tuesday, adding that the route is two kilometres long."
        "</p><p>Road closures begin at 6 p.m.</p></article></body></html>")
    (root / "feed.xml").write_text(f"""<?xml version="1.0"?><rss version="2.0"><channel>
<title>Harbor City Gazette (fictional)</title><link>{base}/</link><description>news</description>
<item><title>Lantern parade route announced</title><link>{base}/festival.html</link>
<pubDate>Tue, 18 Mar 2025 10:00:00 GMT</pubDate></item>
<item><title>Gone story</title><link>{base}/missing.html</link><pubDate>Tue, 18 Mar 2025 11:00:00 GMT</pubDate></item>
</channel></rss>""")
    settings = settings.model_copy(update={"allow_private_urls": True})  # the test server is on loopback
    report = ingest(settings, store, [f"{base}/rates.html", f"{base}/feed.xml", "http://127.0.0.1:9/nothing"], counting)
    assert report.ingested == 2, report.summary()
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons[f"{base}/missing.html"] == "unreachable (HTTP 404)"
    assert reasons["http://127.0.0.1:9/nothing"].startswith("unreachable")
    meta = {r.meta["title"]: r.meta for r in store.records()}
    parade = meta["Lantern parade route announced"]
    assert parade["outlet"] == "Harbor City Gazette (fictional)"
    assert parade["published"] == "2025-03-18" and parade["url"] == f"{base}/festival.html"
    assert meta["Central Bank of Examplia raises key rate to 4.5%"]["url"] == f"{base}/rates.html"


def test_store_refuses_to_mix_embedding_models(settings, store, counting):
    from bot.settings import Settings
    from vectorstore.store import ArticleStore, StoreError

    ingest(settings, store, [str(EXAMPLES / "lantern-festival.txt")], counting)
    other = Settings(data_dir=settings.data_dir, embed_model="openai:text-embedding-3-small")
    with pytest.raises(StoreError, match=r"built with embedding model 'all-MiniLM-L6-v2\+int8'.*"
                                         r"set EMBED_MODEL=all-MiniLM-L6-v2 or"):
        ArticleStore(other, client=store.client)


def test_embedded_store_is_locked_against_a_second_process(settings, store):
    from vectorstore.store import StoreError, open_store

    with pytest.raises(StoreError, match="in use by another articlebot process.*CHROMA_HOST"):
        open_store(settings)


def test_writes_overlap_embedding_yet_a_copy_of_a_text_still_being_written_is_kept_as_a_duplicate(
        settings, store, counting, tmp_path, monkeypatch):
    """Batch n is written on the writer thread while batch n+1 is embedded; a copy of a text whose batch is still
    being written waits for that write and becomes an extra link, never a second embedding."""
    import ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "BATCH_CHUNKS", 1)  # every article its own batch
    rows = [json.loads(line) for line in (EXAMPLES / "wire-stories.jsonl").read_text().splitlines()]
    copy = {**rows[0], "id": "copy", "url": "https://mirror.example/ferry"}
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [rows[0], copy, *rows[1:]]))
    threads = set()
    upsert = store.upsert_chunks

    def recording(*args, **kwargs):
        import threading

        threads.add(threading.current_thread().name)
        return upsert(*args, **kwargs)

    monkeypatch.setattr(store, "upsert_chunks", recording)
    report = ingest(settings, store, [str(src)], counting)
    texts = len({r["text"] for r in rows})
    assert (report.ingested, report.duplicates) == (texts, len(rows) + 1 - texts)
    assert all(name.startswith("ingest-writes") for name in threads)
    links = {len(json.loads(m["urls"])) for m in store.chunks.get(include=["metadatas"])["metadatas"]
             if m["article_hash"] == store.records()[0].content_hash}
    by_source = {r.source_key: r.content_hash for r in store.records()}
    assert len(by_source) == len(rows) + 1 and len(set(by_source.values())) == texts
    assert max(links) >= 2  # the copies' links on the shared chunks
    again = ingest(settings, store, [str(src)], counting)
    assert again.unchanged == len(rows) + 1 and again.chunks == 0


def test_a_failed_write_on_the_writer_thread_fails_the_ingest(settings, store, counting, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "upsert_chunks", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(settings, store, [str(EXAMPLES)], counting)
    assert store.records() == []  # no manifest entry for chunks never written


def test_ingest_closes_the_fetcher_it_opened(settings, store, counting, monkeypatch):
    from ingest.fetch import Fetcher

    closed = []
    monkeypatch.setattr(Fetcher, "close", lambda self: closed.append(self))
    ingest(settings, store, [str(EXAMPLES / "lantern-festival.txt")], counting)
    assert len(closed) == 1
    mine = Fetcher.from_settings(settings)
    ingest(settings, store, [str(EXAMPLES / "lantern-festival.txt")], counting, fetcher=mine)
    assert len(closed) == 1  # a fetcher passed in belongs to the caller


def test_a_teaser_glued_to_a_question_label_is_dropped_and_never_quoted():
    """Seen in a real reply: "Who is the next speaker?:Kevin McCarthy was once rejected for a House internship."
    (a link to another story, its label a question) was quoted as if it were a statement of the article."""
    from ingest.cleaning import clean_text
    from vectorstore.sentences import quotable

    teaser = "Who runs the harbour now?:Mayor Elin Voss was once turned down for a ferry job."
    text = clean_text(f"The harbour reopened on Monday.\n{teaser}\nTraffic was light.")
    assert teaser not in text and "Mayor Elin Voss" not in text
    assert "The harbour reopened on Monday." in text and "Traffic was light." in text
    assert not quotable(teaser)  # stores ingested before the rule still hold it
    assert quotable("Mayor Elin Voss said the harbour reopened on Monday.")


def test_a_copy_whose_original_was_replaced_in_the_same_run_is_ingested_as_itself(settings, store, counting, tmp_path):
    """A page captured twice in one collection (the training files have such): its first text, a copy of that text
    under another link, then the page's newer text. The copy waited for the first text to be written; by then the
    page had moved on, so no stored text was left to point to and the ingest stopped with a StopIteration."""
    rows = [json.loads(line) for line in (EXAMPLES / "wire-stories.jsonl").read_text().splitlines()]
    first = {**rows[0], "id": "page", "url": "https://wire.example/live"}
    copy = {**rows[0], "id": "mirror", "url": "https://mirror.example/live"}
    newer = {**rows[2], "id": "page", "url": "https://wire.example/live"}
    src = tmp_path / "captures.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [first, copy, newer]))
    report = ingest(settings, store, [str(src)], counting)
    assert not report.skipped
    by_source = {r.source_key: r.content_hash for r in store.records()}
    assert len(by_source) == 2 and len(set(by_source.values())) == 2  # the page's newer text, the mirror's old one
    stored = {m["article_hash"] for m in store.chunks.get(include=["metadatas"])["metadatas"]}
    assert stored == set(by_source.values())  # every copy's text has its chunks
    ingest(settings, store, [str(src)], counting)  # the page's two texts are replayed in order: the newer stays
    assert {r.source_key: r.content_hash for r in store.records()} == by_source


def test_a_copy_of_a_text_in_the_batch_being_flushed_waits_for_its_write(settings, store, counting, tmp_path,
                                                                         monkeypatch):
    """A copy that arrives while its text is still in the pending batch, and that batch is flushed while the
    previous one is being written: the copy is recorded after its text's write. It used to be recorded during the
    flush, found no stored copy, and a 5,154-article training file stopped with a StopIteration."""
    import ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "BATCH_CHUNKS", 2)
    texts = [f"Story {i}: the Examplia council met on day {i} and decided about {w} in a long debate." for i, w in
             enumerate(["ferries", "bridges", "libraries", "parks", "roads", "schools"])]
    rows = [{"id": f"s{i}", "url": f"https://wire.example/{i}", "title": f"Story {i}", "text": t}
            for i, t in enumerate(texts)]
    copy = {**rows[2], "id": "copy", "url": "https://mirror.example/2"}
    src = tmp_path / "batches.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [*rows[:3], copy, *rows[3:]]))
    report = ingest(settings, store, [str(src)], counting)
    assert (report.ingested, report.duplicates, report.skipped) == (6, 1, [])
    stored = {m["article_hash"] for m in store.chunks.get(include=["metadatas"])["metadatas"]}
    assert stored == {r.content_hash for r in store.records()} and len(stored) == 6
