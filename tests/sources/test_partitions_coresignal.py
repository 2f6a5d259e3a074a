"""Coresignal partitions: the union of a backfill's windows equals one full run, and each window is paid once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tap_hrdata.partitions import backfill
from tests.conftest import config_for, mount, run_tap
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.server import Emulator

STREAM = "bulk_jobs"


def by_id(records: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {r["id"]: r for r in records}


def test_union_of_partitions_equals_one_full_run(emulator: Emulator, tmp_path: Path) -> None:
    # A cap of 150 records makes the full run, and the partitions, halve their windows.
    vendor = mount(emulator, CoresignalEmulator(jobs=600, record_cap=150, polls_until_ready=0))
    base = {"start_date": "2025-01-01T00:00:00Z", "partition_days": 120}
    full = run_tap(config_for(emulator, vendor, files=tmp_path / "full", **base)).records(STREAM)
    assert len(full) > 100
    posts_full = vendor.post_count

    config = config_for(emulator, vendor, files=tmp_path / "parts", **base)
    listed = backfill(config, ["coresignal"])
    assert len(listed) >= 5
    assert "end" not in listed[-1]["partition"]
    seen: dict[Any, dict[str, Any]] = {}
    for entry in listed:
        start = vendor.post_count
        records = run_tap({**config, "partition": entry["partition"]}).records(STREAM)
        for record in records:
            assert record["id"] not in seen, f"{record['id']} emitted by two partitions"
            seen[record["id"]] = record
        assert vendor.post_count >= start
    assert set(seen) == set(by_id(full))
    for key, record in by_id(full).items():
        assert seen[key]["raw"] == record["raw"]
    assert vendor.post_count - posts_full >= len(listed)  # each partition paid for its own window(s)


def test_partition_window_excludes_its_end_and_a_rerun_pays_nothing(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=0))
    config = config_for(emulator, vendor, files=tmp_path / "f", start_date="2025-01-01T00:00:00Z")
    partition = {"source": "coresignal", "start": "2025-03-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"}
    first = run_tap({**config, "partition": partition})
    stamps = [r["last_updated"] for r in first.records(STREAM)]
    assert stamps
    assert all("2025-03-01" <= s < "2025-06-01" for s in stamps)
    assert vendor.post_count == 1
    again = run_tap({**config, "partition": partition}, state=first.last_state)
    assert again.records(STREAM) == []
    assert vendor.post_count == 1  # the closed window is collected: nothing is bought again


def test_two_processes_racing_on_one_partition_pay_once(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=3))
    config = config_for(emulator, vendor, files=tmp_path / "shared", start_date="2025-01-01T00:00:00Z")
    config["partition"] = {"source": "coresignal", "start": "2025-02-01T00:00:00Z", "end": "2025-05-01T00:00:00Z"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_hrdata", "--config", str(path)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    assert vendor.post_count == 1
    ids = [{json.loads(line)["record"]["id"] for line in out.splitlines() if b'"RECORD"' in line} for out, _ in outputs]
    assert ids[0] == ids[1]
    assert ids[0]


def claim_file(config: dict[str, Any], vendor: CoresignalEmulator, partition: dict[str, Any]) -> Path:
    """Where a run of ``partition`` claims its first request (the claim a killed run leaves behind)."""
    from tap_hrdata.sources.coresignal.streams import BulkJobsStream
    from tap_hrdata.tap import TapHrData

    tap = TapHrData(config={**config, "partition": partition})
    stream = tap.streams["bulk_jobs"]
    assert isinstance(stream, BulkJobsStream)
    key = stream.journal_key(stream.first_window(None))
    return Path(config["files_storage_url"]) / "coresignal" / "requests" / f"{key}.claim"


def test_a_claim_left_by_a_killed_run_is_taken_over(emulator: Emulator, tmp_path: Path) -> None:
    """SIGKILL between the claim and the journal entry: the next run must not wait on a dead run forever."""
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=0))
    config = config_for(emulator, vendor, files=tmp_path / "f", start_date="2025-01-01T00:00:00Z")
    config["coresignal"]["poll_timeout_seconds"] = 3600  # a wait on the claim would hang the test
    partition = {"source": "coresignal", "start": "2025-03-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"}
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    path = claim_file(config, vendor, partition)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": __import__("socket").gethostname(), "pid": int(dead.stdout), "at": 0}))
    result = run_tap({**config, "partition": partition})
    assert result.records(STREAM)
    assert vendor.post_count == 1
    if path.exists():  # kept until the request's journal entry goes: now this run's
        assert json.loads(path.read_text())["pid"] == __import__("os").getpid()


def test_a_live_claim_from_another_host_is_waited_for_until_its_lease_ends(emulator: Emulator, tmp_path: Path) -> None:
    import time

    from tap_hrdata.sources.coresignal.journal import RequestJournal
    from tap_hrdata.storage import FileStorage

    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=0))
    config = config_for(emulator, vendor, files=tmp_path / "f", start_date="2025-01-01T00:00:00Z")
    partition = {"source": "coresignal", "start": "2025-03-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"}
    path = claim_file(config, vendor, partition)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": "another-worker", "pid": 1, "at": time.time()}))
    journal = RequestJournal(FileStorage(config["files_storage_url"]), __import__("logging").getLogger("test"))
    key = path.name.removesuffix(".claim")
    assert journal.abandoned(key, lease_seconds=60) is None  # alive for all we know
    path.write_text(json.dumps({"host": "another-worker", "pid": 1, "at": time.time() - 120}))
    assert journal.abandoned(key, lease_seconds=60) == "it is older than 60 s"
