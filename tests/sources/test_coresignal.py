"""Coresignal Bulk Collect against the emulator: credits, resume, files, rate limit, faults."""

from __future__ import annotations

import gzip
import json
import logging
import re
import shutil
import sys
import time
import tracemalloc
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.http.retry import RetryPolicy
from tap_hrdata.sources.coresignal.client import (
    CoresignalClient,
    CoresignalError,
    CorruptFileError,
    FilesState,
    body_lines,
    check_body,
    files_answer,
    gunzip,
    parse_job,
    split_lines,
    vendor_time,
)
from tap_hrdata.sources.coresignal.streams import BulkJobsStream
from tap_hrdata.tap import TapHrData
from tests.conftest import config_for, mount, run_tap, run_tap_partial
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.server import Emulator, Fault, Request, Response

STREAM = "bulk_jobs"
#: The files listing of a data request the tap made (not the preflight's probe of a request that does not exist).
POLL = r"/(?!00000000-0000-0000-0000-000000000000/)[^/]+/files$"


def cs_config(emulator: Emulator, vendor: CoresignalEmulator, **coresignal: Any) -> dict[str, Any]:
    return config_for(emulator, vendor, coresignal=coresignal)


@pytest.fixture
def vendor(emulator: Emulator) -> CoresignalEmulator:
    return mount(emulator, CoresignalEmulator(jobs=2000))


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken bodies are retried after milliseconds, not seconds (Retry-After is still honoured)."""
    monkeypatch.setattr(CoresignalClient, "retry_policy", RetryPolicy(max_tries=3, base_seconds=0.01, max_seconds=0.02))


def only_request(vendor: CoresignalEmulator) -> str:
    assert len(vendor.data_requests) == 1
    return next(iter(vendor.data_requests))


def assert_new_pending(pending: dict[str, Any] | None, request_id: str, api: str = "v1") -> None:
    """A request just paid: its id, the API generation that made it, when, and no file done yet."""
    assert pending is not None
    assert pending["id"] == request_id
    assert pending["files_done"] == []
    assert pending["api"] == api
    created = datetime.fromisoformat(pending["created_at"])
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 600


def pending_of(state: dict[str, Any]) -> dict[str, Any] | None:
    return state.get("bookmarks", {}).get(STREAM, {}).get("pending_request")


def max_last_updated(jobs: list[dict[str, Any]]) -> str:
    return max(job["last_updated"] for job in jobs).replace(" ", "T") + "+00:00"


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [record["id"] for record in records]


# ---------------------------------------------------------------------------- discovery


def test_discovery_lists_bulk_jobs_with_typed_columns(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    tap = TapHrData(config=cs_config(emulator, vendor))
    assert set(tap.streams) == {STREAM}
    stream = tap.streams[STREAM]
    assert stream.primary_keys == ("id",)
    assert stream.replication_key == "last_updated"
    assert not stream.is_sorted
    properties = stream.schema["properties"]
    assert properties["id"]["type"] == "integer"
    assert properties["last_updated"]["format"] == "date-time"
    assert {"title", "company_name", "location", "created", "url", "raw"} <= set(properties)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    config = {"coresignal": {"base_url": "http://api.coresignal.example/cdapi", "api_token": "t", "filters": {"a": 1}}}
    with pytest.raises(ConfigValidationError, match="plain http"):
        _ = TapHrData(config=config).streams


def test_neither_filters_nor_job_ids_is_a_config_error(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor)
    del config["coresignal"]["filters"]
    _, error = run_tap_partial(config)
    assert isinstance(error, ConfigValidationError)
    assert "coresignal.filters or coresignal.job_ids" in str(error)
    assert vendor.request_times == []


# ---------------------------------------------------------------------------- a whole run


def test_full_sync_emits_every_job_of_every_file_once(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    result = run_tap(cs_config(emulator, vendor))

    request_id = only_request(vendor)
    expected = vendor.jobs_for_request(request_id)
    records = result.records(STREAM)
    assert [r["raw"] for r in records] == expected  # every file, in order, nothing dropped or twice
    assert len(set(ids(records))) == len(records) > 300
    assert vendor.post_count == 1
    assert vendor.posts == [("filter", {"filters": {"title": "engineer"}})]
    assert set(vendor.downloads.values()) == {1}
    assert len(vendor.downloads) == 3
    assert vendor.rate_limited == 0

    # U+2028 inside descriptions is not a line break of JSON Lines
    assert any("\u2028" in r["description"] for r in records)
    first = records[0]
    assert first["id"] > 2**31
    assert first["raw"]["last_updated"].replace(" ", "T") + "+00:00" == first["last_updated"]
    assert first["company_name"] == first["raw"]["company_name"]
    assert first["data_request_id"] == request_id
    assert isinstance(first["deleted"], bool)

    # the paid id went to state first; the request is forgotten once emitted
    assert_new_pending(pending_of(result.states[0]), request_id)
    assert result.last_state == {
        "bookmarks": {STREAM: {"replication_key": "last_updated", "replication_key_value": max_last_updated(expected)}}
    }


def test_state_with_the_request_id_is_out_before_the_first_poll(emulator: Emulator) -> None:
    class Watched(CoresignalEmulator):
        stdout_at_first_poll: bytes | None = None

        def handle(self, request: Request) -> Response:
            polled = request.method == "GET" and re.search(POLL, request.path)
            if polled and self.stdout_at_first_poll is None:
                self.stdout_at_first_poll = sys.stdout.buffer.getvalue()  # what the tap has written so far
            return super().handle(request)

    vendor = mount(emulator, Watched(jobs=300))
    run_tap(cs_config(emulator, vendor))
    assert vendor.stdout_at_first_poll is not None
    written = [json.loads(line) for line in vendor.stdout_at_first_poll.splitlines()]
    states = [m["value"] for m in written if m["type"] == "STATE"]
    assert states
    assert_new_pending(pending_of(states[-1]), only_request(vendor))


# ---------------------------------------------------------------------------- credits across crash and resume


def test_crash_after_the_post_resumes_without_a_second_post(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=POLL, status=400))  # the run dies at its first poll
    crashed, error = run_tap_partial(config)
    assert "data request" in str(error)
    assert "stays in state" in str(error)
    request_id = only_request(vendor)
    assert_new_pending(pending_of(crashed.last_state), request_id)
    assert crashed.records(STREAM) == []

    resumed = run_tap(config, state=crashed.last_state)
    assert vendor.post_count == 1  # resumed, not paid twice
    assert [r["raw"] for r in resumed.records(STREAM)] == vendor.jobs_for_request(request_id)
    assert pending_of(resumed.last_state) is None


def test_a_run_resumed_after_one_of_several_files(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=r"/files/json/part-00001-", status=404))
    crashed, _ = run_tap_partial(config)
    request_id = only_request(vendor)
    names = vendor.files_for_request(request_id)
    expected = vendor.jobs_for_request(request_id)
    first_file = crashed.records(STREAM)
    assert 0 < len(first_file) < len(expected)
    assert pending_of(crashed.last_state)["files_done"] == [names[0]]  # type: ignore[index]

    resumed = run_tap(config, state=crashed.last_state)
    assert vendor.post_count == 1
    assert vendor.downloads[(request_id, names[0])] == 1  # the emitted file is skipped
    assert [r["raw"] for r in first_file + resumed.records(STREAM)] == expected  # exactly once across both
    bookmark = resumed.last_state["bookmarks"][STREAM]["replication_key_value"]
    assert bookmark == max_last_updated(expected)  # the first run's files count too


def test_the_pending_requests_running_max_becomes_the_bookmark(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=POLL, status=400))
    crashed, _ = run_tap_partial(config)
    state = crashed.last_state
    state["bookmarks"][STREAM]["pending_request"]["max_last_updated"] = "2030-01-01T00:00:00+00:00"
    resumed = run_tap(config, state=state)
    assert resumed.last_state["bookmarks"][STREAM]["replication_key_value"] == "2030-01-01T00:00:00+00:00"


def test_a_file_interrupted_by_a_crash_resumes_after_its_checkpoint(
    emulator: Emulator, vendor: CoresignalEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BulkJobsStream, "STATE_MSG_FREQUENCY", 25)
    config = cs_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=r"/files/json/part-00001-", kind="bad_line", params={"line": 60}))
    crashed, error = run_tap_partial(config)
    request_id = only_request(vendor)
    names = vendor.files_for_request(request_id)
    assert f"file {names[1]!r}" in str(error)
    assert "record 61: not valid JSON" in str(error)
    pending = pending_of(crashed.last_state)
    assert pending is not None
    assert pending["files_done"] == [names[0]]
    assert pending["current_file"] == names[1]
    checkpoint = pending["current_file_records"]
    assert 0 < checkpoint <= 60

    resumed = run_tap(config, state=crashed.last_state)
    expected = vendor.jobs_for_request(request_id)
    first = len(crashed.records(STREAM)) - 60  # records of file 0
    assert [r["raw"] for r in resumed.records(STREAM)] == expected[first + checkpoint :]
    assert vendor.post_count == 1


def journal_entries(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The journal of paid requests under the config's files_storage_url, by key."""
    folder = Path(config["files_storage_url"]) / "coresignal" / "requests"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_a_request_is_journalled_before_its_first_poll(emulator: Emulator) -> None:
    entries_at_first_poll: list[dict[str, dict[str, Any]]] = []

    class Watched(CoresignalEmulator):
        def handle(self, request: Request) -> Response:
            if request.method == "GET" and re.search(POLL, request.path) and not entries_at_first_poll:
                entries_at_first_poll.append(journal_entries(config))
            return super().handle(request)

    vendor = mount(emulator, Watched(jobs=300))
    config = cs_config(emulator, vendor)
    run_tap(config)
    [entries] = entries_at_first_poll
    [(key, entry)] = entries.items()
    assert entry == {
        "key": key,
        "id": only_request(vendor),
        "api": "v1",
        "created_at": entry["created_at"],
        "window": {"gte": None, "lte": None},
    }
    assert journal_entries(config)[key]["done"] is True  # every record emitted; removed once a state covers them


def test_a_run_whose_state_was_lost_resumes_the_journalled_request(
    emulator: Emulator, vendor: CoresignalEmulator
) -> None:
    """Meltano stores no state for a failed run: the next one starts from the old state."""
    config = cs_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=POLL, status=400))  # the run dies at its first poll, after paying
    run_tap_partial(config)
    request_id = only_request(vendor)
    assert vendor.in_progress(request_id)  # a second POST would be refused with 409

    resumed = run_tap(config)  # the state of the failed run was not kept
    assert vendor.post_count == 1  # no second payment, no 409
    assert [r["raw"] for r in resumed.records(STREAM)] == vendor.jobs_for_request(request_id)
    assert pending_of(resumed.last_state) is None


def test_records_a_target_never_committed_are_emitted_again_unpaid(
    emulator: Emulator, vendor: CoresignalEmulator
) -> None:
    config = cs_config(emulator, vendor)
    first = run_tap(config)
    request_id = only_request(vendor)
    # the target failed after the tap finished: its state never came back
    again = run_tap(config)
    assert vendor.post_count == 1
    assert [r["raw"] for r in again.records(STREAM)] == vendor.jobs_for_request(request_id)
    assert again.last_state == first.last_state
    [key] = journal_entries(config)

    # a run handed the committed state forgets the entry, and asks only for what changed since
    later = run_tap(config, state=again.last_state)
    assert key not in journal_entries(config)
    assert vendor.post_count == 2
    assert len(later.records(STREAM)) < len(again.records(STREAM))


def test_over_the_cap_a_lost_state_resumes_each_journalled_window(emulator: Emulator) -> None:
    """Windows halved under the cap, a run dying in its third paid window, its state lost."""

    class DiesAtThirdWindow(CoresignalEmulator):
        died = False

        def handle(self, request: Request) -> Response:
            paid = [r for r in self.data_requests.values() if not r.too_many]
            if request.method == "GET" and re.search(POLL, request.path) and len(paid) == 3 and not self.died:
                self.died = True
                return Response.json(400, {"detail": "injected"})
            return super().handle(request)

    vendor = mount(emulator, DiesAtThirdWindow(jobs=1000, polls_until_ready=0, record_cap=60))
    config = v2_config(emulator, vendor)
    run_tap_partial(config)
    assert vendor.died
    result = run_tap(config)  # from the same (empty) state: the failed run's was not kept
    assert {r["id"] for r in result.records(STREAM)} == engineer_jobs(vendor)
    paid = [r for r in vendor.data_requests.values() if not r.too_many]
    assert len(paid) > 3
    assert len({r.key for r in paid}) == len(paid)  # no request paid twice


def test_an_open_ended_request_that_matched_nothing_is_asked_again_next_run(emulator: Emulator) -> None:
    """Reusing its empty answer would hide every posting made since."""
    vendor = mount(emulator, CoresignalEmulator(jobs=200, polls_until_ready=0))
    config = v2_config(emulator, vendor, filters={"title": "no posting has this title"})
    first = run_tap(config)
    assert first.records(STREAM) == []
    assert journal_entries(config) == {}
    run_tap(config, state=first.last_state)
    assert vendor.post_count == 2


def test_a_journalled_request_the_vendor_does_not_know_is_replaced(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The same files_storage_url used with another account (or a demo emulator started afresh)."""
    first = mount(emulator, CoresignalEmulator(jobs=200, polls_until_ready=0))
    config = cs_config(emulator, first)
    run_tap(config)  # a done entry in the journal; its state never reaches this second vendor
    [old] = first.data_requests
    second = mount(emulator, CoresignalEmulator(jobs=200, polls_until_ready=0))
    config["coresignal"] = {**config["coresignal"], **second.tap_settings(emulator.url(second.prefix))}
    with caplog.at_level(logging.WARNING):
        result = run_tap(config)
    assert f"data request {old} from the journal is not found" in caplog.text
    assert second.post_count == 1
    [new] = second.data_requests
    assert [r["raw"] for r in result.records(STREAM)] == second.jobs_for_request(new)
    assert [entry["id"] for entry in journal_entries(config).values()] == [new]


def test_without_its_journal_a_lost_request_is_a_409_with_the_way_out(
    emulator: Emulator, vendor: CoresignalEmulator
) -> None:
    config = cs_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=POLL, status=400))
    run_tap_partial(config)
    shutil.rmtree(Path(config["files_storage_url"]) / "coresignal")  # another files_storage_url, or deleted
    lost_state, error = run_tap_partial(config)
    assert "HTTP 409" in str(error)
    assert "identical data request is already in progress" in str(error)
    assert "journal" in str(error)
    assert vendor.post_count == 1
    assert all(pending_of(state) is None for state in lost_state.states)

    # the way out the message gives: the logged id, put back in the state by hand
    request_id = only_request(vendor)
    resumed = run_tap(config, state={"bookmarks": {STREAM: {"pending_request": {"id": request_id}}}})
    assert vendor.post_count == 1
    assert [r["raw"] for r in resumed.records(STREAM)] == vendor.jobs_for_request(request_id)


def test_402_is_a_clear_error_and_not_retried(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, credits=5))
    result, error = run_tap_partial(cs_config(emulator, vendor))
    assert "HTTP 402" in str(error)
    assert "insufficient Coresignal credits" in str(error)
    assert len(vendor.request_times) == 2  # the preflight's free check, then the refused POST
    assert vendor.post_count == 0
    assert all(pending_of(state) is None for state in result.states)


# ---------------------------------------------------------------------------- polling


def test_poll_timeout_keeps_the_request_for_the_next_run(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=10**6))
    config = cs_config(emulator, vendor, poll_interval_seconds=0.02, poll_timeout_seconds=0.2)
    started = time.monotonic()
    result, error = run_tap_partial(config)
    assert 0.2 <= time.monotonic() - started < 5
    request_id = only_request(vendor)
    assert f"data request {request_id} was not ready after 0.2s" in str(error)
    assert "next run resumes it" in str(error)
    assert 5 <= vendor.polls[request_id] <= 12
    assert_new_pending(pending_of(result.last_state), request_id)

    vendor.polls_until_ready = 0
    resumed = run_tap(config, state=result.last_state)
    assert vendor.post_count == 1
    assert [r["raw"] for r in resumed.records(STREAM)] == vendor.jobs_for_request(request_id)


# ---------------------------------------------------------------------------- rate limit


def test_rate_limit_at_a_low_configured_value(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, files_per_request=6, polls_until_ready=2))
    result = run_tap(cs_config(emulator, vendor, max_requests_per_second=3, poll_interval_seconds=0.01))
    assert len(result.records(STREAM)) == len(vendor.jobs_for_request(only_request(vendor)))
    times = sorted(vendor.request_times)
    assert len(times) == 1 + 1 + 3 + 6  # preflight check, POST, polls, downloads
    busiest = max(sum(1 for other in times if start <= other < start + 1.0) for start in times)
    assert busiest <= 3
    assert vendor.rate_limited == 0


def test_429_honours_retry_after(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    vendor.faults.add(Fault(path_regex=POLL, status=429, retry_after="1"))
    started = time.monotonic()
    result = run_tap(cs_config(emulator, vendor))
    assert time.monotonic() - started >= 1.0
    assert len(result.records(STREAM)) == len(vendor.jobs_for_request(only_request(vendor)))
    assert vendor.post_count == 1


# ---------------------------------------------------------------------------- incremental


def test_next_run_collects_only_new_or_changed_jobs(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor)
    first = run_tap(config)
    bookmark = first.last_state["bookmarks"][STREAM]["replication_key_value"]
    added = [job for job in vendor.add_jobs(20) if "engineer" in job["title"].lower()]
    assert added

    second = run_tap(config, state=first.last_state)
    gte = bookmark[:19].replace("T", " ")
    assert vendor.posts[-1] == ("filter", {"filters": {"title": "engineer", "last_updated_gte": gte}})
    records = second.records(STREAM)
    # the posting(s) stamped exactly at the bookmark come again (gte), then the new ones
    assert {r["id"] for r in records} - {job["id"] for job in added} == {
        r["id"] for r in first.records(STREAM) if r["last_updated"] == bookmark
    }
    assert {job["id"] for job in added} <= {r["id"] for r in records}
    assert second.last_state["bookmarks"][STREAM]["replication_key_value"] == max_last_updated(added)


def test_start_date_becomes_last_updated_gte(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = {**cs_config(emulator, vendor), "start_date": "2026-03-01T00:00:00Z"}
    result = run_tap(config)
    assert vendor.posts[0][1]["filters"]["last_updated_gte"] == "2026-03-01 00:00:00"
    records = result.records(STREAM)
    assert records
    assert min(r["last_updated"] for r in records) >= "2026-03-01T00:00:00+00:00"


def test_limit_and_webhook_are_sent(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor, limit=10, webhook_url="https://hooks.example.com/coresignal")
    result = run_tap(config)
    assert vendor.posts == [
        (
            "filter",
            {
                "filters": {"title": "engineer"},
                "limit": 10,
                "webhook_url": "https://hooks.example.com/coresignal",
            },
        )
    ]
    assert len(result.records(STREAM)) == 10


def test_job_ids_are_uploaded_as_an_id_file(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    wanted = [job["id"] for job in vendor.all_jobs()[5:12]]
    config = cs_config(emulator, vendor, job_ids=[*wanted, 3_000_000_001])  # the last id does not exist
    result = run_tap(config)
    assert vendor.posts == [("id_file", [*wanted, 3_000_000_001])]
    assert sorted(ids(result.records(STREAM))) == wanted


def test_a_request_without_matches_emits_nothing(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    result = run_tap(cs_config(emulator, vendor, filters={"title": "no such title anywhere"}))
    assert result.records(STREAM) == []
    assert len(vendor.downloads) == 1  # one empty gzip file
    assert result.last_state == {"bookmarks": {STREAM: {}}}


# ---------------------------------------------------------------------------- broken files


def test_a_broken_download_is_fetched_again_without_duplicates(
    emulator: Emulator, vendor: CoresignalEmulator, fast_retries: None
) -> None:
    vendor.faults.add(Fault(path_regex=r"/files/json/part-00001-", abort_after=20_000))
    result = run_tap(cs_config(emulator, vendor))
    request_id = only_request(vendor)
    assert [r["raw"] for r in result.records(STREAM)] == vendor.jobs_for_request(request_id)
    names = vendor.files_for_request(request_id)
    assert vendor.downloads[(request_id, names[1])] == 2


def test_a_truncated_gzip_once_is_fetched_again(
    emulator: Emulator, vendor: CoresignalEmulator, fast_retries: None
) -> None:
    vendor.faults.add(Fault(path_regex=r"/files/json/part-00000-", kind="truncated_gzip"))
    result = run_tap(cs_config(emulator, vendor))
    assert [r["raw"] for r in result.records(STREAM)] == vendor.jobs_for_request(only_request(vendor))


@pytest.mark.parametrize(
    ("kind", "words"), [("truncated_gzip", "is a truncated gzip file"), ("not_gzip", "is not a gzip file")]
)
def test_a_file_that_stays_broken_is_a_clear_error_naming_it(
    emulator: Emulator, vendor: CoresignalEmulator, fast_retries: None, kind: str, words: str
) -> None:
    vendor.faults.add(Fault(path_regex=r"/files/json/part-00002-", kind=kind, times=10))
    result, error = run_tap_partial(cs_config(emulator, vendor))
    request_id = only_request(vendor)
    name = vendor.files_for_request(request_id)[2]
    assert f"coresignal stream 'bulk_jobs': file {name!r} of data request {request_id} {words}" in str(error)
    assert pending_of(result.last_state)["files_done"] == vendor.files_for_request(request_id)[:2]  # type: ignore[index]


# ---------------------------------------------------------------------------- secrets


def test_wrong_token_fails_clearly_without_showing_it(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor, api_token="not-the-token-xyz")
    result, error = run_tap_partial(config)
    assert "HTTP 401" in str(error)
    assert "not-the-token-xyz" not in str(error) + result.text()
    assert len(vendor.request_times) == 1


def test_no_secret_in_output_or_logs(
    emulator: Emulator, vendor: CoresignalEmulator, caplog: pytest.LogCaptureFixture, fast_retries: None
) -> None:
    vendor.faults.add(Fault(path_regex=POLL, status=503))
    vendor.faults.add(Fault(path_regex=r"/files/json/", abort_after=5000))
    with caplog.at_level(logging.DEBUG):
        result = run_tap(cs_config(emulator, vendor))
    assert result.records(STREAM)
    assert vendor.api_token not in result.text() + caplog.text


# ---------------------------------------------------------------------------- the reader


def file_url_path(request_id: str, name: str) -> str:
    config = {"coresignal": {"api_token": "t", "base_url": "https://api.example.com/cdapi"}}
    client = CoresignalClient(config, logging.getLogger())
    return client.file_url(request_id, name).removeprefix("https://api.example.com/cdapi")


def test_file_names_keep_their_slashes_as_path_segments() -> None:
    assert file_url_path("r-1", "json/part-00000-x.json.gz") == "/v1/bulk_collect/r-1/files/json/part-00000-x.json.gz"
    assert file_url_path("r 1", "a b/c?d#e") == "/v1/bulk_collect/r%201/files/a%20b/c%3Fd%23e"
    for unsafe in ["", "../x.gz", "json/../../x", "/abs.gz", "json//x.gz", "json\\x.gz", "."]:
        with pytest.raises(CoresignalError, match="unsafe file name"):
            file_url_path("r-1", unsafe)


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[k : k + size] for k in range(0, len(data), size)]


def test_lines_split_on_newline_only() -> None:
    text = '{"id":1,"d":"a\u2028b\u2029c\x85d"}\r\n\n{"id":2}\n{"id":3}'.encode()
    lines = list(body_lines(pieces(gzip.compress(text), 1), "f"))
    assert [parse_job(line, "f", 1)["id"] for line in lines] == [1, 2, 3]
    assert parse_job(lines[0], "f", 1)["d"] == "a\u2028b\u2029c\x85d"


def test_concatenated_gzip_members_are_one_file() -> None:
    data = gzip.compress(b'{"id":1}\n') + gzip.compress(b"") + gzip.compress(b'{"id":2}\n')
    for size in (1, 7, len(data)):
        assert list(body_lines(pieces(data, size), "f")) == [b'{"id":1}', b'{"id":2}']


def test_a_body_already_inflated_by_the_transport_is_read_as_is() -> None:
    assert list(body_lines([b'{"id":1}\n{"id":2}\n'], "f", content_encoding="gzip")) == [
        b'{"id":1}',
        b'{"id":2}',
    ]
    with pytest.raises(CorruptFileError, match="not a gzip file"):
        list(body_lines([b'{"id":1}\n'], "f"))


def test_corrupt_and_hostile_gzip_bodies() -> None:
    data = gzip.compress(b'{"id":1}\n{"id":2}\n')
    with pytest.raises(CorruptFileError, match="truncated"):
        list(body_lines([data[:-6]], "f"))
    with pytest.raises(CorruptFileError, match="empty"):
        list(body_lines([], "f"))
    broken = bytearray(data)
    broken[-8] ^= 0xFF  # the CRC
    with pytest.raises(CorruptFileError, match="corrupt"):
        list(body_lines([bytes(broken)], "f"))
    # a bomb without newlines is refused at the line cap, not buffered whole
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = bomb.compress(b"x" * (8 << 20)) + bomb.flush()
    assert len(body) < 20_000
    with pytest.raises(CoresignalError, match="longer than"):
        list(split_lines(gunzip([body], "f"), "f", 1 << 20))


def test_a_download_is_checked_whole_as_the_reader_will_read_it() -> None:
    """What a worker checks before a file's records are read: what body_lines would refuse."""
    data = gzip.compress(b'{"id":1}\n{"id":2}\n')
    check_body(pieces(data, 3), "f")
    check_body([b'{"id":1}\n'], "f", content_encoding="gzip")
    with pytest.raises(CorruptFileError, match="truncated"):
        check_body([data[:-6]], "f")
    with pytest.raises(CorruptFileError, match="not a gzip file"):
        check_body([b"<html>busy</html>"], "f")
    long_line = gzip.compress(b'{"id":1}\n' + b"x" * 5000)  # where split_lines refuses it
    check_body([long_line], "f", max_line_bytes=5000)
    with pytest.raises(CoresignalError, match="f holds a line longer than 4999 bytes"):
        check_body([long_line], "f", max_line_bytes=4999)
    with pytest.raises(CoresignalError, match="f holds a line longer than 4999 bytes"):
        list(split_lines(gunzip([long_line], "f"), "f", 4999))


def test_vendor_time_format() -> None:
    from datetime import datetime, timedelta, timezone

    moment = datetime(2025, 6, 14, 19, 42, 28, 900_000, tzinfo=timezone(timedelta(hours=2)))
    assert vendor_time(moment) == "2025-06-14 17:42:28"


def test_memory_stays_bounded_on_a_large_file(emulator: Emulator) -> None:
    """Reading a 50k-job file (about 65 MB of JSON Lines) never holds more than a few chunks.

    The compressed file is fetched first, so that only the reader is traced (tracing the
    in-process emulator too would only slow the test down); it is fed in 64 KiB chunks,
    as ``iter_content`` gives them.
    """
    vendor = mount(emulator, CoresignalEmulator(jobs=50_000, files_per_request=1, rate_limit=10_000))
    vendor.polls_until_ready = 0
    base = emulator.url(vendor.prefix)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {vendor.api_token}"
    body = {"filters": {"created_at_gte": "2000-01-01"}}
    request_id = session.post(f"{base}/v1/professional_network/job/bulk_collect/filter", json=body).json()["request_id"]
    (name,) = session.get(f"{base}/v1/bulk_collect/{request_id}/files").json()["data_request_files"]
    compressed = session.get(base + file_url_path(request_id, name)).content
    chunk = 1 << 16

    tracemalloc.start()
    try:
        count = inflated = 0
        chunks = (compressed[k : k + chunk] for k in range(0, len(compressed), chunk))
        for count, line in enumerate(body_lines(chunks, name), start=1):
            inflated += len(line) + 1
            if count % 1000 == 1:
                assert parse_job(line, name, count)["id"] >= 3_000_000_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert inflated > 60_000_000
    assert peak < 2_000_000, f"peak {peak} bytes while reading {inflated} bytes of JSON Lines"


# ---------------------------------------------------------------------------- dry runs


def test_a_connection_test_never_pays(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    tap = TapHrData(config=cs_config(emulator, vendor))
    assert tap.run_connection_test()
    assert vendor.post_count == 0
    assert len(vendor.request_times) == 1  # one free call that checks the token

    bad = TapHrData(config=cs_config(emulator, vendor, api_token="not-the-token-xyz"))
    with pytest.raises(Exception, match="HTTP 401"):
        bad.run_connection_test()


def test_a_connection_test_may_read_a_pending_request(emulator: Emulator, vendor: CoresignalEmulator) -> None:
    config = cs_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=POLL, status=400))
    crashed, _ = run_tap_partial(config)
    tap = TapHrData(config=config, state=crashed.last_state)
    assert tap.run_connection_test()
    assert vendor.post_count == 1
    assert sum(vendor.downloads.values()) == 1


# ---------------------------------------------------------------------------- the files endpoint's answers

PROCESSING = {"message": "Data request is still being processed"}


@pytest.mark.parametrize(
    ("status", "payload", "state"),
    [
        (200, {"data_request_files": ["json/a.json.gz", "json/a.json.gz", "json/b.json.gz"]}, FilesState.READY),
        (200, {"data_request_files": []}, FilesState.PROCESSING),  # the seed docs' not-ready answer
        (200, PROCESSING, FilesState.PROCESSING),  # the vendor's current one, with any of these statuses
        (202, PROCESSING, FilesState.PROCESSING),
        (400, PROCESSING, FilesState.PROCESSING),
        (404, PROCESSING, FilesState.PROCESSING),
        (422, {"message": "No records found for this data request"}, FilesState.NO_MATCH),
        (422, {"message": "Data request exceeds the limit of 10000 records"}, FilesState.OVER_CAP),
        (400, {"message": "The data request is over the record cap (10,000)"}, FilesState.OVER_CAP),
        (422, {"message": "Request matched too many IDs. Maximum is 10,000 IDs"}, FilesState.OVER_CAP),
        (503, {"message": "Download the prepared dataset within 30 days of submitting the query"}, FilesState.EXPIRED),
        (404, {"message": "Data request expired"}, FilesState.EXPIRED),
        (402, {"message": "Insufficient credits"}, FilesState.NO_CREDITS),
        (404, {"message": "Data request not found"}, FilesState.GONE),
        (410, {}, FilesState.GONE),
    ],
)
def test_every_answer_of_the_files_endpoint_is_judged(status: int, payload: dict[str, Any], state: FilesState) -> None:
    answer = files_answer(status, payload, "where")
    assert answer.state is state
    if state is FilesState.READY:
        assert answer.names == ("json/a.json.gz", "json/b.json.gz")  # listed twice, read once


@pytest.mark.parametrize(
    ("status", "payload"), [(200, {"data_request_files": "x"}), (200, {"data_request_files": [1]}), (400, {})]
)
def test_an_answer_that_means_nothing_known_is_a_clear_error(status: int, payload: dict[str, Any]) -> None:
    with pytest.raises(CoresignalError, match=r"^where "):
        files_answer(status, payload, "where")


# ---------------------------------------------------------------------------- the API of today: v2 (issue 12)


def v2_config(emulator: Emulator, vendor: CoresignalEmulator, **coresignal: Any) -> dict[str, Any]:
    """The current API: only ``api_key``."""
    return config_for(emulator, vendor, coresignal={"api_token": None, "api_key": vendor.api_key, **coresignal})


def engineer_jobs(vendor: CoresignalEmulator) -> set[int]:
    """Every job the tap's test filter (title contains "engineer") matches."""
    return {job["id"] for job in vendor.all_jobs() if "engineer" in job["title"].casefold()}


def test_v2_with_an_api_key_end_to_end(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=400, polls_until_ready=1))
    result = run_tap(v2_config(emulator, vendor))
    [request_id] = vendor.data_requests
    assert vendor.post_counts == {"v2": 1}
    assert {r["id"] for r in result.records(STREAM)} == {j["id"] for j in vendor.jobs_for_request(request_id)}
    assert vendor.auth_used[("v2", "apikey")] > 0
    assert not any(generation == "v1" for generation, _ in vendor.auth_used)
    assert_new_pending(pending_of(result.states[0]), request_id, api="v2")


def test_v2_id_file_goes_in_the_ids_file_field(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=100, polls_until_ready=0))
    ids = [job["id"] for job in vendor.all_jobs()[:7]]
    result = run_tap(v2_config(emulator, vendor, filters=None, job_ids=ids))
    assert sorted(r["id"] for r in result.records(STREAM)) == sorted(ids)
    [(kind, posted)] = vendor.posts_by_generation["v2"]
    assert kind == "id_file"
    assert sorted(posted) == sorted(ids)  # the vendor refuses any field but ids_file on v2


def test_both_credentials_is_a_configuration_error_before_anything_is_sent(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=10))
    config = config_for(emulator, vendor, coresignal={"api_key": vendor.api_key})
    with pytest.raises(ConfigValidationError) as refused:
        _ = TapHrData(config=config).streams
    assert refused.value.errors == ["set only one of coresignal.api_key or coresignal.api_token, not both"]
    assert vendor.post_count == 0


def test_more_than_10000_job_ids_or_a_limit_over_the_cap_is_refused_at_startup(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=10))
    with pytest.raises(ConfigValidationError, match=r"coresignal\.job_ids lists 10001 ids"):
        _ = TapHrData(config=v2_config(emulator, vendor, job_ids=list(range(10_001)))).streams
    with pytest.raises(ConfigValidationError) as refused:
        _ = TapHrData(config=v2_config(emulator, vendor, limit=10_001)).streams
    assert refused.value.errors == ["10001 is greater than the maximum of 10000 in config['coresignal']['limit']"]
    assert vendor.post_count == 0


@pytest.mark.parametrize("status", [200, 202, 400, 404])
def test_still_being_processed_means_poll_again_whatever_the_status(emulator: Emulator, status: int) -> None:
    vendor = mount(
        emulator, CoresignalEmulator(jobs=200, polls_until_ready=3, not_ready_status=status, not_ready_answer="message")
    )
    result = run_tap(v2_config(emulator, vendor))
    [request_id] = vendor.data_requests
    assert vendor.polls[request_id] >= 4  # three "still being processed", then the files
    assert {r["id"] for r in result.records(STREAM)} == {j["id"] for j in vendor.jobs_for_request(request_id)}
    assert vendor.post_count == 1


def test_422_no_record_matched_ends_the_request_and_keeps_the_bookmark(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=100, polls_until_ready=0))
    value = "2025-01-01T00:00:00+00:00"
    bookmark = {"bookmarks": {STREAM: {"replication_key": "last_updated", "replication_key_value": value}}}
    result = run_tap(v2_config(emulator, vendor, filters={"title": "no such job title anywhere"}), state=bookmark)
    assert result.records(STREAM) == []
    [request_id] = vendor.data_requests
    assert vendor.status(request_id) == "no_match"
    state = result.last_state["bookmarks"][STREAM]
    assert "pending_request" not in state
    assert state["replication_key_value"] == value


def test_402_while_collecting_names_credits_and_keeps_the_request(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=0, credits=3))
    partial, error = run_tap_partial(v2_config(emulator, vendor))
    [request_id] = vendor.data_requests
    assert "insufficient Coresignal credits" in str(error)
    assert request_id in str(error)
    assert pending_of(partial.last_state)["id"] == request_id  # kept: the next run pays nothing again


def test_a_request_past_the_30_days_is_dropped_with_a_warning(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=200, polls_until_ready=10_000))
    partial, _ = run_tap_partial(v2_config(emulator, vendor, poll_timeout_seconds=0.2))
    [old] = vendor.data_requests
    assert pending_of(partial.last_state)["id"] == old
    vendor.advance_days(31)  # the vendor has dropped its files
    vendor.polls_until_ready = 0
    with caplog.at_level(logging.WARNING):
        result = run_tap(v2_config(emulator, vendor), state=partial.last_state)
    assert f"data request {old} has expired" in caplog.text
    new = next(rid for rid in vendor.data_requests if rid != old)
    assert {r["id"] for r in result.records(STREAM)} == {j["id"] for j in vendor.jobs_for_request(new)}
    assert "pending_request" not in result.last_state["bookmarks"][STREAM]


def test_a_pending_request_created_over_30_days_ago_is_not_polled(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=200, polls_until_ready=0))
    created = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat()
    state = {"bookmarks": {STREAM: {"pending_request": {"id": "gone-1", "api": "v2", "created_at": created}}}}
    with caplog.at_level(logging.WARNING):
        result = run_tap(v2_config(emulator, vendor), state=state)
    assert "data request gone-1 was created on" in caplog.text
    assert vendor.polls["gone-1"] == 0
    assert result.records(STREAM)


def test_without_a_limit_a_pull_is_split_into_windows_under_the_cap(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=1000, polls_until_ready=0, record_cap=60))
    wanted = engineer_jobs(vendor)
    assert len(wanted) > 2 * 60  # more than two requests' worth
    result = run_tap(v2_config(emulator, vendor))
    emitted = [r["id"] for r in result.records(STREAM)]
    assert set(emitted) == wanted
    delivered = [rid for rid in vendor.data_requests if vendor.status(rid) == "ready"]
    assert len(delivered) >= 3
    assert all(len(vendor.jobs_for_request(rid)) <= 60 for rid in delivered)  # no request over the cap was paid
    refused = [rid for rid in vendor.data_requests if vendor.status(rid) == "too_many"]
    assert refused  # the first, open-ended request was refused (and charged nothing)
    assert len(emitted) - len(wanted) <= len(delivered)  # at most the postings at a window's edge twice
    state = result.last_state["bookmarks"][STREAM]
    assert "pending_request" not in state
    # an unchanged rerun pays for one small request: what changed since the bookmark
    before = vendor.post_count
    rerun = run_tap(v2_config(emulator, vendor), state=result.last_state)
    assert vendor.post_count - before == 1
    assert len(rerun.records(STREAM)) <= 5


def test_a_pending_request_put_back_by_hand_is_resumed_with_the_configured_api(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=200, polls_until_ready=10_000))
    run_tap_partial(v2_config(emulator, vendor, poll_timeout_seconds=0.2))
    [request_id] = vendor.data_requests
    vendor.polls_until_ready = 0
    by_hand = {"bookmarks": {STREAM: {"pending_request": {"id": request_id}}}}  # as README's recovery writes it
    result = run_tap(v2_config(emulator, vendor), state=by_hand)
    assert vendor.post_count == 1  # resumed, not paid again
    assert {r["id"] for r in result.records(STREAM)} == {j["id"] for j in vendor.jobs_for_request(request_id)}
