"""Start-up against peers that are not there yet: the bot and ingest wait (bounded, with backoff, one line per try)
instead of crash-looping, and an invalid token stops at once. Real `articlebot` processes, loopback peers only."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from peers.botapi_server import TOKEN, BotAPIServer
from peers.chroma_server import ChromaServer, free_port

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "articles"
TRY_LINE = re.compile(r"try (\d+) failed, next in ([\d.]+) s")


def env_for(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "TELEGRAM_", "CHROMA_", "ARTICLEBOT_"))}
    env.update({"ARTICLEBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO),
                "ARTICLEBOT_MODEL_DIR": os.environ["ARTICLEBOT_MODEL_DIR"],  # the run's converted model
                "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_USERS": "42"}, **extra)
    return env


def articlebot(args: list[str], env: dict, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


LOADING = "Loading the model and index"  # the bot's one start-up line before it contacts Telegram


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if line.strip() and not line.startswith("progress:") and LOADING not in line]


def first_line(proc: subprocess.Popen) -> str:
    """The first line on stderr after the loading line."""
    line = proc.stderr.readline()
    return proc.stderr.readline() if LOADING in line else line


@pytest.fixture
def api():
    server = BotAPIServer().start()
    yield server
    server.stop()


@pytest.mark.slow  # start-up backoff waits
def test_bot_with_no_route_to_telegram_retries_with_backoff_one_line_each_then_exits_nonzero(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/bot"
    proc = articlebot(["telegram"], env_for(tmp_path, TELEGRAM_BASE_URL=closed, TELEGRAM_START_TIMEOUT="8"), tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "Traceback" not in err, err
    *tries, last = lines(err)
    assert len(tries) >= 3, err
    assert all("Telegram Bot API at 127.0.0.1" in t and "not reachable" in t and "ConnectError" in t for t in tries)
    waits = [float(TRY_LINE.search(t).group(2)) for t in tries]
    assert [int(TRY_LINE.search(t).group(1)) for t in tries] == list(range(1, len(tries) + 1))
    assert 1 <= waits[0] <= 2 and 2 <= waits[1] <= 3, waits  # 1 s doubling, plus up to 1 s of jitter
    assert last.startswith("articlebot: cannot reach the Telegram Bot API at 127.0.0.1"), last
    assert f"tried {len(tries) + 1} times" in last and "exiting" in last


@pytest.mark.slow
def test_sigterm_while_waiting_for_telegram_stops_at_once_with_one_line(tmp_path):
    """`docker stop` on a bot that is still waiting: PID 1 in a container ignores signals it has no handler for."""
    closed = f"http://127.0.0.1:{free_port()}/bot"
    proc = articlebot(["telegram"], env_for(tmp_path, TELEGRAM_BASE_URL=closed, TELEGRAM_START_TIMEOUT="600"), tmp_path)
    first = first_line(proc)
    assert "not reachable" in first and "try 1 failed" in first, first
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert lines(err)[-1] == "articlebot: stopped while waiting for the Telegram Bot API", err
    assert "Traceback" not in err


@pytest.mark.slow
def test_invalid_token_exits_at_once_with_one_line(api, tmp_path):
    api.fail_calls(-1, 401)
    proc = articlebot(["telegram"], env_for(tmp_path, TELEGRAM_BASE_URL=api.base_url), tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert lines(err) == ["articlebot: Telegram rejected the bot token (Unauthorized): check TELEGRAM_BOT_TOKEN "
                          "(and TELEGRAM_BASE_URL); @BotFather shows the current token."], err
    assert [c.method for c in api.calls] == ["getMe"]  # asked once: retrying cannot help
    assert TOKEN not in err


@pytest.mark.slow  # start-up backoff waits
def test_bot_waits_out_a_bot_api_outage_at_start_and_while_polling_then_answers(api, tmp_path):
    api.fail_calls(2, 502)  # getMe fails twice, then Telegram is back
    proc = articlebot(["telegram"], env_for(tmp_path, TELEGRAM_BASE_URL=api.base_url), tmp_path)
    try:
        api.wait_for(lambda a: a.sent(method="deleteWebhook"), timeout=90)  # the last call before polling
        api.fail_calls(2, 502)  # and an outage while polling
        api.wait_for(lambda a: a.outage[0] == 0, timeout=60)
        api.push_text(42, 42, "/help")
        reply = api.wait_for(lambda a: a.texts(42), timeout=60)
        assert "I have no articles yet" in reply[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    starting = [line for line in lines(err) if "not reachable (Bad Gateway); try" in line]
    polling = [line for line in lines(err) if "polling Telegram failed, retrying with backoff: Bad Gateway" in line]
    assert len(starting) == 2 and len(polling) == 2, err


@pytest.mark.slow  # start-up backoff waits
def test_chroma_server_down_at_start_is_retried_then_reported_in_one_line(tmp_path):
    env = env_for(tmp_path, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(free_port()), CHROMA_START_TIMEOUT="4")
    proc = articlebot(["sources"], env, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and out == ""
    assert "Traceback" not in err, err
    *tries, last = lines(err)
    assert tries and all("Chroma server at 127.0.0.1" in t and "Connection refused" in t for t in tries), err
    assert last.startswith("articlebot: cannot reach the Chroma server at 127.0.0.1:"), last
    assert f"tried {len(tries) + 1} times" in last and last.endswith("Is it running?")


@pytest.mark.slow
def test_health_does_not_wait_for_a_chroma_server_that_is_down(tmp_path):
    env = env_for(tmp_path, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(free_port()), CHROMA_START_TIMEOUT="600")
    proc = articlebot(["health", "--quick", "--allow-empty"], env, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert out.startswith("unhealthy: cannot reach the Chroma server") and "tried" not in out, out
    assert "try 1 failed" not in err and "Traceback" not in err, err


@pytest.mark.slow  # start-up backoff waits
def test_ingest_waits_for_a_chroma_server_that_comes_up_late_then_ask_answers(tmp_path):
    port = free_port()
    env = env_for(tmp_path, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port), CHROMA_START_TIMEOUT="180")
    proc = articlebot(["ingest", str(EXAMPLES), "--json"], env, tmp_path)
    server = ChromaServer(tmp_path / "db", port=port)
    try:
        first = proc.stderr.readline()  # ingest has started and found nobody there
        assert "Chroma server at 127.0.0.1" in first and "not reachable" in first, first
        server.start()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, first + err
        assert "Traceback" not in err
        report = json.loads(out)
        assert report["ingested"] >= 4 and report["chunks_written"] > 0
        ask = articlebot(["ask", "How much did the Lantern Bridge repair cost?", "--json"], env, tmp_path)
        out, err = ask.communicate(timeout=300)
        assert ask.returncode == 0, err
        answer = json.loads(out)
        assert answer["citations"] and "[1]" in answer["answer"]
    finally:
        if proc.poll() is None:
            proc.kill()
        server.kill()
