"""Talentsoft Recruiting: the token, the export paging, and the framed zip documents.

An export answer is a stream of frames, each a zip archive holding one document (a
vacancy's ``offerdetail`` or a candidate's ``applicantdetail`` plus one entry per
attachment, named by the attachment's id). Paging is by ``offset``/``limit`` with the
total in ``Content-Range``; a body that breaks is re-requested from the record after the
last one taken.
"""

from __future__ import annotations

import json
import re
import typing as t
import zipfile
from dataclasses import dataclass

import msgspec
from singer_sdk.pagination import OffsetPaginator
from singer_sdk.streams.rest import PageContext

from tap_hrdata.auth import ClientCredentialsAuthenticator
from tap_hrdata.framing import BadFrameError, FrameArchive, FrameTooLargeError, iter_frames
from tap_hrdata.http import ConductedStream, decode_text
from tap_hrdata.settings import global_settings, source_settings

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.tap import TapHrData

SOURCE_NAME = "talentsoft"
READ_CHUNK_BYTES = 1 << 20  # network reads
_CONTENT_RANGE = re.compile(r"^\s*(?:[A-Za-z]+\s+)?(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*$")


_DECODE_JSON = msgspec.json.Decoder().decode


def loads(raw: bytes) -> t.Any:  # vendor JSON
    """``json.loads(raw)``, by msgspec's decoder (3x faster) whenever it accepts ``raw``.

    Both give the same objects for strict UTF-8 JSON; anything msgspec refuses (a BOM, NaN,
    a lone surrogate, bytes that are not UTF-8 ...) goes to ``json.loads``, as before.
    """
    try:
        return _DECODE_JSON(raw)
    except msgspec.DecodeError:
        return json.loads(raw)


class ExportDataError(BadFrameError):
    """An export document that cannot be read safely: named by stream and offset."""


def make_authenticator(tap: TapHrData) -> ClientCredentialsAuthenticator:
    """The run's one Talentsoft token (``POST {base_url}/api/token``)."""
    settings = source_settings(tap.config, SOURCE_NAME)
    return ClientCredentialsAuthenticator(
        source=SOURCE_NAME,
        token_url=f"{str(settings['base_url']).rstrip('/')}/api/token",
        client_id=settings["client_id"],
        client_secret=settings["client_secret"],
        scope=settings.get("scope"),
        scheme="bearer",  # as the vendor writes it
        timeout=float(global_settings(tap.config)["request_timeout_seconds"]),
    )


def content_range_total(response: requests.Response) -> int | None:
    """The total of a ``Content-Range: [items ]start-end/total`` header, if given."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if not match or match.group(3) == "*":
        return None
    return int(match.group(3))


class ExportPaginator(OffsetPaginator):
    """Offset paging over an export, advanced past the ``offset`` of the last record received.

    A page may take several responses when its body breaks: ``position`` is where the
    next request starts (after the last record taken), and the next page starts there too,
    whatever ``limit`` was. Positions follow the records' own ``offset`` (the bookmark),
    not a count, so a page that repeats a record neither skips the next one nor emits it twice.
    """

    def __init__(self, start_value: int, page_size: int) -> None:
        super().__init__(start_value, page_size)
        self.received = 0
        self.next_offset = start_value
        self.total: int | None = None
        self.short_total = False
        self.last_response: requests.Response | None = None

    @property
    def position(self) -> int:
        """Offset of the next record to request: the one after the last record taken."""
        return self.next_offset

    def take(self, offset: int) -> bool:
        """Count the record at ``offset``; False for a record before it (already taken)."""
        if offset < self.next_offset:
            return False
        self.next_offset = offset + 1
        self.received += 1
        return True

    def note_response(self, response: requests.Response) -> None:
        """Take the total from a response's Content-Range."""
        self.last_response = response
        total = content_range_total(response)
        if total is not None:
            self.total = total

    def get_next(self, response: requests.Response) -> int | None:
        """The next page's offset, or None once the total is reached or a page is empty."""
        if self.received == 0:
            self.short_total = self.total is not None and self.position < self.total
            return None
        if self.total is not None and self.position >= self.total:
            return None
        return self.position

    def advance(self, response: requests.Response | None) -> None:
        """Move to the next page and reset the per-page count."""
        super().advance(response)  # type: ignore[arg-type]  # get_next does not read it
        self.received = 0


@dataclass
class ExportDocument:
    """One export record: its JSON document and the zip it came in (for attachments)."""

    offset: int
    document: dict[str, t.Any]
    archive: FrameArchive


class TalentsoftStream(ConductedStream[t.Any]):
    """Base of the Talentsoft streams."""

    source = SOURCE_NAME

    @property
    def max_frame_bytes(self) -> int:
        """Largest frame and largest uncompressed zip entry accepted."""
        return int(self.settings["max_frame_bytes"])


class ExportStream(TalentsoftStream):
    """An export endpoint read as frames, incremental on the records' ``offset``.

    The export is sorted by offset, so the bookmark is the offset of the last record
    emitted and an interrupted run resumes at bookmark + 1. With a ``filter`` the
    offsets are positions in the filtered set, so the bookmark is kept per filter value
    (a state partition).
    """

    replication_key = "offset"
    is_sorted = True
    #: Name of the export endpoint (``vacancies``, ``candidates``).
    export: t.ClassVar[str]
    #: Name of the zip entry holding the JSON document.
    document_entry: t.ClassVar[str]

    @property
    def path(self) -> str:  # type: ignore[override]
        """The export endpoint."""
        return f"/api/exports/v1/{self.export}"

    @property
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """One partition per filter value, so each keeps its own bookmark."""
        export_filter = self.settings.get("filter")
        return [{"export_filter": export_filter}] if export_filter else None

    def get_new_paginator(self) -> ExportPaginator:
        """Unused: exports page with :meth:`request_records`' own paginator."""
        return ExportPaginator(0, int(self.settings["page_size"]))

    def get_url_params(self, context: Context | None, next_page_token: int | None) -> dict[str, t.Any]:
        """offset, limit and the vendor filter."""
        params: dict[str, t.Any] = {"offset": next_page_token or 0, "limit": int(self.settings["page_size"])}
        if self.settings.get("filter"):
            params["filter"] = self.settings["filter"]
        return params

    def start_offset(self, context: Context | None) -> int:
        """The record after the bookmark, or 0."""
        bookmark = self.get_starting_replication_key_value(context)
        return int(bookmark) + 1 if bookmark is not None else 0

    def request_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Page through the export, resuming a broken body after the last record taken."""
        paginator = ExportPaginator(self.start_offset(context), int(self.settings["page_size"]))
        export_filter = self.settings.get("filter")
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)

            def open_body() -> requests.Response:
                request_counter.increment()
                page = PageContext(stream_context=context, next_page_token=paginator.position)
                response = self.send(self.get_http_request(page=page))
                paginator.note_response(response)
                return response

            def read(response: requests.Response) -> Iterator[ExportDocument]:
                limit = self.max_frame_bytes
                try:
                    for frame in iter_frames(response.iter_content(READ_CHUNK_BYTES), limit):
                        self.stats.bytes += len(frame) + 4
                        document = self.parse_frame(frame, paginator.position, limit)
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

            while not paginator.finished:
                where = f"export at offset {paginator.position}"
                for document in self.resumable(open_body, read, where=where):
                    record = self.document_record(document)
                    record["export_filter"] = export_filter
                    del document
                    yield record
                    # Back here, this record and its child streams' records are written: the
                    # frame goes before the next one is read, so one frame is in memory.
                    self.document_done()
                paginator.advance(paginator.last_response)
            if paginator.short_total:
                self.logger.warning(
                    "talentsoft stream '%s': Content-Range announced %s records but the export ended at %d",
                    self.name,
                    paginator.total,
                    paginator.position,
                )

    def parse_frame(
        self, frame: bytes | bytearray | memoryview, position: int, limit: int | None = None
    ) -> ExportDocument:
        """Open a frame's zip (in place, no copy) and decode its JSON document."""
        where = f"frame at offset {position}"
        try:
            archive = FrameArchive(
                frame,
                self.max_frame_bytes if limit is None else limit,
                f"talentsoft stream '{self.name}': {where}",
            )
        except zipfile.BadZipFile as exc:
            msg = f"talentsoft stream '{self.name}': {where} is not a zip archive ({exc})"
            raise ExportDataError(msg) from exc
        raw = archive.read(self.document_entry)
        try:
            try:
                document = loads(raw)
            except UnicodeDecodeError:  # one bad byte in a name: kept as U+FFFD, with a warning
                entry = f"talentsoft stream '{self.name}': {where}: {self.document_entry}"
                document = json.loads(decode_text(raw, where=entry, logger=self.logger))
        except ValueError as exc:
            msg = f"talentsoft stream '{self.name}': {where}: {self.document_entry} is not valid JSON ({exc})"
            raise ExportDataError(msg) from exc
        offset = document.get("offset") if isinstance(document, dict) else None
        if not isinstance(offset, int) or isinstance(offset, bool):
            msg = f"talentsoft stream '{self.name}': {where}: {self.document_entry} has no integer 'offset'"
            raise ExportDataError(msg)
        return ExportDocument(offset=offset, document=document, archive=archive)

    def document_record(self, document: ExportDocument) -> dict[str, t.Any]:
        """The stream's record for one export document."""
        raise NotImplementedError

    def document_done(self) -> None:
        """The last document's record, and its child streams' records, are written."""

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """Unused: export bodies are read frame by frame in :meth:`request_records`."""
        raise NotImplementedError
