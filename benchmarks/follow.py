"""Following: a first poll, an unchanged poll, and the bot's answer latency while a poll runs.

    python benchmarks/follow.py [--feeds 20] [--entries 50] [--words 300] [--questions 15]

A loopback news site (tests/peers/feed_server.py) serves FEEDS RSS feeds of ENTRIES entries each, every entry a page
with a real news text from the eval corpus (../shared/eval, cut to WORDS words, a unique sentence added so no two
texts are the same). The real bot (PTB Application against the loopback Bot API server, extractive answerer, the
five example articles) runs throughout:
1. idle: QUESTIONS questions, one at a time, latency from update to answer;
2. the feeds are followed (as `articlebot follow add` would: a row in follow.sqlite3); the bot's JobQueue job polls
   them, and questions keep being asked, one at a time, until the poll is done: the first poll's articles/s and the
   answer latency during it;
3. an unchanged poll of every feed (each a 304): wall time, CPU time of this process, texts embedded.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import EVAL, REPO, percentile, use_test_peers

use_test_peers()

QUESTIONS = [
    "How much did the Lantern Bridge repair cost?",
    "When did the Glacier Lake ferry resume?",
    "How many visitors came to the Lantern Festival?",
    "What did the central bank decide about interest rates?",
    "Who cut the ribbon at the Lantern Bridge?",
]


class Counting:
    """Counts the texts the polls embed (the extractive answerer embeds sentences too, on other threads)."""

    def __init__(self, inner):
        self.inner, self.name, self.embedded = inner, inner.name, 0

    def embed_documents(self, texts):
        if threading.current_thread().name.startswith("articlebot-follow") or self.counting_all:
            self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    counting_all = False

    def embed_query(self, text):
        return self.inner.embed_query(text)


def texts(n: int, words: int) -> list[tuple[str, str]]:
    path = EVAL / "articles.jsonl"
    if not path.exists():
        print(f"skipped: eval data not found at {path}")
        raise SystemExit(0)
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        body = " ".join(row["text"].split()[:words])
        out.append((f"{row['title']} ({i})", f"{body}\n\nBulletin {i}: filed by desk {i % 17} at {i % 24}:00."))
    return out


def ask(api, chat: int, question: str) -> float:
    before = len(api.texts(chat))
    started = time.perf_counter()
    api.push_text(chat, chat, question)
    api.wait_for(lambda s: len(s.texts(chat)) > before, 120)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--words", type=int, default=300, help="words per article (eval texts are cut to this)")
    parser.add_argument("--questions", type=int, default=15, help="idle questions (the baseline)")
    args = parser.parse_args()

    from bot.answering.answerers import build_answerer
    from bot.engine import Engine
    from bot.answering.memory import Memory
    from bot.settings import Settings
    from bot.telegram import build_application
    from peers.botapi_server import TOKEN, AppThread, BotAPIServer
    from peers.feed_server import FeedSite
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    work = Path(tempfile.mkdtemp(prefix="articlebot-follow-bench-"))
    api, site = BotAPIServer().start(), FeedSite().start()
    for i, (title, text) in enumerate(texts(args.feeds * args.entries, args.words)):
        site.add_entry(f"feed{i % args.feeds}", title, text)
    settings = Settings(data_dir=work / "data", telegram_bot_token=TOKEN, telegram_base_url=api.base_url,
                        allow_private_urls=True, follow_max_new=args.entries, telegram_user_rate=0)
    embedder = Counting(build_embedder(settings))
    engine = Engine(settings, open_store(settings), embedder, build_answerer(settings, embedder),
                    Memory(settings.data_dir / "memory.sqlite3", settings.memory_turns))
    engine.ingest([str(REPO / "examples" / "articles")])
    app = build_application(settings, engine, rate_limit=False)
    front = app.bot_data["front"]
    runner = AppThread(app).start()
    try:
        for q in QUESTIONS:  # warm-up: first retrieval builds the index
            ask(api, 1, q)
        idle = [ask(api, 2, QUESTIONS[i % len(QUESTIONS)]) for i in range(args.questions)]

        feeds = [site.url(f"/feed{i}.xml") for i in range(args.feeds)]
        for url in feeds:
            front.following.list.add(url, 3600)
        embedded0 = embedder.embedded
        while not site.hits("/feed"):
            time.sleep(0.05)
        started, busy = time.perf_counter(), []
        while True:
            rows = front.following.list.all()
            if all(r.last_check for r in rows) and not front._polling:
                break
            busy.append(ask(api, 3, QUESTIONS[len(busy) % len(QUESTIONS)]))
        first_s = time.perf_counter() - started
        added = sum(r.articles_added for r in front.following.list.all())
        first_embedded = embedder.embedded - embedded0

        embedder.counting_all = True  # the unchanged poll runs on this thread, and no question is asked meanwhile
        embedded0, cpu0, wall0 = embedder.embedded, time.process_time(), time.perf_counter()
        results = front.following.poll_due(engine.add_articles, sources=front.following.list.all())
        unchanged_wall, unchanged_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        outcomes = sorted({r.outcome for r in results})
        unchanged_embedded = embedder.embedded - embedded0
    finally:
        runner.stop()
        engine.close()
        api.stop()
        site.stop()
        shutil.rmtree(work, ignore_errors=True)

    p50_idle, p50_busy = percentile(idle, 50), percentile(busy, 50) if busy else float("nan")
    print(f"\n{args.feeds} feeds x {args.entries} entries ({args.words}-word articles), loopback site, extractive bot\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| first poll: articles stored / time | {added} / {first_s:.1f} s = **{added / first_s:.1f} articles/s** "
          f"({first_embedded} texts embedded) | |")
    print(f"| unchanged poll ({len(results)} feeds, outcomes: {', '.join(outcomes)}) | {unchanged_wall:.2f} s wall, "
          f"**{unchanged_cpu:.2f} s CPU**, **{unchanged_embedded} embeddings** | ≤ 1 s CPU, 0 embeddings |")
    print(f"| answer latency idle, p50 / p95 ({len(idle)} questions) | {p50_idle * 1000:.0f} / "
          f"{percentile(idle, 95) * 1000:.0f} ms | |")
    if busy:
        print(f"| answer latency during the first poll, p50 / p95 ({len(busy)} questions) | {p50_busy * 1000:.0f} / "
              f"{percentile(busy, 95) * 1000:.0f} ms (**{p50_busy / p50_idle:.2f}× idle**) | p50 ≤ 2× idle |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
