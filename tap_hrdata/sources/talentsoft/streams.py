"""Talentsoft streams: vacancies, candidates (with applications and attachments), referentials.

Applications and attachments come out of the candidate frames already read: the
candidates stream keeps the current frame, and its two child streams turn it into
records, so no extra API call is ever made for them.
"""

from __future__ import annotations

import typing as t

from singer_sdk import SchemaDirectory, StreamSchema

from tap_hrdata.children import InlineChildStream
from tap_hrdata.sources.talentsoft import schemas
from tap_hrdata.sources.talentsoft.client import (
    SOURCE_NAME,
    ExportDataError,
    ExportDocument,
    ExportStream,
    TalentsoftStream,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context, Record

SCHEMAS = SchemaDirectory(schemas)


def _label(value: t.Any) -> t.Any:  # vendor values are untyped JSON
    """A referential value as users query it: its label when it is an object."""
    if isinstance(value, dict):
        return value.get("label") or value.get("name") or value.get("code") or value.get("id")
    return value


def _text(value: t.Any) -> str | None:
    label = _label(value)
    return None if label is None else str(label)


class VacanciesStream(ExportStream):
    """Vacancies (offers): one record per ``offerdetail`` document."""

    name = "vacancies"
    primary_keys = ("reference",)
    schema = StreamSchema(SCHEMAS)
    export = "vacancies"
    document_entry = "offerdetail"

    def document_record(self, document: ExportDocument) -> dict[str, t.Any]:
        """Typed columns plus the complete document as ``raw``."""
        detail = document.document.get("offerDetail")
        if not isinstance(detail, dict) or not detail.get("reference"):
            msg = f"talentsoft stream 'vacancies': document at offset {document.offset} has no offerDetail.reference"
            raise ExportDataError(msg)
        location = detail.get("location")
        if not isinstance(location, dict):
            location = {}
        return {
            "reference": str(detail["reference"]),
            "offset": document.offset,
            "title": _text(detail.get("title")),
            "status": _text(detail.get("status")),
            "organisation": _text(detail.get("organisation")),
            "location_city": _text(location.get("city")),
            "location_country": _text(location.get("country")),
            "contract_type": _text(detail.get("contractType")),
            "creation_date": detail.get("creationDate"),
            "update_date": detail.get("updateDate"),
            "raw": document.document,
        }


class CandidatesStream(ExportStream):
    """Candidates (applicants): one record per ``applicantdetail`` document."""

    name = "candidates"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)
    export = "candidates"
    document_entry = "applicantdetail"
    # A candidate frame may carry megabytes of attachments: checkpoint often.
    STATE_MSG_FREQUENCY = 50

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: The frame of the candidate being emitted, read by the child streams.
        self.current: ExportDocument | None = None

    def document_record(self, document: ExportDocument) -> dict[str, t.Any]:
        """Typed columns plus the complete document (applications, attachment list) as ``raw``."""
        detail = document.document.get("candidateDetail")
        if not isinstance(detail, dict) or detail.get("id") in (None, ""):
            msg = f"talentsoft stream 'candidates': document at offset {document.offset} has no candidateDetail.id"
            raise ExportDataError(msg)
        self.current = document
        return {
            "id": str(detail["id"]),
            "offset": document.offset,
            "first_name": _text(detail.get("firstName")),
            "last_name": _text(detail.get("lastName")),
            "email": _text(detail.get("email")),
            "phone": _text(detail.get("phone")),
            "status": _text(detail.get("status")),
            "creation_date": detail.get("creationDate"),
            "update_date": detail.get("updateDate"),
            "application_count": len(document.document.get("applications") or []),
            "attachment_count": len(document.document.get("attachments") or []),
            "raw": document.document,
        }

    def document_done(self) -> None:
        """The child streams have read the frame: let it go before the next one is read."""
        self.current = None

    def get_child_context(self, record: Record, context: Context | None) -> Context:
        """Children only need the candidate id; the frame itself stays in ``current``."""
        return {"candidate_id": record["id"]}


class CandidateChildStream(InlineChildStream):
    """A stream fed by the candidate frame being emitted (no request of its own)."""

    source = SOURCE_NAME
    parent_stream_type = CandidatesStream

    def current_document(self, context: Context | None) -> ExportDocument:
        """The parent's current frame, checked against the child context."""
        parent = self._tap.streams["candidates"]
        document = getattr(parent, "current", None)
        if document is None or context is None:
            msg = f"talentsoft stream '{self.name}' runs only as a child of 'candidates'"
            raise RuntimeError(msg)
        return document


class ApplicationsStream(CandidateChildStream):
    """A candidate's applications."""

    name = "applications"
    primary_keys = ("candidate_id", "application_id")
    schema = StreamSchema(SCHEMAS)

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """One record per element of the candidate's ``applications``."""
        document = self.current_document(context)
        candidate_id = str(document.document["candidateDetail"]["id"])
        for index, application in enumerate(document.document.get("applications") or []):
            item = application if isinstance(application, dict) else {"value": application}
            application_id = item.get("id")
            yield {
                "candidate_id": candidate_id,
                "application_id": str(application_id) if application_id is not None else f"#{index}",
                "vacancy_reference": _text(item.get("vacancyReference") or item.get("offerReference")),
                "status": _text(item.get("status")),
                "application_date": item.get("applicationDate"),
                "origin": _text(item.get("origin")),
                "raw": item,
            }


class AttachmentsStream(CandidateChildStream):
    """A candidate's attachments: bytes to storage, metadata and checksum to the record."""

    name = "attachments"
    primary_keys = ("candidate_id", "attachment_id")
    schema = StreamSchema(SCHEMAS)

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Store each attachment's zip entry (looked up by id) and describe it."""
        document = self.current_document(context)
        candidate_id = str(document.document["candidateDetail"]["id"])
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
            self.stats.files += 1
            self.stats.bytes += stored.size
            yield {
                "candidate_id": candidate_id,
                "attachment_id": attachment_id,
                "filename": meta.get("filename"),
                "mime_type": meta.get("mimeType"),
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
    schema = StreamSchema(SCHEMAS)
    path = "/api/v1/referentials/{category}"

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        """One partition per configured category."""
        return [{"category": category} for category in self.settings["referential_categories"]]

    def get_url(self, context: Context | None) -> str:
        """The category's URL, the category quoted as one path segment."""
        from urllib.parse import quote  # noqa: PLC0415

        category = (context or {}).get("category", "")
        return f"{self.url_base}/api/v1/referentials/{quote(str(category), safe='')}"

    def get_new_paginator(self) -> None:
        """A category is one answer."""

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Records of one category (none when no category is configured)."""
        if not (context or {}).get("category"):
            return
        yield from super().get_records(context)

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """Items of a JSON array (or of an object's ``items``/``data``)."""
        try:
            payload = response.json()
        except ValueError as exc:
            msg = f"talentsoft stream 'referentials': {response.url and 'answer'} is not JSON"
            raise ExportDataError(msg) from exc
        items = payload if isinstance(payload, list) else payload.get("items") or payload.get("data") or []
        for item in items:
            yield {
                "id": str(item.get("id")),
                "code": item.get("code"),
                "label": item.get("label"),
                "raw": item,
            }

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Stamp the category (it is also the state partition)."""
        row["category"] = (context or {}).get("category")
        return super().post_process(row, context)
