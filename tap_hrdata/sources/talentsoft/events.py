"""Stream ``talentsoft_events``: the webhook events the receiver journalled, incremental on the journal position.

The receiver (``tap-hrdata-webhooks serve``) appends every acknowledged event to
``webhooks/talentsoft/events.jsonl`` under ``files_storage_url`` and fsyncs it before
answering; this stream reads that journal from the bookmark on. The bookmark is the byte
position where the line after the last event emitted starts, so a run resumes at the
next event, and the target commits each event once: the key is the event's id (or a hash
of its body), so a delivery the vendor repeated, or an event read again after a lost
state, lands on the same row.

One run reads the journal up to one end, fixed when the run first asks for it
(:func:`journal_extent`): the end of the journal's complete lines at that moment. This
stream reads from its bookmark to that end (:func:`event_window`); ``vacancies`` and
``candidates`` read the ids the events name from their own ``events_refreshed_through``
to the same end (:func:`named_ids_between`), so an event arriving during the run is
neither emitted without its refresh nor refreshed twice: it belongs to the next run.

A line still being written (or torn by a crash: it was never acknowledged) is not read:
the next run reads it once it is complete. A bookmark past the journal's end or not at a
line start (the journal was replaced or cut) stops the run with an error naming it:
reading from a wrong position would lose or garble events silently.
"""

from __future__ import annotations

import typing as t
import weakref
from dataclasses import dataclass

from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_hrdata.sources.talentsoft import schemas
from tap_hrdata.sources.talentsoft.client import TalentsoftClient
from tap_hrdata.statecheck import StateError, shown
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import text
from tap_hrdata.webhooks.journal import JournalError, JournalReader, journal_path
from tap_hrdata.webhooks.talentsoft import (
    APPLICANT_ID_FIELDS,
    NESTS,
    VACANCY_ID_FIELDS,
    named_ids,
    object_id,
    object_type,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

    from tap_hrdata.tap import TapHrData
    from tap_hrdata.webhooks.journal import JournalEntry

SCHEMAS = SchemaDirectory(schemas)
VENDOR = "talentsoft"
STREAM = "talentsoft_events"


@dataclass(frozen=True)
class EventWindow:
    """The part of the journal one run reads: after ``start``, up to ``end`` (byte positions)."""

    reader: JournalReader | None
    start: int
    end: int

    def entries(self) -> Iterator[JournalEntry]:
        """The window's entries, in journal order."""
        if self.reader is None:
            return iter(())
        return self.reader.entries(after=self.start, until=self.end)

    def named_ids(self) -> dict[str, set[str]]:
        """The vacancy references (``vacancies``) and candidate ids (``candidates``) the window's events name.

        What ``vacancies`` / ``candidates`` re-export this run (one event, one targeted refresh).
        """
        return named_ids_between(self.reader, self.start, self.end)


_WINDOWS: weakref.WeakKeyDictionary[TapHrData, EventWindow] = weakref.WeakKeyDictionary()
_JOURNALS: weakref.WeakKeyDictionary[TapHrData, tuple[JournalReader | None, int]] = weakref.WeakKeyDictionary()


def journal_extent(tap: TapHrData) -> tuple[JournalReader | None, int]:
    """The Talentsoft journal and where this run reads it up to (fixed when first asked, then shared).

    None for the reader when the storage holds no journal a run could read (not local).
    """
    known = _JOURNALS.get(tap)
    if known is not None:
        return known
    try:
        reader: JournalReader | None = JournalReader(journal_path(tap.storage, VENDOR), tap.logger)
    except JournalError as exc:
        tap.logger.warning("talentsoft: no webhook events read: %s", exc)
        reader = None
    known = (reader, reader.complete_end() if reader is not None else 0)
    _JOURNALS[tap] = known
    return known


def named_ids_between(reader: JournalReader | None, start: int, end: int) -> dict[str, set[str]]:
    """The vacancy references (``vacancies``) and candidate ids (``candidates``) the events in ``start..end`` name."""
    if reader is None:
        return {"vacancies": set(), "candidates": set()}
    entries = reader.entries(after=start, until=end)
    return named_ids((str(e.fields.get("event")), _body(e)) for e in entries)


def _body(entry: JournalEntry) -> dict[str, t.Any]:
    given = entry.fields.get("body")
    return given if isinstance(given, dict) else {}


def check_bookmark(value: object) -> int | None:
    """A journal position bookmark (a whole number 0 or more), or None; StateError otherwise."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        msg = (
            f"state: bookmarks.{STREAM}.replication_key_value must be a journal position (an integer, "
            f"0 or more), found {shown(value)}"
        )
        raise StateError(msg)
    return value


def event_window(tap: TapHrData) -> EventWindow:
    """The window of the Talentsoft journal the run of ``tap`` reads (the same for every stream that asks)."""
    window = _WINDOWS.get(tap)
    if window is not None:
        return window
    reader, end = journal_extent(tap)
    state = (tap.state.get("bookmarks") or {}).get(STREAM) or {}
    bookmark = None
    if state.get("replication_key") in (None, "journal_position"):
        bookmark = check_bookmark(state.get("replication_key_value"))
    start = bookmark or 0
    if reader is not None and not reader.at_line_start(start):
        msg = (
            f"talentsoft stream '{STREAM}': the bookmark {start} is not a position of the journal "
            f"{reader.path} (was it replaced or cut?): clear this stream's bookmark (or run with --full-refresh) "
            "to read the journal from its start; its events keep their keys, so a target stores them once"
        )
        raise StateError(msg)
    window = EventWindow(reader, start, end)
    _WINDOWS[tap] = window
    return window


class TalentsoftEventsStream(VendorStream):
    """The journal of Talentsoft webhook events (see the module docstring)."""

    name = "talentsoft_events"
    primary_keys = ("event_key",)
    replication_key = "journal_position"
    is_sorted = True
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
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """A journal position bookmark is a whole number 0 or more."""
        if stream_state.get("replication_key") in (None, cls.replication_key):
            check_bookmark(stream_state.get("replication_key_value"))

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The entries of this run's window of the journal, in journal order."""
        self.check_state(self.stream_state)
        for entry in event_window(self._tap).entries():
            self.stats.add(bytes=entry.position - entry.start)
            yield self.event_record(entry)

    @staticmethod
    def event_record(entry: JournalEntry) -> dict[str, t.Any]:
        """The record of one journal entry."""
        fields = entry.fields
        body = _body(entry)
        event = str(fields.get("event") or "")
        return {
            "event_key": fields["event_key"],
            "journal_position": entry.position,
            "received_at": text(fields.get("received_at")),
            "event": event,
            "object_type": object_type(event),
            "object_id": object_id(event, body),
            "hook_id": text(body.get("hookId")),
            "raw": body,
        }
