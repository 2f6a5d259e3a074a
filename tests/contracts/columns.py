"""Which vendor field each typed column reads: the contract between vendor objects and records.

Used by the parser-side contract test (fixtures) and by the realistic-records test (the
emulator's current shapes): wherever the vendor object carries a value at one of a
column's fields, the record's column must not be null.
"""

from __future__ import annotations

from typing import Any

from tap_hrdata.sources.coresignal.streams import BulkJobsStream
from tap_hrdata.sources.hrflow.activity import RatingsStream, TrackingsStream
from tap_hrdata.sources.hrflow.attachments import ProfileAttachmentsStream
from tap_hrdata.sources.hrflow.streams import JobsStream, ProfilesStream, SourcesStream
from tap_hrdata.sources.talentsoft.streams import CandidatesStream, ReferentialsStream, VacanciesStream
from tap_hrdata.sources.talentsoft.translations import ReferentialTranslationsStream
from tap_hrdata.sources.youserve.streams import DeliveredFilesStream
from tap_hrdata.streams import ColumnSources

FieldPath = tuple[str, ...]
#: For each fixture a builder reads: the typed columns and the vendor fields they come from
#: (the streams' own declarations, which ``redact`` also follows).
COLUMNS: dict[str, ColumnSources] = {
    "vacancy": VacanciesStream.column_sources,
    "candidate": CandidatesStream.column_sources,
    "referential": ReferentialsStream.column_sources,
    "translation": ReferentialTranslationsStream.column_sources,
    "profile": ProfilesStream.column_sources,
    "job": JobsStream.column_sources,
    "container": SourcesStream.column_sources,
    "tracking": TrackingsStream.column_sources,
    "rating": RatingsStream.column_sources,
    "hrflow_attachment": ProfileAttachmentsStream.column_sources,
    "file": DeliveredFilesStream.column_sources,
    "coresignal_job": BulkJobsStream.column_sources,
}


#: The column table of each stream.
TABLES = {
    "vacancies": "vacancy",
    "candidates": "candidate",
    "referentials": "referential",
    "referential_translations": "translation",
    "hrflow_profiles": "profile",
    "hrflow_jobs": "job",
    "hrflow_sources": "container",
    "hrflow_boards": "container",
    "hrflow_trackings": "tracking",
    "hrflow_ratings": "rating",
    "hrflow_profile_attachments": "hrflow_attachment",
    "delivered_files": "file",
    "bulk_jobs": "coresignal_job",
}


def at(value: Any, path: FieldPath) -> Any:
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def unfilled(table: str, vendor_object: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """The typed columns of ``record`` that are null though ``vendor_object`` fills one of their fields."""
    return [
        column
        for column, paths in COLUMNS[table].items()
        if any(at(vendor_object, path) not in (None, "", [], {}) for path in paths) and record.get(column) is None
    ]
