"""A client-side rate limiter shared by every call to one API, whatever thread makes it.

Vendors publish limits as "N requests per second" and count them on their side, by
arrival. :class:`RateLimiter` hands out send times ("slots") so that no ``max_calls + 1``
slots ever fall within one ``period``: a burst is spread out before it reaches the
vendor, instead of being answered with 429s and retried. Each caller reserves its slot
under a lock and sleeps outside it, so threads queue in order and none of them spins.

:class:`RateLimitedAdapter` puts the limiter under a ``requests`` session, where it sees
every request actually sent, retries included, exactly once (authenticators also run when
a request is prepared, so waiting there would count some requests twice).
"""

from __future__ import annotations

import math
import threading
import time
import typing as t
from collections import deque

from requests.adapters import HTTPAdapter

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import requests


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

    def __enter__(self) -> RateLimiter:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class RateLimitedAdapter(HTTPAdapter):
    """A ``requests`` transport adapter that waits for the limiter before each send."""

    def __init__(self, limiter: RateLimiter, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    def send(  # type: ignore[override]  # noqa: PLR0917  # requests' own signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` once its slot has come."""
        self.limiter.acquire()
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


def rate_limited_session(limiter: RateLimiter, session: requests.Session) -> requests.Session:
    """Route every http(s) request of ``session`` through ``limiter``; returns the session."""
    adapter = RateLimitedAdapter(limiter)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
