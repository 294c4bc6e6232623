"""`articlebot forget WHAT` (ingest/forget.py): an article named by its path, URL or id, or every article under a folder,
leaves no trace (manifest, chunks, sentence vectors, BM25 index); a re-ingest brings it back; a kill -9 in the middle
of a forget, then the same command again, leaves a consistent store."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from test_collections import QUESTION, SET_A, SET_B, write_set

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def news(tmp_path):
    """Both fictional towns in one (default) collection: folders a/ and b/."""
    a, b = write_set(tmp_path / "a", SET_A), write_set(tmp_path / "b", SET_B)
    assert main(["ingest", "--quiet", str(a), str(b)]) == 0
    return a, b


def _sources(capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["sources", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _cited(capsys, question=QUESTION) -> list[str]:
    capsys.readouterr()
    assert main(["ask", question, "--json"]) == 0
    return [c["url"] for c in json.loads(capsys.readouterr().out)["citations"]]


def _traces(settings, word: str) -> dict:
    """What the store holds: manifest paths, chunk and sentence hashes, and whether the saved BM25 index is current
    and knows `word`."""
    from vectorstore import analysis, bm25index
    from vectorstore.store import open_store

    store = open_store(settings)
    try:
        lex = bm25index.load(store.settings, store.version())
        term = next(iter(analysis.bm25_tokenize([word]).vocab))
        chunks = store.chunks.get(include=["metadatas"])["metadatas"]
        return {
            "paths": sorted(r.meta["path"] for r in store.records()),
            "chunk_hashes": {m["article_hash"] for m in chunks},
            "sentence_hashes": {m["article_hash"] for m in store.sentences.get(include=["metadatas"])["metadatas"]},
            "index_current": lex is not None,
            "indexed": lex is not None and lex.bm25 is not None and term in lex.bm25.vocab_dict,
            "hash_of": {r.meta["path"]: r.content_hash for r in store.records()},
        }
    finally:
        store.close()


def test_forgetting_an_article_leaves_no_trace_and_a_reingest_brings_it_back(news, capsys, settings):
    a, _ = news
    strike = str(a / "tram-strike.md")
    assert strike in _cited(capsys)
    before = _traces(settings, "Rensk")
    h = before["hash_of"][strike]
    assert before["indexed"] and h in before["chunk_hashes"] and h in before["sentence_hashes"]

    capsys.readouterr()
    assert main(["forget", strike]) == 0
    assert capsys.readouterr().out == "Forgot 1 article (1 chunk) from collection 'default'.\n"
    assert strike not in [s["url"] for s in _sources(capsys)] and len(_sources(capsys)) == 4
    assert strike not in _cited(capsys)
    after = _traces(settings, "Rensk")  # Mayor Oda Rensk is in no other article
    assert after["index_current"] and not after["indexed"]
    assert h not in after["chunk_hashes"] and h not in after["sentence_hashes"] and strike not in after["paths"]

    assert main(["forget", strike]) == 1  # nothing left to forget: one line saying so
    assert "Nothing in collection 'default' matches" in capsys.readouterr().out

    assert main(["ingest", "--quiet", str(a)]) == 0
    assert strike in [s["url"] for s in _sources(capsys)] and strike in _cited(capsys)
    assert _traces(settings, "Rensk")["indexed"]


def test_a_folder_prefix_forgets_everything_under_it(news, capsys, tmp_path):
    a, b = news
    capsys.readouterr()
    assert main(["forget", str(a) + "/"]) == 0
    assert capsys.readouterr().out.startswith("Forgot 2 articles (2 chunks)")
    assert sorted(s["url"] for s in _sources(capsys)) == sorted(str(b / n) for n in SET_B)
    # a prefix is a folder, not the start of a name: "b" does not take "b-extra"
    extra = write_set(tmp_path / "b-extra", {"crane.md": SET_A["harbor-crane.md"]})
    assert main(["ingest", "--quiet", str(extra)]) == 0
    assert main(["forget", str(b)]) == 0
    assert [s["url"] for s in _sources(capsys)] == [str(extra / "crane.md")]


def test_forget_by_id_and_a_text_with_two_copies(tmp_path, capsys):
    one, two = write_set(tmp_path / "one", SET_B), write_set(tmp_path / "two", {"copy.md": SET_B["library.md"]})
    assert main(["ingest", "--quiet", str(one), str(two)]) == 0
    [library] = [s for s in _sources(capsys) if s["title"].startswith("Ostrava Bay library")]
    assert len(library["urls"]) == 2
    # one copy goes, the text stays with the other's link
    capsys.readouterr()
    assert main(["forget", str(two / "copy.md")]) == 0
    assert capsys.readouterr().out.startswith("Forgot 1 article (0 chunks)")
    [library] = [s for s in _sources(capsys) if s["title"].startswith("Ostrava Bay library")]
    assert library["urls"] == [str(one / "library.md")]
    # the id `sources` prints takes the text whatever its copies
    capsys.readouterr()
    assert main(["sources"]) == 0
    listing = capsys.readouterr().out
    assert f"{library['id']} " in listing and len(library["id"]) == 12
    assert main(["forget", library["id"]]) == 0
    assert not [s for s in _sources(capsys) if s["title"].startswith("Ostrava Bay library")]


# kill -9 at each step of a forget (of folder a/, or of one article): after the manifest entries went, between the
# sentence vectors and the chunks, and before the BM25 index was saved; and what the same command says when run again
# (the entries are gone, so the chunks left are found by the paths they carry)
KILL_AT = {
    "after the manifest": ("vectorstore.store:ArticleStore.delete_texts", "a", "Removed 2 chunks that an interrupted"),
    "between sentences and chunks": ("vectorstore.store:ArticleStore.delete_sentences", "a", "Removed 2 chunks that"),
    "before the BM25 index": ("vectorstore.bm25index:update", "a", "Nothing in collection 'default' matches"),
    "one article, after its entry": ("vectorstore.store:ArticleStore.delete_texts", "strike",
                                     "Removed 1 chunk that an interrupted forget of"),
}
RUNNER = """
import importlib, os, signal, sys
module, _, qualname = sys.argv[1].partition(":")
*owners, attr = qualname.split(".")
target = importlib.import_module(module)
for name in owners:
    target = getattr(target, name)
real = getattr(target, attr)
def kill(*args, **kwargs):
    if attr == "delete_sentences":
        real(*args, **kwargs)  # the sentences go, the chunks do not
    os.kill(os.getpid(), signal.SIGKILL)
setattr(target, attr, kill)
from bot.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("where", list(KILL_AT))
@pytest.mark.slow
def test_a_forget_killed_midway_then_run_again_leaves_a_consistent_store(news, capsys, settings, tmp_path, where):
    a, b = news
    strike = str(a / "tram-strike.md")
    h = _traces(settings, "Rensk")["hash_of"][strike]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    hook, what, again = KILL_AT[where]
    what, gone = (str(a), [strike, str(a / "harbor-crane.md")]) if what == "a" else (strike, [strike])
    killed = subprocess.run([sys.executable, "-c", RUNNER, hook, "forget", what], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    capsys.readouterr()
    main(["forget", what])  # the same command again finishes the job
    assert capsys.readouterr().out.startswith(again)
    after = _traces(settings, "Rensk")
    kept = [str(a / n) for n in SET_A] + [str(b / n) for n in SET_B]
    assert after["paths"] == sorted(set(kept) - set(gone))
    assert h not in after["chunk_hashes"] and h not in after["sentence_hashes"]
    assert after["chunk_hashes"] == set(after["hash_of"].values())  # every chunk is a listed article's
    assert after["sentence_hashes"] == after["chunk_hashes"]
    assert after["index_current"] and not after["indexed"]
    assert not set(gone) & set(_cited(capsys))
    assert main(["ingest", "--quiet", str(a)]) == 0
    assert strike in _cited(capsys)
