"""Embedded mode allows one process per data dir (vectorstore/store.py DataDirLock): a second one is refused with
a message pointing at server mode, and the first one keeps working. Real `articlebot` processes throughout."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "articles"


@pytest.fixture
def env(tmp_path):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "CHROMA_", "ARTICLEBOT_"))}
    e.update({"ARTICLEBOT_DATA_DIR": str(tmp_path / "data"), "ARTICLEBOT_MODEL_DIR": os.environ["ARTICLEBOT_MODEL_DIR"],
              "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
    return e


def cli(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


class Chat:
    """`articlebot chat` with its stdin kept open: it holds the engine (and the data-dir lock) until stdin closes."""

    def __init__(self, env, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat"], env=env, cwd=cwd, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait_for(self, needle: str, timeout: float = 120) -> str:
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                seen.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if needle in seen[-1]:
                return "".join(seen)
        raise AssertionError(f"{needle!r} not seen; got {''.join(seen)!r}; stderr "
                             f"{self.proc.stderr.read() if self.proc.poll() is not None else ''}")


def assert_refused(result, holder_pid: int):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    msg = lines[0]
    assert msg.startswith("articlebot: ") and "in use by another articlebot process" in msg
    assert f"pid {holder_pid}" in msg
    assert "CHROMA_HOST" in msg  # tells the operator what to do instead


@pytest.mark.slow  # articlebot processes holding and killing locks
def test_second_process_is_refused_and_first_keeps_answering(env, tmp_path):
    first = cli(["ingest", str(EXAMPLES)], env, tmp_path)
    assert first.returncode == 0, first.stderr

    chat = Chat(env, tmp_path)
    try:
        chat.send("/help")
        chat.wait_for("/sources")  # the engine is open, so the lock is held

        assert_refused(cli(["ingest", str(EXAMPLES)], env, tmp_path), chat.proc.pid)
        assert_refused(cli(["ask", "How much did the Lantern Bridge repair cost?"], env, tmp_path), chat.proc.pid)
        assert_refused(cli(["sources"], env, tmp_path), chat.proc.pid)

        chat.send("How much did the Lantern Bridge repair cost?")
        reply = chat.wait_for("Sources:")
        assert "Lantern" in reply or "Lantern" in chat.wait_for("Lantern", timeout=10)
        chat.proc.stdin.close()
        assert chat.proc.wait(timeout=60) == 0
    finally:
        if chat.proc.poll() is None:
            chat.proc.kill()
            chat.proc.wait()

    # lock released on exit; the store is intact: nothing to redo
    again = cli(["ingest", str(EXAMPLES), "--json"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert '"chunks_written": 0' in again.stdout and '"ingested": 0' in again.stdout


@pytest.mark.slow  # articlebot processes holding and killing locks
def test_lock_of_a_killed_process_does_not_block(env, tmp_path):
    """The lock is an OS file lock: kill -9 releases it, the stale pid file does not block the next run."""
    chat = Chat(env, tmp_path)
    try:
        chat.send("/help")
        chat.wait_for("/sources")
        assert_refused(cli(["sources"], env, tmp_path), chat.proc.pid)
        chat.proc.send_signal(signal.SIGKILL)
        chat.proc.wait(timeout=30)
    finally:
        if chat.proc.poll() is None:
            chat.proc.kill()
            chat.proc.wait()
    assert (tmp_path / "data" / "articlebot.pid").read_text().strip() == str(chat.proc.pid)
    result = cli(["ingest", str(EXAMPLES)], env, tmp_path)
    assert result.returncode == 0, result.stderr


def test_server_mode_takes_no_data_dir_lock(tmp_path, monkeypatch):
    """With CHROMA_HOST set, open_store must not touch the data-dir lock (several processes share a server)."""
    from bot.settings import Settings
    from vectorstore.store import DataDirLock, StoreError, open_store

    held = DataDirLock(tmp_path / "data")
    held.acquire()
    try:
        # embedded: refused, even within one process (a second lock on the same file)
        with pytest.raises(StoreError, match="CHROMA_HOST"):
            open_store(Settings(data_dir=tmp_path / "data"))
        # server mode: gets past the lock and fails only on the (absent) server, tried once (the wait for a server
        # that comes up late is test_start_up's)
        port = _closed_port()
        with pytest.raises(StoreError, match="cannot reach the Chroma server"):
            open_store(Settings(data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port,
                                chroma_start_timeout=0))
    finally:
        held.release()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
