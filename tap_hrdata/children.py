"""Child streams fed from the parent's current item, without the SDK's per-parent noise.

The SDK syncs a child stream once per parent record, and each of those syncs writes a
SCHEMA message, logs "Beginning sync", logs record-count and duration metrics, and may
write ACTIVATE_VERSION. For a child fed from the frame its parent just read (a
candidate's applications and attachments) that means thousands of SCHEMA messages, and
targets built on pipelinewise flush every table at each one: slow, and seen to lose
rows in target-duckdb. :class:`InlineChildStream` keeps the SDK's ordering guarantee
(children of a parent record are emitted before the parent's record and bookmark) and
removes the per-parent repetition: one SCHEMA per run, one run-wide record counter,
no per-parent timers or log lines, never ACTIVATE_VERSION (a child only ever sees the
records of the parents read in this run, so "activating" them would delete the rest).
"""

from __future__ import annotations

import logging
import typing as t

from singer_sdk import metrics
from typing_extensions import override

from tap_hrdata.streams import RecordCounter, VendorStream

if t.TYPE_CHECKING:
    from types import TracebackType


class OutlivesTheParentSync:
    """A meter whose ``with`` block (one per parent record) ends without logging anything."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """Log nothing: the meter is not done when one parent's children are."""


class RunWideCounter(OutlivesTheParentSync, RecordCounter):
    """A record counter for the whole run: logs at its interval, and at :meth:`exit` (end of run)."""


class SilentTimer(OutlivesTheParentSync, metrics.Timer):
    """A per-parent sync timer that logs nothing (the parent's timer covers the time)."""


class InlineChildStream(VendorStream):
    """A child stream whose records come from the parent's current item (no request)."""

    state_partitioning_keys: t.ClassVar[list[str]] = []  # one state, not one per parent

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_written = False
        self._run_counter: RunWideCounter | None = None

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Never: a child only sees this run's parents."""
        return False

    @override
    def _write_schema_message(self) -> None:
        # An SDK internal, overridden because the SDK gives no other way: its final
        # `sync` writes SCHEMA at every per-parent sync. Tested by
        # tests/test_children.py::test_a_child_writes_its_schema_once_per_run.
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    @override
    def get_record_counter(
        self, *, endpoint: str | None = None, log_interval: float = metrics.DEFAULT_LOG_INTERVAL
    ) -> metrics.Counter:
        """One counter for the run, instead of one metric line per parent record."""
        if self._run_counter is None:
            self._run_counter = RunWideCounter(self.name, on_increment=self._count_records, log_interval=log_interval)
            if endpoint:
                self._run_counter.tags[metrics.Tag.ENDPOINT] = endpoint
        return self._run_counter

    @override
    def get_sync_timer(self) -> metrics.Timer:
        """No per-parent duration lines."""
        return SilentTimer(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: self.name})

    @override
    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """Per-parent 'Beginning sync' lines go to DEBUG."""
        if message.startswith("Beginning"):
            level = min(level, logging.DEBUG)
        super().log(message, *args, level=level, **kwargs)

    @override
    def log_sync_costs(self) -> None:
        """Once every stream is done: the run's record count, then the summary."""
        if self._run_counter is not None:
            self._run_counter.exit()
            self._run_counter = None
        super().log_sync_costs()
