"""YouServe partitions: upload-date windows and business types; each partition deletes only its own files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tap_hrdata.partitions import backfill
from tests.conftest import config_for, mount, run_tap
from tests.emulator.server import Emulator
from tests.emulator.youserve import YouserveEmulator

STREAM = "delivered_files"


def test_union_of_partitions_equals_one_full_run(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator())
    base = {"start_date": "2026-01-01T00:00:00Z", "partition_days": 14}
    block = {"business_types": [7101, 8000]}
    full = run_tap(config_for(emulator, vendor, files=tmp_path / "full", youserve=block, **base)).records(STREAM)
    assert len(full) > 5
    config = config_for(emulator, vendor, files=tmp_path / "parts", youserve=block, **base)
    listed = backfill(config, ["youserve"])
    assert len(listed) > 3
    seen: dict[str, dict[str, Any]] = {}
    for entry in listed:
        for record in run_tap({**config, "partition": entry["partition"]}).records(STREAM):
            assert record["file_id"] not in seen
            seen[record["file_id"]] = record
    assert set(seen) == {r["file_id"] for r in full}
    for record in full:
        got = seen[record["file_id"]]
        # "downloaded" is the vendor's own flag, flipped by the full run's downloads
        assert ({**got["raw"], "downloaded": None}, got["sha256"], got["business_types"]) == (
            {**record["raw"], "downloaded": None},
            record["sha256"],
            record["business_types"],
        )


def test_business_type_partitions_each_delete_only_their_own(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator())
    config = config_for(emulator, vendor, youserve={"business_types": [7101, 8000], "delete_after_download": True})
    types = {e["fileId"]: e["businessType"]["id"] for e in vendor.entries()}
    parts = {bt: {"source": "youserve", "business_types": [bt]} for bt in (7101, 8000)}
    first = {bt: run_tap({**config, "partition": p}) for bt, p in parts.items()}
    assert vendor.deleted == []
    for bt, result in first.items():
        assert {r["file_id"] for r in result.records(STREAM)} == {f for f, t in types.items() if t == bt}
    run_tap({**config, "partition": parts[7101]}, state=first[7101].last_state)
    assert vendor.deleted
    assert {types[f] for f in vendor.deleted} == {7101}  # 8000's files are not this partition's to delete
    before = len(vendor.deleted)
    run_tap({**config, "partition": parts[8000]}, state=first[8000].last_state)
    assert {types[f] for f in vendor.deleted[before:]} == {8000}


def test_window_partition_deletes_only_inside_its_window(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator())
    config = config_for(emulator, vendor, youserve={"delete_after_download": True})
    early = {"source": "youserve", "end": "2026-02-01T00:00:00Z"}
    late = {"source": "youserve", "start": "2026-02-01T00:00:00Z"}
    states = {name: run_tap({**config, "partition": p}).last_state for name, p in (("early", early), ("late", late))}
    dates = {e["fileId"]: e["uploadDate"] for e in vendor.entries()}
    run_tap({**config, "partition": late}, state=states["late"])
    assert vendor.deleted
    assert all(dates[f] >= "2026-02-01" for f in vendor.deleted)
