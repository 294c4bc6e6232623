"""Issue 19's defects, each shown fixed: long URLs, follow-list races, secrets in reprs, the corpus listing cache and
the tokenizer that changed the environment of every thread."""
from __future__ import annotations

import json
import os
import threading

from conftest import EXAMPLES, TelegramHTML

LONG_URL = "https://feeds.example/story?" + "&".join(f"utm_param{i}=value{i:04d}" for i in range(200))  # ~4.2 KB


# --- a 4 KB URL breaks nothing -----------------------------------------------------------------
def test_a_4_kb_url_renders_as_the_title_alone_and_splits():
    from bot.answer import Answer, Citation
    from bot.telegram.render import LIMIT, render_answer, render_sources, split_html

    assert len(LONG_URL) > 4200
    answer = Answer("The tunnel cost 42 million crowns [1].", [
        Citation(1, "Tunnel opens & <more>", LONG_URL, "2025-04-02", "Harbor Gazette", "t"),
        Citation(2, "Bridge reopens", "https://ok.example/bridge", "2025-03-14", "Wire", "t")])
    for html in (render_answer(answer), render_sources(answer)):
        parts = split_html(html, LIMIT)          # raised "cannot split HTML into parts of 4096 characters"
        parsed = [TelegramHTML.check(p) for p in parts]
        plain = "".join(p.plain for p in parsed)
        assert "[1] Tunnel opens & <more>" in plain and "Harbor Gazette" in plain
        assert [link for p in parsed for link in p.links] == ["https://ok.example/bridge"]


def test_a_4_kb_url_is_not_stored_and_the_article_still_is(settings, embedder, tmp_path):
    from ingest.pipeline import ingest
    from vectorstore.store import open_store

    wire = tmp_path / "long.jsonl"
    wire.write_text(json.dumps({"id": "l1", "url": LONG_URL, "title": "Tunnel opens under the harbor",
                                "published": "2025-04-02", "source": "Harbor Gazette",
                                "text": "The Quillfeather Tunnel, which cost 42 million crowns, opened on Tuesday "
                                        "after four years of work, the harbor authority said."}) + "\n")
    store = open_store(settings)
    try:
        report = ingest(settings, store, [str(wire)], embedder)
        assert report.ingested == 1
        [record] = store.records()
        assert record.meta["title"] == "Tunnel opens under the harbor" and record.meta["url"] == ""
    finally:
        store.close()


# --- following: two adds at once, a save after a remove, counts from two processes ------------
def test_concurrent_adds_of_one_source_both_succeed_and_one_is_new(tmp_path):
    from ingest.follow import FollowList

    follows = FollowList(tmp_path / "follow.sqlite3")
    sources = [f"https://feeds.example/{i}.xml" for i in range(30)]
    outcomes: dict[str, list[bool]] = {s: [] for s in sources}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def add_all():
        start.wait()
        for s in sources:
            try:
                outcomes[s].append(follows.add(s, 1800.0)[1])   # list.append is atomic
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=add_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []                       # was sqlite3.IntegrityError: UNIQUE constraint failed
    assert all(sorted(o) == [False, False, False, True] for o in outcomes.values()), outcomes
    assert len(follows.all()) == 30


def test_a_poll_saved_after_a_remove_does_not_bring_the_source_back(tmp_path):
    from ingest.follow import FollowList

    follows = FollowList(tmp_path / "follow.sqlite3")
    followed, _ = follows.add("https://feeds.example/a.xml", 1800.0)
    follows.remove(followed.source)
    followed.last_check = 1.0
    assert follows.save(followed, {"entry-1": "h1"}, added=3) is False
    assert follows.all() == [] and follows.seen(followed.source) == {}


def test_articles_added_by_two_pollers_are_both_counted(tmp_path):
    from ingest.follow import FollowList

    follows = FollowList(tmp_path / "follow.sqlite3")
    source = "https://feeds.example/a.xml"
    mine, _ = follows.add(source, 1800.0)
    theirs = follows.get(source)                    # another process read the row at the same time
    follows.save(theirs, {"e1": "h"}, added=2)
    follows.save(mine, {"e2": "h"}, added=3)
    assert follows.get(source).articles_added == 5  # was 3: the later save overwrote the earlier count


# --- secrets -------------------------------------------------------------------------------------
def test_secrets_never_show_in_the_settings_repr(monkeypatch):
    from bot.settings import Settings, reveal

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAsecretsecretsecretsecretsecretsec")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-verysecret")
    monkeypatch.setenv("CHROMA_AUTH_TOKEN", "chroma-secret")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "hook-secret")
    s = Settings()
    shown = repr(s) + str(s) + str(s.model_dump())
    for secret in ("AAsecret", "sk-verysecret", "chroma-secret", "hook-secret"):
        assert secret not in shown
    assert reveal(s.openai_api_key) == "sk-verysecret" and s.llm_configured
    assert reveal(None) == "" and reveal("plain") == "plain"


# --- the corpus listing behind /help and /latest -------------------------------------------------
def test_help_and_latest_reuse_one_corpus_listing_until_the_engine_writes(settings, embedder, monkeypatch, tmp_path):
    import bot.engine

    from engines import engine_over

    engine = engine_over(settings, embedder, EXAMPLES)
    scans = []
    real = bot.engine.list_articles
    monkeypatch.setattr(bot.engine, "list_articles", lambda store: scans.append(1) or real(store))
    try:
        threads = [threading.Thread(target=engine.stats) for _ in range(8)] + \
                  [threading.Thread(target=engine.recent_articles, args=(10,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(scans) == 1 and engine.stats().articles == 5
        (tmp_path / "more").mkdir()
        (tmp_path / "more" / "tunnel.md").write_text(
            "# Quillfeather Tunnel opens\n\nThe Quillfeather Tunnel, which cost 42 million crowns, opened on "
            "Tuesday after four years of work, the harbor authority said.\n")
        engine.ingest([str(tmp_path / "more")])
        assert engine.stats().articles == 6 and len(scans) == 2      # a write through the engine: listed anew
    finally:
        engine.close()


# --- the tokenizer -------------------------------------------------------------------------------
def test_cl100k_leaves_the_environment_alone_and_matches_tiktoken(monkeypatch):
    import importlib.util

    from vectorstore import retrieval

    getattr(retrieval.cl100k, "cache_clear", lambda: None)()
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    seen = []

    class Watch(dict):
        """os.environ, noting every write (a write from a request thread races every other thread's reads)."""

        def __setitem__(self, key, value):
            seen.append(key)
            super().__setitem__(key, value)

    monkeypatch.setattr(os, "environ", Watch(os.environ))
    encode = retrieval.cl100k()
    assert "TIKTOKEN_CACHE_DIR" not in os.environ and seen == []
    import tiktoken

    cache = os.path.join(importlib.util.find_spec("llama_index.core").submodule_search_locations[0],
                         "_static", "tiktoken_cache")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", cache)  # the reference, read the way tiktoken reads it
    reference = tiktoken.get_encoding("cl100k_base")
    text = "The tunnel cost 42 million crowns, über café 😀 <|endoftext|> it's 12345\n\n  done"
    assert encode(text) == reference.encode(text, allowed_special="all")
