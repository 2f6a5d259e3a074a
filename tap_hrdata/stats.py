"""What a stream moved that the SDK does not count: bytes and files, with progress lines.

The SDK counts records (its record counter) and the source's client counts API calls and
retries; these are the rest of the end-of-run summary. A long download shows how far
it got every :attr:`StreamStats.PROGRESS_SECONDS`, the way Meltano users read progress.
"""

from __future__ import annotations

import time
import typing as t

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable


class StreamStats:
    """Bytes read (exports, pages) or stored (files), and files completed, of one stream."""

    PROGRESS_SECONDS = 30.0

    def __init__(self, stream: str, logger: logging.Logger, records: Callable[[], int]) -> None:
        self.stream = stream
        self.logger = logger
        self._records = records  # the SDK's count, for the progress line
        self.bytes = 0
        self.files = 0
        self._last_progress = time.monotonic()

    def add(self, *, bytes: int = 0, files: int = 0) -> None:  # the natural name
        """Count what moved, and log a progress line when the last one is old enough."""
        self.bytes += bytes
        self.files += files
        now = time.monotonic()
        if now - self._last_progress >= self.PROGRESS_SECONDS:
            self._last_progress = now
            self.logger.info(
                "Progress of stream '%s': %d records, %d files, %.1f MB so far",
                self.stream,
                self._records(),
                self.files,
                self.bytes / 1e6,
            )
