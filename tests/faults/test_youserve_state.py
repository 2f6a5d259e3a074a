"""YouServe state under stress: a giant same-date group, corrupt states, a bookmark in the future.

- A payslip batch (thousands of files sharing one upload date) once made every STATE carry
  the ids of the whole group so far: STATE bytes grew with the square of the group (704 MB
  for 6,000 files). The marker is now compact whatever the group size, and STATE is written
  at a bounded rate; resume and deletion stay exact across a crash inside the group, in
  any order the API lists a date's files, and a file listed late inside the group is
  neither lost nor deleted before a state confirms it. States of earlier versions (the
  list of ids) are still read.
- A state value of the wrong type or shape stops the run with an error naming its path
  under ``bookmarks.delivered_files``; a bookmark in the future is refused before any
  request, so with ``delete_after_download`` it can never delete a file.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.sources.youserve import streams as youserve_streams
from tap_hrdata.statecheck import StateError
from tap_hrdata.tap import TapHrData
from tests.conftest import captured_stdout, config_for, mount, run_tap, run_tap_partial
from tests.emulator.server import Fault
from tests.emulator.youserve import YouserveEmulator

if TYPE_CHECKING:
    from pathlib import Path

    from tests.emulator.server import Emulator

STREAM = "delivered_files"
BATCH_DATE = "2026-03-31T17:00:00.000Z"
BATCH_BOOKMARK = "2026-03-31T17:00:00.000000+00:00"
#: STATE bytes allowed per file of the batch, over all runs: a constant, whatever the group size.
BYTES_PER_FILE = 200


class Run:
    """What one in-process run wrote, read line by line so that huge STATE output stays cheap."""

    def __init__(self, config: dict[str, Any], state: dict[str, Any] | None = None) -> None:
        self.error: BaseException | None = None
        started = time.monotonic()
        with captured_stdout() as raw:
            try:
                TapHrData(config=config, state=state or {}).sync_all()
            except Exception as exc:  # the caller asserts on it
                self.error = exc
            output = raw.getvalue()
        self.seconds = time.monotonic() - started
        self.file_ids: list[str] = []
        self.state_bytes = 0
        self.states = 0
        self.largest_state = 0
        last = b""
        for line in output.splitlines():
            kind = json.loads(line[: line.index(b",")] + b"}")["type"] if line.startswith(b'{"type":') else None
            if kind == "STATE":
                self.states += 1
                self.state_bytes += len(line) + 1
                self.largest_state = max(self.largest_state, len(line))
                last = line
            elif kind == "RECORD":
                self.file_ids.append(json.loads(line)["record"]["file_id"])
        self.last_state: dict[str, Any] = json.loads(last)["value"] if last else {}


def batch_vendor(emulator: Emulator, files: int, *, tie_order: str = "hashed") -> YouserveEmulator:
    """A vendor with one file before the batch, ``files`` files sharing one upload date, one after."""
    vendor = mount(emulator, YouserveEmulator(files=[], tie_order=tie_order))
    vendor.add_file("before.xml", 7101, 50, "2026-03-30T08:00:00.000Z")
    for number in range(files):
        vendor.add_file(f"payslip_{number:05d}.pdf", 7101, 10, BATCH_DATE)
    vendor.add_file("after.xml", 7101, 60, "2026-04-01T08:00:00.000Z")
    return vendor


def batch_ids(vendor: YouserveEmulator) -> list[str]:
    """The batch's ids as the tap emits them: sorted, whatever the listing's order."""
    return sorted(e["fileId"] for e in vendor.entries() if e["uploadDate"] == BATCH_DATE)


def ys_config(emulator: Emulator, vendor: YouserveEmulator, tmp_path: Path, **youserve: Any) -> dict[str, Any]:
    return config_for(emulator, vendor, files=tmp_path / "files", youserve={"page_size": 1000, **youserve})


# ---- 11: a giant group of one upload date ------------------------------------------------


def test_a_payslip_batch_keeps_state_linear_resumes_exactly_once_and_deletes_only_confirmed(
    emulator: Emulator, tmp_path: Path
) -> None:
    files = 2000
    vendor = batch_vendor(emulator, files)
    batch = batch_ids(vendor)
    everything = [e["fileId"] for e in vendor.entries()]
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    # The run stops inside the batch: the file at its middle (in the tap's order) cannot be fetched.
    crash_at = batch[files // 2]
    vendor.faults.add(Fault(path_regex=crash_at, method="GET", status=400, times=1))
    first = Run(config)
    assert isinstance(first.error, Exception)
    assert crash_at in str(first.error)
    assert 1 < len(first.file_ids) < 1 + files  # the file before the batch, then part of it
    assert vendor.deleted == []  # nothing confirmed yet

    # The target committed the last STATE: the next run deletes exactly what it covers.
    second = Run(config, first.last_state)
    assert second.error is None
    assert sorted(vendor.deleted) == sorted(first.file_ids)
    third = Run(config, second.last_state)
    assert third.error is None
    assert third.file_ids == []
    assert sorted(vendor.deleted) == sorted(everything)
    assert len(vendor.deleted) == len(set(vendor.deleted))

    # Every file exactly once across the crash.
    emitted = Counter(first.file_ids + second.file_ids)
    assert sorted(emitted) == sorted(everything)
    assert max(emitted.values()) == 1

    # STATE: compact, and written at a bounded rate.
    runs = (first, second, third)
    total = sum(run.state_bytes for run in runs)
    print(f"{files} files of one upload date: {total} STATE bytes in {sum(r.states for r in runs)} messages")
    assert total < BYTES_PER_FILE * files, f"{total} STATE bytes for {files} files"
    assert max(run.largest_state for run in runs) < 1500
    for run in runs:
        # one after the first file and each second, one after the deletions, one at the end or on an error
        assert run.states <= 3 + run.seconds / youserve_streams.CHECKPOINT_SECONDS, (run.states, run.seconds)


def test_a_checkpoint_per_file_would_stay_small_too(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with a STATE after every file, each STATE keeps one size: linear in the group."""
    monkeypatch.setattr(youserve_streams, "CHECKPOINT_SECONDS", 0.0, raising=False)  # base: none
    sizes = {}
    for files in (200, 800):
        vendor = batch_vendor(emulator, files)
        run = Run(ys_config(emulator, vendor, tmp_path / str(files)))
        assert run.error is None
        assert run.states >= files
        sizes[files] = run.largest_state
    assert sizes[800] < 1000
    assert abs(sizes[800] - sizes[200]) <= 16  # the same fields; only a timestamp's digits may differ


def test_a_file_listed_late_inside_the_group_is_neither_lost_nor_deleted_unconfirmed(
    emulator: Emulator, tmp_path: Path
) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[], tie_order="hashed"))
    for number in range(10, 30):
        vendor.add_file(f"payslip_{number}.pdf", 7101, 10, BATCH_DATE, file_id=f"f-{number:03d}")
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    vendor.faults.add(Fault(path_regex="f-020", method="GET", status=400, times=1))
    first, _ = run_tap_partial(config)
    assert [r["file_id"] for r in first.records(STREAM)] == [f"f-{n:03d}" for n in range(10, 20)]
    assert first.last_state["bookmarks"][STREAM]["files_at_bookmark"]["through_file_id"] == "f-019"

    # A file of the same upload date appears, sorting before the marker; something else downloaded it.
    vendor.add_file("late.pdf", 7101, 10, BATCH_DATE, file_id="f-000")
    vendor.set_downloaded("f-000")
    second = run_tap(config, state=first.last_state)
    assert "f-000" not in vendor.deleted  # never emitted before: not confirmed
    assert vendor.deleted == []  # the group changed: nothing of it is trusted for deletion
    emitted = [r["file_id"] for r in second.records(STREAM)]
    assert emitted == sorted(["f-000", *(f"f-{n:03d}" for n in range(10, 30))])  # again, never lost

    third = run_tap(config, state=second.last_state)
    assert third.records(STREAM) == []
    assert sorted(vendor.deleted) == emitted


def test_a_state_of_earlier_versions_is_read(emulator: Emulator, tmp_path: Path) -> None:
    """The list form (``file_ids``), written in the listing's order: any subset of the group."""
    vendor = mount(emulator, YouserveEmulator(files=[], tie_order="hashed"))
    vendor.add_file("before.xml", 7101, 50, "2026-03-30T08:00:00.000Z")
    for number in range(10):
        vendor.add_file(f"payslip_{number}.pdf", 7101, 10, BATCH_DATE)
    batch = batch_ids(vendor)
    named = [batch[7], batch[1], batch[4]]
    for file_id in [e["fileId"] for e in vendor.entries()]:
        vendor.set_downloaded(file_id)
    old_state = {
        "bookmarks": {
            STREAM: {
                "replication_key": "upload_date",
                "replication_key_value": BATCH_BOOKMARK,
                "files_at_bookmark": {"upload_date": BATCH_BOOKMARK, "file_ids": named},
            }
        }
    }
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    before = next(e["fileId"] for e in vendor.entries() if e["fileName"] == "before.xml")
    result = run_tap(config, state=old_state)
    assert sorted(vendor.deleted) == sorted([before, *named])  # exactly what the old state named
    rest = [file_id for file_id in batch if file_id not in named]
    assert [r["file_id"] for r in result.records(STREAM)] == rest
    marker = result.last_state["bookmarks"][STREAM]["files_at_bookmark"]
    assert set(marker) == {"upload_date", "through_file_id", "count", "sha256"}  # compact from now on
    assert marker["through_file_id"] == batch[-1]

    again = run_tap(config, state=result.last_state)
    assert again.records(STREAM) == []
    assert sorted(vendor.deleted) == sorted([before, *batch])


def test_a_migrated_state_keeps_the_old_ids_not_yet_passed(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[], tie_order="hashed"))
    for number in range(6):
        vendor.add_file(f"payslip_{number}.pdf", 7101, 10, BATCH_DATE)
    batch = batch_ids(vendor)
    old_state = {
        "bookmarks": {
            STREAM: {
                "replication_key": "upload_date",
                "replication_key_value": BATCH_BOOKMARK,
                "files_at_bookmark": {"upload_date": BATCH_BOOKMARK, "file_ids": [batch[4], batch[1]]},
            }
        }
    }
    config = ys_config(emulator, vendor, tmp_path)
    vendor.faults.add(Fault(path_regex=batch[3], method="GET", status=400, times=1))
    partial, _ = run_tap_partial(config, state=old_state)
    assert [r["file_id"] for r in partial.records(STREAM)] == [batch[0], batch[2]]
    marker = partial.last_state["bookmarks"][STREAM]["files_at_bookmark"]
    assert marker["through_file_id"] == batch[2]
    assert marker["file_ids"] == [batch[4]]  # emitted by the old version, not passed yet
    resumed = run_tap(config, state=partial.last_state)
    assert [r["file_id"] for r in resumed.records(STREAM)] == [batch[3], batch[5]]


# ---- 15 and 16: a corrupt or future state ------------------------------------------------


def future(delta: timedelta = timedelta(days=1)) -> str:
    return (datetime.now(timezone.utc) + delta).isoformat(timespec="microseconds")


def with_marker(marker: object, value: object = BATCH_BOOKMARK) -> dict[str, Any]:
    return {"replication_key": "upload_date", "replication_key_value": value, "files_at_bookmark": marker}


@pytest.mark.parametrize(
    ("stream_state", "named"),
    [
        ({"replication_key": "upload_date", "replication_key_value": "garbage"}, "replication_key_value"),
        ({"replication_key": "upload_date", "replication_key_value": 42}, "replication_key_value"),
        ({"replication_key": "upload_date", "replication_key_value": ["2026-01-01"]}, "replication_key_value"),
        (with_marker([]), "files_at_bookmark must be an object"),
        (with_marker("f-1"), "files_at_bookmark must be an object"),
        (with_marker({"file_ids": ["f-1"]}), "files_at_bookmark.upload_date"),
        (with_marker({"upload_date": "garbage", "file_ids": []}), "files_at_bookmark.upload_date"),
        (with_marker({"upload_date": 42, "file_ids": []}), "files_at_bookmark.upload_date"),
        (with_marker({"upload_date": BATCH_BOOKMARK, "file_ids": "f-1"}), "files_at_bookmark.file_ids"),
        (with_marker({"upload_date": BATCH_BOOKMARK, "file_ids": [1, 2]}), "files_at_bookmark.file_ids[0]"),
        (with_marker({"upload_date": BATCH_BOOKMARK, "file_ids": {"f-1": 1}}), "files_at_bookmark.file_ids"),
        (
            with_marker({"upload_date": BATCH_BOOKMARK, "through_file_id": "f-1", "count": "3", "sha256": "0" * 64}),
            "files_at_bookmark.count",
        ),
        (
            with_marker({"upload_date": BATCH_BOOKMARK, "through_file_id": "f-1", "count": 3}),
            "files_at_bookmark.sha256",
        ),
        (
            with_marker({"upload_date": BATCH_BOOKMARK, "through_file_id": 7, "count": 1, "sha256": "0" * 64}),
            "files_at_bookmark.through_file_id",
        ),
    ],
)
@pytest.mark.parametrize("start_date", [None, "2026-01-01T00:00:00Z"])
def test_a_corrupt_state_stops_the_run_naming_its_path(
    emulator: Emulator, tmp_path: Path, stream_state: dict[str, Any], named: str, start_date: str | None
) -> None:
    vendor = batch_vendor(emulator, 3)
    for entry in vendor.entries():
        vendor.set_downloaded(entry["fileId"])
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    if start_date:
        config["start_date"] = start_date
    result, error = run_tap_partial(config, state={"bookmarks": {STREAM: stream_state}})
    assert isinstance(error, StateError), repr(error)
    assert f"state: bookmarks.{STREAM}.{named}" in str(error)
    assert result.records(STREAM) == []
    assert vendor.deleted == []
    assert vendor.calls[("DELETE", "file")] == 0


def test_a_corrupt_partition_state_is_named_with_its_partition(emulator: Emulator, tmp_path: Path) -> None:
    vendor = batch_vendor(emulator, 3)
    config = ys_config(emulator, vendor, tmp_path, business_types=[7101])
    partition = {"context": {"business_types": "7101"}, **with_marker({"upload_date": "soon", "file_ids": []})}
    _, error = run_tap_partial(config, state={"bookmarks": {STREAM: {"partitions": [partition]}}})
    assert isinstance(error, StateError)
    assert f"state: bookmarks.{STREAM}.partitions[0].files_at_bookmark.upload_date must be a timestamp" in str(error)


@pytest.mark.parametrize("where", ["bookmark", "marker"])
def test_a_future_bookmark_is_refused_and_never_deletes(emulator: Emulator, tmp_path: Path, where: str) -> None:
    vendor = batch_vendor(emulator, 5)
    config = ys_config(emulator, vendor, tmp_path, delete_after_download=True)
    first = run_tap(config)  # everything downloaded, nothing deleted yet
    assert len(first.records(STREAM)) == 7
    assert vendor.deleted == []
    ids = [e["fileId"] for e in vendor.entries()]
    later = future()
    value = later if where == "bookmark" else BATCH_BOOKMARK
    state = {"bookmarks": {STREAM: with_marker({"upload_date": later, "file_ids": ids}, value)}}
    run = Run(config, state)
    assert vendor.deleted == [], f"deleted {len(vendor.deleted)} files no target committed"
    assert vendor.calls[("DELETE", "file")] == 0
    assert isinstance(run.error, StateError), repr(run.error)
    path = "replication_key_value" if where == "bookmark" else "files_at_bookmark.upload_date"
    assert f"state: bookmarks.{STREAM}.{path} is in the future" in str(run.error)
    assert run.file_ids == []


def test_a_bookmark_within_the_clock_skew_is_accepted(emulator: Emulator, tmp_path: Path) -> None:
    vendor = batch_vendor(emulator, 2)
    state = {
        "bookmarks": {STREAM: {"replication_key": "upload_date", "replication_key_value": future(timedelta(minutes=2))}}
    }
    result = run_tap(ys_config(emulator, vendor, tmp_path), state=state)
    assert result.records(STREAM) == []
