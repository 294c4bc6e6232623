"""False alerts of watched topics (bot/news/matching.py): how often a new article that is another story alerts, and
how often one on the topic does not, by the share of the topic's weight the gate asks for (with the topic's names in
the article's lead, and without that rule), against a substring test.

    python benchmarks/watch.py [--real-only | --fictional-only] [--show 0.75] [--articles PATH]

Fictional: the example articles are stored, then seven new fictional ones (tests/news_articles.py), some on a
topic and some sharing its words; every topic's expected alerts are written down there. Real: the eval corpus's
articles published before 2023 are stored first (677), then those of January 2023 (105) arrive as new; a new
article counts as on a topic when its title or first paragraph has the topic's marker words (TOPICS below, a
labelling aid only, read by a person for the alerts it calls false: --show prints them). The store is built once
under .bench/watch (about 10 min on 2 cores).
"""
from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from _common import REPO, eval_path, use_test_peers

GRID = (0.38, 0.5, 0.6, 0.75, 0.9, 1.0)  # TOPIC_COVERAGE; 0.38 is what a question needs
# topic -> marker words: a new article whose title or first 600 characters match is on the topic
TOPICS = {
    "Damar Hamlin": r"Hamlin",
    "House speaker vote": r"speaker",
    "Golden Globes": r"Golden Globe",
    "FAA outage flight delays": r"FAA|NOTAM",
    "tech layoffs": r"layoff|job cuts",
    "California storms": r"California (storm|weather|rain)|storms? .*California|atmospheric river",
    "Jacinda Ardern resignation": r"Ardern",
    "Mega Millions jackpot": r"Mega Millions",
    "Pope Benedict funeral": r"Benedict",
    "Pelé": r"Pel[ée]",
    "classified documents": r"classified (documents|files)",
    "Mafia boss arrested": r"Messina Denaro|Mafia boss",
    "Prince Harry memoir": r"Prince Harry|Spare",
    "Donovan Mitchell": r"Donovan Mitchell|Mitchell scores",
    "ferry strike": r"ferry strike",
    "bird flu": r"bird flu|avian",
}


def substring(topic: str, text: str) -> bool:
    """The test the product does not use: every word of the topic somewhere in the article."""
    low = text.lower()
    return all(w in low for w in topic.lower().split())


def fictional(show: float | None) -> None:
    use_test_peers()
    from news_articles import ARTICLES, TOPICS as EXPECTED, write

    from bot.engine import Engine
    from bot.news.articles import new_articles
    from bot.news.matching import TOPIC_COVERAGE, matches
    from bot.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        engine = Engine.from_settings(settings)
        try:
            engine.ingest([str(REPO / "examples" / "articles")])
            mark = time.time()
            folder = Path(tmp) / "new"
            folder.mkdir()
            for name, article in ARTICLES.items():
                write(folder, name, article)
            engine.ingest([str(folder)])
            new, _ = new_articles(engine.store, mark)
            texts = {a.key: (folder / Path(a.link).name).read_text() for a in new}
            rows = []
            for c in GRID:
                rows.append(score(c, {t: {m.article.title for m in matches(engine, t, new, c)} for t in EXPECTED},
                                  EXPECTED))
            anywhere = {t: {m.article.title for m in matches(engine, t, new, TOPIC_COVERAGE, lead=0)} for t in EXPECTED}
            rows.append(score(f"{TOPIC_COVERAGE}, names anywhere", anywhere, EXPECTED))
            by_substring = {t: {a.title for a in new if substring(t, texts[a.key])} for t in EXPECTED}
            rows.append(score("substring", by_substring, EXPECTED))
            table(f"Fictional: {len(new)} new articles, {len(EXPECTED)} topics, "
                  f"{sum(len(v) for v in EXPECTED.values())} expected alerts", rows)
            if show is not None:
                for t in EXPECTED:
                    got = {m.article.title: round(m.coverage, 2) for m in matches(engine, t, new, show)}
                    print(f"- {t}: {got}")
        finally:
            engine.close()


def real(show: float | None, articles: str | None) -> None:
    from bot.engine import Engine
    from bot.news.articles import new_articles
    from bot.news.matching import TOPIC_COVERAGE, matches

    settings, mark = real_store(articles)
    engine = Engine.from_settings(settings)
    try:
        new, _ = new_articles(engine.store, mark)
        heads = {a.key: head(engine, a) for a in new}
        expected = {t: {a.key for a in new if re.search(rx, heads[a.key], re.I)} for t, rx in TOPICS.items()}
        rows = []
        found_at = {}
        for c in GRID:
            found_at[c] = {t: {m.article.key for m in matches(engine, t, new, c)} for t in TOPICS}
            rows.append(score(c, found_at[c], expected))
        anywhere = {t: {m.article.key for m in matches(engine, t, new, TOPIC_COVERAGE, lead=0)} for t in TOPICS}
        rows.append(score(f"{TOPIC_COVERAGE}, names anywhere", anywhere, expected))
        texts = {a.key: full_text(engine, a) for a in new}
        by_substring = {t: {a.key for a in new if substring(t, texts[a.key])} for t in TOPICS}
        rows.append(score("substring", by_substring, expected))
        table(f"Real: {len(new)} new articles (January 2023) over {len(TOPICS)} topics, "
              f"{sum(len(v) for v in expected.values())} on-topic by their marker words", rows)
        if show is not None:
            titles = {a.key: a.title for a in new}
            for t in TOPICS:
                extra = found_at[show][t] - expected[t]
                missed = expected[t] - found_at[show][t]
                for k in sorted(extra):
                    print(f"- {t}: alert not on the markers: {titles[k]}")
                for k in sorted(missed):
                    print(f"- {t}: missed: {titles[k]}")
    finally:
        engine.close()


def full_text(engine, article) -> str:
    from vectorstore.store import chunk_id

    ids = [chunk_id(article.key, i) for i in range(200)]
    got = engine.store.get_chunks(ids)
    return article.title + "\n" + "\n".join(got[i][0] for i in ids if i in got)


def head(engine, article) -> str:
    from vectorstore.store import chunk_id

    text = engine.store.get_chunks([chunk_id(article.key, 0)]).get(chunk_id(article.key, 0), ("", {}))[0]
    return f"{article.title}\n{text[:600]}"


def real_store(articles: str | None):
    """The eval corpus split by date: older articles stored first, January 2023 after a mark (kept in a file)."""
    from bot.settings import Settings
    from ingest.article import Article
    from ingest.loaders import Loader
    from ingest.pipeline import ingest_items
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    settings = Settings(data_dir=REPO / ".bench" / "watch")
    mark_file = settings.data_dir / "new-since"
    if mark_file.exists():
        return settings, float(mark_file.read_text())
    print(f"building the split eval store in {settings.data_dir} (once; about 10 min) ...", flush=True)
    items = [i for i in Loader(int(50e6), 20).load(str(eval_path(articles, "articles.jsonl"))) if isinstance(i, Article)]
    store = open_store(settings)
    try:
        embedder = build_embedder(settings)
        ingest_items(settings, store, [a for a in items if a.published < "2023-01-01"], embedder)
        mark = time.time()
        ingest_items(settings, store, [a for a in items if a.published >= "2023-01-01"], embedder)
    finally:
        store.close()
    mark_file.write_text(repr(mark))
    return settings, mark


def score(setting, found: dict[str, set], expected: dict[str, set]) -> tuple:
    alerts = sum(len(v) for v in found.values())
    false = sum(len(found[t] - expected[t]) for t in expected)
    missed = sum(len(expected[t] - found[t]) for t in expected)
    return setting, alerts, false, missed


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}\n")
    print("| topic coverage | alerts | false alerts | missed |")
    print("|---|---|---|---|")
    for setting, alerts, false, missed in rows:
        print(f"| {setting} | {alerts} | {false} | {missed} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-only", action="store_true")
    parser.add_argument("--fictional-only", action="store_true")
    parser.add_argument("--show", type=float, help="list the alerts and misses at this coverage")
    parser.add_argument("--articles", help="the eval corpus's articles.jsonl (default: ../shared/eval/...)")
    args = parser.parse_args()
    if not args.real_only:
        fictional(args.show)
    if not args.fictional_only:
        real(args.show, args.articles)


if __name__ == "__main__":
    main()
