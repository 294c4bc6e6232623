"""Named collections in one data home (vectorstore/collections.py): two fictional article sets in collections `a` and
`b`, each question answered from its own collection only; `articlebot collections` lists them with their counts;
names people type, mistyped ones, and deleting a collection. The same over a Chroma server (slow)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

REPO = Path(__file__).resolve().parents[1]

def article(title: str, outlet: str, published: str, body: str) -> str:
    return f"{title}\n{outlet}\nPublished {published}\n\n{body}\n"


# two fictional towns, each with a tram story, so one question fits both collections
VELLMOOR, BAY = "The Vellmoor Courier (fictional)", "Bay Evening Post (fictional)"
SET_A = {
    "tram-strike.md": article(
        "Tram drivers in Vellmoor end three-day strike", VELLMOOR, "4 February 2025",
        "Tram drivers in Vellmoor returned to work on Tuesday after a three-day strike over night-shift pay. The union, "
        "Vellmoor Transit Workers, accepted a raise of 7 percent for night shifts. Mayor Oda Rensk said the tram "
        "agreement would cost the city 2.3 million crowns a year."),
    "harbor-crane.md": article(
        "New crane doubles container handling at Vellmoor harbor", VELLMOOR, "10 February 2025",
        "A new ship-to-shore crane at Vellmoor harbor went into service on Monday, doubling the number of containers "
        "the port can move in a day to 1,400. The crane, built by Tessar Heavy Lift, cost 31 million crowns."),
}
SET_B = {
    "library.md": article(
        "Ostrava Bay library reopens after flood repairs", BAY, "6 February 2025",
        "The central library of Ostrava Bay reopened on Saturday after a year of repairs following the flood of last "
        "winter. Librarian Mirek Sallow said 12,000 books had been restored by hand. The repairs cost 5.6 million "
        "crowns."),
    "tram-fares.md": article(
        "Ostrava Bay trams to cost less for students", BAY, "12 February 2025",
        "Students in Ostrava Bay will pay half fare on the city's trams from March, the transport board decided on "
        "Wednesday. The board's chair, Ilse Marrow, said the tram discount would cost the city 900,000 crowns a year."),
    "ferry.md": article(
        "Ostrava Bay ferry gets a second boat", BAY, "14 February 2025",
        "The Ostrava Bay harbour ferry will run a second boat from April, cutting the wait at rush hour to ten "
        "minutes."),
}
QUESTION = "How much will the tram deal cost the city?"


def write_set(folder: Path, articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def two_sets(tmp_path):
    a, b = write_set(tmp_path / "a", SET_A), write_set(tmp_path / "b", SET_B)
    assert main(["ingest", "--quiet", str(a), "--collection", "a"]) == 0
    assert main(["ingest", "--quiet", str(b), "--collection", "b"]) == 0
    return a, b


def _ask(capsys, *args) -> dict:
    capsys.readouterr()
    assert main(["ask", QUESTION, "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_question_sees_only_its_own_collection(two_sets, capsys, monkeypatch):
    a, b = two_sets
    from_a = _ask(capsys, "--collection", "a")
    assert "2.3 million crowns" in from_a["answer"] and "900,000" not in from_a["answer"]
    assert from_a["citations"] and all(c["url"].startswith(str(a)) for c in from_a["citations"])
    from_b = _ask(capsys, "--collection", "b")
    assert "900,000 crowns" in from_b["answer"] and "2.3 million" not in from_b["answer"]
    assert from_b["citations"] and all(c["url"].startswith(str(b)) for c in from_b["citations"])
    # ARTICLEBOT_COLLECTION sets the default; search and sources take the collection too
    monkeypatch.setenv("ARTICLEBOT_COLLECTION", "b")
    assert _ask(capsys)["answer"] == from_b["answer"]
    assert main(["search", "tram", "--json", "--collection", "a"]) == 0
    assert {p["url"] for p in json.loads(capsys.readouterr().out)} <= {str(a / n) for n in SET_A}
    assert main(["sources", "--json"]) == 0
    assert sorted(p["url"] for p in json.loads(capsys.readouterr().out)) == sorted(str(b / n) for n in SET_B)


def test_collections_lists_each_with_its_counts(two_sets, capsys, tmp_path):
    capsys.readouterr()
    assert main(["collections", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"a", "b"}
    assert (rows["a"]["articles"], rows["a"]["chunks"], rows["a"]["newest"]) == (2, 2, "2025-02-10")
    assert (rows["b"]["articles"], rows["b"]["chunks"], rows["b"]["newest"]) == (3, 3, "2025-02-14")
    assert main(["collections"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["collection", "articles", "chunks", "newest", "article"]
    assert out[1].split() == ["a", "2", "2", "2025-02-10"] and out[2].split() == ["b", "3", "3", "2025-02-14"]
    assert out[-1] == f"2 collections in {tmp_path / 'data'}"


def test_a_mistyped_collection_is_one_line_and_makes_nothing(two_sets, capsys):
    capsys.readouterr()
    assert main(["ask", QUESTION, "--collection", "bb"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("articlebot: no collection named 'bb': ") and err.count("\n") == 1
    assert main(["sources", "--collection", "no such"]) == 2
    assert "not a collection name: 'no such'" in capsys.readouterr().err
    assert main(["collections", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["a", "b"]


def test_deleting_a_collection_asks_first_and_takes_everything(two_sets, capsys, tmp_path, monkeypatch):
    from vectorstore.chroma import open_client
    from bot.settings import Settings

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    capsys.readouterr()
    assert main(["collections", "--delete", "a"]) == 1
    assert capsys.readouterr().out == "Nothing deleted.\n"
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["collections", "--delete", "a"]) == 0
    assert capsys.readouterr().out == "Deleted collection 'a' (2 articles, 2 chunks).\n"
    client = open_client(Settings())
    assert sorted(c.name for c in client.list_collections()) == [
        "collection.b", "collection.b__articles", "collection.b__sentences"]
    assert not (tmp_path / "data" / "bm25" / "collection.a").exists()
    assert main(["collections", "--delete", "a", "--yes"]) == 2
    assert "no collection named 'a'" in capsys.readouterr().err
    # b is untouched, and a can be made again
    assert _ask(capsys, "--collection", "b")["citations"]
    assert main(["ingest", "--quiet", str(two_sets[0]), "--collection", "a"]) == 0
    assert "2.3 million crowns" in _ask(capsys, "--collection", "a")["answer"]


def test_names_map_to_chroma_names_and_back():
    from vectorstore.collections import CollectionError, check_name, chroma_name, name_of

    assert chroma_name("default") == chroma_name("articles") == "articles"  # the store made before collections
    assert check_name("articles") == "default"
    assert chroma_name("markets") == "markets"  # as ARTICLEBOT_COLLECTION=markets named it before
    assert chroma_name("a") == "collection.a" and chroma_name("b2") == "collection.b2"  # Chroma wants 3 or more
    for name in ("default", "a", "b2", "markets", "city-news", "x_1"):
        assert name_of(chroma_name(name)) == name
    assert name_of("articles__sentences") is None and name_of("collection.x__y") is None
    for bad in ("", "a b", "-a", "a-", "x__articles", "a.b", "ü", "x" * 41):
        with pytest.raises(CollectionError, match="not a collection name"):
            check_name(bad)


@pytest.mark.slow  # a `chroma run` server
def test_collections_over_a_chroma_server(tmp_path):
    from peers.chroma_server import ChromaServer

    server = ChromaServer(tmp_path / "db").start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_", "ARTICLEBOT_"))}
        env.update(CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(server.port), ARTICLEBOT_DATA_DIR=str(tmp_path / "data"),
                   ARTICLEBOT_MODEL_DIR=os.environ["ARTICLEBOT_MODEL_DIR"], PYTHONPATH=str(REPO))

        def cli(*args):
            done = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            return done.stdout

        a, b = write_set(tmp_path / "a", SET_A), write_set(tmp_path / "b", SET_B)
        cli("ingest", "-q", str(a), "--collection", "a")
        cli("ingest", "-q", str(b), "--collection", "b")
        rows = {r["name"]: (r["articles"], r["chunks"]) for r in json.loads(cli("collections", "--json"))}
        assert rows == {"a": (2, 2), "b": (3, 3)}
        from_a = json.loads(cli("ask", QUESTION, "--json", "--collection", "a"))
        assert "2.3 million" in from_a["answer"] and all(c["url"].startswith(str(a)) for c in from_a["citations"])
        from_b = json.loads(cli("ask", QUESTION, "--json", "--collection", "b"))
        assert "900,000" in from_b["answer"] and all(c["url"].startswith(str(b)) for c in from_b["citations"])
        assert cli("forget", str(b / "tram-fares.md"), "--collection", "b").startswith("Forgot 1 article (1 chunk)")
        assert "900,000" not in json.loads(cli("ask", QUESTION, "--json", "--collection", "b"))["answer"]
        cli("collections", "--delete", "a", "--yes")
        assert [r["name"] for r in json.loads(cli("collections", "--json"))] == ["b"]
    finally:
        server.kill()


@pytest.mark.slow
def test_each_collection_follows_its_own_sources_and_follow_run_polls_them_all(tmp_path, capsys):
    import time

    b = write_set(tmp_path / "b", SET_B)
    capsys.readouterr()
    assert main(["follow", "add", str(b), "--every", "1s", "--collection", "b"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"following {b} every 1s", f"{b}: 3 new or changed articles"]
    assert main(["follow", "list", "--json", "--collection", "b"]) == 0
    assert [f["source"] for f in json.loads(capsys.readouterr().out)] == [str(b)]
    assert main(["follow", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # the default collection follows nothing

    write_set(b, {"market.md": article("Ostrava Bay opens a night market", BAY, "15 February 2025",
                                       "Ostrava Bay opened a night market on the harbour quay on Friday, with 60 "
                                       "stalls, the market board's chair Petra Lind said.")})
    time.sleep(1.1)  # the folder is due again
    assert main(["follow", "run", "--once"]) == 0
    assert capsys.readouterr().out == f"[b] {b}: 1 new or changed article\n"
    assert main(["collections", "--json"]) == 0
    # (`follow run` opened the default collection too: it is always there, empty here)
    assert [(r["name"], r["articles"]) for r in json.loads(capsys.readouterr().out)] == [("default", 0), ("b", 4)]
