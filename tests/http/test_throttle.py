"""The rate limiter under a source's client: never more than N calls in any window, across threads."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from tap_hrdata.http.throttle import RateLimiter, SpikeArrest


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def busiest_window(times: list[float], period: float) -> int:
    times = sorted(times)
    return max(sum(1 for other in times if start <= other < start + period) for start in times)


def test_a_burst_is_spread_over_windows() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 1.0, clock=clock, sleep=clock.sleep)
    slots = [limiter.acquire() for _ in range(10)]
    assert slots == [100.0, 100.0, 100.0, 101.0, 101.0, 101.0, 102.0, 102.0, 102.0, 103.0]
    assert busiest_window(slots, 1.0) == 3
    assert clock.now == 103.0


def test_calls_under_the_rate_do_not_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(6):
        limiter.acquire()
        clock.now += 0.5
    assert clock.slept == []


def test_a_window_counts_from_the_oldest_of_the_last_n_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, 1.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()  # 100.0
    clock.now = 100.6
    limiter.acquire()  # 100.6
    assert limiter.acquire() == 101.0  # one period after the first, not after the second
    assert limiter.acquire() == 101.6


@pytest.mark.parametrize(
    ("rate", "calls", "period"), [(27, 27, 1.0), (3, 3, 1.0), (2.5, 2, 1.0), (0.5, 1, 2.0), (0.25, 1, 4.0)]
)
def test_per_second_never_exceeds_the_rate_in_any_second(rate: float, calls: int, period: float) -> None:
    limiter = RateLimiter.per_second(rate)
    assert (limiter.max_calls, limiter.period) == (calls, pytest.approx(period))
    assert RateLimiter.per_second(rate, margin_seconds=0.05).period == pytest.approx(period + 0.05)


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
def test_nonsense_rates_are_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter.per_second(rate)
    with pytest.raises(ValueError, match="max_calls"):
        RateLimiter(0, 1.0)


def test_threads_share_one_limit() -> None:
    limiter = RateLimiter(5, 0.2)
    slots: list[float] = []
    sent: list[tuple[float, float]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            slot = limiter.acquire()
            now = time.monotonic()
            with lock:
                slots.append(slot)
                sent.append((slot, now))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(slots) == 20
    assert busiest_window(slots, 0.2) == 5
    assert all(now >= slot for slot, now in sent)  # nobody went before its slot
    assert max(slots) - min(slots) >= 3 * 0.2  # 20 calls at 5 per 0.2 s take at least 3 periods


def test_spike_arrest_spaces_calls_out_after_a_429_then_lets_go() -> None:
    clock = FakeClock()
    arrest = SpikeArrest(interval=0.5, calm_seconds=10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        arrest.before_send()
    assert clock.slept == []  # full speed before any refusal
    arrest.answered(200)
    arrest.answered(429)
    sent = []
    for _ in range(4):
        arrest.before_send()
        sent.append(clock.now)
    assert [round(b - a, 6) for a, b in itertools.pairwise(sent)] == [0.5, 0.5, 0.5]
    clock.now += 20  # the calm period is over
    clock.slept.clear()
    arrest.before_send()
    arrest.before_send()
    assert clock.slept == []
    assert arrest.refusals == 1
