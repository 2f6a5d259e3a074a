"""Visma YouServe File API (subscriber): the client, safe filters, listing pages and entries.

Every call carries the bearer token, the ``x-raet-tenant-id`` header and
``role=subscriber``. Filters are built from validated values only, so a configured value
can never add a clause to ``$filter``.
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import quote

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import PageNumberPaginator
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_hrdata.http.auth import ClientCredentials
from tap_hrdata.http.client import AnswerError, JsonResponse, VendorClient
from tap_hrdata.http.retry import retry_after_seconds
from tap_hrdata.http.throttle import SpikeArrest
from tap_hrdata.values import iso_timestamp_micro, parse_timestamp, text

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import requests

    from tap_hrdata.http.auth import SourceAuthenticator
    from tap_hrdata.http.throttle import Throttle

OCTET_STREAM = "application/octet-stream"


class FileDataError(FatalAPIError):
    """A listing entry that cannot be trusted: the file is an error, not a record."""


#: Retries of a call the vendor refused with 5xx or 429, as Visma's own client makes them.
YOUSERVE_RETRIES = 10
#: Visma Developer Portal apps sign in here, and find the File API there.
VISMA_CONNECT_TOKEN_URL = "https://connect.visma.com/connect/token"  # noqa: S105  # a URL, not a secret
YOUFORCE_FILE_API_URL = "https://fileapi.youforce.com/v1.0"


class YouserveClient(VendorClient):
    """The YouServe / Youforce client: one OAuth2 token per run, by either sign-in.

    ``sign_in: youserve`` (the seed docs' accounts): the token from ``{base_url}/authentication/token``,
    the tenant in the ``x-raet-tenant-id`` header, the File API under ``{base_url}/fileapi/v1.0``.
    ``sign_in: visma_connect`` (Visma Developer Portal apps, as Visma's own examples sign
    in): the token from Visma Connect for ``tenant_id`` (a form field), no tenant header,
    the File API at fileapi.youforce.com. ``token_url`` and ``file_api_url`` override either.
    """

    source = "youserve"
    #: The wait after a 429 without Retry-After: the vendor's spike arrest lets go after a minute.
    spike_arrest_seconds: t.ClassVar[float] = 60.0
    #: After a 429, calls go at most one per this many seconds for the rest of the run (Visma's
    #: own client waits a minute, then adds 100 ms between calls).
    calm_interval_seconds: t.ClassVar[float] = 0.1

    @property
    def visma_connect(self) -> bool:
        """True for Visma Connect sign-in."""
        return self.settings["sign_in"] == "visma_connect"

    @property
    def token_url(self) -> str:
        """Where tokens come from."""
        if self.settings.get("token_url"):
            return str(self.settings["token_url"])
        return VISMA_CONNECT_TOKEN_URL if self.visma_connect else f"{self.base_url}/authentication/token"

    @property
    def file_api_url(self) -> str:
        """The File API root, before ``/files``."""
        if self.settings.get("file_api_url"):
            return str(self.settings["file_api_url"]).rstrip("/")
        return YOUFORCE_FILE_API_URL if self.visma_connect else f"{self.base_url}/fileapi/v1.0"

    @override
    def urls(self) -> dict[str, str]:
        """The token and File API URLs (and ``base_url`` when they derive from it)."""
        urls = {"token_url": self.token_url, "file_api_url": self.file_api_url}
        return urls if self.visma_connect else {"base_url": self.base_url, **urls}

    @override
    def make_authenticator(self) -> SourceAuthenticator:
        """Client credentials (no scope); Visma Connect also wants the tenant in the form."""
        form = {"tenant_id": str(self.settings["tenant_id"])} if self.visma_connect else None
        return ClientCredentials.of(self, self.token_url, form=form)

    @override
    def headers(self) -> dict[str, str]:
        """JSON answers unless a request asks for bytes; the tenant header on YouServe sign-in."""
        if self.visma_connect:
            return {"Accept": "application/json"}
        return {"x-raet-tenant-id": str(self.settings["tenant_id"]), "Accept": "application/json"}

    @override
    def make_throttle(self) -> Throttle:
        """Spike arrest: after a 429, calls are spaced out, as Visma's own client does."""
        return SpikeArrest(interval=self.calm_interval_seconds, calm_seconds=math.inf)

    @property
    @override
    def max_tries(self) -> int:
        """5xx and 429 are tried again up to 10 times, as the vendor's own client does."""
        return max(self.retry_policy.max_tries, YOUSERVE_RETRIES + 1)

    @override
    def retry_wait(self, failures: int, exc: BaseException) -> float:
        """A 429 without ``Retry-After`` (spike arrest) waits a minute; the rest as the policy says."""
        response = getattr(exc, "response", None)
        if (
            isinstance(exc, RetriableAPIError)
            and response is not None
            and response.status_code == HTTPStatus.TOO_MANY_REQUESTS
            and retry_after_seconds(response) is None
        ):
            return self.spike_arrest_seconds
        return super().retry_wait(failures, exc)

    @override
    def failure_hint(self, status: int) -> str | None:
        """A refused token request means the credentials."""
        return "check youserve.client_id, client_secret and tenant_id" if status in (400, 401, 403) else None

    # ---- requests --------------------------------------------------------------------------

    def listing_request(self, page_index: int, page_size: int, odata_filter: str) -> HTTPRequest:
        """``GET /files`` for one page of ``odata_filter``, oldest upload first."""
        return HTTPRequest(
            url=f"{self.file_api_url}/files",
            params={
                "role": "subscriber",
                "pageIndex": page_index,
                "pageSize": page_size,
                "$filter": odata_filter,
                "$orderBy": "uploadDate asc",
            },
            safe_query_chars="$",
        )

    def file_request(self, method: str, file_id: str, headers: Mapping[str, str] | None = None) -> HTTPRequest:
        """A request on one file; its id is quoted as one path segment."""
        return HTTPRequest(
            url=f"{self.file_api_url}/files/{quote(file_id, safe='')}",
            method=method,
            params={"role": "subscriber"},
            headers={"Accept": OCTET_STREAM, **(headers or {})},
        )

    def delete_file(self, file_id: str, *, stream: str) -> bool:
        """``DELETE /files/{id}`` for our subscriber only: True if deleted, False if already gone (404)."""

        def deleted(response: requests.Response) -> bool:
            drain(response)
            return response.status_code != HTTPStatus.NOT_FOUND

        return self.call(self.file_request("DELETE", file_id), deleted, stream=stream, answers={HTTPStatus.NOT_FOUND})


#: Most bytes of an answer read only so that its connection can serve the next request.
DRAINED_BYTES = 64 * 1024


def drain(response: requests.Response) -> None:
    """Read a short answer's body (a 204, a 404's message, a HEAD's nothing) to its end.

    A body left unread makes ``requests`` close the connection instead of reusing it: a new
    connection (a TLS handshake) for every DELETE or HEAD, eight at once with eight workers.
    A longer body is left: that connection is closed, as before.
    """
    received = 0
    for piece in response.iter_content(DRAINED_BYTES):
        received += len(piece)
        if received >= DRAINED_BYTES:
            return


def listing_entries(response: JsonResponse) -> list[t.Any]:
    """The ``data`` array of a listing page (a page without one is an error)."""
    payload = response.json()
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        msg = "the file listing has no 'data' array"
        raise AnswerError(msg)
    return data


class ListingPaginator(PageNumberPaginator):
    """``pageIndex`` from 0; stops on a short page or once ``count`` entries were paged past."""

    def __init__(self, page_size: int) -> None:
        super().__init__(0)
        self.page_size = page_size

    @override
    def has_more(self, response: requests.Response) -> bool:
        """More pages unless this one is short or ``count`` says we are done."""
        payload = response.json()
        count = payload.get("count")
        if len(payload["data"]) < self.page_size:
            return False
        return not (isinstance(count, int) and (self.current_value + 1) * self.page_size >= count)


# ---- dates and filters ------------------------------------------------------------------------


def odata_datetime(moment: datetime) -> str:
    """A filter literal as the vendor's examples write it (``2020-05-19T08:42:47.400Z``).

    Milliseconds, truncated: a lower bound (``ge``) built from it never excludes the moment.
    """
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def business_type_ids(values: Iterable[int | float] | None) -> tuple[int, ...]:
    """The configured business types (sorted, unique), as the integers the schema checked them to be."""
    return tuple(sorted({int(value) for value in values or ()}))


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


# ---- listing entries --------------------------------------------------------------------------


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
        return iso_timestamp_micro(self.uploaded)

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
            uploaded = parse_timestamp(entry.get("uploadDate"))  # type: ignore[arg-type]  # str checked inside
        except ValueError as exc:
            msg = f"{where}: file {file_id}: uploadDate {entry.get('uploadDate')!r} is not a date-time"
            raise FileDataError(msg) from exc
        return cls(
            file_id=file_id,
            file_name=text(entry.get("fileName")),
            size=size,
            tenant_id=text(entry.get("tenantId")),
            business_type_id=business_type_id,
            business_type_name=text(business_type.get("name") if isinstance(business_type, dict) else None),
            publisher_id=text(entry.get("publisherId")),
            uploaded=uploaded,
            raw=entry,
        )
