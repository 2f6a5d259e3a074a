"""HrFlow.ai v1: header credentials, the answer envelope and its body codes, page-number paging.

Every answer is ``{code, message, meta{page, maxPage, count, total}, data}`` and HrFlow
hides errors in HTTP 200 answers, so the client judges an answer by its body's ``code``
as well as by its status, inside the retry (a ``code`` 429 or 5xx is tried again).
Pages are 1-based; paging stops after ``meta.maxPage``, at an empty page, or, on an
incremental run, at the first page whose records are all at or before the starting
bookmark (the lists are sorted by ``updated_at`` descending).
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
    import requests

    from tap_hrdata.http.auth import SourceAuthenticator


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
    """1-based pages until ``meta.maxPage``, an empty page, or a page wholly at or before ``cutoff``."""

    def __init__(self, data_field: str | None, cutoff: datetime | None = None) -> None:
        super().__init__(1)
        self._data_field = data_field
        self._cutoff = cutoff

    @override
    def has_more(self, response: requests.Response) -> bool:
        """False once the answer says this was the last page, or nothing newer can follow."""
        if not isinstance(response, JsonResponse):
            msg = "HrflowPaginator reads JSON answers of HrflowClient.json"
            raise TypeError(msg)
        items = page_items(response, self._data_field)
        if not items:
            return False
        last = max_page(response)
        if last is not None and self.current_value >= last:
            return False
        return self._cutoff is None or not all(self.at_or_before_cutoff(item) for item in items)

    @property
    def incremental(self) -> bool:
        """True when paging stops at the bookmark: the list's total then overstates the run."""
        return self._cutoff is not None

    def at_or_before_cutoff(self, item: dict[str, t.Any]) -> bool:
        """True for an item an earlier run already emitted (or before ``start_date``)."""
        updated = utc_timestamp(item.get("updated_at"))
        return updated is not None and self._cutoff is not None and updated <= self._cutoff
