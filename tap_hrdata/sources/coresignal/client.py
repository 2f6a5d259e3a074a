"""Coresignal Bulk Collect: the client (a fixed token, 27 requests/s), the paths, gzip JSON Lines.

A data request is paid when it is created (``POST .../bulk_collect/filter`` or
``.../id_file``); its files are gzip JSON Lines, streamed: inflated and split into lines
chunk by chunk, one job at a time, never a whole file in memory.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import datetime, timezone
from http import HTTPStatus
from types import MappingProxyType
from urllib.parse import quote

from singer_sdk.exceptions import FatalAPIError
from typing_extensions import override

from tap_hrdata.http.auth import StaticBearerToken
from tap_hrdata.http.client import VendorClient
from tap_hrdata.http.retry import BrokenBodyError
from tap_hrdata.http.throttle import RateLimiter
from tap_hrdata.inflate import GZIP, InflateError, inflate
from tap_hrdata.jsondecode import decode_json

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_hrdata.http.auth import SourceAuthenticator
    from tap_hrdata.http.throttle import Throttle

FILTER_PATH = "/v1/professional_network/job/bulk_collect/filter"
ID_FILE_PATH = "/v1/professional_network/job/bulk_collect/id_file"
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


class CoresignalClient(VendorClient):
    """The Coresignal client: the API token, and one rate limiter for every call of the run."""

    source = "coresignal"

    @override
    def make_authenticator(self) -> SourceAuthenticator:
        """``Authorization: Bearer <api_token>``."""
        return StaticBearerToken(str(self.settings["api_token"]))

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
                "an identical data request is already in progress, but this run's state names "
                "no pending request: the state of an interrupted run was lost. Find the request's id (that "
                "run's log says 'created data request <id>', or see the Coresignal dashboard) and set "
                'bookmarks.bulk_jobs.pending_request to {"id": "<id>"} in the state to resume it without '
                "paying again, or change the filters"
            )
        return None

    def files_url(self, request_id: str) -> str:
        """The URL listing a data request's files."""
        return f"{self.base_url}/v1/bulk_collect/{quote(request_id, safe='')}/files"

    def file_url(self, request_id: str, file_name: str) -> str:
        """The download URL of a file: each ``/``-separated part of its name one quoted segment.

        Names come from the server: empty, ``.`` or ``..`` segments and backslashes are
        refused, so a name can only ever address a file of its own data request.
        """
        segments = file_name.split("/")
        if not file_name or any(s in ("", ".", "..") or "\\" in s for s in segments):
            msg = f"coresignal: data request {request_id} lists an unsafe file name {file_name!r}"
            raise CoresignalError(msg)
        return f"{self.files_url(request_id)}/{'/'.join(quote(segment, safe='') for segment in segments)}"


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
    rest = iter(chunks)
    head = b""
    for chunk in rest:  # the first two bytes tell gzip from anything else
        head += chunk
        if len(head) >= len(_GZIP_MAGIC):
            break
    body = _chain(head, rest)
    if not head or head.startswith(_GZIP_MAGIC):
        yield from split_lines(gunzip(body, where), where)
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
        job = decode_json(line, where=f"{where}, record {number}", logger=logger or LOGGER)
    except ValueError as exc:
        msg = f"{where}, record {number}: not valid JSON ({exc})"
        raise CoresignalError(msg) from exc
    if not isinstance(job, dict) or job.get("id") in (None, ""):
        msg = f"{where}, record {number}: not a job object with an id"
        raise CoresignalError(msg)
    return job
