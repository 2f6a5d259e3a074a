"""Talentsoft streams: vacancies, candidates (with applications and attachments), referentials.

Applications and attachments come out of the candidate frames already read: the
candidates stream keeps the current frame, and its two child streams turn it into
records, so no extra API call is ever made for them.
"""

from __future__ import annotations

import abc
import typing as t
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
from tap_hrdata.statecheck import bookmark_offset
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import flag, label, number, text, utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context, Record

SCHEMAS = SchemaDirectory(schemas)


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
        """What selects this export's records, as the records and state partitions carry it."""
        return {"export_filter": self.export_filter()}

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
        """The stream's offset bookmarks (its own and each partition's), checked before they are trusted.

        A value that is not a record offset (``"abc"``, ``4.5``, ``true``) stops the run with
        its path in the state: read as "no bookmark" it would silently export everything
        again. A value kept under another replication key is the SDK's to ignore (a key
        change starts over). The tap calls this as it loads the state; the stream again
        before its first request.
        """
        partitions = stream_state.get("partitions")
        entries = [("replication_key_value", stream_state)] + [
            (f"partitions[{index}].replication_key_value", partition)
            for index, partition in enumerate(partitions if isinstance(partitions, list) else [])
            if isinstance(partition, dict)
        ]
        for path, entry in entries:
            if entry.get("replication_key") in (None, cls.replication_key):
                bookmark_offset(cls.name, entry.get("replication_key_value"), path)  # type: ignore[misc]  # a class attribute here

    def get_new_paginator(self, context: Context | None) -> ExportPaginator:
        """Offsets from the record after the bookmark (or 0), ``page_size`` at a time."""
        self.check_state(self.stream_state)
        state = self.get_context_state(context)
        bookmark = state.get("replication_key_value") if state.get("replication_key") == self.replication_key else None
        return ExportPaginator(0 if bookmark is None else bookmark + 1, int(self.settings["page_size"]))

    def get_http_request(self, *, page: PageContext[int]) -> HTTPRequest:
        """``GET /api/exports/v1/{export}`` with offset, limit and the vendor filter."""
        params: dict[str, t.Any] = {
            "offset": page.next_page_token or 0,
            "limit": int(self.settings["page_size"]),
            "filter": self.export_filter(),
            **self.export_params(),
        }
        return HTTPRequest(url=f"{self.client.base_url}/api/exports/v1/{self.export}", params=params)

    def export_params(self) -> dict[str, t.Any]:
        """Query parameters of this export only (None: not sent)."""
        return {}

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Page through the export, resuming a broken body after the last record taken.

        The next page is requested while this one is read (:class:`NextPage`), when
        ``max_concurrent_requests`` is over 1; records are emitted here, in order, either way.
        """
        paginator = self.get_new_paginator(context)
        selection = self.selection()
        answered: list[requests.Response] = []
        first_offset = paginator.position
        next_page = NextPage(
            self.client,
            self.name,
            paginator.page_size,
            lambda offset: self.get_http_request(page=PageContext(context, offset)),
        )

        def read(response: requests.Response) -> Iterator[ExportDocument]:
            answered[:] = [response]
            announced = paginator.total
            paginator.read_total(response)
            if announced is None and paginator.total is not None:  # Content-Range: the export's size
                self.stats.expect_more(records=paginator.total - first_offset)
            next_page.expect(response, paginator.total)
            yield from self.read_documents(response, paginator)

        try:
            while not paginator.finished:
                for document in self.page_documents(context, paginator, next_page, read):
                    record = {**self.document_record(document), **selection}
                    del document
                    yield record
                    # Back here, this record and its child streams' records are written: the
                    # frame goes before the next one is read, so one frame is in memory.
                    self.document_done()
                paginator.advance(answered[0])
        finally:
            next_page.drop()
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
