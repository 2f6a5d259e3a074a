"""The base of every stream: the SDK's ``Stream``, its source's client, and what it cost.

Streams of this tap are not REST pages the SDK could fetch by itself (framed exports,
ranged file downloads, a paid asynchronous request, pages whose errors hide in their
bodies), so each derives from the SDK's plain ``Stream``, as the SDK's cookiecutter does
for "Other" sources, and asks its source's :class:`~tap_hrdata.http.client.VendorClient`
for every byte. Records are counted by the SDK's own record counter, API calls and
retries by the client, bytes and files by :class:`~tap_hrdata.stats.StreamStats`; the
summary line at the end of the run puts the three together.
"""

from __future__ import annotations

import abc
import math
import typing as t
from functools import cached_property

import singer_sdk.singerlib as singer
from singer_sdk import Stream, metrics
from singer_sdk.exceptions import EmptySchemaTypeError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import (
    _is_exclusive_boolean_type,
    conform_record_data_types,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_hrdata.privacy import Redactor, StreamRedaction
from tap_hrdata.selection import MemoSelectionMask
from tap_hrdata.stats import StreamStats
from tap_hrdata.storage import StorageError

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.singerlib.catalog import SelectionMask

    from tap_hrdata.http.client import VendorClient
    from tap_hrdata.tap import TapHrData

#: For each typed column, the vendor fields (paths inside ``raw``) it is read from.
ColumnSources: t.TypeAlias = "Mapping[str, tuple[tuple[str, ...], ...]]"

#: Values the SDK's type conformance returns as they are, whatever the (non-boolean) schema.
_KEPT_AS_IS = frozenset({str, int, bool, type(None)})


class Conformance:
    """The SDK's type conformance of one schema, with a fast path for records it would leave as they are.

    The SDK rebuilds every record, calling a conversion per property that, for the values
    the record builders make (text, integers, booleans, finite numbers, ``raw`` objects),
    returns the value unchanged. This checks that every property of a record is such a
    value for its schema (a type test per property) and then only copies the record; any
    other record (a datetime, a non-finite float, a nested object or list the SDK
    conforms, a non-boolean in a boolean column, a property the schema lacks) goes through
    the SDK's own function, so what is written is the same either way. The rules follow
    ``singer_sdk.helpers._typing._conform_record_data_types`` (singer-sdk 0.54).
    """

    def __init__(self, schema: dict[str, t.Any], level: TypeConformanceLevel) -> None:
        self.schema = schema
        self.level = level
        recursive = level == TypeConformanceLevel.RECURSIVE
        properties: dict[str, dict[str, t.Any]] = schema.get("properties") or {}
        booleans, lists, objects, unread = set(), set(), set(), set()
        for name, definition in properties.items():
            try:
                if _is_exclusive_boolean_type(definition):
                    booleans.add(name)
                if is_uniform_list(definition) and recursive:  # asked of a list value at any level
                    lists.add(name)
                if is_object_type(definition) and "properties" in definition and recursive:
                    objects.add(name)
            except EmptySchemaTypeError:  # the SDK refuses some values of it: let it
                unread.add(name)
        #: The properties the fast path may pass (not those whose schema the SDK cannot read).
        self.names = frozenset(properties) - unread
        #: Exclusive booleans: any value but a bool or None is converted.
        self.booleans = frozenset(booleans)
        #: Uniform arrays and objects with properties: a list (a dict) value is conformed inside.
        self.lists = frozenset(lists)
        self.objects = frozenset(objects)

    def unchanged(self, record: dict[str, t.Any]) -> bool:
        """Whether the SDK's conformance would return ``record`` as it is (in a new dict)."""
        names, booleans = self.names, self.booleans
        for name, value in record.items():
            if name not in names:
                return False  # not in the schema (the SDK drops it with a warning), or a schema it cannot read
            cls = value.__class__
            if cls in _KEPT_AS_IS:
                if name in booleans and cls is not bool and value is not None:
                    return False
            elif cls is float:
                if name in booleans or not math.isfinite(value):
                    return False
            elif cls is dict:
                if name in booleans or name in self.objects:
                    return False
            elif cls is list:
                if name in booleans or name in self.lists:
                    return False
            else:
                return False
        return True

    def conform(self, stream_name: str, record: dict[str, t.Any], logger: t.Any) -> dict[str, t.Any]:  # a Logger
        """The record as the SDK's ``conform_record_data_types`` returns it."""
        if self.level == TypeConformanceLevel.NONE:
            return record
        if self.unchanged(record):
            return dict(record)
        return conform_record_data_types(
            stream_name=stream_name, record=record, schema=self.schema, level=self.level, logger=logger
        )


class RecordCounter(metrics.Counter):
    """The SDK's record counter (its periodic metric lines), also keeping the run's total."""

    def __init__(self, stream: str, *, on_increment: Callable[[int], None], log_interval: float) -> None:
        super().__init__(metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: stream}, log_interval=log_interval)
        self._on_increment = on_increment

    @override
    def increment(self, value: int = 1) -> None:
        """Count ``value`` records written."""
        self._on_increment(value)
        super().increment(value)


class VendorStream(Stream):
    """Base of every stream of the tap."""

    _tap: TapHrData
    #: Which vendor fields each typed column reads: what ``redact`` follows from a field
    #: inside ``raw`` to its columns (and what the contract tests check the builders by).
    column_sources: t.ClassVar[ColumnSources] = {}

    def __init__(self, tap: TapHrData) -> None:
        super().__init__(tap=tap)
        #: Records the SDK wrote for this stream in this run.
        self.records_written = 0
        self.stats = StreamStats(self.name, self.logger, lambda: self.records_written)
        self._memo_mask: tuple[SelectionMask, MemoSelectionMask] | None = None
        self._conformance: Conformance | None = None

    @classmethod
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """Refuse a stream state this stream cannot trust, with a StateError naming the path.

        Called by the tap when it loads the state, before any request. Streams with
        bookmarks override it (a corrupt, foreign or future bookmark); this one trusts any.
        """

    @property
    @abc.abstractmethod
    def client(self) -> VendorClient:
        """The HTTP client of the stream's source (one per source and run)."""

    @property
    def settings(self) -> dict[str, t.Any]:
        """The settings of the stream's source, defaults applied."""
        return self.client.settings

    @property
    @override
    def mask(self) -> SelectionMask:
        """The SDK's selection mask, as a :class:`MemoSelectionMask` (same answers, faster)."""
        sdk_mask = super().mask
        if self._memo_mask is None or self._memo_mask[0] is not sdk_mask:
            self._memo_mask = (sdk_mask, MemoSelectionMask(sdk_mask))
        return self._memo_mask[1]

    @override
    def _generate_record_messages(self, record: Record) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's RECORD messages of ``record``, its two per-record passes made cheap.

        As the SDK's own (``Stream._generate_record_messages``, singer-sdk 0.54): deselected
        properties removed, types conformed to the schema, then each stream map. The
        selection pass is skipped when the catalog selects every property (it would remove
        nothing), and the conformance takes :class:`Conformance`'s fast path; the messages
        are the same.
        """
        schema = self.effective_schema
        mask = self.mask
        if not (isinstance(mask, MemoSelectionMask) and mask.selects_everything):
            pop_deselected_record_properties(record, self.schema, mask)
        conformance = self._conformance
        if conformance is None or conformance.schema is not schema or conformance.level != self.TYPE_CONFORMANCE_LEVEL:
            conformance = self._conformance = Conformance(schema, self.TYPE_CONFORMANCE_LEVEL)
        record = conformance.conform(self.name, record, self.logger)
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:  # not filtered out
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    @cached_property
    def redactor(self) -> Redactor | None:
        """The stream's ``redact`` setting, ready to apply; None when it redacts nothing."""
        config = self._tap.config
        paths = (config.get("redact") or {}).get(self.name)
        if not paths:
            return None
        redaction = StreamRedaction.of(paths, self.column_sources)
        return Redactor(redaction, config.get("redact_mode") or "hash", config.get("redact_salt"))

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Redact personal data (the ``redact`` setting) before the record leaves the tap.

        Here, before stream maps and the RECORD message, so neither a typed column nor a
        field inside ``raw`` carries a redacted value out.
        """
        redactor = self.redactor
        return row if redactor is None else redactor.apply(row)

    @override
    def get_record_counter(
        self, *, endpoint: str | None = None, log_interval: float = metrics.DEFAULT_LOG_INTERVAL
    ) -> metrics.Counter:
        """The SDK's record counter, adding to :attr:`records_written` as it counts."""
        counter = RecordCounter(self.name, on_increment=self._count_records, log_interval=log_interval)
        if endpoint:
            counter.tags[metrics.Tag.ENDPOINT] = endpoint
        return counter

    def _count_records(self, value: int) -> None:
        self.records_written += value

    def emit_state(self) -> None:
        """Write a STATE message now, through the SDK's state writer.

        The SDK writes state every ``STATE_MSG_FREQUENCY`` records and at the end; a paid
        request's id, or a file just stored, must not wait for that.
        """
        self._tap.state_writer.write_state(self.tap_state)

    def summary(self, outcome: str = "") -> str:
        """The end-of-stream line: records, files, bytes, API calls, retries and time taken."""
        return (
            f"Summary of stream '{self.name}'{outcome}: {self.records_written} records, {self.stats.files} files, "
            f"{self.stats.bytes} bytes, {self.client.calls[self.name]} API calls, "
            f"{self.client.retries[self.name]} retries, {self.stats.elapsed:.1f}s"
        )

    @property
    def moved(self) -> bool:
        """Whether the stream did anything this run (a summary line is worth printing)."""
        return bool(self.records_written or self.stats.files or self.client.calls[self.name])

    @t.final
    @override
    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The stream's :meth:`records`; when they fail, every stream's summary first.

        The SDK prints summaries once all streams synced; after a failure a person still
        needs to know what was done before it (and what the target may have committed).
        A storage failure (a full disk) names its key and ids; here, once for every
        stream, it is given the stream's name too.
        """
        try:
            yield from self.records(context)
        except StorageError as exc:
            self._tap.log_summaries(failed=self)
            if exc.stream is not None:  # a child stream's, already named
                raise
            raise exc.in_stream(self.client.where(self.name)) from exc
        except Exception:
            self._tap.log_summaries(failed=self)
            raise

    @abc.abstractmethod
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The stream's records for ``context`` (what the SDK's ``get_records`` asks for)."""

    @override
    def log_sync_costs(self) -> None:
        """Called by the SDK for every stream once all have synced: log the summary line."""
        super().log_sync_costs()
        if self.moved:
            self.logger.info(self.summary())
