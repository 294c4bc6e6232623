"""Watches from the terminal (`articlebot watch add|list|remove`), their alerts printed by `articlebot follow run`,
how a new article is matched to a topic (the engine's retrieval and gate, measured in benchmarks/watch.py), and a
restart of the real bot process that must not alert twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, bot_engine
from news_articles import ARTICLES, SECOND_STRIKE, STRIKE, TIMETABLE, TOPICS, write

REPO = Path(__file__).resolve().parents[1]


def test_a_topic_matches_the_story_not_its_words(settings, embedder, tmp_path):
    from bot.news.articles import new_articles
    from bot.news.matching import matches

    engine = bot_engine(settings, embedder)
    try:
        mark = time.time()
        folder = tmp_path / "news"
        folder.mkdir()
        for name, article in ARTICLES.items():
            write(folder, name, article)
        engine.ingest([str(folder)])
        new, newest = new_articles(engine.store, mark)
        assert {a.title for a in new} == {a[0] for a in ARTICLES.values()} and newest > mark
        found = {topic: {m.article.title for m in matches(engine, topic, new)} for topic in TOPICS}
        # "Lantern Bridge" also matches the marathon story, which runs past the bridge: a name mentioned in passing
        # is found (docs/telegram.md counts it as a false alert)
        assert found.pop("Lantern Bridge") == TOPICS["Lantern Bridge"] | {"Record field for the Harbor City marathon"}
        assert found == {t: v for t, v in TOPICS.items() if t != "Lantern Bridge"}
        [strike] = [m for m in matches(engine, "ferry strike", new) if m.article.title == STRIKE[0]]
        assert strike.sentence.startswith("Crews on the Glacier Lake ferries went on strike")
        # the example articles were stored before the mark: not news, whatever they say
        assert new_articles(engine.store, newest) == ([], newest)
    finally:
        engine.close()


def articlebot(*args: str, check: int | None = 0) -> str:
    from bot.cli import main

    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        status = main(list(args))
    assert check is None or status == check, out.getvalue()
    return out.getvalue()


def test_watch_add_list_remove_and_follow_run_prints_each_alert_once(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    articlebot("ingest", "--quiet", str(EXAMPLES))
    assert articlebot("watch", "list") == "Watching nothing. Add a topic with: articlebot watch add TOPIC\n"
    assert articlebot("watch", "add", "ferry", "strike") == (
        "watching #1 'ferry strike' (alerts printed by `articlebot follow run`)\n")
    assert articlebot("watch", "add", "ferry strike") == (
        "already watching #1 'ferry strike' (alerts printed by `articlebot follow run`)\n")
    assert "watching #2 'chess' (chat -100)" in articlebot("watch", "add", "--chat", "-100", "chess")
    listing = articlebot("watch", "list")
    assert "#1  ferry strike  (terminal, collection default" in listing and "#2  chess  (chat -100" in listing

    articlebot("follow", "add", str(folder), "--later")
    write(folder, "timetable.md", TIMETABLE)
    write(folder, "strike.md", STRIKE)
    out = articlebot("follow", "run", "--once")
    assert "2 new or changed articles" in out
    assert "alert [ferry strike] Ferry crews strike over pay on the Glacier Lake line — Northwind Wire (fictional), " \
           "2025-03-24" in out
    assert "“Crews on the Glacier Lake ferries went on strike on Monday morning over pay" in out
    assert out.count("alert [") == 1 and TIMETABLE[0] not in out  # the chat's watch is the bot's to send
    write(folder, "second-strike.md", SECOND_STRIKE)
    articlebot("ingest", "--quiet", str(folder))  # stored by another command: still news to the next look
    again = articlebot("follow", "run", "--once")  # the folder is not due again for 30 minutes
    assert again.count("alert [") == 1 and SECOND_STRIKE[0] in again  # the first one is not printed again

    assert articlebot("watch", "remove", "1") == "stopped watching #1 'ferry strike'\n"
    assert articlebot("watch", "remove", "1", check=1) == ""
    assert "Watching nothing" not in articlebot("watch", "list")


def test_feedback_with_no_votes_says_where_they_come_from():
    assert "No votes yet" in articlebot("feedback")


def test_a_terminal_watch_is_on_the_collection_named_after_the_command():
    assert "watching #1 'tram fares'" in articlebot("watch", "add", "tram", "fares", "--collection", "examples")
    assert "watching #2 'tram fares'" in articlebot("--collection", "b", "watch", "add", "tram", "fares")
    listing = articlebot("watch", "list")
    assert "#1  tram fares  (terminal, collection examples" in listing
    assert "#2  tram fares  (terminal, collection b" in listing


def test_a_topic_too_long_is_one_line(capsys):
    articlebot("watch", "add", *["word"] * 40, check=2)
    assert capsys.readouterr().err.strip().endswith("(at most 100 characters).")


# --- the real bot process, restarted -------------------------------------------------------------
def _bot(env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "telegram"], env=env, cwd=cwd, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err


@pytest.mark.slow  # two starts of the bot process
def test_the_bot_process_alerts_once_and_not_again_after_a_restart(api, tmp_path):
    from peers.botapi_server import TOKEN

    from conftest import TelegramHTML

    folder = tmp_path / "incoming"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "CHROMA_"))}
    env.update(PYTHONPATH=str(REPO), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api.base_url,
               TELEGRAM_ALLOWED_USERS="42", FOLLOW=str(folder), FOLLOW_EVERY="1s")

    def alerts():
        return [TelegramHTML.check(t).plain for t in api.texts(42) if t.startswith("🔔")]

    proc = _bot(env, tmp_path)
    try:
        api.wait_for(lambda s: s.sent(method="setMyCommands"), 120)
        api.push_text(42, 42, "/watch ferry strike")
        api.wait_for(lambda s: s.texts(42), 60)
        write(folder, "timetable.md", TIMETABLE)
        write(folder, "strike.md", STRIKE)
        api.wait_for(lambda s: alerts(), 90)
    finally:
        err = _stop(proc)
    assert "Traceback" not in err, err
    assert len(alerts()) == 1 and STRIKE[0] in alerts()[0]

    api.calls.clear()
    proc = _bot(env, tmp_path)
    try:
        api.wait_for(lambda s: s.sent(method="setMyCommands"), 120)
        write(folder, "second-strike.md", SECOND_STRIKE)
        api.wait_for(lambda s: alerts(), 90)
        api.push_text(42, 42, "/watches")  # answered while the bot runs: it still watches after the restart
        assert "#1 ferry strike" in TelegramHTML.check(api.wait_for(lambda s: [t for t in s.texts(42)
                                                                               if "Watching" in t], 60)[0]).plain
    finally:
        err = _stop(proc)
    assert "Traceback" not in err, err
    [second] = alerts()
    assert SECOND_STRIKE[0] in second and STRIKE[0] not in second  # the first article is not alerted again
