"""Server mode for real: a `chroma run` server on loopback and `articlebot` processes sharing it.

One server per module (it takes seconds to start); each test uses its own collection so tests stay independent.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from peers.chroma_server import ChromaServer, free_port

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "articles"
pytestmark = [pytest.mark.slow,  # `chroma run` servers and articlebot processes: tens of seconds per test
              pytest.mark.xdist_group("chroma-server")]  # one worker starts the module's server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ChromaServer(tmp_path_factory.mktemp("chroma") / "db").start()
    yield srv
    srv.kill()


def server_env(server: ChromaServer, data_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "TELEGRAM_", "CHROMA_", "ARTICLEBOT_"))}
    env.update({"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port), "ARTICLEBOT_DATA_DIR": str(data_dir),
                "ARTICLEBOT_MODEL_DIR": os.environ["ARTICLEBOT_MODEL_DIR"], "PYTHONPATH": str(REPO)}, **extra)
    return env


def cli(args: list[str], env: dict, cwd: Path, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, **kw)


def chunk_ids(server: ChromaServer, collection: str) -> list[str]:
    return server.client().get_collection(collection).get(include=[])["ids"]


def write_corpus(path: Path, n: int, sentences: int = 12) -> None:
    """n fictional articles, each with distinct sentences (so each has its own chunks)."""
    with path.open("w") as fh:
        for i in range(n):
            text = " ".join(f"Sentence {j} of report {i}: the Osterby council counted {i * 7 + j} boats "
                            f"near pier {j} while the ferry number {i} waited." for j in range(sentences))
            fh.write(json.dumps({"title": f"Osterby harbour report {i}", "text": text,
                                 "url": f"https://osterby-post.example/{i}", "published": "2025-03-0"
                                 f"{1 + i % 9}", "source": "Osterby Post (fictional)"}) + "\n")


def test_compose_healthcheck_command_passes_against_a_real_server(server):
    """The chroma service's healthcheck (bash /dev/tcp heartbeat) works on a real server, and fails without one."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    test = compose["services"]["chroma"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "/bin/bash", "-c"]
    script = test[3]
    assert "/127.0.0.1/8000" in script
    ok = subprocess.run(["bash", "-c", script.replace("/8000", f"/{server.port}")], capture_output=True, timeout=10)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(["bash", "-c", script.replace("/8000", f"/{free_port()}")], capture_output=True, timeout=10)
    assert bad.returncode != 0


def test_ingest_reingest_search_ask(server, tmp_path):
    env = server_env(server, tmp_path / "data", ARTICLEBOT_COLLECTION="examples")
    first = cli(["ingest", str(EXAMPLES), "--json"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["ingested"] >= 4 and report["chunks_written"] > 0
    ids = chunk_ids(server, "examples")
    assert len(ids) == report["chunks_written"]
    # server mode takes no data-dir lock and keeps no store under the data dir
    assert not (tmp_path / "data" / "chroma").exists()

    again = cli(["ingest", str(EXAMPLES), "--json"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    report2 = json.loads(again.stdout)
    assert report2["chunks_written"] == 0 and report2["ingested"] == 0
    assert report2["unchanged"] == report["ingested"] + report["duplicates"]
    assert sorted(chunk_ids(server, "examples")) == sorted(ids)

    found = cli(["search", "Lantern Bridge repair cost", "--json", "-k", "3"], env, tmp_path)
    assert found.returncode == 0, found.stderr
    passages = json.loads(found.stdout)
    assert passages and "Lantern Bridge" in json.dumps(passages[0])

    asked = cli(["ask", "How much did the Lantern Bridge repair cost?", "--json"], env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["citations"], answer
    assert any("lantern" in (c.get("title", "") + c.get("url", "") + c.get("source", "")).lower()
               for c in answer["citations"])
    assert "[1]" in answer["answer"]

    health = cli(["health"], env, tmp_path)
    assert health.returncode == 0 and health.stdout.startswith("ok:"), health.stdout + health.stderr


def test_two_ingests_at_once_store_each_chunk_once(server, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 16, sentences=6)
    extra = {"CHUNK_SIZE": "40", "CHUNK_OVERLAP": "8"}
    single = cli(["ingest", str(corpus), "--json"], server_env(server, tmp_path / "d0", ARTICLEBOT_COLLECTION="single",
                                                               **extra), tmp_path)
    assert single.returncode == 0, single.stderr
    expected = sorted(chunk_ids(server, "single"))
    assert len(expected) > 16

    env = server_env(server, tmp_path / "d1", ARTICLEBOT_COLLECTION="together", **extra)
    procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(corpus), "--json"], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    got = chunk_ids(server, "together")
    assert len(got) == len(set(got))
    assert sorted(got) == expected  # same deterministic ids as one run: nothing stored twice
    docs = server.client().get_collection("together").get(include=["documents"])["documents"]
    assert len(docs) == len(set(docs))
    manifest = server.client().get_collection("together__articles").get(include=[])["ids"]
    assert len(manifest) == 16
    # and a third run finds everything in place
    again = cli(["ingest", str(corpus), "--json"], env, tmp_path)
    assert json.loads(again.stdout)["chunks_written"] == 0


def test_a_server_lost_while_the_manifest_is_read_says_so_in_one_line(server, tmp_path, monkeypatch):
    """The kill below can land on the manifest read after a write as well as on a write; both say which server was
    lost and what to do (the read said only "cannot read collection …: Connection reset by peer")."""
    import httpx

    from bot.settings import Settings
    from vectorstore.store import StoreError, open_store

    settings = Settings(chroma_host="127.0.0.1", chroma_port=server.port, data_dir=tmp_path / "data",
                        collection="lostread")
    store = open_store(settings)
    try:
        store.version()  # reads fine while the server is up

        def reset(*args, **kwargs):
            raise httpx.ReadError("[Errno 104] Connection reset by peer")

        monkeypatch.setattr(store.client, "get_collection", reset)
        with pytest.raises(StoreError, match=rf"lost the Chroma server at 127.0.0.1:{server.port} .*Re-run"):
            store.version()
    finally:
        store.close()


def test_server_killed_mid_ingest_then_rerun(tmp_path):
    """Own server (this one gets killed): ingest fails with one clear line, a re-run after restart completes."""
    srv = ChromaServer(tmp_path / "db").start()
    try:
        corpus = tmp_path / "corpus.jsonl"
        n = 40  # ~400 chunks at CHUNK_SIZE=40: two 256-chunk flushes, so the kill lands mid-run
        write_corpus(corpus, n)
        env = server_env(srv, tmp_path / "data", ARTICLEBOT_COLLECTION="killed", CHUNK_SIZE="40", CHUNK_OVERLAP="8",
                         EMBED_BATCH_SIZE="8")
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(corpus)], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            try:
                if srv.client().get_collection("killed").count() > 0:
                    break
            except Exception:
                pass  # collection not created yet
            time.sleep(0.3)
        assert proc.poll() is None, "ingest finished before the server could be killed: make the corpus bigger"
        srv.kill()
        out, err = proc.communicate(timeout=240)
        assert proc.returncode not in (0, None)
        assert "Traceback" not in err, err
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("progress:")]
        assert len(lines) == 1, err
        assert lines[0].startswith("articlebot: ") and "Chroma server" in lines[0], lines[0]

        srv.start()
        rerun = cli(["ingest", str(corpus), "--json"], env, tmp_path, timeout=400)
        assert rerun.returncode == 0, rerun.stderr
        col = srv.client().get_collection("killed")
        manifest = srv.client().get_collection("killed__articles").get(include=["metadatas"])["metadatas"]
        assert len(manifest) == n
        wanted = {f"{m['content_hash']}-{i:05d}" for m in manifest for i in range(int(m["n_chunks"]))}
        ids = col.get(include=[])["ids"]
        assert set(ids) == wanted and len(ids) == len(wanted)
    finally:
        srv.kill()
