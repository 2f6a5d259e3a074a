"""HrFlow streams: profiles and jobs (incremental on updated_at), sources and boards (full table).

Each record has typed columns for what users filter and join on, and the complete
vendor object, as served, in ``raw``.
"""

from __future__ import annotations

import abc
import functools
import json
import typing as t

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from tap_hrdata.sources.hrflow import schemas
from tap_hrdata.sources.hrflow.client import (
    HrflowClient,
    HrflowPaginator,
    PageNotWanted,
    PagesAhead,
    max_page,
    meta_count,
    page_items,
)
from tap_hrdata.statecheck import bookmark_time
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import integer, iso_timestamp, number, text, utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.http.client import JsonResponse
    from tap_hrdata.http.concurrency import Task

SCHEMAS = SchemaDirectory(schemas)


def _obj(value: object) -> dict[str, t.Any]:
    return value if isinstance(value, dict) else {}


def _first(*values: float | None) -> float | None:
    """The first value that is not None (0.0 is a coordinate)."""
    return next((value for value in values if value is not None), None)


def _common(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """The columns every HrFlow object has."""
    return {
        "key": str(item["key"]),
        "created_at": iso_timestamp(item.get("created_at")),
        "updated_at": iso_timestamp(item.get("updated_at")),
    }


class HrflowStream(VendorStream):
    """Base of the HrFlow streams: a paged list, each item once."""

    primary_keys = ("key",)

    @property
    @abc.abstractmethod
    def path(self) -> str:
        """The list's path (``/sources`` ...)."""

    @property
    def data_field(self) -> str | None:
        """Where the items are: ``data[data_field]``, or ``data`` itself when None."""
        return None

    @property
    @override
    def client(self) -> HrflowClient:
        """The run's HrFlow client."""
        return self._tap.client(HrflowClient)

    def get_new_paginator(self, context: Context | None) -> HrflowPaginator:
        """Page numbers from 1 to the list's confirmed end."""
        return HrflowPaginator(self.data_field, int(self.settings["page_size"]))

    def get_http_request(self, *, page: PageContext[int]) -> HTTPRequest:
        """``GET {path}`` with ``page`` and ``limit``."""
        return HTTPRequest(
            url=f"{self.client.base_url}{self.path}",
            params={"page": page.next_page_token or 1, "limit": int(self.settings["page_size"])},
        )

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The pages, each item once, in page order; the pages after the current one fetched ahead.

        Pages are read from a live, sorted list: an item updated (or added) between two page
        requests shifts the rest, and the next page starts with the previous page's last
        items again. Only the keys of one page are kept (by the paginator's ``take``), so memory
        does not grow with the list.

        Once a page's answer moved paging on, the pages after it (up to its ``meta.maxPage``)
        are fetched ahead, ``max_concurrent_requests`` in flight, and read in page order by
        the same paginator (:class:`PagesAhead`). Page 1 is judged before anything is fetched
        ahead, so a run with nothing new still costs one call. A page that repeats items of
        the page before says the list moved; pages fetched ahead of it may have been served
        before that move (their items shifted past them unseen), so they are fetched again.
        """
        paginator = self.get_new_paginator(context)
        pages = PagesAhead(self.client.workers, functools.partial(self.fetch_page, context))
        announced = False
        try:
            while not paginator.finished:
                page = paginator.current_value
                answer = pages.take(page)
                total = meta_count(answer, "total")
                if not announced and total is not None and not paginator.incremental:
                    announced = True
                    self.stats.expect_more(records=total)  # meta.total: the whole list, read on a full run
                self.stats.add(bytes=answer.size)
                items, repeated = paginator.take(answer)
                if repeated:
                    pages.drop()  # served before the list moved, maybe: fetched again
                for item in items:
                    if self.wanted(item):
                        yield self.item_record(item)
                if repeated:
                    self.logger.info(
                        "hrflow stream '%s': page %d: %d item(s) read on the previous page skipped (the list moved)",
                        self.name,
                        page,
                        repeated,
                    )
                paginator.advance(answer)
                if not paginator.finished and paginator.current_value == page + 1:
                    pages.fill(page + 1, max_page(answer))
        finally:
            pages.close()
        if paginator.doubt is not None:
            self.unconfirmed_end(context, paginator.doubt)

    def fetch_page(self, context: Context | None, page: int, task: Task | None) -> JsonResponse:
        """Page ``page`` of the list, read and checked (in a worker when ``task`` is set: a page fetched ahead)."""
        request = self.get_http_request(page=PageContext(context, page))
        read = self.read_page if task is None else functools.partial(self.read_page_ahead, task)
        return self.client.call(request, read, stream=self.name)

    def read_page_ahead(self, task: Task, response: requests.Response) -> JsonResponse:
        """:meth:`read_page` for a page fetched ahead: not read once paging no longer wants it (a retry stops)."""
        if task.stopping:
            raise PageNotWanted(response.url)
        return self.read_page(response)

    def unconfirmed_end(self, context: Context | None, doubt: str) -> None:
        """Paging stopped at an end the answers did not confirm: say so (the next run reads the list again)."""
        self.logger.warning(
            "hrflow stream '%s': the list may not have been read to its end (%s); records may be missing "
            "until the next run",
            self.name,
            doubt,
        )

    def read_page(self, response: requests.Response) -> JsonResponse:
        """A page read and checked inside the retry: an HrFlow envelope holding a list of items."""
        answer = self.client.read_json(response, stream=self.name)
        page_items(answer, self.data_field)
        return answer

    def wanted(self, item: dict[str, t.Any]) -> bool:
        """Whether an item of a page is emitted (all of them, unless a bookmark says otherwise)."""
        return True

    @abc.abstractmethod
    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """The stream's record for one vendor object."""


class SearchStream(HrflowStream):
    """Profiles or jobs of the configured containers, newest ``updated_at`` first, incremental on it.

    ``hrflow.listing`` picks the list: the Storing API (``/storing/profiles``, the default:
    every object, no Searching subscription needed, ``data`` is the list itself) or the
    Searching API (``/profiles/searching``: indexed objects only, ``data.profiles``).

    All the configured keys go in one query (one JSON list). Records at or before the
    starting bookmark (or ``start_date``) are not emitted again, and paging stops at the
    first page holding only such records, so a rerun with nothing new costs one call.
    Since records arrive newest first, the stream is not sorted in replication-key order:
    the SDK commits the highest value seen only once the stream completes, so an
    interrupted run never moves the bookmark past records it did not emit; nor does a run
    whose paging stopped at an end the answers did not confirm (:class:`HrflowPaginator`).
    """

    replication_key = "updated_at"
    is_sorted = False
    #: The setting holding the container keys, also the query parameter.
    keys_setting: t.ClassVar[str]
    #: ``profiles`` or ``jobs``.
    objects: t.ClassVar[str]
    #: The Storing API's flag asking for whole objects (``return_profile`` ...).
    return_flag: t.ClassVar[str]

    @property
    def storing(self) -> bool:
        """True when listing through the Storing API."""
        return self.settings["listing"] == "storing"

    @property
    @override
    def path(self) -> str:
        """``/storing/{objects}`` or ``/{objects}/searching``."""
        return f"/storing/{self.objects}" if self.storing else f"/{self.objects}/searching"

    @property
    @override
    def data_field(self) -> str | None:
        """Storing's ``data`` is the list; Searching's is ``data.{objects}``."""
        return None if self.storing else self.objects

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._cutoff: datetime | None = None

    @property
    def container_keys(self) -> list[str]:
        """The configured keys (sources or boards)."""
        return list(self.settings.get(self.keys_setting) or [])

    @override
    def get_http_request(self, *, page: PageContext[int]) -> HTTPRequest:
        """The keys as a JSON list, paging, and newest first."""
        request = super().get_http_request(page=page)
        request.params = {
            self.keys_setting: json.dumps(self.container_keys),
            **({self.return_flag: "true"} if self.storing else {}),
            **request.params,
            "sort_by": "updated_at",
            "order_by": "desc",
        }
        return request

    @override
    def get_new_paginator(self, context: Context | None) -> HrflowPaginator:
        """Page numbers from 1, stopping early at records already synced."""
        return HrflowPaginator(self.data_field, int(self.settings["page_size"]), self._cutoff)

    def starting_cutoff(self, context: Context | None) -> datetime | None:
        """Records at or before this were emitted by an earlier run (or precede ``start_date``)."""
        if self.replication_method != "INCREMENTAL":
            return None
        self.check_state(self.stream_state)
        value = self.get_starting_replication_key_value(context)
        moment = utc_timestamp(value)
        if value is not None and moment is None:
            msg = f"hrflow stream '{self.name}': bookmark or start_date {value!r} is not a timestamp"
            raise ValueError(msg)
        return moment

    @classmethod
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """The stream's bookmark, checked before it is trusted: a corrupt, foreign or future one stops the run.

        A value that is no timestamp would fail deep in a comparison; one in the future
        would make every run stop at page 1 and emit nothing, silently. A value kept under
        another replication key is the SDK's to ignore (a key change starts over). The tap
        calls this as it loads the state; the stream again before its first request.
        """
        if stream_state.get("replication_key") in (None, cls.replication_key):
            bookmark_time(cls.name, stream_state.get("replication_key_value"))  # type: ignore[misc]  # a class attribute here

    @override
    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The later of the bookmark and ``start_date``, once the bookmark is checked.

        The SDK compares them before the stream's records are asked for, so a bad bookmark is
        named here rather than failing inside the SDK's date parsing.
        """
        bookmark_time(self.name, value)
        return super().compare_start_date(value, start_date_value)

    @override
    def unconfirmed_end(self, context: Context | None, doubt: str) -> None:
        """Keep the bookmark the run started from: records after the doubtful end were not read.

        The SDK keeps an unsorted stream's highest value in the state's ``progress_markers``
        and makes it the bookmark once the stream completes; without them the bookmark stays
        where it was, as after an interrupted run, and the next run reads the list from there.
        """
        state = self.get_context_state(context)
        state.pop("progress_markers", None)
        self.logger.warning(
            "hrflow stream '%s': the list may not have been read to its end (%s); the bookmark stays at %s, "
            "so the next run reads it again from there",
            self.name,
            doubt,
            state.get("replication_key_value") or "its start (no bookmark yet)",
        )

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The list's pages, or nothing (with a warning) when no key is configured."""
        if not self.container_keys:
            self.logger.warning("hrflow stream '%s': hrflow.%s is empty, nothing to sync", self.name, self.keys_setting)
            return
        self._cutoff = self.starting_cutoff(context)
        yield from super().records(context)

    @override
    def wanted(self, item: dict[str, t.Any]) -> bool:
        """Items updated after the cutoff (all of them on a full run)."""
        updated = utc_timestamp(item.get("updated_at"))
        return self._cutoff is None or updated is None or updated > self._cutoff


class ProfilesStream(SearchStream):
    """Profiles of the configured sources (``GET /storing/profiles`` or ``/profiles/searching``)."""

    name = "hrflow_profiles"
    column_sources: t.ClassVar[ColumnSources] = {
        "key": (("key",),),
        "reference": (("reference",),),
        "source_key": (("source", "key"), ("source_key",)),
        "source_name": (("source", "name"),),
        "full_name": (("info", "full_name"),),
        "first_name": (("info", "first_name"),),
        "last_name": (("info", "last_name"),),
        "email": (("info", "email"),),
        "phone": (("info", "phone"),),
        "location_text": (("info", "location", "text"),),
        "location_lat": (("info", "location", "lat"),),
        "location_lng": (("info", "location", "lng"),),
        "text_language": (("text_language",),),
        "created_at": (("created_at",),),
        "updated_at": (("updated_at",),),
    }
    schema = StreamSchema(SCHEMAS)
    objects = "profiles"
    return_flag = "return_profile"
    keys_setting = "source_keys"

    @override
    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """Key, reference, source, dates, names, email, phone and location; ``raw`` keeps it all."""
        info = _obj(item.get("info"))
        location = _obj(info.get("location"))
        source = _obj(item.get("source"))
        return {
            **_common(item),
            "reference": text(item.get("reference")),
            "source_key": text(source.get("key")) or text(item.get("source_key")),
            "source_name": text(source.get("name")),
            "archived_at": iso_timestamp(item.get("archived_at")),
            "full_name": text(info.get("full_name")),
            "first_name": text(info.get("first_name")),
            "last_name": text(info.get("last_name")),
            "email": text(info.get("email")),
            "phone": text(info.get("phone")),
            "location_text": text(location.get("text")),
            "location_lat": number(location.get("lat")),
            "location_lng": number(location.get("lng")),
            "text_language": text(item.get("text_language")),
            "raw": item,
        }


class JobsStream(SearchStream):
    """Jobs of the configured boards (``GET /storing/jobs`` or ``/jobs/searching``)."""

    name = "hrflow_jobs"
    column_sources: t.ClassVar[ColumnSources] = {
        "key": (("key",),),
        "reference": (("reference",),),
        "board_key": (("board", "key"), ("board_key",)),
        "board_name": (("board", "name"),),
        "name": (("name",),),
        "location_text": (("location", "text"),),
        "location_lat": (("location", "geopoint", "lat"), ("location", "lat")),
        "location_lng": (("location", "geopoint", "lon"), ("location", "lng")),
        "created_at": (("created_at",),),
        "updated_at": (("updated_at",),),
    }
    schema = StreamSchema(SCHEMAS)
    objects = "jobs"
    return_flag = "return_job"
    keys_setting = "board_keys"

    @override
    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """Key, reference, board, dates, name, URL and location; ``raw`` keeps it all."""
        location = _obj(item.get("location"))
        geopoint = _obj(location.get("geopoint"))  # the seed README's older shape
        board = _obj(item.get("board"))
        return {
            **_common(item),
            "reference": text(item.get("reference")),
            "board_key": text(board.get("key")) or text(item.get("board_key")),
            "board_name": text(board.get("name")),
            "archived_at": iso_timestamp(item.get("archived_at")),
            "name": text(item.get("name")),
            "url": text(item.get("url")) or None,
            "location_text": text(location.get("text")),
            "location_lat": _first(number(location.get("lat")), number(geopoint.get("lat"))),
            "location_lng": _first(number(location.get("lng")), number(geopoint.get("lon"))),
            "raw": item,
        }


class ContainerStream(HrflowStream):
    """A workspace's sources or boards: a short list, synced whole."""

    column_sources: t.ClassVar[ColumnSources] = {
        "key": (("key",),),
        "name": (("name",),),
        "description": (("description",),),
        "type": (("type",),),
        "subtype": (("subtype",),),
        "size": (("stats", "size"),),
        "created_at": (("created_at",),),
        "updated_at": (("updated_at",),),
    }

    @override
    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """Key, name, kind, dates and size; ``raw`` keeps it all."""
        return {
            **_common(item),
            "name": text(item.get("name")),
            "description": text(item.get("description")),
            "type": text(item.get("type")),
            "subtype": text(item.get("subtype")),
            "size": integer(_obj(item.get("stats")).get("size")),
            "raw": item,
        }


class SourcesStream(ContainerStream):
    """Sources of the workspace (``GET /sources``)."""

    name = "hrflow_sources"
    schema = StreamSchema(SCHEMAS)
    path = "/sources"


class BoardsStream(ContainerStream):
    """Boards of the workspace (``GET /boards``)."""

    name = "hrflow_boards"
    schema = StreamSchema(SCHEMAS)
    path = "/boards"
