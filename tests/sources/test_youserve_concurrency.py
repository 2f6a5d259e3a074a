"""YouServe with requests side by side: order, STATE, memory, tokens and throttling kept.

The emulator answers after random delays, so downloads finish out of order; the tap must
still emit records, and write STATE, exactly as a sequential run does.
"""

from __future__ import annotations

import random
import threading
import tracemalloc
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.sources.youserve import streams as youserve_streams
from tap_hrdata.sources.youserve.client import YouserveClient
from tap_hrdata.values import parse_timestamp
from tests.conftest import mount, run_tap, run_tap_partial
from tests.emulator.server import Fault
from tests.emulator.youserve import YouserveEmulator
from tests.sources.test_youserve import CHUNK, STREAM, listing_order, wrap, ys_config

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.conftest import SyncResult
    from tests.emulator.server import Emulator, Request, Response

WORKERS = 8


def many_files(count: int = 48, *, big: int = 3) -> YouserveEmulator:
    """Small files in groups sharing an upload date (listed in a hashed order), and a few multi-chunk ones."""
    vendor = YouserveEmulator(files=[], tie_order="hashed")
    start = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
    for number in range(count):
        moment = start + timedelta(minutes=number // 5)  # groups of five files per upload date
        size = 3 * CHUNK + 17 if number % (count // big) == 1 else 100 + number
        vendor.add_file(f"file_{number:03d}.xml", 7101, size, moment)
    return vendor


def random_delays(seed: int, most: float = 0.02) -> Callable[[Request, str], float]:
    """Every file answer waits a random while: downloads finish in another order than they started."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def delay(request: Request, kind: str) -> float:
        if kind not in {"file", "range"}:
            return 0.0
        with lock:
            return rng.uniform(0, most)

    return delay


def emitted(result: SyncResult) -> list[tuple[str, str]]:
    return [(r["file_id"], r["sha256"]) for r in result.records(STREAM)]


def answered_gets(vendor: YouserveEmulator) -> list[str]:
    """File ids of the whole-file GETs, in the order the vendor answered them."""
    return [e.path.rsplit("/", 1)[1] for e in vendor.exchanges if e.method == "GET" and e.kind == "file"]


def assert_state_follows_records(result: SyncResult, vendor: YouserveEmulator) -> int:
    """No STATE names a file (through its marker) whose record was not written before it."""
    written: set[str] = set()
    markers = 0
    for message in result.messages:
        if message["type"] == "RECORD":
            written.add(message["record"]["file_id"])
        elif message["type"] == "STATE":
            marker = message["value"].get("bookmarks", {}).get(STREAM, {}).get("files_at_bookmark")
            if marker:
                markers += 1
                date = parse_timestamp(marker["upload_date"])
                covered = {
                    e["fileId"]
                    for e in vendor.entries()
                    if parse_timestamp(e["uploadDate"]) == date and e["fileId"] <= marker["through_file_id"]
                }
                assert covered <= written
    return markers


def test_records_keep_the_sequential_order_while_downloads_finish_out_of_order(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(youserve_streams, "CHECKPOINT_SECONDS", 0.0)  # a STATE after every file
    vendor = mount(emulator, many_files())
    vendor.answer_delay = random_delays(seed=3)
    config = ys_config(emulator, vendor, tmp_path / "concurrent", page_size=7)
    assert config["youserve"].get("max_concurrent_requests") is None  # the default: 8
    concurrent = run_tap(config)

    expected = [e["fileId"] for e in listing_order(vendor)]
    assert [file_id for file_id, _ in emitted(concurrent)] == expected
    assert 1 < vendor.most_in_flight <= WORKERS  # side by side, never more than the workers
    # The vendor answered the downloads in another order than the records came out.
    small = [file_id for file_id in expected if file_id in set(answered_gets(vendor))]
    assert answered_gets(vendor) != small
    assert sorted(answered_gets(vendor)) == sorted(small)
    assert assert_state_follows_records(concurrent, vendor) >= len(expected)  # one after each file
    assert not list((tmp_path / "concurrent").rglob("*.part-*"))

    # The same listing one request at a time: the same records (and bytes), in the same order.
    vendor.most_in_flight = 0
    sequential = run_tap(ys_config(emulator, vendor, tmp_path / "sequential", page_size=7, max_concurrent_requests=1))
    assert emitted(sequential) == emitted(concurrent)
    assert vendor.most_in_flight == 1
    assert sequential.last_state == concurrent.last_state
    assert all(sha == vendor.file_sha256(file_id) for file_id, sha in emitted(concurrent))


def test_one_request_at_a_time_still_works(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, many_files(count=20, big=2))
    vendor.answer_delay = random_delays(seed=5, most=0.005)
    config = ys_config(emulator, vendor, tmp_path, page_size=3, max_concurrent_requests=1)
    first = run_tap(config)
    assert [file_id for file_id, _ in emitted(first)] == [e["fileId"] for e in listing_order(vendor)]
    assert vendor.most_in_flight == 1
    assert vendor.token_requests == 1
    assert run_tap(config, state=first.last_state).records(STREAM) == []


def test_a_failed_download_stops_the_run_in_its_place(emulator: Emulator, tmp_path: Path) -> None:
    """Files after the failing one may be downloaded already: none of them is emitted or in STATE."""
    vendor = mount(emulator, many_files(count=30, big=1))
    order = [e["fileId"] for e in listing_order(vendor)]
    failing = order[12]
    vendor.answer_delay = lambda request, kind: 0.1 if failing in request.path else 0.0
    vendor.faults.add(Fault(path_regex=failing, method="GET", status=400))
    config = ys_config(emulator, vendor, tmp_path, page_size=4)
    partial, error = run_tap_partial(config)
    assert failing in str(error)
    assert "HTTP 400" in str(error)
    assert [r["file_id"] for r in partial.records(STREAM)] == order[:12]
    assert set(answered_gets(vendor)) & set(order[13:])  # later files were fetched meanwhile ...
    marker = partial.last_state["bookmarks"][STREAM]["files_at_bookmark"]
    assert marker["through_file_id"] == order[11]  # ... but the state stops before the failure
    assert not list((tmp_path / "files").rglob("*.part-*"))

    vendor.answer_delay = None
    resumed = run_tap(config, state=partial.last_state)
    assert [r["file_id"] for r in resumed.records(STREAM)] == order[12:]


def test_a_listing_page_failing_comes_after_the_files_listed_before_it(emulator: Emulator, tmp_path: Path) -> None:
    """The next page is fetched ahead; its failure is still reported after the files before it."""
    vendor = mount(emulator, many_files(count=30, big=1))
    order = [e["fileId"] for e in listing_order(vendor)]
    vendor.faults.add(Fault(path_regex=r"/files$", method="GET", status=400, query_regex="pageIndex=2&"))
    partial, error = run_tap_partial(ys_config(emulator, vendor, tmp_path, page_size=10))
    assert "HTTP 400" in str(error)
    # Pages of ten, groups of five: the group at the end of page 1 is complete only once page 2
    # is read, so the three groups before it come out, as a sequential run has them.
    assert [r["file_id"] for r in partial.records(STREAM)] == order[:15]
    assert partial.last_state["bookmarks"][STREAM]["files_at_bookmark"]["through_file_id"] == order[14]


def test_running_downloads_stop_between_chunks_when_the_run_fails(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, YouserveEmulator(files=[]))
    failing = vendor.add_file("first.xml", 7101, 10, "2026-03-01T08:00:00.000Z")["fileId"]
    big = vendor.add_file("big.bin", 7101, 200 * CHUNK, "2026-03-01T09:00:00.000Z")["fileId"]
    vendor.answer_delay = lambda request, kind: 0.1 if failing in request.path else 0.01 if kind == "range" else 0.0
    vendor.faults.add(Fault(path_regex=failing, method="GET", status=400))
    partial, error = run_tap_partial(ys_config(emulator, vendor, tmp_path))
    assert failing in str(error)
    assert partial.records(STREAM) == []
    chunks = [first for file_id, first, _ in vendor.range_requests if file_id == big]
    assert 0 < len(chunks) < 200  # it was under way, and stopped long before its end
    assert not list((tmp_path / "files").rglob("*.part-*"))  # its part was dropped
    assert not list((tmp_path / "files").rglob(big))


def test_memory_holds_at_most_one_chunk_per_worker(emulator: Emulator, tmp_path: Path) -> None:
    """Files far bigger than chunk x workers: the peak stays about one chunk per worker, not a file each."""
    chunk = 1024 * 1024
    size = 24 * chunk  # each file alone is more than all the workers' chunks together
    vendor = mount(emulator, YouserveEmulator(files=[]))
    vendor.body_piece_bytes = 64 * 1024  # the emulator (in this process too) generates small pieces
    for number in range(WORKERS):
        vendor.add_file(f"big_{number}.bin", 7101, size + number, "2026-03-01T08:00:00.000Z")
    vendor.answer_delay = random_delays(seed=11, most=0.005)
    config = ys_config(emulator, vendor, tmp_path, chunk_size_bytes=chunk)
    tracemalloc.start()
    try:
        result = run_tap(config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    records = result.records(STREAM)
    assert [r["sha256"] for r in records] == [vendor.file_sha256(e["fileId"]) for e in listing_order(vendor)]
    assert vendor.most_in_flight > 1
    # One chunk per worker (8 MiB), plus the emulator's pieces and the run's own objects; two
    # chunks per worker, or one file held whole, would not fit.
    print(f"peak {peak / chunk:.1f} chunks ({WORKERS} files of {size // chunk} chunks, {WORKERS} workers)")
    assert peak < (WORKERS + 3) * chunk, f"peak {peak / chunk:.1f} chunks"


def test_one_token_for_the_run_and_one_renewal_for_all_workers(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, many_files(count=40, big=1))
    vendor.answer_delay = lambda request, kind: 0.03 if kind == "file" else 0.0
    config = ys_config(emulator, vendor, tmp_path / "first")
    assert len(run_tap(config).records(STREAM)) == 40
    assert vendor.token_requests == 1
    assert vendor.most_in_flight > 1

    # The token expires while several downloads are in flight: each is refused, one renewal serves all.
    seen = 0
    lock = threading.Lock()

    def hook(request: Request, handle: Callable[[Request], Response]) -> Response:
        nonlocal seen
        if request.method == "GET" and "/files/" in request.path:
            with lock:
                seen += 1
                if seen == 12:
                    vendor.expire_all_tokens()
        return handle(request)

    wrap(vendor, hook)
    vendor.exchanges.clear()
    second = run_tap(ys_config(emulator, vendor, tmp_path / "second"))
    assert len(second.records(STREAM)) == 40
    refused = [e for e in vendor.exchanges if e.status == 401]
    assert len(refused) > 1  # several workers met the expired token ...
    assert vendor.token_requests == 1 + 1 + 1  # ... the first run's, this run's, and one renewal


def test_a_spike_arrest_burst_does_not_multiply_429s(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a 429 every worker goes slowly: the 429s are those of the first burst, never more.

    The gateway allows 100 calls a second, in bursts of 10; eight workers go faster, so 429s
    come (at most one per call in flight). The tap waits (here 1 s, a minute in production),
    then spaces the calls of all its workers together (here 50 a second): no 429 after that.
    """
    pause = 2.0
    monkeypatch.setattr(YouserveClient, "spike_arrest_seconds", pause)
    monkeypatch.setattr(YouserveClient, "calm_interval_seconds", 0.02)
    vendor = mount(emulator, YouserveEmulator(files=[], spike_arrest_per_minute=6000, spike_arrest_burst=10))
    for number in range(60):
        vendor.add_file(f"file_{number:03d}.xml", 7101, 100 + number)
    result = run_tap(ys_config(emulator, vendor, tmp_path))
    assert len(result.records(STREAM)) == 60

    refused = [e for e in vendor.exchanges if e.status == 429]
    assert refused, "the gateway never refused a call: nothing was tested"
    assert len(refused) <= WORKERS  # at most the calls already in flight when the first 429 came
    first = refused[0].arrived
    assert all(e.arrived < first + pause for e in refused)  # none once the calls were spaced


def test_a_429_holds_every_worker_for_its_wait(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 without Retry-After to one call (the next listing page, fetched ahead) holds all of them.

    When it comes, eight downloads of the first page are in flight and more are waiting: those
    waiting are sent only after the wait, not by the workers that were not refused.
    """
    pause = 2.0
    monkeypatch.setattr(YouserveClient, "spike_arrest_seconds", pause)
    monkeypatch.setattr(YouserveClient, "calm_interval_seconds", 0.1)
    vendor = mount(emulator, many_files(count=24, big=1))
    vendor.answer_delay = lambda request, kind: 0.03 if kind == "file" else 0.0
    vendor.faults.add(Fault(path_regex=r"/files$", method="GET", status=429, query_regex="pageIndex=1&"))
    result = run_tap(ys_config(emulator, vendor, tmp_path, page_size=12))
    assert [r["file_id"] for r in result.records(STREAM)] == [e["fileId"] for e in listing_order(vendor)]

    refused = [e for e in vendor.exchanges if e.status == 429]
    assert len(refused) == 1
    first = refused[0].arrived
    # Calls that arrived in the wait, leaving 0.6 s for those already on their way (a loaded
    # machine): a wait of the refused worker alone would let the other workers send the first
    # page's last files.
    during = [e for e in vendor.exchanges if first + 0.6 < e.arrived < first + pause]
    assert during == []
    assert any(e.arrived >= first + pause for e in vendor.exchanges)


def test_deletions_go_side_by_side_and_only_confirmed_files(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, many_files(count=30, big=1))
    config = ys_config(emulator, vendor, tmp_path)
    first = run_tap(config)
    confirmed = sorted(r["file_id"] for r in first.records(STREAM))
    later = vendor.add_file("later.xml", 7101, 10, "2026-04-01T00:00:00.000Z")["fileId"]
    vendor.answer_delay = lambda request, kind: 0.02 if request.method == "DELETE" else 0.0
    vendor.most_in_flight = 0
    second = run_tap(config_with(config, delete_after_download=True), first.last_state)
    assert sorted(vendor.deleted) == confirmed
    assert later not in vendor.deleted
    assert [r["file_id"] for r in second.records(STREAM)] == [later]
    assert vendor.most_in_flight > 1


def config_with(config: dict[str, Any], **youserve: Any) -> dict[str, Any]:
    return {**config, "youserve": {**config["youserve"], **youserve}}
