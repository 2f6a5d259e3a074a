"""Talentsoft partitions (``replication: modified``): modification-date windows whose union is one full run.

The emulator's records are created from 2021 to mid-2024 and updated up to 180 days later; yearly
windows from ``start_date`` cut them into several slices, the last one open-ended. A record edited
while a closed window's pass runs leaves the window (its new date is past ``end``): the records
after it move down one position, and the pass steps back instead of skipping one.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.partitions import backfill, problems
from tests.conftest import config_for, mount, run_tap
from tests.emulator.talentsoft import TalentsoftEmulator

if TYPE_CHECKING:
    from pathlib import Path

    from tests.emulator.server import Emulator

STREAMS = {
    "vacancies": ("reference",),
    "candidates": ("id",),
    "applications": ("candidate_id", "application_id"),
    "attachments": ("candidate_id", "attachment_id"),
    "referentials": ("category", "id"),
}
BASE = {"start_date": "2021-03-01T00:00:00Z", "partition_days": 365}


@pytest.fixture
def vendor(emulator: Emulator) -> TalentsoftEmulator:
    return mount(emulator, TalentsoftEmulator(vacancies=40, candidates=16, attachments_per_candidate=(1, 2)))


def settings(**more: Any) -> dict[str, Any]:
    return {"page_size": 4, "referential_categories": ["countries"], **more}


def keyed(records: list[dict[str, Any]], key: tuple[str, ...]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(record[name] for name in key) for record in records)


def test_union_of_partitions_equals_one_full_run(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    full = run_tap(config_for(emulator, vendor, files=tmp_path / "full", talentsoft=settings(), **BASE))
    config = config_for(emulator, vendor, files=tmp_path / "parts", talentsoft=settings(), **BASE)
    listed = backfill(config, ["talentsoft"])
    assert len(listed) >= 4
    assert [entry["partition"].get("end") is None for entry in listed].count(True) == 1  # the last, open-ended
    union: dict[str, Counter[tuple[Any, ...]]] = {stream: Counter() for stream in STREAMS}
    calls = len(vendor.export_calls)
    for entry in listed:
        result = run_tap({**config, "partition": entry["partition"]})
        for stream, key in STREAMS.items():
            union[stream] += keyed(result.records(stream), key)
    for stream, key in STREAMS.items():
        expected = keyed(full.records(stream), key)
        assert expected, stream
        assert union[stream] == expected, stream  # each record from exactly one partition
    sent = {call[3] for call in vendor.export_calls[calls:] if call[0] == "vacancies"}
    assert "updateDate:gt:2021-03-01T00:00:00Z,updateDate:lt:2022-03-01T00:00:00Z" in sent  # as start_date does
    assert any(f and f.startswith("updateDate:ge:") and ",updateDate:lt:" in f for f in sent)


def test_a_record_leaving_the_window_during_the_pass_costs_no_other(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(
        emulator, vendor, files=tmp_path / "files", talentsoft=settings(page_size=2, max_concurrent_requests=1), **BASE
    )
    [window, *_] = [e["partition"] for e in backfill(config, ["talentsoft"]) if e["partition"].get("end")]
    start, end = (
        int(time.mktime(time.strptime(window[k], "%Y-%m-%dT%H:%M:%SZ"))) - time.timezone for k in ("start", "end")
    )
    inside = [i for i in range(40) if start < vendor.update_epoch("vacancies", i) < end]
    assert len(inside) >= 5
    answer = vendor._export
    edited: list[str] = []

    def export(request: Any, kind: str, fault: Any) -> Any:
        if kind == "vacancies" and request.arg("offset") == "2" and not edited:  # positions 0 and 1 are read
            edited.extend(vendor.edit_vacancies(inside[0], at=int(time.time())))  # leaves the window
        return answer(request, kind, fault)

    monkeypatch.setattr(vendor, "_export", export)
    result = run_tap({**config, "partition": window})
    got = [r["reference"] for r in result.records("vacancies")]
    expected = {vendor.vacancy_reference(i) for i in inside}
    assert set(got) >= expected - set(edited)  # no record after the edited one was skipped
    assert edited


def test_offset_mode_is_one_partition_and_refuses_windows(emulator: Emulator, vendor: TalentsoftEmulator) -> None:
    config = config_for(emulator, vendor, talentsoft=settings(replication="offset"), **BASE)
    assert [e["partition"]["source"] for e in backfill(config, ["talentsoft"])] == ["talentsoft"]
    refused = problems(
        {**config, "partition": {"source": "talentsoft", "start": "2022-01-01T00:00:00Z"}}, ["talentsoft"]
    )
    assert refused
    assert refused[0].startswith("partition.start: talentsoft is not sliced by date")


def test_a_partition_run_does_no_targeted_refresh(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    from tests.webhooks.seed import seed_talentsoft_journal

    config = config_for(emulator, vendor, files=tmp_path / "files", talentsoft=settings(), **BASE)
    [entry, *_] = backfill(config, ["talentsoft"])
    first = run_tap({**config, "partition": entry["partition"]})
    seed_talentsoft_journal(
        config["files_storage_url"], ({"event": "vacancy_update", "data": {"reference": "VAC-00039"}},)
    )
    calls = len(vendor.export_calls)
    run_tap({**config, "partition": entry["partition"]}, state=copy.deepcopy(first.last_state))
    assert not [c for c in vendor.export_calls[calls:] if c[3] and "id::" in c[3]]
