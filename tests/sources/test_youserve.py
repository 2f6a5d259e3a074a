"""YouServe File API against the emulator: listing, chunked downloads, resume, deletion, safety."""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.sources.youserve import streams as youserve_streams
from tap_hrdata.sources.youserve.client import YouserveClient, business_type_ids, listing_filter, odata_datetime
from tap_hrdata.sources.youserve.streams import GroupDigest
from tap_hrdata.tap import TapHrData
from tap_hrdata.values import parse_timestamp
from tests.conftest import assert_no_client_secret, config_for, mount, run_tap, run_tap_partial
from tests.emulator.server import Emulator, Fault, Request, Response
from tests.emulator.youserve import YouserveEmulator

if TYPE_CHECKING:
    from collections.abc import Callable

STREAM = "delivered_files"
CHUNK = 64 * 1024


def ys_config(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, **youserve: Any) -> dict[str, Any]:
    return config_for(emulator, vendor, files=tmp_path / "files", youserve={"chunk_size_bytes": CHUNK, **youserve})


@pytest.fixture
def vendor(emulator: Emulator) -> YouserveEmulator:
    return mount(emulator, YouserveEmulator())


def listing_order(vendor: YouserveEmulator) -> list[dict[str, Any]]:
    """Entries as the tap must emit them: upload date, then the emulator's tie order (file id)."""
    return sorted(vendor.entries(), key=lambda e: (parse_timestamp(e["uploadDate"]), e["fileId"]))


def wrap(vendor: YouserveEmulator, hook: Callable[[Request, Callable[[Request], Response]], Response]) -> None:
    """Put ``hook(request, original_handle)`` in front of the vendor."""
    original = vendor.handle
    vendor.handle = lambda request: hook(request, original)  # type: ignore[method-assign]


def record_filters(vendor: YouserveEmulator) -> list[str | None]:
    filters: list[str | None] = []

    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        if request.path.endswith("/files"):
            filters.append(request.arg("$filter"))
        return handle(request)

    wrap(vendor, hook)
    return filters


def ranges_of(vendor: YouserveEmulator, file_id: str) -> list[tuple[int, int | None]]:
    return [(first, last) for fid, first, last in vendor.range_requests if fid == file_id]


# ---- discovery, settings, filters ----------------------------------------------------------


def test_discovery_lists_only_youserve(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    tap = TapHrData(config=ys_config(emulator, vendor, tmp_path))
    assert set(tap.streams) == {STREAM}
    with pytest.raises(ConfigValidationError, match="no source is configured"):
        _ = TapHrData(config={"files_storage_url": str(tmp_path)}).streams


def test_filter_is_built_from_validated_values_only() -> None:
    since = parse_timestamp("2026-01-05T08:30:23.6579+01:00")
    assert odata_datetime(since) == "2026-01-05T07:30:23.657Z"  # UTC, milliseconds, truncated
    assert listing_filter(status="all", business_types=business_type_ids([8000, 7101.0, 7101]), since=since) == (
        "status eq 'all' and (businessType eq 7101 or businessType eq 8000) and uploadDate ge 2026-01-05T07:30:23.657Z"
    )
    assert listing_filter(status="downloaded", before=since) == (
        "status eq 'downloaded' and uploadDate lt 2026-01-05T07:30:23.657Z"
    )
    assert business_type_ids(None) == ()
    assert business_type_ids([]) == ()
    with pytest.raises(ValueError, match="status"):
        listing_filter(status="all' or fileName eq 'x")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("business_types", ["7101 or businessType eq 8000"]),
        ("business_types", ["7101) or (status eq 'all'"]),
        ("business_types", ["7101"]),
        ("business_types", "7101"),
        ("business_types", [True]),
        ("business_types", [7101.5]),
        ("business_types", [-1]),
        ("business_types", [None]),
        ("business_types", [2**64]),
        ("page_size", 0),
        ("page_size", 1001),
        ("chunk_size_bytes", 0),
    ],
)
def test_odd_configured_values_are_refused(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, setting: str, value: Any
) -> None:
    config = ys_config(emulator, vendor, tmp_path, **{setting: value})
    with pytest.raises(ConfigValidationError):
        _ = TapHrData(config=config).streams
    assert vendor.calls.total() == 0


def test_start_date_and_business_types_reach_the_filter(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path
) -> None:
    filters = record_filters(vendor)
    config = {
        **ys_config(emulator, vendor, tmp_path, business_types=[8000, 7101, 8000]),
        "start_date": "2026-01-31T19:02:11.120+01:00",
    }
    result = run_tap(config)
    assert filters == [
        "status eq 'all' and (businessType eq 7101 or businessType eq 8000) and uploadDate ge 2026-01-31T18:02:11.120Z"
    ]
    names = [r["file_name"] for r in result.records(STREAM)]
    assert names == [
        "payroll_2026_01.xml",
        "empty_export.csv",
        "absence_holidays",
        "employees_full.csv",
        "it's a 'test' file.txt",
        "payroll_2026_02.xml",
    ]
    assert {r["business_types"] for r in result.records(STREAM)} == {"7101,8000"}


def test_plain_http_token_url_is_refused(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    config = ys_config(emulator, vendor, tmp_path, token_url="http://youserve.example.com/authentication/token")
    with pytest.raises(ConfigValidationError, match="plain http"):
        _ = TapHrData(config=config).streams


# ---- full sync and reruns ------------------------------------------------------------------


def test_full_sync_delivers_every_file_byte_exact(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    filters = record_filters(vendor)
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    records = result.records(STREAM)
    expected = listing_order(vendor)
    assert [r["file_id"] for r in records] == [e["fileId"] for e in expected]
    assert filters == ["status eq 'all'"]  # no bookmark, no types: everything, downloaded or not
    root = tmp_path / "files"
    for record, entry in zip(records, expected, strict=True):
        path = root / "youserve" / "sandbox" / str(entry["businessType"]["id"]) / entry["fileId"]
        data = path.read_bytes()
        assert record["storage_uri"] == f"file://{path}"
        assert record["sha256"] == hashlib.sha256(data).hexdigest() == vendor.file_sha256(entry["fileId"])
        assert record["file_size"] == len(data) == entry["fileSize"]
        assert record["file_name"] == entry["fileName"]
        assert record["business_type_id"] == entry["businessType"]["id"]
        assert record["business_type_name"] == entry["businessType"]["name"]
        assert record["tenant_id"] == "sandbox"
        assert record["publisher_id"] == entry["publisherId"]
        assert record["upload_date"] == parse_timestamp(entry["uploadDate"]).isoformat(timespec="microseconds")
        assert record["raw"] == {**entry, "downloaded": False}  # the whole entry, as listed
        assert record["content_base64"] is None
    assert not list(root.rglob("*.part-*"))
    assert vendor.token_requests == 1

    # Requests per file: one GET up to the chunk size; HEAD plus one GET per chunk above it.
    ranged = {e["fileId"]: e["fileSize"] for e in expected if e["fileSize"] > CHUNK}
    assert len(ranged) == 2
    assert vendor.calls[("HEAD", "file")] == len(ranged)
    assert vendor.calls[("GET", "range")] == sum(math.ceil(size / CHUNK) for size in ranged.values())
    assert vendor.calls[("GET", "file")] == len(expected) - len(ranged)
    assert all(last is not None and last - first + 1 <= CHUNK for _, first, last in vendor.range_requests)

    stream_state = result.last_state["bookmarks"][STREAM]
    assert stream_state["replication_key_value"] == "2026-02-28T18:01:09.004000+00:00"
    assert stream_state["files_at_bookmark"] == {
        "upload_date": "2026-02-28T18:01:09.004000+00:00",
        "through_file_id": expected[-1]["fileId"],
        "count": 1,
        "sha256": GroupDigest.of([expected[-1]["fileId"]]).hexdigest(),
    }
    # Checkpoints at a bounded rate: after the first file, after each file of a chunk or more, at the end.
    large = sum(1 for e in expected[1:] if e["fileSize"] >= CHUNK)
    assert len(result.states) >= 1 + large + 1


def test_rerun_emits_nothing_new_then_only_new_files(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path
) -> None:
    config = ys_config(emulator, vendor, tmp_path)
    first = run_tap(config)
    downloads = vendor.calls[("GET", "file")] + vendor.calls[("GET", "range")]
    filters = record_filters(vendor)

    second = run_tap(config, state=first.last_state)
    assert second.records(STREAM) == []
    assert vendor.calls[("GET", "file")] + vendor.calls[("GET", "range")] == downloads
    assert filters == ["status eq 'all' and uploadDate ge 2026-02-28T18:01:09.004Z"]
    assert second.last_state == first.last_state

    # Same upload date as the bookmark: still delivered, the one already emitted is not.
    same_date = vendor.add_file("late_same_date.xml", 7101, 10, "2026-02-28T18:01:09.004Z")
    later = vendor.add_file("next.xml", 8000, 20)
    third = run_tap(config, state=second.last_state)
    assert [r["file_id"] for r in third.records(STREAM)] == [same_date["fileId"], later["fileId"]]


def test_inline_small_files(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    config = {**ys_config(emulator, vendor, tmp_path), "inline_files_max_bytes": 107}
    for record in run_tap(config).records(STREAM):
        if record["file_size"] <= 107:
            assert base64.b64decode(record["content_base64"]) == vendor.file_bytes(record["file_id"])
        else:
            assert record["content_base64"] is None


def test_server_names_and_ids_never_become_paths(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(tenant_id="../acme 1"))
    result = run_tap(ys_config(emulator, vendor, tmp_path / "deep"))
    root = tmp_path / "deep" / "files"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == len(vendor.entries())
    assert all(root / "youserve" / "..%2Facme%201" in p.parents for p in written)
    hostile = next(r for r in result.records(STREAM) if r["file_name"] == "../../etc/passwd")
    assert hostile["storage_uri"].endswith(f"/youserve/..%2Facme%201/101100/{hostile['file_id']}")


def test_downloaded_flag_changing_during_the_run_skips_nothing(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path
) -> None:
    entries = listing_order(vendor)
    vendor.set_downloaded(entries[1]["fileId"])  # fetched earlier by another client
    filters = record_filters(vendor)
    flipped: list[str] = []

    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        if request.method == "GET" and "/files/" in request.path and not flipped:
            for entry in entries:  # everything turns "downloaded" at the first download
                vendor.set_downloaded(entry["fileId"])
                flipped.append(entry["fileId"])
        return handle(request)

    wrap(vendor, hook)
    result = run_tap(ys_config(emulator, vendor, tmp_path, page_size=2))
    assert [r["file_id"] for r in result.records(STREAM)] == [e["fileId"] for e in entries]
    assert len(filters) == 7  # 13 files in pages of 2
    assert all(f is not None and f.startswith("status eq 'all'") for f in filters)


# ---- chunks -----------------------------------------------------------------------------


def test_multi_chunk_files_sizes_on_and_off_the_chunk(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    odd = vendor.add_file("odd.bin", 7101, 3 * CHUNK + CHUNK // 2 + 7)
    even = vendor.add_file("even.bin", 7101, 3 * CHUNK)
    edge = vendor.add_file("edge.bin", 7101, CHUNK)
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert [r["sha256"] for r in result.records(STREAM)] == [
        vendor.file_sha256(odd["fileId"]),
        vendor.file_sha256(even["fileId"]),
        vendor.file_sha256(edge["fileId"]),
    ]
    size = odd["fileSize"]
    assert ranges_of(vendor, odd["fileId"]) == [
        (0, CHUNK - 1),
        (CHUNK, 2 * CHUNK - 1),
        (2 * CHUNK, 3 * CHUNK - 1),
        (3 * CHUNK, size - 1),
    ]
    assert ranges_of(vendor, even["fileId"]) == [
        (0, CHUNK - 1),
        (CHUNK, 2 * CHUNK - 1),
        (2 * CHUNK, 3 * CHUNK - 1),
    ]
    assert ranges_of(vendor, edge["fileId"]) == []  # exactly one chunk: one plain GET
    assert vendor.calls[("HEAD", "file")] == 2


def test_chunk_failing_midway_is_retried_from_its_first_byte(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    big = vendor.add_file("big.bin", 7101, 4 * CHUNK + 100)
    armed: list[int] = []

    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        if request.headers.get("Range") == f"bytes={2 * CHUNK}-{3 * CHUNK - 1}" and not armed:
            armed.append(1)
            vendor.faults.add(Fault(path_regex="/files/", method="GET", abort_after=CHUNK // 3))
        return handle(request)

    wrap(vendor, hook)
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert result.records(STREAM)[0]["sha256"] == vendor.file_sha256(big["fileId"])
    assert ranges_of(vendor, big["fileId"]) == [
        (0, CHUNK - 1),
        (CHUNK, 2 * CHUNK - 1),
        (2 * CHUNK, 3 * CHUNK - 1),
        (2 * CHUNK, 3 * CHUNK - 1),  # the broken chunk again, from its own first byte
        (3 * CHUNK, 4 * CHUNK - 1),
        (4 * CHUNK, 4 * CHUNK + 99),
    ]
    assert vendor.calls[("HEAD", "file")] == 1


@pytest.mark.parametrize("kind", ["short_body", "wrong_total", "ignore_range"])
def test_bad_chunk_answers_are_retried(emulator: Emulator, tmp_path: Path, kind: str) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    big = vendor.add_file("big.bin", 7101, 2 * CHUNK + 1)
    vendor.faults.add(Fault(path_regex="/files/", method="GET", kind=kind))
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert result.records(STREAM)[0]["sha256"] == vendor.file_sha256(big["fileId"])
    assert ranges_of(vendor, big["fileId"]) == [
        (0, CHUNK - 1),
        (0, CHUNK - 1),
        (CHUNK, 2 * CHUNK - 1),
        (2 * CHUNK, 2 * CHUNK),
    ]


def test_small_file_broken_body_is_fetched_again(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    target = next(e for e in vendor.entries() if e["fileName"] == "payroll_2026_01.xml")
    vendor.faults.add(Fault(path_regex=target["fileId"], method="GET", abort_after=10_000))
    vendor.faults.add(Fault(path_regex=target["fileId"], method="GET", kind="short_body", params={"missing": 5}))
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    record = next(r for r in result.records(STREAM) if r["file_id"] == target["fileId"])
    assert record["sha256"] == vendor.file_sha256(target["fileId"])
    assert len(result.records(STREAM)) == 13


def test_size_disagreeing_with_head_is_an_error_not_a_record(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    first = vendor.add_file("first.bin", 7101, 100)
    big = vendor.add_file("big.bin", 7101, 2 * CHUNK)

    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        response = handle(request)
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(2 * CHUNK + 1)
        return response

    wrap(vendor, hook)
    result, error = run_tap_partial(ys_config(emulator, vendor, tmp_path))
    assert big["fileId"] in str(error)
    assert "HEAD" in str(error)
    assert [r["file_id"] for r in result.records(STREAM)] == [first["fileId"]]
    assert result.last_state["bookmarks"][STREAM]["files_at_bookmark"]["through_file_id"] == first["fileId"]
    assert not (tmp_path / "files" / "youserve" / "sandbox" / "7101" / big["fileId"]).exists()
    assert not list((tmp_path / "files").rglob("*.part-*"))


def test_body_persistently_shorter_than_listed_is_an_error(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    small = vendor.add_file("small.bin", 7101, 1000)
    vendor.faults.add(Fault(path_regex="/files/", method="GET", kind="short_body", times=100))
    result, error = run_tap_partial(ys_config(emulator, vendor, tmp_path))
    assert small["fileId"] in str(error)
    assert "999 of 1000" in str(error)
    assert result.records(STREAM) == []
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no partial file left behind


def test_416_before_the_end_is_an_error(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    big = vendor.add_file("big.bin", 7101, 3 * CHUNK)

    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        if request.headers.get("Range", "").startswith(f"bytes={CHUNK}-"):
            return Response.json(416, {"message": "Range not satisfiable."}, {"Content-Range": f"bytes */{CHUNK}"})
        return handle(request)

    wrap(vendor, hook)
    result, error = run_tap_partial(ys_config(emulator, vendor, tmp_path))
    assert "shorter than listed" in str(error)
    assert big["fileId"] in str(error)
    assert result.records(STREAM) == []


def test_large_file_downloads_in_bounded_memory(emulator: Emulator, tmp_path: Path) -> None:
    chunk = 4 * 1024 * 1024  # the default chunk_size_bytes
    vendor = mount(emulator, YouserveEmulator(files=[]))
    big = vendor.add_file("big.bin", 7101, 50 * 1024 * 1024 + 123)
    config = ys_config(emulator, vendor, tmp_path, chunk_size_bytes=chunk)
    tracemalloc.start()
    try:
        result = run_tap(config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.records(STREAM)[0]["sha256"] == vendor.file_sha256(big["fileId"])
    sizes = [last - first + 1 for _, first, last in vendor.range_requests if last is not None]
    assert len(sizes) == 13
    assert max(sizes) == chunk
    # The peak also counts the emulator (same process, ~2 MiB of generated pieces): one chunk
    # held by the tap fits under two, two chunks (or the whole 50 MiB) would not.
    assert peak < 2 * chunk, f"peak {peak / 2**20:.1f} MiB for a 50 MiB file"


# ---- interruption and resume ------------------------------------------------------------


def test_crash_inside_a_same_date_group_resumes_with_the_rest(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path
) -> None:
    entries = listing_order(vendor)
    group = [e for e in entries if e["uploadDate"] == "2026-01-05T07:30:23.657Z"]
    assert len(group) == 3
    assert entries[:3] == group
    config = ys_config(emulator, vendor, tmp_path, page_size=1)
    vendor.faults.add(Fault(path_regex=group[1]["fileId"], method="GET", status=400))
    partial, error = run_tap_partial(config)
    assert "HTTP 400" in str(error)
    assert [r["file_id"] for r in partial.records(STREAM)] == [group[0]["fileId"]]
    state = partial.last_state
    assert state["bookmarks"][STREAM]["replication_key_value"] == "2026-01-05T07:30:23.657000+00:00"
    assert state["bookmarks"][STREAM]["files_at_bookmark"]["through_file_id"] == group[0]["fileId"]
    assert state["bookmarks"][STREAM]["files_at_bookmark"]["count"] == 1

    resumed = run_tap(config, state=state)
    assert [r["file_id"] for r in resumed.records(STREAM)] == [e["fileId"] for e in entries[1:]]


def test_state_never_names_a_file_before_its_record(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(youserve_streams, "CHECKPOINT_SECONDS", 0.0)  # a STATE after every file
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    emitted: set[str] = set()
    markers = 0
    for message in result.messages:
        if message["type"] == "RECORD":
            emitted.add(message["record"]["file_id"])
        elif message["type"] == "STATE":
            marker = message["value"].get("bookmarks", {}).get(STREAM, {}).get("files_at_bookmark")
            if marker:
                markers += 1
                date = parse_timestamp(marker["upload_date"])
                covered = {
                    e["fileId"]
                    for e in vendor.entries()
                    if parse_timestamp(e["uploadDate"]) == date and e["fileId"] <= marker["through_file_id"]
                }
                assert covered <= emitted
    assert markers >= 13


def test_unsorted_listing_stops_the_run(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        if request.path.endswith("/files"):
            request.query["$orderBy"] = ["uploadDate desc"]
        return handle(request)

    wrap(vendor, hook)
    result, error = run_tap_partial(ys_config(emulator, vendor, tmp_path))
    assert "not sorted" in str(error)
    assert result.records(STREAM) == []  # not even the date before the break: the listing is not trusted


# ---- deletion ---------------------------------------------------------------------------


def test_deletes_only_files_confirmed_by_the_starting_state(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    entries = listing_order(vendor)

    first = run_tap(config)  # nothing confirmed yet: nothing deleted
    assert len(first.records(STREAM)) == 13
    assert vendor.deleted == []

    new = vendor.add_file("new.xml", 7101, 500)
    with caplog.at_level(logging.INFO):
        second = run_tap(config, state=first.last_state)
    assert sorted(vendor.deleted) == sorted(e["fileId"] for e in entries)
    assert [r["file_id"] for r in second.records(STREAM)] == [new["fileId"]]  # downloaded, kept
    assert new["fileId"] not in vendor.deleted
    assert f"deleted file {entries[-1]['fileId']} ('payroll_2026_02.xml')" in caplog.text
    assert "deleted 13 confirmed files (0 already gone)" in caplog.text

    third = run_tap(config, state=second.last_state)
    assert third.records(STREAM) == []
    assert vendor.deleted[-1] == new["fileId"]
    assert len(vendor.deleted) == 14


def test_target_crash_before_commit_loses_nothing(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    entries = listing_order(vendor)
    # Run 1 stops inside the same-date group: its last state covers the first file only.
    vendor.faults.add(Fault(path_regex=entries[1]["fileId"], method="GET", status=400))
    partial, _ = run_tap_partial(config)

    # The target never committed anything: the next run starts from the old (empty) state.
    again = run_tap(config, state={})
    assert vendor.deleted == []
    assert len(again.records(STREAM)) == 13

    # The target committed the partial state: only its one file goes, not the rest of its date.
    run_tap(config, state=partial.last_state)
    assert vendor.deleted == [entries[0]["fileId"]]


def test_deletion_skips_files_not_downloaded_and_tolerates_404(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    entries = listing_order(vendor)
    first = run_tap(config)
    vendor.set_downloaded(entries[3]["fileId"], downloaded=False)  # never fetched by us: kept
    vendor.faults.add(Fault(path_regex=entries[0]["fileId"], method="DELETE", status=404))
    with caplog.at_level(logging.INFO):
        run_tap(config, state=first.last_state)
    assert entries[3]["fileId"] not in vendor.deleted
    assert entries[0]["fileId"] not in vendor.deleted  # answered 404: already gone
    assert len(vendor.deleted) == 11
    assert "deleted 11 confirmed files (1 already gone)" in caplog.text


# ---- auth and secrets ---------------------------------------------------------------------


def test_401_renews_the_token_once(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex="/files/", method="GET", status=401))
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert len(result.records(STREAM)) == 13
    assert vendor.token_requests == 2


def test_wrong_secret_fails_clearly(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    config = ys_config(emulator, vendor, tmp_path, client_secret="not-the-secret-xyz")
    _, error = run_tap_partial(config)
    assert "HTTP 401" in str(error)
    assert "/authentication/token" in str(error)
    assert "not-the-secret-xyz" not in str(error)
    assert vendor.token_requests == 1


def test_no_secret_in_output_or_logs(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vendor.faults.add(Fault(path_regex="/files$", status=503))
    vendor.faults.add(Fault(path_regex="/files/", method="GET", status=401))
    vendor.faults.add(Fault(path_regex="/files/", method="GET", abort_after=10))
    with caplog.at_level(logging.DEBUG):
        result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert_no_client_secret(vendor, result.text() + caplog.text)


def test_upload_dates_are_utc_and_comparable() -> None:
    moment = parse_timestamp("2021-03-25T07:30:23.6571234Z")
    assert moment == datetime(2021, 3, 25, 7, 30, 23, 657123, tzinfo=timezone.utc)
    assert parse_timestamp("2026-01-01") == datetime(2026, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp("2026-01-01T00:00:00Z or 1 eq 1")


def test_bookmark_and_deletion_are_kept_per_business_type_set(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path
) -> None:
    by_type: dict[int, list[str]] = {}
    for entry in listing_order(vendor):
        by_type.setdefault(entry["businessType"]["id"], []).append(entry["fileId"])
    only_7101 = ys_config(emulator, vendor, tmp_path, business_types=[7101], delete_after_download=True)
    first = run_tap(only_7101)
    assert [r["file_id"] for r in first.records(STREAM)] == by_type[7101]
    partition = first.last_state["bookmarks"][STREAM]["partitions"][0]
    assert partition["context"] == {"business_types": "7101"}
    assert partition["files_at_bookmark"]["through_file_id"] == by_type[7101][-1]

    second = run_tap(only_7101, state=first.last_state)
    assert second.records(STREAM) == []
    assert sorted(vendor.deleted) == sorted(by_type[7101])

    # A type added later: its older files are delivered (a new bookmark), nothing is deleted.
    both = ys_config(emulator, vendor, tmp_path, business_types=[8000, 7101], delete_after_download=True)
    third = run_tap(both, state=second.last_state)
    assert [r["file_id"] for r in third.records(STREAM)] == by_type[8000]
    assert sorted(vendor.deleted) == sorted(by_type[7101])


def test_broken_listing_page_is_asked_again(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex="/files$", abort_after=300))
    result = run_tap(ys_config(emulator, vendor, tmp_path, page_size=5))
    assert len(result.records(STREAM)) == 13
    assert vendor.calls[("GET", "list")] == 4  # 3 pages, the first one twice


def test_without_byte_ranges_a_large_file_streams_in_one_get(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    big = vendor.add_file("big.bin", 7101, 3 * CHUNK + 5)

    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        response = handle(request)
        if request.method == "HEAD":
            response.headers["Accept-Ranges"] = "none"
        return response

    wrap(vendor, hook)
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert result.records(STREAM)[0]["sha256"] == vendor.file_sha256(big["fileId"])
    assert vendor.range_requests == []
    assert vendor.calls[("GET", "file")] == 1


# ---- the sign-ins and hosts of today (issue 12) ------------------------------------------------


def visma_config(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, **youserve: Any) -> dict[str, Any]:
    """A tap config signing in with Visma Connect and reading the Youforce File API host."""
    return config_for(
        emulator, vendor.youforce, files=tmp_path / "files", youserve={"chunk_size_bytes": CHUNK, **youserve}
    )


def test_visma_connect_sign_in_reads_every_file_from_the_youforce_host(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = visma_config(emulator, vendor, tmp_path)
    assert config["youserve"]["sign_in"] == "visma_connect"
    with caplog.at_level(logging.DEBUG):
        result = run_tap(config)
    assert sorted(r["file_id"] for r in result.records(STREAM)) == sorted(e["fileId"] for e in vendor.entries())
    for record in result.records(STREAM):
        stored = Path(record["storage_uri"].removeprefix("file://"))
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == vendor.file_sha256(record["file_id"])
    assert vendor.token_requests_by_sign_in["visma_connect"] == 1  # one token per run
    assert vendor.token_requests_by_sign_in.get("youserve", 0) == 0
    [form] = vendor.connect_token_forms
    assert form["tenant_id"] == vendor.connect_tenant_id  # the tenant travels in the token request
    assert vendor.youforce_tenant_headers == []  # ... and no tenant header is sent
    assert sum(n for (host, _, _), n in vendor.host_calls.items() if host == "youserve") == 0
    assert_no_client_secret(vendor.youforce, result.text() + caplog.text)


@pytest.mark.parametrize(
    ("sign_in", "token_url", "file_api_url"),
    [
        ("youserve", "https://api.youserve.nl/authentication/token", "https://api.youserve.nl/fileapi/v1.0"),
        ("visma_connect", "https://connect.visma.com/connect/token", "https://fileapi.youforce.com/v1.0"),
    ],
)
def test_each_sign_in_has_its_own_default_urls(sign_in: str, token_url: str, file_api_url: str) -> None:
    client = YouserveClient(
        {"youserve": {"sign_in": sign_in, "client_id": "i", "client_secret": "s", "tenant_id": "t"}},
        logging.getLogger(),
    )
    assert (client.token_url, client.file_api_url) == (token_url, file_api_url)
    assert client.file_request("GET", "a/b").url == f"{file_api_url}/files/a%2Fb"
    headers = client.headers()
    assert ("x-raet-tenant-id" in headers) == (sign_in == "youserve")


@pytest.mark.parametrize("setting", ["token_url", "file_api_url"])
def test_every_url_setting_keeps_the_https_rule(
    emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, setting: str
) -> None:
    config = visma_config(emulator, vendor, tmp_path, **{setting: "http://files.example.com/v1.0"})
    with pytest.raises(ConfigValidationError, match=f"youserve.{setting} uses plain http"):
        _ = TapHrData(config=config).streams


def test_spike_arrest_waits_then_slows_every_later_call(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = mount(emulator, YouserveEmulator(spike_arrest_per_minute=1200, spike_arrest_burst=3))
    monkeypatch.setattr(YouserveClient, "spike_arrest_seconds", 0.3)
    monkeypatch.setattr(YouserveClient, "calm_interval_seconds", 0.06)
    started = time.monotonic()
    result = run_tap(visma_config(emulator, vendor, tmp_path, page_size=5))
    assert sorted(r["file_id"] for r in result.records(STREAM)) == sorted(e["fileId"] for e in vendor.entries())
    assert vendor.spike_arrests >= 1  # refused (429 without Retry-After) ...
    assert time.monotonic() - started >= 0.3  # ... waited the spike-arrest time ...
    # ... and then every call went out slowly enough for the gateway: far fewer refusals than calls
    assert vendor.spike_arrests < sum(vendor.host_calls.values()) / 3


def test_5xx_are_tried_again_ten_times(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex=r"/files$", method="GET", status=503, times=10))
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert vendor.faults.fired["503"] == 10
    assert len(result.records(STREAM)) == len(vendor.entries())
    vendor.faults.add(Fault(path_regex=r"/files$", method="GET", status=503, times=100))
    _, error = run_tap_partial(ys_config(emulator, vendor, tmp_path))
    assert "HTTP 503" in str(error)
    assert "(gave up after 11 attempts)" in str(error)
