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
"""

from __future__ import annotations

import copy
import json
import time
import typing as t

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override
from urllib3 import encode_multipart_formdata

from tap_hrdata.http.retry import RETRIABLE
from tap_hrdata.sources.coresignal import schemas
from tap_hrdata.sources.coresignal.client import (
    FILTER_PATH,
    ID_FILE_PATH,
    CoresignalClient,
    CoresignalError,
    CorruptFileError,
    body_lines,
    parse_job,
    vendor_time,
)
from tap_hrdata.streams import VendorStream
from tap_hrdata.values import flag, integer, iso_timestamp, text, utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

SCHEMAS = SchemaDirectory(schemas)
#: State key of the request being collected.
PENDING = "pending_request"
READ_CHUNK_BYTES = 1 << 16


class BulkJobsStream(VendorStream):
    """Job postings of one data request per run: typed columns plus the job as ``raw``.

    Files hold jobs in no particular order of ``last_updated``, hence ``is_sorted = False``:
    the bookmark moves only once the whole request is emitted.
    """

    name = "bulk_jobs"
    primary_keys = ("id",)
    replication_key = "last_updated"
    is_sorted = False
    schema = StreamSchema(SCHEMAS)

    @property
    @override
    def client(self) -> CoresignalClient:
        """The run's Coresignal client."""
        return self._tap.client(CoresignalClient)

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the highest ``last_updated`` of the request is the bookmark.

        A data request is a snapshot taken at its POST, so that value is safe as it is;
        capping it at the local clock would only make the next run pay again for
        postings stamped ahead of that clock.
        """
        return

    # ---- state ---------------------------------------------------------------------------

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

    def request_body(self, context: Context | None) -> dict[str, t.Any]:
        """The filter request: configured filters, ``last_updated_gte`` from the bookmark, limit, webhook."""
        settings = self.settings
        filters = dict(settings.get("filters") or {})
        start = self.get_starting_timestamp(context)
        if start is not None:
            configured = filters.get("last_updated_gte")
            if configured is not None:
                parsed = utc_timestamp(configured)
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
        base = self.client.base_url
        if job_ids:
            ids = "".join(f"{int(job_id)}\n" for job_id in job_ids)
            data, content_type = encode_multipart_formdata({"file": ("job_ids.txt", ids, "text/plain")})
            request = HTTPRequest(
                url=base + ID_FILE_PATH, method="POST", headers={"Content-Type": content_type}, data=data
            )
        elif settings.get("filters"):
            request = HTTPRequest(
                url=base + FILTER_PATH,
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
        pending: dict[str, t.Any] = {"id": str(request_id), "files_done": []}
        self.stream_state[PENDING] = pending
        self.emit_state()  # before anything else: the request is paid for
        self.logger.info(
            "coresignal: created data request %s (%s); its id is in state, so an interrupted run resumes it",
            request_id,
            "id_file" if job_ids else "filter",
        )
        return pending

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

    def list_files(self, request_id: str) -> list[str]:
        """The request's file names; empty until the request is ready."""
        answer = self.client.json(HTTPRequest(url=self.client.files_url(request_id)), stream=self.name).json()
        where = f"coresignal stream '{self.name}': the file list of data request {request_id}"
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
        url = self.client.file_url(request_id, file_name)
        where = f"file {file_name!r} of data request {request_id}"
        if pending.get("current_file") != file_name:
            pending["current_file"] = file_name
            pending["current_file_records"] = 0
        taken = int(pending.get("current_file_records") or 0)
        if taken:
            self.logger.info("coresignal stream '%s': %s: resuming after its first %d records", self.name, where, taken)

        def read(response: requests.Response) -> Iterator[dict[str, t.Any]]:
            nonlocal taken
            encoding = response.headers.get("Content-Encoding", "")
            number = 0
            for line in body_lines(self.body_chunks(response, where), where, content_encoding=encoding):
                number += 1
                if number <= taken:
                    continue
                job = parse_job(line, f"coresignal stream '{self.name}': {where}", number, self.logger)
                taken = number
                pending["current_file_records"] = taken  # before the yield: a STATE follows the record
                yield job

        # The reader's messages name the file (`where`); a transport failure names its path.
        yield from self.client.body(lambda: HTTPRequest(url=url), read, stream=self.name)

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

    def probe(self) -> None:
        """Check the connection and the token without paying: list the files of no request.

        A 404 is the expected answer; a refused token fails as every call does.
        """
        self.client.call(
            HTTPRequest(url=self.client.files_url("tap-hrdata-connection-test")),
            lambda response: response.status_code,
            stream=self.name,
            answers={404},
        )

    @override
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
        highest = utc_timestamp(pending.get("max_last_updated"))
        for name in self.wait_for_files(pending["id"]):
            if name in pending["files_done"]:
                continue
            for job in self.file_jobs(pending, name):
                record = self.job_record(job, pending["id"])
                value = utc_timestamp(record.get("last_updated"))
                if value is not None and (highest is None or value > highest):
                    highest = value
                    pending["max_last_updated"] = value.isoformat()
                yield record
            pending["files_done"].append(name)
            pending.pop("current_file", None)
            pending.pop("current_file_records", None)
            self.stats.add(files=1)
            self.emit_state()  # the file is emitted: a resumed run skips it
        self.finish_request(pending)
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
