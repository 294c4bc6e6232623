"""Ingest progress: no time left until the rate is stable, a clock that moves between batches, lines = bar."""
from __future__ import annotations

import io

from bot.cli.progress import Progress


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _progress(clock, total=100):
    p = Progress(quiet=False, stream=io.StringIO(), tty=False, clock=clock)
    p.close()  # no ticker: the test drives the clock
    p.add_total(total)
    return p


def _land(p, clock, n, after):
    clock.now += after
    for _ in range(n):
        p(object(), "ingested")


def test_no_time_left_from_the_first_batches_even_after_a_slow_start():
    clock = Clock()
    p = _progress(clock)
    _land(p, clock, 25, after=60)  # model load and the first batch: one landing
    assert "left" not in p.line()
    _land(p, clock, 25, after=5)
    assert "left" not in p.line()  # two landings, and the rate since the start (slow start) disagrees with the recent
    for _ in range(3):
        _land(p, clock, 5, after=5)
    assert "left" not in p.line()


def test_time_left_once_the_rate_is_steady_and_it_counts_down_between_batches():
    clock = Clock()
    p = _progress(clock, total=100)
    for _ in range(4):
        _land(p, clock, 10, after=10)  # 1 article/s, steadily
    assert "about 60 s left" in p.line(), p.line()
    clock.now += 20  # a batch being written: nothing lands, the estimate counts down
    assert "about 40 s left" in p.line(), p.line()


def test_the_plain_line_shows_elapsed_time_even_while_nothing_lands():
    clock = Clock()
    p = _progress(clock)
    clock.now += 65
    assert p.line().startswith("0/100 articles, 0:01:05 elapsed")


def test_piped_lines_come_from_the_ticker_while_a_batch_is_written():
    out = io.StringIO()
    p = Progress(quiet=False, stream=out, tty=False, every=0.05, tick=0.01)
    p.add_total(3)
    import time

    time.sleep(0.3)  # nothing stored yet: the lines keep coming, with a moving clock
    p.close()
    lines = [line for line in out.getvalue().splitlines() if line.startswith("progress: 0/3 articles")]
    assert len(lines) >= 3, out.getvalue()


def test_bar_and_plain_line_share_one_status():
    clock = Clock()
    p = _progress(clock)
    for _ in range(4):
        _land(p, clock, 10, after=10)
    assert p.line().endswith(f"({p.status()})")
    assert "ingested 40" in p.status() and "1.00/s" in p.status()


def test_the_bar_shows_the_shared_status_and_not_tqdms_own_estimate():
    out = io.StringIO()
    clock = Clock()
    p = Progress(quiet=False, stream=out, tty=True, clock=clock, tick=3600)
    p.add_total(100)
    _land(p, clock, 25, after=60)
    p.close()
    drawn = out.getvalue().split("\r")[-2]
    assert "25/100" in drawn and "ingested 25" in drawn and "left" not in drawn and "<" not in drawn, drawn
