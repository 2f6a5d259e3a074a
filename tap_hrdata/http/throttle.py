"""Throttling: how a source's client paces its sends, whatever thread makes them.

Vendors publish limits as "N requests per second" and count them on their side, by
arrival. :class:`RateLimiter` hands out send times ("slots") so that no ``max_calls + 1``
slots ever fall within one ``period``: a burst is spread out before it reaches the
vendor, instead of being answered with 429s and retried. Each caller reserves its slot
under a lock and sleeps outside it, so threads queue in order and none of them spins.

The client calls :meth:`Throttle.before_send` right before each request it sends, retries
and token requests included, so the limiter counts exactly what reaches the vendor.
"""

from __future__ import annotations

import math
import threading
import time
import typing as t
from collections import deque

if t.TYPE_CHECKING:
    from collections.abc import Callable


class Throttle(t.Protocol):
    """What a client asks of its source's pacing: before every send, and after every answer."""

    def before_send(self) -> None:
        """Wait, if needed, until the next request may go."""

    def answered(self, status: int) -> None:
        """The status of an answer (a 429 may slow the calls that follow)."""


class Unthrottled:
    """No pacing: sources without a published rate limit."""

    def before_send(self) -> None:
        """Never waits."""

    def answered(self, status: int) -> None:
        """Nothing to learn."""


class SpikeArrest:
    """After a 429, the calls that follow are spaced out for a while.

    Gateways with spike arrest (YouServe's) refuse bursts, not volumes: once one call was
    refused, sending the next ones at full speed only collects more 429s. For
    ``calm_seconds`` after a 429, calls go at most one per ``interval`` seconds, across
    threads; then at full speed again.
    """

    def __init__(
        self,
        *,
        interval: float = 1.0,
        calm_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self.calm_seconds = calm_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._calm_until = float("-inf")
        self._next_slot = float("-inf")
        #: 429s seen (for the summary and tests).
        self.refusals = 0

    def before_send(self) -> None:
        """Wait for the next slot while calming down; at once otherwise."""
        with self._lock:
            now = self._clock()
            if now >= self._calm_until:
                return
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

    def answered(self, status: int) -> None:
        """A 429 starts (or extends) the calm period."""
        if status == 429:  # Too Many Requests
            with self._lock:
                self.refusals += 1
                self._calm_until = self._clock() + self.calm_seconds


class RateLimiter:
    """At most ``max_calls`` calls in any window of ``period`` seconds, across threads."""

    def __init__(
        self,
        max_calls: int,
        period: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1 or not period > 0:
            msg = f"a rate limit needs max_calls >= 1 and period > 0, got {max_calls} per {period}s"
            raise ValueError(msg)
        self.max_calls = int(max_calls)
        self.period = float(period)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # The last max_calls slots handed out, oldest first (some may lie in the future).
        self._slots: deque[float] = deque(maxlen=self.max_calls)

    @classmethod
    def per_second(cls, rate: float, *, margin_seconds: float = 0.0, **kwargs: t.Any) -> RateLimiter:
        """A limiter for "``rate`` requests per second", never above it in any second.

        A whole rate of N allows N calls per second; a fractional rate is rounded down
        (2.5 -> 2 per second) and a rate under 1 becomes one call every ``1 / rate``
        seconds. ``margin_seconds`` widens the window, so that network jitter between
        sending and arrival cannot make the vendor count one call too many.
        """
        if not rate > 0 or math.isinf(rate):
            msg = f"a rate limit must be a positive number of requests per second, got {rate!r}"
            raise ValueError(msg)
        if rate >= 1:
            return cls(math.floor(rate), 1.0 + margin_seconds, **kwargs)
        return cls(1, 1.0 / rate + margin_seconds, **kwargs)

    def reserve(self) -> float:
        """Reserve the next free slot and return it (a ``clock`` time, maybe in the future)."""
        with self._lock:
            slot = self._clock()
            if self._slots:
                slot = max(slot, self._slots[-1])  # slots stay in order
                if len(self._slots) == self.max_calls:
                    slot = max(slot, self._slots[0] + self.period)
            self._slots.append(slot)  # the deque drops the oldest slot itself
            return slot

    def acquire(self) -> float:
        """Wait for the next free slot; return it."""
        slot = self.reserve()
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
        return slot

    def before_send(self) -> None:
        """The :class:`Throttle` step: wait for the next free slot."""
        self.acquire()

    def answered(self, status: int) -> None:
        """The slots already keep under the vendor's limit: nothing to learn."""
