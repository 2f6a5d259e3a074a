"""Stream ``talentsoft_events``: the webhook events the receiver journalled, incremental on the journal position.

What every events stream shares (the journal window of a run, the bookmark, the record)
is in :mod:`tap_hrdata.webhooks.stream`; this module adds Talentsoft's columns (the
vacancy or applicant an event names) and the ids the events name, for the targeted
refreshes.

One run reads the journal up to one end, fixed when the run first asks for it
(:func:`journal_extent`): the end of the journal's complete lines at that moment. This
stream reads from its bookmark to that end (:func:`event_window`); ``vacancies`` and
``candidates`` read the ids the events name from their own ``events_refreshed_through``
to the same end (:func:`named_ids_between`), so an event arriving during the run is
neither emitted without its refresh nor refreshed twice: it belongs to the next run.
"""

from __future__ import annotations

import typing as t

from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_hrdata.sources.talentsoft import schemas
from tap_hrdata.sources.talentsoft.client import TalentsoftClient
from tap_hrdata.streams import ColumnSources
from tap_hrdata.values import text
from tap_hrdata.webhooks import stream as events
from tap_hrdata.webhooks.stream import JournalEventsStream, entry_body
from tap_hrdata.webhooks.talentsoft import (
    APPLICANT_ID_FIELDS,
    NESTS,
    VACANCY_ID_FIELDS,
    named_ids,
    object_id,
    object_type,
)

if t.TYPE_CHECKING:
    from tap_hrdata.tap import TapHrData
    from tap_hrdata.webhooks.journal import JournalReader

SCHEMAS = SchemaDirectory(schemas)
VENDOR = "talentsoft"
STREAM = "talentsoft_events"


class EventWindow(events.EventWindow):
    """The part of the Talentsoft journal one run reads, and the ids its events name."""

    def named_ids(self) -> dict[str, set[str]]:
        """The vacancy references (``vacancies``) and candidate ids (``candidates``) the window's events name.

        What ``vacancies`` / ``candidates`` re-export this run (one event, one targeted refresh).
        """
        return named_ids_between(self.reader, self.start, self.end)


def journal_extent(tap: TapHrData) -> tuple[JournalReader | None, int]:
    """The Talentsoft journal and where this run reads it up to (fixed when first asked, then shared).

    None for the reader when the storage holds no journal a run could read (not local).
    """
    return events.journal_extent(tap, VENDOR)


def named_ids_between(reader: JournalReader | None, start: int, end: int) -> dict[str, set[str]]:
    """The vacancy references (``vacancies``) and candidate ids (``candidates``) the events in ``start..end`` name."""
    if reader is None:
        return {"vacancies": set(), "candidates": set()}
    entries = reader.entries(after=start, until=end)
    return named_ids((str(e.fields.get("event")), entry_body(e)) for e in entries)


def check_bookmark(value: object) -> int | None:
    """A journal position bookmark (a whole number 0 or more), or None; StateError otherwise."""
    return events.check_bookmark(STREAM, value)


def event_window(tap: TapHrData) -> EventWindow:
    """The window of the Talentsoft journal the run of ``tap`` reads (the same for every stream that asks)."""
    return events.journal_window(tap, VENDOR, STREAM, EventWindow)


class TalentsoftEventsStream(JournalEventsStream):
    """The journal of Talentsoft webhook events (see the module docstring)."""

    name = STREAM
    vendor = VENDOR
    window_type = EventWindow
    schema = StreamSchema(SCHEMAS)
    column_sources: t.ClassVar[ColumnSources] = {
        "event": (("event",), ("eventType",), ("eventName",), ("type",)),
        "object_id": tuple((name,) for name in (*VACANCY_ID_FIELDS, *APPLICANT_ID_FIELDS))
        + tuple((nest, name) for nest in NESTS for name in (*VACANCY_ID_FIELDS, *APPLICANT_ID_FIELDS, "id")),
        "hook_id": (("hookId",),),
    }

    @property
    @override
    def client(self) -> TalentsoftClient:
        """The run's Talentsoft client (this stream makes no call; it keeps the summary's counts)."""
        return self._tap.client(TalentsoftClient)

    @classmethod
    @override
    def event_columns(cls, event: str, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """What the event is about: ``vacancy`` / ``application`` / ``applicant``, its id, and the hook."""
        return {
            "object_type": object_type(event),
            "object_id": object_id(event, body),
            "hook_id": text(body.get("hookId")),
        }
