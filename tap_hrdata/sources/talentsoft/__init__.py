"""Cegid Talentsoft Recruiting exports: vacancies, candidates, applications, attachments, referentials."""

from __future__ import annotations

from tap_hrdata.sources import Source
from tap_hrdata.sources.talentsoft.client import TalentsoftClient
from tap_hrdata.sources.talentsoft.streams import (
    ApplicationsStream,
    AttachmentsStream,
    CandidatesStream,
    ReferentialsStream,
    VacanciesStream,
)

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
    ),
)
