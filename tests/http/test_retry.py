"""What is retried, and how long the client waits: Retry-After first, then backoff with jitter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_hrdata.http.retry import RetryPolicy, TokenRejectedError, retry_after_seconds


def response_with(headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.headers.update(headers)
    return response


def test_retry_after_seconds_and_dates() -> None:
    assert retry_after_seconds(response_with({"Retry-After": "7"})) == 7
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds(response_with({"Retry-After": later})) or 0) <= 31
    assert retry_after_seconds(response_with({"Retry-After": "99999"})) == 600
    assert retry_after_seconds(response_with({"Retry-After": "soon"})) is None
    assert retry_after_seconds(response_with({})) is None


def test_policy_prefers_retry_after_and_renews_tokens_at_once() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=8)
    asked = RetriableAPIError("429", response_with({"Retry-After": "3"}))
    assert policy.delay(1, asked) == 3
    assert policy.delay(1, TokenRejectedError("401")) == 0
    assert all(0.5 <= policy.delay(1, None) <= 1 for _ in range(20))
    assert all(4 <= policy.delay(4, None) <= 8 for _ in range(20))
    assert all(4 <= policy.delay(10, None) <= 8 for _ in range(20))  # capped
