"""HTTP conduct shared by every source: Retry-After, backoff, transport rule, redaction, progress."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError, RetriableAPIError

from tap_hrdata.http import RetryPolicy, StreamStats, TokenRejectedError, check_transport, retry_after_seconds
from tests.conftest import mount, run_tap
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator


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


@pytest.mark.parametrize(
    "url", ["https://api.example.com", "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/"]
)
def test_transport_allowed(url: str) -> None:
    check_transport(url, "x.base_url")


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.1/", "ftp://127.0.0.1/", "api.example.com"])
def test_transport_refused(url: str) -> None:
    with pytest.raises(ConfigValidationError) as refused:
        check_transport(url, "x.base_url")
    assert refused.value.errors  # the SDK's CLI prints these


def test_progress_and_summary_lines(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = mount(emulator, TalentsoftEmulator(candidates=4, attachments_per_candidate=(2, 2)))
    monkeypatch.setattr(StreamStats, "PROGRESS_SECONDS", 0.0)
    config = {
        "files_storage_url": str(tmp_path),
        "talentsoft": {
            "base_url": emulator.url("/ts"),
            "client_id": vendor.client_id,
            "client_secret": vendor.client_secret,
        },
    }
    with caplog.at_level(logging.INFO):
        run_tap(config)
    assert "Progress of stream 'attachments'" in caplog.text
    assert "Summary of stream 'attachments': 8 records, 8 files" in caplog.text
    assert "Summary of stream 'candidates': 4 records, 0 files" in caplog.text
    assert "1 API calls, 0 retries" in caplog.text
