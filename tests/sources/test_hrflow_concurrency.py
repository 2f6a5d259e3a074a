"""HrFlow pages fetched ahead (issue 15): the records of a sequential run, in its order, for fewer waits.

The emulator holds some pages' answers until a later page was answered, so answers complete
out of order whenever pages really are in flight side by side; it counts the requests in
flight at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import config_for, mount, run_tap
from tests.emulator.hrflow import HrflowEmulator

if TYPE_CHECKING:
    from tests.emulator.server import Emulator, Request, Response

PROFILES = "/storing/profiles"
JOBS = "/storing/jobs"


def settings(emulator: Emulator, vendor: HrflowEmulator, concurrency: int, **hrflow: Any) -> dict[str, Any]:
    """The Storing API (the default listing), ``concurrency`` requests in flight at most."""
    return config_for(emulator, vendor, hrflow={"max_concurrent_requests": concurrency, "page_size": 10, **hrflow})


def pages(vendor: HrflowEmulator, path: str) -> list[int]:
    """The pages of the list at ``path`` asked, in the order the requests arrived."""
    return [int(query["page"]) for called, query in vendor.call_log if called == path]


@pytest.fixture
def vendor(emulator: Emulator) -> HrflowEmulator:
    """300 profiles (30 pages of 10), 45 jobs (5 pages)."""
    return mount(emulator, HrflowEmulator(sources={"src-a": 200, "src-b": 100}, boards={"board-a": 45}))


def test_pages_answered_out_of_order_give_the_records_of_a_sequential_run(
    emulator: Emulator, vendor: HrflowEmulator
) -> None:
    sequential = run_tap(settings(emulator, vendor, 1))
    assert vendor.max_in_flight == 1
    vendor.reset_calls()
    for path in (PROFILES, JOBS):
        vendor.hold_page(path, 2, until_answered=5)
        vendor.hold_page(path, 3, until_answered=4)
    concurrent = run_tap(settings(emulator, vendor, 8))

    answered = [page for path, page in vendor.answer_log if path == PROFILES]
    assert answered.index(5) < answered.index(2)  # held: answered after a later page
    assert answered.index(4) < answered.index(3)
    assert 1 < vendor.max_in_flight <= 8
    for stream in ("hrflow_profiles", "hrflow_jobs", "hrflow_sources", "hrflow_boards"):
        assert concurrent.records(stream) == sequential.records(stream), stream
    assert len(concurrent.records("hrflow_profiles")) == 300
    assert concurrent.last_state == sequential.last_state
    assert sorted(pages(vendor, PROFILES)) == list(range(1, 31))  # each page once, none past maxPage


@pytest.mark.parametrize("concurrency", [2, 3, 8])
def test_requests_in_flight_never_exceed_the_setting(
    emulator: Emulator, vendor: HrflowEmulator, concurrency: int
) -> None:
    """Pages 2 to N + 1 wait until N requests are in flight: a client that kept more than N in
    flight at once would be seen here."""
    for page in range(2, concurrency + 2):
        vendor.hold_page(PROFILES, page, until_in_flight=concurrency)
    result = run_tap(settings(emulator, vendor, concurrency))
    assert len(result.records("hrflow_profiles")) == 300
    assert vendor.max_in_flight == concurrency


@pytest.mark.parametrize("concurrency", [2, 4, 8])
def test_an_incremental_run_fetches_at_most_n_minus_1_pages_past_its_stop(
    emulator: Emulator, vendor: HrflowEmulator, concurrency: int
) -> None:
    first = run_tap(settings(emulator, vendor, 1))
    added = [vendor.add_profile("src-a")["key"] for _ in range(25)]  # pages 1-3; page 4 is all older: the stop
    vendor.reset_calls()
    second = run_tap(settings(emulator, vendor, concurrency), state=first.last_state)
    assert [record["key"] for record in second.records("hrflow_profiles")] == added[::-1]  # newest first
    asked = sorted(pages(vendor, PROFILES))
    assert asked[:4] == [1, 2, 3, 4]
    beyond = asked[4:]
    assert len(beyond) <= concurrency - 1, asked
    assert len(set(beyond)) == len(beyond)
    assert all(page > 4 for page in beyond)


def test_an_unchanged_rerun_costs_one_call_per_stream(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = settings(emulator, vendor, 8)
    first = run_tap(config)
    vendor.reset_calls()
    rerun = run_tap(config, state=first.last_state)
    assert rerun.records("hrflow_profiles") == rerun.records("hrflow_jobs") == []
    assert vendor.calls[PROFILES] == vendor.calls[JOBS] == 1  # page 1 is judged before any page is fetched ahead


class _MovingList(HrflowEmulator):
    """A profile is added while page 2 is asked, after page 3 was answered: the list moves between them."""

    def __init__(self) -> None:
        super().__init__(sources={"src-a": 100}, boards={})
        self.hold_page(PROFILES, 2, until_answered=3)
        self.added: list[str] = []

    def _answer(self, request: Request) -> Response:
        if request.path == PROFILES and request.arg("page") == "2" and not self.added:
            self.added.append(self.add_profile("src-a")["key"])
        return super()._answer(request)


def test_a_list_moving_while_pages_are_fetched_ahead_loses_nothing(emulator: Emulator) -> None:
    """Page 2 answered after the move repeats page 1's last profile and no longer holds its own
    last one, which moved to page 3; page 3, fetched ahead and answered before the move, does not
    hold it either. The repeat shows the move: the pages fetched ahead are fetched again."""
    vendor = mount(emulator, _MovingList())
    before = {profile["key"] for profile in vendor.profiles()} - set(vendor.added)
    result = run_tap(settings(emulator, vendor, 8))
    assert vendor.added  # the list moved during the run
    keys = [record["key"] for record in result.records("hrflow_profiles")]
    assert len(keys) == len(set(keys))
    assert set(keys) == before  # the added profile is newer than page 1: the next run's
    assert pages(vendor, PROFILES).count(3) == 2
