"""YouServe stream ``delivered_files``: every file delivered to the subscriber, bytes to storage.

Why the listing is read the way it is:

- The default listing hides downloaded files and its ``count`` shrinks as we download, so
  paging it while downloading skips files. We always list ``status eq 'all'``, sorted
  ``uploadDate asc``, from the bookmark on: the set being paged does not move under us.
- Several files can share one upload date. The listing starts *at* the bookmark
  (``uploadDate ge``), and the ids of the files already emitted at exactly that date are
  kept in the state next to it (``files_at_bookmark``) and skipped. A run interrupted in
  the middle of such a group resumes with the rest of the group, and a rerun emits nothing.
  The ids are added only once the SDK has written the record and advanced the bookmark
  (when the generator is resumed), so no STATE can ever name a file whose record was not
  written: at worst the last file is emitted twice, never lost.
- The bookmark is kept per configured set of business types (a state partition), so adding
  a type later syncs that type's older files instead of starting after the old bookmark.

Deletion that cannot lose data (``delete_after_download``): the state the run *started*
with has been written by the target, so every file it covers is committed downstream. Only
those are deleted: uploaded before its bookmark, or at the bookmark and named in its
``files_at_bookmark``, and listed as downloaded by us. The deletion pass runs before the
download pass, so no file emitted in this run is ever deleted in this run; a target that
crashes before committing loses nothing, the next run downloads again.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
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
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.http.client import JsonResponse
    from tap_hrdata.storage import StoredFile

SCHEMAS = SchemaDirectory(schemas)

#: State key, next to the bookmark, naming the files already emitted at one upload date.
FILES_AT_BOOKMARK = "files_at_bookmark"


@dataclass(frozen=True)
class EmittedAt:
    """Files emitted at one upload date: ``files_at_bookmark`` as read from a state."""

    uploaded: datetime
    file_ids: frozenset[str]

    @classmethod
    def from_state(cls, state: dict[str, t.Any]) -> EmittedAt | None:
        """The marker of a state, if it is well formed."""
        marker = state.get(FILES_AT_BOOKMARK)
        if not isinstance(marker, dict) or not isinstance(marker.get("file_ids"), list):
            return None
        try:
            uploaded = parse_timestamp(marker.get("upload_date"))  # type: ignore[arg-type]  # str checked inside
        except ValueError:
            return None
        return cls(uploaded=uploaded, file_ids=frozenset(str(i) for i in marker["file_ids"]))


@dataclass(frozen=True)
class Confirmed:
    """What the state a run started with covers: files the target has already committed."""

    bookmark: datetime
    at_bookmark: frozenset[str]

    @classmethod
    def from_state(cls, state: dict[str, t.Any], replication_key: str) -> Confirmed | None:
        """Read from the starting state (before the sync changes it); None without a bookmark."""
        value = state.get("replication_key_value")
        if not value or state.get("replication_key") != replication_key:
            return None
        try:
            bookmark = parse_timestamp(str(value))
        except ValueError:
            return None
        marker = EmittedAt.from_state(state)
        ids = marker.file_ids if marker is not None and marker.uploaded == bookmark else frozenset()
        return cls(bookmark=bookmark, at_bookmark=ids)

    def covers(self, listed: ListedFile) -> bool:
        """True for a file the target has committed: before the bookmark, or named at it."""
        if listed.uploaded < self.bookmark:
            return True
        return listed.uploaded == self.bookmark and listed.file_id in self.at_bookmark


class DeliveredFilesStream(VendorStream):
    """Delivered files, oldest upload first; incremental on ``upload_date``."""

    name = "delivered_files"
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
    replication_key = "upload_date"
    is_sorted = True
    # Values are compared as dates below; the SDK's string comparison would trip on a
    # hand-written bookmark in another format.
    check_sorted = False
    schema = StreamSchema(SCHEMAS)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.deleted_files = 0
        self.business_types = business_type_ids(self.settings.get("business_types"))
        self.page_size = int(self.settings["page_size"])
        self.downloader = FileDownloader(
            self.client,
            self._tap.storage,
            self.stats,
            stream=self.name,
            chunk_size=int(self.settings["chunk_size_bytes"]),
        )

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

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Delete what the starting state confirms, then download and emit what follows it."""
        state = self.get_context_state(context)
        confirmed = Confirmed.from_state(state, self.replication_key)
        if self.settings["delete_after_download"]:
            self.delete_confirmed(context, confirmed)

        since = self.get_starting_timestamp(context)
        marker = EmittedAt.from_state(state)
        already = marker.file_ids if marker is not None and since is not None and marker.uploaded == since else set()
        odata_filter = listing_filter(status="all", business_types=self.business_types, since=since)
        previous: datetime | None = None
        emitted: set[str] = set()
        business_types = (context or {}).get("business_types")
        for entry in self.iter_listing(odata_filter, downloads=True):
            listed = ListedFile.from_entry(entry, f"youserve stream '{self.name}'")
            if previous is not None and listed.uploaded < previous:
                msg = (
                    f"youserve stream '{self.name}': the listing is not sorted by uploadDate "
                    f"(file {listed.file_id}); stopping so the bookmark never skips a file"
                )
                raise FileDataError(msg)
            previous = listed.uploaded
            if since is not None and (
                listed.uploaded < since or (listed.uploaded == since and listed.file_id in already)
            ):
                continue  # emitted by an earlier run
            if listed.file_id in emitted:
                continue  # seen twice in one run: an upload shifted the pages
            tenant = listed.tenant_id or str(self.settings["tenant_id"])
            stored = self.downloader.download(listed, ("youserve", tenant, listed.business_type_id, listed.file_id))
            yield self.file_record(listed, stored, business_types)
            # Back here, the SDK has written the record and moved the bookmark to its date.
            emitted.add(listed.file_id)
            self._note_emitted(state, listed)

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

    def _note_emitted(self, state: dict[str, t.Any], listed: ListedFile) -> None:
        """Name the file next to the bookmark, and checkpoint: each file is costly to fetch again."""
        marker = state.get(FILES_AT_BOOKMARK)
        if isinstance(marker, dict) and marker.get("upload_date") == listed.upload_date:
            marker.setdefault("file_ids", []).append(listed.file_id)
        else:
            state[FILES_AT_BOOKMARK] = {"upload_date": listed.upload_date, "file_ids": [listed.file_id]}
        self.emit_state()

    def iter_listing(self, odata_filter: str, *, downloads: bool = False) -> Iterator[dict[str, t.Any]]:
        """Entries of ``GET /files`` for ``odata_filter``, oldest upload first, page by page.

        ``downloads``: the listing of the files to download, whose ``count`` is the run's total.
        """
        paginator = ListingPaginator(self.page_size)
        while not paginator.finished:
            request = self.client.listing_request(paginator.current_value, self.page_size, odata_filter)
            # Not counted in stats: this stream's bytes are the files' bytes it stored.
            answer = self.client.call(request, self.read_listing_page, stream=self.name, where="the file listing")
            count = answer.json().get("count")
            if downloads and paginator.current_value == 0 and isinstance(count, int) and not isinstance(count, bool):
                self.stats.expect_more(files=count)
            yield from listing_entries(answer)
            paginator.advance(answer)

    def read_listing_page(self, response: requests.Response) -> JsonResponse:
        """A listing page read and checked inside the retry (a body that is not JSON is asked again)."""
        answer = self.client.read_json(response, stream=self.name)
        listing_entries(answer)
        return answer

    def delete_confirmed(self, context: Context | None, confirmed: Confirmed | None) -> None:
        """Delete the files the starting state confirms (downloaded by us, committed downstream)."""
        if confirmed is None:
            self.logger.info("youserve stream '%s': no confirmed state yet, nothing is deleted in this run", self.name)
            return
        # Candidates are collected first: deleting while paging would shift the pages.
        before = confirmed.bookmark.replace(microsecond=confirmed.bookmark.microsecond // 1000 * 1000)
        odata_filter = listing_filter(
            status="downloaded",
            business_types=self.business_types,
            before=before + timedelta(milliseconds=1),
        )
        candidates: list[tuple[str, str | None]] = []
        for entry in self.iter_listing(odata_filter):
            listed = ListedFile.from_entry(entry, f"youserve stream '{self.name}'")
            if confirmed.covers(listed):
                candidates.append((listed.file_id, listed.file_name))
        gone = 0
        for file_id, file_name in candidates:
            if self.client.delete_file(file_id, stream=self.name):
                self.deleted_files += 1
                self.logger.info("youserve stream '%s': deleted file %s (%r)", self.name, file_id, file_name)
            else:
                gone += 1
                self.logger.info("youserve stream '%s': file %s (%r) was already gone", self.name, file_id, file_name)
        self.logger.info(
            "youserve stream '%s': deleted %d confirmed files (%d already gone)",
            self.name,
            self.deleted_files,
            gone,
        )
