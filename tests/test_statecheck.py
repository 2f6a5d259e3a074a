"""The state a run starts from: shape, timestamp and offset bookmarks checked with a path."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_hrdata.statecheck import CLOCK_SKEW, StateError, bookmark_offset, bookmark_time, check_shape

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("state", "named"),
    [
        ([], "state: must be a JSON object, found list"),
        ({"bookmarks": []}, "state: bookmarks must be an object of streams"),
        ({"bookmarks": {"vacancies": 3}}, "state: bookmarks.vacancies must be an object"),
        ({"bookmarks": {"vacancies": {"partitions": {}}}}, "bookmarks.vacancies.partitions must be a list"),
        ({"bookmarks": {"vacancies": {"partitions": [{"context": 1}]}}}, "bookmarks.vacancies.partitions"),
    ],
)
def test_a_state_of_the_wrong_shape_is_named(state: object, named: str) -> None:
    with pytest.raises(StateError, match=named.replace("[", r"\[").replace("]", r"\]")):
        check_shape(state)


def test_a_state_of_the_right_shape_passes() -> None:
    state = {"bookmarks": {"vacancies": {"partitions": [{"context": {"export_filter": None}}]}}}
    assert check_shape(state) is state
    assert check_shape({}) == {}


def test_timestamps() -> None:
    assert bookmark_time("hrflow_profiles", None) is None
    assert bookmark_time("hrflow_profiles", "2026-12-01T00:00:00Z", now=NOW) == datetime(
        2026, 12, 1, tzinfo=timezone.utc
    )
    assert bookmark_time("s", (NOW + CLOCK_SKEW).isoformat(), now=NOW) == NOW + CLOCK_SKEW  # drift allowed
    with pytest.raises(StateError, match=r"bookmarks.delivered_files.replication_key_value must be a timestamp"):
        bookmark_time("delivered_files", "garbage", now=NOW)
    with pytest.raises(StateError, match="must be a timestamp, found 42"):
        bookmark_time("delivered_files", 42, now=NOW)
    with pytest.raises(StateError, match="is in the future"):
        bookmark_time("bulk_jobs", (NOW + CLOCK_SKEW + timedelta(seconds=1)).isoformat(), now=NOW)


def test_offsets() -> None:
    assert bookmark_offset("vacancies", None) is None
    assert bookmark_offset("vacancies", 41) == 41
    assert bookmark_offset("vacancies", -1) == -1
    for bad in ("abc", "41", 4.5, True, -2):
        with pytest.raises(StateError, match=r"bookmarks\.vacancies\.replication_key_value must be a record offset"):
            bookmark_offset("vacancies", bad)
