"""What people read: counts in the singular where there is one, whole outlet names, one line for a missing path,
an outlet line read from a saved .txt, and file dates marked as such wherever a date is shown."""
from __future__ import annotations

import json
import os

from bot.cli import main

ARTICLE = """Tidal barrier at Kessel Sound closes for its first winter test

Saltmere Coast Network

Engineers closed the new tidal barrier at Kessel Sound for the first time on Tuesday, a four-hour test that the
Saltmere harbour board said went exactly as planned.

The barrier, which cost 310 million crowns, is meant to protect the old town from winter storm surges.
"""


def _write(folder, name, text, mtime=None):
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    if mtime:
        os.utime(path, (mtime, mtime))
    return path


def test_one_article_reads_in_the_singular(capsys, tmp_path):
    path = _write(tmp_path / "news", "barrier.txt", ARTICLE)
    assert main(["ingest", str(path)]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("1 ingested (1 chunk), 0 unchanged, 0 replaced, 0 duplicates kept as extra links,")
    _write(tmp_path / "copy", "barrier.txt", ARTICLE)
    assert main(["ingest", str(tmp_path / "copy")]) == 0
    assert "1 duplicate kept as an extra link," in capsys.readouterr().out

    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    assert " 1 chunk  " in out and "1 chunks" not in out
    assert out.rstrip().endswith(f"1 article in {tmp_path / 'data'}")


def test_a_txt_outlet_line_under_the_headline_becomes_the_outlet_and_its_file_date_is_marked(capsys, tmp_path):
    path = _write(tmp_path / "news", "barrier.txt", ARTICLE, mtime=1_735_776_000)  # 2025-01-02, no date in the text
    assert main(["ingest", str(path)]) == 0
    capsys.readouterr()
    assert main(["sources", "--json"]) == 0
    [article] = json.loads(capsys.readouterr().out)
    assert article["source"] == "Saltmere Coast Network" and article["published_from"] == "file-time"

    assert main(["ask", "How much did the Kessel Sound tidal barrier cost?"]) == 0
    reply = capsys.readouterr().out
    assert ("[1] Tidal barrier at Kessel Sound closes for its first winter test — Saltmere Coast Network, "
            "undated (file date 2025-01-0") in reply

    assert main(["sources"]) == 0
    assert "undated (file date 2025-01-0" in capsys.readouterr().out


def test_long_outlet_names_are_shown_whole_up_to_the_column_width(capsys, tmp_path):
    outlet = "Northwind Wire (fictional)"   # was cut to "Northwind Wire (fictiona"
    _write(tmp_path / "news", "barrier.txt", ARTICLE.replace("Saltmere Coast Network", outlet))
    assert main(["ingest", "--quiet", str(tmp_path / "news")]) == 0
    assert main(["sources"]) == 0
    assert f" {outlet} " in capsys.readouterr().out


def test_a_missing_path_is_one_line(capsys, tmp_path):
    assert main(["ingest", str(tmp_path / "no-such-folder")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"articlebot: no such file or folder: {tmp_path / 'no-such-folder'}\n"
    assert not (tmp_path / "data").exists()   # nothing was opened, so no empty store was made


def test_latest_marks_file_dates_in_chat_and_telegram(capsys, tmp_path, monkeypatch):
    import io

    from bot.engine import Engine
    from bot.cli.repl import run_repl
    from bot.settings import Settings
    from bot.telegram.render import render_latest

    _write(tmp_path / "news", "barrier.txt", ARTICLE, mtime=1_735_776_000)
    assert main(["ingest", "--quiet", str(tmp_path / "news")]) == 0
    engine = Engine.from_settings(Settings())
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("/latest\n"))
        capsys.readouterr()
        assert run_repl(engine, "t", {}) == 0
        chat = capsys.readouterr().out
        articles, total = engine.recent_articles(10), engine.stats().articles
    finally:
        engine.close()
    assert "— Saltmere Coast Network, undated (file date 2025-01-0" in chat
    telegram = render_latest(articles, total)
    assert telegram.startswith("<b>1 article, newest first:</b>")
    assert "— Saltmere Coast Network, undated (file date 2025-01-0" in telegram


def test_quiet_ingest_still_reports_what_it_could_not_read(tmp_path):
    """--quiet prints nothing but errors: a file over MAX_FILE_MB (a 25 MB .jsonl once went in silently, exit 1,
    and looked like an empty store afterwards) is such an error."""
    import os
    import subprocess
    import sys

    big = tmp_path / "big.txt"
    big.write_text("Harbour news\n\n" + "The ferry ran on time today. " * 40000)
    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(tmp_path / "data"), "MAX_FILE_MB": "1"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(big), "--quiet"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"skipped {big}" in done.stderr and "nothing could be read" in done.stderr, (done.stdout, done.stderr)


def test_an_undated_file_is_shown_undated_and_is_not_the_newest_article(capsys, tmp_path):
    """A file whose text gives no date (its file date today) comes after dated articles in `sources` and /latest, is
    not "current as of", and reaches answerers with no date of its own; its file date is still shown as such."""
    from bot.engine import Engine
    from bot.settings import Settings

    dated = ARTICLE.replace("Saltmere Coast Network\n", "Saltmere Coast Network\nPublished 5 January 2025\n")
    _write(tmp_path / "news", "dated.txt", dated.replace("Tidal barrier", "Dated barrier"))
    undated = _write(tmp_path / "news", "undated.txt", ARTICLE.replace("310 million", "320 million"))
    assert main(["ingest", "--quiet", str(tmp_path / "news")]) == 0
    assert main(["sources", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["published"] for a in listed][0] == "2025-01-05" and listed[1]["url"] == str(undated)
    assert main(["sources"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2025-01-05 ") and lines[2].startswith("undated (file date 20")

    engine = Engine.from_settings(Settings())
    try:
        assert engine.recent_articles(1)[0].published == "2025-01-05"
        assert engine.stats().last_published == "2025-01-05"
        [p] = [p for p in engine.retrieve("Kessel Sound barrier 320 million crowns", k=5) if p.path == str(undated)]
        assert p.published == "" and p.file_date and p.when == f"undated (file date {p.file_date})"
    finally:
        engine.close()
