"""What a stream moved that the SDK does not count: bytes and files, with progress lines.

The SDK counts records (its record counter) and the source's client counts API calls and
retries; these are the rest of the end-of-run summary. Every
:attr:`StreamStats.PROGRESS_SECONDS` a stream in progress logs how far it got, how fast,
and, when its source announced a total (Talentsoft's ``Content-Range``, HrFlow's
``meta.total``, YouServe's ``count``, the files of a Coresignal request), the percentage
done and an estimate of the time left.
"""

from __future__ import annotations

import threading
import time
import typing as t

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h07m``: short enough for a log line."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class StreamStats:
    """Bytes read (exports, pages) or stored (files), and files completed, of one stream."""

    PROGRESS_SECONDS = 30.0

    def __init__(self, stream: str, logger: logging.Logger, records: Callable[[], int]) -> None:
        self.stream = stream
        self.logger = logger
        self._records = records  # the SDK's count, for the progress line
        self.bytes = 0
        self.files = 0
        #: Totals the source announced for this run (records or files), when it did.
        self.expected_records: int | None = None
        self.expected_files: int | None = None
        self._started: float | None = None
        self._last_progress = 0.0
        self._lock = threading.Lock()  # workers add bytes and files too

    def start(self) -> None:
        """The stream begins to move (its first answer): rates count from here."""
        if self._started is None:
            self._started = self._last_progress = time.monotonic()

    def expect_more(self, *, records: int = 0, files: int = 0) -> None:
        """The source announced this many more records or files for this run.

        One export, one list, one request at a time: the percentage and the ETA count them.
        """
        self.start()
        if records:
            base = self.expected_records if self.expected_records is not None else self._records()
            self.expected_records = base + max(records, 0)
        if files:
            self.expected_files = (self.expected_files if self.expected_files is not None else self.files) + max(
                files, 0
            )

    def add(self, *, bytes: int = 0, files: int = 0) -> None:  # the natural name
        """Count what moved, and log a progress line when the last one is old enough (from any thread)."""
        self.start()
        now = time.monotonic()
        with self._lock:
            self.bytes += bytes
            self.files += files
            due = now - self._last_progress >= self.PROGRESS_SECONDS
            if due:
                self._last_progress = now
        if due:
            self.logger.info("Progress of stream '%s': %s", self.stream, self.progress(now))

    @property
    def elapsed(self) -> float:
        """Seconds since the stream began to move (0 before)."""
        return 0.0 if self._started is None else time.monotonic() - self._started

    def progress(self, now: float | None = None) -> str:
        """``1,200 of 8,000 records (15%), 3 files, 12.5 MB; 400 records/s, 4.1 MB/s; ETA 17s``."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - (self._started if self._started is not None else now), 1e-9)
        records = self._records()
        counted = f"{records:,}" + (f" of {self.expected_records:,}" if self.expected_records is not None else "")
        files = f"{self.files:,}" + (f" of {self.expected_files:,}" if self.expected_files is not None else "")
        done = self.fraction(records)
        line = f"{counted} records{f' ({done:.0%})' if done is not None else ''}, {files} files, "
        line += (
            f"{self.bytes / 1e6:,.1f} MB; {records / elapsed:,.0f} records/s, {self.bytes / 1e6 / elapsed:,.1f} MB/s"
        )
        if done is not None and 0 < done < 1:
            line += f"; ETA {duration(elapsed * (1 - done) / done)}"
        return line

    def fraction(self, records: int) -> float | None:
        """How much of the announced total is done (records first, else files); None when unknown."""
        if self.expected_records:
            return min(records / self.expected_records, 1.0)
        if self.expected_files:
            return min(self.files / self.expected_files, 1.0)
        return None
