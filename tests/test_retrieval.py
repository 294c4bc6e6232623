"""The hybrid retriever on small fictional articles: both sides count, near-duplicates collapse, time matters."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from ingest.pipeline import ingest

FILLER = ("Residents gathered in the square and officials answered questions from reporters for most of the "
          "afternoon, while traffic moved slowly through the old town. ")


def article(title, text, published, source="The Harbor City Gazette", url=None):
    return {"title": title, "text": text, "published": published, "source": source,
            "url": url or f"https://gazette.example/{title.lower().replace(' ', '-')[:40]}"}


FERRY = ("The Harbor City ferry service will add a night crossing to Gullholm from April, the transport office said "
         "on Monday. The new sailing leaves the north pier at 23:40 and returns at 00:55. ") + FILLER * 2

ARTICLES = [
    # a code name only BM25 can match: its letters mean nothing to the embedding model
    article("Port authority orders new tugboat",
            "The port authority ordered a tugboat from Kessel Yards under contract QX-7731-B, worth 9 million "
            "crowns, to replace the ageing Saltfinch. " + FILLER * 2, "2025-03-10"),
    article("Ferry adds night crossing", FERRY, "2025-03-17", "The Harbor City Gazette", "https://gazette.example/ferry"),
    # the same wire story, lightly edited by another outlet: a near-duplicate, not an exact one
    article("Harbor ferry to run at night", FERRY.replace("the transport office said on Monday",
                                                          "the city's transport office said Monday"),
            "2025-03-17", "Coastal Wire", "https://wire.example/ferry-night"),
    article("Ferry timetable cut for winter", "The Harbor City ferry service will run fewer crossings to Gullholm "
            "over the winter, the transport office said, citing low demand. " + FILLER * 2, "2024-11-02"),
    article("Ferry fares frozen for next year", "The Harbor City ferry service said its fares to Gullholm will not "
            "rise next year, the transport office announced. " + FILLER * 2, "2025-04-20"),
    # one long article: a fact in its middle, headline facts around it
    article("Council budget approved", " ".join(
        [f"Item {i}: the council discussed the budget line for district {i} and agreed on it after a short debate."
         for i in range(1, 30)] + ["The council set aside 4.2 million crowns for the Gullholm lighthouse repair."]
        + [f"Item {i}: district {i} funds were confirmed by a vote of the full council on Tuesday evening."
           for i in range(30, 60)]), "2025-03-12", "Harbor Council News"),
]


@pytest.fixture
def settings(settings):
    # small chunks, so that widening a hit with its neighbours (up to 512 tokens) has something to do
    return settings.model_copy(update={"chunk_size": 128, "chunk_overlap": 16})


@pytest.fixture
def retriever(settings, store, embedder, tmp_path):
    from vectorstore.retrieval import Retriever

    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES))
    ingest(settings, store, [str(path)], embedder)
    return Retriever(settings, store, embedder)


def search(retriever, query, k=5, **filters):
    from vectorstore.retrieval import Filters

    filters.setdefault("as_of", datetime(2025, 3, 20))
    return retriever.search(query, k, Filters(**filters))


def test_exact_codes_are_found_through_the_bm25_side(retriever):
    top = search(retriever, "Which contract is QX-7731-B?")[0]
    assert top.title == "Port authority orders new tugboat"
    idx = retriever.index()
    (row, _), = idx.bm25_search("QX-7731-B", 1)
    assert idx.metas[row]["title"] == "Port authority orders new tugboat"


def test_near_duplicate_wire_copies_collapse_into_one_result(retriever):
    hits = search(retriever, "night ferry crossing to Gullholm", k=5)
    titles = [p.title for p in hits]
    copies = {"Ferry adds night crossing", "Harbor ferry to run at night"}
    assert len(copies & set(titles)) == 1, titles
    assert len({p.article_hash for p in hits}) == len(hits)  # and one passage per article


def test_recent_articles_rank_first_and_future_ones_are_pushed_down(retriever):
    latest = search(retriever, "What is the latest news about the Gullholm ferry?", k=5)
    assert latest[0].published == "2025-03-17"
    published = [p.published for p in latest]
    assert "2025-04-20" not in published[:2]  # after as_of: not news yet "as of" March 20
    fares = "Ferry fares frozen for next year"
    question = "Will Gullholm ferry fares rise next year?"
    assert [p.title for p in search(retriever, question, as_of=datetime(2025, 4, 25))][0] == fares
    march = [p.title for p in search(retriever, question, k=6)]
    assert fares not in march[:1]  # the best match, but published after as_of
    later = search(retriever, "What is the latest news about the Gullholm ferry?", k=5, as_of=datetime(2025, 4, 25))
    assert later[0].published == "2025-04-20"


def test_outlet_and_date_filters_apply_to_both_sides(retriever):
    from datetime import date

    hits = search(retriever, "Gullholm ferry", outlet="Coastal Wire")
    assert [p.outlet for p in hits] == ["Coastal Wire"]
    hits = search(retriever, "QX-7731-B ferry Gullholm", since=date(2025, 3, 11), until=date(2025, 3, 31))
    assert hits and all("2025-03-11" <= p.published <= "2025-03-31" for p in hits)
    assert "Port authority orders new tugboat" not in [p.title for p in hits]


def test_a_hit_is_widened_with_its_neighbours_but_stays_within_512_tokens(retriever, settings):
    from llama_index.core.utils import get_tokenizer

    hit = search(retriever, "How much was set aside for the Gullholm lighthouse repair?")[0]
    assert hit.title == "Council budget approved"
    assert "4.2 million crowns" in hit.text
    tokens = len(get_tokenizer()(hit.text))
    assert settings.chunk_size < tokens <= 512
    # neighbours are joined without repeating the splitter's overlap
    assert hit.text.count("The council set aside 4.2 million crowns") == 1


def test_refresh_makes_new_articles_searchable(retriever, settings, store, embedder, tmp_path):
    assert all(p.title != "Lighthouse keeper retires" for p in search(retriever, "lighthouse keeper retires"))
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps(article("Lighthouse keeper retires", "Gullholm's lighthouse keeper, Edda Morn, "
                                        "retired after 41 years on the island. " + FILLER, "2025-03-18")))
    ingest(settings, store, [str(extra)], embedder)
    retriever.refresh()
    assert search(retriever, "lighthouse keeper retires")[0].title == "Lighthouse keeper retires"


def test_articles_ingested_by_another_writer_are_picked_up_without_refresh(retriever, settings, store, embedder,
                                                                         tmp_path, monkeypatch):
    """A bot on a Chroma server never hears of an `articlebot ingest` run elsewhere: it notices the store changed."""
    import vectorstore.retrieval as retrieval

    assert search(retriever, "harbour seal pup rescued")[0].title != "Seal pup rescued at the north pier"
    extra = tmp_path / "seal.jsonl"
    extra.write_text(json.dumps(article("Seal pup rescued at the north pier", "Volunteers rescued a harbour seal "
                                        "pup tangled in fishing line at the north pier on Sunday. " + FILLER, "2025-03-19")))
    ingest(settings, store, [str(extra)], embedder)  # no retriever.refresh(): as if another process wrote it
    monkeypatch.setattr(retrieval, "RECHECK_SECONDS", 0.0)
    assert search(retriever, "harbour seal pup rescued")[0].title == "Seal pup rescued at the north pier"


def test_a_fact_beyond_what_the_model_reads_of_a_chunk_is_found_by_its_sentence(settings, embedder, tmp_path):
    """all-MiniLM-L6-v2 reads 256 word pieces: a chunk vector misses the end of a 512-token chunk, its sentences don't."""
    from vectorstore.store import ArticleStore, open_store

    minutes = " ".join(f"Item {i}: the council discussed the budget line for district {i} and agreed on it after a "
                       f"short debate." for i in range(1, 16))
    fact = "The Gullholm lighthouse will be repainted in red and white stripes next summer."
    path = tmp_path / "council.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in [
        article("Council minutes", f"{minutes} {fact}", "2025-03-12", "Harbor Council News"),
        article("Port authority orders new tugboat", ARTICLES[0]["text"], "2025-03-10")]))
    question = embedder.embed_query("What colours will the lighthouse be painted?")
    scores = {}
    for sentence_vectors in (True, False):
        s = settings.model_copy(update={"chunk_size": 512, "chunk_overlap": 64, "sentence_vectors": sentence_vectors,
                                        "data_dir": tmp_path / f"data-{sentence_vectors}"})
        store = open_store(s)
        try:
            ingest(s, store, [str(path)], embedder)
            (cid,) = [c for c, m in zip(*store.all_chunks()[::2]) if m["title"] == "Council minutes"]
            if sentence_vectors:
                nearest = store.query_sentences(question, 5)
                assert max(nearest, key=nearest.get) == cid
                scores[True] = nearest[cid]
            else:
                scores[False] = next(p.score for p in store.query(question, 5) if p.id == cid)
        finally:
            ArticleStore.close(store)
    assert scores[True] > 0.5 > scores[False] + 0.2, scores
