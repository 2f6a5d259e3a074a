"""HrFlow.ai: profiles, jobs, sources and boards of a workspace."""

from __future__ import annotations

from tap_hrdata.sources import Source
from tap_hrdata.sources.hrflow.client import HrflowClient
from tap_hrdata.sources.hrflow.streams import BoardsStream, JobsStream, ProfilesStream, SourcesStream

SOURCE = Source(
    name="hrflow",
    title="HrFlow.ai",
    required=("api_key", "user_email"),
    client_type=HrflowClient,
    stream_types=(ProfilesStream, JobsStream, SourcesStream, BoardsStream),
)
