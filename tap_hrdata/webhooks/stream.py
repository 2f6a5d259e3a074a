"""What every stream of journalled webhook events shares: the journal window of a run, the bookmark, the record.

The receiver (``tap-hrdata-webhooks serve``) appends every acknowledged event of a vendor
to ``webhooks/{vendor}/events.jsonl`` under ``files_storage_url`` and fsyncs it before
answering; a :class:`JournalEventsStream` (``talentsoft_events``, ``hrflow_events``) reads
that journal from its bookmark on. The bookmark is the byte position where the line after
the last event emitted starts, so a run resumes at the next event, and the target commits
each event once: the key is the event's id (or a hash of its body), so a delivery the
vendor repeated, or an event read again after a lost state, lands on the same row.

One run reads a vendor's journal up to one end, fixed when the run first asks for it
(:func:`journal_extent`): the end of the journal's complete lines at that moment. The
stream reads from its bookmark to that end (:func:`journal_window`); other streams of the
vendor may read the same span (Talentsoft's targeted refreshes), so an event arriving
during the run belongs to the next run, for every stream alike.

A line still being written (or torn by a crash: it was never acknowledged) is not read:
the next run reads it once it is complete. A bookmark past the journal's end or not at a
line start (the journal was replaced or cut) stops the run with an error naming it:
reading from a wrong position would lose or garble events silently.
"""

from __future__ import annotations

import typing as t
import weakref
from dataclasses import dataclass

from typing_extensions import override

from tap_hrdata.statecheck import StateError, shown
from tap_hrdata.streams import VendorStream
from tap_hrdata.values import text
from tap_hrdata.webhooks.journal import JournalError, JournalReader, journal_path

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

    from tap_hrdata.tap import TapHrData
    from tap_hrdata.webhooks.journal import JournalEntry

#: The replication key of every events stream: the journal position after the event.
REPLICATION_KEY = "journal_position"


@dataclass(frozen=True)
class EventWindow:
    """The part of a journal one run reads: after ``start``, up to ``end`` (byte positions)."""

    reader: JournalReader | None
    start: int
    end: int

    def entries(self) -> Iterator[JournalEntry]:
        """The window's entries, in journal order."""
        if self.reader is None:
            return iter(())
        return self.reader.entries(after=self.start, until=self.end)


WindowT = t.TypeVar("WindowT", bound=EventWindow)

_EXTENTS: weakref.WeakKeyDictionary[TapHrData, dict[str, tuple[JournalReader | None, int]]] = (
    weakref.WeakKeyDictionary()
)
_WINDOWS: weakref.WeakKeyDictionary[TapHrData, dict[str, EventWindow]] = weakref.WeakKeyDictionary()


def journal_extent(tap: TapHrData, vendor: str) -> tuple[JournalReader | None, int]:
    """``vendor``'s journal and where this run reads it up to (fixed when first asked, then shared).

    None for the reader when the storage holds no journal a run could read (not local).
    """
    extents = _EXTENTS.setdefault(tap, {})
    known = extents.get(vendor)
    if known is not None:
        return known
    try:
        reader: JournalReader | None = JournalReader(journal_path(tap.storage, vendor), tap.logger)
    except JournalError as exc:
        tap.logger.warning("%s: no webhook events read: %s", vendor, exc)
        reader = None
    known = (reader, reader.complete_end() if reader is not None else 0)
    extents[vendor] = known
    return known


def check_bookmark(stream: str, value: object) -> int | None:
    """A journal position bookmark of ``stream`` (a whole number 0 or more), or None; StateError otherwise."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        msg = (
            f"state: bookmarks.{stream}.replication_key_value must be a journal position (an integer, "
            f"0 or more), found {shown(value)}"
        )
        raise StateError(msg)
    return value


def journal_window(tap: TapHrData, vendor: str, stream: str, window_type: type[WindowT]) -> WindowT:
    """The window of ``vendor``'s journal the run of ``tap`` reads for ``stream`` (the same for every caller).

    It starts at the stream's bookmark in the state the run started from, and ends at the
    run's :func:`journal_extent`.
    """
    windows = _WINDOWS.setdefault(tap, {})
    window = windows.get(vendor)
    if window is not None:
        return t.cast("WindowT", window)
    reader, end = journal_extent(tap, vendor)
    state = (tap.state.get("bookmarks") or {}).get(stream) or {}
    bookmark = None
    if state.get("replication_key") in (None, REPLICATION_KEY):
        bookmark = check_bookmark(stream, state.get("replication_key_value"))
    start = bookmark or 0
    if reader is not None and not reader.at_line_start(start):
        msg = (
            f"{vendor} stream '{stream}': the bookmark {start} is not a position of the journal "
            f"{reader.path} (was it replaced or cut?): clear this stream's bookmark (or run with --full-refresh) "
            "to read the journal from its start; its events keep their keys, so a target stores them once"
        )
        raise StateError(msg)
    made = window_type(reader, start, end)
    windows[vendor] = made
    return made


def entry_body(entry: JournalEntry) -> dict[str, t.Any]:
    """The event object of a journal entry ({} when the line holds none)."""
    given = entry.fields.get("body")
    return given if isinstance(given, dict) else {}


class JournalEventsStream(VendorStream):
    """A vendor's journalled webhook events (see the module docstring).

    A subclass names its ``vendor`` (the journal's folder), its schema and
    ``column_sources``, and adds its own typed columns in :meth:`event_columns`; every
    record also has ``event_key``, ``journal_position``, ``received_at``, ``event`` and
    the whole event object as ``raw``.
    """

    #: The receiver's route and journal folder: ``webhooks/{vendor}/events.jsonl``.
    vendor: t.ClassVar[str]
    #: The window type of the vendor (Talentsoft's also knows the ids its events name).
    window_type: t.ClassVar[type[EventWindow]] = EventWindow
    primary_keys = ("event_key",)
    replication_key = REPLICATION_KEY
    is_sorted = True

    @classmethod
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """A journal position bookmark is a whole number 0 or more."""
        if stream_state.get("replication_key") in (None, cls.replication_key):
            name = getattr(cls, "name")  # noqa: B009  # a class attribute of each concrete stream (mypy: instance-only)
            check_bookmark(str(name), stream_state.get("replication_key_value"))

    def window(self) -> EventWindow:
        """The window of the vendor's journal this run reads."""
        return journal_window(self._tap, self.vendor, self.name, self.window_type)

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The entries of this run's window of the journal, in journal order."""
        self.check_state(self.stream_state)
        for entry in self.window().entries():
            self.stats.add(bytes=entry.position - entry.start)
            yield self.event_record(entry)

    @classmethod
    def event_record(cls, entry: JournalEntry) -> dict[str, t.Any]:
        """The record of one journal entry."""
        fields = entry.fields
        body = entry_body(entry)
        event = str(fields.get("event") or "")
        return {
            "event_key": fields["event_key"],
            "journal_position": entry.position,
            "received_at": text(fields.get("received_at")),
            "event": event,
            **cls.event_columns(event, body),
            "raw": body,
        }

    @classmethod
    def event_columns(cls, event: str, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """The vendor's own typed columns of one event (none here)."""
        return {}
