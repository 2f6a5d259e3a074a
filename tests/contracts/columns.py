"""Which vendor field each typed column reads: the contract between vendor objects and records.

Used by the parser-side contract test (fixtures) and by the realistic-records test (the
emulator's current shapes): wherever the vendor object carries a value at one of a
column's fields, the record's column must not be null.
"""

from __future__ import annotations

from typing import Any

FieldPath = tuple[str, ...]
#: For each fixture a builder reads: the typed columns and the vendor fields they come from.
COLUMNS: dict[str, dict[str, tuple[FieldPath, ...]]] = {
    "vacancy": {
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
    },
    "candidate": {
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
    },
    "referential": {
        "id": (("id",), ("code",), ("clientCode",)),
        "code": (("code",),),
        "label": (("label",),),
    },
    "profile": {
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
    },
    "job": {
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
    },
    "container": {
        "key": (("key",),),
        "name": (("name",),),
        "description": (("description",),),
        "type": (("type",),),
        "subtype": (("subtype",),),
        "size": (("stats", "size"),),
        "created_at": (("created_at",),),
        "updated_at": (("updated_at",),),
    },
    "file": {
        "file_id": (("fileId",),),
        "file_name": (("fileName",),),
        "file_size": (("fileSize",),),
        "tenant_id": (("tenantId",),),
        "business_type_id": (("businessType", "id"),),
        "business_type_name": (("businessType", "name"),),
        "publisher_id": (("publisherId",),),
        "upload_date": (("uploadDate",),),
    },
    "coresignal_job": {
        name: ((name,),)
        for name in (
            "id",
            "title",
            "company_id",
            "company_name",
            "company_url",
            "location",
            "country",
            "url",
            "external_url",
            "seniority",
            "employment_type",
            "description",
            "applicants_count",
            "deleted",
            "application_active",
            "created",
            "last_updated",
        )
    },
}


#: The column table of each stream.
TABLES = {
    "vacancies": "vacancy",
    "candidates": "candidate",
    "referentials": "referential",
    "hrflow_profiles": "profile",
    "hrflow_jobs": "job",
    "hrflow_sources": "container",
    "hrflow_boards": "container",
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
