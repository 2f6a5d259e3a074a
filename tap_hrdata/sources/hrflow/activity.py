"""HrFlow activity: trackings (``GET /trackings``) and ratings (``GET /ratings``).

A tracking says which profile went through which stage (``action``: viewed, applied,
interviewed, hired ...) for which job, recorded by whom and when; a rating gives a profile a
``score`` (0 to 1) for a job. Both lists are asked as HrFlow's Python SDK asks them
(``Riminder/python-hrflow-api``: ``hrflow/tracking/__init__.py`` ``Tracking.get``,
``hrflow/rating/__init__.py`` ``Rating.get``), and paged like the other HrFlow lists
(``meta.page`` / ``maxPage`` / ``count`` / ``total``, :class:`HrflowPaginator`, pages fetched
ahead by :class:`PagesAhead`), errors in HTTP 200 bodies included (:meth:`HrflowClient.check_answer`).

How they are read, and why:

* *Roles.* ``role`` is a required filter of both lists (recruiter, candidate, employee,
  manager: the SDK's docstrings) and every tracking or rating is posted with one role, so the
  four roles split each list into four. Each role is a state partition
  (``{"role": "recruiter"}``) with its own bookmark, and all four are read every run: there is
  no "every role" value, and a role nobody uses costs one call (an empty page). ``role`` is a
  column and part of the primary key (``role``, ``key``).
* *Which items.* The configured ``hrflow.source_keys`` go as one JSON list (``source_keys``,
  as the profile streams and the SDK's client send a list): the activity of the profiles of
  those sources, on jobs of any board (``board_key`` says which). With no source configured,
  ``hrflow.board_keys`` (``board_keys``) picks the activity on those boards' jobs instead; with
  neither, nothing is read.
* *Identity.* ``key`` is the item's own ``key`` (else its ``id``) when the API gives one; else
  a SHA-256 of what the item is (role, action or score, source, profile, board, job, author,
  comment and ``created_at``: :func:`identity`), so the same item gets the same key every run.
* *Incremental on ``created_at``.* Each list is asked ``sort_by=created_at`` and
  ``order_by=asc`` (``created_at`` is one of the SDK's ``SORT_BY_VALUES``, and a list growing
  at its end does not shift the pages already read), with ``created_at_min`` a day before the
  bookmark's UTC day (the API takes days, ``YYYY-MM-DD`` in the SDK; the day before absorbs
  any time-zone reading of it). Correctness does not rest on the order or on the filter: items
  before the bookmark are dropped here, and items at exactly the bookmark instant are emitted
  unless their key is in ``ids_at_bookmark`` (the keys already emitted at that second, kept in
  the state next to the bookmark). The bookmark moves only once a role's list was read to its
  confirmed end (:class:`HrflowPaginator`); never past the run's start (an item dated in the
  future is read again next run, never lost); an interrupted run keeps the old one (its items
  come again: duplicates, never losses). ``start_date`` is a first bookmark (items at or after it).
* *Limit.* ``POST /tracking`` and ``POST /rating`` take a ``created_at``: an item posted
  after a run with a ``created_at`` before that run's bookmark (back-dated) is not seen by the
  incremental runs that follow; a run without state (``--full-refresh``) reads it.
"""

from __future__ import annotations

import hashlib
import json
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_hrdata.http.client import AnswerError, JsonResponse
from tap_hrdata.http.redaction import request_line
from tap_hrdata.sources.hrflow import schemas
from tap_hrdata.sources.hrflow.client import HrflowPaginator
from tap_hrdata.sources.hrflow.streams import HrflowStream
from tap_hrdata.statecheck import StateError, bookmark_time, shown
from tap_hrdata.values import iso_timestamp, number, text, utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_hrdata.streams import ColumnSources

SCHEMAS = SchemaDirectory(schemas)

#: The values of the required ``role`` filter (the SDK's docstrings), one state partition each.
ROLES = ("recruiter", "candidate", "employee", "manager")
REPLICATION_KEY = "created_at"
#: State key next to the bookmark: the keys emitted at exactly the bookmark instant.
IDS_AT_BOOKMARK = "ids_at_bookmark"
#: ``created_at_min`` is this much before the bookmark's day (the API reads days; see the module docstring).
OVERLAP = timedelta(days=1)
#: Where :meth:`ActivityStream.read_page` puts the vendor's item, next to its identity (``key``).
ITEM = "item"
#: The fields an item without a key or id is identified by (:func:`identity`).
IDENTITY_FIELDS = (
    "action",
    "score",
    "source_key",
    "profile_key",
    "profile_reference",
    "board_key",
    "job_key",
    "job_reference",
    "author_email",
    "comment",
    "created_at",
)


def identity(item: dict[str, t.Any], role: str) -> str:
    """An item's key: its own ``key``, else its ``id``, else a SHA-256 of its identifying fields (64 hex).

    ``role`` is the role the list was asked for, used when the item does not say its own.
    """
    for name in ("key", "id"):
        value = item.get(name)
        if (isinstance(value, str) and value) or (isinstance(value, int) and not isinstance(value, bool)):
            return str(value)
    values = [item.get("role") or role, *(item.get(name) for name in IDENTITY_FIELDS)]
    encoded = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class ActivityBookmark:
    """Every item created before ``moment`` was emitted, and those at ``moment`` with the keys ``ids``."""

    moment: datetime
    ids: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, state: dict[str, t.Any], where: str) -> ActivityBookmark | None:
        """The bookmark of a (stream or partition) state, checked; None without one (or under another key)."""
        if state.get("replication_key") not in (None, REPLICATION_KEY):
            return None  # the SDK's to ignore: a replication key change starts over
        moment = bookmark_time(where, state.get("replication_key_value"))
        ids = state.get(IDS_AT_BOOKMARK, [])
        if not isinstance(ids, list) or not all(isinstance(key, str) and key for key in ids):
            msg = f"state: bookmarks.{where}.{IDS_AT_BOOKMARK} must be a list of item keys (non-empty strings), "
            raise StateError(msg + f"found {shown(ids)}")
        return None if moment is None else cls(moment, frozenset(ids))


@dataclass
class Newest:
    """The greatest ``created_at`` emitted in a role's list, and the keys emitted at it."""

    moment: datetime | None = None
    ids: set[str] = field(default_factory=set)

    def note(self, moment: datetime | None, key: str) -> None:
        """An item emitted: its ``created_at`` and key."""
        if moment is None:
            return
        if self.moment is None or moment > self.moment:
            self.moment, self.ids = moment, {key}
        elif moment == self.moment:
            self.ids.add(key)

    def bookmark(self, previous: ActivityBookmark | None, started: datetime) -> ActivityBookmark | None:
        """The bookmark once the list was read: the newest item emitted, never after ``started``.

        ``previous`` when nothing newer was emitted; at the same instant, the keys of both.
        """
        if self.moment is None:
            return previous
        moment, ids = self.moment, frozenset(self.ids)
        if moment > started:
            moment, ids = started, frozenset()  # dated after the run started: read again next run
        if previous is not None:
            if moment < previous.moment:
                return previous
            if moment == previous.moment:
                ids |= previous.ids
        return ActivityBookmark(moment, ids)


class ActivityPaginator(HrflowPaginator):
    """:class:`HrflowPaginator` over the whole (server-filtered) list; ``incremental`` on a run with a cutoff."""

    def __init__(self, limit: int, *, incremental: bool) -> None:
        super().__init__(None, limit)
        self._incremental = incremental

    @property
    @override
    def incremental(self) -> bool:
        """True when a bookmark or ``start_date`` cuts the list (its ``meta.total`` then overstates the run)."""
        return self._incremental


class ActivityStream(HrflowStream):
    """Trackings or ratings of the configured sources (or boards), one state partition per role."""

    replication_key = REPLICATION_KEY
    is_sorted = False
    primary_keys: tuple[str, ...] = ("role", "key")  # type: ignore[assignment]  # HrflowStream says ("key",)
    #: ``action`` (trackings) or ``score`` (ratings).
    kind_column: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: The role being read, where it starts, what it emitted, and why paging stopped unconfirmed.
        self._role = ROLES[0]
        self._cutoff: ActivityBookmark | None = None
        self._newest = Newest()
        self._doubt: str | None = None
        self._warned = False

    @property
    @override
    def partitions(self) -> list[dict[str, t.Any]]:
        """One partition per role: each role's list has its own bookmark."""
        return [{"role": role} for role in ROLES]

    def scope(self) -> tuple[str, list[str]] | None:
        """The query parameter and keys that pick the items: the sources, else the boards; None without either."""
        for name in ("source_keys", "board_keys"):
            keys = list(self.settings.get(name) or [])
            if keys:
                return name, keys
        return None

    @classmethod
    @override
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """Each role's bookmark (and one at the stream's level), checked before it is trusted.

        A value that is no timestamp, a bookmark in the future (every run would skip every
        item), or ``ids_at_bookmark`` that are not keys stop the run, naming the path in the
        state. The tap calls this as it loads the state; the stream again before its requests.
        """
        name: str = cls.name  # type: ignore[misc]  # a class attribute here
        partitions = stream_state.get("partitions")
        ActivityBookmark.from_state(stream_state, name)
        for index, partition in enumerate(partitions if isinstance(partitions, list) else []):
            if isinstance(partition, dict):
                ActivityBookmark.from_state(partition, f"{name}.partitions[{index}]")

    @override
    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The later of the bookmark and ``start_date``, once the bookmark is checked (as the SDK compares them)."""
        bookmark_time(self.name, value)
        return super().compare_start_date(value, start_date_value)

    @override
    def get_http_request(self, *, page: PageContext[int]) -> HTTPRequest:
        """The role, the keys as a JSON list, paging, oldest first, and ``created_at_min`` on a cut run."""
        request = super().get_http_request(page=page)
        scope = self.scope()
        if scope is None:  # records() asks nothing then
            msg = "no hrflow.source_keys nor hrflow.board_keys"
            raise ValueError(msg)
        name, keys = scope
        params: dict[str, t.Any] = {"role": (page.stream_context or {}).get("role", self._role)}
        params[name] = json.dumps(keys)
        params.update(request.params)
        params.update({"sort_by": "created_at", "order_by": "asc"})
        if self._cutoff is not None:
            params["created_at_min"] = (self._cutoff.moment - OVERLAP).strftime("%Y-%m-%d")
        request.params = params
        return request

    @override
    def get_new_paginator(self, context: Context | None) -> ActivityPaginator:
        """Page numbers from 1 to the list's confirmed end."""
        return ActivityPaginator(int(self.settings["page_size"]), incremental=self._cutoff is not None)

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """One role's list, from its bookmark (or ``start_date``); the bookmark moves once it was read to its end."""
        scope = self.scope()
        if scope is None:
            if not self._warned:
                self._warned = True
                self.logger.warning(
                    "hrflow stream '%s': hrflow.source_keys and hrflow.board_keys are empty, nothing to sync",
                    self.name,
                )
            return
        role = str((context or {}).get("role", ROLES[0]))
        state = self.get_context_state(context)
        bookmark = ActivityBookmark.from_state(state, self.state_where(state))
        start = utc_timestamp(self.config.get("start_date"))
        cutoff = bookmark
        if start is not None and (bookmark is None or start > bookmark.moment):
            cutoff = ActivityBookmark(start)  # start_date: items at or after it
        self._role, self._cutoff, self._newest, self._doubt = role, cutoff, Newest(), None
        started = datetime.now(timezone.utc).replace(microsecond=0)
        # The SDK keeps an unsorted stream's greatest value there (and says so once per role without this note).
        state["progress_markers"] = {"Note": f"the bookmark moves once the {role} list was read to its end"}
        yield from super().records(context)
        # Back here, every record of the role's list is written.
        state.pop("progress_markers", None)  # the SDK's greatest value: the bookmark is set here instead
        if self._doubt is not None:
            return  # the old bookmark stays (unconfirmed_end said so)
        new = self._newest.bookmark(bookmark, started)
        if new is not None and new != bookmark:
            state["replication_key"] = REPLICATION_KEY
            state["replication_key_value"] = new.moment.isoformat()
            state[IDS_AT_BOOKMARK] = sorted(new.ids)

    def state_where(self, state: dict[str, t.Any]) -> str:
        """Where ``state`` is under ``bookmarks``: the stream, or one of its partitions."""
        for index, partition in enumerate(self.stream_state.get("partitions") or []):
            if partition is state:
                return f"{self.name}.partitions[{index}]"
        return self.name

    @override
    def unconfirmed_end(self, context: Context | None, doubt: str) -> None:
        """Keep the role's bookmark: records after the doubtful end were not read."""
        self._doubt = doubt
        self.logger.warning(
            "hrflow stream '%s' (role %s): the list may not have been read to its end (%s); the bookmark stays, "
            "so the next run reads it again from there",
            self.name,
            self._role,
            doubt,
        )

    @override
    def read_page(self, response: requests.Response) -> JsonResponse:
        """A page read and checked inside the retry, each item paired with its identity.

        The paginator reads ``data[i].key`` (to skip items a moved list repeats); the item
        itself goes on untouched, under :data:`ITEM`, to end up in ``raw``.
        """
        answer = self.client.read_json(response, stream=self.name)
        payload = answer.json()
        data = payload.get("data")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            msg = f"{request_line(answer.request, answer.url)} answered without a list of objects in data"
            raise AnswerError(msg)
        paired = [{"key": identity(item, self._role), ITEM: item} for item in data]
        return JsonResponse(answer, {**payload, "data": paired}, answer.size)

    @override
    def wanted(self, item: dict[str, t.Any]) -> bool:
        """Items after the cutoff, and those at it whose key the bookmark does not list."""
        moment = utc_timestamp(item[ITEM].get("created_at"))
        cutoff = self._cutoff
        if (
            cutoff is not None
            and moment is not None
            and (moment < cutoff.moment or (moment == cutoff.moment and item["key"] in cutoff.ids))
        ):
            return False
        self._newest.note(moment, item["key"])
        return True

    @override
    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """Key, role, action or score, profile, job, author, comment and date; ``raw`` keeps it all."""
        vendor = item[ITEM]
        return {
            "key": item["key"],
            "role": text(vendor.get("role")) or self._role,
            self.kind_column: self.kind_value(vendor),
            "source_key": text(vendor.get("source_key")),
            "profile_key": text(vendor.get("profile_key")),
            "profile_reference": text(vendor.get("profile_reference")),
            "board_key": text(vendor.get("board_key")),
            "job_key": text(vendor.get("job_key")),
            "job_reference": text(vendor.get("job_reference")),
            "author_email": text(vendor.get("author_email")),
            "comment": text(vendor.get("comment")),
            "created_at": iso_timestamp(vendor.get("created_at")),
            "raw": vendor,
        }

    def kind_value(self, vendor: dict[str, t.Any]) -> str | float | None:
        """The ``action`` or the ``score`` of an item."""
        return text(vendor.get(self.kind_column))


def _columns(kind: str) -> ColumnSources:
    return {
        "key": (("key",), ("id",)),
        "role": (("role",),),
        kind: ((kind,),),
        "source_key": (("source_key",),),
        "profile_key": (("profile_key",),),
        "profile_reference": (("profile_reference",),),
        "board_key": (("board_key",),),
        "job_key": (("job_key",),),
        "job_reference": (("job_reference",),),
        "author_email": (("author_email",),),
        "comment": (("comment",),),
        "created_at": (("created_at",),),
    }


class TrackingsStream(ActivityStream):
    """Trackings (``GET /trackings``): a profile's stage (``action``) for a job."""

    name = "hrflow_trackings"
    path = "/trackings"
    kind_column = "action"
    column_sources: t.ClassVar[ColumnSources] = _columns("action")
    schema = StreamSchema(SCHEMAS)


class RatingsStream(ActivityStream):
    """Ratings (``GET /ratings``): a profile's ``score`` (0 to 1) for a job."""

    name = "hrflow_ratings"
    path = "/ratings"
    kind_column = "score"
    column_sources: t.ClassVar[ColumnSources] = _columns("score")
    schema = StreamSchema(SCHEMAS)

    @override
    def kind_value(self, vendor: dict[str, t.Any]) -> float | None:
        """The score, a number (0 to 1)."""
        return number(vendor.get("score"))
