"""Talentsoft streams: vacancies, candidates (with applications and attachments), referentials.

Applications and attachments come out of the candidate frames already read: the
candidates stream keeps the current frame, and its two child streams turn it into
records, so no extra API call is ever made for them.

Two ways to read ``vacancies`` and ``candidates`` incrementally (``talentsoft.replication``):

``offset``
    The bookmark is the export position (``offset``) of the last record emitted; a run asks
    for the records after it. An ``offset`` is a position, not a change sequence: a record
    edited after it was exported keeps its position, so no later run sees the edit. Right
    only for exports that only ever append.

``modified`` (the default)
    The bookmark is the greatest modification date emitted (``update_date``:
    ``modificationDate``, else ``updateDate``). A run asks for
    ``filter=updateDate:ge:<bookmark>`` (after ``talentsoft.filter``, comma-joined) and pages
    through that filtered export by offset. Why it is built this way:

    - *Records at the bookmark instant.* Dates have one-second resolution and several records
      can share one: ``gt`` would lose a record modified in the same second as the bookmark
      but after the run that set it. So the run asks ``ge`` and the state keeps the keys
      emitted at exactly the bookmark instant (``ids_at_bookmark``, a sorted list: the records
      of one second); a record at that instant with one of those keys is the version already
      emitted and is skipped; any other is emitted. (An overlap window with dedupe by key
      would need the keys of the whole window, and would still re-emit the window's records
      whenever the dedupe state is lost.) Limit: a record edited twice within the same second,
      the second edit after a run read the first, keeps its date and is not seen again.
    - *Order.* Neither the vendor's documentation nor the public connector says the export
      is sorted by modification date, and the emulator serves it in export order (a filter
      narrows the set, the order stays). So the bookmark moves only when a pass over the
      filtered export completes (as HrFlow's unsorted streams do). Inside a pass the state
      keeps ``modified_run``: the date clause of the pass (``since``), the offset of the last
      record emitted, the greatest date and the keys emitted at it so far, and the vendor's
      clock when the pass started (the ``Date`` header of its first answer). A crash resumes
      at the next record of the same filtered export (same ``since``); the filtered set only
      grows while a pass runs (dates only increase), so a record entering it before the
      resume point shifts the rest by one: one record emitted twice, none lost.
    - *Edits during a pass.* A record edited after the pass went past its position is not in
      this pass; its new date is at or after the pass started. So the new bookmark is the
      greatest date emitted, but never later than the vendor's clock when the pass started:
      records emitted with a later date (edited during the pass) are read again by the next
      run (a duplicate, never a loss). Without a ``Date`` header the greatest date is used.
    - *First run, migration.* With no ``update_date`` bookmark (a first run, or a state
      written in ``offset`` mode, whose ``replication_key`` is ``offset``) the run reads the
      whole export once, or the records updated after ``start_date``
      (``updateDate:gt:<start_date>``) when it is set, then goes incremental. Continuing
      from the offset bookmark instead would never catch the edits to records before it.
    - The state partitions are the user's selection (``talentsoft.filter``, ``query``):
      the date clause changes every run and is kept in the state, not in the partition.
      Records carry ``export_filter`` = ``talentsoft.filter``.
    - Applications and attachments are read from the candidate frames: they follow
      candidates (an edited candidate brings all its applications and attachments again).

Targeted refreshes (both modes): the webhook events journalled since the stream's
``events_refreshed_through`` name vacancies and candidates; after its pass the stream
re-exports by id (``filter=id::A,B``) those the pass did not emit (:meth:`ExportStream.refresh`).
"""

from __future__ import annotations

import abc
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from tap_hrdata.children import InlineChildStream
from tap_hrdata.framing import FrameTooLargeError, iter_frames
from tap_hrdata.http.retry import BrokenBodyError
from tap_hrdata.sources.talentsoft import schemas
from tap_hrdata.sources.talentsoft.client import (
    READ_CHUNK_BYTES,
    ExportDataError,
    ExportDocument,
    ExportPaginator,
    NextPage,
    TalentsoftClient,
    parse_frame,
)
from tap_hrdata.sources.talentsoft.events import journal_extent, named_ids_between
from tap_hrdata.sources.talentsoft.reports import IndexingReports, check_mark
from tap_hrdata.statecheck import StateError, bookmark_offset, bookmark_time, shown
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import flag, label, number, text, utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context, Record

SCHEMAS = SchemaDirectory(schemas)

#: Replication keys of the exports: ``talentsoft.replication`` ``offset`` and ``modified``.
OFFSET_KEY = "offset"
MODIFIED_KEY = "update_date"
#: State keys of the ``modified`` mode, next to the bookmark (see the module docstring).
IDS_AT_BOOKMARK = "ids_at_bookmark"
#: State key: the journal position up to which the events' named records were refreshed.
EVENTS_REFRESHED = "events_refreshed_through"
#: Ids in one ``id::`` filter of a targeted refresh (the query stays far below URL limits).
REFRESH_BATCH = 50
MODIFIED_RUN = "modified_run"


def vendor_date(moment: datetime) -> str:
    """A date as the export filter takes it, UTC: ``2026-01-02T03:04:05Z`` (a fraction only when there is one)."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def _keys(where: str, path: str, value: object) -> frozenset[str]:
    """A list of record keys from a state, checked."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        msg = f"state: bookmarks.{where}.{path} must be a list of record keys (non-empty strings), found {shown(value)}"
        raise StateError(msg)
    return frozenset(value)


@dataclass
class ModifiedPass:
    """``modified_run``: a pass over the export filtered by ``since``, as far as it went."""

    #: The date clause of the pass (``updateDate:ge:...``), None for the whole export.
    since: str | None
    #: Offset of the last record emitted in this pass (-1: none yet).
    offset: int = -1
    #: The greatest modification date emitted, and the keys emitted at exactly that date.
    latest: datetime | None = None
    ids_at_latest: set[str] = field(default_factory=set)
    #: The vendor's clock when the pass started (``Date`` of its first answer).
    started: datetime | None = None

    @classmethod
    def from_state(cls, state: dict[str, t.Any], where: str) -> ModifiedPass | None:
        """The marker of a (stream or partition) state, checked; None without one."""
        marker = state.get(MODIFIED_RUN)
        if marker is None:
            return None
        if not isinstance(marker, dict):
            msg = f"state: bookmarks.{where}.{MODIFIED_RUN} must be an object, found {shown(marker)}"
            raise StateError(msg)
        since = marker.get("since")
        if since is not None and not isinstance(since, str):
            msg = f"state: bookmarks.{where}.{MODIFIED_RUN}.since must be a filter clause or null, found {shown(since)}"
            raise StateError(msg)
        offset = bookmark_offset(where, marker.get("offset", -1), f"{MODIFIED_RUN}.offset")
        return cls(
            since=since,
            offset=-1 if offset is None else offset,
            latest=bookmark_time(where, marker.get("latest"), f"{MODIFIED_RUN}.latest"),
            ids_at_latest=set(_keys(where, f"{MODIFIED_RUN}.ids_at_latest", marker.get("ids_at_latest", []))),
            started=bookmark_time(where, marker.get("started"), f"{MODIFIED_RUN}.started"),
        )

    def to_state(self) -> dict[str, t.Any]:
        """The marker as the state carries it."""
        return {
            "since": self.since,
            "offset": self.offset,
            "latest": None if self.latest is None else vendor_date(self.latest),
            "ids_at_latest": sorted(self.ids_at_latest),
            "started": None if self.started is None else vendor_date(self.started),
        }

    def emitted(self, offset: int, moment: datetime | None, key: str) -> None:
        """Note a record written: its offset, its date and key."""
        self.offset = offset
        if moment is None:
            return
        if self.latest is None or moment > self.latest:
            self.latest, self.ids_at_latest = moment, {key}
        elif moment == self.latest:
            self.ids_at_latest.add(key)


@dataclass(frozen=True)
class ModifiedBookmark:
    """The committed ``modified`` bookmark.

    Every record modified before ``moment`` was emitted, and those at ``moment`` with the keys ``ids``.
    """

    moment: datetime
    ids: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, state: dict[str, t.Any], where: str) -> ModifiedBookmark | None:
        """The bookmark of a (stream or partition) state, checked; None when it is not a ``modified`` one."""
        if state.get("replication_key") != MODIFIED_KEY:
            return None
        moment = bookmark_time(where, state.get("replication_key_value"))
        if moment is None:
            return None
        return cls(moment, _keys(where, IDS_AT_BOOKMARK, state.get(IDS_AT_BOOKMARK, [])))


def bookmark_after(previous: ModifiedBookmark | None, done: ModifiedPass) -> ModifiedBookmark | None:
    """The bookmark once the pass ``done`` completed (``previous`` when it emitted nothing).

    The greatest date emitted, capped at the vendor's clock when the pass started: a record
    edited during the pass, behind its position, has a later date, and is read next run.
    """
    if done.latest is None:
        return previous
    moment, ids = done.latest, frozenset(done.ids_at_latest)
    if done.started is not None and done.started < moment:
        moment, ids = done.started, frozenset()  # records after it are read again next run
    if previous is not None:
        if moment < previous.moment:
            return previous
        if moment == previous.moment:
            ids |= previous.ids
    return ModifiedBookmark(moment, ids)


def _obj(value: object) -> dict[str, t.Any]:
    return value if isinstance(value, dict) else {}


class TalentsoftStream(VendorStream):
    """Base of the Talentsoft streams: the source's client."""

    @property
    @override
    def client(self) -> TalentsoftClient:
        """The run's Talentsoft client."""
        return self._tap.client(TalentsoftClient)


class ExportStream(TalentsoftStream):
    """An export endpoint read as frames, incremental on the records' modification date or ``offset``.

    ``talentsoft.replication`` ``offset``: the export is sorted by offset, so the bookmark
    is the offset of the last record emitted and an interrupted run resumes at bookmark + 1.
    With a ``filter`` the offsets are positions in the filtered set, so the bookmark is kept
    per filter value (a state partition). ``modified`` (the default): see the module
    docstring.
    """

    #: Name of the export endpoint (``vacancies``, ``candidates``).
    export: t.ClassVar[str]
    #: Name of the zip entry holding the JSON document.
    document_entry: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``modified`` mode: the bookmark the run started from, and the pass being read.
        self._bookmark: ModifiedBookmark | None = None
        self._pass: ModifiedPass | None = None
        #: The record being emitted in ``modified`` mode: its offset, modification date and key.
        self._pending: tuple[int, datetime | None, str] | None = None
        #: ``talentsoft.report_indexing``: this run's reports and journal (reports.py); None when off.
        self._reports: IndexingReports | None = None
        #: During a targeted refresh: the ``id::`` clause of the batch being read (else None).
        self._refresh_clause: str | None = None

    @property
    def modified(self) -> bool:
        """True in ``modified`` mode (``talentsoft.replication``, the default)."""
        return self.settings.get("replication", "modified") == "modified"

    @property
    @override
    def replication_key(self) -> str | None:
        """``update_date`` in ``modified`` mode, else ``offset``."""
        return MODIFIED_KEY if self.modified else OFFSET_KEY

    @replication_key.setter
    def replication_key(self, new_value: str | None) -> None:
        """Decided by ``talentsoft.replication``, whatever a catalog says."""

    @property
    @override
    def is_sorted(self) -> bool:
        """Sorted by offset; not by modification date (the bookmark moves when a pass completes)."""
        return not self.modified

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the ``modified`` bookmark is capped by the vendor's own clock (module docstring)."""
        return

    @property
    @override
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """One partition per selection (filter, query), so each keeps its own bookmark.

        Offsets are positions in the selected set: another filter is another set. Only the
        keys that are set make the partition, so the states of earlier versions (filter
        only) still match.
        """
        selection = {key: value for key, value in self.selection().items() if value}
        return [selection] if selection else None

    def selection(self) -> dict[str, str | None]:
        """What selects this export's records, as the records and state partitions carry it.

        In ``modified`` mode the user's ``talentsoft.filter`` only: the date clause moves every run.
        """
        return {"export_filter": (self.settings.get("filter") or None) if self.modified else self.export_filter()}

    def request_filter(self) -> str | None:
        """The ``filter`` sent: :meth:`export_filter`; in ``modified`` mode the user's filter and the pass's clause.

        During a targeted refresh, the user's filter and the batch's ``id::`` clause (last: its
        ids are comma-separated too).
        """
        if self._refresh_clause is not None:
            clauses = [self.settings.get("filter") or None, self._refresh_clause]
        elif not self.modified:
            return self.export_filter()
        else:
            clauses = [self.settings.get("filter") or None, self._pass.since if self._pass is not None else None]
        return ",".join(clause for clause in clauses if clause) or None

    def since_clause(self, bookmark: ModifiedBookmark | None) -> str | None:
        """The date clause of a ``modified`` pass.

        ``ge`` the bookmark (its keys at that instant are skipped), else ``gt`` ``start_date``
        (the later of the two), else none (the whole export). A partition's window
        ``[start, end)`` (tap_hrdata/partitions.py) raises the lower bound to ``ge start``
        when it is later than both, and adds ``lt end``: contiguous windows cut the export
        into disjoint slices, the first one starting where ``start_date`` does (``gt``).
        """
        start = utc_timestamp(self.config.get("start_date"))
        partition = self._tap.partition
        window_start = partition.start if partition is not None else None
        window_end = partition.end if partition is not None else None
        floor = max((moment for moment in (start, window_start) if moment is not None), default=None)
        clauses = []
        if bookmark is not None and (floor is None or bookmark.moment >= floor):
            clauses.append(f"updateDate:ge:{vendor_date(bookmark.moment)}")
        elif window_start is not None and (start is None or window_start > start):
            clauses.append(f"updateDate:ge:{vendor_date(window_start)}")
        elif start is not None:
            clauses.append(f"updateDate:gt:{start:%Y-%m-%dT%H:%M:%SZ}")
        if window_end is not None:
            clauses.append(f"updateDate:lt:{vendor_date(window_end)}")
        return ",".join(clauses) or None

    def export_filter(self) -> str | None:
        """The ``filter`` sent: ``talentsoft.filter``, and ``start_date`` as ``updateDate:gt:...``.

        ``start_date`` is a date, never an offset: it narrows the export to records updated
        after it, for as long as it is set. Offsets are positions in that narrowed export,
        so its bookmark is kept apart (a state partition) like any other filter's.
        """
        clauses = [self.settings.get("filter") or None]
        start = utc_timestamp(self.config.get("start_date"))
        if start is not None:
            clauses.append(f"updateDate:gt:{start:%Y-%m-%dT%H:%M:%SZ}")
        return ",".join(clause for clause in clauses if clause) or None

    @classmethod
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """The stream's bookmarks (its own and each partition's), checked before they are trusted.

        An offset bookmark that is not a record offset (``"abc"``, ``4.5``, ``true``) stops the
        run with its path in the state: read as "no bookmark" it would silently export
        everything again. So do a modification-date bookmark that is no timestamp or lies in
        the future, ``ids_at_bookmark`` that are not keys, and a ``modified_run`` of the wrong
        shape. The tap calls this as it loads the state; the stream again before its first
        request.
        """
        partitions = stream_state.get("partitions")
        entries = [("", stream_state)] + [
            (f"partitions[{index}]", partition)
            for index, partition in enumerate(partitions if isinstance(partitions, list) else [])
            if isinstance(partition, dict)
        ]
        name: str = cls.name  # type: ignore[misc]  # a class attribute here
        for prefix, entry in entries:
            key = entry.get("replication_key")
            if key in (None, OFFSET_KEY):
                path = f"{prefix}.replication_key_value" if prefix else "replication_key_value"
                bookmark_offset(name, entry.get("replication_key_value"), path)
            where = f"{name}.{prefix}" if prefix else name
            if key == MODIFIED_KEY:
                ModifiedBookmark.from_state(entry, where)
            ModifiedPass.from_state(entry, where)
            check_mark(entry, where)
            refreshed = entry.get(EVENTS_REFRESHED)
            if refreshed is not None and not (type(refreshed) is int and refreshed >= 0):
                msg = (
                    f"state: bookmarks.{where}.{EVENTS_REFRESHED} must be a webhook journal position (an integer, "
                    f"0 or more), found {shown(refreshed)}"
                )
                raise StateError(msg)

    def get_new_paginator(self, context: Context | None) -> ExportPaginator:
        """Offsets from the record after the bookmark (or 0), ``page_size`` at a time.

        In ``modified`` mode: from the record after the last one emitted by the pass over the
        same filtered export, when one was interrupted, else from 0.
        """
        self.check_state(self.stream_state)
        state = self.get_context_state(context)
        page_size = int(self.settings["page_size"])
        if self.modified:
            self._bookmark = ModifiedBookmark.from_state(state, self.name)
            since = self.since_clause(self._bookmark)
            resumed = ModifiedPass.from_state(state, self.name)
            if resumed is not None and resumed.since == since:
                self.logger.info(
                    "talentsoft stream '%s': resuming the export filtered by %s after offset %d",
                    self.name,
                    since or "nothing",
                    resumed.offset,
                )
                self._pass = resumed
            else:
                self._pass = ModifiedPass(since)
            return ExportPaginator(self._pass.offset + 1, page_size)
        bookmark = state.get("replication_key_value") if state.get("replication_key") == OFFSET_KEY else None
        return ExportPaginator(0 if bookmark is None else bookmark + 1, page_size)

    def get_http_request(self, *, page: PageContext[int]) -> HTTPRequest:
        """``GET /api/exports/v1/{export}`` with offset, limit and the vendor filter."""
        params: dict[str, t.Any] = {
            "offset": page.next_page_token or 0,
            "limit": int(self.settings["page_size"]),
            "filter": self.request_filter(),
            **self.export_params(),
        }
        return HTTPRequest(url=f"{self.client.base_url}/api/exports/v1/{self.export}", params=params)

    def export_params(self) -> dict[str, t.Any]:
        """Query parameters of this export only (None: not sent)."""
        return {}

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:  # noqa: PLR0915  # one paging loop, in order
        """Page through the export, resuming a broken body after the last record taken.

        The next page is requested while this one is read (:class:`NextPage`), when
        ``max_concurrent_requests`` is over 1; records are emitted here, in order, either way.
        """
        paginator = self.get_new_paginator(context)
        self._reports = self.indexing_reports()  # before this run changes the state it started with
        selection = self.selection()
        answered: list[requests.Response] = []
        first_offset = paginator.position
        next_page = NextPage(
            self.client,
            self.name,
            paginator.page_size,
            lambda offset: self.get_http_request(page=PageContext(context, offset)),
        )

        modified_pass = self._pass if self.modified else None
        state = self.get_context_state(context)
        plan = self.refresh_plan(state)
        shrink = ShrinkGuard()
        if modified_pass is not None:
            # The SDK keeps an unsorted stream's greatest value there; this stream's progress is modified_run.
            state["progress_markers"] = {"Note": f"progress is kept in {MODIFIED_RUN}"}

        def read(response: requests.Response) -> Iterator[ExportDocument]:
            answered[:] = [response]
            if modified_pass is not None and modified_pass.started is None:
                modified_pass.started = answer_date(response)
            announced = paginator.total
            paginator.read_total(response)
            if announced is None and paginator.total is not None:  # Content-Range: the export's size
                self.stats.expect_more(records=paginator.total - first_offset)
            next_page.expect(response, paginator.total)
            yield from self.read_documents(response, paginator)

        try:
            while not paginator.finished:
                shrink.page_start = paginator.position
                for document in self.page_documents(context, paginator, next_page, read):
                    record = {**self.document_record(document), **selection}
                    offset = document.offset
                    del document
                    if modified_pass is not None:
                        key = str(record[self.primary_keys[0]])
                        moment = utc_timestamp(record.get(MODIFIED_KEY))
                        if self.already_emitted(key, moment):
                            self.document_done()
                            continue
                        self._pending = (offset, moment, key)  # noted once written (_increment_stream_state)
                    if plan is not None:
                        plan.named.discard(str(record[self.primary_keys[0]]))  # fresh already
                    yield record
                    # Back here, this record and its child streams' records are written: the
                    # frame goes before the next one is read, so one frame is in memory.
                    self.document_done()
                    self._pending = None
                paginator.advance(answered[0])
                shrink.follow(paginator, self.name, self.logger)
        finally:
            next_page.drop()
            if self._reports is not None:  # the entries of the records written, before the STATE that counts them
                self._reports.flush(state)
        if modified_pass is not None:
            self.commit_pass(state, modified_pass)
        if plan is not None:
            yield from self.refresh(context, state, plan)
        self.warn_paging(paginator, first_offset)

    def warn_paging(self, paginator: ExportPaginator, first_offset: int) -> None:
        """Say where the export's Content-Range and its records disagreed, once the pass is over."""
        if paginator.short_total:
            self.logger.warning(
                "talentsoft stream '%s': Content-Range announced %s records but the export ended at %d",
                self.name,
                paginator.total,
                paginator.position,
            )
        if paginator.long_total:
            self.logger.warning(
                "talentsoft stream '%s': Content-Range announced %s records but the export held at least %d; "
                "paging went on while pages came back full",
                self.name,
                paginator.total,
                paginator.position,
            )
        if paginator.position == first_offset and paginator.total is not None and first_offset > paginator.total:
            self.logger.warning(
                "talentsoft stream '%s': the bookmark is past the export's end (next offset %d, Content-Range "
                "announced %d records); if the export was rebuilt, run once with --full-refresh",
                self.name,
                first_offset,
                paginator.total,
            )

    @override
    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        """The SDK's bookmark update, and in ``modified`` mode the pass's progress (``modified_run``).

        The SDK calls this once the record (and its children's records) is written and before
        it may write a STATE: so a STATE's ``modified_run`` counts exactly the records written,
        and a run broken after record k resumes at record k + 1, never at k.
        """
        if self._refresh_clause is not None:  # a targeted refresh: no bookmark moves (see refresh)
            if self._reports is not None:
                self._reports.note(latest_record, self.primary_keys[0], self.get_context_state(context))
            return
        super()._increment_stream_state(latest_record, context=context)
        if self._pass is not None and self._pending is not None and self.modified:
            self._pass.emitted(*self._pending)
            self._pending = None
            self.get_context_state(context)[MODIFIED_RUN] = self._pass.to_state()
        if self._reports is not None:
            self._reports.note(latest_record, self.primary_keys[0], self.get_context_state(context))

    def refresh_plan(self, state: dict[str, t.Any]) -> RefreshPlan | None:
        """What this run re-exports for the webhook events journalled since the last refresh.

        The journal is read from this stream's own ``events_refreshed_through`` (not from the
        ``talentsoft_events`` bookmark: a crash between the two streams must not lose a
        refresh, and the events stream need not be selected) up to the run's end of the
        journal, which every stream shares. A run without a bookmark reads the whole export
        (or everything after ``start_date``), which is newer than every event before it: it
        refreshes nothing and starts the count at the journal's end. None when there is no
        journal to read.
        """
        if self._tap.partition is not None:  # a slice of a backfill: the events are the incremental runs' business
            return None
        reader, end = journal_extent(self._tap)
        through = state.get(EVENTS_REFRESHED)
        if reader is None or (end == 0 and through is None):
            return None
        if through is None and state.get("replication_key_value") is None:
            return RefreshPlan(set(), end)
        start = through or 0
        if start > end or not reader.at_line_start(start):
            self.logger.warning(
                "talentsoft stream '%s': %s %s is not a position of the webhook journal %s (was it replaced or "
                "cut?); no targeted refresh this run, the count starts again at the journal's end",
                self.name,
                EVENTS_REFRESHED,
                start,
                reader.path,
            )
            return RefreshPlan(set(), end)
        return RefreshPlan(named_ids_between(reader, start, end)[self.export], end)

    def refresh(
        self, context: Context | None, state: dict[str, t.Any], plan: RefreshPlan
    ) -> Iterator[dict[str, t.Any]]:
        """Re-export exactly the ids of ``plan`` (``filter=id::a,b,...``), the records webhook events named.

        Once all are written, ``events_refreshed_through`` moves to the journal position they
        cover: a run broken before refreshes them again (a duplicate, never a loss).

        The records a pass already emitted this run are not asked again. These records move
        no bookmark: their positions are in the id-filtered export, and in ``modified`` mode
        the next pass reads them again if their date is past the bookmark (a duplicate, never
        a loss). An id the filter syntax cannot carry (a comma or a colon in it) is left to
        the regular passes, with a warning.
        """
        ids = plan.named
        usable = sorted(key for key in ids if key and not set(key) & {",", ":"})
        if len(usable) < len(ids):
            self.logger.warning(
                "talentsoft stream '%s': %d id(s) named by webhook events cannot be put in an id filter; "
                "not refreshed by id",
                self.name,
                len(ids) - len(usable),
            )
        if usable:
            self.logger.info(
                "talentsoft stream '%s': refreshing %d record(s) named by webhook events", self.name, len(usable)
            )
        try:
            for first in range(0, len(usable), REFRESH_BATCH):
                self._refresh_clause = "id::" + ",".join(usable[first : first + REFRESH_BATCH])
                yield from self.refresh_batch(context)
        finally:
            self._refresh_clause = None
            if self._reports is not None:  # the refreshed versions too, before the STATE that counts them
                self._reports.flush(state)
        state[EVENTS_REFRESHED] = plan.end

    def refresh_batch(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Every record of the export filtered by the current ``id::`` clause, page after page."""
        selection = self.selection()
        paginator = ExportPaginator(0, int(self.settings["page_size"]))
        answered: list[requests.Response] = []

        def read(response: requests.Response) -> Iterator[ExportDocument]:
            answered[:] = [response]
            paginator.read_total(response)
            yield from self.read_documents(response, paginator)

        while not paginator.finished:
            for document in self.client.body(
                lambda: self.get_http_request(page=PageContext(context, paginator.position)),
                read,
                stream=self.name,
                where=f"refresh by id at offset {paginator.position}",
            ):
                record = {**self.document_record(document), **selection}
                del document
                yield record
                self.document_done()
            paginator.advance(answered[0])

    def indexing_reports(self) -> IndexingReports | None:
        """``talentsoft.report_indexing``: report what the starting state confirms (after the preflight)."""
        if self._reports is not None or not self.settings.get("report_indexing"):
            return self._reports
        self._tap.ensure_preflight()
        reports = IndexingReports(
            stream=self.name,
            report_type=self.export,
            storage=self._tap.storage,
            client=self.client,
            logger=self.logger,
            state_frequency=self.STATE_MSG_FREQUENCY,
        )
        reports.start(self.stream_state)
        return reports

    def already_emitted(self, key: str, moment: datetime | None) -> bool:
        """A record at exactly the bookmark's instant whose key the bookmark lists: the version emitted."""
        bookmark = self._bookmark
        return bookmark is not None and moment == bookmark.moment and key in bookmark.ids

    def commit_pass(self, state: dict[str, t.Any], done: ModifiedPass) -> None:
        """The pass read the whole filtered export: the bookmark moves (module docstring), the pass is forgotten."""
        state.pop(MODIFIED_RUN, None)
        state.pop("progress_markers", None)
        bookmark = bookmark_after(self._bookmark, done)
        if bookmark is None:
            return
        state["replication_key"] = MODIFIED_KEY
        state["replication_key_value"] = vendor_date(bookmark.moment)
        state[IDS_AT_BOOKMARK] = sorted(bookmark.ids)

    def page_documents(
        self,
        context: Context | None,
        paginator: ExportPaginator,
        next_page: NextPage,
        read: t.Callable[[requests.Response], Iterator[ExportDocument]],
    ) -> Iterator[ExportDocument]:
        """The documents of the page at the paginator's position: fetched ahead, or requested now.

        A page fetched ahead whose body broke is asked again from the record after the
        last one taken, as a body read from the network is.
        """
        start = paginator.position
        prefetched = next_page.take(start)
        if prefetched is not None:
            try:
                yield from read(prefetched)
            except BrokenBodyError as exc:
                if prefetched.complete:
                    self.logger.warning(
                        "talentsoft stream '%s': export at offset %d (fetched ahead): %s; asked again from offset %d",
                        self.name,
                        start,
                        exc,
                        paginator.position,
                    )
            else:
                if prefetched.complete:
                    return
            finally:
                prefetched.close()
            if not prefetched.complete:
                self.logger.info(
                    "talentsoft stream '%s': export at offset %d: the page fetched ahead was read up to %d bytes; "
                    "the rest is asked for from offset %d",
                    self.name,
                    start,
                    prefetched.received,
                    paginator.position,
                )
        yield from self.client.body(
            lambda: self.get_http_request(page=PageContext(context, paginator.position)),
            read,
            stream=self.name,
            where=f"export at offset {paginator.position}",
        )

    def read_documents(self, response: requests.Response, paginator: ExportPaginator) -> Iterator[ExportDocument]:
        """The documents of one answer, each taken once, one frame in memory at a time."""
        limit = int(self.settings["max_frame_bytes"])
        try:
            for frame in iter_frames(response.iter_content(READ_CHUNK_BYTES), limit):
                self.stats.add(bytes=len(frame) + 4)
                where = f"talentsoft stream '{self.name}': frame at offset {paginator.position}"
                document = parse_frame(frame, entry=self.document_entry, limit=limit, where=where, logger=self.logger)
                del frame  # the document's archive holds it: it goes with the document
                if not paginator.take(document.offset):
                    self.logger.warning(
                        "talentsoft stream '%s': the export served the record at offset %d again; skipped",
                        self.name,
                        document.offset,
                    )
                    continue
                yield document
                del document
        except FrameTooLargeError as exc:
            msg = f"talentsoft stream '{self.name}': frame at offset {paginator.position}: {exc}"
            raise ExportDataError(msg) from exc

    @abc.abstractmethod
    def document_record(self, document: ExportDocument) -> dict[str, t.Any]:
        """The stream's record for one export document."""

    def document_done(self) -> None:
        """The last document's record, and its child streams' records, are written."""


@dataclass
class ShrinkGuard:
    """Steps a pass back when the filtered export got smaller while it ran (a partition's window).

    A window with an upper bound (``updateDate:lt:end``) loses the records edited while the
    pass runs (their new date is past ``end``): the records after them move down one
    position each, and paging on would skip as many. The Content-Range total says by how
    much the set shrank; the page where it shows was served already shifted, so the pass
    reads again from that page's start less the shrink (records read twice, none lost).
    Without an upper bound the set only grows.
    """

    least: int | None = None
    #: Where the page being read started.
    page_start: int = 0

    def follow(self, paginator: ExportPaginator, stream: str, logger: t.Any) -> None:
        """After a page: step back when the total fell below the least seen so far."""
        total = paginator.total
        if total is None:
            return
        if self.least is not None and total < self.least:
            back_to = max(0, self.page_start - (self.least - total))
            logger.info(
                "talentsoft stream '%s': the export shrank by %d record(s) during the pass; read again from offset %d",
                stream,
                self.least - total,
                back_to,
            )
            if back_to < paginator.position:
                paginator.rewind(back_to)
        self.least = total if self.least is None else min(self.least, total)


@dataclass
class RefreshPlan:
    """A run's targeted refresh: the ids to re-export, and the journal position they cover."""

    named: set[str]
    end: int


def answer_date(response: requests.Response) -> datetime | None:
    """The vendor's clock when it answered (``Date``), UTC; None without a readable one."""
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class VacanciesStream(ExportStream):
    """Vacancies (offers): one record per ``offerdetail`` document."""

    name = "vacancies"
    primary_keys = ("reference",)
    column_sources: t.ClassVar[ColumnSources] = {
        "reference": (("offerDetail", "reference"),),
        "title": (("offerDetail", "title"), ("offerDetail", "jobDescription", "title")),
        "status": (("offerDetail", "status"),),
        "organisation": (("offerDetail", "organisation"),),
        "location_city": (("offerDetail", "location", "city"),),
        "location_country": (("offerDetail", "location", "country"), ("offerDetail", "jobDescription", "country")),
        "location_address": (("offerDetail", "location", "address"),),
        "location_latitude": (("offerDetail", "location", "latitude"),),
        "location_longitude": (("offerDetail", "location", "longitude"),),
        "contract_type": (("offerDetail", "contractType"), ("offerDetail", "jobDescription", "contractType")),
        "creation_date": (("offerDetail", "creationDate"),),
        "update_date": (("offerDetail", "updateDate"), ("offerDetail", "modificationDate")),
    }
    schema = StreamSchema(SCHEMAS)
    export = "vacancies"
    document_entry = "offerdetail"

    @override
    def selection(self) -> dict[str, str | None]:
        """The filter, and the search text (``talentsoft.query``)."""
        return {**super().selection(), "export_query": self.settings.get("query") or None}

    @override
    def export_params(self) -> dict[str, t.Any]:
        """``q``: the search text (``talentsoft.query``)."""
        return {"q": self.settings.get("query") or None}

    @override
    def document_record(self, document: ExportDocument) -> dict[str, t.Any]:
        """Typed columns plus the complete document as ``raw``."""
        detail = document.document.get("offerDetail")
        if not isinstance(detail, dict) or not detail.get("reference"):
            msg = f"talentsoft stream 'vacancies': document at offset {document.offset} has no offerDetail.reference"
            raise ExportDataError(msg)
        location = _obj(detail.get("location"))
        job = _obj(detail.get("jobDescription"))  # the exports' shape; the seed docs' fields are the fallbacks
        return {
            "reference": str(detail["reference"]),
            "offset": document.offset,
            "title": label(job.get("title")) or label(detail.get("title")),
            "status": label(detail.get("status")),
            "organisation": label(detail.get("organisation")),
            "location_city": label(location.get("city")),
            "location_country": label(job.get("country")) or label(location.get("country")),
            "location_address": label(location.get("address")),
            "location_latitude": number(location.get("latitude")),
            "location_longitude": number(location.get("longitude")),
            "contract_type": label(job.get("contractType")) or label(detail.get("contractType")),
            "creation_date": detail.get("creationDate"),
            "update_date": detail.get("modificationDate") or detail.get("updateDate"),
            "raw": document.document,
        }


class CandidatesStream(ExportStream):
    """Candidates (applicants): one record per ``applicantdetail`` document."""

    name = "candidates"
    primary_keys = ("id",)
    column_sources: t.ClassVar[ColumnSources] = {
        "id": (("candidateDetail", "id"),),
        "first_name": (("candidateDetail", "firstName"), ("candidateDetail", "personalInformation", "firstName")),
        "last_name": (("candidateDetail", "lastName"), ("candidateDetail", "personalInformation", "lastName")),
        "email": (("candidateDetail", "email"), ("candidateDetail", "personalInformation", "email")),
        "phone": (("candidateDetail", "phone"), ("candidateDetail", "personalInformation", "phoneNumber")),
        "status": (("candidateDetail", "status"),),
        "is_employee": (("isEmployee",),),
        "is_in_progress": (("isInProgress",),),
        "position_sought": (("candidateDetail", "positionSought", "primaryProfile"),),
        "creation_date": (("candidateDetail", "creationDate"),),
        "update_date": (("candidateDetail", "updateDate"), ("candidateDetail", "modificationDate")),
    }
    schema = StreamSchema(SCHEMAS)
    export = "candidates"
    document_entry = "applicantdetail"
    # A candidate frame may carry megabytes of attachments: checkpoint often.
    STATE_MSG_FREQUENCY = 50

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: The frame of the candidate being emitted, read by the child streams.
        self.current: ExportDocument | None = None

    @override
    def document_record(self, document: ExportDocument) -> dict[str, t.Any]:
        """Typed columns plus the complete document (applications, attachment list) as ``raw``."""
        detail = document.document.get("candidateDetail")
        if not isinstance(detail, dict) or detail.get("id") in (None, ""):
            msg = f"talentsoft stream 'candidates': document at offset {document.offset} has no candidateDetail.id"
            raise ExportDataError(msg)
        self.current = document
        person = _obj(detail.get("personalInformation"))  # the exports' shape; the seed docs' fields are the fallbacks
        sought = _obj(detail.get("positionSought"))
        return {
            "id": str(detail["id"]),
            "offset": document.offset,
            "first_name": label(person.get("firstName")) or label(detail.get("firstName")),
            "last_name": label(person.get("lastName")) or label(detail.get("lastName")),
            "email": label(person.get("email")) or label(detail.get("email")),
            "phone": label(person.get("phoneNumber")) or label(detail.get("phone")),
            "status": label(detail.get("status")),
            "is_employee": flag(document.document.get("isEmployee")),
            "is_in_progress": flag(document.document.get("isInProgress")),
            "position_sought": label(sought.get("primaryProfile")) or label(sought.get("jobTitle")),
            "creation_date": detail.get("creationDate"),
            "update_date": detail.get("modificationDate") or detail.get("updateDate"),
            "application_count": len(document.document.get("applications") or []),
            "attachment_count": len(document.document.get("attachments") or []),
            "raw": document.document,
        }

    @override
    def export_params(self) -> dict[str, t.Any]:
        """``attachmenttype``: only attachments of that type travel (``talentsoft.attachment_type``)."""
        return {"attachmenttype": self.settings.get("attachment_type") or None}

    @override
    def document_done(self) -> None:
        """The child streams have read the frame: let it go before the next one is read."""
        self.current = None

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context:
        """Children only need the candidate id; the frame itself stays in ``current``."""
        return {"candidate_id": record["id"]}


class CandidateChildStream(InlineChildStream):
    """A stream fed by the candidate frame being emitted (no request of its own)."""

    parent_stream_type = CandidatesStream

    @property
    @override
    def client(self) -> TalentsoftClient:
        """The run's Talentsoft client (for the summary: children make no call)."""
        return self._tap.client(TalentsoftClient)

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The records of the candidate frame being emitted."""
        parent = self._tap.streams["candidates"]
        document = parent.current if isinstance(parent, CandidatesStream) else None
        if document is None or context is None:
            msg = f"talentsoft stream '{self.name}' runs only as a child of 'candidates'"
            raise RuntimeError(msg)
        yield from self.candidate_records(document, str(document.document["candidateDetail"]["id"]))

    @abc.abstractmethod
    def candidate_records(self, document: ExportDocument, candidate_id: str) -> Iterator[dict[str, t.Any]]:
        """The stream's records of one candidate's frame."""


class ApplicationsStream(CandidateChildStream):
    """A candidate's applications."""

    name = "applications"
    primary_keys = ("candidate_id", "application_id")
    schema = StreamSchema(SCHEMAS)

    @override
    def candidate_records(self, document: ExportDocument, candidate_id: str) -> Iterator[dict[str, t.Any]]:
        """One record per element of the candidate's ``applications``."""
        for index, application in enumerate(document.document.get("applications") or []):
            item = application if isinstance(application, dict) else {"value": application}
            application_id = item.get("id")
            yield {
                "candidate_id": candidate_id,
                "application_id": str(application_id) if application_id is not None else f"#{index}",
                "vacancy_reference": label(item.get("vacancyReference") or item.get("offerReference")),
                "status": label(item.get("status")),
                "application_date": item.get("applicationDate"),
                "origin": label(item.get("origin")),
                "raw": item,
            }


class AttachmentsStream(CandidateChildStream):
    """A candidate's attachments: bytes to storage, metadata and checksum to the record."""

    name = "attachments"
    primary_keys = ("candidate_id", "attachment_id")
    schema = StreamSchema(SCHEMAS)

    @override
    def candidate_records(self, document: ExportDocument, candidate_id: str) -> Iterator[dict[str, t.Any]]:
        """Store each attachment's zip entry (looked up by id) and describe it."""
        storage = self._tap.storage
        for meta in document.document.get("attachments") or []:
            if not isinstance(meta, dict) or meta.get("id") in (None, ""):
                msg = f"talentsoft stream 'attachments': candidate {candidate_id} lists an attachment without id"
                raise ExportDataError(msg)
            attachment_id = str(meta["id"])
            where = f"candidate {candidate_id} (offset {document.offset}), attachment {attachment_id!r}"
            stored = storage.write(
                ("talentsoft", "attachments", candidate_id, attachment_id),
                document.archive.iter_entry(attachment_id, f"talentsoft stream 'attachments': {where}"),
            )
            self.stats.add(bytes=stored.size, files=1)
            yield {
                "candidate_id": candidate_id,
                "attachment_id": attachment_id,
                "filename": text(meta.get("filename")),
                "mime_type": text(meta.get("mimeType")),
                "is_resume": meta.get("isResume"),
                "size_bytes": stored.size,
                "sha256": stored.sha256,
                "storage_uri": stored.uri,
                "content_base64": stored.content_base64,
                "raw": meta,
            }


class ReferentialsStream(TalentsoftStream):
    """Referential items of each configured category (countries, languages ...)."""

    name = "referentials"
    primary_keys = ("category", "id")
    column_sources: t.ClassVar[ColumnSources] = {
        "id": (("id",), ("code",), ("clientCode",)),
        "code": (("code",),),
        "label": (("label",),),
    }
    schema = StreamSchema(SCHEMAS)

    @property
    @override
    def partitions(self) -> list[dict[str, t.Any]]:
        """One partition per configured category."""
        return [{"category": category} for category in self.settings["referential_categories"]]

    def get_http_request(self, *, page: PageContext[None]) -> HTTPRequest:
        """``GET /api/v1/referentials/{category}``, the category quoted as one path segment."""
        category = str((page.stream_context or {}).get("category", ""))
        return HTTPRequest(url=f"{self.client.base_url}/api/v1/referentials/{quote(category, safe='')}")

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The items of one category: a JSON array, or an object's ``items``/``data``."""
        category = (context or {}).get("category")
        if not category:
            return
        answer = self.client.json(self.get_http_request(page=PageContext(context, None)), stream=self.name)
        self.stats.add(bytes=answer.size)
        payload = answer.json()
        items = payload if isinstance(payload, list) else None
        if isinstance(payload, dict):
            items = payload.get("items") or payload.get("data") or []
        if not isinstance(items, list):
            msg = f"talentsoft stream 'referentials': category {category!r} answered without a list of items"
            raise ExportDataError(msg)
        for item in items:
            if not isinstance(item, dict):
                msg = f"talentsoft stream 'referentials': category {category!r} holds an item that is not an object"
                raise ExportDataError(msg)
            yield self.item_record(category, item)

    @staticmethod
    def item_record(category: str, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record of one referential item: its category, key, code and label, and ``raw``.

        The key (``id`` column) is the first of ``id``, ``code``, ``clientCode`` the item has:
        the exports' items often carry no ``id``. An item with none of them is an error,
        never a row that would collapse the category into one key.
        """
        key = next((text(item[name]) for name in ("id", "code", "clientCode") if text(item.get(name))), None)
        if key is None:
            msg = (
                f"talentsoft stream 'referentials': category {category!r} holds an item with no id, code "
                "or clientCode to key it by"
            )
            raise ExportDataError(msg)
        return {
            "category": category,
            "id": key,
            "code": text(item.get("code")),
            "label": label(item.get("label")),
            "raw": item,
        }
