"""`articlebot watch add|list|remove` and `articlebot feedback`, and the alerts `articlebot follow run` prints.

A watch made here belongs to the terminal (its alerts are printed by `follow run`) unless `--chat` names a Telegram
chat, whose alerts the bot sends. The state is the bot's own (news.sqlite3 under the data dir).
"""

from __future__ import annotations

import json
import sys
import time

from ingest.wording import plural


def add_parsers(sub, collection) -> None:
    """`collection` adds --collection to a parser (main.py): a terminal watch is on one collection."""
    p = sub.add_parser("watch", help="watch topics: each new article about one is an alert (printed by `follow run`)")
    actions = p.add_subparsers(dest="watch_action", required=True, metavar="ACTION")
    a = collection(actions.add_parser("add", help="watch a topic, e.g. articlebot watch add ferry strike"))
    a.add_argument("topic", nargs="+", help="a few words: the topic's new articles are matched as questions are")
    a.add_argument("--chat", type=int, default=0, help="a Telegram chat id: the bot sends the alerts there")
    a = actions.add_parser("list", help="watched topics with their ids")
    a.add_argument("--json", action="store_true", help="print the watches as JSON")
    a = actions.add_parser("remove", help="stop watching topics")
    a.add_argument("ids", nargs="+", type=int, metavar="ID")
    p = sub.add_parser("feedback", help="👍 / 👎 votes on the bot's answers, per day and answerer")
    p.add_argument(
        "--export", metavar="FILE", help="write the 👎 questions to FILE as an eval file (answer to fill in)"
    )


def cmd_watch(settings, args) -> int:
    from bot.news.watches import TERMINAL, WatchError, Watches

    watches = Watches(settings.data_dir, settings.watch_alerts_per_hour)
    if args.watch_action == "add":
        try:
            watch, new = watches.add(args.chat, " ".join(args.topic), settings.collection)
        except WatchError as exc:
            print(f"articlebot: {exc}", file=sys.stderr)
            return 2
        where = "alerts printed by `articlebot follow run`" if watch.chat == TERMINAL else f"chat {watch.chat}"
        print(f"{'watching' if new else 'already watching'} #{watch.id} {watch.topic!r} ({where})")
        return 0
    if args.watch_action == "remove":
        missing = 0
        for watch_id in args.ids:
            gone = watches.remove(watch_id)
            if gone is None:
                print(f"articlebot: no watch #{watch_id}", file=sys.stderr)
                missing += 1
            else:
                print(f"stopped watching #{watch_id} {gone.topic!r}")
        return 1 if missing else 0
    listed = watches.all()
    if args.json:
        print(json.dumps([w.__dict__ for w in listed], indent=2))
    elif not listed:
        print("Watching nothing. Add a topic with: articlebot watch add TOPIC")
    for w in [] if args.json else listed:
        where = "terminal" if w.chat == TERMINAL else f"chat {w.chat}"
        print(f"#{w.id}  {w.topic}  ({where}, collection {w.collection}, since {_day(w.created_at)})")
    return 0


def cmd_feedback(settings, args) -> int:
    from bot.news.feedback import Feedback

    feedback = Feedback(settings.data_dir)
    if args.export:
        n = feedback.export_down(args.export)
        print(
            f"wrote {plural(n, '👎 question')} to {args.export}: fill in each `answer`, then `articlebot eval {args.export}`"
        )
        return 0
    rows = feedback.tally()
    if not rows:
        print("No votes yet: they come from the 👍 / 👎 buttons under the Telegram bot's answers.")
        return 0
    print(f"{'day':<12}{'answerer':<12}{'👍':>5}{'👎':>5}")
    for r in rows:
        print(f"{r.day:<12}{r.answerer:<12}{r.up:>5}{r.down:>5}")
    return 0


def print_alerts(engines) -> None:
    """The terminal's alerts for the articles new since `follow run` last looked, in each collection a terminal watch
    names (bot/news/watches.py)."""
    from bot.news.watches import TERMINAL, Watches
    from vectorstore.store import StoreError

    settings = engines.settings
    watches = Watches(settings.data_dir, settings.watch_alerts_per_hour)
    for name in sorted({w.collection for w in watches.all(chat=TERMINAL)}):
        try:
            engine = engines.get(name)
        except StoreError as exc:  # a watch on a collection deleted since: say so, keep the others
            print(f"articlebot: watches on collection {name!r}: {exc}", file=sys.stderr)
            continue
        _print_alerts(watches, engine, name)
    sys.stdout.flush()


def _print_alerts(watches, engine, collection: str) -> None:
    from bot.news.watches import TERMINAL, Alert

    wanted = lambda w: w.chat == TERMINAL and w.collection == collection  # noqa: E731
    for item in watches.scan(engine, "cli", wanted):
        if isinstance(item, Alert):
            a, sentence = item.match.article, item.match.sentence
            when = ", ".join(x for x in (a.outlet, a.when, a.link) if x)
            print(f"alert [{item.watch.topic}] {a.title} — {when}" + (f"\n  “{sentence}” [1]" if sentence else ""))
        else:
            titles = "; ".join(x.title for x in item.articles)
            print(
                f"alert [{item.watch.topic}] {plural(len(item.articles), 'more new article')} this hour, past the "
                f"{item.limit} alerts an hour: {titles}"
            )


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))
