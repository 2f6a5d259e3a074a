"""A corrupt, foreign or future bookmark for the HrFlow and Talentsoft streams (issue 14, points 15
and 16): the run stops before any record, with an error naming the stream and where the bad value
sits in the state, never a raw TypeError / ValueError, and never a silent restart or a silent
run that emits nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.statecheck import StateError
from tests.conftest import run_tap, run_tap_partial
from tests.faults.conftest import setup_source

if TYPE_CHECKING:
    from pathlib import Path

    from tests.emulator.server import Emulator

FUTURE = "2099-01-01T00:00:00+00:00"


def stream_state(stream: str, replication_key: str, value: object) -> dict[str, Any]:
    """A state holding ``value`` as ``stream``'s bookmark on ``replication_key``."""
    return {"bookmarks": {stream: {"replication_key": replication_key, "replication_key_value": value}}}


def assert_refused(error: BaseException, path: str, *fragments: str) -> None:
    """A StateError naming the bad value's path in the state (and what is wrong with it)."""
    assert isinstance(error, StateError), f"{type(error).__name__}: {error}"
    message = str(error)
    assert f"state: bookmarks.{path}" in message
    for fragment in fragments:
        assert fragment in message


# ---- HrFlow: updated_at bookmarks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("garbage", "must be a timestamp, found 'garbage'"),
        (42, "must be a timestamp, found 42"),
        ([], "must be a timestamp, found []"),
        (FUTURE, "is in the future (2099-01-01T00:00:00+00:00"),
    ],
    ids=["text", "number", "list", "future"],
)
@pytest.mark.parametrize("start_date", [None, "2020-01-01T00:00:00Z"], ids=["no_start_date", "start_date"])
def test_hrflow_bad_bookmark_stops_the_run_naming_its_path(
    emulator: Emulator, tmp_path: Path, value: object, said: str, start_date: str | None
) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    if start_date:
        setup.config["start_date"] = start_date
    partial, error = run_tap_partial(setup.config, stream_state("hrflow_profiles", "updated_at", value))
    assert_refused(error, "hrflow_profiles.replication_key_value", said)
    assert partial.records("hrflow_profiles") == []
    assert setup.vendor.calls["/storing/profiles"] == 0  # nothing asked of a list the run cannot bookmark


def test_hrflow_jobs_bad_bookmark_is_named_too(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    partial, error = run_tap_partial(setup.config, stream_state("hrflow_jobs", "updated_at", "yesterday"))
    assert_refused(error, "hrflow_jobs.replication_key_value", "'yesterday'")
    assert partial.records("hrflow_jobs") == []
    assert setup.vendor.calls["/storing/jobs"] == 0


def test_hrflow_bookmark_of_a_past_run_is_accepted(emulator: Emulator, tmp_path: Path) -> None:
    """The check refuses bad values only: a run's own state, in the past, is taken as it is."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    first = run_tap(setup.config)
    again = run_tap(setup.config, first.last_state)
    assert again.records("hrflow_profiles") == []


# ---- Talentsoft: offset bookmarks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [("abc", "found 'abc'"), (4.5, "found 4.5"), (True, "found True"), (-7, "found -7"), ({"at": 3}, "found {")],
    ids=["text", "fraction", "boolean", "negative", "object"],
)
def test_talentsoft_bad_offset_stops_the_run_naming_its_path(
    emulator: Emulator, tmp_path: Path, value: object, shown: str
) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    partial, error = run_tap_partial(setup.config, stream_state("candidates", "offset", value))
    assert_refused(error, "candidates.replication_key_value", "must be a record offset", shown)
    # before the fix: every candidate again from offset 0, silently
    assert partial.records("candidates") == partial.records("applications") == partial.records("attachments") == []
    assert setup.vendor.export_requests["candidates"] == 0


def test_talentsoft_bad_offset_in_a_partition_names_the_partition(emulator: Emulator, tmp_path: Path) -> None:
    """With ``talentsoft.filter`` the bookmark is a partition's: the path says which one."""
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.settings(filter="updateDate:gt:2000-01-01T00:00:00Z")
    other = {"context": {"export_filter": "creationDate:gt:2001-01-01"}, "replication_key": "offset"}
    state = {
        "bookmarks": {
            "vacancies": {
                "partitions": [
                    {**other, "replication_key_value": 3},
                    {
                        "context": {"export_filter": "updateDate:gt:2000-01-01T00:00:00Z"},
                        "replication_key": "offset",
                        "replication_key_value": "12",
                    },
                ]
            }
        }
    }
    partial, error = run_tap_partial(setup.config, state)
    assert_refused(error, "vacancies.partitions[1].replication_key_value", "found '12'")
    assert partial.records("vacancies") == []
    assert setup.vendor.export_requests["vacancies"] == 0


def test_talentsoft_offset_of_a_past_run_is_accepted(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    first = run_tap(setup.config)
    again = run_tap(setup.config, first.last_state)
    assert again.records("vacancies") == again.records("candidates") == []
