"""Every test gets its own data dir and an environment with no OPENAI_*, TELEGRAM_*, CHROMA_* leaking in.

The suite runs in two pytest-xdist workers (pyproject's addopts; `-n 0` runs it in this one process). The embedding
model is converted to ONNX once per run, into one model dir every test of every worker shares (the conversion holds
a file lock, so one worker converts and the others wait for it), and loaded once per worker. The Telegram fixtures
(a loopback Bot API server, a bot polling it) and the helpers that read what the bot sent live here too: the
Telegram, follow and worker-pool tests all drive the same bot.
"""
from __future__ import annotations

import argparse
import os
import re
import threading
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLES = REPO / "examples" / "articles"
DATA = Path(__file__).resolve().parent / "data"


def pytest_addoption(parser, pluginmanager):
    if not pluginmanager.has_plugin("xdist"):
        # pyproject's addopts ask pytest-xdist for two workers; without it (`-p no:xdist`, or not installed) the
        # options are accepted and the suite runs in this one process
        parser.addoption("--numprocesses", default=None, help=argparse.SUPPRESS)
        parser.addoption("--dist", default="no", help=argparse.SUPPRESS)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """One converted-model cache for the whole run, shared by the xdist workers: converting takes seconds."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's base temp; each worker's own is a folder in it
    path = base / "models"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def onnx_runtime_does_not_spin():
    """ONNX Runtime's worker threads spin-wait after every run by default. Two test workers on two cores then spend
    a third of the suite's CPU spinning against each other; in the tests' own process they sleep instead, which
    changes no result (the CLI processes the tests start run with the product's options)."""
    from vectorstore.embeddings import onnx_backend

    product = onnx_backend.session_options

    def options():
        o = product()
        o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return o

    onnx_backend.session_options = options
    yield
    onnx_backend.session_options = product


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path, model_dir):
    for key in list(os.environ):
        if key.startswith(("OPENAI_", "TELEGRAM_", "CHROMA_", "ARTICLEBOT_", "EMBED_")) or key in ("CHUNK_SIZE", "CHUNK_OVERLAP", "TOP_K", "SENTENCE_VECTORS"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ARTICLEBOT_MODEL_DIR", str(model_dir))
    # .env in the working directory must not reach tests
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder(model_dir):
    """The default embedder (the bundled model through ONNX Runtime)."""
    from bot.settings import Settings
    from vectorstore.embeddings import build_embedder

    return build_embedder(Settings(model_dir=model_dir))


@pytest.fixture
def settings(tmp_path):
    from bot.settings import Settings

    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def store(settings):
    from vectorstore.store import open_store

    s = open_store(settings)
    yield s
    s.close()


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.embedded = 0

    def embed_documents(self, texts):
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.fixture
def counting(embedder):
    return CountingEmbedder(embedder)


@pytest.fixture
def http_dir(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def guess_type(self, path):
            if str(path).endswith(".xml"):
                return "application/rss+xml"
            return super().guess_type(path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def make_pdf(path: Path, title: str, lines: list[str]) -> None:
    """A minimal, valid one-page PDF with real text (Helvetica), written by hand."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"] + [f"({esc(line)}) Tj T*" for line in lines] + ["ET"]
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (" + esc(title).encode("latin-1") + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


@pytest.fixture
def openai_server():
    """A scripted OpenAI-compatible server on 127.0.0.1 (tests/peers/openai_server.py)."""
    from peers.openai_server import OpenAIServer

    server = OpenAIServer().start()
    yield server
    server.stop()


# --- Telegram ----------------------------------------------------------------------------------
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
                "span", "blockquote"}


@pytest.fixture
def api():
    """A Bot API server on 127.0.0.1 (tests/peers/botapi_server.py)."""
    from peers.botapi_server import BotAPIServer

    server = BotAPIServer().start()
    yield server
    server.stop()


def bot_engine(settings, embedder, answerer=None, sources=(str(EXAMPLES),)):
    from bot.answering.answerers import build_answerer
    from bot.engine import Engine
    from bot.answering.memory import Memory

    from engines import open_ingested

    store, pending = open_ingested(settings, embedder, sources)
    engine = Engine(settings, store, embedder, answerer or build_answerer(settings, embedder),
                    Memory(settings.data_dir / "memory.sqlite3", settings.memory_turns))
    if pending:
        engine.ingest(pending)
    return engine


@pytest.fixture
def make_bot(api, tmp_path, embedder):
    """make_bot(**settings) -> engine, with the bot polling `api` until the test ends; make_bot.front is the running
    front end, for tests that look at its state."""
    from bot.settings import Settings
    from bot.telegram import build_application

    from peers.botapi_server import TOKEN, AppThread

    running = []

    def make(sources=(str(EXAMPLES),), webhook=None, **overrides):
        values = dict(data_dir=tmp_path / "data", telegram_bot_token=TOKEN, telegram_base_url=api.base_url)
        values.update(overrides)
        settings = Settings(**values)
        engine = bot_engine(settings, embedder, sources=sources)
        app = build_application(settings, engine)
        make.front = app.bot_data["front"]
        runner = AppThread(app, webhook=webhook)
        running.append((runner, engine))
        runner.start()
        return engine

    yield make
    for runner, engine in running:
        runner.stop()
        runner.app.bot_data["front"].shutdown_pools()
        engine.close()


def reply(api, chat_id, n=1, timeout=60):
    """The first n messages the bot sent to chat_id (waits for them)."""
    return api.wait_for(lambda s: len(s.texts(chat_id)) >= n and s.texts(chat_id)[:n], timeout)


class TelegramHTML(HTMLParser):
    """Checks a message the way Telegram's HTML parse mode would: known tags, balanced, valid entities."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.links, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag <{tag}>")
        if tag == "a":
            self.links.append(dict(attrs).get("href"))
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    @classmethod
    def check(cls, html: str) -> TelegramHTML:
        bad_amp = re.findall(r"&(?!(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)", html)
        parser = cls()
        parser.feed(html)
        parser.close()
        assert not bad_amp, f"raw & in {html!r}"
        assert not parser.errors and not parser.stack, (parser.errors, parser.stack, html)
        return parser

    @property
    def plain(self) -> str:
        return "".join(self.text)
