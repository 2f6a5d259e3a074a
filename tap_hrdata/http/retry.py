"""When a failed call is tried again, and how long to wait first.

One list of retriable failures for the whole tap (:data:`RETRIABLE`), one policy
(:class:`RetryPolicy`): exponential backoff with jitter, and ``Retry-After`` obeyed when
the server gives one (the SDK's wait generators ignore it).
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import datetime, timezone

import requests
from singer_sdk.exceptions import RetriableAPIError

#: The longest ``Retry-After`` obeyed; a server asking for more gets this.
MAX_RETRY_AFTER_SECONDS = 600.0


class BrokenBodyError(Exception):
    """A body that ended, broke or made no sense before it was complete: asked for again."""


class TokenRejectedError(RetriableAPIError):
    """A 401 on a token we believed valid: the authenticator dropped it; retry at once."""


#: Every failure worth another attempt, and why:
#: - RetriableAPIError: the server said so (429, 5xx, a vendor's "try later" in a 200 body);
#: - BrokenBodyError: the body broke in a way requests cannot see (a frame cut short,
#:   JSON that ends early, a chunk of the wrong length);
#: - requests' ConnectionError (refused, reset, DNS, SSL, read timeouts while streaming),
#:   Timeout (connect or first byte), ChunkedEncodingError (a body cut short),
#:   ContentDecodingError (a compressed body cut short);
#: - ConnectionResetError: a reset seen below requests' translation of errors.
RETRIABLE: tuple[type[Exception], ...] = (
    RetriableAPIError,
    BrokenBodyError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), capped."""
    if response is None:
        return None
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` wins when the server gives one.

    ``max_tries`` counts attempts of one call. A streamed body that made progress since
    its last failure starts a new count: a long export that breaks now and then keeps
    going, a body that breaks at the same place every time does not.
    """

    max_tries: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 60.0

    def delay(self, failures: int, exc: BaseException | None) -> float:
        """Seconds to wait after failure number ``failures`` (1-based), caused by ``exc``."""
        if isinstance(exc, TokenRejectedError):
            return 0.0
        asked = retry_after_seconds(getattr(exc, "response", None))
        if asked is not None:
            return asked
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311  # jitter, not crypto
