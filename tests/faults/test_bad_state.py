"""A corrupt or foreign ``--state``: one clear error naming where the bad value is, before any request.

A state comes from outside (a target, an orchestrator, a hand edit). Not JSON, a list,
``bookmarks: []``, a stream state that is not an object: the SDK's merge raised a bare
``TypeError`` / ``AttributeError`` naming nothing. A Coresignal bookmark that is not a
timestamp, or lies in the future, bought a data request on every run (an empty one, or
everything); a pending request of the wrong shape was ignored and paid for again. Each is
now refused with :class:`~tap_hrdata.statecheck.StateError` naming the path, and the
Coresignal emulator's ``post_count`` stays 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.statecheck import CLOCK_SKEW, StateError
from tap_hrdata.tap import TapHrData
from tests.conftest import captured_stdout, run_tap
from tests.faults.conftest import RequestLog, setup_source

if TYPE_CHECKING:
    from pathlib import Path

    from tests.emulator.server import Emulator
    from tests.faults.conftest import Setup

FUTURE = (datetime.now(timezone.utc) + CLOCK_SKEW + timedelta(hours=1)).isoformat(timespec="seconds")
SOON = (datetime.now(timezone.utc) + CLOCK_SKEW / 2).isoformat(timespec="seconds")


@pytest.fixture
def coresignal(emulator: Emulator, tmp_path: Path) -> Setup:
    return setup_source(emulator, "coresignal", tmp_path)


def bulk_jobs(**stream_state: Any) -> dict[str, Any]:
    return {"bookmarks": {"bulk_jobs": stream_state}}


def pending(**fields: Any) -> dict[str, Any]:
    return bulk_jobs(pending_request={"id": "12345", "files_done": [], **fields})


def refused(setup: Setup, state: object) -> str:
    """The message of the StateError the run stops with; nothing was written or requested."""
    requests = RequestLog(setup.vendor)
    with captured_stdout() as raw:
        with pytest.raises(StateError) as error:
            TapHrData(config=setup.config, state=state).sync_all()  # a state from outside: any JSON value
        assert raw.getvalue() == b""  # not even a STATE
    assert requests.entries == []
    assert setup.vendor.post_count == 0
    return str(error.value)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ([{"bookmarks": {}}], "state: must be a JSON object, found list"),
        ({"bookmarks": []}, "state: bookmarks must be an object of streams, found []"),
        (
            {"bookmarks": {"bulk_jobs": "2025-01-01"}},
            "state: bookmarks.bulk_jobs must be an object, found '2025-01-01'",
        ),
        ({"bookmarks": {"bulk_jobs": {"partitions": {}}}}, "state: bookmarks.bulk_jobs.partitions must be a list"),
    ],
    ids=["list", "bookmarks-list", "stream-not-object", "partitions-not-list"],
)
def test_a_state_of_the_wrong_shape_is_refused_naming_where(coresignal: Setup, state: object, message: str) -> None:
    assert refused(coresignal, state).startswith(message)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            bulk_jobs(replication_key_value="garbage"),
            "bulk_jobs.replication_key_value must be a timestamp, found 'garbage'",
        ),
        (bulk_jobs(replication_key_value=42), "bulk_jobs.replication_key_value must be a timestamp, found 42"),
        (bulk_jobs(replication_key_value=FUTURE), "bulk_jobs.replication_key_value is in the future"),
        (bulk_jobs(collected_until="abc"), "bulk_jobs.collected_until must be a timestamp, found 'abc'"),
        (bulk_jobs(collected_until=FUTURE), "bulk_jobs.collected_until is in the future"),
        (bulk_jobs(pending_request="12345"), "bulk_jobs.pending_request must be an object"),
        (bulk_jobs(pending_request={"files_done": []}), "bulk_jobs.pending_request.id must be a data request id"),
        (pending(id=["12345"]), "bulk_jobs.pending_request.id must be a data request id, found ['12345']"),
        (pending(files_done="json/part-00000.json.gz"), "bulk_jobs.pending_request.files_done must be a list"),
        (pending(files_done=[1]), "bulk_jobs.pending_request.files_done must be a list of file names, found [1]"),
        (pending(current_file=3), "bulk_jobs.pending_request.current_file must be a string, found 3"),
        (pending(current_file_records="7"), "bulk_jobs.pending_request.current_file_records must be a record count"),
        (pending(current_file_records=-1), "bulk_jobs.pending_request.current_file_records must be a record count"),
        (pending(max_last_updated="soon"), "bulk_jobs.pending_request.max_last_updated must be a timestamp"),
        (pending(created_at=1), "bulk_jobs.pending_request.created_at must be a timestamp, found 1"),
        (pending(window="2025"), "bulk_jobs.pending_request.window must be an object"),
        (pending(window={"gte": "x", "lte": None}), "bulk_jobs.pending_request.window.gte must be a timestamp"),
    ],
)
def test_a_bad_bulk_jobs_state_is_refused_before_anything_is_paid(
    coresignal: Setup, state: dict[str, Any], message: str
) -> None:
    assert f"state: bookmarks.{message}" in refused(coresignal, state)


def test_a_bookmark_within_the_clock_skew_is_trusted(coresignal: Setup) -> None:
    """A vendor clock a little ahead is no error: a request is made from that bookmark."""
    result = run_tap(coresignal.config, state=bulk_jobs(replication_key="last_updated", replication_key_value=SOON))
    assert coresignal.vendor.post_count == 1
    assert result.last_state["bookmarks"]["bulk_jobs"]["replication_key_value"] == SOON


def test_a_pending_request_put_back_by_hand_is_accepted(coresignal: Setup) -> None:
    """The README's recovery, ``{"pending_request": {"id": "12345"}}``, and an id written as a number."""
    first = run_tap(coresignal.config)
    request_id = next(iter(coresignal.vendor.data_requests))
    resumed = run_tap(coresignal.config, state=bulk_jobs(pending_request={"id": request_id}))
    assert len(resumed.records("bulk_jobs")) == len(first.records("bulk_jobs")) > 0
    assert coresignal.vendor.post_count == 1
    TapHrData(config=coresignal.config, state=bulk_jobs(pending_request={"id": 12345}))  # a number is an id too


# ---------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"bookmarks": {"bulk_jobs": ', "is not JSON"),
        ("[]", "state: must be a JSON object, found list []"),
        (json.dumps({"bookmarks": []}), "state: bookmarks must be an object of streams"),
        (json.dumps(bulk_jobs(replication_key_value=FUTURE)), "state: bookmarks.bulk_jobs.replication_key_value"),
    ],
    ids=["not-json", "list", "bookmarks-list", "future-bookmark"],
)
def test_a_bad_state_file_is_one_line_naming_it_and_exit_code_1(
    coresignal: Setup, tmp_path: Path, text: str, message: str
) -> None:
    config_path, state_path = tmp_path / "config.json", tmp_path / "state.json"
    config_path.write_text(json.dumps(coresignal.config))
    state_path.write_text(text)
    requests = RequestLog(coresignal.vendor)
    command = [sys.executable, "-m", "tap_hrdata", "--config", str(config_path), "--state", str(state_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stdout == ""
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, done.stderr[-3000:]
    assert message in errors[0]
    assert f"state file {state_path}" in errors[0]
    assert requests.entries == []


def test_the_bookmarks_of_a_source_not_configured_are_not_checked(coresignal: Setup) -> None:
    """Another pipeline's leftovers (HrFlow is not configured here) stop nothing; their shape still must hold."""
    leftovers = {"hrflow_profiles": {"replication_key": "updated_at", "replication_key_value": "garbage"}}
    result = run_tap(coresignal.config, state={"bookmarks": leftovers})
    assert result.records("bulk_jobs")
    with pytest.raises(StateError, match=r"bookmarks\.hrflow_profiles must be an object"):
        TapHrData(config=coresignal.config, state={"bookmarks": {"hrflow_profiles": []}})
