"""Coresignal Bulk Collect: the client (two API generations, 27 requests/s), the answers, gzip JSON Lines.

A data request is paid when it is created (``POST .../filter`` or ``.../id_file``); its
files are gzip JSON Lines, streamed: inflated and split into lines chunk by chunk, one
job at a time, never a whole file in memory.

Two generations of the API, chosen by the credential configured:

- ``coresignal.api_key`` (current accounts): header ``apikey``, paths
  ``/v2/data_requests/job_base/{filter,id_file}`` and ``/v2/data_requests/{id}/files[/{name}]``,
  the id file uploaded as multipart field ``ids_file``;
- ``coresignal.api_token`` (the seed docs' JWT): ``Authorization: Bearer``, paths
  ``/v1/professional_network/job/bulk_collect/...`` and ``/v1/bulk_collect/{id}/files[/{name}]``,
  multipart field ``file``.
"""

from __future__ import annotations

import enum
import logging
import re
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from types import MappingProxyType
from urllib.parse import quote

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_hrdata.http.auth import StaticBearerToken, StaticHeaders
from tap_hrdata.http.client import PREFLIGHT, VendorClient
from tap_hrdata.http.redaction import excerpt
from tap_hrdata.http.retry import BrokenBodyError
from tap_hrdata.http.throttle import RateLimiter
from tap_hrdata.inflate import GZIP, InflateError, inflate
from tap_hrdata.jsondecode import JsonTooDeepError, decode_json

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_hrdata.http.auth import SourceAuthenticator
    from tap_hrdata.http.throttle import Throttle

#: Most records one Bulk Collect data request may deliver; larger ones are refused while collecting.
RECORD_CAP = 10_000
#: Days the vendor keeps a data request's files.
FILES_KEPT_DAYS = 30
#: The data request the preflight asks the files of: none has this id (a well-formed UUID, so
#: the gateway lets the call reach the credential check).
PREFLIGHT_REQUEST_ID = "00000000-0000-0000-0000-000000000000"
#: The vendor's timestamp format, used in filters: "2025-06-14 17:42:28" (UTC).
VENDOR_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

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
    """A downloaded file that is not a complete gzip stream (downloaded again, then fatal)."""


@dataclass(frozen=True)
class Generation:
    """What differs between the two generations of the API: paths and the id file's field."""

    name: str
    filter_path: str
    id_file_path: str
    requests_path: str  # + /{id}/files
    id_file_field: str


V1 = Generation(
    name="v1",
    filter_path="/v1/professional_network/job/bulk_collect/filter",
    id_file_path="/v1/professional_network/job/bulk_collect/id_file",
    requests_path="/v1/bulk_collect",
    id_file_field="file",
)
V2 = Generation(
    name="v2",
    filter_path="/v2/data_requests/job_base/filter",
    id_file_path="/v2/data_requests/job_base/id_file",
    requests_path="/v2/data_requests",
    id_file_field="ids_file",
)
GENERATIONS = MappingProxyType({generation.name: generation for generation in (V1, V2)})


class CoresignalClient(VendorClient):
    """The Coresignal client: the credential of one API generation, one rate limiter for every call."""

    source = "coresignal"

    @property
    def generation(self) -> Generation:
        """v2 with ``api_key``, v1 with ``api_token``."""
        return V2 if self.settings.get("api_key") else V1

    @override
    def make_authenticator(self) -> SourceAuthenticator:
        """``apikey: <api_key>`` (v2) or ``Authorization: Bearer <api_token>`` (v1)."""
        if self.generation is V2:
            return StaticHeaders("apikey", str(self.settings["api_key"]))
        return StaticBearerToken(str(self.settings["api_token"]))

    @override
    def problems(self) -> list[str]:
        """A request must say what it buys, and an id file must fit one data request."""
        ids = self.settings.get("job_ids") or []
        if not ids and not self.settings.get("filters"):
            return [
                "coresignal: set coresignal.filters or coresignal.job_ids "
                "(a request without either would buy everything)"
            ]
        if len(ids) > RECORD_CAP:
            return [
                f"coresignal.job_ids lists {len(ids)} ids; a data request delivers at most {RECORD_CAP:,}: "
                "split them over several runs"
            ]
        return []

    @override
    def check(self) -> None:
        """The files of no request: a 404 that proves the credential, and costs no credit."""
        self.call(
            HTTPRequest(url=self.files_url(PREFLIGHT_REQUEST_ID)),
            lambda response: response.status_code,
            stream=PREFLIGHT,
            answers={404, 410, 422},
        )

    @override
    def make_throttle(self) -> Throttle:
        """``max_requests_per_second`` (27 by default, the vendor's limit), retries included."""
        return RateLimiter.per_second(
            float(self.settings["max_requests_per_second"]), margin_seconds=RATE_MARGIN_SECONDS
        )

    @override
    def failure_hint(self, status: int) -> str | None:
        """402 and 409 mean something specific to a paid data request."""
        if status == HTTPStatus.PAYMENT_REQUIRED:
            return "insufficient Coresignal credits: nothing was collected; add credits or lower coresignal.limit"
        if status == HTTPStatus.CONFLICT:
            return (
                "an identical data request is already in progress, but neither this run's state nor the "
                "journal under files_storage_url (coresignal/requests) names it: was files_storage_url changed "
                "or cleared? Find the request's id (the paying "
                "run's log says 'created data request <id>', or see the Coresignal dashboard) and set "
                'bookmarks.bulk_jobs.pending_request to {"id": "<id>"} in the state to resume it without '
                "paying again, or change the filters"
            )
        return None

    def files_url(self, request_id: str, generation: Generation | None = None) -> str:
        """The URL listing a data request's files (of the generation that made it)."""
        generation = generation or self.generation
        return f"{self.base_url}{generation.requests_path}/{quote(request_id, safe='')}/files"

    def file_url(self, request_id: str, file_name: str, generation: Generation | None = None) -> str:
        """The download URL of a file: each ``/``-separated part of its name one quoted segment.

        Names come from the server: empty, ``.`` or ``..`` segments and backslashes are
        refused, so a name can only ever address a file of its own data request.
        """
        segments = file_name.split("/")
        if not file_name or any(s in ("", ".", "..") or "\\" in s for s in segments):
            msg = f"coresignal: data request {request_id} lists an unsafe file name {file_name!r}"
            raise CoresignalError(msg)
        quoted = "/".join(quote(segment, safe="") for segment in segments)
        return f"{self.files_url(request_id, generation)}/{quoted}"


# ---- the answers of the files endpoint ---------------------------------------------------------


class FilesState(enum.Enum):
    """What the files endpoint says of a data request."""

    READY = "ready"
    PROCESSING = "processing"
    NO_MATCH = "no match"
    OVER_CAP = "over the record cap"
    NO_CREDITS = "insufficient credits"
    EXPIRED = "expired (files are kept 30 days)"
    GONE = "not found"


@dataclass(frozen=True)
class FilesAnswer:
    """The files endpoint's answer, judged: its state, the file names when ready, what it said."""

    state: FilesState
    names: tuple[str, ...] = ()
    message: str = ""


#: Statuses of the files endpoint that are answers, not failures (judged by :func:`files_answer`).
FILES_ANSWER_STATUSES = frozenset({200, 202, 400, 402, 404, 410, 422, 503})
_PROCESSING = re.compile(r"still being processed|not (yet )?ready|in progress", re.IGNORECASE)
_EXPIRED = re.compile(r"30 days|expired|no longer available", re.IGNORECASE)
#: "Request matched too many IDs. Maximum is 10,000 IDs" (Coresignal's changelog), and kin.
_OVER_CAP = re.compile(r"too many|maximum is|10[ ,.]?000|record (limit|cap)|exceeds", re.IGNORECASE)


def files_answer(status: int, payload: object, where: str, secrets: Iterable[str] = ()) -> FilesAnswer:
    """Judge the files endpoint's answer, as both generations give it.

    Not ready yet is ``{"message": "Data request is still being processed"}`` (with 200,
    202 or a 4xx) or an empty ``data_request_files``; 422 means no record matched; a
    request over the 10,000-record cap is refused while collecting (400/422 whose message
    names the cap); 402 means credits ran out; 404/410, that the request is not there
    (any more: files are kept 30 days); the vendor answers an expired request with 503 and
    a message about its 30 days, any other 503 is a failure to retry. ``secrets`` are cut
    out of the vendor's message, which the tap shows.
    """
    body = payload if isinstance(payload, dict) else {}
    # The message is shown: cut out any credential a server echoes (``secrets``).
    message = excerpt(str(body.get("message") or body.get("detail") or ""), secrets)
    names = body.get("data_request_files")
    if status < 300 and isinstance(names, list) and names:
        if not all(isinstance(name, str) for name in names):
            msg = f"{where} is not a list of names"
            raise CoresignalError(msg)
        return FilesAnswer(FilesState.READY, tuple(dict.fromkeys(names)), message)
    if (status < 300 and names == []) or _PROCESSING.search(message):
        return FilesAnswer(FilesState.PROCESSING, message=message)
    if status in (400, 422) and _OVER_CAP.search(message):
        return FilesAnswer(FilesState.OVER_CAP, message=message)
    if status == 422:
        return FilesAnswer(FilesState.NO_MATCH, message=message)
    if status == 402:
        return FilesAnswer(FilesState.NO_CREDITS, message=message)
    if status in (404, 410, 503) and _EXPIRED.search(message):
        return FilesAnswer(FilesState.EXPIRED, message=message)
    if status in (404, 410):
        return FilesAnswer(FilesState.GONE, message=message)
    if status == 503:
        msg = f"{where} answered HTTP 503: {message or 'Service Unavailable'}"
        raise RetriableAPIError(msg)
    shown = f": {message}" if message else ""
    msg = f"{where} answered HTTP {status} without data_request_files{shown}"
    raise CoresignalError(msg)


# ---- values ------------------------------------------------------------------------------------


def vendor_time(value: datetime) -> str:
    """A datetime as the API's filters take it: "YYYY-MM-DD HH:MM:SS" in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(VENDOR_TIME_FORMAT)


# ---- gzip JSON Lines ---------------------------------------------------------------------------

_INFLATE_ERRORS = MappingProxyType(
    {
        "not compressed": "is not a gzip file",
        "corrupt": "is a corrupt gzip file",
        "truncated": "is a truncated gzip file (it ends before its trailer)",
        "empty": "is empty: not a gzip file",
    }
)


def gunzip(chunks: Iterable[bytes], where: str) -> Iterator[bytes]:
    """A gzip body inflated as it arrives; concatenated members are one file, as gzip(1) reads them.

    A body that is not gzip, breaks its CRC or ends before its trailer raises
    :class:`CorruptFileError` (the file is downloaded again).
    """
    try:
        yield from inflate(chunks, wbits=GZIP, step=INFLATE_CHUNK_BYTES, members=True)
    except InflateError as exc:
        msg = f"{where} {_INFLATE_ERRORS[exc.kind]}"
        raise CorruptFileError(f"{msg} ({exc})" if exc.kind == "corrupt" else msg) from exc


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
    return split_lines(body_text(chunks, where, content_encoding=content_encoding), where)


def body_text(chunks: Iterable[bytes], where: str, *, content_encoding: str = "") -> Iterator[bytes]:
    """The JSON Lines text of a downloaded file, in pieces: inflated, unless the transport already did it.

    A body that is neither gzip nor (with ``Content-Encoding: gzip``) plain JSON Lines
    raises :class:`CorruptFileError`, as does a broken gzip stream.
    """
    rest = iter(chunks)
    head = b""
    for chunk in rest:  # the first two bytes tell gzip from anything else
        head += chunk
        if len(head) >= len(_GZIP_MAGIC):
            break
    body = _chain(head, rest)
    if not head or head.startswith(_GZIP_MAGIC):
        yield from gunzip(body, where)
    elif "gzip" in content_encoding.lower() and head.lstrip()[:1] == b"{":
        yield from body
    else:
        msg = f"{where} is not a gzip file (it starts with {head[:16]!r})"
        raise CorruptFileError(msg)


def check_body(
    chunks: Iterable[bytes], where: str, *, content_encoding: str = "", max_line_bytes: int = MAX_LINE_BYTES
) -> None:
    """Read a downloaded file through, keeping nothing: what :func:`body_lines` will read without failing.

    A download is checked whole before its records are read, so a truncated or corrupt
    file (:class:`CorruptFileError`) is downloaded again by the worker that fetched it; a
    line over ``max_line_bytes`` is refused here (as :func:`split_lines` would) rather than
    inflated to its end.
    """
    run = 0  # bytes since the last line break
    for piece in body_text(chunks, where, content_encoding=content_encoding):
        newline = piece.rfind(b"\n")
        run = run + len(piece) if newline < 0 else len(piece) - newline - 1
        if run > max_line_bytes:
            msg = f"{where} holds a line longer than {max_line_bytes} bytes"
            raise CoresignalError(msg)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def parse_job(line: bytes, where: str, number: int, logger: logging.Logger | None = None) -> dict[str, t.Any]:
    """One JSON Lines record: a job object with an id.

    Bytes that are not UTF-8 become U+FFFD with a warning: the job is kept, since a paid
    file that stopped every run at one bad byte could only be given up. A record that
    cannot be read at all (not JSON, nested deeper than the decoder's limit, no id) stops
    the run naming file and record, with how to give up that one record: otherwise every
    later run would stop at it, and the paid request could only be abandoned whole.
    """
    try:
        job = decode_json(line, where=f"{where}, record {number}", logger=logger or LOGGER)
    except ValueError as exc:
        msg = f"{where}, record {number}: not valid JSON ({exc}). {_skip_hint(number)}"
        raise CoresignalError(msg) from exc
    except JsonTooDeepError as exc:
        raise CoresignalError(f"{exc}. {_skip_hint(number)}") from exc
    if not isinstance(job, dict) or job.get("id") in (None, ""):
        msg = f"{where}, record {number}: not a job object with an id. {_skip_hint(number)}"
        raise CoresignalError(msg)
    return job


def _skip_hint(number: int) -> str:
    """How to go past an unreadable record without paying again (the state's position in the file)."""
    return (
        "The data request stays in the state: the next run resumes it without paying again, and stops here "
        "again. To give up this record only, set current_file to the file named above and current_file_records "
        f"to {number} in bookmarks.bulk_jobs.pending_request of the last state (the records before it in that "
        "file were emitted already)"
    )
