"""Vendor paging glitches (issue 14, points 9 and 10): a page count or a total that says "the end"
too early, a page that comes back empty once. None may lose a record for good.

A glitch that ends paging early is harmless only if the bookmark does not move past the
records not read: later runs stop at the bookmark, so they would never come back for them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tap_hrdata.values import utc_timestamp
from tests.conftest import run_tap
from tests.emulator.server import Fault
from tests.faults.conftest import assert_exactly_once, assert_union_complete, setup_source

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from tests.emulator.hrflow import HrflowEmulator
    from tests.emulator.server import Emulator

PROFILES = r"^/storing/profiles$"
EXPORTS = r"/api/exports/v1/"


def page(number: int) -> str:
    """A ``query_regex`` matching one page of an HrFlow list."""
    return rf"(^|&)page={number}(&|$)"


def profile_pages(vendor: HrflowEmulator) -> list[int]:
    """The pages of the profiles list asked, in order."""
    return [int(query["page"]) for path, query in vendor.call_log if path == "/storing/profiles"]


# ---- HrFlow: meta.maxPage understated, a page empty once ------------------------------------------


def test_hrflow_max_page_understated_once_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """Page 1 says it is the only page (maxPage 1 of 4) while meta.total says 35: the next page is asked."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=PROFILES, kind="short_max_page", query_regex=page(1), times=1))
    first = run_tap(setup.config)
    second = run_tap(setup.config, state=first.last_state)
    assert setup.vendor.faults.fired["short_max_page"] == 1
    assert_union_complete([first, second], setup)  # before the fix: 25 of 35 profiles never arrived
    assert_exactly_once(first, setup)  # the glitch is seen through in the same run
    assert sorted(profile_pages(setup.vendor)[:4]) == [1, 2, 3, 4]  # pages 2-4 are fetched ahead together


def test_hrflow_page_empty_once_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """Page 2 comes back empty once while meta.total says 35: it is asked again, and paging goes on."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=PROFILES, kind="empty_page", query_regex=page(2), times=1))
    first = run_tap(setup.config)
    second = run_tap(setup.config, state=first.last_state)
    assert setup.vendor.faults.fired["empty_page"] == 1
    assert_union_complete([first, second], setup)
    assert_exactly_once(first, setup)
    assert sorted(profile_pages(setup.vendor)[:5]) == [1, 2, 2, 3, 4]  # page 2 asked again, on demand


def test_hrflow_unconfirmed_end_keeps_the_bookmark_and_warns(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Page 2 empty twice while meta.total says more: the run keeps its starting bookmark, says so,
    and the next run reads the new profiles it could not."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    base = run_tap(setup.config)
    bookmark = base.last_state["bookmarks"]["hrflow_profiles"]["replication_key_value"]
    added = [setup.vendor.add_profile("src-a")["key"] for _ in range(25)]
    setup.vendor.faults.add(Fault(path_regex=PROFILES, kind="empty_page", query_regex=page(2), times=2))

    caplog.set_level(logging.WARNING)
    glitched = run_tap(setup.config, state=base.last_state)
    assert setup.vendor.faults.fired["empty_page"] == 2
    assert len(glitched.records("hrflow_profiles")) == 10  # page 1 only
    assert glitched.last_state["bookmarks"]["hrflow_profiles"]["replication_key_value"] == bookmark
    assert "progress_markers" not in glitched.last_state["bookmarks"]["hrflow_profiles"]
    warning = next(r.getMessage() for r in caplog.records if "read to its end" in r.getMessage())
    assert "hrflow stream 'hrflow_profiles'" in warning
    assert "page 2 came back empty" in warning
    assert f"the bookmark stays at {bookmark}" in warning

    caught_up = run_tap(setup.config, state=glitched.last_state)
    emitted = {r["key"] for result in (glitched, caught_up) for r in result.records("hrflow_profiles")}
    assert emitted == set(added)  # before the fix: 15 of the 25 never arrived
    moved = caught_up.last_state["bookmarks"]["hrflow_profiles"]["replication_key_value"]
    assert utc_timestamp(moved) > utc_timestamp(bookmark)  # a confirmed end moves it again


# ---- Talentsoft: Content-Range total understated -----------------------------------------------------


def test_talentsoft_understated_total_pages_on_and_warns(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``Content-Range: 0-9/5`` on every export answer, 25 vacancies and 12 candidates: every record
    in one run (not one page per run), and a warning that the header and the data disagree."""
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=EXPORTS, kind="lie_total", params={"total": 5}, times=1000))
    caplog.set_level(logging.WARNING)
    result = run_tap(setup.config)
    assert setup.vendor.faults.fired["lie_total"] >= 4
    assert_exactly_once(result, setup)  # before the fix: 10 vacancies and 10 candidates, silently
    warnings = [r.getMessage() for r in caplog.records if "Content-Range announced 5 records" in r.getMessage()]
    assert any("'vacancies'" in w and "held at least 25" in w for w in warnings), warnings
    assert any("'candidates'" in w and "held at least 12" in w for w in warnings), warnings

    setup.vendor.faults.clear()
    rerun = run_tap(setup.config, state=result.last_state)
    assert rerun.records("vacancies") == rerun.records("candidates") == []
