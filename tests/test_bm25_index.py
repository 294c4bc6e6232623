"""The saved BM25 index (vectorstore/bm25index.py): written by ingest, loaded by the next process instead of being
rebuilt, and rebuilt whenever it is stale or damaged; and what a question loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _article(i: int, title: str, text: str) -> dict:
    return {"title": title, "text": text, "url": f"https://gullholm-post.example/{i}", "published": "2025-03-1" + str(i % 10),
            "source": "Gullholm Post (fictional)"}


ARTICLES = [
    _article(1, "Tugboat ordered for the port", "The port authority ordered a tugboat under contract QX-7731-B. "
             "It will arrive in the spring and replace the old tug, which has served the harbour for forty years."),
    _article(2, "Ferry adds a night crossing", "The Gullholm ferry will run a night crossing from April. The operator "
             "said demand from shift workers had doubled since the fish plant reopened last autumn."),
    _article(3, "Library extends its hours", "The Gullholm library opens until nine on weekdays from next month. "
             "The council found the money after residents collected four hundred signatures."),
]
# long enough for two chunks, so answering widens a hit with its neighbour (and counts tokens to do so)
ARTICLES.append(_article(5, "Council approves the harbour budget", " ".join(
    f"Item {i}: the council approved {i * 3} thousand crowns for harbour works on quay {i}, after a short debate "
    f"about the tugboat, the ferry and the library." for i in range(1, 40))))
SEAL = _article(4, "Seal pup rescued at the north pier", "Volunteers rescued a harbour seal pup tangled in fishing "
                "line at the north pier on Sunday. The pup was taken to the Gullholm marine station.")


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def ingested(settings, store, embedder, tmp_path):
    from ingest.pipeline import ingest

    ingest(settings, store, [str(_write(tmp_path / "news.jsonl", ARTICLES))], embedder)
    return store


def _titles(retriever, query: str) -> list[str]:
    return [p.title for p in retriever.search(query, k=3)]


@pytest.mark.slow
def test_ingest_saves_the_index_and_the_next_process_loads_it_without_rebuilding(settings, ingested, embedder,
                                                                                monkeypatch):
    from vectorstore import bm25index
    from vectorstore.retrieval import Retriever

    assert (bm25index.index_dir(settings) / bm25index.STAMP).exists()
    built = _titles(Retriever(settings, ingested, embedder), "contract QX-7731-B")

    def no_rebuild(store):
        raise AssertionError("the saved index should have been loaded")

    monkeypatch.setattr(bm25index, "build", no_rebuild)
    retriever = Retriever(settings, ingested, embedder)
    assert _titles(retriever, "contract QX-7731-B") == built
    assert built[0] == "Tugboat ordered for the port"
    idx = retriever.index()
    (row, _), = idx.bm25_search("QX-7731-B", 1)
    assert idx.metas[row]["title"] == "Tugboat ordered for the port"  # text and metadata come from the store


def test_a_saved_index_that_does_not_mirror_the_store_is_rebuilt(settings, ingested, embedder, tmp_path):
    """Written by an older version of the store (here: its stamp says so): not trusted, rebuilt from the chunks."""
    from vectorstore import bm25index
    from vectorstore.retrieval import Retriever

    stamp_path = bm25index.index_dir(settings) / bm25index.STAMP
    stamp = json.loads(stamp_path.read_text())
    stamp["version"][2] = "some-older-write"
    stamp_path.write_text(json.dumps(stamp))
    assert bm25index.load(settings, ingested.version()) is None
    retriever = Retriever(settings, ingested, embedder)
    assert _titles(retriever, "contract QX-7731-B")[0] == "Tugboat ordered for the port"
    assert json.loads(stamp_path.read_text())["version"] == list(ingested.version())  # and saved again


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_damaged_saved_index_is_rebuilt(settings, ingested, embedder, damage):
    from vectorstore import bm25index
    from vectorstore.retrieval import Retriever

    data = bm25index.index_dir(settings) / "data.csc.index.npy"
    raw = data.read_bytes()
    if damage == "truncate":
        data.write_bytes(raw[:len(raw) // 2])
    elif damage == "flip":
        data.write_bytes(raw[:-4] + bytes(b ^ 0xFF for b in raw[-4:]))
    else:
        data.unlink()
    assert bm25index.load(settings, ingested.version()) is None
    assert _titles(Retriever(settings, ingested, embedder), "contract QX-7731-B")[0] == "Tugboat ordered for the port"
    assert bm25index.load(settings, ingested.version()) is not None


def test_every_write_changes_the_version_the_index_mirrors(settings, ingested, embedder, tmp_path):
    """A replaced article of the same length leaves both counts alone; the write token still changes."""
    from ingest.pipeline import ingest

    before = ingested.version()
    changed = [dict(a) for a in ARTICLES]
    changed[2]["text"] = changed[2]["text"].replace("nine", "ten")
    report = ingest(settings, ingested, [str(_write(tmp_path / "news.jsonl", changed))], embedder)
    assert report.replaced == 1
    after = ingested.version()
    assert after[:2] == before[:2] and after != before


@pytest.mark.slow  # articlebot processes
def test_an_ingest_by_another_process_is_answered_from_the_index_it_saved(settings, ingested, embedder, tmp_path):
    """`articlebot ingest` in a real process, then `articlebot search` in another: the new article is found through the
    index the ingest saved, which the search loads rather than rebuilds."""
    from vectorstore import bm25index
    from vectorstore.retrieval import Retriever

    assert SEAL["title"] not in _titles(Retriever(settings, ingested, embedder), "harbour seal pup rescued")
    ingested.close()
    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(REPO)}

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("ingest", str(_write(tmp_path / "seal.jsonl", [SEAL])))
    stamp = bm25index.index_dir(settings) / bm25index.STAMP
    saved = stamp.stat()
    hits = json.loads(cli("search", "harbour seal pup rescued", "--json"))
    assert hits[0]["title"] == SEAL["title"]
    assert (stamp.stat().st_ino, stamp.stat().st_mtime_ns) == (saved.st_ino, saved.st_mtime_ns)  # not rebuilt


def _modules_after(args: list[str], data_dir: Path, cwd: Path) -> tuple[set[str], subprocess.CompletedProcess]:
    """Run `python -m bot.cli ARGS` for real and report which modules it had imported when it finished."""
    probe = ("import json, runpy, sys\n"
             f"sys.argv = ['articlebot'] + {args!r}\n"
             "try:\n    runpy.run_module('bot.cli', run_name='__main__')\n"
             "except SystemExit as exc:\n    code = exc.code\n"
             "print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    return set(json.loads(line[len("MODULES "):])), done


QUESTIONS = [["ask", "Which contract is the new tugboat under?"], ["search", "night ferry crossing", "-k", "5"]]


@pytest.mark.parametrize("args", QUESTIONS, ids=["ask", "search"])
@pytest.mark.slow
def test_a_question_imports_no_ingest_machinery_and_no_torch(settings, ingested, tmp_path, args):
    """llama-index (with nltk and scipy.stats, ~2 s), trafilatura and feed parsing are ingest's, not a question's; and
    the ONNX embedder answers without torch, transformers or sentence-transformers (seconds and ~1 GB)."""
    ingested.close()
    modules, done = _modules_after(args, settings.data_dir, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "QX-7731-B" in done.stdout or "night crossing" in done.stdout
    heavy = {"llama_index.core", "nltk", "trafilatura", "feedparser", "pypdf", "openai"}
    assert not heavy & modules, sorted(heavy & modules)
    torch_like = {"torch", "transformers", "sentence_transformers"}
    assert not torch_like & modules, sorted(torch_like & modules)


def test_ingest_progress_shows_the_total_of_a_jsonl_file_and_a_folder_up_front(tmp_path, embedder, capsys):
    """Before anything is embedded the operator sees how much work there is: lines of a JSONL file (a malformed one
    included: it becomes a skip), files of a folder (an unsupported one included)."""
    from bot.cli import main

    jsonl = tmp_path / "news.jsonl"
    jsonl.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES[:3]) + "\n{not json\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "one.md").write_text("Harbour crane repaired\nThe Gullholm harbour crane was repaired on Monday.")
    (folder / "two.txt").write_text("Ferry late\nThe morning ferry to Gullholm was two hours late on Tuesday.")
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n")
    assert main(["ingest", str(jsonl), str(folder)]) == 0
    err = capsys.readouterr().err
    first = next(line for line in err.splitlines() if line.startswith("progress:"))
    assert first.startswith("progress: 0/7 articles"), err


@pytest.mark.slow  # a chroma run server
def test_a_running_reader_on_a_chroma_server_picks_up_an_ingest_by_another_process(tmp_path, embedder, monkeypatch):
    """A bot beside a Chroma server, and `articlebot ingest` in another process (with its own data dir, as on
    another machine): at its next check the bot sees the store's new version and rebuilds its own saved index."""
    from peers.chroma_server import ChromaServer

    from bot.settings import Settings
    import vectorstore.retrieval as retrieval
    from vectorstore import bm25index
    from vectorstore.store import open_store

    server = ChromaServer(tmp_path / "chroma").start()
    try:
        env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port),
               "ARTICLEBOT_DATA_DIR": str(tmp_path / "writer"), "ARTICLEBOT_COLLECTION": "refresh",
               "PYTHONPATH": str(REPO)}

        def ingest_elsewhere(rows, name):
            done = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(_write(tmp_path / name, rows))],
                                  env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr

        ingest_elsewhere(ARTICLES, "news.jsonl")
        settings = Settings(chroma_host="127.0.0.1", chroma_port=server.port, collection="refresh",
                            data_dir=tmp_path / "bot")
        store = open_store(settings)
        retriever = retrieval.Retriever(settings, store, embedder)
        assert SEAL["title"] not in _titles(retriever, "harbour seal pup rescued")
        mirrored = retriever.index().lexical.version
        ingest_elsewhere([SEAL], "seal.jsonl")
        monkeypatch.setattr(retrieval, "RECHECK_SECONDS", 0.0)
        assert _titles(retriever, "harbour seal pup rescued")[0] == SEAL["title"]
        assert retriever.index().lexical.version != mirrored
        assert bm25index.load(settings, store.version()) is not None  # the bot's own copy, saved again
        assert bm25index.index_dir(settings).name == f"127.0.0.1_{server.port}_refresh"
    finally:
        server.kill()
