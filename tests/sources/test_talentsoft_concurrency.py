"""Talentsoft exports with the next page requested while the current one is read.

``max_concurrent_requests`` at 2 (the default) sends the request for the next page as soon
as the current page's headers say where it ends; at 1 the tap asks for a page only once
the previous one is read. Records, their order and STATE are the same either way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tap_hrdata.sources.talentsoft import client as talentsoft_client
from tests.conftest import config_for, mount, run_tap, run_tap_partial
from tests.emulator.server import Emulator, Fault
from tests.emulator.talentsoft import TalentsoftEmulator

#: Long enough never to elapse when the tap asks ahead; the tests never wait for it otherwise.
HOLD_SECONDS = 10.0


@pytest.fixture
def vendor(emulator: Emulator) -> TalentsoftEmulator:
    return mount(emulator, TalentsoftEmulator(vacancies=25, candidates=12, attachments_per_candidate=(1, 3)))


def ts_config(
    emulator: Emulator, vendor: TalentsoftEmulator, files: Path, concurrency: int, **talentsoft: Any
) -> dict[str, Any]:
    settings = {"max_concurrent_requests": concurrency, "referential_categories": [], **talentsoft}
    return config_for(emulator, vendor, files=files, talentsoft=settings)


def vacancy_calls(vendor: TalentsoftEmulator) -> list[int]:
    return [offset for export, offset, _, _ in vendor.export_calls if export == "vacancies"]


def test_the_same_records_and_state_with_one_or_two_requests_in_flight(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    runs = []
    for concurrency in (1, 2):
        vendor.export_calls.clear()
        result = run_tap(ts_config(emulator, vendor, tmp_path / "files", concurrency, page_size=4))
        runs.append((result, list(vendor.export_calls)))
    (sequential, sequential_calls), (ahead, ahead_calls) = runs
    for stream in ("vacancies", "candidates", "applications", "attachments"):
        assert ahead.records(stream) == sequential.records(stream), stream
    assert [v["offset"] for v in ahead.records("vacancies")] == list(range(25))
    assert ahead.last_state == sequential.last_state
    # The same pages: the one after a full last page is asked either way (it answers */12).
    assert sorted(ahead_calls) == sorted(sequential_calls)
    assert [offset for export, offset, _, _ in ahead_calls if export == "candidates"] == [0, 4, 8, 12]


def test_the_next_page_is_asked_before_the_current_page_has_been_read(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    """The first page's last frame is held until a later page is asked for: the request comes at once.

    (The pages after it are read whole in a worker, ahead: each is asked for as the stream
    starts on the page before it.)
    """
    vendor.hold_last_frame = {("vacancies", 0): HOLD_SECONDS}
    result = run_tap(ts_config(emulator, vendor, tmp_path / "files", 2, page_size=5))
    assert [v["offset"] for v in result.records("vacancies")] == list(range(25))
    events = [(what, offset) for what, export, offset in vendor.export_events if export == "vacancies"]
    assert ("released", 0) in events
    assert events.index(("request", 5)) < events.index(("body_end", 0))
    assert vacancy_calls(vendor) == [0, 5, 10, 15, 20, 25]


def test_one_request_in_flight_asks_for_a_page_once_the_previous_one_is_read(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    """The same held pages with ``max_concurrent_requests: 1``: nothing asks ahead, so each hold elapses."""
    vendor.hold_last_frame = {("vacancies", offset): 0.1 for offset in (0, 5)}
    result = run_tap(ts_config(emulator, vendor, tmp_path / "files", 1, page_size=5))
    assert [v["offset"] for v in result.records("vacancies")] == list(range(25))
    events = [(what, offset) for what, export, offset in vendor.export_events if export == "vacancies"]
    assert ("timed_out", 0) in events
    assert ("timed_out", 5) in events
    assert events.index(("body_end", 0)) < events.index(("request", 5))


def test_a_page_fetched_ahead_is_dropped_when_the_records_end_elsewhere(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    """Content-Range says the first page ends at 10 (an exclusive end), its records end at 9:
    the page fetched ahead from 11 is dropped and the next page asked from 10, where the data says."""
    vendor.faults.add(Fault(path_regex="/vacancies$", kind="lie_range", query_regex=r"(^|&)offset=0(&|$)"))
    vendor.hold_last_frame = {("vacancies", 0): HOLD_SECONDS}  # so the page ahead is asked before page 0 ends
    result = run_tap(ts_config(emulator, vendor, tmp_path / "files", 2, page_size=10, replication="offset"))
    assert [v["offset"] for v in result.records("vacancies")] == list(range(25))  # nothing skipped, nothing twice
    assert vacancy_calls(vendor) == [0, 11, 10, 20]
    assert result.last_state["bookmarks"]["vacancies"]["replication_key_value"] == 24


def test_a_page_fetched_ahead_whose_body_broke_is_asked_again_after_the_last_record(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The page ahead (from 10) ends inside its 4th frame: its first 3 records are emitted, the rest asked from 13.

    (The page after it, asked for from 20 as its headers were read, is dropped: it may or may
    not have been sent by then.)
    """
    vendor.faults.add(
        Fault(path_regex="/vacancies$", kind="truncate", params={"frame": 4}, query_regex=r"(^|&)offset=10(&|$)")
    )
    vendor.hold_last_frame = {("vacancies", 0): HOLD_SECONDS}
    with caplog.at_level(logging.WARNING):
        result = run_tap(ts_config(emulator, vendor, tmp_path / "files", 2, page_size=10))
    assert [v["offset"] for v in result.records("vacancies")] == list(range(25))
    assert [offset for offset in vacancy_calls(vendor) if offset != 20] == [0, 10, 13, 23]
    assert (
        "talentsoft stream 'vacancies': export at offset 10 (fetched ahead): body ended inside frame 4" in caplog.text
    )
    assert "asked again from offset 13" in caplog.text


def test_a_run_stopped_early_drops_the_page_fetched_ahead(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    """A bad document stops the run on page 0 while page 5 is being fetched ahead: no record of it is emitted."""
    vendor.faults.add(Fault(path_regex="/vacancies$", kind="bad_json", params={"frame": 3}))
    vendor.hold_last_frame = {("vacancies", 0): HOLD_SECONDS}
    result, error = run_tap_partial(ts_config(emulator, vendor, tmp_path / "files", 2, page_size=5))
    assert "frame at offset 2" in str(error)
    assert [v["offset"] for v in result.records("vacancies")] == [0, 1]


def test_a_page_larger_than_the_spool_is_read_ahead_in_part_and_the_rest_asked_for(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 10 vacancies (about 5 kB) fetched ahead into a spool of 3 kB at most: the records
    read from the spool are kept, the rest of each page is asked for from the next record."""
    monkeypatch.setattr(talentsoft_client, "SPOOL_MAX_BYTES", 3000)
    vendor.hold_last_frame = {("vacancies", 0): HOLD_SECONDS}
    result = run_tap(ts_config(emulator, vendor, tmp_path / "files", 2, page_size=10))
    assert [v["offset"] for v in result.records("vacancies")] == list(range(25))
    calls = vacancy_calls(vendor)
    assert calls[:2] == [0, 10]  # the page after the first, fetched ahead
    assert 10 < calls[2] < 20  # ... cut at 3 kB: the rest of it asked from the record after the last read
    assert 20 not in calls  # the page after a page read in part starts where the rest of it ends, not at 20
