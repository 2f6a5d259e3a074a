"""HrFlow.ai: profiles (and their attachments), jobs, sources, boards, trackings and ratings of a workspace."""

from __future__ import annotations

from tap_hrdata.sources import Source
from tap_hrdata.sources.hrflow.activity import RatingsStream, TrackingsStream
from tap_hrdata.sources.hrflow.attachments import ProfileAttachmentsStream
from tap_hrdata.sources.hrflow.client import HrflowClient
from tap_hrdata.sources.hrflow.events import HrflowEventsStream
from tap_hrdata.sources.hrflow.streams import BoardsStream, JobsStream, ProfilesStream, SourcesStream

SOURCE = Source(
    name="hrflow",
    title="HrFlow.ai",
    required=("api_key", "user_email"),
    client_type=HrflowClient,
    stream_types=(
        ProfilesStream,
        ProfileAttachmentsStream,
        JobsStream,
        SourcesStream,
        BoardsStream,
        TrackingsStream,
        RatingsStream,
        HrflowEventsStream,
    ),
)
