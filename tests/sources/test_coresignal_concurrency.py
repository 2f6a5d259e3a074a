"""Coresignal files downloaded side by side (issue 15): records in file order, state as before, on disk.

The emulator holds some files' answers until a later file was sent, so downloads complete
out of order whenever they really are in flight side by side; it counts the downloads in
flight at once and logs the arrival of every request (its rate limit's clock).
"""

from __future__ import annotations

import os
import threading
import tracemalloc
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.sources.coresignal.streams import BulkJobsStream, DownloadedFile, Spools
from tests.conftest import config_for, mount, run_tap, run_tap_partial
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.server import Fault

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.emulator.server import Emulator

STREAM = "bulk_jobs"


def settings(emulator: Emulator, vendor: CoresignalEmulator, concurrency: int = 8, **coresignal: Any) -> dict[str, Any]:
    return config_for(emulator, vendor, coresignal={"max_concurrent_requests": concurrency, **coresignal})


def only_request(vendor: CoresignalEmulator) -> str:
    assert len(vendor.data_requests) == 1
    return next(iter(vendor.data_requests))


def pending_of(state: dict[str, Any]) -> dict[str, Any]:
    pending = state["bookmarks"][STREAM]["pending_request"]
    assert isinstance(pending, dict)
    return pending


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any window of one second."""
    ordered = sorted(times)
    start = busiest = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def test_files_downloaded_out_of_order_are_emitted_in_file_order(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=3000, files_per_request=6, polls_until_ready=0))
    vendor.hold_file(0, until_sent=3)
    vendor.hold_file(1, until_sent=2)
    result = run_tap(settings(emulator, vendor))

    request_id = only_request(vendor)
    names = vendor.files_for_request(request_id)
    assert vendor.sent_log.index(3) < vendor.sent_log.index(0)  # held: sent after a later file
    assert vendor.sent_log.index(2) < vendor.sent_log.index(1)
    assert 1 < vendor.max_downloads_in_flight <= 8
    assert [record["raw"] for record in result.records(STREAM)] == vendor.jobs_for_request(request_id)
    # A STATE after each file, naming the files emitted so far, in list order.
    done = [
        pending["files_done"]
        for state in result.states
        if isinstance(pending := state.get("bookmarks", {}).get(STREAM, {}).get("pending_request"), dict)
    ]
    progress = [files for k, files in enumerate(done) if k == 0 or files != done[k - 1]]
    assert progress == [names[:count] for count in range(len(names) + 1)]
    assert "pending_request" not in result.last_state["bookmarks"][STREAM]
    assert sum(vendor.downloads.values()) == len(names)  # each file once


def test_the_rate_limit_holds_for_every_worker_retries_included(emulator: Emulator) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=1500, files_per_request=60, polls_until_ready=0))
    vendor.faults.add(Fault(path_regex=r"/files/json/part-000[0-3]\d-", abort_after=300, times=12))  # retried
    result = run_tap(settings(emulator, vendor, 8))

    request_id = only_request(vendor)
    assert [record["raw"] for record in result.records(STREAM)] == vendor.jobs_for_request(request_id)
    assert vendor.faults.fired["transport"] == 12
    assert vendor.max_downloads_in_flight > 1
    assert len(vendor.request_times) > 2 * 27  # the limiter had to space them out
    assert busiest_second(vendor.request_times) <= 27
    assert vendor.rate_limited == 0


def test_a_resume_mid_file_with_downloads_ahead_repeats_and_loses_nothing(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File 1 breaks at its 61st record while the files after it are downloaded already: the
    resumed run starts after the records the last STATE counted, and emits each once more at most
    from there, in file order."""
    monkeypatch.setattr(BulkJobsStream, "STATE_MSG_FREQUENCY", 25)
    vendor = mount(emulator, CoresignalEmulator(jobs=3000, files_per_request=5, polls_until_ready=0))
    vendor.hold_file(1, until_sent=4)  # files 2 to 4 are on disk before file 1 is read
    vendor.faults.add(Fault(path_regex=r"/files/json/part-00001-", kind="bad_line", params={"line": 60}))
    config = settings(emulator, vendor)
    crashed, error = run_tap_partial(config)
    request_id = only_request(vendor)
    names = vendor.files_for_request(request_id)
    assert "record 61: not valid JSON" in str(error)
    assert vendor.sent_log.index(4) < vendor.sent_log.index(1)
    pending = pending_of(crashed.last_state)
    assert pending["files_done"] == [names[0]]
    assert pending["current_file"] == names[1]
    checkpoint = pending["current_file_records"]
    assert 0 < checkpoint <= 60

    resumed = run_tap(config, state=crashed.last_state)
    expected = vendor.jobs_for_request(request_id)
    first = len(crashed.records(STREAM)) - 60  # records of file 0
    assert [record["raw"] for record in crashed.records(STREAM)] == expected[: first + 60]
    assert [record["raw"] for record in resumed.records(STREAM)] == expected[first + checkpoint :]
    assert vendor.post_count == 1
    assert vendor.downloads[(request_id, names[0])] == 1  # the file emitted is not downloaded again


def test_files_downloaded_ahead_wait_on_disk_not_in_memory(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight files of about 2 MB: while the first is read, the seven downloaded ahead of it are
    spooled files on disk; memory holds far less than they do. Every spool is closed at the end,
    also when the run stops with files not read."""
    vendor = mount(
        emulator, CoresignalEmulator(jobs=60_000, files_per_request=8, polls_until_ready=0, compress_level=0)
    )
    vendor.hold_file(0, until_sent=7)  # files 1 to 7 are downloaded while file 0 is still asked
    spools: list[Any] = []
    new_spool = Spools.new

    def recorded(self: Spools) -> Any:
        spool = new_spool(self)
        spools.append(spool)
        return spool

    downloaded = threading.Semaphore(0)
    download_file = BulkJobsStream.download_file

    def counted(self: BulkJobsStream, *args: Any) -> DownloadedFile:
        download = download_file(self, *args)
        downloaded.release()
        return download

    measured: dict[str, int] = {}

    def first_read(self: DownloadedFile) -> Iterator[bytes]:
        for _ in range(8):  # every download finished (file 0 last)
            assert downloaded.acquire(timeout=30)
        measured["memory"] = tracemalloc.get_traced_memory()[0]
        measured["on_disk"] = sum(os.fstat(spool.fileno()).st_size for spool in spools[1:])
        measured["first"] = os.fstat(self.spool.fileno()).st_size
        raise RuntimeError("measured")
        yield b""  # a generator, like the one it replaces

    monkeypatch.setattr(Spools, "new", recorded)
    monkeypatch.setattr(BulkJobsStream, "download_file", counted)
    monkeypatch.setattr(DownloadedFile, "chunks", first_read)
    tracemalloc.start()
    try:
        result, error = run_tap_partial(settings(emulator, vendor, 8))
    finally:
        tracemalloc.stop()
    assert "measured" in str(error)
    assert len(spools) == 8
    assert measured["first"] > 1_500_000
    assert measured["on_disk"] > 7 * 1_500_000
    assert measured["memory"] < measured["on_disk"] / 2, measured
    assert all(spool.closed for spool in spools)  # the run stopped: every spool closed, so deleted
    assert result.records(STREAM) == []
