"""HrFlow against the emulator: paging, incremental early stop, body codes, broken bodies, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError

from tap_hrdata.sources.hrflow.client import HrflowClient
from tap_hrdata.tap import TapHrData
from tap_hrdata.values import iso_timestamp
from tap_hrdata.values import utc_timestamp as parse_timestamp
from tests.conftest import config_for, mount, run_tap, run_tap_partial
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator, Fault, Request, Response

HRFLOW_STREAMS = {"hrflow_profiles", "hrflow_jobs", "hrflow_sources", "hrflow_boards"}
#: Trackings and ratings: one list per role each (tests/sources/test_hrflow_activity.py).
ACTIVITY_STREAMS = {"hrflow_trackings", "hrflow_ratings"}
ACTIVITY_PATHS = ("/trackings", "/ratings")
#: Discovered but not selected by default: one listing call per profile (tests/sources/test_hrflow_attachments.py).
OFF_BY_DEFAULT = {"hrflow_profile_attachments"}
#: The webhook events the receiver journalled (tests/webhooks/test_hrflow_webhooks.py): no journal here, no record.
EVENT_STREAMS = {"hrflow_events"}
PROFILES = "/profiles/searching"
JOBS = "/jobs/searching"


def hf_config(emulator: Emulator, vendor: HrflowEmulator, **hrflow: Any) -> dict[str, Any]:
    """The seed docs' configuration (the Searching API); the Storing API's tests set ``listing``."""
    settings = {"listing": "searching", "source_keys": ["src-a", "src-b"], "board_keys": ["board-a"], **hrflow}
    return config_for(emulator, vendor, hrflow=settings)


def pages(vendor: HrflowEmulator, path: str) -> list[int]:
    return [int(query["page"]) for called, query in vendor.call_log if called == path]


#: Pages fetched ahead for nothing at most, past the last page paging reads: max_concurrent_requests (8) - 1.
AHEAD = 7


def assert_pages_read(vendor: HrflowEmulator, path: str, read: list[int], *, last: int | None = None) -> None:
    """Paging read the pages ``read`` (sorted; a page asked twice is listed twice). Pages fetched
    ahead arrive in any order; the only others asked are at most ``AHEAD`` past the last page
    read, each once, none past ``last`` (the answers' ``meta.maxPage``)."""
    asked = sorted(pages(vendor, path))
    assert asked[: len(read)] == read, asked
    beyond = asked[len(read) :]
    assert len(beyond) <= AHEAD, asked
    assert len(set(beyond)) == len(beyond), asked
    assert all(page > read[-1] and (last is None or page <= last) for page in beyond), asked


def bookmark_state(value: str) -> dict[str, Any]:
    return {"bookmarks": {"hrflow_profiles": {"replication_key": "updated_at", "replication_key_value": value}}}


def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: parse_timestamp(item["updated_at"]) or 0, reverse=True)


@pytest.fixture
def vendor(emulator: Emulator) -> HrflowEmulator:
    return mount(emulator, HrflowEmulator())


# ---- discovery and a whole sync --------------------------------------------------------


def test_discovery_lists_only_the_four_hrflow_streams(emulator: Emulator, vendor: HrflowEmulator) -> None:
    discovered = set(TapHrData(config=hf_config(emulator, vendor)).streams)
    assert discovered == HRFLOW_STREAMS | ACTIVITY_STREAMS | OFF_BY_DEFAULT | EVENT_STREAMS


def test_full_sync_then_unchanged_rerun(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = hf_config(emulator, vendor)
    first = run_tap(config)
    assert first.streams() == HRFLOW_STREAMS | ACTIVITY_STREAMS

    profiles = first.records("hrflow_profiles")
    assert sorted(p["key"] for p in profiles) == sorted(p["key"] for p in vendor.profiles())
    assert len(profiles) == 65
    jobs = first.records("hrflow_jobs")
    assert sorted(j["key"] for j in jobs) == sorted(j["key"] for j in vendor.jobs())
    assert {s["key"] for s in first.records("hrflow_sources")} == set(vendor.source_keys())
    assert {b["key"] for b in first.records("hrflow_boards")} == set(vendor.board_keys())

    bookmarks = first.last_state["bookmarks"]
    newest_profile = max(parse_timestamp(p["updated_at"]) for p in vendor.profiles())
    assert parse_timestamp(bookmarks["hrflow_profiles"]["replication_key_value"]) == newest_profile
    newest_job = max(parse_timestamp(j["updated_at"]) for j in vendor.jobs())
    assert parse_timestamp(bookmarks["hrflow_jobs"]["replication_key_value"]) == newest_job
    assert "progress_markers" not in bookmarks["hrflow_profiles"]

    vendor.reset_calls()
    second = run_tap(config, state=first.last_state)
    assert second.records("hrflow_profiles") == []
    assert second.records("hrflow_jobs") == []
    assert all(count <= 1 for path, count in vendor.calls.items() if path not in ACTIVITY_PATHS), vendor.calls
    assert vendor.calls[PROFILES] == vendor.calls[JOBS] == 1
    assert all(vendor.calls[path] == 4 for path in ACTIVITY_PATHS), vendor.calls  # one page per role
    assert second.last_state["bookmarks"]["hrflow_profiles"] == bookmarks["hrflow_profiles"]


def test_records_have_typed_columns_and_the_whole_object(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run_tap(hf_config(emulator, vendor))
    by_key = {p["key"]: p for p in vendor.profiles()}
    for record in result.records("hrflow_profiles"):
        profile = by_key[record["key"]]
        assert record["raw"] == profile  # nothing dropped, timestamps as served
        assert record["reference"] == profile["reference"]
        assert record["email"] == profile["info"]["email"]
        assert record["full_name"] == profile["info"]["full_name"]
        assert record["location_text"] == profile["info"]["location"]["text"]
        assert record["source_key"] == profile["source"]["key"]
        # ISO 8601 in UTC, the same instant as HrFlow's "+0000" form.
        assert record["updated_at"].endswith("+00:00")
        assert parse_timestamp(record["updated_at"]) == parse_timestamp(profile["updated_at"])
        assert record["created_at"] == iso_timestamp(profile["created_at"])

    jobs = {j["key"]: j for j in vendor.jobs()}
    for record in result.records("hrflow_jobs"):
        job = jobs[record["key"]]
        assert record["raw"] == job
        assert record["name"] == job["name"]
        assert record["reference"] == job["reference"]
        assert record["board_key"] == "board-a"
        geopoint = job["location"]["geopoint"]
        assert record["location_lat"] == (geopoint["lat"] if geopoint else None)

    sizes = {s["key"]: s["size"] for s in result.records("hrflow_sources")}
    assert sizes == {"src-a": 45, "src-b": 20, "src-empty-1": 0, "src-empty-2": 0}


# ---- paging ------------------------------------------------------------------------------


def test_paging_stops_after_max_page(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run_tap(hf_config(emulator, vendor, page_size=20))
    assert len({p["key"] for p in result.records("hrflow_profiles")}) == 65
    assert sorted(pages(vendor, PROFILES)) == [1, 2, 3, 4]  # maxPage is 4: no fifth, empty call
    assert sorted(pages(vendor, JOBS)) == [1, 2]
    assert pages(vendor, "/sources") == [1]
    assert all(query["limit"] == "20" for path, query in vendor.call_log if path != "/auth")  # /auth: the preflight


def test_list_endpoints_page_too(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run_tap(hf_config(emulator, vendor, page_size=3))
    assert pages(vendor, "/sources") == [1, 2]
    assert len(result.records("hrflow_sources")) == 4


def test_multiple_source_keys_in_one_query(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run_tap(hf_config(emulator, vendor, page_size=100))
    queries = [query for path, query in vendor.call_log if path == PROFILES]
    assert len(queries) == 1
    assert json.loads(queries[0]["source_keys"]) == ["src-a", "src-b"]
    assert queries[0]["sort_by"] == "updated_at"
    assert queries[0]["order_by"] == "desc"
    assert {p["source_key"] for p in result.records("hrflow_profiles")} == {"src-a", "src-b"}


def test_empty_source_costs_one_call(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run_tap(hf_config(emulator, vendor, source_keys=["src-empty-1"]))
    assert result.records("hrflow_profiles") == []
    assert vendor.calls[PROFILES] == 1


def test_lying_max_page_stops_at_the_empty_page(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, kind="lie_meta", times=10))
    result = run_tap(hf_config(emulator, vendor, page_size=30))
    assert len(result.records("hrflow_profiles")) == 65
    # page 4 is empty, whatever maxPage says (6: pages 5 and 6 may have been fetched ahead)
    assert_pages_read(vendor, PROFILES, [1, 2, 3, 4], last=6)
    # Page 3 is short while meta.total says 80: page 4 is asked, and its answer (empty, total 68 of
    # places up to 90) agrees that the list ended. The bookmark moves; nothing to warn about.
    newest = max(parse_timestamp(p["updated_at"]) for p in vendor.profiles())
    bookmark = result.last_state["bookmarks"]["hrflow_profiles"]["replication_key_value"]
    assert parse_timestamp(bookmark) == newest
    assert "read to its end" not in caplog.text


def test_a_total_beyond_the_last_page_read_keeps_the_bookmark(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A list that cannot be paged to its end (a search index serving fewer items than its total):
    paging ends, the run warns, and the bookmark does not move past what was not read."""
    vendor.faults.add(
        Fault(path_regex=PROFILES, kind="lie_meta", params={"extra_pages": 20}, times=100)
    )  # every answer lies, whatever order they arrive in
    result = run_tap(hf_config(emulator, vendor, page_size=20))
    assert len(result.records("hrflow_profiles")) == 65
    # 4 is short, 5 empty, while meta.total says 85 (maxPage 24: a few fetched ahead for nothing)
    assert_pages_read(vendor, PROFILES, [1, 2, 3, 4, 5], last=24)
    assert "replication_key_value" not in result.last_state["bookmarks"]["hrflow_profiles"]
    assert "hrflow stream 'hrflow_profiles': the list may not have been read to its end" in caplog.text
    assert "page 4 held 5 of 20 items, then page 5 came back empty, while meta.total says 85" in caplog.text


def test_a_list_that_grows_during_the_run_is_still_read_to_a_confirmed_end(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A profile added between page 1 and page 2 shifts the list and makes meta.total 66: the last
    answer still reaches its total (by its place in the list), so the bookmark moves, with no warning."""
    original = vendor.handle
    added: list[str] = []

    def handle(request: Request) -> Response:
        if request.path == PROFILES and request.arg("page") == "2" and not added:
            added.append(vendor.add_profile("src-a")["key"])
        return original(request)

    vendor.handle = handle
    result = run_tap(hf_config(emulator, vendor, page_size=20))
    keys = [p["key"] for p in result.records("hrflow_profiles")]
    assert len(keys) == len(set(keys)) == 65  # the added profile is newer than page 1: the next run's
    assert added[0] not in keys
    # Page 2 repeats the last profile of page 1: pages 3 and 4, fetched ahead maybe before the
    # list moved, are fetched again after it.
    asked = pages(vendor, PROFILES)
    assert sorted(set(asked)) == [1, 2, 3, 4]
    assert asked.count(1) == asked.count(2) == 1
    assert len(asked) <= 6
    assert "replication_key_value" in result.last_state["bookmarks"]["hrflow_profiles"]
    assert "read to its end" not in caplog.text


def test_a_full_last_page_reaching_meta_total_costs_no_extra_call(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run_tap(hf_config(emulator, vendor, page_size=13))  # 65 profiles: 5 full pages
    assert len(result.records("hrflow_profiles")) == 65
    assert sorted(pages(vendor, PROFILES)) == [1, 2, 3, 4, 5]
    assert "replication_key_value" in result.last_state["bookmarks"]["hrflow_profiles"]


def test_without_meta_total_a_second_answer_confirms_the_end(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """No total to check against: a full page at meta.maxPage is confirmed by the (empty) page after it."""
    vendor.faults.add(Fault(path_regex=PROFILES, kind="no_total", times=100))
    result = run_tap(hf_config(emulator, vendor, page_size=13))
    assert len(result.records("hrflow_profiles")) == 65
    assert sorted(pages(vendor, PROFILES)) == [1, 2, 3, 4, 5, 6]  # 6: asked past maxPage, not ahead
    newest = max(parse_timestamp(p["updated_at"]) for p in vendor.profiles())
    bookmark = result.last_state["bookmarks"]["hrflow_profiles"]["replication_key_value"]
    assert parse_timestamp(bookmark) == newest
    assert "read to its end" not in caplog.text


def test_without_meta_total_a_short_page_is_the_end(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, kind="no_total", times=100))
    result = run_tap(hf_config(emulator, vendor, page_size=20))
    assert len(result.records("hrflow_profiles")) == 65
    assert sorted(pages(vendor, PROFILES)) == [1, 2, 3, 4]  # page 4 holds 5 of 20
    assert "replication_key_value" in result.last_state["bookmarks"]["hrflow_profiles"]


def test_no_source_keys_means_no_profile_request(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = hf_config(emulator, vendor)
    del config["hrflow"]["source_keys"]
    result = run_tap(config)
    assert result.records("hrflow_profiles") == []
    assert len(result.records("hrflow_jobs")) == 33
    assert vendor.calls[PROFILES] == 0
    assert "hrflow.source_keys is empty" in caplog.text


# ---- incremental -------------------------------------------------------------------------


def test_incremental_run_emits_only_changes_and_stops_early(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = hf_config(emulator, vendor)
    first = run_tap(config)
    oldest = newest_first(vendor.profiles())[-1]
    touched = vendor.touch_profile(oldest["key"])  # updated now
    added = vendor.add_profile("src-b", updated_at="2025-06-01T00:00:00+0000")
    vendor.reset_calls()

    second = run_tap(config, state=first.last_state)
    assert {p["key"] for p in second.records("hrflow_profiles")} == {touched["key"], added["key"]}
    # Page 1 holds the two changes and older records; page 2 is all older: stop there
    # (page 3, the last, may have been fetched ahead).
    assert_pages_read(vendor, PROFILES, [1, 2], last=3)
    assert second.records("hrflow_jobs") == []
    bookmark = second.last_state["bookmarks"]["hrflow_profiles"]["replication_key_value"]
    assert bookmark == iso_timestamp(touched["updated_at"])

    vendor.reset_calls()
    third = run_tap(config, state=second.last_state)
    assert third.records("hrflow_profiles") == []
    assert pages(vendor, PROFILES) == [1]


def test_a_change_stamped_after_the_run_started_is_synced_again_not_lost(
    emulator: Emulator, vendor: HrflowEmulator
) -> None:
    config = hf_config(emulator, vendor)
    future = vendor.add_profile("src-a", updated_at="2099-01-01T00:00:00+0000")
    first = run_tap(config)
    assert future["key"] in {p["key"] for p in first.records("hrflow_profiles")}
    # The SDK caps a timestamp bookmark at the run's start, so a clock-skewed or
    # future-dated record cannot hide every later change; it comes again instead.
    bookmark = parse_timestamp(first.last_state["bookmarks"]["hrflow_profiles"]["replication_key_value"])
    assert bookmark is not None
    assert bookmark < datetime(2099, 1, 1, tzinfo=timezone.utc)
    second = run_tap(config, state=first.last_state)
    assert [p["key"] for p in second.records("hrflow_profiles")] == [future["key"]]


def test_start_date_limits_the_first_run(emulator: Emulator, vendor: HrflowEmulator) -> None:
    ordered = newest_first(vendor.profiles())
    start = ordered[14]["updated_at"]  # 14 profiles are newer
    config = {**hf_config(emulator, vendor, page_size=10), "start_date": iso_timestamp(start)}
    result = run_tap(config)
    assert [p["key"] for p in result.records("hrflow_profiles")] == [p["key"] for p in ordered[:14]]
    # 10 newer; 4 newer + 6 older; all older: stop (a full run reads 7 pages).
    assert_pages_read(vendor, PROFILES, [1, 2, 3], last=7)


def test_bookmark_in_vendor_format_is_understood(emulator: Emulator, vendor: HrflowEmulator) -> None:
    newest = newest_first(vendor.profiles())[0]["updated_at"]  # "2024-...+0000"
    result = run_tap(hf_config(emulator, vendor), state=bookmark_state(newest))
    assert result.records("hrflow_profiles") == []
    assert pages(vendor, PROFILES) == [1]


class _Scripted(HrflowEmulator):
    """The emulator, except for the requests ``script`` answers itself."""

    def __init__(self, script: Callable[[Request], Response | None]) -> None:
        super().__init__()
        self.script = script

    def handle(self, request: Request) -> Response:
        answer = self.script(request)
        return super().handle(request) if answer is None else answer


def _envelope(code: int, message: str = "", data: object = None) -> Response:
    return Response.json(200, {"code": code, "message": message, "meta": {}, "data": data})


def test_interrupted_run_does_not_move_the_bookmark(emulator: Emulator) -> None:
    def fail_page_2(request: Request) -> Response | None:
        second = request.path == PROFILES and request.arg("page") == "2"
        return _envelope(400, "Bad page") if second else None

    vendor = mount(emulator, _Scripted(fail_page_2))
    config = hf_config(emulator, vendor, page_size=10)
    old = newest_first(vendor.profiles())[30]["updated_at"]
    result, error = run_tap_partial(config, state=bookmark_state(old))
    assert "Bad page" in str(error)
    assert len(result.records("hrflow_profiles")) == 10  # page 1 was emitted
    for value in result.states:
        profile_state = value.get("bookmarks", {}).get("hrflow_profiles", {})
        assert profile_state.get("replication_key_value") in (None, old)


# ---- errors ------------------------------------------------------------------------------


def test_retriable_body_code_is_retried(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, kind="body_code", params={"code": 503}))
    vendor.faults.add(Fault(path_regex="^/sources$", kind="body_code", params={"code": 429}))
    result = run_tap(hf_config(emulator, vendor))
    assert len(result.records("hrflow_profiles")) == 65
    assert len(result.records("hrflow_sources")) == 4
    assert vendor.faults.fired["body_code"] == 2
    assert vendor.calls["/sources"] == 2


def test_fatal_body_code_names_where_and_why(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=JOBS, kind="body_code", params={"code": 400}))
    _, error = run_tap_partial(hf_config(emulator, vendor))
    message = str(error)
    assert isinstance(error, FatalAPIError)
    assert "hrflow stream 'hrflow_jobs'" in message
    assert "GET /hrflow/jobs/searching" in message
    assert "code 400: Internal error" in message
    assert "board_keys" not in message  # no query string
    assert vendor.calls[JOBS] == 1  # not retried


def test_wrong_api_key_is_a_clear_error_without_the_key(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = hf_config(emulator, vendor, api_key="not-the-key-0042")
    with caplog.at_level(logging.DEBUG):
        result, error = run_tap_partial(config)
    assert "code 401: Unauthorized" in str(error)
    assert "check hrflow.api_key and hrflow.user_email" in str(error)
    assert sum(vendor.calls.values()) == 1  # a refused key is not retried
    assert "not-the-key-0042" not in str(error) + result.text() + caplog.text


@pytest.mark.parametrize(
    ("path", "data", "where"),
    [
        ("/sources", None, "data"),
        ("/sources", {"items": []}, "data"),
        ("/sources", [{"name": "no key"}], "data"),
        ("/sources", ["src-a"], "data"),
        (PROFILES, {"jobs": []}, "data.profiles"),
        (PROFILES, [], "data.profiles"),
    ],
)
def test_unexpected_answer_shape_is_a_clear_error(emulator: Emulator, path: str, data: object, where: str) -> None:
    vendor = mount(emulator, _Scripted(lambda r: _envelope(200, "ok", data) if r.path == path else None))
    _, error = run_tap_partial(hf_config(emulator, vendor))
    assert isinstance(error, FatalAPIError)
    assert f"GET /hrflow{path} answered without a list of objects with a key in {where}" in str(error)


def test_vendor_message_echoing_the_key_is_redacted(emulator: Emulator) -> None:
    key = HrflowEmulator().api_key
    vendor = mount(emulator, _Scripted(lambda _: _envelope(400, f"bad key {key} for team")))
    _, error = run_tap_partial(hf_config(emulator, vendor))
    assert "code 400: bad key <redacted> for team" in str(error)
    assert key not in str(error)


def test_non_json_body_is_asked_again_once(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, kind="not_json"))
    result = run_tap(hf_config(emulator, vendor))
    assert len(result.records("hrflow_profiles")) == 65
    assert vendor.faults.fired["not_json"] == 1


def test_non_json_body_that_persists_is_a_clear_error(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, kind="not_json", times=100))
    _, error = run_tap_partial(hf_config(emulator, vendor))
    assert isinstance(error, FatalAPIError)
    message = str(error)
    assert "GET /hrflow/profiles/searching answered HTTP 200 with a body that is not JSON" in message
    assert message.endswith(": <html>Bad gateway</html> (gave up after 6 attempts)")
    assert error.__cause__ is None  # the redacted message says it all: no chained exception to print
    assert error.__suppress_context__


def test_non_json_5xx_body_is_retried(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, kind="not_json", params={"status": 502}))
    result = run_tap(hf_config(emulator, vendor))
    assert len(result.records("hrflow_profiles")) == 65
    assert vendor.calls[PROFILES] == 4  # 3 pages, one of them twice


def test_broken_body_is_retried(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, abort_after=2000))
    result = run_tap(hf_config(emulator, vendor))
    keys = [p["key"] for p in result.records("hrflow_profiles")]
    assert sorted(keys) == sorted(p["key"] for p in vendor.profiles())  # nothing lost, nothing twice


def test_non_utf8_bytes_are_replaced_with_a_warning(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, kind="non_utf8"))
    result = run_tap(hf_config(emulator, vendor))
    profiles = result.records("hrflow_profiles")
    assert len(profiles) == 65
    assert sum("\ufffd" in p["raw"]["text"] for p in profiles) == 1
    assert "not UTF-8" in caplog.text


def test_page_size_over_100_is_refused_at_discovery(emulator: Emulator, vendor: HrflowEmulator) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        _ = TapHrData(config=hf_config(emulator, vendor, page_size=101)).streams
    # what the SDK's CLI logs: the limit comes from the settings schema
    assert raised.value.errors == ["101 is greater than the maximum of 100 in config['hrflow']['page_size']"]
    discovered = set(TapHrData(config=hf_config(emulator, vendor, page_size=100)).streams)
    assert discovered == HRFLOW_STREAMS | ACTIVITY_STREAMS | OFF_BY_DEFAULT | EVENT_STREAMS


def test_plain_http_to_a_remote_host_is_refused() -> None:
    config = {"hrflow": {"base_url": "http://api.hrflow.example", "api_key": "k", "user_email": "e@x"}}
    with pytest.raises(ConfigValidationError, match="plain http"):
        _ = TapHrData(config=config).streams


def test_api_key_never_in_output_or_logs(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    vendor.faults.add(Fault(path_regex=PROFILES, status=503))
    vendor.faults.add(Fault(path_regex=JOBS, kind="body_code", params={"code": 500}))
    with caplog.at_level(logging.DEBUG):
        result = run_tap(hf_config(emulator, vendor))
    assert vendor.api_key not in result.text() + caplog.text
    tap = TapHrData(config=hf_config(emulator, vendor))
    assert vendor.api_key not in repr(tap.client(HrflowClient).authenticator)


# ---- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-07-22T09:11:32+0000", datetime(2020, 7, 22, 9, 11, 32, tzinfo=timezone.utc)),
        ("2020-07-22T09:11:32+00:00", datetime(2020, 7, 22, 9, 11, 32, tzinfo=timezone.utc)),
        ("2020-07-22T09:11:32Z", datetime(2020, 7, 22, 9, 11, 32, tzinfo=timezone.utc)),
        ("2020-07-22T11:11:32+0200", datetime(2020, 7, 22, 9, 11, 32, tzinfo=timezone.utc)),
        ("2020-07-22T09:11:32.250000+00:00", datetime(2020, 7, 22, 9, 11, 32, 250000, tzinfo=timezone.utc)),
        ("2020-07-22 09:11:32", datetime(2020, 7, 22, 9, 11, 32, tzinfo=timezone.utc)),
        ("2020-07-22", datetime(2020, 7, 22, tzinfo=timezone.utc)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1595409092, None),
    ],
)
def test_parse_timestamp(text: object, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_iso_timestamps_sort_as_strings_like_instants() -> None:
    stamps = ["2020-07-22T11:11:32+0200", "2020-07-22T09:11:33+0000", "2020-07-22T09:11:32.5+00:00"]
    emitted = [iso_timestamp(s) for s in stamps]
    assert emitted[0] == "2020-07-22T09:11:32+00:00"
    assert sorted(emitted) == [iso_timestamp(s) for s in sorted(stamps, key=parse_timestamp)]  # type: ignore[arg-type]


# ---- the Storing API, the default listing (issue 12) ---------------------------------------------


def storing_config(emulator: Emulator, vendor: HrflowEmulator, **hrflow: Any) -> dict[str, Any]:
    return config_for(emulator, vendor, hrflow={"page_size": 10, **hrflow})


def test_storing_is_the_default_and_lists_what_searching_leaves_out(emulator: Emulator) -> None:
    vendor = mount(emulator, HrflowEmulator(shape="current", unindexed_profiles=3, unindexed_jobs=2))
    config = storing_config(emulator, vendor)
    assert "listing" not in config["hrflow"]
    result = run_tap(config)
    profiles = {r["key"] for r in result.records("hrflow_profiles")}
    jobs = {r["key"] for r in result.records("hrflow_jobs")}
    assert profiles == {p["key"] for p in vendor.profiles(indexed=None)}
    assert jobs == {j["key"] for j in vendor.jobs(indexed=None)}
    assert profiles > {p["key"] for p in vendor.profiles(indexed=True)}  # strictly more than Searching gives
    assert vendor.calls["/profiles/searching"] == vendor.calls["/jobs/searching"] == 0
    _, query = next((path, q) for path, q in vendor.call_log if path == "/storing/profiles")
    assert query["return_profile"] == "true"
    assert (query["sort_by"], query["order_by"]) == ("updated_at", "desc")
    assert json.loads(query["source_keys"]) == sorted(vendor.source_keys())
    # early stop works the same: an unchanged rerun costs one call per stream
    before = dict(vendor.calls)
    rerun = run_tap(config, state=result.last_state)
    assert rerun.records("hrflow_profiles") == rerun.records("hrflow_jobs") == []
    assert vendor.calls["/storing/profiles"] - before["/storing/profiles"] == 1
    assert vendor.calls["/storing/jobs"] - before["/storing/jobs"] == 1


def test_job_coordinates_are_read_where_the_api_puts_them_today(emulator: Emulator) -> None:
    vendor = mount(emulator, HrflowEmulator(shape="current"))
    records = {r["key"]: r for r in run_tap(storing_config(emulator, vendor)).records("hrflow_jobs")}
    for job in vendor.jobs(indexed=None):
        record = records[job["key"]]
        assert (record["location_lat"], record["location_lng"]) == (job["location"]["lat"], job["location"]["lng"])
        assert record["board_key"] == job["board_key"]
        assert record["location_lat"] is not None
