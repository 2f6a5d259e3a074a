"""Coresignal Jobs Data API, Bulk Collect: stream bulk_jobs."""

from __future__ import annotations

from tap_hrdata.sources import Source
from tap_hrdata.sources.coresignal.client import CoresignalClient
from tap_hrdata.sources.coresignal.streams import BulkJobsStream

SOURCE = Source(
    name="coresignal",
    title="Coresignal Jobs Data API Bulk Collect",
    required=(),
    one_of=(("api_key", "api_token"),),
    client_type=CoresignalClient,
    stream_types=(BulkJobsStream,),
)
