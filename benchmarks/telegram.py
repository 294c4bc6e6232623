"""Telegram throughput and latency: the real Application against a loopback Bot API server, extractive answerer.

    python benchmarks/telegram.py [--chats 50] [--questions 3] [--corpus [--limit N]] [--no-rate-limit]

Each simulated chat asks its questions one after another (a user waits for the answer before asking the next);
all chats run at once. Latency is from the update being available to getUpdates to the answer's sendMessage.
With the rate limiter on (the default, as in production) the bot stays under Telegram's 30 messages/s.
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

EXAMPLE_QUESTIONS = [
    "How much did the Lantern Bridge repair cost?",
    "When did the Glacier Lake ferry resume?",
    "How many visitors came to the Lantern Festival?",
    "What did the central bank decide about interest rates?",
    "Who is the governor of the Central Bank of Examplia?",
    "Who cut the ribbon at the Lantern Bridge?",
    "What inflation did the central bank report?",
    "Which ferry service runs on weekends?",
]


def corpus(args) -> tuple[list[str], list[str]]:
    """(sources to ingest, questions)."""
    if not args.corpus:
        return [str(REPO / "examples" / "articles")], EXAMPLE_QUESTIONS
    articles, questions = EVAL / "articles.jsonl", EVAL / "questions.jsonl"
    if not articles.exists():
        print(f"skipped: eval data not found at {articles}")
        raise SystemExit(0)
    rows = [line for line in articles.open(encoding="utf-8") if line.strip()]
    subset = Path(args.work) / "articles.jsonl"
    subset.write_text("".join(rows[: args.limit] if args.limit else rows), encoding="utf-8")
    qs = [json.loads(line)["question"] for line in questions.open(encoding="utf-8") if line.strip()]
    return [str(subset)], qs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--questions", type=int, default=3, help="questions per chat")
    parser.add_argument("--corpus", action="store_true", help="the realtimeqa eval articles instead of the examples")
    parser.add_argument("--limit", type=int, default=200, help="with --corpus: this many articles (0 = all)")
    parser.add_argument("--no-rate-limit", action="store_true", help="without PTB's AIORateLimiter")
    args = parser.parse_args()

    from bot.engine import Engine
    from bot.settings import Settings
    from bot.telegram import build_application
    from peers.botapi_server import TOKEN, AppThread, BotAPIServer

    work = tempfile.mkdtemp(prefix="articlebot-tg-bench-")
    args.work = work
    api = BotAPIServer().start()
    settings = Settings(data_dir=Path(work) / "data", telegram_bot_token=TOKEN, telegram_base_url=api.base_url,
                        telegram_user_rate=max(10, args.questions))
    engine = Engine.from_settings(settings)
    runner = None
    try:
        sources, questions = corpus(args)
        t0 = time.perf_counter()
        report = engine.ingest(sources)
        print(f"store: {engine.stats().articles} articles ({report.chunks} chunks) in {time.perf_counter() - t0:.1f} s; "
              f"answerer: {engine.answerer.name}", flush=True)
        engine.ask("warm-up", questions[0])  # first-call costs (BM25 index, model warm-up) are not chat latency
        runner = AppThread(build_application(settings, engine, rate_limit=not args.no_rate_limit)).start()

        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def chat(i: int) -> None:
            chat_id = 10_000 + i
            for q in range(args.questions):
                question = questions[(i * args.questions + q) % len(questions)]
                pushed = time.monotonic()
                api.push_text(chat_id, chat_id, question)
                try:
                    calls = api.wait_for(lambda s: len(s.sent(chat_id)) > q and s.sent(chat_id), 300)
                except TimeoutError:
                    with lock:
                        failures.append(f"chat {chat_id}: no answer to {question!r}")
                    return
                with lock:
                    latencies.append(calls[q].at - pushed)
                    if "Sorry" in calls[q].params.get("text", "")[:20]:
                        failures.append(f"chat {chat_id}: error reply")

        start = time.monotonic()
        threads = [threading.Thread(target=chat, args=(i,)) for i in range(args.chats)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
    finally:
        if runner:
            runner.stop()
        engine.close()
        api.stop()
        shutil.rmtree(work, ignore_errors=True)

    asked = args.chats * args.questions
    print()
    print("| chats | questions | answered | rate limiter | wall s | answers/s | p50 s | p95 s | max s |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.chats} | {asked} | {len(latencies)} | {'off' if args.no_rate_limit else 'on'} | {wall:.1f} "
          f"| {len(latencies) / wall:.2f} | {percentile(latencies, 50):.2f} | {percentile(latencies, 95):.2f} "
          f"| {max(latencies):.2f} |")
    for line in failures[:10]:
        print("FAILED:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
