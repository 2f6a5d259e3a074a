"""YouServe stream ``delivered_files``: every file delivered to the subscriber, bytes to storage.

Why the listing is read the way it is:

- The default listing hides downloaded files and its ``count`` shrinks as we download, so
  paging it while downloading skips files. We always list ``status eq 'all'``, sorted
  ``uploadDate asc``, from the bookmark on: the set being paged does not move under us.
- Several files can share one upload date (a payslip batch: thousands). The listing starts
  *at* the bookmark (``uploadDate ge``). The API defines no order inside one date, so the
  tap reads a whole date's group, sorts it by file id itself and emits it in that order;
  the state next to the bookmark (``files_at_bookmark``) then says "every id of this date
  up to ``through_file_id``", with the ``count`` and ``sha256`` of those ids: a few hundred
  bytes whatever the group's size (a list of ids made STATE grow with the square of the
  group: 704 MB for 6,000 files). A run interrupted in the middle of a group resumes with
  the rest of it, and a rerun emits nothing. The count and digest are checked against the
  group as listed now: if a file sorting before ``through_file_id`` appeared later, or one
  vanished, the marker is not trusted (the group is sent again, nothing of it is deleted),
  so a changed group costs duplicates, never a lost file. The marker moves only once the
  SDK has written the record and advanced the bookmark (when the generator is resumed), so
  no STATE can ever name a file whose record was not written.
- STATE is written at a bounded rate: after a file when a second has passed or a chunk's
  worth of bytes was fetched since the last one, and when the run stops on an error. A
  killed run fetches at most that much again.
- The bookmark is kept per configured set of business types (a state partition), so adding
  a type later syncs that type's older files instead of starting after the old bookmark.

Latency hidden (``max_concurrent_requests``, default 8): the next listing page is fetched
while the files of the current one are downloaded, and up to that many files are
downloaded side by side by the client's workers (:mod:`tap_hrdata.http.concurrency`),
each straight into storage. The order of the files, the groups and the marker are worked
out in the stream's own thread exactly as above, before any download starts: a download
only returns where its bytes are. Records come out in that order, whatever order the
downloads finish in, and the marker moves after each record as before, so STATE never
covers a file whose record was not written. A listing that fails is reported after the
files listed before it (their records are written first), as a sequential run would.

Deletion that cannot lose data (``delete_after_download``): the state the run *started*
with has been written by the target, so every file it covers is committed downstream. Only
those are deleted: uploaded before its bookmark, or at the bookmark and covered by its
``files_at_bookmark`` (checked against the group as listed now), and listed as downloaded
by us. The deletion pass runs before the download pass, so no file emitted in this run is
ever deleted in this run; a target that crashes before committing loses nothing, the next
run downloads again. The starting state is checked first (``tap_hrdata.statecheck``): a
value of the wrong type or a bookmark in the future stops the run, naming its path, before
any request, so such a state can never delete anything.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import time
import typing as t
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_hrdata.sources.youserve import schemas
from tap_hrdata.sources.youserve.client import (
    FileDataError,
    ListedFile,
    ListingPaginator,
    YouserveClient,
    business_type_ids,
    listing_entries,
    listing_filter,
)
from tap_hrdata.sources.youserve.downloads import FileDownloader
from tap_hrdata.statecheck import StateError, bookmark_time, shown
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import iso_timestamp_micro, utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.http.client import JsonResponse
    from tap_hrdata.http.concurrency import Ahead, Call, Task
    from tap_hrdata.storage import StoredFile

T = t.TypeVar("T")

SCHEMAS = SchemaDirectory(schemas)

STREAM_NAME = "delivered_files"
#: The stream's replication key: the files' upload date.
REPLICATION_KEY = "upload_date"
#: State key, next to the bookmark: which files at the bookmark's upload date were emitted.
FILES_AT_BOOKMARK = "files_at_bookmark"
#: A STATE after a file once this many seconds passed since the last one (or a chunk's worth
#: of bytes was fetched): a bounded rate however small the files, little fetched again after a kill.
CHECKPOINT_SECONDS = 1.0
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class GroupDigest:
    """The count and SHA-256 of a group's file ids, fed in sorted order.

    Each id is length-prefixed, so two different lists of ids never hash the same input.
    """

    def __init__(self) -> None:
        self.count = 0
        self._sha = hashlib.sha256()

    @classmethod
    def of(cls, file_ids: Iterable[str]) -> GroupDigest:
        """The digest of ``file_ids``, sorted."""
        digest = cls()
        for file_id in sorted(file_ids):
            digest.add(file_id)
        return digest

    def add(self, file_id: str) -> None:
        """Add the next id (ids come in sorted order)."""
        data = file_id.encode("utf-8", "surrogatepass")  # JSON may carry a lone surrogate
        self._sha.update(len(data).to_bytes(8, "big") + data)
        self.count += 1

    def hexdigest(self) -> str:
        """The SHA-256 so far, in hex."""
        return self._sha.hexdigest()


def _bad(where: str, path: str, expected: str, value: object) -> StateError:
    """The error for a state value of the wrong shape, naming its path."""
    return StateError(f"state: bookmarks.{where}.{path} must be {expected}, found {shown(value)}")


def _file_id(where: str, path: str, value: object) -> str:
    """A file id read from a state: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise _bad(where, path, "a file id (a non-empty string)", value)
    return value


@dataclass(frozen=True)
class EmittedAt:
    """``files_at_bookmark``: the files emitted at one upload date (the bookmark's).

    The group's ids are taken in sorted (``str``) order, never the listing's order, which
    the API does not define within one date. ``through``: every id of the group up to it
    was emitted; ``count`` and ``sha256`` sum up those ids as the tap expects to find them
    listed, so a group that changed since the state was written (a file listed late with
    an id sorting before, a file gone) is detected rather than trusted. ``extra``: ids
    emitted beyond ``through``; the list form of earlier versions (``file_ids`` alone) is
    read as ``extra`` with no ``through``, and what is left of it is kept until passed.
    """

    uploaded: datetime
    through: str | None = None
    count: int = 0
    sha256: str | None = None
    extra: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, state: dict[str, t.Any], where: str) -> EmittedAt | None:
        """The marker of a (stream or partition) state, checked; None without one.

        ``where`` is the state's path under ``bookmarks`` (``delivered_files``,
        ``delivered_files.partitions[0]``): a value of the wrong shape raises
        :class:`StateError` naming it.
        """
        marker = state.get(FILES_AT_BOOKMARK)
        if marker is None:
            return None
        if not isinstance(marker, dict):
            raise _bad(where, FILES_AT_BOOKMARK, "an object", marker)
        path = f"{FILES_AT_BOOKMARK}.upload_date"
        uploaded = bookmark_time(where, marker.get("upload_date"), path)
        if uploaded is None:
            raise _bad(where, path, "a timestamp", None)
        ids = marker.get("file_ids", [])
        if not isinstance(ids, list):
            raise _bad(where, f"{FILES_AT_BOOKMARK}.file_ids", "a list of file ids", ids)
        extra = frozenset(_file_id(where, f"{FILES_AT_BOOKMARK}.file_ids[{n}]", i) for n, i in enumerate(ids))
        if marker.get("through_file_id") is None:
            return cls(uploaded=uploaded, extra=extra)
        through = _file_id(where, f"{FILES_AT_BOOKMARK}.through_file_id", marker["through_file_id"])
        count, sha256 = marker.get("count"), marker.get("sha256")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _bad(where, f"{FILES_AT_BOOKMARK}.count", "a number of files (0 or more)", count)
        if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
            raise _bad(where, f"{FILES_AT_BOOKMARK}.sha256", "a SHA-256 in lower-case hex", sha256)
        return cls(uploaded=uploaded, through=through, count=count, sha256=sha256, extra=extra)

    def to_state(self) -> dict[str, t.Any]:
        """The marker as the state carries it (the compact form; ``file_ids`` only while some are left)."""
        marker: dict[str, t.Any] = {"upload_date": iso_timestamp_micro(self.uploaded)}
        if self.through is not None:
            marker.update(through_file_id=self.through, count=self.count, sha256=self.sha256)
        if self.extra:
            marker["file_ids"] = sorted(self.extra)
        return marker

    def intact(self, group: Iterable[str]) -> bool:
        """Whether the ids of the group listed now, up to ``through``, are exactly those summed up."""
        if self.through is None:
            return True  # the list form names each id: nothing to verify
        through = self.through
        digest = GroupDigest.of(file_id for file_id in group if file_id <= through)
        return digest.count == self.count and digest.hexdigest() == self.sha256

    def emitted(self, file_id: str, *, intact: bool) -> bool:
        """Whether the file (of this date) was emitted: named, or up to ``through`` of an intact group."""
        if file_id in self.extra:
            return True
        return intact and self.through is not None and file_id <= self.through

    def after(self, file_id: str, digest: GroupDigest) -> EmittedAt:
        """The marker once ``file_id`` is emitted: the group's ids up to it (``digest``) are all done."""
        rest = frozenset(i for i in self.extra if i > file_id)
        return EmittedAt(self.uploaded, file_id, digest.count, digest.hexdigest(), rest)


@dataclass(frozen=True)
class StartingState:
    """The stream's (or partition's) state as the run received it, checked before any request."""

    where: str
    bookmark: datetime | None
    marker: EmittedAt | None

    @classmethod
    def check(cls, state: dict[str, t.Any], where: str) -> StartingState:
        """Read and check; :class:`StateError` names the path of a bad value (a future bookmark too).

        A value kept under another replication key is the SDK's to ignore (a key change
        starts over), and so is its marker: with no bookmark, nothing is skipped or deleted.
        """
        key = state.get("replication_key")
        bookmark = None
        if key in {None, REPLICATION_KEY}:
            moment = bookmark_time(where, state.get("replication_key_value"))
            bookmark = moment if key == REPLICATION_KEY else None
        marker = EmittedAt.from_state(state, where)
        return cls(where=where, bookmark=bookmark, marker=marker if bookmark is not None else None)

    def marker_at(self, moment: datetime | None) -> EmittedAt | None:
        """The marker, if it is of the upload date ``moment``."""
        if self.marker is None or moment is None or self.marker.uploaded != moment:
            return None
        return self.marker


@dataclass(frozen=True)
class Confirmed:
    """What the state a run started with covers: files the target has already committed.

    ``group``: the ids listed at the bookmark's date when this was built, and ``intact``
    whether the marker's sum of them held. A file at that date is covered only if it was
    in that listing: one that appears later was never checked.
    """

    bookmark: datetime
    marker: EmittedAt | None
    group: frozenset[str] = frozenset()
    intact: bool = True

    def covers(self, listed: ListedFile) -> bool:
        """True for a file the target has committed: before the bookmark, or covered at it."""
        if listed.uploaded < self.bookmark:
            return True
        if listed.uploaded != self.bookmark or self.marker is None:
            return False
        if listed.file_id in self.marker.extra:
            return True
        return listed.file_id in self.group and self.marker.emitted(listed.file_id, intact=self.intact)


@dataclass(frozen=True)
class Planned:
    """A file to download and emit, and the marker once its record is written."""

    listed: ListedFile
    marker: EmittedAt


def failing_last(calls: Iterator[Call[T]]) -> Iterator[Call[T]]:
    """``calls``, and when producing them fails (a listing page), one last call raising that error.

    Workers read calls ahead of the results taken: the error then comes after the results
    of the calls listed before it, where a sequential run would have met it.
    """
    try:
        yield from calls
    except Exception as exc:  # raised again, in its place
        failure = exc
    else:
        return

    def fail(task: Task) -> T:
        raise failure

    yield fail


class DeliveredFilesStream(VendorStream):
    """Delivered files, oldest upload first; incremental on ``upload_date``."""

    name = STREAM_NAME
    primary_keys = ("file_id",)
    column_sources: t.ClassVar[ColumnSources] = {
        "file_id": (("fileId",),),
        "file_name": (("fileName",),),
        "file_size": (("fileSize",),),
        "tenant_id": (("tenantId",),),
        "business_type_id": (("businessType", "id"),),
        "business_type_name": (("businessType", "name"),),
        "publisher_id": (("publisherId",),),
        "upload_date": (("uploadDate",),),
    }
    replication_key = REPLICATION_KEY
    is_sorted = True
    # Values are compared as dates below; the SDK's string comparison would trip on a
    # hand-written bookmark in another format.
    check_sorted = False
    schema = StreamSchema(SCHEMAS)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.deleted_files = 0
        self.business_types = business_type_ids(self.settings.get("business_types"))
        # A partition (tap_hrdata.partitions) lists only its slice: its business types, its upload dates.
        partition = self._tap.partition
        self.listing_types = self.business_types
        self.window: tuple[datetime | None, datetime | None] = (None, None)
        if partition is not None:
            if partition.business_types is not None:
                self.listing_types = partition.business_types
            self.window = (partition.start, partition.end)
        self.page_size = int(self.settings["page_size"])
        self.downloader = FileDownloader(
            self.client,
            self._tap.storage,
            self.stats,
            stream=self.name,
            chunk_size=int(self.settings["chunk_size_bytes"]),
        )
        # Checkpoints: when the last STATE went out, and what was noted since.
        self._saved_at = -math.inf
        self._unsaved_bytes = 0
        self._unsaved = False

    @property
    @override
    def client(self) -> YouserveClient:
        """The run's YouServe client."""
        return self._tap.client(YouserveClient)

    @property
    @override
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """One bookmark per configured set of business types (none configured: all types)."""
        if not self.business_types:
            return None
        return [{"business_types": ",".join(str(bt) for bt in self.business_types)}]

    @classmethod
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """Refuse a state this stream cannot trust, naming the bad value's path (:class:`StateError`).

        Called by the tap as it loads the state, before any request: a corrupt marker would
        skip files, a future bookmark would skip them all and confirm every downloaded file
        for deletion. :meth:`records` checks its own state again before deleting anything.
        """
        StartingState.check(stream_state, STREAM_NAME)
        for index, partition in enumerate(stream_state.get("partitions") or []):
            StartingState.check(partition, f"{STREAM_NAME}.partitions[{index}]")

    @override
    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The later of bookmark and ``start_date``, as the SDK picks it.

        A bookmark that is not a timestamp is passed on unchanged: :meth:`records` refuses
        it with its path in the state, where the SDK would raise a bare error.
        """
        if utc_timestamp(value) is None:
            return value
        return super().compare_start_date(value, start_date_value)

    def state_path(self, state: dict[str, t.Any]) -> str:
        """Where ``state`` is under ``bookmarks``: the stream, or one of its partitions."""
        partitions = self.stream_state.get("partitions") or []
        for index, partition in enumerate(partitions):
            if partition is state:
                return f"{self.name}.partitions[{index}]"
        return self.name

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Check the starting state, delete what it confirms, then download and emit what follows it."""
        state = self.get_context_state(context)
        # Before any request: a corrupt or future state must neither delete nor skip anything.
        start = StartingState.check(state, self.state_path(state))
        if self.settings["delete_after_download"]:
            self.delete_confirmed(state, start)
            start = StartingState.check(state, start.where)  # deletions update the marker

        since = self.get_starting_timestamp(context)
        if self.window[0] is not None and (since is None or since < self.window[0]):
            since = self.window[0]
        resumed = start.marker_at(since)
        odata_filter = listing_filter(
            status="all", business_types=self.listing_types, since=since, before=self.window[1]
        )
        business_types = (context or {}).get("business_types")
        downloads = (functools.partial(self.download, planned) for planned in self.plan(odata_filter, since, resumed))
        done = self.client.workers.in_order(failing_last(downloads))
        try:
            for planned, stored in done:
                yield self.file_record(planned.listed, stored, business_types)
                # Back here, the SDK has written the record and moved the bookmark to its date.
                self._note_emitted(state, planned.marker, planned.listed.size)
        except Exception:
            # What was noted is true (each file's record was written): keep it for the next run.
            if self._unsaved:
                self.checkpoint()
            raise
        finally:
            done.close()  # downloads still running are stopped and waited for

    def plan(self, odata_filter: str, since: datetime | None, resumed: EmittedAt | None) -> Iterator[Planned]:
        """The files to download, in the order their records are emitted, with their markers."""
        for group in self.iter_groups(odata_filter):
            if since is not None and group[0].uploaded < since:
                continue  # before the bookmark: the filter's milliseconds let these in
            yield from self.plan_group(group, resumed)

    def download(self, planned: Planned, task: Task) -> tuple[Planned, StoredFile]:
        """One file into storage (in a worker): what its record needs."""
        listed = planned.listed
        tenant = listed.tenant_id or str(self.settings["tenant_id"])
        segments = ("youserve", tenant, listed.business_type_id, listed.file_id)
        return planned, self.downloader.download(listed, segments, task)

    def iter_groups(self, odata_filter: str) -> Iterator[list[ListedFile]]:
        """The listing as groups of one upload date each, oldest first, each sorted by file id.

        A group is complete once an entry of a later date (or the end) is read. An id listed
        twice (an upload shifted the pages) is kept once. One group's listing entries are
        held in memory (about a kilobyte each: 20 MB for 20,000 files), never their bytes.
        """
        where = f"youserve stream '{self.name}'"
        group: dict[str, ListedFile] = {}
        current: datetime | None = None
        for entry in self.iter_listing(odata_filter, downloads=True):
            listed = ListedFile.from_entry(entry, where)
            if current is not None and listed.uploaded != current:
                if listed.uploaded < current:
                    msg = (
                        f"{where}: the listing is not sorted by uploadDate (file {listed.file_id}); "
                        "stopping so the bookmark never skips a file"
                    )
                    raise FileDataError(msg)
                yield sorted(group.values(), key=lambda f: f.file_id)
                group = {}
            current = listed.uploaded
            group.setdefault(listed.file_id, listed)
        if group:
            yield sorted(group.values(), key=lambda f: f.file_id)

    def plan_group(self, group: list[ListedFile], resumed: EmittedAt | None) -> Iterator[Planned]:
        """One date's files in id order, without those the state covers, each with its marker.

        The marker of a file is the one the state gets once its record is written: every id
        of the group up to it (and those the state already named).
        """
        uploaded = group[0].uploaded
        marker = resumed if resumed is not None and resumed.uploaded == uploaded else None
        intact = marker is None or marker.intact(f.file_id for f in group)
        if marker is not None and not intact:
            self.logger.warning(
                "youserve stream '%s': the files uploaded at %s changed since the state was written "
                "(a file listed late, or gone): all of them are emitted again",
                self.name,
                iso_timestamp_micro(uploaded),
            )
        progress = marker or EmittedAt(uploaded)
        digest = GroupDigest()
        for listed in group:
            digest.add(listed.file_id)
            if marker is not None and marker.emitted(listed.file_id, intact=intact):
                continue  # emitted by an earlier run
            progress = progress.after(listed.file_id, digest)
            yield Planned(listed, progress)

    @staticmethod
    def file_record(listed: ListedFile, stored: StoredFile, business_types: str | None) -> dict[str, t.Any]:
        """The record of a stored file: its listing entry's columns, where its bytes are, ``raw``."""
        return {
            "file_id": listed.file_id,
            "file_name": listed.file_name,
            "file_size": listed.size,
            "tenant_id": listed.tenant_id,
            "business_type_id": listed.business_type_id,
            "business_type_name": listed.business_type_name,
            "publisher_id": listed.publisher_id,
            "upload_date": listed.upload_date,
            "sha256": stored.sha256,
            "storage_uri": stored.uri,
            "content_base64": stored.content_base64,
            "business_types": business_types,
            "raw": listed.raw,
        }

    def _note_emitted(self, state: dict[str, t.Any], marker: EmittedAt, size: int) -> None:
        """Move the marker next to the bookmark; checkpoint at a bounded rate (see CHECKPOINT_SECONDS)."""
        state[FILES_AT_BOOKMARK] = marker.to_state()
        self._unsaved = True
        self._unsaved_bytes += size
        due = time.monotonic() - self._saved_at >= CHECKPOINT_SECONDS
        if due or self._unsaved_bytes >= self.downloader.chunk_size:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write a STATE now: each file is costly to fetch again."""
        self.emit_state()
        self._saved_at = time.monotonic()
        self._unsaved_bytes = 0
        self._unsaved = False

    def iter_listing(self, odata_filter: str, *, downloads: bool = False) -> Iterator[dict[str, t.Any]]:
        """Entries of ``GET /files`` for ``odata_filter``, oldest upload first, page by page.

        The next page is fetched (by a worker) while the entries of this one are used.
        ``downloads``: the listing of the files to download, whose ``count`` is the run's total.
        """
        paginator = ListingPaginator(self.page_size)
        following: Ahead[JsonResponse] | None = self.listing_page(paginator.current_value, odata_filter)
        try:
            while following is not None:
                answer = following.result()
                following = None
                count = answer.json().get("count") if downloads and paginator.current_value == 0 else None
                if isinstance(count, int) and not isinstance(count, bool):
                    self.stats.expect_more(files=count)
                paginator.advance(answer)
                if not paginator.finished:
                    following = self.listing_page(paginator.current_value, odata_filter)
                yield from listing_entries(answer)
        finally:
            if following is not None:
                following.cancel()

    def listing_page(self, page_index: int, odata_filter: str) -> Ahead[JsonResponse]:
        """One page of the listing, asked for now (by a worker) and taken when needed."""
        request = self.client.listing_request(page_index, self.page_size, odata_filter)

        def fetch(task: Task) -> JsonResponse:
            # Not counted in stats: this stream's bytes are the files' bytes it stored.
            return self.client.call(request, self.read_listing_page, stream=self.name, where="the file listing")

        return self.client.workers.ahead(fetch)

    def read_listing_page(self, response: requests.Response) -> JsonResponse:
        """A listing page read and checked inside the retry (a body that is not JSON is asked again)."""
        answer = self.client.read_json(response, stream=self.name)
        listing_entries(answer)
        return answer

    def confirmed(self, start: StartingState) -> Confirmed | None:
        """What the starting state confirms; None without a bookmark.

        A compact marker is checked against its group as listed now (one listing of the
        bookmark's millisecond): a group that changed confirms none of its files.
        """
        if start.bookmark is None:
            return None
        marker = start.marker_at(start.bookmark)
        if marker is None or marker.through is None:
            return Confirmed(bookmark=start.bookmark, marker=marker)
        group = frozenset(self.ids_uploaded_at(start.bookmark))
        intact = marker.intact(group)
        if not intact:
            self.logger.warning(
                "youserve stream '%s': the files uploaded at %s changed since the state was written "
                "(a file listed late, or gone): none of them is deleted in this run",
                self.name,
                iso_timestamp_micro(start.bookmark),
            )
        return Confirmed(bookmark=start.bookmark, marker=marker, group=group, intact=intact)

    def ids_uploaded_at(self, moment: datetime) -> list[str]:
        """The ids of the files uploaded at exactly ``moment`` (any status)."""
        first = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        odata_filter = listing_filter(
            status="all",
            business_types=self.listing_types,
            since=first,
            before=first + timedelta(milliseconds=1),
        )
        where = f"youserve stream '{self.name}'"
        listed = (ListedFile.from_entry(entry, where) for entry in self.iter_listing(odata_filter))
        return [f.file_id for f in listed if f.uploaded == moment]

    def delete_confirmed(self, state: dict[str, t.Any], start: StartingState) -> None:
        """Delete the files the starting state confirms (downloaded by us, committed downstream).

        Files of the bookmark's date that went (deleted, or already gone) leave its marker's
        sum: the marker is updated and a STATE written, so the next run finds it intact.
        """
        confirmed = self.confirmed(start)
        if confirmed is None:
            self.logger.info("youserve stream '%s': no confirmed state yet, nothing is deleted in this run", self.name)
            return
        # Candidates are collected first: deleting while paging would shift the pages.
        before = confirmed.bookmark.replace(microsecond=confirmed.bookmark.microsecond // 1000 * 1000)
        # A partition deletes within its own slice only: its types, from its start on.
        odata_filter = listing_filter(
            status="downloaded",
            business_types=self.listing_types,
            since=self.window[0],
            before=before + timedelta(milliseconds=1),
        )
        candidates: list[ListedFile] = []
        for entry in self.iter_listing(odata_filter):
            listed = ListedFile.from_entry(entry, f"youserve stream '{self.name}'")
            if confirmed.covers(listed):
                candidates.append(listed)
        gone = 0
        left = set(confirmed.group) - {listed.file_id for listed in candidates}
        # Side by side (their order does not matter); each one logged in the listing's order.
        deletions = self.client.workers.in_order(functools.partial(self.delete, listed) for listed in candidates)
        try:
            for listed, deleted in zip(candidates, deletions, strict=True):
                if deleted:
                    self.deleted_files += 1
                    self.logger.info(
                        "youserve stream '%s': deleted file %s (%r)", self.name, listed.file_id, listed.file_name
                    )
                else:
                    gone += 1
                    self.logger.info(
                        "youserve stream '%s': file %s (%r) was already gone",
                        self.name,
                        listed.file_id,
                        listed.file_name,
                    )
        finally:
            deletions.close()
        marker = confirmed.marker
        if marker is not None and marker.through is not None and confirmed.intact and left != confirmed.group:
            through = marker.through
            digest = GroupDigest.of(file_id for file_id in left if file_id <= through)
            state[FILES_AT_BOOKMARK] = replace(marker, count=digest.count, sha256=digest.hexdigest()).to_state()
            self.checkpoint()
        self.logger.info(
            "youserve stream '%s': deleted %d confirmed files (%d already gone)",
            self.name,
            self.deleted_files,
            gone,
        )

    def delete(self, listed: ListedFile, task: Task) -> bool:
        """Delete one confirmed file (in a worker): True if deleted, False if already gone."""
        return self.client.delete_file(listed.file_id, stream=self.name)
