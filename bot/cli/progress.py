"""Ingest progress for a terminal (a bar) or a log (a plain line every few seconds), from one status text.

An article counts once it is stored, so the rate is the real one (the embedder and Chroma set it). Articles land a
batch at a time (~25 every few seconds), so:
- the rate and the time left are computed at the last landing, and the time left counts down between landings;
- no time left is shown until MIN_STORED articles are stored in at least MIN_LANDINGS batches and the rate over the
  recent half of the run agrees with the rate since the start within STABLE (a first estimate from one batch, or
  from a start that included loading the model, was off by hours);
- a ticker thread redraws every second, so the elapsed clock keeps moving while a batch is embedded and written.
"""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    """Articles stored out of the total known so far; call it with (item, status) once per article or skip."""

    EVERY = 5.0  # seconds between plain lines
    TICK = 1.0  # seconds between bar redraws
    MIN_STORED = 10
    MIN_LANDINGS = 3
    STABLE = 0.3

    def __init__(
        self,
        quiet: bool,
        stream=None,
        tty: bool | None = None,
        clock=time.monotonic,
        every: float = EVERY,
        tick: float = TICK,
    ):
        self.quiet = quiet
        self.every, self.tick = every, tick
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self.counts: dict[str, int] = {}
        self.total = 0
        self.started = self.last_line = clock()
        self._landings: list[tuple[float, int]] = []  # (time, articles done) whenever the count moved
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.bar = None
        self._ticker = None
        if quiet:
            return
        if self.tty:
            from tqdm import tqdm

            # tqdm's own rate and ETA are left out of the format: they come from status() below
            self.bar = tqdm(
                total=0,
                unit=" articles",
                file=self.stream,
                dynamic_ncols=True,
                bar_format="{percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}{postfix}]",
            )
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()

    # --- events ------------------------------------------------------------------------------
    def add_total(self, n: int) -> None:
        """n more articles are known to be coming (counted up front, or a feed's entries once fetched)."""
        with self._lock:
            first = not self.total
            self.total += n
            if self.bar is not None:
                self.bar.total = self.total
                self.bar.refresh()
            elif first and not self.quiet:
                self._print_line()

    def __call__(self, item, status: str) -> None:
        with self._lock:
            self.counts[status] = self.counts.get(status, 0) + 1
            now = self.clock()
            done = self.done
            if self._landings and now - self._landings[-1][0] < 0.5:
                self._landings[-1] = (now, done)  # the same batch landing
            else:
                self._landings.append((now, done))
            if self.quiet:
                return
            if status == "skipped" and not self.tty:
                print(f"skipped {item.source}: {item.reason}", file=self.stream, flush=True)
            if self.bar is not None:
                self.bar.n = done
                self.bar.set_postfix_str(self.status(), refresh=True)

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if self.bar is not None:
                    self.bar.set_postfix_str(self.status(), refresh=True)
                elif self.clock() - self.last_line >= self.every:
                    self._print_line()

    def _print_line(self) -> None:
        self.last_line = self.clock()
        print(f"progress: {self.line()}", file=self.stream, flush=True)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.bar is not None:
            self.bar.close()

    # --- what is shown -----------------------------------------------------------------------
    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def rate(self) -> float | None:
        """Articles per second since the start, at the last landing; None before the first."""
        if not self._landings:
            return None
        at, done = self._landings[-1]
        return done / max(at - self.started, 1e-6)

    def seconds_left(self) -> float | None:
        """None until the rate is stable (see the module docstring)."""
        rate = self.rate()
        if rate is None or not rate or self.done < self.MIN_STORED or len(self._landings) < self.MIN_LANDINGS:
            return None
        at, done = self._landings[-1]
        middle = self.started + (at - self.started) / 2
        before = [(t, d) for t, d in self._landings if t <= middle]
        if not before:
            return None
        t_mid, d_mid = before[-1]
        recent = (done - d_mid) / max(at - t_mid, 1e-6)
        if abs(recent / rate - 1) > self.STABLE:
            return None
        return max(0.0, (self.total - done) / rate - (self.clock() - at))

    def status(self) -> str:
        """`ingested 400, unchanged 12, 1.9/s, about 3 min left` (the part the bar and the lines share)."""
        parts = [f"{k} {v}" for k, v in sorted(self.counts.items())]
        rate = self.rate()
        if rate is not None:
            parts.append(f"{rate:.2f}/s" if rate < 10 else f"{rate:.0f}/s")
        left = self.seconds_left() if self.total > self.done else None
        if left is not None:
            parts.append(f"about {left / 60:.0f} min left" if left >= 90 else f"about {left:.0f} s left")
        return ", ".join(parts)

    def line(self) -> str:
        """`412/782 articles, 0:03:05 elapsed (ingested 400, unchanged 12, 1.9/s, about 3 min left)`"""
        elapsed = int(self.clock() - self.started)
        text = f"{self.done}/{self.total or '?'} articles, {elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d} elapsed"
        status = self.status()
        return text + (f" ({status})" if status else "")
