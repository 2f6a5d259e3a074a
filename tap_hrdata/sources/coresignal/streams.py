"""Coresignal stream ``bulk_jobs``: job postings collected by one paid Bulk Collect data request per run.

A data request is paid when it is created, so its id goes to state in a STATE message
before anything else happens, and a run that finds a pending id in its state resumes
that request instead of paying for another. Progress of the pending request is kept in
the stream state under ``pending_request``::

    {"id": "...", "files_done": ["json/part-00000-....json.gz"],
     "max_last_updated": "2025-06-14T17:42:28+00:00",
     "current_file": "json/part-00001-....json.gz", "current_file_records": 10000}

Once every file is emitted the entry is dropped and the bookmark becomes the highest
``last_updated`` of the request.

State alone cannot promise "never pay twice" (no state is stored for a failed run), so
every paid request is also journalled under ``files_storage_url`` (see
:mod:`tap_hrdata.sources.coresignal.journal`) and a run about to pay for a request looks
there first.

Ready notifications: with ``coresignal.webhook_url`` (``{secret}`` in it stands for
``coresignal.webhook_secret``), Coresignal notifies the webhook receiver when a request is
ready, and the receiver journals it (:mod:`tap_hrdata.webhooks.coresignal`). A pending
request whose notification is journalled is listed at once; a run waiting between two
polls lists it as soon as its notification arrives. With both settings set, a request
still not ready after ``poll_timeout_seconds`` ends the stream without an error, the
request pending in state: its notification lets the next run collect it at once.
"""

from __future__ import annotations

import copy
import functools
import json
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from http import HTTPStatus

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override
from urllib3 import encode_multipart_formdata

from tap_hrdata.http.retry import RETRIABLE, BrokenBodyError
from tap_hrdata.sources.coresignal import schemas
from tap_hrdata.sources.coresignal.client import (
    FILES_ANSWER_STATUSES,
    FILES_KEPT_DAYS,
    GENERATIONS,
    RECORD_CAP,
    CoresignalClient,
    CoresignalError,
    CorruptFileError,
    FilesAnswer,
    FilesState,
    Generation,
    body_lines,
    check_body,
    files_answer,
    parse_job,
    vendor_time,
)
from tap_hrdata.sources.coresignal.journal import RequestJournal, request_key
from tap_hrdata.statecheck import StateError, bookmark_time, shown
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import flag, integer, iso_timestamp, text, utc_timestamp
from tap_hrdata.webhooks.config import SECRET_PATTERN
from tap_hrdata.webhooks.coresignal import ReadyNotices
from tap_hrdata.webhooks.journal import JournalError, JournalReader, journal_path

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.http.concurrency import Task

SCHEMAS = SchemaDirectory(schemas)
#: State key of the request being collected.
PENDING = "pending_request"
#: State key: every posting last updated up to this time was collected (by bounded windows).
COLLECTED_UNTIL = "collected_until"
#: A window narrower than this that is still over the cap is an error, not split further.
MIN_WINDOW_SECONDS = 2
#: The lower bound of a window when neither a bookmark nor start_date gives one: Coresignal's
#: job postings start in August 2020.
DATA_SINCE = datetime(2020, 1, 1, tzinfo=timezone.utc)
READ_CHUNK_BYTES = 1 << 16
#: What ``coresignal.webhook_url`` may hold for ``coresignal.webhook_secret``.
SECRET_PLACEHOLDER = "{secret}"  # noqa: S105  # a placeholder, not a secret


class DownloadStopped(Exception):  # noqa: N818  # not an error: the run moved on without the file
    """A download stopped because its file is no longer wanted (the stream stopped or failed)."""


class Spools:
    """The local files a data request's downloads are spooled to, every one closed at the end.

    Anonymous temporary files: gone from disk once closed, or once the process ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[t.IO[bytes]] = []

    def new(self) -> t.IO[bytes]:
        """A new, empty spool."""
        spool = tempfile.TemporaryFile(prefix="tap-hrdata-coresignal-")  # noqa: SIM115  # closed by close()
        with self._lock:
            self._open.append(spool)
        return spool

    def close(self, spool: t.IO[bytes]) -> None:
        """Close (and so delete) one spool."""
        with self._lock:
            if spool in self._open:
                self._open.remove(spool)
        spool.close()

    def close_all(self) -> None:
        """Close every spool still open (downloads not read: the run stopped)."""
        with self._lock:
            spools, self._open = self._open, []
        for spool in spools:
            spool.close()


@dataclass(frozen=True)
class DownloadedFile:
    """A file of the data request, downloaded whole to a spool (see :class:`Spools`), read once."""

    name: str
    spool: t.IO[bytes]
    content_encoding: str
    spools: Spools

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes, from its start, a chunk at a time."""
        self.spool.seek(0)
        while chunk := self.spool.read(READ_CHUNK_BYTES):
            yield chunk

    def __enter__(self) -> DownloadedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.spools.close(self.spool)


@dataclass(frozen=True)
class Window:
    """A span of ``last_updated`` (UTC, whole seconds, both ends inclusive; None: unbounded)."""

    gte: datetime | None
    lte: datetime | None

    def to_state(self) -> dict[str, str | None]:
        """The window as the pending request's state keeps it."""
        return {"gte": self.gte.isoformat() if self.gte else None, "lte": self.lte.isoformat() if self.lte else None}

    @classmethod
    def from_state(cls, value: object) -> Window | None:
        """The window of a pending request's state (None for a request made without one)."""
        if not isinstance(value, dict):
            return None
        return cls(gte=utc_timestamp(value.get("gte")), lte=utc_timestamp(value.get("lte")))

    def describe(self) -> str:
        """``from 2025-01-01 00:00:00 to 2025-03-01 00:00:00`` (or open-ended)."""
        start = vendor_time(self.gte) if self.gte else "the beginning"
        return f"from {start} to {vendor_time(self.lte) if self.lte else 'now'}"


class BulkJobsStream(VendorStream):
    """Job postings of one data request per run: typed columns plus the job as ``raw``.

    Files hold jobs in no particular order of ``last_updated``, hence ``is_sorted = False``:
    the bookmark moves only once the whole request is emitted.
    """

    name = "bulk_jobs"
    primary_keys = ("id",)
    column_sources: t.ClassVar[ColumnSources] = {
        name: ((name,),)
        for name in (
            "id",
            "title",
            "company_id",
            "company_name",
            "company_url",
            "location",
            "country",
            "url",
            "external_url",
            "seniority",
            "employment_type",
            "description",
            "applicants_count",
            "deleted",
            "application_active",
            "created",
            "last_updated",
        )
    }
    replication_key = "last_updated"
    is_sorted = False
    schema = StreamSchema(SCHEMAS)

    @property
    @override
    def client(self) -> CoresignalClient:
        """The run's Coresignal client."""
        return self._tap.client(CoresignalClient)

    @cached_property
    def journal(self) -> RequestJournal:
        """The journal of paid requests, beside the files."""
        return RequestJournal(self._tap.storage, self.logger)

    def journal_key(self, window: Window | None) -> str:
        """The journal key of the request this config would POST for ``window``.

        Everything the request asks for, except the window's upper bound, which the halving
        derives from the clock: the same config from the same state finds the same entry.
        """
        generation = self.client.generation
        job_ids = self.settings.get("job_ids") or []
        if job_ids:
            return request_key(generation.name, "id_file", sorted(int(job_id) for job_id in job_ids), None)
        body = self.request_body(Window(gte=None, lte=self.first_window_upper()))
        return request_key(generation.name, "filter", body, window.gte if window is not None else None)

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the highest ``last_updated`` of the request is the bookmark.

        A data request is a snapshot taken at its POST, so that value is safe as it is;
        capping it at the local clock would only make the next run pay again for
        postings stamped ahead of that clock.
        """
        return

    # ---- state ---------------------------------------------------------------------------

    @classmethod
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """Refuse a stream state this stream cannot trust, naming the bad value's path (:class:`StateError`).

        Called by the tap on the state a run starts from, before any request. A bookmark that
        is not a timestamp, or lies in the future, would buy an empty request on every run;
        a pending request that is not what this tap writes would be ignored, and paid again.
        """
        bookmark_time(cls.name, stream_state.get("replication_key_value"))
        bookmark_time(cls.name, stream_state.get(COLLECTED_UNTIL), COLLECTED_UNTIL)
        pending = stream_state.get(PENDING)
        if pending is None:
            return
        path = f"state: bookmarks.{cls.name}.{PENDING}"
        if not isinstance(pending, dict):
            msg = f"{path} must be an object (the data request being collected), found {shown(pending)}"
            raise StateError(msg)
        request_id = pending.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, (str, int)) or str(request_id).strip() == "":
            msg = f"{path}.id must be a data request id, found {shown(request_id)}"
            raise StateError(msg)
        files_done = pending.get("files_done", [])
        if not isinstance(files_done, list) or not all(isinstance(name, str) for name in files_done):
            msg = f"{path}.files_done must be a list of file names, found {shown(files_done)}"
            raise StateError(msg)
        for name in ("current_file", "api", "journal_key"):
            if pending.get(name) is not None and not isinstance(pending[name], str):
                msg = f"{path}.{name} must be a string, found {shown(pending[name])}"
                raise StateError(msg)
        records = pending.get("current_file_records")
        if records is not None and (isinstance(records, bool) or not isinstance(records, int) or records < 0):
            msg = f"{path}.current_file_records must be a record count (an integer, 0 or more), found {shown(records)}"
            raise StateError(msg)
        # Vendor times, not bookmarks: a posting stamped ahead of this clock is no reason to stop.
        window = pending.get("window")
        if window is not None and not isinstance(window, dict):
            msg = f"{path}.window must be an object, found {shown(window)}"
            raise StateError(msg)
        times = {"max_last_updated": pending.get("max_last_updated"), "created_at": pending.get("created_at")}
        times.update({f"window.{end}": (window or {}).get(end) for end in ("gte", "lte")})
        for name, value in times.items():
            if value is not None and utc_timestamp(value) is None:
                msg = f"{path}.{name} must be a timestamp, found {shown(value)}"
                raise StateError(msg)

    def pending_request(self) -> dict[str, t.Any] | None:
        """The request being collected, from state (a private copy: the caller's state is not touched)."""
        state = self.stream_state
        pending = state.get(PENDING)
        if not isinstance(pending, dict) or not pending.get("id"):
            return None
        state[PENDING] = copy.deepcopy(pending)
        state[PENDING].setdefault("files_done", [])
        return t.cast("dict[str, t.Any]", state[PENDING])

    def finish_request(self, pending: dict[str, t.Any]) -> None:
        """Forget the request and move the bookmark to its highest ``last_updated``."""
        state = self.stream_state
        state.pop(PENDING, None)
        values = [pending.get("max_last_updated")]
        if state.get("replication_key") == self.replication_key:
            values.append(state.get("replication_key_value"))
        # Records of an unsorted stream advance the SDK's progress markers (the documented
        # "progress_markers" entry of stream state), which the SDK promotes to the bookmark
        # when the sync ends. This run's markers only know the files this run read, so the
        # request's running max, kept in state across runs, is folded in there.
        target = state
        markers = state.get("progress_markers")
        if isinstance(markers, dict) and "replication_key" in markers:
            values.append(markers.get("replication_key_value"))
            target = markers
        parsed = [value for value in map(utc_timestamp, values) if value is not None]
        if parsed:
            target["replication_key"] = self.replication_key
            target["replication_key_value"] = max(parsed).isoformat()

    # ---- the protocol --------------------------------------------------------------------

    def first_window(self, context: Context | None) -> Window | None:
        """The ``last_updated`` span of the next filter request: from the bookmark on, open-ended.

        None for an id-file request. The lower bound is the latest of the bookmark (or
        ``start_date``), the configured ``filters.last_updated_gte`` and what earlier
        windows already collected (``collected_until``).
        """
        if self.settings.get("job_ids"):
            return None
        filters = self.settings.get("filters") or {}
        bounds = [self.get_starting_timestamp(context), utc_timestamp(self.stream_state.get(COLLECTED_UNTIL))]
        for name in ("last_updated_gte", "last_updated_lte"):
            configured = filters.get(name)
            if configured is not None and utc_timestamp(configured) is None:
                msg = f"coresignal.filters.{name} must be 'YYYY-MM-DD HH:MM:SS', got {configured!r}"
                raise ConfigValidationError(msg, errors=[msg])
        bounds.append(utc_timestamp(filters.get("last_updated_gte")))
        partition = self._tap.partition
        if partition is not None:  # a partition's window: [start, end)
            bounds.append(partition.start)
        known = [bound for bound in bounds if bound is not None]
        return Window(gte=max(known) if known else None, lte=self.first_window_upper())

    def request_body(self, window: Window | None) -> dict[str, t.Any]:
        """The filter request: the configured filters within ``window``, the limit, the webhook."""
        settings = self.settings
        filters = dict(settings.get("filters") or {})
        if window is not None:
            filters.pop("last_updated_gte", None)
            filters.pop("last_updated_lte", None)
            if window.gte is not None:
                filters["last_updated_gte"] = vendor_time(window.gte)
            if window.lte is not None:
                filters["last_updated_lte"] = vendor_time(window.lte)
        body: dict[str, t.Any] = {"filters": filters}
        if settings.get("limit") is not None:
            body["limit"] = int(settings["limit"])
        if settings.get("webhook_url"):
            body["webhook_url"] = settings["webhook_url"]
        return body

    def webhook_url(self) -> str | None:
        """``coresignal.webhook_url`` as the POST sends it: ``{secret}`` replaced by ``coresignal.webhook_secret``.

        The template (not the secret) is what the request's journal key covers, so changing
        the secret never makes a run pay again for a request it already made.
        """
        url = self.settings.get("webhook_url")
        if not url:
            return None
        url = str(url)
        if SECRET_PLACEHOLDER in url:
            secret = self.settings.get("webhook_secret")
            if not isinstance(secret, str) or not SECRET_PATTERN.fullmatch(secret):
                msg = (
                    "coresignal.webhook_url holds {secret}: set coresignal.webhook_secret "
                    "(16 to 512 characters of A-Z a-z 0-9 . _ ~ -)"
                )
                raise ConfigValidationError(msg, errors=[msg])
            url = url.replace(SECRET_PLACEHOLDER, secret)
        return url

    def create_request(self, window: Window | None) -> dict[str, t.Any]:
        """POST a new data request (credits are charged here) and put its id in state at once."""
        settings = self.settings
        job_ids = settings.get("job_ids") or []
        generation = self.client.generation
        base = self.client.base_url
        webhook_url = self.webhook_url()
        if job_ids:
            ids = "".join(f"{int(job_id)}\n" for job_id in job_ids)
            fields: dict[str, t.Any] = {generation.id_file_field: ("job_ids.txt", ids, "text/plain")}
            if webhook_url is not None and generation.name == "v2":  # v2 documents it as a form field
                fields["webhook_url"] = webhook_url
            data, content_type = encode_multipart_formdata(fields)
            request = HTTPRequest(
                url=base + generation.id_file_path, method="POST", headers={"Content-Type": content_type}, data=data
            )
        elif settings.get("filters"):
            body = self.request_body(window)
            if webhook_url is not None:
                body["webhook_url"] = webhook_url
            request = HTTPRequest(
                url=base + generation.filter_path,
                method="POST",
                headers={"Content-Type": "application/json"},
                data=json.dumps(body).encode(),
            )
        else:
            msg = (
                "coresignal: set coresignal.filters or coresignal.job_ids "
                "(a request without either would buy everything)"
            )
            raise ConfigValidationError(msg, errors=[msg])
        # Two runs of the same partition (or config) at once: only the one that claims the
        # request's journal key (an exclusive create) pays; the other resumes its request.
        key = self.journal_key(window)
        if not self.journal.claim(key):
            return self.claimed_elsewhere(key, window)
        # From the POST until the request is journalled and its id is in a STATE, a SIGTERM or
        # SIGINT waits: stopping in between would lose a request already paid for.
        try:
            with self._tap.uninterrupted():
                return self.paid_request(request, window)
        except BaseException:
            if self.journal.read(key) is None:  # no answer naming a request: nothing to resume, as before
                self.journal.release(key)
            raise

    def claimed_elsewhere(self, key: str, window: Window | None) -> dict[str, t.Any]:
        """Another run claimed this request: wait for its journal entry and resume that request (paid once)."""
        self.logger.info("coresignal: another run is creating this data request (journal key %s); waiting for it", key)
        deadline = time.monotonic() + float(self.settings["poll_timeout_seconds"])
        interval = min(float(self.settings["poll_interval_seconds"]), 1.0)
        while time.monotonic() < deadline:
            journalled = self.journalled_request(window)
            if journalled is not None:
                return journalled
            if not self.journal.claimed(key):  # its POST failed: this run may pay
                return self.create_request(window)
            lease = 2 * float(self._tap.config.get("request_deadline_seconds") or 600)
            reason = self.journal.abandoned(key, lease)
            if reason is not None:
                self.logger.warning(
                    "coresignal: journal key %s was claimed by a run that died (%s); taking it over", key, reason
                )
                self.journal.release(key)
                return self.create_request(window)
            time.sleep(interval)
        msg = (
            f"coresignal: journal key {key} is claimed by another run that never journalled its data request; "
            "if no run is under way, check the Coresignal dashboard, then remove "
            f"coresignal/requests/{key}.claim under files_storage_url"
        )
        raise CoresignalError(msg)

    def paid_request(self, request: HTTPRequest, window: Window | None) -> dict[str, t.Any]:
        """Send the paid POST, journal the request and put its id in a STATE: the pending request."""
        generation = self.client.generation
        job_ids = self.settings.get("job_ids") or []
        answer = self.client.call(request, self.read_paid_answer, stream=self.name)
        request_id = None
        if isinstance(answer, dict):
            request_id = answer.get("request_id") or answer.get("data_request_id")
        if not request_id:
            msg = (
                f"coresignal stream '{self.name}': the data request was accepted (credits may have been charged) "
                "but its answer names no request_id; check the Coresignal dashboard before running again"
            )
            raise CoresignalError(msg)
        pending: dict[str, t.Any] = {
            "id": str(request_id),
            "api": generation.name,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files_done": [],
        }
        if window is not None:
            pending["window"] = window.to_state()
        pending["journal_key"] = key = self.journal_key(window)
        self.stream_state[PENDING] = pending
        try:
            self.journal.record(key, pending)  # first of all: the request is paid for
        except OSError as exc:
            self.emit_state()
            msg = (
                f"coresignal: data request {request_id} was created but could not be journalled under "
                f"files_storage_url ({exc}); its id is in the state this run emitted"
            )
            raise CoresignalError(msg) from exc
        self.emit_state()
        self.logger.info(
            "coresignal: created data request %s (%s %s%s); its id is in state, so an interrupted run resumes it",
            request_id,
            generation.name,
            "id_file" if job_ids else "filter",
            f", last_updated {window.describe()}" if window is not None else "",
        )
        return pending

    def journalled_request(self, window: Window | None) -> dict[str, t.Any] | None:
        """The journalled request this run would otherwise pay for again, made pending; or None.

        Found when an earlier run made the same request and its state never came back (it
        failed, or its target did): the request is resumed from its first file.
        """
        key = self.journal_key(window)
        entry = self.journal.read(key)
        if entry is None:
            return None
        pending: dict[str, t.Any] = {
            "id": str(entry["id"]),
            "files_done": [],
            "journal_key": key,
            **{name: entry[name] for name in ("api", "created_at", "window") if name in entry},
        }
        if self.expired(pending):
            self.journal.forget(key)
            return None
        self.stream_state[PENDING] = pending
        self.emit_state()
        self.resumed_from_journal.add(pending["id"])
        self.logger.info(
            "coresignal: data request %s is in the journal (paid by an earlier run whose state this run did not get); "
            "resuming it instead of paying again",
            pending["id"],
        )
        return pending

    def settle_journalled(self, pending: dict[str, t.Any], window: Window | None) -> None:
        """Every record of the request is emitted: its entry waits for a state that covers them.

        What covers them: the request's highest ``last_updated``, or for a bounded window that
        matched nothing, the window's end. An open-ended request that delivered nothing is
        forgotten: a later run must ask again, not reuse that empty answer.
        """
        key = pending.get("journal_key")
        if not key:
            return
        covered = pending.get("max_last_updated")
        if covered is None and window is not None and window.lte is not None:
            covered = window.lte.isoformat()
        self.journal.done(str(key), covered)

    @cached_property
    def resumed_from_journal(self) -> set[str]:
        """Ids of the requests this run took from the journal (not from its state)."""
        return set()

    def drop_unknown_journalled(self, pending: dict[str, t.Any], message: str) -> None:
        """A journalled request the vendor does not know (another account, a reset sandbox): a new one is made.

        The journal is a safety net kept beside the files; unlike a state's pending request,
        its entry may outlive the account or the API it was made with.
        """
        self.logger.warning(
            "coresignal: data request %s from the journal is not found (%s); its entry is dropped and a new "
            "request is made",
            pending["id"],
            message or "HTTP 404",
        )
        self.forget_journalled(pending)
        self.stream_state.pop(PENDING, None)
        self.emit_state()

    def forget_journalled(self, pending: dict[str, t.Any]) -> None:
        """The request will never deliver (nothing matched, over the cap, expired): drop its entry."""
        if pending.get("journal_key"):
            self.journal.forget(str(pending["journal_key"]))

    def read_paid_answer(self, response: requests.Response) -> t.Any:  # the answer is untyped JSON
        """The answer to the paid POST, read once: a broken answer is not a reason to pay again."""
        try:
            return self.client.read_json(response, stream=self.name).json()
        except RETRIABLE as exc:
            msg = (
                f"coresignal stream '{self.name}': the data request was sent (credits may have been charged) but "
                f"its answer broke ({type(exc).__name__}); check the Coresignal dashboard before running again"
            )
            raise CoresignalError(msg) from exc

    def generation_of(self, pending: dict[str, t.Any]) -> Generation:
        """The API generation that made a request; the configured one when the state does not say.

        (A pending request put back by hand, ``{"id": ...}``, or one of a state written by
        0.1.0, whose configs could only be v1, names none.)
        """
        return GENERATIONS.get(str(pending.get("api")), self.client.generation)

    def files_state(self, pending: dict[str, t.Any]) -> FilesAnswer:
        """What the files endpoint says of the pending request now."""
        request_id = pending["id"]
        url = self.client.files_url(request_id, self.generation_of(pending))
        where = f"coresignal stream '{self.name}': the file list of data request {request_id}"

        def read(response: requests.Response) -> FilesAnswer:
            try:
                payload = self.client.read_json(response, stream=self.name).json()
            except BrokenBodyError:
                if response.status_code >= HTTPStatus.BAD_REQUEST:
                    payload = {}  # an error page: judged by its status
                else:
                    raise
            return files_answer(response.status_code, payload, where, self.client.secrets(response.request))

        return self.client.call(HTTPRequest(url=url), read, stream=self.name, answers=FILES_ANSWER_STATUSES)

    @cached_property
    def ready_notices(self) -> ReadyNotices:
        """The "data request ready" notifications the webhook receiver journalled (none: no local journal)."""
        try:
            reader: JournalReader | None = JournalReader(journal_path(self._tap.storage, "coresignal"), self.logger)
        except JournalError:
            reader = None
        return ReadyNotices(reader)

    def notifications_set_up(self) -> bool:
        """Whether Coresignal notifies the receiver: ``webhook_url`` and ``webhook_secret`` both set."""
        return bool(self.settings.get("webhook_url")) and bool(self.settings.get("webhook_secret"))

    def wait_for_files(self, pending: dict[str, t.Any]) -> FilesAnswer:
        """Poll every ``poll_interval_seconds`` while the request is processed, up to ``poll_timeout_seconds``.

        A request whose ready notification is journalled is listed at once (as ever, the
        first listing is not delayed); between two polls, a notification arriving cuts
        the wait short. When notifications are set up, a request still processed at the
        timeout is answered PROCESSING (it stays pending for the next run) instead of failing.
        """
        request_id = str(pending["id"])
        interval = float(self.settings["poll_interval_seconds"])
        timeout = float(self.settings["poll_timeout_seconds"])
        deadline = time.monotonic() + timeout
        notices = self.ready_notices
        polls = 0
        told = False
        if notices.ready(request_id):
            self.logger.info(
                "coresignal: data request %s: Coresignal notified it is ready (webhook journal); listing its files",
                request_id,
            )
        while True:
            polls += 1
            try:
                answer = self.files_state(pending)
            except FatalAPIError as exc:
                msg = (
                    f"{exc}. The data request {request_id} stays in state: the next run resumes it without "
                    "paying again (remove bookmarks.bulk_jobs.pending_request from the state to give it up)."
                )
                raise CoresignalError(msg) from exc
            if answer.state is not FilesState.PROCESSING:
                return answer
            if request_id in notices.notified and not told:
                told = True
                self.logger.info(
                    "coresignal: data request %s is still being processed though Coresignal notified it; polling",
                    request_id,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if self.notifications_set_up():
                    self.logger.warning(
                        "coresignal: data request %s was not ready after %gs (%d polls; "
                        "coresignal.poll_timeout_seconds); it stays pending in state, and the run that follows "
                        "its ready notification collects it without paying again",
                        request_id,
                        timeout,
                        polls,
                    )
                    return answer
                msg = (
                    f"coresignal: data request {request_id} was not ready after {timeout:g}s ({polls} polls; "
                    "coresignal.poll_timeout_seconds). Its id stays in state: the next run resumes it "
                    "without paying again."
                )
                raise CoresignalError(msg)
            if notices.wait(request_id, min(interval, remaining), time.sleep):
                self.logger.info(
                    "coresignal: data request %s: Coresignal notified it is ready (webhook journal); listing it now",
                    request_id,
                )

    def file_jobs(self, pending: dict[str, t.Any], download: DownloadedFile) -> Iterator[dict[str, t.Any]]:
        """The jobs of one downloaded file, read from its spool, in the stream's thread.

        The jobs already taken from this file (by the run that state comes from) are skipped.
        """
        file_name = download.name
        where = f"file {file_name!r} of data request {pending['id']}"
        if pending.get("current_file") != file_name:
            pending["current_file"] = file_name
            pending["current_file_records"] = 0
        taken = int(pending.get("current_file_records") or 0)
        if taken:
            self.logger.info("coresignal stream '%s': %s: resuming after its first %d records", self.name, where, taken)
        number = 0
        for line in body_lines(download.chunks(), where, content_encoding=download.content_encoding):
            number += 1
            if number <= taken:
                continue
            yield parse_job(line, f"coresignal stream '{self.name}': {where}", number, self.logger)
            # Back here, the SDK has written the record: only now is it taken. A STATE written
            # before (on SIGTERM; the SDK's checkpoint just after the record) counts it as not
            # taken, so a resumed run emits it again rather than never.
            taken = number
            pending["current_file_records"] = taken

    def download_file(
        self, request_id: str, generation: Generation, file_name: str, spools: Spools, task: Task
    ) -> DownloadedFile:
        """One file downloaded whole to a local spool and checked, in a worker (files side by side).

        A broken transfer or a truncated or corrupt gzip file is downloaded again from its
        start (the client's retries); the spool is on disk, so memory holds one chunk of it.
        """
        url = self.client.file_url(request_id, file_name, generation)
        where = f"file {file_name!r} of data request {request_id}"
        spool = spools.new()
        encoding = ""

        def open_request() -> HTTPRequest:
            if task.stopping:
                raise DownloadStopped(where)
            spool.seek(0)
            spool.truncate()
            return HTTPRequest(url=url)

        def read(response: requests.Response) -> Iterator[None]:
            nonlocal encoding
            encoding = response.headers.get("Content-Encoding", "")
            check_body(self.spooled(response, spool, where, task), where, content_encoding=encoding)
            yield None

        try:
            # The reader's messages name the file (`where`); a transport failure names its path.
            results = self.client.body(open_request, read, stream=self.name)
            try:
                next(results)
            finally:
                results.close()
        except BaseException:
            spools.close(spool)
            raise
        return DownloadedFile(file_name, spool, encoding, spools)

    def spooled(self, response: requests.Response, spool: t.IO[bytes], where: str, task: Task) -> Iterator[bytes]:
        """A response body in chunks, each written to ``spool`` as it passes; stops when the run stops."""
        for chunk in self.body_chunks(response, where):
            if task.stopping:
                raise DownloadStopped(where)
            spool.write(chunk)
            yield chunk

    def body_chunks(self, response: requests.Response, where: str) -> Iterator[bytes]:
        """A response body in chunks, counted in the stream's stats."""
        try:
            for chunk in response.iter_content(READ_CHUNK_BYTES):
                self.stats.add(bytes=len(chunk))
                yield chunk
        except CorruptFileError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "ContentDecodingError":
                msg = f"{where} could not be decoded ({type(exc).__name__})"
                raise CorruptFileError(msg) from exc
            raise

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Resume or create data requests, window after window, and emit each file once.

        A request may deliver at most 10,000 records. With ``coresignal.limit`` set it cannot
        exceed that; without it, an incremental pull asks for everything since the bookmark,
        and when the vendor refuses a request as over the cap (it charges nothing for it),
        the ``last_updated`` window is halved until each part fits, each part its own paid
        request, tracked in state like a single one.
        """
        pending = self.pending_request()
        if pending is not None and self.expired(pending):
            self.forget_journalled(pending)
            self.stream_state.pop(PENDING, None)
            self.emit_state()
            pending = None
        if pending is None and self.ABORT_AT_RECORD_COUNT is not None:
            # A dry run (the SDK's connection test) must not buy a data request: the preflight
            # (storage, and each source's cheapest call) is its whole check.
            self._tap.ensure_preflight()
            self.logger.info("coresignal: dry run: connection and credentials checked, no paid data request created")
            return
        # A pending request's own window; one made before windows existed had the first one.
        window = (Window.from_state(pending.get("window")) if pending is not None else None) or self.first_window(
            context
        )
        self.prune_journal(pending)
        if pending is None and self.partition_done(window):
            return
        while True:
            pending, window = self.request_for(pending, window)
            answer = self.wait_for_files(pending)
            if answer.state is FilesState.OVER_CAP:
                self.forget_journalled(pending)
                window = self.narrower(window, pending, answer)
                pending = None
                continue
            if answer.state is FilesState.READY:
                yield from self.emit_files(pending, answer.names)
                self.finish_request(pending)
                self.settle_journalled(pending, window)
            elif answer.state is FilesState.NO_MATCH:
                self.logger.info("coresignal: data request %s matched no record; nothing to collect", pending["id"])
                self.settle_journalled(pending, window)
                self.stream_state.pop(PENDING, None)
            elif answer.state is FilesState.EXPIRED:
                self.forget_journalled(pending)
                self.drop_expired(pending, answer.message)
                pending = None
                continue
            elif answer.state is FilesState.GONE and pending["id"] in self.resumed_from_journal:
                self.drop_unknown_journalled(pending, answer.message)
                pending = None
                continue
            elif answer.state is FilesState.PROCESSING:  # notifications set up: the next run collects it
                self.emit_state()
                return
            else:
                raise self.undeliverable(pending, answer)
            if self.last_window(window) or window is None or window.lte is None:
                break
            # A bounded window is done: what it covered is collected, the next one starts after it.
            self.stream_state[COLLECTED_UNTIL] = window.lte.isoformat()
            self.emit_state()
            window = Window(gte=window.lte + timedelta(seconds=1), lte=self.first_window_upper())
            pending = None

    def request_for(
        self, pending: dict[str, t.Any] | None, window: Window | None
    ) -> tuple[dict[str, t.Any], Window | None]:
        """The request to collect next and its window: the pending one, a journalled one, or a new one."""
        if pending is not None:
            self.logger.info(
                "coresignal: resuming data request %s from state (%d file(s) already emitted); nothing is paid again",
                pending["id"],
                len(pending["files_done"]),
            )
            return pending, window
        journalled = self.journalled_request(window)
        if journalled is not None:
            return journalled, Window.from_state(journalled.get("window")) or window
        return self.create_request(window), window

    def undeliverable(self, pending: dict[str, t.Any], answer: FilesAnswer) -> CoresignalError:
        """The error of a request the vendor will not deliver now (no credits; not found): it stays pending."""
        if answer.state is FilesState.NO_CREDITS:
            msg = (
                f"coresignal stream '{self.name}': data request {pending['id']}: insufficient Coresignal credits "
                f"to collect it ({answer.message or 'HTTP 402'}). It stays in state: add credits and run again, "
                "nothing is paid twice."
            )
        else:
            msg = (
                f"coresignal stream '{self.name}': data request {pending['id']} is not found "
                f"({answer.message or 'HTTP 404'}). Check coresignal.base_url and the credentials; to give the "
                "request up, remove bookmarks.bulk_jobs.pending_request from the state."
            )
        return CoresignalError(msg)

    def prune_journal(self, pending: dict[str, t.Any] | None) -> None:
        """Remove the journal entries whose records the state this run started from covers.

        The state a run starts from is the one a target wrote after committing the records
        before it: its bookmark, or the end of the windows it collected, covers them.
        """
        state = self.stream_state
        marks = [state.get(COLLECTED_UNTIL)]
        if state.get("replication_key") == self.replication_key:
            marks.append(state.get("replication_key_value"))
        known = [mark for mark in map(utc_timestamp, marks) if mark is not None]
        committed = max(known).isoformat() if known else None
        partition = self._tap.partition
        removed = self.journal.prune(
            committed,
            pending["id"] if pending is not None else None,
            within=(partition.start, partition.end) if partition is not None else None,
        )
        if removed:
            self.logger.info("coresignal: %d journalled request(s) are covered by the state and forgotten", removed)

    def first_window_upper(self) -> datetime | None:
        """The configured upper bound of ``last_updated`` (none: up to now, open-ended).

        A partition ending at ``end`` asks up to ``end`` minus one second: the API's times are
        whole seconds and ``last_updated_lte`` is inclusive, so two windows never buy one instant.
        """
        bounds = [utc_timestamp((self.settings.get("filters") or {}).get("last_updated_lte"))]
        partition = self._tap.partition
        if partition is not None and partition.end is not None:
            bounds.append(partition.end - timedelta(seconds=1))
        known = [bound for bound in bounds if bound is not None]
        return min(known) if known else None

    def partition_done(self, window: Window | None) -> bool:
        """True when a bounded partition's whole window is collected already (its rerun buys nothing)."""
        upper = self.first_window_upper()
        if self._tap.partition is None or window is None or upper is None:
            return False
        collected = utc_timestamp(self.stream_state.get(COLLECTED_UNTIL))
        done = (collected is not None and collected >= upper) or (window.gte is not None and window.gte > upper)
        if done:
            self.logger.info("coresignal: partition %s is collected already", self._tap.partition.describe())
        return done

    def last_window(self, window: Window | None) -> bool:
        """True when ``window`` (just collected) was the last; a partition's then records its window as collected."""
        if window is None or window.lte is None or window.lte == self.first_window_upper():
            if window is not None and window.lte is not None and self._tap.partition is not None:
                self.stream_state[COLLECTED_UNTIL] = window.lte.isoformat()
            return True
        return False

    def narrower(self, window: Window | None, pending: dict[str, t.Any], answer: FilesAnswer) -> Window:
        """The first half of a window the vendor refused as over the cap (nothing was charged)."""
        self.stream_state.pop(PENDING, None)
        self.emit_state()
        if window is None or self.settings.get("limit") is not None:
            msg = (
                f"coresignal stream '{self.name}': data request {pending['id']} was refused as over the "
                f"{RECORD_CAP:,}-record cap of Bulk Collect ({answer.message}); nothing was charged. "
                + ("Split coresignal.job_ids into lists of at most 10,000." if window is None else "")
            )
            raise CoresignalError(msg.strip())
        lower = window.gte or DATA_SINCE
        upper = window.lte or datetime.now(timezone.utc).replace(microsecond=0)
        span = (upper - lower).total_seconds()
        if span < MIN_WINDOW_SECONDS:
            msg = (
                f"coresignal stream '{self.name}': more than {RECORD_CAP:,} postings were last updated in "
                f"{window.describe()}; narrow coresignal.filters"
            )
            raise CoresignalError(msg)
        half = Window(gte=lower, lte=lower + timedelta(seconds=int(span // 2)))
        self.logger.info(
            "coresignal: data request %s is over the %s-record cap (nothing was charged); asking for last_updated %s",
            pending["id"],
            f"{RECORD_CAP:,}",
            half.describe(),
        )
        return half

    def expired(self, pending: dict[str, t.Any]) -> bool:
        """True (with a warning) for a request older than the vendor keeps files."""
        created = utc_timestamp(pending.get("created_at"))
        if created is None or datetime.now(timezone.utc) - created <= timedelta(days=FILES_KEPT_DAYS):
            return False
        self.logger.warning(
            "coresignal: data request %s was created on %s; Coresignal keeps files %d days, so it is dropped "
            "from the state and a new request is made",
            pending["id"],
            created.date().isoformat(),
            FILES_KEPT_DAYS,
        )
        return True

    def drop_expired(self, pending: dict[str, t.Any], message: str) -> None:
        """The vendor says the request's files are gone (kept 30 days): drop it, with a warning."""
        self.logger.warning(
            "coresignal: data request %s has expired (%s); Coresignal keeps files %d days, so it is dropped "
            "from the state and a new request is made",
            pending["id"],
            message or "files no longer available",
            FILES_KEPT_DAYS,
        )
        self.stream_state.pop(PENDING, None)
        self.emit_state()

    def emit_files(self, pending: dict[str, t.Any], names: tuple[str, ...]) -> Iterator[dict[str, t.Any]]:
        """The jobs of every file not emitted yet, file after file, a STATE after each.

        Files are downloaded side by side (``max_concurrent_requests`` at once, each to a
        local spool, :meth:`download_file`) and read here, in the stream's thread, in the
        order of the list, so records and STATE keep the order of a sequential run.
        """
        self.logger.info("coresignal: data request %s is ready: %d file(s)", pending["id"], len(names))
        todo = [name for name in names if name not in pending["files_done"]]
        self.stats.expect_more(files=len(todo))
        highest = utc_timestamp(pending.get("max_last_updated"))
        request_id, generation = str(pending["id"]), self.generation_of(pending)
        spools = Spools()
        downloads = self.client.workers.in_order(
            (functools.partial(self.download_file, request_id, generation, name, spools) for name in todo),
            window=1 if self.ABORT_AT_RECORD_COUNT is not None else None,  # a dry run reads one record: one file
        )
        try:
            for download in downloads:
                with download:
                    for job in self.file_jobs(pending, download):
                        record = self.job_record(job, pending["id"])
                        value = utc_timestamp(record.get("last_updated"))
                        if value is not None and (highest is None or value > highest):
                            highest = value
                            pending["max_last_updated"] = value.isoformat()
                        yield record
                pending["files_done"].append(download.name)
                pending.pop("current_file", None)
                pending.pop("current_file_records", None)
                self.stats.add(files=1)
                self.emit_state()  # the file is emitted: a resumed run skips it
                del download  # its spool is gone: let go of it before the next is waited for
        finally:
            downloads.close()  # downloads still running are stopped and waited for
            spools.close_all()
        self.logger.info("coresignal: data request %s fully emitted", pending["id"])

    def job_record(self, job: dict[str, t.Any], request_id: str) -> dict[str, t.Any]:
        """Typed columns for the fields users query, the complete job as ``raw``."""
        job_id = integer(job.get("id"))
        if job_id is None:
            msg = f"coresignal stream 'bulk_jobs': data request {request_id} holds a job without an integer id"
            raise CoresignalError(msg)
        return {
            "id": job_id,
            "title": text(job.get("title")),
            "company_id": integer(job.get("company_id")),
            "company_name": text(job.get("company_name")),
            "company_url": text(job.get("company_url")),
            "location": text(job.get("location")),
            "country": text(job.get("country")),
            "url": text(job.get("url")),
            "external_url": text(job.get("external_url")),
            "seniority": text(job.get("seniority")),
            "employment_type": text(job.get("employment_type")),
            "description": text(job.get("description")),
            "applicants_count": text(job.get("applicants_count")),
            "deleted": flag(job.get("deleted")),
            "application_active": flag(job.get("application_active")),
            "created": iso_timestamp(job.get("created")),
            "last_updated": iso_timestamp(job.get("last_updated")),
            "data_request_id": request_id,
            "raw": job,
        }
