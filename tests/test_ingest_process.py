"""Ingest as an operator runs it: real `articlebot` processes, reopened stores, and kill -9 mid-run."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys

import pytest

from vectorstore.store import split_chunk_id

TOWNS = ["Kettlevik", "Stillwater", "Harbor City", "Ravnsby", "Lindholm", "Grenmark", "Osterby", "Fjellvik"]
TOPICS = [("ferry", "the ferry timetable"), ("school", "a new school building"), ("bridge", "bridge repairs"),
          ("library", "the library's opening hours"), ("harbour", "a harbour crane"), ("park", "a skate park")]
N = 360  # articles; at CHUNK_SIZE=40 that is over 1,000 chunks
# The kill test needs a run long enough that two kills, each at most a quarter of the way in (counted in articles,
# not seconds), both land mid-run: ~25 articles land at a time.
N_KILL = 720
PEOPLE = ["Ada Lund", "Bo Strand", "Cai Moe", "Dag Ness", "Eli Vik", "Fia Dahl", "Gro Berg", "Hal Sand"]


def write_corpus(path, n):
    """n clearly fictional local-news articles, each with several distinct sentences."""
    rnd = random.Random(7)
    with open(path, "w") as fh:
        for i in range(n):
            town, (topic, what) = TOWNS[i % len(TOWNS)], TOPICS[i % len(TOPICS)]
            person = PEOPLE[rnd.randrange(len(PEOPLE))]
            sentences = [
                f"The {town} council voted {rnd.randint(3, 9)} to {rnd.randint(0, 4)} on proposal {i} about {what}.",
                f"Councillor {person} said the plan number {i} would cost {rnd.randint(1, 90)} thousand crowns.",
                f"Residents of {town} had collected {rnd.randint(100, 999)} signatures about {topic} item {i}.",
                f"Work on project {i} should start in {['March', 'May', 'June', 'August'][i % 4]} and take "
                f"{rnd.randint(2, 20)} weeks.",
                f"The local paper counted {rnd.randint(10, 99)} people at the meeting on case {i}.",
            ]
            fh.write(json.dumps({"id": f"a{i}", "url": f"https://{town.lower().replace(' ', '')}-post.example/{i}",
                                 "title": f"{town} council decides on {topic} plan {i}", "text": " ".join(sentences),
                                 "published": f"2025/0{1 + i % 9}/1{i % 10}", "source": f"{town} Post (fictional)"}) + "\n")


def run_cli(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e.update({"ARTICLEBOT_DATA_DIR": str(tmp_path / "data"), "CHUNK_SIZE": "40", "CHUNK_OVERLAP": "8",
              "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
    return e


PROBE = """
import json, sys
from bot.settings import Settings
from vectorstore.embeddings import build_embedder
from vectorstore.retrieval import Retriever
from vectorstore.store import open_store
s = Settings(); store = open_store(s)
top = Retriever(s, store, build_embedder(s)).search(sys.argv[1], k=3)
print(json.dumps({"count": store.count(), "top": [p.id for p in top]}))
"""


@pytest.mark.slow  # several articlebot processes
def test_a_new_process_sees_the_same_store_after_reopening(tmp_path, env):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, N)
    done = run_cli(["ingest", str(corpus), "--json"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["chunks_written"] > 1000
    query = "How many signatures did Fjellvik residents collect about the skate park item 95?"
    probes = [subprocess.run([sys.executable, "-c", PROBE, query], env=env, capture_output=True, text=True,
                             timeout=300) for _ in range(2)]
    first, second = (json.loads(p.stdout) for p in probes)
    assert first == second
    assert first["count"] == report["chunks_written"]
    again = run_cli(["ingest", str(corpus), "--json"], env)
    assert json.loads(again.stdout)["chunks_written"] == 0
    assert json.loads(again.stdout)["unchanged"] == N


# `articlebot ingest` with a plain progress line every 0.2 s instead of every 5 s, so the test can kill it at an
# article count rather than at a time: a timed kill raced the run (CI, faster than this machine, finished the writes
# of the resumed run before its kill and was killed while updating the BM25 index, so nothing was left to resume).
FAST_PROGRESS = """
import sys
import bot.cli.progress
class Fast(bot.cli.progress.Progress):
    def __init__(self, quiet, **kw):
        super().__init__(quiet, every=0.2, **kw)
bot.cli.progress.Progress = Fast
from bot.cli import main
sys.exit(main())
"""


def _kill_mid_run(corpus, env, at):
    """kill -9 the ingest once a progress line shows at least `at` articles embedded and stored by this run."""
    proc = subprocess.Popen([sys.executable, "-c", FAST_PROGRESS, "ingest", str(corpus)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stderr.readline()
        assert line.startswith("progress:"), line
        done, total = (int(n) for n in line.split()[1].split("/"))
        ingested = re.search(r"ingested (\d+)", line)
        if ingested and int(ingested.group(1)) >= at:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert done < total, "the run finished its writes before the kill"
    return int(ingested.group(1))


@pytest.mark.slow  # the kill test: two kill -9s into a 720-article ingest, then a full re-run
def test_killed_ingest_rerun_ends_complete_with_no_duplicates_or_orphans(tmp_path, env, settings):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, N_KILL)
    rnd = random.Random()
    # each kill lands after the first batch of its run is stored and well before the last
    for _ in range(2):
        _kill_mid_run(corpus, env, rnd.randint(1, N_KILL // 4))

    from bot.settings import Settings
    from vectorstore.store import open_store

    interrupted = open_store(Settings(data_dir=tmp_path / "data"))
    partial = len(interrupted.records())
    interrupted.close()
    assert 0 < partial < N_KILL, "the kills should land mid-run"
    final = run_cli(["ingest", str(corpus), "--json"], env)
    assert final.returncode == 0, final.stderr

    store = open_store(Settings(data_dir=tmp_path / "data"))
    try:
        records = store.records()
        assert sorted(r.source_key.rsplit("#", 1)[1] for r in records) == sorted(
            f"https://{t.lower().replace(' ', '')}-post.example/{i}" for i, t in
            ((i, TOWNS[i % len(TOWNS)]) for i in range(N_KILL)))
        expected = {r.content_hash: r.n_chunks for r in records}
        ids = store.chunks.get(include=[])["ids"]
        assert len(ids) == len(set(ids)) == sum(expected.values())
        for cid in ids:
            h, pos = split_chunk_id(cid)
            assert pos < expected[h], f"orphan chunk {cid}"
        owners = {m["chunk"] for m in store.sentences.get(include=["metadatas"])["metadatas"]}
        assert owners == set(ids)  # every chunk has its sentences, and no sentence outlives its chunk
    finally:
        store.close()
