"""Crash and resume: the tap is killed (SIGKILL) or stopped (SIGTERM) at random points of a sync, many times over.

Each run is a real ``python -m tap_hrdata`` process against the emulator (a thread of this
test process, so its data outlives the runs). A run is killed after a random delay, and the
next run gets the last complete STATE line the killed one wrote, as a target that committed
it would hand it back. After some kills one run goes to the end unkilled. Then:

- every record of every stream of the four sources was emitted at least once over the runs,
  and nothing else (a record emitted again has the same key: an upsert downstream);
- every stored file (Talentsoft attachments, YouServe files) has the vendor's bytes, and
  nothing is written outside the storage root;
- Coresignal: no run that started with a pending data request paid for another one, no
  run paid for more than one, and no run paid while the journal of paid requests held
  one whose records its state did not cover: a killed run's lost state is made up for by
  the journal, not by paying again;
- states lost: after some kills the next run gets the state the killed one started with,
  as Meltano keeps no state of a failed run;
- YouServe (``delete_after_download``): a run deleted only files whose records earlier runs
  emitted and whose STATE it was handed at start (confirmed).

The SIGTERM variant stops runs as an orchestrator does, at a random record of a random
stream (bulk_jobs one time in three) or after a random delay: every stopped run must exit
non-zero (143; -15 when it died before the tap installed its handler), write only whole
lines, and leave a last STATE from which nothing is missing, even with the SDK's default
checkpoints (10000 records), where that STATE is the only one written mid-stream; no paid
request may be lost (the tap finishes journalling it before it stops).

The loop is bounded by time: about 15 s per variant in the everyday suite, and a long loop marked
``long`` (``TAP_HRDATA_CRASH_LOOP_SECONDS``, default 80 s) that CI runs (``--long`` or
``TAP_HRDATA_LONG_TESTS=1``); ``TAP_HRDATA_CRASH_LOOP_RUNS`` (default 200 runs) caps both.
``TAP_HRDATA_CRASH_LOOP_SEED`` fixes the seeds (default 20261126); each run's seed and kill
delay are printed in a failure message.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.storage import FileStorage
from tests.conftest import mount
from tests.emulator.__main__ import tap_config
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator
from tests.faults.conftest import KEYS, STREAMS, difference, expected_keys

if TYPE_CHECKING:
    from tests.emulator.server import Emulator, Request, Response

QUICK_LOOP_SECONDS = 15.0
LONG_LOOP_SECONDS = float(os.environ.get("TAP_HRDATA_CRASH_LOOP_SECONDS", "80"))
MAX_RUNS = int(os.environ.get("TAP_HRDATA_CRASH_LOOP_RUNS", "200"))
BASE_SEED = int(os.environ.get("TAP_HRDATA_CRASH_LOOP_SEED", "20261126"))
KILLS_PER_ROUND = 7
#: Network latency the emulator adds to every answer, so a sync lasts long enough (2-4 s)
#: for kills to land between requests as often as inside them.
LATENCY_SECONDS = 0.02
LOST_POST = "identical data request is already in progress"
#: Share of killed runs whose state is lost: the next run gets the state the killed one
#: started with, as Meltano stores no state for a failed run (the journal of paid
#: Coresignal requests must then stand in for it).
LOST_STATE_SHARE = float(os.environ.get("TAP_HRDATA_CRASH_LOOP_LOST_STATES", "0.3"))
REPO = Path(__file__).resolve().parents[2]
#: Every stream, in the order a run syncs them: where a SIGTERM may be aimed.
ALL_STREAMS = [stream for streams in STREAMS.values() for stream in streams]


@dataclass
class Run:
    """One process of the tap: how it ended and what it wrote."""

    seed: int
    delay: float | None  # kill after this many seconds; None: never killed
    started_state: dict[str, Any]
    #: SIGTERM only: stop at this record of this stream instead, when it comes before ``delay``.
    target: tuple[str, int] | None = None
    killed: bool = False
    returncode: int | None = None
    duration: float = 0.0
    messages: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    posts: int = 0  # Coresignal data requests paid during the run
    journalled: int = 0  # journalled requests whose records the starting state does not cover
    deleted: list[str] = field(default_factory=list)  # YouServe files deleted during the run

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    @property
    def last_state(self) -> dict[str, Any] | None:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None

    def active_stream(self) -> str:
        """The stream the process was writing when it ended ("startup" before any)."""
        streams = [m["stream"] for m in self.messages if m["type"] in {"RECORD", "SCHEMA"}]
        return streams[-1] if streams else "startup"

    def describe(self) -> str:
        how = f"killed after {self.delay:.3f}s" if self.killed else f"exit {self.returncode}"
        if self.killed and self.target is not None:
            how += f" (at record {self.target[1]} of {self.target[0]} or that delay; exit {self.returncode})"
        return (
            f"seed {self.seed}: {how} ({self.duration:.2f}s, {len(self.messages)} messages, {self.posts} paid, "
            f"{self.journalled} uncommitted journal entries at start)"
        )


def parse_output(raw: bytes, *, whole: bool = False) -> list[dict[str, Any]]:
    """Singer messages, one a line; only the last line may be cut (the process was killed), none when ``whole``."""
    lines = raw.split(b"\n")
    messages = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            messages.append(json.loads(line))
        except ValueError:
            assert not whole, f"a stopped run cut line {number + 1} of {len(lines)}: {line[:200]!r}"
            assert number == len(lines) - 1, f"line {number + 1} of {len(lines)} is not a message: {line[:200]!r}"
    return messages


def wait_for_record(process: subprocess.Popen[bytes], out_path: Path, target: tuple[str, int], seconds: float) -> None:
    """Return once the process wrote record ``target[1]`` of stream ``target[0]``, or a record of a
    stream that syncs after it (the target had fewer this run), or ended, or ``seconds`` passed."""
    stream, wanted = target
    later = {name.encode() for name in ALL_STREAMS[ALL_STREAMS.index(stream) + 1 :]}
    prefix = b'{"type":"RECORD","stream":"'
    deadline = time.monotonic() + seconds
    seen, rest = 0, b""
    with out_path.open("rb") as out:
        while process.poll() is None and time.monotonic() < deadline:
            chunk = out.read()
            if not chunk:
                time.sleep(0.002)
                continue
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.startswith(prefix):
                    name = line[len(prefix) : line.index(b'"', len(prefix))]
                    seen += name == stream.encode()
                    if seen >= wanted or name in later:
                        return


class Rig:
    """The four vendors of one round, the tap's config, and the runs so far."""

    def __init__(self, emulator: Emulator, workdir: Path, seed: int, *, state_every: int | None = None) -> None:
        self.workdir = workdir
        self.state_every = state_every
        workdir.mkdir(parents=True)
        self.talentsoft = TalentsoftEmulator(vacancies=50, candidates=60, attachments_per_candidate=(1, 3), seed=seed)
        self.hrflow = HrflowEmulator(sources={"src-a": 70, "src-b": 30}, boards={"board-a": 50}, seed=seed)
        self.youserve = YouserveEmulator(seed=seed)
        for number in range(8):  # more files, some sharing an upload date, one several chunks long
            self.youserve.add_file(f"extra_{number}.csv", (7101, 8000)[number % 2], 500 + 4000 * number)
            if number % 3 == 0:
                self.youserve.add_file(f"twin_{number}.csv", 8000, 700, upload_date=self.latest_upload())
        self.coresignal = CoresignalEmulator(jobs=3000, polls_until_ready=1, seed=seed)
        self.vendors = (self.talentsoft, self.hrflow, self.youserve, self.coresignal)
        for vendor in self.vendors:
            mount(emulator, vendor)
            slow_down(vendor)
        self.root = workdir / "files"
        config = tap_config(emulator, self.vendors, str(self.root))
        config["talentsoft"]["page_size"] = 5
        config["hrflow"]["page_size"] = 5
        del config["youserve"]["business_types"]  # all types, one bookmark
        config["youserve"].update(page_size=5, chunk_size_bytes=32 * 1024, delete_after_download=True)
        config["coresignal"]["poll_interval_seconds"] = 0.3
        self.config_path = workdir / "config.json"
        self.config_path.write_text(json.dumps(config))
        self.files = {e["fileId"]: e for e in self.youserve.entries()}  # before any deletion
        self.runs: list[Run] = []

    def latest_upload(self) -> str:
        return max(e["uploadDate"] for e in self.youserve.entries())

    def run(
        self,
        state: dict[str, Any],
        seed: int,
        delay: float | None,
        *,
        stop: signal.Signals = signal.SIGKILL,
        target: tuple[str, int] | None = None,
    ) -> Run:
        """One tap process, sent ``stop`` after ``delay`` seconds (or at ``target``) unless it ends first."""
        run = Run(seed=seed, delay=delay, started_state=state, target=target)
        run.journalled = sum(uncommitted(entry, state) for entry in journal_entries(self.root))
        number = len(self.runs)
        state_path = self.workdir / f"state-{number}.json"
        state_path.write_text(json.dumps(state))
        out_path, err_path = self.workdir / f"out-{number}.jsonl", self.workdir / f"err-{number}.log"
        posts, deleted = self.coresignal.post_count, len(self.youserve.deleted)
        module, env = "tap_hrdata", dict(os.environ)
        if self.state_every:  # the same CLI, checkpointing every few records (tests/faults/launch.py)
            module = "tests.faults.launch"
            env.update(TAP_HRDATA_TEST_STATE_EVERY=str(self.state_every), PYTHONPATH=str(REPO))
        command = [sys.executable, "-m", module, "--config", str(self.config_path), "--state", str(state_path)]
        started = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, cwd=self.workdir, env=env)
            try:
                if target is not None and delay is not None:
                    wait_for_record(process, out_path, target, delay)
                    delay = 0.0
                run.returncode = process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(stop)
                run.returncode = process.wait(timeout=None if stop == signal.SIGKILL else 60)
                run.killed = True
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        run.duration = time.monotonic() - started
        time.sleep(0.1)  # a request the process sent just before dying is answered by now
        run.stderr = err_path.read_text(errors="replace")
        run.messages = parse_output(out_path.read_bytes(), whole=stop != signal.SIGKILL)
        if run.killed and stop != signal.SIGKILL:
            check_stopped(run, stop)
        run.posts = self.coresignal.post_count - posts
        run.deleted = self.youserve.deleted[deleted:]
        self.runs.append(run)
        return run

    def history(self) -> str:
        return "\n".join(f"  run {n}: {run.describe()}" for n, run in enumerate(self.runs))


#: What the tap logs when it acts on SIGTERM (and what the SDK logged before it exited 0).
STOP_LINES = ("received: the run stops", "Gracefully shutting down")


def check_stopped(run: Run, stop: signal.Signals) -> None:
    """A run sent ``stop`` exited non-zero on it; or it had finished (exit 0 and no stop logged)."""
    acted = any(line in run.stderr for line in STOP_LINES)
    if run.returncode == 0 and not acted:
        run.killed = False  # it finished before the signal came
        return
    assert run.returncode in {128 + stop, -stop}, (
        f"a run stopped by {stop.name} exited {run.returncode}: {run.describe()}\n{run.stderr[-2000:]}"
    )


def slow_down(vendor: Any) -> None:
    """Answer every request of ``vendor`` after ``LATENCY_SECONDS``."""
    original = vendor.handle

    def handle(request: Request) -> Response:
        time.sleep(LATENCY_SECONDS)
        return original(request)

    vendor.handle = handle


def pending_request(state: dict[str, Any]) -> dict[str, Any] | None:
    return state.get("bookmarks", {}).get("bulk_jobs", {}).get("pending_request")


def upload_time(text: str) -> datetime:
    """An upload date or bookmark as UTC (``...Z`` and ``...+00:00`` forms)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def confirmed_by(state: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether ``state`` covers the file: uploaded before its bookmark, or named at it."""
    bookmark = state.get("bookmarks", {}).get("delivered_files", {})
    value = bookmark.get("replication_key_value")
    if not value:
        return False
    uploaded, mark = upload_time(entry["uploadDate"]), upload_time(value)
    if uploaded < mark:
        return True
    named = bookmark.get("files_at_bookmark") or {}
    same_date = named.get("upload_date") and upload_time(named["upload_date"]) == mark
    # Named in the list, or (the compact form) at or before the group's sorted position.
    through = named.get("through_file_id")
    in_group = entry["fileId"] in named.get("file_ids", []) or (through is not None and entry["fileId"] <= through)
    return uploaded == mark and bool(same_date) and in_group


def check_run(rig: Rig, run: Run, emitted_before: set[str]) -> None:
    """What one run may do, whenever it was killed: pay at most once, delete only confirmed files."""
    where = f"{run.describe()}\n{rig.history()}"
    assert run.posts <= 1, f"a run paid {run.posts} data requests: {where}"
    if pending_request(run.started_state) is not None:
        assert run.posts == 0, f"a run with a pending data request in its state paid again: {where}"
    if run.journalled:
        assert run.posts == 0, f"a run paid though the journal held a request its state did not cover: {where}"
    for file_id in run.deleted:
        assert file_id in emitted_before, f"deleted {file_id} before any run emitted it: {where}"
        assert confirmed_by(run.started_state, rig.files[file_id]), f"deleted unconfirmed {file_id}: {where}"


def journal_entries(root: Path) -> list[dict[str, Any]]:
    """The journal of paid Coresignal requests under a storage root."""
    return [json.loads(p.read_text()) for p in (root / "coresignal" / "requests").glob("*.json")]


def uncommitted(entry: dict[str, Any], state: dict[str, Any]) -> bool:
    """Whether a journalled request's records may not have reached the target of ``state``."""
    if not entry.get("done"):
        return True
    value = state.get("bookmarks", {}).get("bulk_jobs", {}).get("replication_key_value")
    return not value or upload_time(entry["bookmark"]) > upload_time(value)


def check_round(rig: Rig) -> None:
    """The union of the round's runs is the vendors' data; stored bytes are the vendors' bytes."""
    history = rig.history()
    expected = {
        **expected_keys("talentsoft", rig.talentsoft),
        **expected_keys("hrflow", rig.hrflow),
        "delivered_files": list(rig.files),
        **expected_keys("coresignal", rig.coresignal),
    }
    assert expected.keys() == {stream for streams in STREAMS.values() for stream in streams}
    for stream, keys in expected.items():
        emitted = [KEYS[stream](r) for run in rig.runs for r in run.records(stream)]
        assert set(map(repr, emitted)) == set(map(repr, keys)), f"{stream}: {difference(emitted, keys)}\n{history}"
    # the same bytes whenever a file was emitted, and those bytes in storage
    for run in rig.runs:
        for record in run.records("attachments"):
            sha = rig.talentsoft.attachment_sha256(record["candidate_id"], record["attachment_id"])
            assert record["sha256"] == sha, f"attachment {record['attachment_id']}: {history}"
        for record in run.records("delivered_files"):
            assert record["sha256"] == rig.youserve.file_sha256(record["file_id"]), f"{record['file_id']}: {history}"
    journal = rig.root / "coresignal" / "requests"
    entries = journal_entries(rig.root)
    for entry in entries:  # what the final run leaves: requests fully emitted, waiting for a covering state
        assert entry.get("done") is True, f"journal entry left open: {entry}\n{history}"
        assert entry["id"] in rig.coresignal.data_requests, f"journal entry of an unknown request: {entry}"
    stored = {p for p in rig.root.rglob("*") if p.is_file() and not p.is_relative_to(journal)}
    parts = [p for p in stored if ".part-" in p.name]
    assert not parts, f"temporary files of killed writes are left: {parts[:3]}\n{history}"
    wanted = {
        rig.root / "talentsoft" / "attachments" / cand / att: rig.talentsoft.attachment_sha256(cand, att)
        for cand, att in expected["attachments"]  # type: ignore[misc]
    }
    wanted.update(
        {
            rig.root
            / "youserve"
            / e["tenantId"]
            / str(e["businessType"]["id"])
            / e["fileId"]: rig.youserve.file_sha256(e["fileId"])
            for e in rig.files.values()
        }
    )
    assert stored == set(wanted), f"stored files differ: {sorted(map(str, stored ^ set(wanted)))[:5]}"
    for path, sha in wanted.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, f"{path} holds other bytes"
    leftovers = [p for p in rig.workdir.rglob("*") if p.is_file() and not p.is_relative_to(rig.root)]
    assert all(p.parent == rig.workdir for p in leftovers), f"written outside the storage root: {leftovers}"


def test_killed_at_random_points_the_next_runs_finish_the_job(emulator: Emulator, tmp_path: Path) -> None:
    crash_loop(emulator, tmp_path, QUICK_LOOP_SECONDS, min_kills=3)


@pytest.mark.long
def test_killed_at_random_points_for_longer(emulator: Emulator, tmp_path: Path) -> None:
    crash_loop(emulator, tmp_path, LONG_LOOP_SECONDS, min_kills=5)


def test_stopped_by_sigterm_at_random_points_the_next_runs_finish_the_job(emulator: Emulator, tmp_path: Path) -> None:
    crash_loop(emulator, tmp_path, QUICK_LOOP_SECONDS, min_kills=3, stop=signal.SIGTERM)


@pytest.mark.long
def test_stopped_by_sigterm_at_random_points_for_longer(emulator: Emulator, tmp_path: Path) -> None:
    crash_loop(emulator, tmp_path, LONG_LOOP_SECONDS, min_kills=5, stop=signal.SIGTERM)


def stop_target(seed: int) -> tuple[str, int]:
    """Where a SIGTERM is aimed: a record of ``bulk_jobs`` one time in three, else of any stream."""
    rng = random.Random(seed)
    stream = "bulk_jobs" if rng.random() < 1 / 3 else rng.choice(ALL_STREAMS)
    return stream, rng.randint(1, 60)


def crash_loop(
    emulator: Emulator, tmp_path: Path, seconds: float, *, min_kills: int, stop: signal.Signals = signal.SIGKILL
) -> None:
    """Rounds of kills (or stops) and resumes for ``seconds`` (a round started is always finished)."""
    deadline = time.monotonic() + seconds
    rounds = kills = lost_posts = lost_states = total_runs = deleted = paid = journal_resumes = 0
    killed_in: Counter[str] = Counter()
    longest = 2.5  # the longest unkilled run so far: kill delays are drawn below 1.1 times it
    while rounds == 0 or (time.monotonic() < deadline and total_runs < MAX_RUNS):
        # Odd rounds checkpoint every 2 records: kills then land after mid-stream STATEs.
        every = 2 if rounds % 2 else None
        rig = Rig(emulator, tmp_path / f"round-{rounds}", seed=BASE_SEED + rounds, state_every=every)
        state: dict[str, Any] = {}
        emitted: set[str] = set()
        for attempt in range(KILLS_PER_ROUND + 1):
            last = attempt == KILLS_PER_ROUND or time.monotonic() >= deadline or total_runs >= MAX_RUNS
            seed = (BASE_SEED + rounds) * 1000 + attempt
            delay = None if last else random.Random(seed).uniform(0.3, 1.1 * longest)
            target = None
            if stop != signal.SIGKILL and delay is not None:
                target, delay = stop_target(seed), 2 * longest  # the delay: in case the run hangs
            run = rig.run(state, seed, delay, stop=stop, target=target)
            total_runs += 1
            check_run(rig, run, emitted)
            journal_resumes += run.journalled > 0 and pending_request(run.started_state) is None
            emitted |= {r["file_id"] for r in run.records("delivered_files")}
            kills += run.killed
            if run.killed:
                killed_in[run.active_stream()] += 1
            if not run.killed and run.returncode != 0 and LOST_POST in run.stderr and stop == signal.SIGKILL:
                # Killed between the vendor charging a data request and the STATE naming it:
                # the documented recovery (the id from the dashboard) resumes it unpaid.
                lost_posts += 1
                request_id = list(rig.coresignal.data_requests)[-1]  # the newest: the one the killed run paid
                assert rig.coresignal.in_progress(request_id), rig.history()
                state = json.loads(json.dumps(state))
                state.setdefault("bookmarks", {}).setdefault("bulk_jobs", {})["pending_request"] = {"id": request_id}
                continue
            assert run.killed or run.returncode == 0, f"{run.describe()}\n{run.stderr[-3000:]}\n{rig.history()}"
            share = max(LOST_STATE_SHARE, 0.6) if run.posts else LOST_STATE_SHARE  # the journal's case, often
            if run.killed and random.Random(seed).random() < share:
                lost_states += 1  # as Meltano after a failed run: the next run gets the state this one started with
            elif run.last_state is not None:
                state = run.last_state
            if not run.killed:
                longest = max(longest, run.duration)
                if delay is None:
                    break
                # It finished before its kill: one more run, never killed, checks a rerun.
                run = rig.run(state, seed + 500, None)
                total_runs += 1
                check_run(rig, run, emitted)
                assert run.returncode == 0, f"{run.describe()}\n{run.stderr[-3000:]}\n{rig.history()}"
                break
        final = rig.runs[-1]
        assert not final.killed, rig.history()
        assert final.returncode == 0, rig.history()
        assert pending_request(final.last_state or {}) is None, rig.history()
        if not rig.youserve.deleted and final.last_state is not None:
            # Every stop came before YouServe (a slow machine): one more run from the final
            # state, so each round checks a deletion; it pays for nothing pending.
            run = rig.run(final.last_state, (BASE_SEED + rounds) * 1000 + 999, None)
            total_runs += 1
            check_run(rig, run, emitted)
            assert run.returncode == 0, f"{run.describe()}\n{run.stderr[-3000:]}\n{rig.history()}"
            assert rig.youserve.deleted, rig.history()
        check_round(rig)
        deleted += len(rig.youserve.deleted)
        paid += rig.coresignal.post_count
        rounds += 1
    print(
        f"crash loop ({stop.name}): {rounds} rounds, {total_runs} runs, {kills} kills ({dict(killed_in)}), "
        f"{deleted} confirmed files deleted, {paid} data requests paid, {lost_posts} lost POST answers recovered, "
        f"{lost_states} states lost, {journal_resumes} runs started with a journalled request their state did not cover"
    )
    assert kills >= min_kills
    assert deleted > 0  # the deletion check above was not vacuous


def test_a_write_killed_midway_leaves_nothing_once_its_key_is_written_again(tmp_path: Path) -> None:
    """What the crash loop relies on, in one step: a killed write's temporary file never
    looks complete, and the next complete write of the key removes it."""
    storage = FileStorage(str(tmp_path / "files"))
    killed = storage.open_part(("youserve", "t", 1, "f"))
    killed.append(b"half of it")
    killed._out.close()  # the process dies here: no commit, no abort
    target = tmp_path / "files" / "youserve" / "t" / "1" / "f"
    assert not target.exists()
    stored = storage.write(("youserve", "t", 1, "f"), [b"all ", b"of it"])
    assert target.read_bytes() == b"all of it"
    assert stored.size == 9
    assert [p.name for p in target.parent.iterdir()] == ["f"]
