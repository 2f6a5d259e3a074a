"""The partition setting: validation naming the field, --list-partitions, state fingerprints."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.partitions import backfill
from tap_hrdata.statecheck import StateError
from tap_hrdata.tap import TapHrData
from tests.conftest import config_for, mount, run_tap
from tests.emulator.server import Emulator
from tests.emulator.youserve import YouserveEmulator

CONFIG: dict[str, Any] = {
    "start_date": "2025-01-01T00:00:00Z",
    "partition_days": 90,
    "youserve": {"client_id": "a", "client_secret": "b", "tenant_id": "c", "business_types": [1, 2]},
    "coresignal": {"api_key": "k" * 32, "filters": {"title": "x"}},
    "hrflow": {"api_key": "k", "user_email": "a@b.c", "source_keys": ["s1", "s.2"], "board_keys": ["b1"]},
}


@pytest.mark.parametrize(
    ("partition", "field"),
    [
        ({"source": "nope"}, "partition.source"),
        ({"source": "talentsoft"}, "partition.source"),  # not configured
        ({"source": "coresignal", "business_types": [1]}, "partition.business_types"),
        ({"source": "youserve", "business_types": [3]}, "partition.business_types"),
        ({"source": "hrflow", "source_keys": ["zz"]}, "partition.source_keys"),
        ({"source": "hrflow", "start": "2025-01-01T00:00:00Z"}, "partition.start"),
        ({"source": "youserve", "start": "2025-02-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "partition.start"),
        ({"source": "youserve", "colour": "red"}, "partition.colour"),
    ],
)
def test_refused_partitions_name_the_field(partition: dict[str, Any], field: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        _ = TapHrData(config={**CONFIG, "files_storage_url": str(tmp_path), "partition": partition}).streams
    # ours say partition.<field>; the SDK's schema check says config['partition']['<field>']
    assert any(field in error or f"['partition']['{field[10:]}']" in error for error in caught.value.errors)


def test_partition_syncs_only_its_source_and_full_tables_once(tmp_path: Path) -> None:
    config = {**CONFIG, "files_storage_url": str(tmp_path)}
    assert set(TapHrData(config={**config, "partition": {"source": "youserve"}}).streams) == {"delivered_files"}
    names = set(TapHrData(config={**config, "partition": {"source": "hrflow", "board_keys": ["b1"]}}).streams)
    assert names == {"hrflow_jobs"}
    names = set(
        TapHrData(
            config={**config, "partition": {"source": "hrflow", "source_keys": ["s1"], "full_tables": True}}
        ).streams
    )
    assert {"hrflow_profiles", "hrflow_sources", "hrflow_boards", "hrflow_trackings"} <= names
    assert "hrflow_jobs" not in names


def test_list_partitions_cli_is_stable_and_makes_no_request(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    # unreachable URLs: any request would fail the command
    config = {**CONFIG, "files_storage_url": str(tmp_path / "f")}
    config["coresignal"] = {**config["coresignal"], "base_url": "http://127.0.0.1:9/cdapi"}
    path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_hrdata", "--config", str(path), "--list-partitions"]
    first = subprocess.run(command, capture_output=True, check=True, timeout=60)
    second = subprocess.run(command, capture_output=True, check=True, timeout=60)
    assert first.stdout == second.stdout
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    names = [line["name"] for line in lines]
    assert len(names) == len(set(names))
    assert "hrflow-source-s_2" in names
    assert "hrflow-board-b1" in names
    assert names[names.index("youserve-20250101")] == lines[names.index("youserve-20250101")]["partition"]["name"]
    for source in ("youserve", "coresignal", "hrflow"):
        own = [line["partition"] for line in lines if line["partition"]["source"] == source]
        assert [p["full_tables"] for p in own] == [True] + [False] * (len(own) - 1)
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").rglob("*.json"))


def test_list_partitions_without_start_date_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**CONFIG, "start_date": None, "files_storage_url": str(tmp_path)}))
    done = subprocess.run(
        [sys.executable, "-m", "tap_hrdata", "--config", str(path), "--list-partitions"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "start_date" in done.stderr.decode().strip().splitlines()[-1]


def test_windows_are_aligned_and_the_last_is_open_ended() -> None:
    listed = [e for e in backfill(CONFIG, ["youserve"]) if e["partition"]["source"] == "youserve"]
    for this, following in itertools.pairwise(listed):
        assert this["partition"]["end"] == following["partition"]["start"]
    assert "end" not in listed[-1]["partition"]


def test_a_state_of_another_partition_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator())
    config = config_for(emulator, vendor, youserve={"business_types": [7101, 8000]})
    one = {"source": "youserve", "business_types": [7101]}
    state = run_tap({**config, "partition": one}).last_state
    assert state["bookmarks"]["delivered_files"]["partition"].startswith("youserve:")
    run_tap({**config, "partition": {**one, "name": "renamed"}}, state=state)  # the name is for logs only
    with pytest.raises(StateError, match=r"bookmarks\.delivered_files\.partition"):
        run_tap({**config, "partition": {"source": "youserve", "business_types": [8000]}}, state=state)
    with pytest.raises(StateError, match="unpartitioned"):
        run_tap(config, state=state)
    plain = run_tap(config).last_state
    with pytest.raises(StateError, match="an unpartitioned run"):
        run_tap({**config, "partition": one}, state=plain)
