"""Visma YouServe File API (subscriber): the token, safe filters, listing pages, chunked downloads.

Every call carries the bearer token, the ``x-raet-tenant-id`` header and ``role=subscriber``.
Downloads never hold more than one chunk: a file at or under ``chunk_size_bytes`` is
streamed from one GET into storage; a larger one is fetched after a HEAD as consecutive
``Range`` requests, each chunk checked (status, ``Content-Range``, length) before it is
appended, and a broken chunk is asked for again from its own first byte.
"""

from __future__ import annotations

import functools
import json
import re
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from urllib.parse import quote

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.pagination import PageNumberPaginator
from singer_sdk.streams.rest import HTTPRequest

from tap_hrdata.auth import ClientCredentialsAuthenticator
from tap_hrdata.http import BrokenBodyError, ConductedStream, decode_text
from tap_hrdata.settings import global_settings, source_settings

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.storage import PartialFile, StoredFile
    from tap_hrdata.tap import TapHrData

SOURCE_NAME = "youserve"
FILES_PATH = "/fileapi/v1.0/files"
READ_BYTES = 64 * 1024
MAX_PAGE_SIZE = 1000
MAX_BUSINESS_TYPE = 2**63 - 1
OCTET_STREAM = "application/octet-stream"

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+)\s*", re.ASCII)


class FileDataError(FatalAPIError):
    """A listing entry or file body that cannot be trusted: the file is an error, not a record."""


def make_authenticator(tap: TapHrData) -> ClientCredentialsAuthenticator:
    """The run's one YouServe token (``POST {youserve.token_url}``, no scope)."""
    settings = source_settings(tap.config, SOURCE_NAME)
    return ClientCredentialsAuthenticator(
        source=SOURCE_NAME,
        token_url=str(settings["token_url"]),
        client_id=settings["client_id"],
        client_secret=settings["client_secret"],
        scheme="Bearer",
        timeout=float(global_settings(tap.config)["request_timeout_seconds"]),
    )


# ---- dates and filters ---------------------------------------------------------------


def parse_datetime(text: str) -> datetime:
    """An ISO/OData date-time as an aware UTC datetime (no offset means UTC; digits past µs dropped)."""
    match = _DATETIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        msg = f"not a date-time: {text!r}"
        raise ValueError(msg)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    tz = timezone.utc
    if offset and offset not in {"Z", "z"}:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "")[:6].ljust(6, "0")),
        tzinfo=tz,
    )
    return moment.astimezone(timezone.utc)


def record_datetime(moment: datetime) -> str:
    """The record's (and bookmark's) form of a date: one fixed format, so strings sort as dates."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def odata_datetime(moment: datetime) -> str:
    """A filter literal as the vendor's examples write it (``2020-05-19T08:42:47.400Z``).

    Milliseconds, truncated: a lower bound (``ge``) built from it never excludes the moment.
    """
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def business_type_ids(value: object) -> tuple[int, ...]:
    """The configured business types as integers (sorted, unique), refusing anything else.

    They are written into ``$filter``: only plain integers get there, so a configured value
    can never add a clause.
    """
    if value in (None, ""):
        return ()
    if not isinstance(value, (list, tuple)):
        msg = "youserve.business_types must be a list of integer business type ids"
        raise ConfigValidationError(msg, errors=[msg])
    ids: set[int] = set()
    for item in value:
        number: int | None = None
        if isinstance(item, int) and not isinstance(item, bool):
            number = item
        elif isinstance(item, float) and item.is_integer():
            number = int(item)
        if number is None or not 0 <= number <= MAX_BUSINESS_TYPE:
            msg = f"youserve.business_types: {item!r} is not a business type id (a non-negative integer)"
            raise ConfigValidationError(msg, errors=[msg])
        ids.add(number)
    return tuple(sorted(ids))


def listing_filter(
    *,
    status: str,
    business_types: Iterable[int] = (),
    since: datetime | None = None,
    before: datetime | None = None,
) -> str:
    """An OData ``$filter`` from validated values only: a status, integers and dates we format.

    ``status eq 'all' and (businessType eq 7101 or businessType eq 8000) and uploadDate ge ...``
    """
    if status not in {"all", "downloaded", "available"}:
        msg = f"unknown listing status {status!r}"
        raise ValueError(msg)
    clauses = [f"status eq '{status}'"]
    types = [int(bt) for bt in business_types]  # int(): never a string into the filter
    if types:
        clauses.append("(" + " or ".join(f"businessType eq {bt:d}" for bt in types) + ")")
    if since is not None:
        clauses.append(f"uploadDate ge {odata_datetime(since)}")
    if before is not None:
        clauses.append(f"uploadDate lt {odata_datetime(before)}")
    return " and ".join(clauses)


# ---- listing entries -----------------------------------------------------------------


@dataclass(frozen=True)
class ListedFile:
    """One listing entry, checked: what a download and a record need."""

    file_id: str
    file_name: str | None
    size: int
    tenant_id: str | None
    business_type_id: int
    business_type_name: str | None
    publisher_id: str | None
    uploaded: datetime
    raw: dict[str, t.Any]

    @property
    def upload_date(self) -> str:
        """The upload date as records and bookmarks carry it."""
        return record_datetime(self.uploaded)

    @classmethod
    def from_entry(cls, entry: object, where: str = "youserve") -> ListedFile:
        """Check an entry: an id, a size, a business type and an upload date are required.

        ``where`` (the source and stream) starts every error message.
        """
        if not isinstance(entry, dict):
            msg = f"{where}: a listing entry is not an object: {type(entry).__name__}"
            raise FileDataError(msg)
        file_id = entry.get("fileId")
        if not isinstance(file_id, str) or not file_id:
            msg = f"{where}: a listing entry has no fileId"
            raise FileDataError(msg)
        if file_id in {".", ".."}:  # the one id that quoting leaves able to walk a URL or a path
            msg = f"{where}: a listing entry's fileId {file_id!r} is not an id"
            raise FileDataError(msg)
        size = entry.get("fileSize")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            msg = f"{where}: file {file_id}: fileSize {size!r} is not a size"
            raise FileDataError(msg)
        business_type = entry.get("businessType")
        type_id = business_type.get("id") if isinstance(business_type, dict) else None
        try:
            business_type_id = int(type_id)  # type: ignore[arg-type]  # checked just below
        except (TypeError, ValueError):
            business_type_id = -1
        if isinstance(type_id, bool) or business_type_id < 0:
            msg = f"{where}: file {file_id}: businessType.id {type_id!r} is not an id"
            raise FileDataError(msg)
        try:
            uploaded = parse_datetime(entry.get("uploadDate"))  # type: ignore[arg-type]  # str checked inside
        except ValueError as exc:
            msg = f"{where}: file {file_id}: uploadDate {entry.get('uploadDate')!r} is not a date-time"
            raise FileDataError(msg) from exc
        name = business_type.get("name") if isinstance(business_type, dict) else None
        return cls(
            file_id=file_id,
            file_name=_text(entry.get("fileName")),
            size=size,
            tenant_id=_text(entry.get("tenantId")),
            business_type_id=business_type_id,
            business_type_name=_text(name),
            publisher_id=_text(entry.get("publisherId")),
            uploaded=uploaded,
            raw=entry,
        )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class ListingPaginator(PageNumberPaginator):
    """``pageIndex`` from 0; stops on a short page or once ``count`` entries were paged past."""

    def __init__(self, page_size: int) -> None:
        super().__init__(0)
        self.page_size = page_size

    def has_more(self, response: requests.Response) -> bool:
        """More pages unless this one is short or ``count`` says we are done."""
        payload = response.json()
        data = payload.get("data") if isinstance(payload, dict) else None
        count = payload.get("count") if isinstance(payload, dict) else None
        if not isinstance(data, list) or len(data) < self.page_size:
            return False
        return not (isinstance(count, int) and (self.current_value + 1) * self.page_size >= count)


# ---- the base stream -----------------------------------------------------------------


class YouserveStream(ConductedStream[t.Any]):
    """Base of the YouServe streams: headers, role, listing, downloads and deletes."""

    source = SOURCE_NAME
    path = FILES_PATH

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.settings
        # Checked once, when the stream is built (discovery), so a bad value fails the run early.
        self.business_types = business_type_ids(settings.get("business_types"))
        self.page_size = _int_setting(settings, "page_size", 1, MAX_PAGE_SIZE)
        self.chunk_size = _int_setting(settings, "chunk_size_bytes", 1, 2**40)

    @property
    def http_headers(self) -> dict[str, str]:
        """The tenant header (the token is added by the authenticator)."""
        return {
            **super().http_headers,
            "x-raet-tenant-id": str(self.settings["tenant_id"]),
            "Accept": "application/json",
        }

    def file_request(self, method: str, file_id: str, headers: Mapping[str, str] | None = None) -> HTTPRequest:
        """A request on one file; its id is quoted as one path segment."""
        return HTTPRequest(
            url=f"{self.url_base}{FILES_PATH}/{quote(file_id, safe='')}",
            method=method,
            params={"role": "subscriber"},
            headers={**self.http_headers, "Accept": OCTET_STREAM, **(headers or {})},
        )

    def validate_response(self, response: requests.Response) -> None:
        """As the base, but a 404 on DELETE (already gone) and a 416 on a ranged GET are answers."""
        request = response.request
        method = request.method if request is not None else None
        status = response.status_code
        ranged = request is not None and "Range" in request.headers
        if (status == HTTPStatus.NOT_FOUND and method == "DELETE") or (
            status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE and method == "GET" and ranged
        ):
            self.stats.api_calls += 1
            if (accepted := getattr(self.authenticator, "note_accepted", None)) is not None:
                accepted()
            return
        super().validate_response(response)

    # ---- listing -------------------------------------------------------------------

    def iter_listing(self, context: Context | None, odata_filter: str) -> Iterator[dict[str, t.Any]]:
        """Entries of ``GET /files`` for ``odata_filter``, oldest upload first, page by page."""
        paginator = ListingPaginator(self.page_size)
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            while not paginator.finished:
                request = HTTPRequest(
                    url=self.get_url(context),
                    headers=self.http_headers,
                    params={
                        "role": "subscriber",
                        "pageIndex": paginator.current_value,
                        "pageSize": self.page_size,
                        "$filter": odata_filter,
                        "$orderBy": "uploadDate asc",
                    },
                    safe_query_chars="$",
                )

                def open_body(request: HTTPRequest = request) -> requests.Response:
                    request_counter.increment()
                    return self.send(request)

                [(response, data)] = list(self.resumable(open_body, self._read_page, where="file listing"))
                yield from data
                paginator.advance(response)

    def _read_page(self, response: requests.Response) -> Iterator[tuple[requests.Response, list[t.Any]]]:
        """A listing page read whole; a body that breaks or is not JSON is asked for again."""
        where = f"youserve stream '{self.name}': the file listing"
        try:
            payload = json.loads(decode_text(self.read_page(response), where=where, logger=self.logger))
        except ValueError as exc:  # a truncated body decodes badly too
            msg = f"youserve stream '{self.name}': the file listing is not JSON"
            raise BrokenBodyError(msg) from exc
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            msg = f"youserve stream '{self.name}': the file listing has no 'data' array"
            raise FileDataError(msg)
        yield response, data

    # ---- downloads -----------------------------------------------------------------

    def download(self, listed: ListedFile, segments: tuple[object, ...]) -> StoredFile:
        """Store a file's bytes under ``segments``; its size must match the listing (and HEAD)."""
        if listed.size <= self.chunk_size:
            stored = self._download_whole(listed, segments)
            self.stats.bytes += stored.size
        else:
            stored = self._download_ranged(listed, segments)  # counts its bytes chunk by chunk
        self.stats.files += 1
        return stored

    def _where(self, listed: ListedFile, first: int | None = None, last: int | None = None) -> str:
        span = f" bytes {first}-{last}" if first is not None else ""
        return f"file {listed.file_id}{span}"

    def _download_whole(self, listed: ListedFile, segments: tuple[object, ...]) -> StoredFile:
        """One GET streamed into storage; a broken body starts the file (its only chunk) again."""
        parts: list[PartialFile] = []

        def open_body() -> requests.Response:
            if parts:
                parts.pop().abort()
            parts.append(self._tap.storage.open_part(segments))
            return self.send(self.file_request("GET", listed.file_id))

        def read(response: requests.Response) -> Iterator[int]:
            part = parts[-1]
            if response.status_code != HTTPStatus.OK:
                msg = f"{self._where(listed)}: HTTP {response.status_code} to a plain GET"
                raise BrokenBodyError(msg)
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.strip() != str(listed.size):
                msg = (
                    f"youserve stream '{self.name}': {self._where(listed)}: Content-Length {announced} "
                    f"differs from the listed fileSize {listed.size}"
                )
                raise FileDataError(msg)
            for piece in response.iter_content(READ_BYTES):
                if part.size + len(piece) > listed.size:
                    msg = (
                        f"youserve stream '{self.name}': {self._where(listed)}: the body is longer than "
                        f"the listed fileSize {listed.size}"
                    )
                    raise FileDataError(msg)
                part.append(piece)
            if part.size != listed.size:
                msg = f"{self._where(listed)}: body ended after {part.size} of {listed.size} bytes"
                raise BrokenBodyError(msg)
            yield part.size

        try:
            for _ in self.resumable(open_body, read, where=self._where(listed)):
                pass
        except BaseException:
            if parts:
                parts.pop().abort()
            raise
        return parts.pop().commit()

    def _download_ranged(self, listed: ListedFile, segments: tuple[object, ...]) -> StoredFile:
        """HEAD, then one Range request per chunk; each chunk is checked before it is stored."""
        head = self.send(self.file_request("HEAD", listed.file_id))
        head.close()
        length = head.headers.get("Content-Length", "").strip()
        if length != str(listed.size):
            msg = (
                f"youserve stream '{self.name}': {self._where(listed)}: HEAD gives Content-Length "
                f"{length or 'none'} but the listing says fileSize {listed.size}"
            )
            raise FileDataError(msg)
        units = {unit.strip().lower() for unit in head.headers.get("Accept-Ranges", "").split(",")}
        if "bytes" not in units:
            self.logger.warning(
                "youserve stream '%s': %s: no byte ranges offered, downloading in one streamed GET",
                self.name,
                self._where(listed),
            )
            stored = self._download_whole(listed, segments)
            self.stats.bytes += stored.size
            return stored
        part = self._tap.storage.open_part(segments)
        try:
            for first in range(0, listed.size, self.chunk_size):
                last = min(first + self.chunk_size, listed.size) - 1
                for pieces in self.resumable(
                    functools.partial(self._open_range, listed, first, last),
                    functools.partial(self._read_range, listed, part, first, last),
                    where=self._where(listed, first, last),
                ):
                    for piece in pieces:
                        part.append(piece)
                    pieces.clear()  # one chunk in memory, not this one and the next
                    self.stats.bytes += last - first + 1  # progress lines during a long file
        except BaseException:
            part.abort()
            raise
        if part.size != listed.size:
            part.abort()
            where = self._where(listed)
            msg = f"youserve stream '{self.name}': {where}: got {part.size} of {listed.size} bytes"
            raise FileDataError(msg)
        return part.commit()

    def _open_range(self, listed: ListedFile, first: int, last: int) -> requests.Response:
        return self.send(self.file_request("GET", listed.file_id, {"Range": f"bytes={first}-{last}"}))

    def _read_range(
        self, listed: ListedFile, part: PartialFile, first: int, last: int, response: requests.Response
    ) -> Iterator[list[bytes]]:
        """The bytes ``first..last`` in memory (one chunk at most), checked, as one item."""
        where = self._where(listed, first, last)
        status = response.status_code
        if status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
            if part.size == listed.size:  # the end of a file whose bytes are all here
                return
            msg = (
                f"youserve stream '{self.name}': {where}: range not satisfiable after {part.size} of "
                f"{listed.size} bytes (the file is shorter than listed)"
            )
            raise FileDataError(msg)
        if status != HTTPStatus.PARTIAL_CONTENT:
            # A 200 would be the whole file: it is not read (memory), the chunk is asked again.
            msg = f"{where}: HTTP {status} instead of 206 Partial Content"
            raise BrokenBodyError(msg)
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match is None or tuple(int(g) for g in match.groups()) != (first, last, listed.size):
            answered = response.headers.get("Content-Range")
            msg = f"{where}: Content-Range {answered!r} is not bytes {first}-{last}/{listed.size}"
            raise BrokenBodyError(msg)
        expected = last - first + 1
        pieces: list[bytes] = []
        received = 0
        for piece in response.iter_content(READ_BYTES):
            received += len(piece)
            if received > expected:
                msg = f"{where}: the chunk is longer than {expected} bytes"
                raise BrokenBodyError(msg)
            pieces.append(piece)
        if received != expected:
            msg = f"{where}: the chunk ended after {received} of {expected} bytes"
            raise BrokenBodyError(msg)
        yield pieces

    # ---- deletes -------------------------------------------------------------------

    def delete_file(self, file_id: str) -> bool:
        """``DELETE /files/{id}`` for our subscriber only: True if deleted, False if already gone."""
        response = self.send(self.file_request("DELETE", file_id))
        response.close()
        return response.status_code != HTTPStatus.NOT_FOUND

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """Unused: the listing is paged by :meth:`iter_listing`."""
        raise NotImplementedError


def _int_setting(settings: Mapping[str, t.Any], name: str, low: int, high: int) -> int:
    value = settings.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        msg = f"youserve.{name} must be an integer from {low} to {high}, got {value!r}"
        raise ConfigValidationError(msg, errors=[msg])
    return value
