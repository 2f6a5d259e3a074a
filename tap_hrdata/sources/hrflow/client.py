"""HrFlow.ai v1: header authentication, the answer envelope, page-number paging, timestamps.

Every answer is ``{code, message, meta{page, maxPage, count, total}, data}`` and HrFlow
hides errors in HTTP 200 answers, so a response is judged by its body's ``code`` as well
as by its status. Pages are 1-based; paging stops after ``meta.maxPage``, at an empty
page, or, on an incremental run, at the first page whose records are all at or before
the starting bookmark (the searches are sorted by ``updated_at`` descending).
"""

from __future__ import annotations

import json
import re
import typing as t
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import urlsplit

from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.pagination import PageNumberPaginator

from tap_hrdata.http import ERROR_EXCERPT_CHARS, ConductedStream, decode_text
from tap_hrdata.settings import source_settings

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.tap import TapHrData

SOURCE_NAME = "hrflow"
#: The API refuses a larger ``limit``.
MAX_PAGE_SIZE = 100

_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)$")


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an HrFlow or ISO 8601 timestamp, or None.

    HrFlow writes ``2020-07-22T09:11:32+0000``; bookmarks and ``start_date`` are ISO 8601
    (``...+00:00``, ``...Z``, a bare date). A value without an offset is taken as UTC.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    text = _OFFSET.sub(r"\1\2:\3", text) if "T" in text or " " in text else text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso_timestamp(value: object) -> str | None:
    """The ISO 8601 UTC form (``2020-07-22T09:11:32+00:00``) of a timestamp, or None.

    Every emitted timestamp has this one form, so the SDK's string comparisons of
    bookmark values agree with time order.
    """
    moment = parse_timestamp(value)
    return None if moment is None else moment.isoformat()


class HrflowAuthenticator(APIKeyAuthenticator):
    """``X-API-KEY`` and ``X-USER-EMAIL`` on every request; the key never appears in a repr."""

    def __init__(self, *, api_key: str, user_email: str) -> None:
        super().__init__(key="X-API-KEY", value=api_key, location="header")
        self.auth_headers["X-USER-EMAIL"] = user_email

    def __repr__(self) -> str:
        return f"{type(self).__name__}(X-API-KEY=<redacted>)"


def make_authenticator(tap: TapHrData) -> HrflowAuthenticator:
    """The run's one HrFlow authenticator, shared by the four streams."""
    settings = source_settings(tap.config, SOURCE_NAME)
    return HrflowAuthenticator(api_key=str(settings["api_key"]), user_email=str(settings["user_email"]))


@dataclass(frozen=True)
class Page:
    """The items of a validated answer, and the last page number it announces."""

    items: list[dict[str, t.Any]]
    max_page: int | None


#: Each response's page, decoded and checked once by ``validate_response``, then read
#: by ``parse_response`` and the paginator.
_PAGES: weakref.WeakKeyDictionary[requests.Response, Page] = weakref.WeakKeyDictionary()


def excerpt(text: str) -> str:
    """A short one-line excerpt of a body, for error messages."""
    return " ".join(text.split())[:ERROR_EXCERPT_CHARS]


class HrflowPaginator(PageNumberPaginator):
    """1-based pages until ``meta.maxPage``, an empty page, or a page wholly at or before ``cutoff``."""

    def __init__(self, cutoff: datetime | None = None) -> None:
        super().__init__(1)
        self._cutoff = cutoff

    def has_more(self, response: requests.Response) -> bool:
        """False once the answer says this was the last page, or nothing newer can follow."""
        page = _PAGES[response]
        if not page.items:
            return False
        if page.max_page is not None and self.current_value >= page.max_page:
            return False
        return self._cutoff is None or not all(self._at_or_before_cutoff(item) for item in page.items)

    def _at_or_before_cutoff(self, item: dict[str, t.Any]) -> bool:
        updated = parse_timestamp(item.get("updated_at"))
        return updated is not None and self._cutoff is not None and updated <= self._cutoff


class HrflowStream(ConductedStream[int]):
    """Base of the HrFlow streams: the envelope, its body codes, and page-number paging."""

    source = SOURCE_NAME
    primary_keys = ("key",)
    #: Where the items are: ``data[data_field]``, or ``data`` itself when None.
    data_field: t.ClassVar[str | None] = None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        size = self.settings["page_size"]
        if not 1 <= size <= MAX_PAGE_SIZE:
            msg = f"hrflow.page_size must be from 1 to {MAX_PAGE_SIZE} (the API's limit), got {size!r}"
            # The SDK's CLI logs only `errors` of a ConfigValidationError.
            raise ConfigValidationError(msg, errors=[msg])
        #: Keys of the page read last (see :meth:`parse_response`).
        self._previous_page_keys: set[str] = set()

    @property
    def page_size(self) -> int:
        """Items per page (``limit``)."""
        return int(self.settings["page_size"])

    def get_url_params(self, context: Context | None, next_page_token: int | None) -> dict[str, t.Any]:
        """``page`` and ``limit``."""
        return {"page": next_page_token or 1, "limit": self.page_size}

    def get_new_paginator(self) -> HrflowPaginator:
        """Page numbers from 1."""
        return HrflowPaginator()

    # ---- answers ---------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        """HTTP status first, then the body: not JSON, or ``code`` >= 400, is an error."""
        super().validate_response(response)
        payload = self._decode(response)
        code = payload["code"]
        if code >= HTTPStatus.BAD_REQUEST:
            message = self._redact(str(payload.get("message") or ""))
            msg = f"{self._where(response)} answered code {code}: {message}"
            if code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
                msg += " (check hrflow.api_key and hrflow.user_email)"
            if code == HTTPStatus.TOO_MANY_REQUESTS or code >= HTTPStatus.INTERNAL_SERVER_ERROR:
                raise RetriableAPIError(msg, response)
            raise FatalAPIError(msg)
        meta = payload.get("meta")
        max_page = meta.get("maxPage") if isinstance(meta, dict) else None
        _PAGES[response] = Page(
            items=self._items(payload, response),
            max_page=max_page if isinstance(max_page, int) and not isinstance(max_page, bool) else None,
        )

    def request_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The pages, each item once (see :meth:`parse_response`)."""
        self._previous_page_keys = set()
        yield from super().request_records(context)

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """One record per item, skipping an item the previous page (or this one) already gave.

        Pages are read from a live, sorted list: an item updated (or added) between two page
        requests shifts the rest, and the next page starts with the previous page's last
        items again. Only the keys of one page are kept, so memory does not grow with the list.
        """
        previous = self._previous_page_keys
        current: set[str] = set()
        repeated = 0
        for item in _PAGES[response].items:
            key = str(item["key"])
            if key in previous or key in current:
                repeated += 1
                continue
            current.add(key)
            yield self.item_record(item)
        if repeated:
            self.logger.info(
                "%s: %d item(s) already read on the previous page skipped (the list moved)",
                self._where(response),
                repeated,
            )
        self._previous_page_keys = current

    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """The stream's record for one vendor object."""
        raise NotImplementedError

    def _decode(self, response: requests.Response) -> dict[str, t.Any]:
        """Read and decode a body; a body that is not an HrFlow envelope is fatal."""
        content = self.read_page(response)
        self.stats.bytes += len(content)
        text = decode_text(content, where=self._where(response), logger=self.logger)
        try:
            payload = json.loads(text)
        except ValueError:
            msg = f"{self._where(response)} answered HTTP {response.status_code} with a body that is not JSON"
            raise FatalAPIError(f"{msg}: {self._redact(text)}" if text.strip() else msg) from None
        code = payload.get("code") if isinstance(payload, dict) else None
        if not isinstance(code, int) or isinstance(code, bool):
            msg = f"{self._where(response)} answered HTTP {response.status_code} without an HrFlow code"
            raise FatalAPIError(f"{msg}: {self._redact(text)}")
        return t.cast("dict[str, t.Any]", payload)

    def _items(self, payload: dict[str, t.Any], response: requests.Response) -> list[dict[str, t.Any]]:
        """``data`` (or ``data[data_field]``): a list of objects, each with a key."""
        data = payload.get("data")
        if self.data_field is not None:
            data = data.get(self.data_field) if isinstance(data, dict) else None
        if not isinstance(data, list) or not all(isinstance(i, dict) and i.get("key") for i in data):
            where = f"data.{self.data_field}" if self.data_field else "data"
            msg = f"{self._where(response)} answered without a list of objects with a key in {where}"
            raise FatalAPIError(msg)
        return data

    def _where(self, response: requests.Response) -> str:
        """``hrflow stream '<name>': GET <path>``, never the query string."""
        method = response.request.method if response.request is not None else "GET"
        return f"{self.source} stream '{self.name}': {method} {urlsplit(response.url or '').path}"

    def _redact(self, text: str) -> str:
        """A vendor message, short, and without the API key should the server echo it."""
        key = str(self.settings.get("api_key") or "")
        return excerpt(text.replace(key, "<redacted>") if key else text)


class SearchStream(HrflowStream):
    """A search over configured containers, newest ``updated_at`` first, incremental on it.

    All the configured keys go in one query (one JSON list). Records at or before the
    starting bookmark (or ``start_date``) are not emitted again, and paging stops at the
    first page holding only such records, so a rerun with nothing new costs one call.
    Since records arrive newest first, the stream is not sorted in replication-key order:
    the SDK commits the highest value seen only once the stream completes, so an
    interrupted run never moves the bookmark past records it did not emit.
    """

    replication_key = "updated_at"
    is_sorted = False
    #: The setting holding the container keys, also the query parameter.
    keys_setting: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._cutoff: datetime | None = None

    @property
    def container_keys(self) -> list[str]:
        """The configured keys (sources or boards)."""
        return list(self.settings.get(self.keys_setting) or [])

    def get_url_params(self, context: Context | None, next_page_token: int | None) -> dict[str, t.Any]:
        """The keys as a JSON list, paging, and newest first."""
        return {
            self.keys_setting: json.dumps(self.container_keys),
            **super().get_url_params(context, next_page_token),
            "sort_by": "updated_at",
            "order_by": "desc",
        }

    def get_new_paginator(self) -> HrflowPaginator:
        """Page numbers from 1, stopping early at records already synced."""
        return HrflowPaginator(self._cutoff)

    def starting_cutoff(self, context: Context | None) -> datetime | None:
        """Records at or before this were emitted by an earlier run (or precede ``start_date``)."""
        if self.replication_method != "INCREMENTAL":
            return None
        value = self.get_starting_replication_key_value(context)
        moment = parse_timestamp(value)
        if value is not None and moment is None:
            msg = f"{self.source} stream '{self.name}': bookmark or start_date {value!r} is not a timestamp"
            raise ValueError(msg)
        return moment

    def request_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The search's pages, or nothing (with a warning) when no key is configured."""
        if not self.container_keys:
            self.logger.warning(
                "%s stream '%s': %s.%s is empty, nothing to sync",
                self.source,
                self.name,
                self.source,
                self.keys_setting,
            )
            return
        self._cutoff = self.starting_cutoff(context)
        yield from super().request_records(context)

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """Records of the page updated after the cutoff (all of them on a full run)."""
        for record in super().parse_response(response):
            updated = parse_timestamp(record.get("updated_at"))
            if self._cutoff is None or updated is None or updated > self._cutoff:
                yield record
