"""How slow a body may be (tap_hrdata.http.stalls): windows, what they require, the cut."""

from __future__ import annotations

import time
from typing import Any

from tap_hrdata.http.stalls import BodyLimits, BodyWatch, WatchedBody


def test_a_window_lets_a_link_at_the_minimum_rate_through() -> None:
    limits = BodyLimits(read_timeout=120, min_bytes_per_second=1024)
    assert limits.window(64 * 1024) == 128  # two pieces' time at the minimum rate
    assert limits.window(1024) == 120  # never under the read timeout
    # at exactly the minimum rate, a window brings at least one whole piece: more than required
    window = limits.window(64 * 1024)
    assert limits.required(window) <= 1024 * window - 64 * 1024


class Cuttable:
    def __init__(self) -> None:
        self.cuts = 0

    def cut(self) -> None:
        self.cuts += 1


def entry(response: Any, *, received: int, started: float, deadline: float | None = None) -> WatchedBody:
    watched = WatchedBody(response, window=1.0, required=100, deadline=deadline, window_started=started)
    watched.received = received
    return watched


def test_the_watch_cuts_a_body_under_the_rate_and_keeps_one_above() -> None:
    now = time.monotonic()
    slow, fast = Cuttable(), Cuttable()
    slow_entry = entry(slow, received=99, started=now - 1.5)
    fast_entry = entry(fast, received=500, started=now - 1.5)
    BodyWatch.judge(slow_entry, now)
    BodyWatch.judge(fast_entry, now)
    assert (slow.cuts, fast.cuts) == (1, 0)
    assert slow_entry.cut_because is not None
    assert "it sent 99 bytes in 1s" in slow_entry.cut_because
    assert fast_entry.window_started == now  # a new window begins
    assert fast_entry.window_bytes == 500


def test_the_watch_cuts_a_body_past_its_deadline() -> None:
    now = time.monotonic()
    late = Cuttable()
    watched = entry(late, received=10_000, started=now, deadline=now - 0.1)
    BodyWatch.judge(watched, now)
    assert late.cuts == 1
    assert watched.cut_because is not None
    assert "request deadline" in watched.cut_because
