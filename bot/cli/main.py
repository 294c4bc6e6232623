"""The `articlebot` command: parses arguments, builds Settings once, and hands off to ingest, search or the engine.

Only argparse is imported at start-up; everything heavy is imported inside the command that needs it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, datetime

from bot.cli import news

log = logging.getLogger("articlebot")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD[THH:MM]): {value!r}") from None


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--as-of",
        type=_datetime,
        metavar="YYYY-MM-DD[THH:MM]",
        help="reference time for 'this week', 'latest' ... (default: now)",
    )
    p.add_argument("--source", dest="outlet", metavar="OUTLET", help="only articles from this outlet")
    p.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="only articles published on or after this date")
    p.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="only articles published on or before this date")


def _collection(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "--collection",
        dest="collection_",
        metavar="NAME",
        help="the collection (default: ARTICLEBOT_COLLECTION or 'default')",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="articlebot",
        description="Ask questions about your articles; every answer cites the articles it came from.",
    )
    parser.add_argument(
        "--collection", metavar="NAME", help="the collection (default: ARTICLEBOT_COLLECTION or 'default')"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="add articles: files, folders, page or feed URLs")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    _collection(p)
    p.add_argument("--prune", action="store_true", help="forget articles whose file or feed entry is gone")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.add_argument("--strict", action="store_true", help="exit non-zero if anything was skipped")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = _collection(sub.add_parser("sources", help="list ingested articles and where the store is"))
    p.add_argument("--json", action="store_true", help="print the articles as JSON")
    p.add_argument("--limit", type=int, default=0, help="at most this many (newest first)")

    p = _collection(sub.add_parser("search", help="retrieval only: the top chunks for a query"))
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="how many chunks (default 5)")
    p.add_argument("--json", action="store_true", help="print the chunks as JSON, with their metadata")
    _filters(p)

    p = _collection(sub.add_parser("ask", help="answer one question"))
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON: answer, citations, answerer, note")
    p.add_argument("--conversation", default="cli", help="conversation id (follow-ups share memory)")
    _filters(p)

    p = _collection(sub.add_parser("chat", help="interactive chat in the terminal"))
    p.add_argument("--conversation", default="cli-chat")
    _filters(p)

    p = _collection(sub.add_parser("eval", help="measure retrieval and answers on question files"))
    p.add_argument("questions", nargs="+", help="questions.jsonl files (the format of shared/eval/*/questions.jsonl)")
    p.add_argument(
        "--split",
        choices=("validation", "training"),
        help="only one side of the seeded week split (for the training questions, which have a week)",
    )
    p.add_argument("-k", type=int, default=5, help="passages retrieved per question (default 5)")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions of each file")
    p.add_argument("--json", action="store_true", help="print the figures and every question's outcome as JSON")

    _follow_parser(sub)
    news.add_parsers(sub, _collection)
    from bot.cli.collections import add_parsers

    add_parsers(sub, _collection)

    sub.add_parser("telegram", help="run the Telegram bot (TELEGRAM_BOT_TOKEN)")
    p = _collection(
        sub.add_parser(
            "health", help="where the store is; check it, the collection and the embedding model; exit 1 if unhealthy"
        )
    )
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="an empty collection is healthy (a freshly deployed bot before its first ingest)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="verify the model files instead of loading the model (for frequent container healthchecks)",
    )
    sub.add_parser(
        "prepare-model",
        help="convert the bundled embedding model to ONNX (once) and verify it; prints its path and sha256",
    )
    p = sub.add_parser(
        "train-reader",
        help="learn the extractive reader and the abstention gate from quiz questions "
        "over the current store (docs/reader.md)",
    )
    p.add_argument(
        "questions",
        nargs="+",
        help="questions.jsonl with a 'week' (or 'date') per question, or training folders holding questions.jsonl "
        "and articles.jsonl.gz (shared/train/realtimeqa-train, realtimeqa-more)",
    )
    p.add_argument("--out", help="folder for the model and its manifest (default: the shipped bot/answering/models)")
    p.add_argument(
        "--articles",
        help="read passages from this articles.jsonl(.gz) (BM25 only, no store needed) instead of the store",
    )
    p.add_argument("--cache", help=argparse.SUPPRESS)  # keeps the read passages between runs (train_reader)
    p.add_argument("--cross", action="store_true", help="fine-tune the cross-encoder reader first (needs torch)")
    p.add_argument("--cross-from", help="the cross-encoder's adapters (.npz) from an earlier --cross run")
    p.add_argument("--epochs", type=int, default=1, help="cross-encoder fine-tuning epochs (default 1)")
    return parser


def _follow_parser(sub) -> None:
    p = sub.add_parser("follow", help="follow feeds, pages and folders: the bot keeps itself current")
    actions = p.add_subparsers(dest="follow_action", required=True, metavar="ACTION")
    a = _collection(actions.add_parser("add", help="follow sources: checked now, then every --every"))
    a.add_argument("sources", nargs="+", metavar="SOURCE", help="an RSS/Atom feed or page URL, or a folder")
    a.add_argument(
        "--every",
        help="how often to check, e.g. 30m, 2h, 1d (default: FOLLOW_EVERY, 30m); for a "
        "source already followed, the next check moves to its last check + this",
    )
    a.add_argument(
        "--later",
        action="store_true",
        help="do not check now: the bot or `follow run` checks new sources within seconds",
    )
    a = _collection(actions.add_parser("remove", help="stop following sources (their articles stay)"))
    a.add_argument("sources", nargs="+", metavar="SOURCE")
    a = _collection(
        actions.add_parser(
            "list", help="followed sources: last check, last success, last error, articles added, next check"
        )
    )
    a.add_argument("--json", action="store_true", help="print the list as JSON")
    a = actions.add_parser(
        "run", help="poll every collection's followed sources when due, without Telegram (the bot does it itself)"
    )
    a.add_argument("--once", action="store_true", help="poll the sources that are due now, then exit (for cron)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not args.verbose else logging.INFO)

    from bot.settings import Settings

    settings = Settings(**{})  # not Settings(): mypy would read it as missing the fields it knows by their aliases
    collection = getattr(args, "collection_", None) or args.collection
    if collection and collection != settings.collection:
        # FOLLOW= seeds the configured collection's follow list, not the one named here
        settings = settings.model_copy(update={"collection": collection, "follow": ()})
    if settings.data_dir_note:
        print(f"articlebot: {settings.data_dir_note}", file=sys.stderr)
    from bot.answering.reader import ModelError
    from bot.cli import collections, commands
    from vectorstore.embeddings import EmbeddingError
    from vectorstore.store import StoreError

    name = f"cmd_{args.command.replace('-', '_')}"
    handler = getattr(collections, name, None) or getattr(news, name, None) or getattr(commands, name)
    try:
        return handler(settings, args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`articlebot sources | head`): stop quietly, as Unix tools do; stdout goes to
        # /dev/null so the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    # StoreError: e.g. the Chroma server went away mid-run; EmbeddingError: the model cannot be converted or loaded
    except (commands.UserError, StoreError, EmbeddingError, ModelError) as exc:
        print(f"articlebot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
