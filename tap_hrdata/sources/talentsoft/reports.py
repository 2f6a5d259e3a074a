"""Reports on indexed data (``talentsoft.report_indexing``): the records a target committed, told back to Talentsoft.

The vendor's cinematic ends with ``POST /api/exports/v1/reports``: ``{"reportType":
"vacancies" | "candidates", "items": [{"id", "date", "lastUpdateDate", "status"}]}``, ``id``
being a vacancy's reference or a candidate's id, ``date`` its creation date,
``lastUpdateDate`` its modification date (the version indexed), ``status`` ``success``.

*Only what a target committed.* A record is reported once the state a run *started*
with covers it: a target writes a state after it committed the records before it (the
rule of YouServe's deletion). Positions in the export cannot say which record versions
those were (an ``offset`` pass is re-read after a crash; a ``modified`` bookmark covers
dates, not the version a run actually wrote), so the tap numbers what it writes instead:

- Every run has a run id (the UTC time it started, then 8 random hex digits: sorting them
  sorts the runs). Each record of ``vacancies`` / ``candidates`` written in the run gets the
  next sequence number, and its ``(seq, id, date, lastUpdateDate)`` goes to the run's
  **journal**, under ``files_storage_url``:
  ``talentsoft/reports/{stream}/runs/{run}/{first seq}.json``, one small segment per flush.
- The stream's state carries the **mark** ``report_mark: {"run": ..., "emitted": n}``: the
  journal of that run holds the records 1..n, all written before the STATE carrying the
  mark. The mark is set only when the segment holding them is written, just before the
  SDK writes a STATE (every ``STATE_MSG_FREQUENCY`` records, and at the stream's end), so a
  mark never names an entry that is not stored. State stays one small object per stream.
- A run that starts from a state with the mark ``(R, n)`` knows the target committed the
  entries 1..n of run R: they move to ``talentsoft/reports/{stream}/confirmed.json`` and
  R's journal goes (its entries after n were never confirmed: this run writes those records
  again, in its own journal). Journals of runs older than the newest run a mark names were
  replaced by a later state and can never be confirmed: they go too. Journals of newer
  runs (a failed run whose state a scheduler may still hand over, another pipeline) stay.
- The confirmed versions are reported in batches of 100 items (the doc gives no limit; 100
  is conservative), one version per id (the latest), each once: the version reported last
  of each id is kept in ``talentsoft/reports/{stream}/reported/{xx}.json`` (``{id:
  lastUpdateDate}``, 256 shards by a hash of the id), so a version written again (a full
  refresh, a record re-read at the bookmark, a targeted refresh) is not reported again; an
  edit (a new ``lastUpdateDate``) is.
- A report that fails (after the client's retries) is logged as a warning and the run goes
  on: the versions not reported stay in ``confirmed.json`` and are sent by the next run.
  Reports go through the run's Talentsoft client (its one token, its retries), so after
  the preflight; ``--test`` runs no stream and reports nothing.

Limits: a run that dies after a STATE that covers records not yet in a segment (a
candidate's child streams write STATEs of their own; a stop by signal) leaves those
records committed but unreported: never reported wrongly, only not at all. A report
whose answer was lost in a crash before ``confirmed.json`` and the shards were rewritten
may be sent again. A record without a modification date has no version and is not
reported. The journal and the state must stay together: keep ``files_storage_url``
between runs, one pipeline per folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
import uuid
from datetime import datetime, timezone

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams.rest import HTTPRequest

from tap_hrdata.statecheck import StateError, shown
from tap_hrdata.values import utc_timestamp

if t.TYPE_CHECKING:
    import logging

    from tap_hrdata.sources.talentsoft.client import TalentsoftClient
    from tap_hrdata.storage import FileStorage

#: The state key of the mark (see the module docstring).
MARK = "report_mark"
#: Where the journals live under ``files_storage_url``.
FOLDER = ("talentsoft", "reports")
#: Items per report (the doc names no limit).
BATCH = 100
PATH = "/api/exports/v1/reports"
_RUN = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{8}")

#: One journal entry: sequence number, id, creation date, modification date.
Entry = tuple[int, str, str, str]
#: A confirmed version: id, creation date, modification date.
Version = tuple[str, str, str]


def new_run_id() -> str:
    """A run id: the UTC time now (microseconds), then 8 random hex digits; ids sort as runs started."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def report_date(value: object) -> str | None:
    """A record's date as the report carries it (UTC, ``2019-05-16T11:38:37Z``); None when it is none."""
    moment = utc_timestamp(value)
    if moment is None:
        return None
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def check_mark(state: dict[str, t.Any], where: str) -> tuple[str, int] | None:
    """The mark of a (stream or partition) state, checked: ``(run, emitted)``, None without one."""
    mark = state.get(MARK)
    if mark is None:
        return None
    run = mark.get("run") if isinstance(mark, dict) else None
    emitted = mark.get("emitted") if isinstance(mark, dict) else None
    if (
        not isinstance(run, str)
        or not _RUN.fullmatch(run)
        or isinstance(emitted, bool)
        or not isinstance(emitted, int)
        or emitted < 0
    ):
        msg = (
            f'state: bookmarks.{where}.{MARK} must be {{"run": <run id>, "emitted": <count, 0 or more>}}, '
            f"found {shown(mark)}"
        )
        raise StateError(msg)
    return run, emitted


def marks_of(stream_state: dict[str, t.Any], name: str) -> dict[str, int]:
    """Every mark of a stream's state (its own and its partitions'): run -> records confirmed."""
    partitions = stream_state.get("partitions")
    entries = [(name, stream_state)] + [
        (f"{name}.partitions[{index}]", partition)
        for index, partition in enumerate(partitions if isinstance(partitions, list) else [])
        if isinstance(partition, dict)
    ]
    marks: dict[str, int] = {}
    for where, entry in entries:
        mark = check_mark(entry, where)
        if mark is not None:
            marks[mark[0]] = max(marks.get(mark[0], 0), mark[1])
    return marks


def _later(a: str, b: str) -> bool:
    """Whether the modification date ``a`` is later than ``b`` (both as the report writes them)."""
    moment_a, moment_b = utc_timestamp(a), utc_timestamp(b)
    if moment_a is None or moment_b is None:
        return a > b
    return moment_a > moment_b


class IndexingReports:
    """One stream's reports in one run: confirm and report at the start, journal what is written."""

    def __init__(
        self,
        *,
        stream: str,
        report_type: str,
        storage: FileStorage,
        client: TalentsoftClient,
        logger: logging.Logger,
        state_frequency: int,
    ) -> None:
        self.stream = stream
        self.report_type = report_type
        self.storage = storage
        self.client = client
        self.logger = logger
        self.state_frequency = max(1, state_frequency)
        self.run = new_run_id()
        #: Records written in this run (the last sequence number), and those not yet in a segment.
        self.written = 0
        self.buffer: list[Entry] = []
        #: Versions reported by this run (a summary, and the tests' evidence).
        self.reported = 0

    # ---- storage ---------------------------------------------------------------------------

    def _segments(self, *more: object) -> tuple[object, ...]:
        return (*FOLDER, self.stream, *more)

    def _read(self, path: str) -> t.Any:
        try:
            return json.loads(self.storage.fs.cat_file(path))
        except (OSError, ValueError) as exc:
            self.logger.warning(
                "talentsoft stream '%s': report journal %s is unreadable (%s); ignored",
                self.stream,
                path,
                type(exc).__name__,
            )
            return None

    def _write(self, segments: tuple[object, ...], value: object) -> None:
        self.storage.write(segments, [json.dumps(value, separators=(",", ":"), sort_keys=True).encode()])

    def _journal_runs(self) -> dict[str, list[str]]:
        """The runs with a journal: run id -> its segment paths."""
        root = self.storage.key_path(*self._segments("runs"))
        runs: dict[str, list[str]] = {}
        for path in sorted(self.storage.fs.glob(root + "/*/*.json")):
            run = path.rsplit("/", 2)[-2]
            if _RUN.fullmatch(run):
                runs.setdefault(run, []).append(path)
        return runs

    def _confirmed(self) -> list[Version]:
        path = self.storage.key_path(*self._segments("confirmed.json"))
        if not self.storage.fs.exists(path):
            return []
        value = self._read(path)
        items = value.get("items") if isinstance(value, dict) else None
        return [
            (str(item[0]), str(item[1]), str(item[2]))
            for item in items or []
            if isinstance(item, list) and len(item) == 3  # id, date, lastUpdateDate
        ]

    def _save_confirmed(self, versions: list[Version]) -> None:
        path = self.storage.key_path(*self._segments("confirmed.json"))
        if versions:
            self._write(self._segments("confirmed.json"), {"items": [list(v) for v in versions]})
        elif self.storage.fs.exists(path):
            self.storage.fs.rm(path)

    @staticmethod
    def _shard(record_id: str) -> str:
        return hashlib.sha256(record_id.encode()).hexdigest()[:2]

    # ---- at the start of the stream ----------------------------------------------------------

    def start(self, stream_state: dict[str, t.Any]) -> None:
        """Confirm what the starting state covers, then report every confirmed version not reported yet."""
        marks = marks_of(stream_state, self.stream)
        confirmed = self._confirmed()
        known = set(confirmed)
        newest = max(marks) if marks else None
        done: list[str] = []
        for run, paths in sorted(self._journal_runs().items()):
            if run in marks:
                for path in paths:
                    segment = self._read(path)
                    for entry in (segment or {}).get("entries") or []:
                        if (
                            isinstance(entry, list)
                            and len(entry) == 4  # seq, id, date, lastUpdateDate
                            and isinstance(entry[0], int)
                            and entry[0] <= marks[run]
                        ):
                            version = (str(entry[1]), str(entry[2]), str(entry[3]))
                            if version not in known:
                                known.add(version)
                                confirmed.append(version)
                done.append(run)
            elif newest is not None and run < newest:
                done.append(run)  # a later state replaced this run's: never confirmed
        if done:
            self._save_confirmed(confirmed)  # before the journals go: a crash in between confirms them again
            for run in done:
                self.storage.fs.rm(self.storage.key_path(*self._segments("runs", run)), recursive=True)
        if not marks:
            self.logger.info(
                "talentsoft stream '%s': no confirmed state yet, nothing newly confirmed to report", self.stream
            )
        self.report(confirmed)

    def report(self, confirmed: list[Version]) -> None:
        """Report the latest confirmed version of each id not reported yet, ``BATCH`` items a call."""
        if not confirmed:
            return
        latest: dict[str, Version] = {}
        for version in confirmed:
            kept = latest.get(version[0])
            if kept is None or _later(version[2], kept[2]):
                latest[version[0]] = version
        shards: dict[str, dict[str, str]] = {}
        for record_id in latest:
            shard = self._shard(record_id)
            if shard not in shards:
                path = self.storage.key_path(*self._segments("reported", f"{shard}.json"))
                value = self._read(path) if self.storage.fs.exists(path) else None
                shards[shard] = value if isinstance(value, dict) else {}
        due = [
            version
            for record_id, version in sorted(latest.items())
            if (done := shards[self._shard(record_id)].get(record_id)) is None or _later(version[2], done)
        ]
        touched: set[str] = set()
        left: list[Version] = []
        for start in range(0, len(due), BATCH):
            batch = due[start : start + BATCH]
            problem = self.send(batch)
            if problem is not None:
                left = due[start:]
                self.logger.warning(
                    "talentsoft stream '%s': the report on indexed data failed (%s); %d confirmed versions are "
                    "reported by the next run",
                    self.stream,
                    problem,
                    len(left),
                )
                break
            for record_id, _, modified in batch:
                shard = self._shard(record_id)
                shards[shard][record_id] = modified
                touched.add(shard)
            self.reported += len(batch)
        for shard in sorted(touched):
            self._write(self._segments("reported", f"{shard}.json"), shards[shard])
        self._save_confirmed(left)
        if self.reported:
            self.logger.info(
                "talentsoft stream '%s': reported %d indexed %s to Talentsoft",
                self.stream,
                self.reported,
                self.report_type,
            )

    def send(self, batch: list[Version]) -> str | None:
        """``POST /api/exports/v1/reports`` with ``batch``; None when accepted, else why not."""
        body = {
            "reportType": self.report_type,
            "items": [
                {"id": record_id, "date": created, "lastUpdateDate": modified, "status": "success"}
                for record_id, created, modified in batch
            ],
        }
        request = HTTPRequest(
            url=self.client.base_url + PATH,
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps(body).encode(),
        )
        try:
            self.client.call(request, lambda response: response.status_code, stream=self.stream, where="report")
        except (FatalAPIError, RetriableAPIError, requests.RequestException) as exc:
            return str(exc) or type(exc).__name__
        return None

    # ---- while the stream writes ---------------------------------------------------------------

    def note(self, record: dict[str, t.Any], key: str, state: dict[str, t.Any]) -> None:
        """A record was written: journal it; flush when the SDK is about to write a STATE."""
        self.written += 1
        modified = report_date(record.get("update_date"))
        if modified is not None and record.get(key) not in (None, ""):
            created = report_date(record.get("creation_date")) or modified
            self.buffer.append((self.written, str(record[key]), created, modified))
        if self.written % self.state_frequency == 0:  # the SDK writes one right after this record
            self.flush(state)

    def flush(self, state: dict[str, t.Any]) -> None:
        """Store the entries not yet stored, then move the mark in ``state`` to the last record written."""
        if self.buffer:
            first = self.buffer[0][0]
            self._write(
                self._segments("runs", self.run, f"{first:012d}.json"),
                {"run": self.run, "entries": [list(entry) for entry in self.buffer]},
            )
            self.buffer = []
        if self.written:
            state[MARK] = {"run": self.run, "emitted": self.written}
