"""A Talentsoft journal with events in it, as the receiver writes one, for tests of the tap's runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from tap_hrdata.storage import FileStorage
from tap_hrdata.webhooks.journal import JournalWriter, encode_line, journal_path
from tap_hrdata.webhooks.talentsoft import parse_events

#: Events of each documented kind, as the emulator fires them.
EVENTS: tuple[dict[str, Any], ...] = (
    {"eventId": "ev-1", "event": "vacancy_new", "hookId": "h-1", "data": {"reference": "VAC-1"}},
    {"eventId": "ev-2", "event": "vacancy_update", "hookId": "h-2", "data": {"reference": "VAC-2"}},
    {"eventId": "ev-3", "event": "application_event_new", "hookId": "h-3", "data": {"applicantId": "C-1"}},
    {"event": "applicant_update", "hookId": "h-4", "data": {"applicantId": "C-2"}},  # no id: keyed by its hash
)


def seed_talentsoft_journal(
    files_storage_url: str | Path, bodies: tuple[dict[str, Any], ...] = EVENTS, received_at: str | None = None
) -> int:
    """Append ``bodies`` to the Talentsoft journal under ``files_storage_url``; the journal's end position."""
    path = journal_path(FileStorage(str(files_storage_url)), "talentsoft")
    writer = JournalWriter(path, logging.getLogger("tests.webhooks")).open()
    try:
        lines = [
            encode_line(
                {
                    "vendor": "talentsoft",
                    "event": event.event,
                    "event_key": event.event_key,
                    "received_at": received_at or "2026-12-02T10:00:00.000000Z",
                    "body": event.body,
                }
            )
            for body in bodies
            for event in parse_events(json.dumps(body).encode())
        ]
        return writer.append(lines)
    finally:
        writer.close()
