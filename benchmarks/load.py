"""Faults under load: the real `articlebot telegram` process against a loopback Bot API stand-in, phase by phase.

    python benchmarks/load.py [--phases idle,ingest,faults,server,llm,long] [--chats 50] [--questions 4]
                              [--articles 240] [--more 300] [--long 2000] [--flap 60] [--down 5] [--quick]
                              [--code DIR] [--eval DIR]

Every phase starts a fresh bot process (`python -m bot.cli telegram`, extractive answerer unless the phase says
otherwise) on a copy of one store of `--articles` real articles (../shared/eval/realtimeqa-2023-01, built once under
.bench/load/), then pushes N chats × M real questions at once, each chat's M one after the other, and waits until
every question is answered or nothing has moved for `--stall` seconds:
- idle: nothing else going on;
- ingest: the bot follows a folder into which `--more` further articles are dropped as the burst starts;
- faults: the stand-in refuses 1 in 3 sendMessage calls with 429 "retry after 1" and answers 1 in 5 edits 502;
- server: the store is a `chroma run` server, killed (-9) once a third of the answers are out and started again
  `--down` seconds later;
- llm: an OpenAI-compatible stand-in that answers for `--flap` seconds, then fails (HTTP 500) for as long; the chats'
  questions come in waves spread over two periods;
- long: `--long` questions in waves of N × M; RSS after the first wave and after the last.
`--code DIR` runs another checkout's bot (e.g. `git worktree add /tmp/base <commit>`) under the same harness.
One table: answered / asked, duplicates, lost, error replies, throughput, the bot's CPU time per answer (steadier
than throughput on a shared machine), latency of each chat's first answer and of all answers (p50 / p95), the bot's
RSS when the burst starts, when it is over, and its peak meanwhile.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import EVAL, REPO, percentile, use_test_peers

use_test_peers()

from peers.botapi_server import TOKEN, BotAPIServer  # noqa: E402
from peers.faults import FaultPlan  # noqa: E402

SORRY = "Sorry, something went wrong"
QUEUED = "Your question is queued"  # bot/telegram/turns.py's notice (absent in older checkouts: never matched)
STORE_DOWN = "The article store is restarting"  # bot/telegram/front.py STORE_RESTARTING
LLM_DOWN = "The language model is not answering"
ADMIN = 77  # the operator's chat, for /help (how many articles the bot knows)


@dataclass
class Phase:
    name: str
    asked: int = 0
    answered: int = 0
    duplicates: int = 0
    lost: int = 0
    errors: int = 0
    told: int = 0  # answered with the "store restarting" line
    notices: int = 0  # "your question is queued"
    seconds: float = 0.0
    cpu: float = 0.0  # the bot's CPU seconds during the bursts
    first: list = field(default_factory=list)
    every: list = field(default_factory=list)
    rss_start: float = 0.0
    rss_end: float = 0.0
    rss_peak: float = 0.0
    notes: list = field(default_factory=list)

    def row(self) -> str:
        def p(values, q):
            return f"{percentile(values, q):.1f}" if values else "–"

        rate = self.answered / self.seconds if self.seconds else 0.0
        cpu = self.cpu / self.answered * 1000 if self.answered else 0.0
        return (f"| {self.name} | {self.answered} / {self.asked} | {self.duplicates} | {self.lost} | {self.errors} "
                f"| {rate:.1f} | {cpu:.0f} | {p(self.first, 50)} / {p(self.first, 95)} | {p(self.every, 50)} / {p(self.every, 95)} "
                f"| {self.rss_start:.0f} → {self.rss_end:.0f} ({self.rss_peak:.0f}) | {'; '.join(self.notes)} |")


class Bot:
    """The real `articlebot telegram` process (of the checkout `code`)."""

    def __init__(self, code: Path, env: dict, log: Path):
        self.code, self.env, self.log = code, env, log
        self.proc: subprocess.Popen | None = None

    def start(self, api: BotAPIServer, timeout: float = 300) -> Bot:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "telegram"], cwd=self.code, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not api.sent(method="setMyCommands"):  # post_init: polling has started
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the bot did not start ({self.proc.returncode}): {self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def _status(self, key: str) -> float:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(key)) / 1024

    def rss(self) -> float:
        return self._status("VmRSS:")

    def cpu(self) -> float:
        """CPU seconds the bot has used (user + system, all threads): less sensitive than wall time to a shared
        machine's other load."""
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sample(self) -> threading.Event:
        """Samples the RSS every 0.2 s into self.peak until the returned event is set."""
        stop = threading.Event()
        self.peak = self.rss()

        def watch() -> None:
            while not stop.wait(0.2) and self.proc.poll() is None:
                try:
                    self.peak = max(self.peak, self.rss())
                except (OSError, StopIteration):
                    return

        threading.Thread(target=watch, daemon=True).start()
        return stop

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Harness:
    def __init__(self, args, questions: list[str], store: Path, work: Path):
        self.args, self.questions, self.store, self.work = args, questions, store, work
        self.next_chat = 10_000

    def env(self, api: BotAPIServer, data: Path, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPENAI_", "TELEGRAM_", "CHROMA_", "ARTICLEBOT_", "FOLLOW"))}
        env.update(PYTHONPATH=str(self.args.code), ARTICLEBOT_DATA_DIR=str(data), TELEGRAM_BOT_TOKEN=TOKEN,
                   TELEGRAM_BASE_URL=api.base_url, TELEGRAM_USER_RATE="0", TELEGRAM_ADMINS=str(ADMIN))
        env.update(extra)
        return env

    def data_dir(self, name: str) -> Path:
        data = self.work / name
        shutil.copytree(self.store, data)
        for stale in ("articlebot.lock", "articlebot.pid"):
            (data / stale).unlink(missing_ok=True)
        return data

    # --- a burst -------------------------------------------------------------------------------
    def push(self, api: BotAPIServer, chats: list[int], per_chat: int, round_: int = 0) -> dict:
        """Each chat sends its questions at once (chat by chat); {chat: [update ids]}."""
        pushed = {}
        for i, chat in enumerate(chats):
            ids = []
            for j in range(per_chat):
                q = self.questions[(i * per_chat + j + round_ * 7) % len(self.questions)]
                ids.append(api.push_text(chat, chat, q))
            pushed[chat] = ids
        return pushed

    @staticmethod
    def replies(api: BotAPIServer, chat: int) -> list:
        """What reached the chat, in order: delivered sendMessage calls (a refused attempt is not a message)."""
        return [c for c in api.sent(chat) if isinstance(c.result, dict)]

    def answers(self, api: BotAPIServer, chat: int) -> list:
        return [c for c in self.replies(api, chat) if not c.params.get("text", "").startswith(QUEUED)]

    def wait(self, api: BotAPIServer, pushed: dict, on_progress=None) -> None:
        """Until every question has its answer, or nothing moved for --stall seconds; then a moment for late
        duplicates."""
        want = sum(len(ids) for ids in pushed.values())
        last, moved = -1, time.monotonic()
        while True:
            got = sum(min(len(self.answers(api, chat)), len(ids)) for chat, ids in pushed.items())
            if on_progress:
                on_progress(got, want)
            if got != last:
                last, moved = got, time.monotonic()
            if got >= want or time.monotonic() - moved > self.args.stall:
                break
            time.sleep(0.2)
        time.sleep(2.0)

    def score(self, phase: Phase, api: BotAPIServer, pushed: dict) -> None:
        start = min(api.pushed_at[ids[0]] for ids in pushed.values())
        end = start
        for chat, ids in pushed.items():
            replies = self.replies(api, chat)
            answers = [c for c in replies if not c.params.get("text", "").startswith(QUEUED)]
            phase.notices += len(replies) - len(answers)
            phase.asked += len(ids)
            phase.answered += min(len(answers), len(ids))
            phase.duplicates += max(0, len(answers) - len(ids))
            phase.lost += max(0, len(ids) - len(answers))
            for k, (uid, call) in enumerate(zip(ids, answers)):
                text = call.params.get("text", "")
                phase.errors += SORRY in text or "Traceback" in text
                phase.told += text.startswith(STORE_DOWN)
                wait = call.at - api.pushed_at[uid]
                phase.every.append(wait)
                if k == 0:
                    phase.first.append(wait)
                end = max(end, call.at)
        phase.seconds += end - start

    def run_burst(self, phase: Phase, api: BotAPIServer, bot: Bot, per_chat: int | None = None,
                  on_progress=None) -> dict:
        chats = list(range(self.next_chat, self.next_chat + self.args.chats))
        self.next_chat += self.args.chats
        phase.rss_start = phase.rss_start or bot.rss()
        sampling, cpu = bot.sample(), bot.cpu()
        pushed = self.push(api, chats, per_chat or self.args.questions)
        self.wait(api, pushed, on_progress)
        sampling.set()
        phase.cpu += bot.cpu() - cpu
        self.score(phase, api, pushed)
        phase.rss_end, phase.rss_peak = bot.rss(), max(phase.rss_peak, bot.peak)
        return pushed

    def bot(self, api: BotAPIServer, name: str, **env: str) -> Bot:
        data = Path(env.pop("data", "")) if "data" in env else self.data_dir(name)
        return Bot(self.args.code, self.env(api, data, **env), self.work / f"{name}.log").start(api)

    # --- the phases -----------------------------------------------------------------------------
    def idle(self) -> Phase:
        phase = Phase("idle")
        api = BotAPIServer().start()
        bot = self.bot(api, "idle")
        try:
            self.run_burst(phase, api, bot)
        finally:
            bot.stop()
            api.stop()
        if phase.notices:
            phase.notes.append(f"{phase.notices} 'queued' notices")
        return phase

    def ingest(self) -> Phase:
        phase = Phase(f"during an ingest of {self.args.more} articles")
        folder = self.work / "followed"
        folder.mkdir()
        api = BotAPIServer().start()
        bot = self.bot(api, "ingest", FOLLOW=str(folder), FOLLOW_EVERY="5s")
        try:
            before = self.known(api)
            (self.work / "more.jsonl").rename(folder / "more.jsonl")
            started = time.monotonic()
            sampling = bot.sample()
            self.run_burst(phase, api, bot)
            # the ingest goes on after the burst: how long it took, and the peak RSS with it
            deadline = time.monotonic() + 1800
            while self.known(api) < before + self.args.more * 0.9 and time.monotonic() < deadline:
                time.sleep(5)
            phase.notes.append(f"ingest: {self.known(api) - before} articles in {time.monotonic() - started:.0f} s")
            sampling.set()
            phase.rss_end, phase.rss_peak = bot.rss(), max(phase.rss_peak, bot.peak)
        finally:
            bot.stop()
            api.stop()
        return phase

    def known(self, api: BotAPIServer) -> int:
        """How many articles /help says the bot knows (asked as the operator)."""
        n = len(self.replies(api, ADMIN))
        api.push_text(ADMIN, ADMIN, "/help")
        api.wait_for(lambda s: len(self.replies(s, ADMIN)) > n, 120)
        found = re.search(r"I know <b>(\d+)</b>", self.replies(api, ADMIN)[n].params["text"])
        return int(found.group(1)) if found else 0

    def faults(self) -> Phase:
        phase = Phase("Telegram faults: 1/3 sends 429, 1/5 edits 502")
        plan = FaultPlan().refuse("sendMessage", 1 / 3, retry_after=1).fail("editMessageText", 1 / 5, 502)
        api = BotAPIServer(faults=plan).start()
        bot = self.bot(api, "faults")
        try:
            self.run_burst(phase, api, bot)
        finally:
            bot.stop()
            api.stop()
        phase.notes.append(", ".join(f"{n} × {k}" for k, n in sorted(plan.served.items())))
        return phase

    def server(self) -> Phase:
        from peers.chroma_server import ChromaServer

        phase = Phase(f"server mode, Chroma killed and back after {self.args.down:g} s")
        db = self.work / "server-db"
        shutil.copytree(self.store / "chroma", db)
        chroma = ChromaServer(db, log=self.work / "chroma.log").start()
        api = BotAPIServer().start()
        data = self.work / "server-data"
        bot = self.bot(api, "server", data=str(data), CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma.port))
        outage: dict = {}

        def restart() -> None:
            time.sleep(self.args.down)
            chroma.start()
            outage["back"] = time.monotonic()

        def progress(got: int, want: int) -> None:
            if "killed" not in outage and got >= want // 3:
                chroma.kill()
                outage["killed"] = time.monotonic()
                outage["thread"] = threading.Thread(target=restart)
                outage["thread"].start()

        try:
            self.run_burst(phase, api, bot, on_progress=progress)
            if "thread" in outage:
                outage["thread"].join()
            phase.notes.append(f"store down {outage.get('back', 0) - outage.get('killed', 0):.1f} s, "
                               f"{phase.told} told 'restarting'")
            alive = bot.proc.poll() is None
            phase.notes.append("bot kept running" if alive else f"BOT EXITED {bot.proc.returncode}")
        finally:
            bot.stop()
            api.stop()
            chroma.kill()
        return phase

    def llm(self) -> Phase:
        from peers.openai_server import OpenAIServer, Reply

        flap = self.args.flap
        phase = Phase(f"LLM up {flap:g} s / down {flap:g} s")
        good = Reply(content=cite_first_source)
        llm = OpenAIServer(default=good).start()
        api = BotAPIServer().start()
        bot = self.bot(api, "llm", OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY="bench", OPENAI_MODEL="test-model",
                       OPENAI_TIMEOUT="10")
        stop = threading.Event()
        t0 = time.monotonic()

        def flapping() -> None:  # up for half a period, down for a period, up again
            while not stop.wait(0.2):
                down = flap / 2 <= (time.monotonic() - t0) % (2 * flap) < 3 * flap / 2
                llm.default = Reply(kind="error500") if down else good

        threading.Thread(target=flapping, daemon=True).start()
        try:
            waves = self.args.questions
            pushed: dict = {}
            chats = list(range(self.next_chat, self.next_chat + self.args.chats))
            self.next_chat += self.args.chats
            phase.rss_start, cpu = bot.rss(), bot.cpu()
            sampling = bot.sample()
            for w in range(waves):  # spread over two periods: questions meet the model up, down and back
                while time.monotonic() - t0 < w * 2 * flap / waves:
                    time.sleep(0.2)
                for chat, ids in self.push(api, chats, 1, round_=w).items():
                    pushed.setdefault(chat, []).extend(ids)
            self.wait(api, pushed)
            sampling.set()
            phase.cpu = bot.cpu() - cpu
            self.score(phase, api, pushed)
            phase.rss_end, phase.rss_peak = bot.rss(), bot.peak
            calls = len(llm.requests)
            noted = sum(LLM_DOWN in c.params.get("text", "") for chat in pushed for c in self.answers(api, chat))
            phase.notes.append(f"{calls} LLM requests; 'not answering' said {noted} times in {len(pushed)} chats")
        finally:
            stop.set()
            bot.stop()
            api.stop()
            llm.stop()
        return phase

    def long(self) -> Phase:
        per_wave = self.args.chats * self.args.questions
        waves = max(1, self.args.long // per_wave)
        phase = Phase(f"long run: {waves * per_wave} questions")
        api = BotAPIServer().start()
        bot = self.bot(api, "long")
        try:
            after = []
            for _ in range(waves):
                self.run_burst(phase, api, bot)
                after.append(bot.rss())
            grown = (after[-1] / after[0] - 1) * 100
            phase.notes.append(f"RSS after {per_wave}: {after[0]:.0f} MB, after {waves * per_wave}: {after[-1]:.0f} MB "
                               f"({grown:+.1f} %; by wave: {', '.join(f'{r:.0f}' for r in after)})")
        finally:
            bot.stop()
            api.stop()
        return phase


def cite_first_source(body: dict) -> str:
    """The LLM stand-in's answer: the first sentence of source 1, cited; for a condense call, the question."""
    user = "\n".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user")
    if "Sources:" not in user:
        asked = re.search(r"Last question: (.+)", user)
        return asked.group(1) if asked else user.strip().splitlines()[-1]
    found = re.search(r"<<<SRC[0-9A-F]{8}\n(.+?)(?:\n|$)", user)
    sentence = (found.group(1) if found else "The articles say so").split(". ")[0][:300].rstrip(".")
    return f"{sentence} [1]."


def build_store(args) -> tuple[Path, list[str]]:
    """The base store (built once under .bench/load/) and the questions; the next --more articles are left in
    work/more.jsonl for the ingest phase."""
    articles, questions = args.eval / "articles.jsonl", args.eval / "questions.jsonl"
    if not articles.exists():
        print(f"skipped: eval data not found at {articles}")
        raise SystemExit(0)
    rows = [line for line in articles.open(encoding="utf-8") if line.strip()]
    store = REPO / ".bench" / "load" / f"store-{args.articles}"
    if not (store / "chroma").exists():
        store.mkdir(parents=True, exist_ok=True)
        corpus = store.parent / f"articles-{args.articles}.jsonl"
        corpus.write_text("".join(rows[: args.articles]), encoding="utf-8")
        print(f"building the store of {args.articles} articles in {store} (once) ...", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_", "ARTICLEBOT_", "OPENAI_"))}
        subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(corpus)], cwd=REPO, check=True,
                       env={**env, "PYTHONPATH": str(REPO), "ARTICLEBOT_DATA_DIR": str(store)},
                       stdout=subprocess.DEVNULL)
    (args.work / "more.jsonl").write_text("".join(rows[args.articles: args.articles + args.more]), encoding="utf-8")
    qs = [json.loads(line)["question"] for line in questions.open(encoding="utf-8") if line.strip()]
    return store, qs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="idle,ingest,faults,server,llm,long")
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--questions", type=int, default=4, help="questions per chat, sent at once")
    parser.add_argument("--articles", type=int, default=240, help="articles in the store")
    parser.add_argument("--more", type=int, default=300, help="articles dropped into the followed folder (ingest)")
    parser.add_argument("--long", type=int, default=2000, help="questions in the long run")
    parser.add_argument("--flap", type=float, default=60.0, help="seconds the LLM is up, then down (llm)")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the Chroma server stays dead (server)")
    parser.add_argument("--stall", type=float, default=120.0, help="give up when no answer came for this long")
    parser.add_argument("--quick", action="store_true", help="a reduced size: 10 chats × 2, 200 long, 20 s flaps")
    parser.add_argument("--eval", type=Path, default=EVAL, help="the eval folder (articles.jsonl, questions.jsonl)")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose bot runs (default: this one)")
    args = parser.parse_args()
    if args.quick:
        args.chats, args.questions, args.long, args.flap, args.more = 10, 2, 200, 20.0, 60
    args.code = args.code.resolve()
    args.work = Path(tempfile.mkdtemp(prefix="articlebot-load-"))
    try:
        store, questions = build_store(args)
        harness = Harness(args, questions, store, args.work)
        print(f"bot code: {args.code}; {args.chats} chats × {args.questions} questions; {os.cpu_count()} CPUs",
              flush=True)
        phases = []
        for name in args.phases.split(","):
            started = time.monotonic()
            phases.append(getattr(harness, name.strip())())
            print(f"  {name}: done in {time.monotonic() - started:.0f} s", flush=True)
    finally:
        if os.environ.get("LOAD_KEEP"):
            print(f"kept {args.work}")
        else:
            shutil.rmtree(args.work, ignore_errors=True)
    print()
    print("| phase | answered / asked | duplicates | lost | error replies | answers/s | bot CPU ms / answer "
          "| first answer p50 / p95 s | all answers p50 / p95 s | RSS start → end (peak) MB | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for phase in phases:
        print(phase.row())
    return 1 if any(p.duplicates or p.lost or p.errors for p in phases) else 0


if __name__ == "__main__":
    sys.exit(main())
