"""HrFlow.ai v1: header credentials, the answer envelope and its body codes, page-number paging.

Every answer is ``{code, message, meta{page, maxPage, count, total}, data}`` and HrFlow
hides errors in HTTP 200 answers, so the client judges an answer by its body's ``code``
as well as by its status, inside the retry (a ``code`` 429 or 5xx is tried again).
Pages are 1-based; paging stops at the list's end (``meta.maxPage``, an empty or short
page), once that end is confirmed (see :class:`HrflowPaginator`), or, on an incremental
run, at the first page whose records are all at or before the starting bookmark (the
lists are sorted by ``updated_at`` descending).

Once an answer gives ``meta.maxPage``, the pages after it are fetched ahead
(:class:`PagesAhead`, ``max_concurrent_requests`` in flight) and read in page order by
the same paginator, so records keep the order of a sequential run.
"""

from __future__ import annotations

import typing as t
from datetime import datetime
from http import HTTPStatus

from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.pagination import PageNumberPaginator
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_hrdata.http.auth import StaticHeaders
from tap_hrdata.http.client import PREFLIGHT, AnswerError, JsonResponse, VendorClient
from tap_hrdata.http.redaction import excerpt, request_line
from tap_hrdata.values import utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import requests

    from tap_hrdata.http.auth import SourceAuthenticator
    from tap_hrdata.http.concurrency import Ahead, Task, Workers


class HrflowClient(VendorClient):
    """The HrFlow client: ``X-API-KEY`` and ``X-USER-EMAIL`` on every request, body codes judged."""

    source = "hrflow"

    @override
    def make_authenticator(self) -> SourceAuthenticator:
        """The API key and the user's email, fixed for the run."""
        return StaticHeaders(
            "X-API-KEY", str(self.settings["api_key"]), **{"X-USER-EMAIL": str(self.settings["user_email"])}
        )

    @override
    def check(self) -> None:
        """``GET /auth``, HrFlow's "try your API keys" (the SDK's ``auth.get()``): the key and email work."""
        self.json(HTTPRequest(url=f"{self.base_url}/auth"), stream=PREFLIGHT)

    @override
    def failure_hint(self, status: int) -> str | None:
        """A refused key."""
        return "check hrflow.api_key and hrflow.user_email" if status in (401, 403) else None

    @override
    def check_answer(self, response: JsonResponse) -> None:
        """An HrFlow envelope with a ``code`` under 400; 429 and 5xx codes are retried."""
        payload = response.json()
        code = payload.get("code") if isinstance(payload, dict) else None
        line = request_line(response.request, response.url)
        if not isinstance(code, int) or isinstance(code, bool):
            shown = excerpt(str(payload), self.secrets(response.request))
            msg = f"{line} answered HTTP {response.status_code} without an HrFlow code: {shown}"
            raise AnswerError(msg)
        if code < HTTPStatus.BAD_REQUEST:
            return
        message = excerpt(str(payload.get("message") or ""), self.secrets(response.request))
        msg = f"{line} answered code {code}: {message}"
        if hint := self.failure_hint(code):
            msg = f"{msg} ({hint})"
        if code == HTTPStatus.TOO_MANY_REQUESTS or code >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(msg, response)
        raise AnswerError(msg)


def page_items(response: JsonResponse, data_field: str | None) -> list[dict[str, t.Any]]:
    """``data`` (or ``data[data_field]``) of an answer: a list of objects, each with a key."""
    data = response.json().get("data")
    if data_field is not None:
        data = data.get(data_field) if isinstance(data, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) and item.get("key") for item in data):
        where = f"data.{data_field}" if data_field else "data"
        msg = f"{request_line(response.request, response.url)} answered without a list of objects with a key in {where}"
        raise AnswerError(msg)
    return data


def meta_count(response: requests.Response, name: str) -> int | None:
    """``meta.maxPage`` or ``meta.total`` of an answer, when it gives one."""
    meta = response.json().get("meta")
    value = meta.get(name) if isinstance(meta, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def max_page(response: requests.Response) -> int | None:
    """``meta.maxPage`` of an answer, when it gives one."""
    return meta_count(response, "maxPage")


class HrflowPaginator(PageNumberPaginator):
    """1-based pages until the list's end, once that end is confirmed, or a page wholly at or before ``cutoff``.

    One answer can end a list too early: a stale ``meta.maxPage``, a page that comes back
    empty once. Moving the bookmark past such an end loses every record after it for good
    (later runs stop at the bookmark), so an end is believed only when it is confirmed: the
    cutoff reached, ``meta.total`` reached (by the answer's own place in the list, so items
    moving during the run do not matter), or, when the answer gives no total, a page
    shorter than ``limit`` or a second answer agreeing. Otherwise one more answer is asked
    (the next page; the same page again after an empty one): new items there mean paging
    goes on; another end while ``meta.total`` says more leaves :attr:`doubt` set, and the
    stream keeps its old bookmark.
    """

    def __init__(self, data_field: str | None, limit: int, cutoff: datetime | None = None) -> None:
        super().__init__(1)
        self._data_field = data_field
        self._limit = limit
        self._cutoff = cutoff
        #: Items of the last answer not read before (set by :meth:`take`).
        self._fresh = 0
        #: Keys of the last page that brought items: the next page may repeat some (the list moved).
        self._previous: set[str] = set()
        #: The end an answer claimed that one more answer is checking, if any.
        self._claimed: str | None = None
        #: Why paging stopped at an end it could not confirm; None when the end was confirmed.
        self.doubt: str | None = None

    def take(self, response: requests.Response) -> tuple[list[dict[str, t.Any]], int]:
        """The answer's items not read on the page before, and how many were skipped.

        The sorted list moves between requests, so a page may start with the last items of
        the page before. Call once per answer, before :meth:`advance`.
        """
        fresh: list[dict[str, t.Any]] = []
        keys: set[str] = set()
        for item in page_items(_json_answer(response), self._data_field):
            key = str(item["key"])
            if key not in self._previous and key not in keys:
                fresh.append(item)
            keys.add(key)
        self._fresh = len(fresh)
        if keys:  # an empty page says nothing about what the next one may repeat
            self._previous = keys
        return fresh, len(keys) - len(fresh)

    @override
    def has_more(self, response: requests.Response) -> bool:
        """True while the list goes on, or while an end it claims is not confirmed yet."""
        return self._verdict(response)[0]

    @override
    def advance(self, response: requests.Response) -> None:
        """The next page; after an empty page that is not a confirmed end, the same page once more.

        The SDK's ``advance`` takes a same page number as a loop, so that case does not reach it.
        """
        more, claimed, doubt = self._verdict(response)
        ask_again = more and claimed is not None and not page_items(_json_answer(response), self._data_field)
        if not ask_again:
            super().advance(response)
        self._claimed, self.doubt = claimed, doubt

    def _verdict(self, response: requests.Response) -> tuple[bool, str | None, str | None]:
        """Whether to ask more, the end being checked, and the doubt when paging stops unconfirmed."""
        answer = _json_answer(response)
        items = page_items(answer, self._data_field)
        claimed = self._claimed if self._fresh == 0 else None  # new items: the end claimed before was wrong
        end = self._end(answer, items)
        if end is None:
            return True, None, None
        total = meta_count(answer, "total")
        reached = (self.current_value - 1) * self._limit + len(items)  # the last place this answer covers
        if self._cutoff is not None and any(self.at_or_before_cutoff(item) for item in items):
            return False, None, None  # the bookmark's place in the list: everything after it was read before
        if total is not None and reached >= total:
            return False, None, None
        if total is None and (0 < len(items) < self._limit or claimed is not None):
            return False, None, None  # a short page, or a second answer agreeing: nothing says more
        if claimed is None:
            return True, end, None
        return False, None, f"{claimed}, then {end}, while meta.total says {total}"

    def _end(self, answer: JsonResponse, items: list[dict[str, t.Any]]) -> str | None:
        """How the answer says the list ends here; None when it says more follows."""
        page = self.current_value
        if not items:
            return f"page {page} came back empty"
        if self._cutoff is not None and all(self.at_or_before_cutoff(item) for item in items):
            return f"page {page} is all at or before the bookmark"
        if len(items) < self._limit:
            return f"page {page} held {len(items)} of {self._limit} items"
        last = max_page(answer)
        if last is not None and page >= last:
            return f"meta.maxPage said page {page} of {last} was the last"
        return None

    @property
    def incremental(self) -> bool:
        """True when paging stops at the bookmark: the list's total then overstates the run."""
        return self._cutoff is not None

    def at_or_before_cutoff(self, item: dict[str, t.Any]) -> bool:
        """True for an item an earlier run already emitted (or before ``start_date``)."""
        updated = utc_timestamp(item.get("updated_at"))
        return updated is not None and self._cutoff is not None and updated <= self._cutoff


class PageNotWanted(Exception):  # noqa: N818  # not an error: the run moved on without the page
    """A page fetched ahead whose answer is no longer wanted (paging stopped, or the list moved)."""


#: Fetch one page: its number, and the :class:`Task` of a fetch ahead (None when fetched on demand).
FetchPage = t.Callable[[int, "Task | None"], JsonResponse]


class PagesAhead:
    """Pages fetched ahead of the paginator, taken in its order; any other page is fetched on demand.

    After an answer moved paging to the next page, :meth:`fill` starts the pages from there
    up to the answer's ``meta.maxPage``, ``workers.size`` at most in flight. The paginator
    still decides every step: a page it asks again (after an empty one) or past
    ``maxPage`` (to confirm an end) is fetched when asked, never ahead. Paging that stops
    leaves at most ``workers.size - 1`` pages fetched for nothing; those not started are
    cancelled (:meth:`close`).
    """

    def __init__(self, workers: Workers, fetch: FetchPage) -> None:
        self._workers = workers
        self._fetch = fetch
        self._ahead: dict[int, Ahead[JsonResponse]] = {}

    def take(self, page: int) -> JsonResponse:
        """Page ``page``: the answer fetched ahead, or one fetched now (in this thread)."""
        ahead = self._ahead.pop(page, None)
        if ahead is None:
            return self._fetch(page, None)
        return ahead.result()

    def fill(self, page: int, last: int | None) -> None:
        """Paging moved to ``page``: fetch it and the pages after it up to ``last`` (``meta.maxPage``), ahead.

        Nothing when the answer gave no ``maxPage`` or calls run one at a time.
        """
        if last is None or not self._workers.threaded:
            return
        for number in [number for number in self._ahead if number < page]:
            self._ahead.pop(number).cancel()  # paging went past it (not expected: pages only move on)
        for number in range(page, min(last, page + self._workers.size - 1) + 1):
            if number not in self._ahead:
                self._ahead[number] = self._workers.ahead(self._fetcher(number))

    def drop(self) -> None:
        """Forget the pages fetched ahead: not started ones are cancelled, running ones stopped and waited for."""
        ahead, self._ahead = self._ahead, {}
        for page in ahead.values():
            page.cancel()

    #: When the run moves on: nothing fetched ahead outlives the paging that wanted it.
    close = drop

    def _fetcher(self, page: int) -> Callable[[Task], JsonResponse]:
        def fetch(task: Task) -> JsonResponse:
            if task.stopping:
                raise PageNotWanted(page)
            return self._fetch(page, task)

        return fetch


def _json_answer(response: requests.Response) -> JsonResponse:
    """``response``, a JSON answer of :meth:`HrflowClient.json` / ``read_json`` (what the paginator reads)."""
    if not isinstance(response, JsonResponse):
        msg = "HrflowPaginator reads JSON answers of HrflowClient.json"
        raise TypeError(msg)
    return response
