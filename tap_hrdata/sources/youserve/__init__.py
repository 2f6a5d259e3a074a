"""Visma YouServe File API (subscriber role): stream delivered_files."""

from __future__ import annotations

from tap_hrdata.sources import Source
from tap_hrdata.sources.youserve.client import YouserveClient
from tap_hrdata.sources.youserve.streams import DeliveredFilesStream

SOURCE = Source(
    name="youserve",
    title="Visma YouServe File API",
    required=("client_id", "client_secret", "tenant_id"),
    client_type=YouserveClient,
    stream_types=(DeliveredFilesStream,),
)
