"""A real Chroma server on 127.0.0.1, started with Chroma's own `chroma run` CLI, for tests and benchmarks."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """`chroma run` as a child process; can be killed (-9) and started again on the same port and path."""

    def __init__(self, path: Path, port: int | None = None, log: Path | None = None):
        self.path, self.port = path, port or free_port()
        self.log = log or path.parent / f"chroma-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        exe = shutil.which("chroma")
        base = [exe] if exe else [sys.executable, "-m", "chromadb.cli.cli"]
        return base + ["run", "--host", "127.0.0.1", "--port", str(self.port), "--path", str(self.path)]

    def start(self, timeout: float = 60) -> "ChromaServer":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if self.heartbeat():
                return self
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"chroma run did not answer within {timeout}s")

    def heartbeat(self) -> bool:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """A graceful stop (SIGTERM), as a deploy would do; a kill after 30 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                   settings=ChromaSettings(anonymized_telemetry=False))
