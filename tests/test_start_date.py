"""``start_date``, the most common tap setting, in each accepted form, on every stream of every source.

What it means per stream: Talentsoft exports ask only for records updated after it
(``filter=updateDate:gt:...``, never an offset; in ``replication: modified``, the default, only
until the first bookmark, after which the exports ask ``updateDate:ge:<bookmark>``); HrFlow
profiles and jobs, YouServe files and Coresignal postings start at it (``updated_at``,
``uploadDate``, ``last_updated``); the full-table streams (referentials, HrFlow sources and
boards) and the children are whole.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tap_hrdata.values import utc_timestamp
from tests.conftest import current_generation, run_tap
from tests.emulator.server import Emulator

#: A date inside each vendor's data set (UTC midnight), written in every accepted form.
STARTS = {
    "talentsoft": datetime(2025, 3, 1, tzinfo=timezone.utc),
    "hrflow": datetime(2025, 3, 1, tzinfo=timezone.utc),
    "youserve": datetime(2026, 2, 10, tzinfo=timezone.utc),
    "coresignal": datetime(2025, 3, 1, tzinfo=timezone.utc),
}
FORMS = ["{:%Y-%m-%d}", "{:%Y-%m-%d}T00:00:00Z", "{:%Y-%m-%d}T01:00:00+01:00", "{:%Y-%m-%d}T00:00:00.000000+00:00"]
#: The date each incremental stream is filtered on, in its records.
DATES = {
    "vacancies": "update_date",
    "candidates": "update_date",
    "hrflow_profiles": "updated_at",
    "hrflow_jobs": "updated_at",
    "hrflow_trackings": "created_at",
    "hrflow_ratings": "created_at",
    "delivered_files": "upload_date",
    "bulk_jobs": "last_updated",
}
WHOLE = {"referentials", "hrflow_sources", "hrflow_boards"}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("source", ["talentsoft", "hrflow", "youserve", "coresignal"])
def test_every_stream_runs_and_starts_at_start_date(emulator: Emulator, tmp_path: Path, source: str, form: str) -> None:
    everything = run_tap(current_generation(emulator, source, tmp_path / "all"))
    config = current_generation(emulator, source, tmp_path / "since")
    start = STARTS[source]
    config["start_date"] = form.format(start)
    result = run_tap(config)
    for stream in result.streams() | everything.streams():
        records = result.records(stream)
        if stream in DATES:
            before = [r for r in everything.records(stream) if utc_timestamp(r[DATES[stream]]) < start]
            after = [r for r in everything.records(stream) if utc_timestamp(r[DATES[stream]]) >= start]
            assert before, f"{stream}: the data set has nothing before start_date: the test would prove nothing"
            assert all(utc_timestamp(r[DATES[stream]]) >= start for r in records), stream
            assert len(records) >= len(after) - 1, stream  # Talentsoft's "gt" may leave the exact instant out
        elif stream in WHOLE:
            assert len(records) == len(everything.records(stream)), stream
    assert result.streams(), "nothing ran"


@pytest.mark.parametrize("replication", ["modified", "offset"])
def test_talentsoft_start_date_in_both_replication_modes(emulator: Emulator, tmp_path: Path, replication: str) -> None:
    config = current_generation(emulator, "talentsoft", tmp_path)
    config["talentsoft"]["replication"] = replication
    config["start_date"] = "2024-01-01"  # inside this data set (updated from 2021 to early 2025)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    result = run_tap(config)
    for stream in ("vacancies", "candidates"):
        records = result.records(stream)
        assert records, stream
        assert all(utc_timestamp(r["update_date"]) > start for r in records), stream
        bookmark = result.last_state["bookmarks"][stream]
        if replication == "offset":  # kept per filter value (start_date's filter)
            [partition] = bookmark["partitions"]
            assert partition["context"] == {"export_filter": "updateDate:gt:2024-01-01T00:00:00Z"}
            assert partition["replication_key"] == "offset"
        else:  # the selection does not include the moving date clause
            assert bookmark["replication_key"] == "update_date"
            assert bookmark["replication_key_value"] == max(r["update_date"] for r in records)
