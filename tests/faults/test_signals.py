"""SIGTERM and SIGINT: an orchestrator stopping the tap, or a person pressing Ctrl-C.

What a stopped run must leave: a non-zero exit code (143 for SIGTERM, 130 for SIGINT), so
the run is never recorded as a success; a last STATE that names nothing the run did not
write, so the next run loses no record; no STATE at all before the run wrote its first
(a STATE written then would be an empty one, and a target would commit it); no partial
file at a storage key; and a paid Coresignal request whose id is in that last STATE.

Some cases run in-process, the signal sent to this process at an exact point of the sync
(the tap's handler runs in the main thread); the others run ``python -m tap_hrdata`` as an
orchestrator does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.sources.coresignal.streams import BulkJobsStream
from tap_hrdata.tap import TapHrData
from tests.conftest import SyncResult, captured_stdout, run_tap
from tests.emulator.server import Fault
from tests.faults.conftest import MAIN_ENDPOINT, RequestLog, assert_union_complete, setup_source

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.emulator.server import Emulator, Request, Response
    from tests.faults.conftest import Setup

EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_signal_handlers() -> Iterator[None]:
    """The tap installs its handlers in this process (main thread): put pytest's back after each test."""
    saved = {number: signal.getsignal(number) for number in EXIT_CODES}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def interrupted_run(config: dict[str, Any], state: dict[str, Any] | None = None) -> tuple[SyncResult, int]:
    """An in-process sync expected to stop on a signal: what it wrote and its exit code."""
    result = SyncResult()
    with captured_stdout() as raw:
        try:
            TapHrData(config=config, state=state or {}).sync_all()
        except SystemExit as stop:
            code = stop.code
        else:
            pytest.fail("the sync was expected to stop on the signal")
        finally:
            result.messages = [json.loads(line) for line in raw.getvalue().splitlines() if line.strip()]
    assert isinstance(code, int), code
    return result, code


# ---------------------------------------------------------------------------- in-process, exact points


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=lambda n: signal.Signals(n).name)
def test_a_signal_while_a_job_is_on_its_way_to_the_target_loses_none(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: signal.Signals
) -> None:
    """The signal lands after ``bulk_jobs`` produced a record and before it is written (here,
    in ``post_process``): the last STATE must not count that record, and the exit code says
    the run was stopped."""
    setup = setup_source(emulator, "coresignal", tmp_path, jobs=2000)  # about 130 matching jobs a file
    seen = 0
    post_process = BulkJobsStream.post_process

    def stop_at_the_250th(self: BulkJobsStream, row: dict[str, Any], context: Any = None) -> dict[str, Any] | None:
        nonlocal seen
        seen += 1
        if seen == 250:  # inside the second file, its first records already written
            os.kill(os.getpid(), number)
        return post_process(self, row, context)

    monkeypatch.setattr(BulkJobsStream, "post_process", stop_at_the_250th)
    stopped, code = interrupted_run(setup.config)
    monkeypatch.undo()
    assert len(stopped.records("bulk_jobs")) == 249  # the 250th was never written
    assert stopped.messages[-1]["type"] == "STATE"
    assert stopped.last_state["bookmarks"]["bulk_jobs"]["pending_request"]["current_file_records"] > 0

    resumed = run_tap(setup.config, state=stopped.last_state)
    assert_union_complete([stopped, resumed], setup)
    expected = setup.vendor.jobs_for_request(next(iter(setup.vendor.data_requests)))
    assert resumed.records("bulk_jobs")[0]["raw"] == expected[249]  # resumed at the one not written
    assert setup.vendor.post_count == 1
    assert code == EXIT_CODES[number]


def test_a_signal_before_the_run_wrote_a_state_writes_none(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while it starts (before its state is even loaded): no STATE, above all not an
    empty one, which a target would commit in place of the bookmarks the run was given."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    state = {"bookmarks": {"hrflow_profiles": {"replication_key": "updated_at", "replication_key_value": "2025-01-01"}}}
    setup_mapper = TapHrData.setup_mapper

    def stopped_while_starting(self: TapHrData) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        setup_mapper(self)

    monkeypatch.setattr(TapHrData, "setup_mapper", stopped_while_starting)
    requests = RequestLog(setup.vendor)
    stopped, code = interrupted_run(setup.config, state=state)
    assert stopped.states == []
    assert requests.entries == []
    assert code == EXIT_CODES[signal.SIGTERM]


def test_a_signal_while_coresignal_answers_the_paid_request_keeps_its_id(emulator: Emulator, tmp_path: Path) -> None:
    """SIGTERM arrives while the paid POST is on the wire: the tap stops only once the request
    is journalled and its id is in a STATE, so the next run resumes it instead of paying again
    (or meeting Coresignal's 409 for an identical request)."""
    setup = setup_source(emulator, "coresignal", tmp_path)
    main = threading.main_thread().ident
    assert main is not None
    handle = setup.vendor.handle

    def signal_then_answer(request: Request) -> Response:
        if request.method == "POST":
            signal.pthread_kill(main, signal.SIGTERM)  # the tap's thread waits for this answer
            time.sleep(0.2)
        return handle(request)

    setup.vendor.handle = signal_then_answer
    stopped, code = interrupted_run(setup.config)
    setup.vendor.handle = handle
    wait_for(lambda: setup.vendor.post_count == 1)  # paid, whether or not the tap waited for the answer
    request_id = next(iter(setup.vendor.data_requests))
    pending = stopped.last_state.get("bookmarks", {}).get("bulk_jobs", {}).get("pending_request")
    assert pending is not None, "the last STATE does not name the paid request"
    assert pending["id"] == request_id

    resumed = run_tap(setup.config, state=stopped.last_state)
    assert setup.vendor.post_count == 1
    assert_union_complete([stopped, resumed], setup)
    assert code == EXIT_CODES[signal.SIGTERM]


# ---------------------------------------------------------------------------- the tap's own process


def tap_command(config_path: Path, state_path: Path | None = None) -> list[str]:
    command = [sys.executable, "-m", "tap_hrdata", "--config", str(config_path)]
    return command + (["--state", str(state_path)] if state_path is not None else [])


def write_config(setup: Setup, tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(setup.config))
    return path


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def messages_of(raw: bytes) -> list[dict[str, Any]]:
    """Every line of the output, each a whole Singer message (a cut line fails here)."""
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=lambda n: signal.Signals(n).name)
def test_a_stopped_process_exits_non_zero_after_its_last_state(
    emulator: Emulator, tmp_path: Path, number: signal.Signals
) -> None:
    """The process is stopped while a Coresignal file downloads (the server stalls mid-body):
    exit code 128 + the signal, a STATE as the last message, and a next run that finishes."""
    setup = setup_source(emulator, "coresignal", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=r"/files/json/part-00001-", stall_after=3000, stall_seconds=3))
    out, err = tmp_path / "out.jsonl", tmp_path / "err.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(tap_command(write_config(setup, tmp_path)), stdout=stdout, stderr=stderr)
        try:
            wait_for(lambda: setup.vendor.faults.fired["transport"] > 0)
            time.sleep(0.3)  # the tap now waits for the rest of the stalled body
            process.send_signal(number)
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    messages = messages_of(out.read_bytes())
    log = err.read_text()
    assert code == EXIT_CODES[number], log[-2000:]
    assert messages[-1]["type"] == "STATE"
    assert signal.Signals(number).name in log
    assert "Traceback" not in log
    stopped = SyncResult(messages)
    assert stopped.records("bulk_jobs")  # it was stopped mid-stream, not before
    resumed = run_tap(setup.config, state=stopped.last_state)
    assert_union_complete([stopped, resumed], setup)
    assert setup.vendor.post_count == 1


def test_a_signal_while_the_target_reads_nothing_waits_for_the_whole_message(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A slow target leaves the tap blocked writing a message to a full pipe. The signal then
    takes effect once that message is whole: every line parses, and a STATE ends the output."""
    setup = setup_source(emulator, "coresignal", tmp_path, jobs=2000)
    err = tmp_path / "err.log"
    with err.open("wb") as stderr:
        process = subprocess.Popen(tap_command(write_config(setup, tmp_path)), stdout=subprocess.PIPE, stderr=stderr)
        try:
            wait_for(lambda: sum(setup.vendor.downloads.values()) > 0)
            time.sleep(1.0)  # nobody reads: the pipe (64 KiB) is full long before this
            process.send_signal(signal.SIGTERM)
            raw, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    log = err.read_text()
    messages = messages_of(raw)
    assert messages[-1]["type"] == "STATE"
    assert "Traceback" not in log, log[-3000:]
    assert process.returncode == EXIT_CODES[signal.SIGTERM], log[-2000:]
    stopped = SyncResult(messages)
    resumed = run_tap(setup.config, state=stopped.last_state)
    assert_union_complete([stopped, resumed], setup)


def test_a_signal_in_the_middle_of_a_file_leaves_no_partial_file(emulator: Emulator, tmp_path: Path) -> None:
    """SIGTERM while a YouServe file is half stored: its temporary file is removed, nothing is
    published at its key, and the next run stores it whole."""
    setup = setup_source(emulator, "youserve", tmp_path)
    big = setup.vendor.add_file("payroll.csv", 8000, 1_000_000)
    chunks = 0
    handle = setup.vendor.handle
    path, method = MAIN_ENDPOINT["youserve"]

    def stall_the_fourth_chunk(request: Request) -> Response:
        nonlocal chunks
        ours = request.method == method and re.search(path, request.path) and big["fileId"] in request.path
        if ours and request.headers.get("Range") is not None:
            chunks += 1
            if chunks == 4:
                time.sleep(3)
        return handle(request)

    setup.vendor.handle = stall_the_fourth_chunk
    key_folder = setup.root / "youserve"

    def parts() -> list[Path]:
        return [p for p in key_folder.rglob("*") if ".part-" in p.name] if key_folder.exists() else []

    out, err = tmp_path / "out.jsonl", tmp_path / "err.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(tap_command(write_config(setup, tmp_path)), stdout=stdout, stderr=stderr)
        try:
            wait_for(lambda: chunks >= 4 and any(p.stat().st_size > 0 for p in parts()))
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    setup.vendor.handle = handle
    assert code == EXIT_CODES[signal.SIGTERM], err.read_text()[-2000:]
    assert parts() == []
    stored = [p for p in key_folder.rglob("*") if p.is_file()]
    assert not any(p.name == big["fileId"] for p in stored)
    stopped = SyncResult(messages_of(out.read_bytes()))
    assert big["fileId"] not in {r["file_id"] for r in stopped.records("delivered_files")}
    resumed = run_tap(setup.config, state=stopped.last_state)
    assert_union_complete([stopped, resumed], setup)
    record = next(r for r in resumed.records("delivered_files") if r["file_id"] == big["fileId"])
    assert record["sha256"] == setup.vendor.file_sha256(big["fileId"])


def test_a_signal_while_workers_wait_on_a_stalled_server_exits_at_once(emulator: Emulator, tmp_path: Path) -> None:
    """8 workers download side by side; one waits on a server stalled 30 s: SIGTERM still ends the run now.

    The stopped batch cuts the reads its workers are blocked in, instead of waiting out the
    stall (or the first-byte timeout) before exiting.
    """
    setup = setup_source(emulator, "youserve", tmp_path)
    setup.config["youserve"]["max_concurrent_requests"] = 8
    big = setup.vendor.add_file("payroll.csv", 8000, 1_000_000)
    chunks = 0
    handle = setup.vendor.handle

    def stall(request: Any) -> Any:
        nonlocal chunks
        if big["fileId"] in request.path and request.headers.get("Range") is not None:
            chunks += 1
            if chunks == 4:
                time.sleep(30)
        return handle(request)

    setup.vendor.handle = stall
    process = subprocess.Popen(
        tap_command(write_config(setup, tmp_path)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: chunks >= 4)
        time.sleep(0.3)  # the worker is blocked waiting for the stalled answer
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        waited = time.monotonic() - signalled
    finally:
        process.kill()
    assert code == 143
    assert waited < 10  # not the 30 s stall
