"""The journal of webhook events: one append-only JSON Lines file per vendor, under ``files_storage_url``.

The receiver appends each accepted event as one line and calls ``fsync`` before it
answers 2xx, so an acknowledged event survives a crash of the process or of the machine.
The tap reads the journal (stream ``talentsoft_events``) from a byte position: the
position of an entry is where the line after it starts, so a bookmark is where the next
run resumes reading.

A crash in the middle of an append leaves a last line without its newline: the torn
line was never acknowledged. Readers stop before it (it may also be a line being
written right now); the next receiver to open the journal cuts it off before appending,
so a torn line never glues itself to the next event. One receiver at a time may append
to a journal (an exclusive ``flock``): a second one is refused at startup.

The journal needs a local file system (a local path, or a mounted volume that honours
``fsync`` and ``flock``): object stores (``s3://`` ...) have no append and no fsync.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import typing as t
from dataclasses import dataclass
from pathlib import Path

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterator, Sequence

    from tap_hrdata.storage import FileStorage

#: Where the journals live under the storage root: ``webhooks/{vendor}/events.jsonl``.
FOLDER = "webhooks"
FILE_NAME = "events.jsonl"
#: Version of the line format.
FORMAT = 1
#: Bytes read at a time while scanning the journal.
READ_BYTES = 1 << 16


class JournalError(OSError):
    """A journal that cannot be used: not local, held by another receiver, or refused by the disk."""


@dataclass(frozen=True)
class JournalEntry:
    """One journalled event."""

    #: Byte position where this entry's line starts, and where the next one starts (the bookmark).
    start: int
    position: int
    #: The line's fields: ``vendor``, ``event``, ``event_key``, ``received_at``, ``body`` ...
    fields: dict[str, t.Any]


def journal_path(storage: FileStorage, vendor: str) -> Path:
    """The journal file of ``vendor`` under ``storage``; a :class:`JournalError` when the storage is not local."""
    if not storage.local:
        msg = (
            f"the webhook journal needs a local files_storage_url (a path or a mounted volume), not "
            f"{storage.uri(storage.root)}: object stores have no append and no fsync"
        )
        raise JournalError(msg)
    return Path(storage.key_path(FOLDER, vendor, FILE_NAME))


def encode_line(fields: dict[str, t.Any]) -> bytes:
    """One journal line: compact JSON (no raw newline can occur inside it), then a newline."""
    return json.dumps({"v": FORMAT, **fields}, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


class JournalReader:
    """Reads complete lines of a journal, from a byte position (the tap's side: read-only)."""

    def __init__(self, path: Path, logger: logging.Logger | None = None) -> None:
        self.path = path
        self.logger = logger

    def size(self) -> int:
        """Bytes in the journal (0 when there is none yet)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def at_line_start(self, position: int) -> bool:
        """Whether ``position`` is 0 or just after a newline, within the journal."""
        if position == 0:
            return True
        if position > self.size():
            return False
        with self.path.open("rb") as handle:
            handle.seek(position - 1)
            return handle.read(1) == b"\n"

    def complete_end(self) -> int:
        """Where the complete lines end (the journal's size, less a line being written or torn)."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return 0
        with handle:
            end = handle.seek(0, 2)
            while end > 0:
                size = min(READ_BYTES, end)
                handle.seek(end - size)
                newline = handle.read(size).rfind(b"\n")
                if newline >= 0:
                    return end - size + newline + 1
                end -= size
            return 0

    def entries(self, after: int = 0, until: int | None = None) -> Iterator[JournalEntry]:
        """Every complete entry starting at byte ``after`` or later (and ending at ``until`` at most), in order.

        A last line without its newline (torn by a crash, or being written) is not read;
        a complete line that is not a journal entry (hand-edited, a disk fault) is skipped
        with a warning, never a reason to stop reading the ones after it.
        """
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(after)
            start = after
            pending = b""
            while chunk := handle.read(READ_BYTES):
                pending += chunk
                lines = pending.split(b"\n")
                pending = lines.pop()  # the part after the last newline: incomplete so far
                for line in lines:
                    position = start + len(line) + 1
                    if until is not None and position > until:
                        return
                    fields = self._decode(line, start)
                    if fields is not None:
                        yield JournalEntry(start=start, position=position, fields=fields)
                    start = position

    def _decode(self, line: bytes, start: int) -> dict[str, t.Any] | None:
        try:
            fields = json.loads(line)
        except ValueError:
            fields = None
        if isinstance(fields, dict) and fields.get("v") == FORMAT and isinstance(fields.get("event_key"), str):
            return fields
        if self.logger is not None and line.strip():
            self.logger.warning("webhook journal %s: the line at byte %d is not an entry; skipped", self.path, start)
        return None


class JournalWriter:
    """The receiver's side: exclusive, append-only, each append on disk (fsync) before it returns."""

    def __init__(self, path: Path, logger: logging.Logger) -> None:
        self.path = path
        self.logger = logger
        self._lock = threading.Lock()
        self._fd: int | None = None

    def open(self) -> JournalWriter:
        """Create the journal if needed, take its lock, and cut off a torn last line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                msg = f"webhook journal {self.path} is held by another receiver"
                raise JournalError(msg) from None
            self._repair(fd)
            if created:
                _fsync_dir(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _repair(self, fd: int) -> None:
        """Cut the journal after its last newline: what follows was never acknowledged."""
        size = os.fstat(fd).st_size
        end = size
        while end > 0:
            piece = os.pread(fd, min(READ_BYTES, end), end - min(READ_BYTES, end))
            newline = piece.rfind(b"\n")
            if newline >= 0:
                end = end - len(piece) + newline + 1
                break
            end -= len(piece)
        if end < size:
            self.logger.warning(
                "webhook journal %s: %d bytes of a torn last line (never acknowledged) cut off", self.path, size - end
            )
            os.ftruncate(fd, end)
            os.fsync(fd)

    def append(self, lines: Sequence[bytes]) -> int:
        """Write ``lines`` at the end in one write, and fsync; the position after them.

        Raises :class:`JournalError` when the disk refuses: the caller must then not
        acknowledge. A failed write is cut off again, so the journal stays whole.
        """
        data = b"".join(lines)
        with self._lock:
            fd = self._fd
            if fd is None:
                msg = f"webhook journal {self.path} is not open"
                raise JournalError(msg)
            before = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before)
                msg = f"webhook journal {self.path}: could not append ({exc.strerror or type(exc).__name__})"
                raise JournalError(msg) from exc
            return before + len(data)

    @property
    def is_open(self) -> bool:
        """Whether the journal takes appends."""
        return self._fd is not None

    def close(self) -> None:
        """Release the lock and the file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _fsync_dir(path: Path) -> None:
    """Make a new file's directory entry durable too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
