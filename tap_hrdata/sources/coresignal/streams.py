"""Coresignal stream ``bulk_jobs``: job postings collected by a Bulk Collect data request."""

from __future__ import annotations

import typing as t

from singer_sdk import SchemaDirectory, StreamSchema

from tap_hrdata.sources.coresignal import schemas
from tap_hrdata.sources.coresignal.client import CoresignalError, CoresignalStream, iso_time

SCHEMAS = SchemaDirectory(schemas)


def _text(value: t.Any) -> str | None:  # vendor values are untyped JSON
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _integer(value: t.Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _flag(value: t.Any) -> bool | None:
    """The vendor's 0/1 flags as booleans."""
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return bool(int(value))
    return None


class BulkJobsStream(CoresignalStream):
    """Job postings of one data request per run: typed columns plus the job as ``raw``.

    Files hold jobs in no particular order of ``last_updated``, hence ``is_sorted = False``:
    the bookmark moves only once the whole request is emitted.
    """

    name = "bulk_jobs"
    primary_keys = ("id",)
    replication_key = "last_updated"
    is_sorted = False
    schema = StreamSchema(SCHEMAS)

    def job_record(self, job: dict[str, t.Any], request_id: str) -> dict[str, t.Any]:
        """Typed columns for the fields users query, the complete job as ``raw``."""
        job_id = _integer(job.get("id"))
        if job_id is None:
            msg = f"coresignal stream 'bulk_jobs': data request {request_id} holds a job without an integer id"
            raise CoresignalError(msg)
        return {
            "id": job_id,
            "title": _text(job.get("title")),
            "company_id": _integer(job.get("company_id")),
            "company_name": _text(job.get("company_name")),
            "company_url": _text(job.get("company_url")),
            "location": _text(job.get("location")),
            "country": _text(job.get("country")),
            "url": _text(job.get("url")),
            "external_url": _text(job.get("external_url")),
            "seniority": _text(job.get("seniority")),
            "employment_type": _text(job.get("employment_type")),
            "description": _text(job.get("description")),
            "applicants_count": _text(job.get("applicants_count")),
            "deleted": _flag(job.get("deleted")),
            "application_active": _flag(job.get("application_active")),
            "created": iso_time(job.get("created")),
            "last_updated": iso_time(job.get("last_updated")),
            "data_request_id": request_id,
            "raw": job,
        }
