"""HrFlow partitions: one per source key and one per board key; their union is one full run.

Every stream of the source is compared: the key-sliced ones (profiles and their attachments,
jobs, trackings and ratings) must come from exactly one partition each; the full tables
(sources, boards, events) only from the partition with ``full_tables: true``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from tap_hrdata.partitions import backfill
from tap_hrdata.tap import TapHrData
from tests.conftest import config_for, mount, run_tap
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator

STREAMS = {
    "hrflow_profiles": ("key",),
    "hrflow_profile_attachments": ("profile_key", "attachment_key"),
    "hrflow_jobs": ("key",),
    "hrflow_sources": ("key",),
    "hrflow_boards": ("key",),
    "hrflow_trackings": ("role", "key"),
    "hrflow_ratings": ("role", "key"),
}


def every_stream(config: dict[str, Any]) -> dict[str, Any]:
    """The discovered catalog with every stream selected (attachments are off by default)."""
    catalog = TapHrData(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = True
    return catalog


def keyed(records: list[dict[str, Any]], key: tuple[str, ...]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(record[name] for name in key) for record in records)


def test_union_of_partitions_equals_one_full_run(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, HrflowEmulator(sources={"src-a": 7, "src-b": 5}, boards={"board-a": 6, "board-b": 4}))
    block = {"source_keys": ["src-a", "src-b"], "board_keys": ["board-a", "board-b"]}
    full_config = config_for(emulator, vendor, files=tmp_path / "full", hrflow=block)
    full = run_tap(full_config, catalog=every_stream(full_config))
    config = config_for(emulator, vendor, files=tmp_path / "parts", hrflow=block)
    listed = backfill(config, ["hrflow"])
    assert [entry["name"] for entry in listed] == [
        "hrflow-source-src-a",
        "hrflow-source-src-b",
        "hrflow-board-board-a",
        "hrflow-board-board-b",
    ]
    union: dict[str, Counter[tuple[Any, ...]]] = {stream: Counter() for stream in STREAMS}
    for entry in listed:
        partitioned = {**config, "partition": entry["partition"]}
        result = run_tap(partitioned, catalog=every_stream(partitioned))
        for stream, key in STREAMS.items():
            union[stream] += keyed(result.records(stream), key)
    for stream, key in STREAMS.items():
        expected = keyed(full.records(stream), key)
        assert expected, stream  # the comparison is not vacuous
        assert union[stream] == expected, stream  # the same keys, each from exactly one partition
