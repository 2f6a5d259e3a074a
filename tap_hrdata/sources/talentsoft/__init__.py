"""Cegid Talentsoft Recruiting: exports, referentials and their translations, journalled webhook events."""

from __future__ import annotations

from tap_hrdata.sources import Source
from tap_hrdata.sources.talentsoft.client import TalentsoftClient
from tap_hrdata.sources.talentsoft.events import TalentsoftEventsStream
from tap_hrdata.sources.talentsoft.streams import (
    ApplicationsStream,
    AttachmentsStream,
    CandidatesStream,
    ReferentialsStream,
    VacanciesStream,
)
from tap_hrdata.sources.talentsoft.translations import ReferentialTranslationsStream

SOURCE = Source(
    name="talentsoft",
    title="Cegid Talentsoft Recruiting exports",
    required=("base_url", "client_id", "client_secret"),
    client_type=TalentsoftClient,
    stream_types=(
        VacanciesStream,
        CandidatesStream,
        ApplicationsStream,
        AttachmentsStream,
        ReferentialsStream,
        ReferentialTranslationsStream,
        TalentsoftEventsStream,
    ),
)
