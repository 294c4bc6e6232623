"""`articlebot collections [--delete NAME]` and `articlebot forget WHAT`: the collections in the data home, and taking
articles out of one. Only argparse at import, like bot/cli/main.py."""

from __future__ import annotations

import json
import sys


def add_parsers(sub, collection_arg) -> None:
    """The two commands' parsers; `collection_arg(parser)` adds main's --collection option."""
    p = sub.add_parser("collections", help="list the collections: articles, chunks, newest article; or delete one")
    p.add_argument("--delete", metavar="NAME", help="delete this collection and everything in it (asks first)")
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p = collection_arg(
        sub.add_parser("forget", help="remove articles: by id, URL or path as `sources` prints them, or a prefix")
    )
    p.add_argument(
        "what",
        metavar="WHAT",
        help="an article's id, URL or file path, or a folder or URL prefix (every article under it)",
    )
    p.add_argument("--json", action="store_true", help="print what went as JSON")


def _home(settings):
    from bot.cli.commands import UserError
    from vectorstore.collections import StoreHome
    from vectorstore.store import StoreError

    try:
        return StoreHome(settings)
    except StoreError as exc:
        raise UserError(str(exc)) from None


def _row(home, name: str) -> dict:
    """One collection's counts; a collection that cannot be opened here (another embedding model) says why."""
    from bot.answering.corpus import corpus_stats
    from vectorstore.store import StoreError

    try:
        store = home.open(name, create=False)
    except StoreError as exc:
        return {"name": name, "articles": None, "chunks": None, "newest": "", "problem": str(exc)}
    stats = corpus_stats(store)
    return {"name": name, "articles": stats.articles, "chunks": stats.chunks, "newest": stats.last_published}


def cmd_collections(settings, args) -> int:
    from bot.cli.commands import UserError
    from vectorstore.collections import check_name
    from vectorstore.store import StoreError

    try:
        current = check_name(settings.collection)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    home = _home(settings)
    try:
        if args.delete:
            return _delete(home, args.delete, args.yes)
        rows = [_row(home, name) for name in home.names()]
    finally:
        home.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(
            f"No collections yet in {settings.store_location}. Add articles with: articlebot ingest PATH [--collection NAME]"
        )
        return 0
    width = max(len("collection"), *(len(r["name"]) for r in rows))
    print(f"{'collection':<{width}}  {'articles':>8}  {'chunks':>7}  newest article")
    for r in rows:
        mark = "  (used when no --collection is given)" if r["name"] == current else ""
        if r["articles"] is None:
            print(f"{r['name']:<{width}}  {'?':>8}  {'?':>7}  {r['problem']}")
            continue
        print(f"{r['name']:<{width}}  {r['articles']:>8}  {r['chunks']:>7}  {r['newest'] or '-':<14}{mark}".rstrip())
    print(f"\n{len(rows)} collection{'s' if len(rows) != 1 else ''} in {settings.store_location}")
    return 0


def _delete(home, name: str, yes: bool) -> int:
    from bot.cli.commands import UserError
    from vectorstore.collections import check_name
    from vectorstore.store import StoreError

    try:
        name = check_name(name)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    if name not in home.names():
        # what an interrupted delete left (it removes the manifest first) is removed without asking: nothing lists it
        if home.delete(name):
            print(f"Removed what was left of collection {name!r}.")
            return 0
        raise UserError(f"no collection named {name!r} (`articlebot collections` lists them)")
    row = _row(home, name)
    holds = f"{row['articles']} articles, {row['chunks']} chunks" if row["articles"] is not None else "its articles"
    if not yes:
        if not sys.stdin.isatty():
            raise UserError(f"not deleting collection {name!r} without asking: run it in a terminal, or add --yes")
        answer = input(f"Delete collection {name!r} ({holds})? It cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    home.delete(name)
    print(f"Deleted collection {name!r} ({holds}).")
    return 0


def cmd_forget(settings, args) -> int:
    from bot.cli.commands import _open_store
    from ingest.forget import forget

    store = _open_store(settings, create=False)
    try:
        done = forget(store, args.what)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"collection": store.collection, "articles": done.articles, "chunks": done.chunks}))
    else:
        print(done.summary(args.what, store.collection))
    return 0 if done.articles or done.chunks else 1
