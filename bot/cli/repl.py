"""`articlebot chat`: an interactive terminal chat over the engine, with history, line editing and a spinner."""

from __future__ import annotations

import itertools
import sys
import threading
import time

HELP = """Ask anything about the ingested articles; follow-up questions remember the conversation.
  /sources   the sources of the last answer, in full
  /latest    the newest articles
  /reset     forget this conversation
  /help      this text
  /quit      leave (or Ctrl-D)"""


class Spinner:
    """A spinner on stderr while the engine works; silent when stderr is not a terminal."""

    def __init__(self, label: str = "thinking"):
        self.label = label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)

    def _spin(self) -> None:
        for ch in itertools.cycle("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"):
            if self._stop.wait(0.1):
                break
            sys.stderr.write(f"\r{ch} {self.label}…")
            sys.stderr.flush()
        sys.stderr.write("\r" + " " * (len(self.label) + 4) + "\r")
        sys.stderr.flush()

    def __enter__(self):
        if sys.stderr.isatty():
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _setup_readline(history_file) -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - platforms without readline still get a plain prompt
        return
    try:
        readline.read_history_file(str(history_file))
    except (FileNotFoundError, OSError):
        pass
    readline.set_history_length(1000)
    import atexit

    atexit.register(lambda: _save_history(readline, history_file))


def _save_history(readline, history_file) -> None:
    try:
        readline.write_history_file(str(history_file))
    except OSError:
        pass


def run_repl(engine, conversation: str, filters: dict) -> int:
    interactive = sys.stdin.isatty()
    if interactive:
        _setup_readline(engine.settings.data_dir / "chat_history")
        stats = engine.stats()
        span = f", {stats.first_published} to {stats.last_published}" if stats.first_published else ""
        print(f"articlebot — {stats.articles} articles{span}. /help for commands, Ctrl-D to leave.")
        if not stats.articles:
            print(
                f"(no articles in {engine.settings.store_location} yet: add some with `articlebot ingest PATH_OR_URL`)"
            )
    prompt = "you> " if interactive else ""
    while True:
        try:
            line = input(prompt).strip()
        except EOFError:
            if interactive:
                print()
            return 0
        except KeyboardInterrupt:
            print()
            return 0
        if not line:
            continue
        command = line.lower()
        if command in ("/quit", "/exit", "/q"):
            return 0
        if command == "/help":
            print(HELP)
            continue
        if command == "/reset":
            engine.reset(conversation)
            print("Conversation forgotten.")
            continue
        if command == "/sources":
            last = engine.last_answer(conversation)
            print(
                last.render_sources()
                if last
                else "No answer yet: ask a question first. /latest lists the newest articles."
            )
            continue
        if command == "/latest":
            for a in engine.recent_articles(10):
                print(f"- {a.title} — {', '.join(x for x in (a.outlet, a.when) if x)}  {a.link}")
            continue
        if command.startswith("/"):
            print(f"Unknown command {line.split()[0]}. /help lists the commands.")
            continue
        started = time.time()
        try:
            with Spinner():
                answer = engine.ask(conversation, line, **filters)
        except KeyboardInterrupt:
            print("(cancelled)")
            continue
        print(answer.render_text())
        if interactive:
            print(f"\n({time.time() - started:.1f} s)\n")
