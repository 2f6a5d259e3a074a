"""Coresignal Bulk Collect: the paid data request, its polling, and its gzip JSON Lines files.

A data request is paid when it is created (``POST .../bulk_collect/filter`` or
``.../id_file``), so its id goes to state in a STATE message before anything else
happens, and a run that finds a pending id in its state resumes that request instead of
paying for another. Files are streamed: inflated and split into lines chunk by chunk,
one job at a time, never a whole file in memory.

Progress of the pending request is kept in the stream state under ``pending_request``::

    {"id": "...", "files_done": ["json/part-00000-....json.gz"],
     "max_last_updated": "2025-06-14T17:42:28+00:00",
     "current_file": "json/part-00001-....json.gz", "current_file_records": 10000}

Once every file is emitted the entry is dropped and the bookmark becomes the highest
``last_updated`` of the request.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import typing as t
import zlib
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import quote

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.streams.rest import HTTPRequest
from urllib3 import encode_multipart_formdata

from tap_hrdata.http import TRANSPORT_ERRORS, BrokenBodyError, ConductedStream, decode_text, redacted_error
from tap_hrdata.ratelimit import RateLimiter, rate_limited_session
from tap_hrdata.settings import source_settings

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_hrdata.tap import TapHrData

SOURCE_NAME = "coresignal"
FILTER_PATH = "/v1/professional_network/job/bulk_collect/filter"
ID_FILE_PATH = "/v1/professional_network/job/bulk_collect/id_file"
#: The vendor's timestamp format, used in filters: "2025-06-14 17:42:28" (UTC).
VENDOR_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: State key of the request being collected.
PENDING = "pending_request"

READ_CHUNK_BYTES = 1 << 16
INFLATE_CHUNK_BYTES = 1 << 18  # most bytes one inflate step may produce (bomb-safe)
MAX_LINE_BYTES = 64 << 20  # a job is a few KB; a line this long is a broken file
#: Added to each one-second window, so that jitter between sending and arrival cannot make
#: the vendor count one request too many.
RATE_MARGIN_SECONDS = 0.05
_GZIP_MAGIC = b"\x1f\x8b"
LOGGER = logging.getLogger(__name__)


class CoresignalError(FatalAPIError):
    """A failure of the Coresignal protocol, with what to do about it."""


class CorruptFileError(BrokenBodyError):
    """A downloaded file that is not a complete gzip stream (re-downloaded, then fatal)."""


class CoresignalAuthenticator(BearerTokenAuthenticator):
    """The static API token, and the run's one rate limiter (every Coresignal call shares it)."""

    def __init__(self, *, token: str, max_requests_per_second: float) -> None:
        super().__init__(token=token)
        self.limiter = RateLimiter.per_second(max_requests_per_second, margin_seconds=RATE_MARGIN_SECONDS)


def make_authenticator(tap: TapHrData) -> CoresignalAuthenticator:
    """The run's one Coresignal authenticator, with its limiter at ``max_requests_per_second``."""
    settings = source_settings(tap.config, SOURCE_NAME)
    rate = settings.get("max_requests_per_second")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        msg = f"coresignal.max_requests_per_second must be a positive number, got {rate!r}"
        raise ConfigValidationError(msg, errors=[msg])
    return CoresignalAuthenticator(token=str(settings["api_token"]), max_requests_per_second=float(rate))


# ---- values ------------------------------------------------------------------------------


def parse_vendor_time(value: t.Any) -> datetime | None:
    """A vendor timestamp ("2025-06-14 17:42:28", ISO 8601 too) as an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def iso_time(value: t.Any) -> str | None:
    """A vendor timestamp as RFC 3339 in UTC (what a date-time column expects), or None."""
    parsed = parse_vendor_time(value)
    return parsed.isoformat() if parsed is not None else None


def vendor_time(value: datetime) -> str:
    """A datetime as the API's filters take it: "YYYY-MM-DD HH:MM:SS" in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(VENDOR_TIME_FORMAT)


def file_url_path(request_id: str, file_name: str) -> str:
    """The download path of a file: each ``/``-separated part of its name one quoted segment.

    Names come from the server: empty, ``.`` or ``..`` segments and backslashes are refused,
    so a name can only ever address a file of its own data request.
    """
    segments = file_name.split("/")
    if not file_name or any(s in ("", ".", "..") or "\\" in s for s in segments):
        msg = f"coresignal: data request {request_id} lists an unsafe file name {file_name!r}"
        raise CoresignalError(msg)
    quoted = "/".join(quote(segment, safe="") for segment in segments)
    return f"/v1/bulk_collect/{quote(request_id, safe='')}/files/{quoted}"


# ---- gzip JSON Lines ----------------------------------------------------------------------


def inflate(chunks: Iterable[bytes], where: str) -> Iterator[bytes]:
    """Inflate a gzip body as it arrives, at most ``INFLATE_CHUNK_BYTES`` at a time.

    Concatenated gzip members are one file, as gzip(1) reads them. A body that is not
    gzip, breaks its CRC or ends before its trailer raises :class:`CorruptFileError`.
    """
    decompressor = zlib.decompressobj(wbits=31)  # 31: the gzip container only
    received = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                received = True
                if decompressor.eof:  # a further member
                    decompressor = zlib.decompressobj(wbits=31)
                out = decompressor.decompress(data, INFLATE_CHUNK_BYTES)
                if out:
                    yield out
                data = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
        while not decompressor.eof and (out := decompressor.decompress(b"", INFLATE_CHUNK_BYTES)):
            yield out  # output zlib still held when the input ran out
    except zlib.error as exc:
        kind = "is not a gzip file" if "header" in str(exc) else "is a corrupt gzip file"
        msg = f"{where} {kind} ({exc})"
        raise CorruptFileError(msg) from exc
    if not received:
        msg = f"{where} is empty: not a gzip file"
        raise CorruptFileError(msg)
    if not decompressor.eof:
        msg = f"{where} is a truncated gzip file (it ends before its trailer)"
        raise CorruptFileError(msg)


def split_lines(pieces: Iterable[bytes], where: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    r"""Non-blank lines of a byte stream, split on b"\n" only.

    Never ``str.splitlines``: JSON strings may hold a raw U+2028, which is no line break in
    JSON Lines. A last line without its newline is kept; a line over ``max_line_bytes`` is
    refused rather than buffered.
    """
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[start:end]).strip()
            start = end + 1
            if line:
                yield line
        del buffer[:start]
        if len(buffer) > max_line_bytes:
            msg = f"{where} holds a line longer than {max_line_bytes} bytes"
            raise CoresignalError(msg)
    if line := bytes(buffer).strip():
        yield line


def body_lines(chunks: Iterable[bytes], where: str, *, content_encoding: str = "") -> Iterator[bytes]:
    """The JSON Lines of a downloaded file, inflated unless the transport already did it.

    A server that labels the .gz with ``Content-Encoding: gzip`` has it inflated by
    ``requests`` already: plain JSON Lines then arrive, and are taken as they are.
    """
    rest = iter(chunks)
    head = b""
    for chunk in rest:  # the first two bytes tell gzip from anything else
        head += chunk
        if len(head) >= len(_GZIP_MAGIC):
            break
    body = _chain(head, rest)
    if not head or head.startswith(_GZIP_MAGIC):
        yield from split_lines(inflate(body, where), where)
    elif "gzip" in content_encoding.lower() and head.lstrip()[:1] == b"{":
        yield from split_lines(body, where)
    else:
        msg = f"{where} is not a gzip file (it starts with {head[:16]!r})"
        raise CorruptFileError(msg)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def parse_job(line: bytes, where: str, number: int, logger: logging.Logger | None = None) -> dict[str, t.Any]:
    """One JSON Lines record: a job object with an id.

    Bytes that are not UTF-8 become U+FFFD with a warning: the job is kept, since a paid
    file that stopped every run at one bad byte could only be given up.
    """
    try:
        try:
            job = json.loads(line)
        except UnicodeDecodeError:
            job = json.loads(decode_text(line, where=f"{where}, record {number}", logger=logger or LOGGER))
    except ValueError as exc:
        msg = f"{where}, record {number}: not valid JSON ({exc})"
        raise CoresignalError(msg) from exc
    if not isinstance(job, dict) or job.get("id") in (None, ""):
        msg = f"{where}, record {number}: not a job object with an id"
        raise CoresignalError(msg)
    return job


# ---- the stream ---------------------------------------------------------------------------


class CoresignalStream(ConductedStream[t.Any]):
    """A Bulk Collect stream: one paid data request per run, resumed when state names one."""

    source = SOURCE_NAME
    path = FILTER_PATH  # for the SDK's request metrics; every call is built in this class

    #: The session already routed through the limiter.
    _limited_session: requests.Session | None = None

    @property
    def requests_session(self) -> requests.Session:
        """The stream's session, every send of it (retries included) through the run's one limiter."""
        session = super().requests_session
        if session is not self._limited_session:
            limiter = t.cast("CoresignalAuthenticator", self.authenticator).limiter
            self._limited_session = rate_limited_session(limiter, session)
        return session

    def get_new_paginator(self) -> None:
        """No paging: a data request is a list of files."""

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """Unused: files are read line by line in :meth:`get_records`."""
        raise NotImplementedError

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the highest ``last_updated`` of the request is the bookmark.

        A data request is a snapshot taken at its POST, so that value is safe as it is;
        capping it at the local clock would only make the next run pay again for
        postings stamped ahead of that clock.
        """
        return

    def validate_response(self, response: requests.Response) -> None:
        """The shared conduct, with the meaning of 402 and 409 spelled out (neither is retried)."""
        status = response.status_code
        if status == HTTPStatus.PAYMENT_REQUIRED:
            self.stats.api_calls += 1
            detail = redacted_error(self.source, self.name, response)
            msg = (
                f"{detail}. Insufficient Coresignal credits: nothing was collected; "
                "add credits or lower coresignal.limit."
            )
            raise CoresignalError(msg)
        if status == HTTPStatus.CONFLICT:
            self.stats.api_calls += 1
            detail = redacted_error(self.source, self.name, response)
            msg = (
                f"{detail}. An identical data request is already in progress, but this run's state names "
                "no pending request: the state of an interrupted run was lost. Find the request's id (that "
                "run's log says 'created data request <id>', or see the Coresignal dashboard) and set "
                'bookmarks.bulk_jobs.pending_request to {"id": "<id>"} in the state to resume it without '
                "paying again, or change the filters."
            )
            raise CoresignalError(msg)
        super().validate_response(response)

    # ---- state ----------------------------------------------------------------------

    def emit_state(self) -> None:
        """Write a STATE message now, through the SDK's state writer.

        The SDK writes state every ``STATE_MSG_FREQUENCY`` records and at the end; a paid
        request id, and a file just finished, must not wait for that.
        """
        self._tap.state_writer.write_state(self.tap_state)

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
        parsed = [value for value in map(parse_vendor_time, values) if value is not None]
        if parsed:
            target["replication_key"] = self.replication_key
            target["replication_key_value"] = max(parsed).isoformat()

    # ---- the protocol ---------------------------------------------------------------

    def request_body(self, context: Context | None) -> dict[str, t.Any]:
        """The filter request: configured filters, ``last_updated_gte`` from the bookmark, limit, webhook."""
        settings = self.settings
        filters = dict(settings.get("filters") or {})
        start = self.get_starting_timestamp(context)
        if start is not None:
            configured = filters.get("last_updated_gte")
            if configured is not None:
                parsed = parse_vendor_time(configured)
                if parsed is None:
                    msg = f"coresignal.filters.last_updated_gte must be 'YYYY-MM-DD HH:MM:SS', got {configured!r}"
                    raise ConfigValidationError(msg, errors=[msg])
                start = max(start, parsed)
            filters["last_updated_gte"] = vendor_time(start)
        body: dict[str, t.Any] = {"filters": filters}
        if settings.get("limit") is not None:
            body["limit"] = int(settings["limit"])
        if settings.get("webhook_url"):
            body["webhook_url"] = settings["webhook_url"]
        return body

    def create_request(self, context: Context | None) -> dict[str, t.Any]:
        """POST a new data request (credits are charged here) and put its id in state at once."""
        settings = self.settings
        job_ids = settings.get("job_ids") or []
        if job_ids:
            ids = "".join(f"{int(job_id)}\n" for job_id in job_ids)
            data, content_type = encode_multipart_formdata({"file": ("job_ids.txt", ids, "text/plain")})
            request = HTTPRequest(
                url=self.url_base + ID_FILE_PATH,
                method="POST",
                headers={"Content-Type": content_type},
                data=data,
            )
        elif settings.get("filters"):
            request = HTTPRequest(
                url=self.url_base + FILTER_PATH,
                method="POST",
                headers={"Content-Type": "application/json"},
                data=json.dumps(self.request_body(context)).encode(),
            )
        else:
            msg = (
                "coresignal: set coresignal.filters or coresignal.job_ids "
                "(a request without either would buy everything)"
            )
            raise ConfigValidationError(msg, errors=[msg])
        response = self.send(request)
        try:
            answer = json.loads(self.read_page(response))
        except ValueError:
            answer = None
        except TRANSPORT_ERRORS as exc:
            # Not sent again: the request may be paid for, and its id is unknown.
            msg = (
                f"coresignal stream '{self.name}': the data request was sent (credits may have been charged) but "
                f"its answer broke ({type(exc).__name__}); check the Coresignal dashboard before running again"
            )
            raise CoresignalError(msg) from exc
        finally:
            response.close()
        request_id = None
        if isinstance(answer, dict):
            request_id = answer.get("request_id") or answer.get("data_request_id")
        if not request_id:
            msg = (
                f"coresignal stream '{self.name}': the data request was accepted (credits may have been charged) "
                "but its answer names no request_id; check the Coresignal dashboard before running again"
            )
            raise CoresignalError(msg)
        pending: dict[str, t.Any] = {"id": str(request_id), "files_done": []}
        self.stream_state[PENDING] = pending
        self.emit_state()  # before anything else: the request is paid for
        self.logger.info(
            "coresignal: created data request %s (%s); its id is in state, so an interrupted run resumes it",
            request_id,
            "id_file" if job_ids else "filter",
        )
        return pending

    def list_files(self, request_id: str) -> list[str]:
        """The request's file names; empty until the request is ready."""
        url = f"{self.url_base}/v1/bulk_collect/{quote(request_id, safe='')}/files"
        where = f"coresignal stream '{self.name}': the file list of data request {request_id}"

        def read(response: requests.Response) -> Iterator[t.Any]:
            try:
                yield json.loads(self.read_page(response))
            except ValueError:
                yield None

        # A GET: a body that breaks is simply asked for again.
        [answer] = self.resumable(lambda: self.send(HTTPRequest(url=url, method="GET")), read, where=where)
        names = answer.get("data_request_files") if isinstance(answer, dict) else None
        if names is None:
            msg = f"{where} has no data_request_files"
            raise CoresignalError(msg)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            msg = f"{where} is not a list of names"
            raise CoresignalError(msg)
        return list(dict.fromkeys(names))

    def wait_for_files(self, request_id: str) -> list[str]:
        """Poll every ``poll_interval_seconds`` until files are listed, up to ``poll_timeout_seconds``."""
        interval = float(self.settings["poll_interval_seconds"])
        timeout = float(self.settings["poll_timeout_seconds"])
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            polls += 1
            try:
                names = self.list_files(request_id)
            except FatalAPIError as exc:
                msg = (
                    f"{exc}. The data request {request_id} stays in state: the next run resumes it without "
                    "paying again (remove bookmarks.bulk_jobs.pending_request from the state to give it up)."
                )
                raise CoresignalError(msg) from exc
            if names:
                self.logger.info("coresignal: data request %s is ready: %d file(s)", request_id, len(names))
                return names
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = (
                    f"coresignal: data request {request_id} was not ready after {timeout:g}s ({polls} polls; "
                    "coresignal.poll_timeout_seconds). Its id stays in state: the next run resumes it "
                    "without paying again."
                )
                raise CoresignalError(msg)
            time.sleep(min(interval, remaining))

    def file_jobs(self, pending: dict[str, t.Any], file_name: str) -> Iterator[dict[str, t.Any]]:
        """The jobs of one file, streamed.

        After a broken transfer the file is fetched again and the jobs already taken (by
        this run, or by the run that state comes from) are skipped.
        """
        request_id = pending["id"]
        url = self.url_base + file_url_path(request_id, file_name)
        where = f"coresignal stream '{self.name}': file {file_name!r} of data request {request_id}"
        if pending.get("current_file") != file_name:
            pending["current_file"] = file_name
            pending["current_file_records"] = 0
        taken = int(pending.get("current_file_records") or 0)
        if taken:
            self.logger.info("%s: resuming after its first %d records", where, taken)

        def open_body() -> requests.Response:
            return self.send(HTTPRequest(url=url, method="GET"))

        def read(response: requests.Response) -> Iterator[dict[str, t.Any]]:
            nonlocal taken
            encoding = response.headers.get("Content-Encoding", "")
            number = 0
            for line in body_lines(self.body_chunks(response, where), where, content_encoding=encoding):
                number += 1
                if number <= taken:
                    continue
                job = parse_job(line, where, number, self.logger)
                taken = number
                pending["current_file_records"] = taken  # before the yield: a STATE follows the record
                yield job

        yield from self.resumable(open_body, read, where=where)

    def body_chunks(self, response: requests.Response, where: str) -> Iterator[bytes]:
        """A response body in chunks, counted in the stream's stats."""
        try:
            for chunk in response.iter_content(READ_CHUNK_BYTES):
                self.stats.bytes += len(chunk)
                yield chunk
        except requests.exceptions.ContentDecodingError as exc:
            msg = f"{where} could not be decoded ({type(exc).__name__})"
            raise CorruptFileError(msg) from exc

    def probe(self) -> None:
        """Check the connection and the token without paying: list the files of no request.

        A 404 is the expected answer; a refused token fails as every call does.
        """
        url = f"{self.url_base}/v1/bulk_collect/tap-hrdata-connection-test/files"
        response = self.requests_session.send(
            self.authenticator(self.build_prepared_request(method="GET", url=url)), timeout=self.timeout
        )
        if response.status_code == HTTPStatus.NOT_FOUND:
            self.stats.api_calls += 1
            response.close()
            return
        self.validate_response(response)
        response.close()

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Create (or resume) the data request, wait for its files, emit each file once."""
        pending = self.pending_request()
        if pending is None and self.ABORT_AT_RECORD_COUNT is not None:
            # A dry run (--test, the SDK's connection test) must not buy a data request.
            self.probe()
            self.logger.info("coresignal: dry run: connection and token checked, no paid data request created")
            return
        if pending is None:
            pending = self.create_request(context)
        else:
            self.logger.info(
                "coresignal: resuming data request %s from state (%d file(s) already emitted); nothing is paid again",
                pending["id"],
                len(pending["files_done"]),
            )
        highest = parse_vendor_time(pending.get("max_last_updated"))
        for name in self.wait_for_files(pending["id"]):
            if name in pending["files_done"]:
                continue
            for job in self.file_jobs(pending, name):
                record = self.job_record(job, pending["id"])
                value = parse_vendor_time(record.get(self.replication_key or ""))
                if value is not None and (highest is None or value > highest):
                    highest = value
                    pending["max_last_updated"] = value.isoformat()
                yield record
            pending["files_done"].append(name)
            pending.pop("current_file", None)
            pending.pop("current_file_records", None)
            self.stats.files += 1
            self.emit_state()  # the file is emitted: a resumed run skips it
        self.finish_request(pending)
        self.logger.info("coresignal: data request %s fully emitted", pending["id"])

    def job_record(self, job: dict[str, t.Any], request_id: str) -> dict[str, t.Any]:
        """The stream's record for one job."""
        raise NotImplementedError
