"""Cegid Talentsoft Recruiting exports: vacancies, candidates, applications, attachments, referentials."""

from __future__ import annotations

from tap_hrdata.sources import Source
from tap_hrdata.sources.talentsoft.client import make_authenticator
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
    stream_types=(
        VacanciesStream,
        CandidatesStream,
        ApplicationsStream,
        AttachmentsStream,
        ReferentialsStream,
    ),
    make_authenticator=make_authenticator,
)
