"""What each `articlebot` sub-command does, given Settings and parsed arguments. Output formatting lives here."""

from __future__ import annotations

import json
import sys
import time

from ingest.wording import plural


class UserError(Exception):
    """Something the operator can fix; printed as one line, no traceback."""


def _open_store(settings, create: bool = True):
    from vectorstore.store import StoreError, open_store

    try:
        return open_store(settings, create)
    except StoreError as exc:
        raise UserError(str(exc)) from None


def cmd_ingest(settings, args) -> int:
    from pathlib import Path

    from bot.cli.progress import Progress
    from ingest.loaders import is_url
    from ingest.pipeline import ingest
    from vectorstore.embeddings import EmbeddingError

    missing = [s for s in args.sources if not is_url(s) and not Path(s).expanduser().exists()]
    if len(missing) == len(args.sources):  # nothing to read: say so before opening (or creating) a store
        raise UserError(f"no such file or folder: {', '.join(missing)}")
    store = _open_store(settings)
    progress = Progress(args.quiet)
    try:
        report = ingest(
            settings, store, args.sources, prune=args.prune, on_article=progress, on_total=progress.add_total
        )
    except EmbeddingError as exc:
        raise UserError(str(exc)) from None
    finally:
        progress.close()
        store.close()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    elif not args.quiet:
        print(report.summary())
    else:  # --quiet prints nothing but errors, and a source that could not be read is one
        for skip in report.skipped:
            print(f"articlebot: skipped {skip.source}: {skip.reason}", file=sys.stderr)
    if args.strict and report.skipped:
        return 1
    if report.read == 0 and report.pruned == 0:
        print("articlebot: nothing could be read from the given sources", file=sys.stderr)
        return 1
    return 0


def cmd_sources(settings, args) -> int:
    from bot.answering.corpus import list_articles

    store = _open_store(settings, create=False)
    try:
        articles = list_articles(store)
    finally:
        store.close()
    total, articles = len(articles), articles[: args.limit or None]
    where = f"{'' if store.collection == 'default' else f'{store.collection!r} in '}{settings.store_location}"
    if args.json:
        print(json.dumps([a.as_json() for a in articles], indent=2, ensure_ascii=False))
        return 0
    if not articles:
        print(f"No articles yet in {where}. Add some with: articlebot ingest PATH_OR_URL ...")
        return 0
    width = min(max(len(a.outlet) for a in articles), OUTLET_WIDTH)
    dates = max([12, *(len(a.when or "(no date)") for a in articles)])  # the id's 12; "undated (file date …)"
    for a in articles:
        print(
            f"{a.when or '(no date)':<{dates}} {_cut(a.outlet, width):<{width}} {plural(a.chunks, 'chunk'):>10}  "
            f"{_cut(a.title, 100)}"
        )
        print(f"{a.id:<{dates}} {a.link}")
    shown = f"{len(articles)} of {total} articles" if total > len(articles) else plural(total, "article")
    print(f"\n{shown} in {where}")
    return 0


OUTLET_WIDTH = 40  # the outlet column grows to the longest outlet up to this; longer ones are cut with "…"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _retriever(settings, store):
    from vectorstore.embeddings import build_embedder
    from vectorstore.retrieval import Retriever

    return Retriever(settings, store, build_embedder(store.settings))


def cmd_search(settings, args) -> int:
    from vectorstore.retrieval import Filters

    store = _open_store(settings, create=False)
    try:
        retriever = _retriever(settings, store)
        passages = retriever.search(
            args.query,
            k=args.k,
            filters=Filters(as_of=args.as_of, outlet=args.outlet, since=args.since, until=args.until),
        )
    finally:
        store.close()
    if args.json:
        print(json.dumps([p.as_json() for p in passages], indent=2, ensure_ascii=False))
        return 0
    if not passages:
        print("No matching chunks.")
    for i, p in enumerate(passages, 1):
        meta = ", ".join(x for x in (p.outlet, p.published) if x)
        print(f"[{i}] {p.score:.3f}  {p.title}" + (f" — {meta}" if meta else ""))
        print(f"    {p.link}")
        print("    " + p.text[:400].replace("\n", " ") + ("…" if len(p.text) > 400 else ""))
        print()
    return 0


def _engine(settings):
    from bot.engine import Engine
    from vectorstore.store import StoreError

    try:
        return Engine.from_settings(settings, create=False)
    except StoreError as exc:
        raise UserError(str(exc)) from None


def _filter_kwargs(args) -> dict:
    return {"as_of": args.as_of, "outlet": args.outlet, "since": args.since, "until": args.until}


def cmd_ask(settings, args) -> int:
    from bot.engine import EMPTY_CORPUS

    engine = _engine(settings)
    try:
        answer = engine.ask(args.conversation, args.question, **_filter_kwargs(args))
    finally:
        engine.close()
    if args.json:
        print(json.dumps(answer.as_json(), indent=2, ensure_ascii=False))
    else:
        print(answer.render_text())
        if answer.text == EMPTY_CORPUS:
            print(f"(looked in {settings.collection!r} in {settings.store_location}; see `articlebot collections`)")
    return 0


def cmd_chat(settings, args) -> int:
    from bot.cli.repl import run_repl

    interactive = sys.stdin.isatty()
    if interactive:
        print("Loading the model and index…", end="", file=sys.stderr, flush=True)
    from vectorstore.embeddings import EmbeddingError

    engine = _engine(settings)
    try:
        try:
            engine.warm()
        except EmbeddingError as exc:
            raise UserError(str(exc)) from None
        if interactive:
            print(" ready.", file=sys.stderr, flush=True)
        return run_repl(engine, args.conversation, _filter_kwargs(args))
    finally:
        engine.close()


def cmd_eval(settings, args) -> int:
    from bot.learning.evaluate import run_eval

    engine = _engine(settings)
    try:
        return run_eval(engine, args.questions, k=args.k, limit=args.limit, as_json=args.json, split=args.split)
    finally:
        engine.close()


def cmd_telegram(settings, args) -> int:
    from bot.telegram import run

    return run(settings) or 0


def cmd_follow(settings, args) -> int:
    """`articlebot follow add|remove|list|run`: the list lives in SQLite under the data dir, beside a running bot."""
    from bot.engine import following_settings
    from ingest.follow import FollowError, Following, format_every

    following = Following(following_settings(settings))  # the list of the collection --collection names
    for problem in following.seed_problems:
        print(f"articlebot: {problem}", file=sys.stderr)
    if args.follow_action == "add":
        failed, due = 0, []
        for source in args.sources:
            try:
                followed, new = following.add(source, args.every)
            except FollowError as exc:
                print(f"articlebot: {exc}", file=sys.stderr)
                failed += 1
                continue
            line = (
                f"{'following' if new else 'already following'} {followed.source} every {format_every(followed.every)}"
            )
            if followed.next_check <= time.time():
                due.append(followed)
            else:
                line += f"; next check {_when(followed.next_check)}"
            print(line, flush=True)
        if due and not args.later:
            failed += _check_now(settings, following, due)
        return 2 if failed else 0
    if args.follow_action == "remove":
        missing = [s for s in args.sources if not following.remove(s)]
        for source in args.sources:
            if source in missing:
                print(f"articlebot: not followed: {source}", file=sys.stderr)
            else:
                print(
                    f"stopped following {source} (its articles stay)"
                    + (" - it is in FOLLOW= and comes back at the next start" if source in settings.follow else "")
                )
        return 1 if missing else 0
    if args.follow_action == "list":
        return _follow_list(following, args.json)
    return _follow_run(settings, following, args.once)


def _when(ts) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _check_now(settings, following, due) -> int:
    """`follow add` polls its new sources at once, so the user sees what they give; 1 if one failed. When another
    process holds the store, it says who checks them instead."""
    from bot.engine import Engine
    from vectorstore.store import DataDirBusy, StoreError

    try:
        engine = Engine.from_settings(settings)
    except DataDirBusy as exc:
        print(
            f"not checked now: the data dir {settings.data_dir} is in use by another articlebot process"
            f"{f' (pid {exc.pid})' if exc.pid else ''}; a running `articlebot telegram` or `articlebot follow run` "
            "checks it within seconds, or else the next one you start",
            flush=True,
        )
        return 0
    except StoreError as exc:
        raise UserError(str(exc)) from None
    try:
        results = following.poll_due(engine.add_articles, sources=[following.list.get(f.source) or f for f in due])
    finally:
        engine.close()
    for result in results:
        print(result.line(), flush=True)
    return int(any(r.outcome == "failed" for r in results))


def _follow_list(following, as_json: bool) -> int:
    follows = following.list.all()
    if as_json:
        print(json.dumps([f.as_json() for f in follows], indent=2))
        return 0
    if not follows:
        print("Following nothing. Add a feed, page or folder with: articlebot follow add SOURCE [--every 30m]")
        return 0
    from ingest.follow import format_every

    for f in follows:
        print(f.source)
        print(
            f"  every {format_every(f.every)}; last check {_when(f.last_check)}; last success {_when(f.last_success)}; "
            f"{plural(f.articles_added, 'article')} added; next check {_when(f.next_check)}"
        )
        if f.last_error:
            print(
                f"  last error: {f.last_error}"
                + (f" ({f.failures} failures in a row, backing off)" if f.failures else "")
            )
    return 0


def _follow_run(settings, following, once: bool) -> int:
    """Poll every collection's sources when due (a line per source), then print watch alerts; --once: due now."""
    from bot.cli.news import print_alerts
    from bot.engine import Engine, Engines
    from vectorstore.store import DataDirBusy, StoreError

    try:
        engines = Engines(Engine.from_settings(settings))
    except DataDirBusy as exc:
        raise UserError(
            f"the data dir {settings.data_dir} is in use by another articlebot process (pid {exc.pid}). "
            "A running `articlebot telegram` polls the followed sources itself, so `follow run` is not "
            "needed beside it; to run both, use a Chroma server (CHROMA_HOST)."
        ) from None
    except StoreError as exc:
        raise UserError(str(exc)) from None
    failed = False
    try:
        while True:
            for name, result in engines.poll_due():
                failed |= result.outcome == "failed"
                print(("" if name == engines.default else f"[{name}] ") + result.line(), flush=True)
            print_alerts(engines)
            if once:
                return 1 if failed else 0
            # a short nap: `follow add` from another shell is noticed within seconds
            time.sleep(min(max((engines.next_due() or 0) - time.time(), 0.5), 5.0))
    finally:
        engines.close()
        engines.base.close()


def cmd_health(settings, args) -> int:
    from vectorstore.embeddings import EmbeddingError, build_embedder, check_model_files
    from vectorstore.store import DataDirBusy, StoreError, open_store

    problems: list[str] = []
    count = sentences = None
    busy = ""
    try:
        # a health check answers now: it does not wait out CHROMA_START_TIMEOUT for a server that is down
        store = open_store(settings.model_copy(update={"chroma_start_timeout": 0}), create=False)
        try:
            count, sentences = store.count(), store.sentence_count()
        finally:
            store.close()
        if count == 0 and not args.allow_empty:
            problems.append(f"collection {settings.collection!r} is empty (run articlebot ingest)")
    except DataDirBusy as exc:
        # the embedded store is open in a live process (the bot, in a container): that is the healthy state,
        # and this check must not be the second process that opens it
        busy = exc.pid or "another process"
    except StoreError as exc:
        problems.append(str(exc))
    try:
        if args.quick:
            model = check_model_files(settings)
        else:
            build_embedder(settings).embed_query("health check")
            model = f"embedding model {settings.embed_model} loads"
    except EmbeddingError as exc:
        problems.append(str(exc))
    if problems:
        for p in problems:
            print(f"unhealthy: {p}")
        print(f"(the store: {settings.store_location})")
        return 1
    if busy:
        print(
            f"ok: the store in {settings.store_location} is open in a running articlebot process (pid {busy}); {model}"
        )
        return 0
    assert count is not None and sentences is not None  # the store opened: neither busy nor a problem
    print(
        f"ok: collection {settings.collection!r} in {settings.store_location} has {plural(count, 'chunk')} "
        f"({plural(sentences, 'sentence vector')}); {model}"
    )
    if count and settings.sentence_vectors and not sentences:
        print("note: no sentence vectors yet; run `articlebot ingest` over the same sources once to add them")
    return 0


def cmd_prepare_model(settings, args) -> int:
    from bot.answering.reader import CROSS_DIR, default_reader
    from vectorstore.embeddings import EmbeddingError, prepare_model

    try:
        files = prepare_model(settings)
        # the cross-encoder reader's graph too, whichever reader is chosen now: an image drops the base weights
        # after this (Dockerfile), and READER_MODEL=cross must still work there
        if CROSS_DIR.is_dir():
            files.append(default_reader(CROSS_DIR, cache_dir=settings.model_dir).cross.prepare())
        print("; ".join(f"{path} sha256 {digest}" for path, digest in files))
    except EmbeddingError as exc:
        raise UserError(str(exc)) from None
    return 0


def cmd_train_reader(settings, args) -> int:
    from bot.learning.train_reader import main

    return main(settings, args.questions, args.out, args.articles, args.cache, args.cross, args.cross_from, args.epochs)
