"""The framed stream of the Talentsoft exports: ``[uint32 LE length][zip bytes]`` repeated.

The reader is linear in the body size and holds at most one frame plus one network
chunk: each frame is filled into a buffer of its announced size through a memoryview,
and the few bytes left over from a chunk are carried to the next frame. (The vendor's
Python sample re-slices a growing ``bytes`` buffer for every chunk, which is quadratic in
the frame size.) A frame longer than the configured maximum, or a body that ends inside
a frame, is an error, never a silent end of data.
"""

from __future__ import annotations

import typing as t
import zipfile

from singer_sdk.exceptions import FatalAPIError

from tap_hrdata.http import BrokenBodyError

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

HEADER_BYTES = 4
ZIP_READ_CHUNK_BYTES = 1 << 20


class FrameTooLargeError(ValueError):
    """A frame announces more bytes than ``max_frame_bytes``: refused before allocating."""


class TruncatedBodyError(BrokenBodyError):
    """The body ended inside a frame (or inside a frame's length prefix)."""


class BadFrameError(FatalAPIError):
    """A frame whose content cannot be read safely (not a zip, a bomb, bad JSON ...)."""


def iter_frames(chunks: Iterable[bytes], max_frame_bytes: int) -> Iterator[bytearray]:
    """Yield each frame's payload from an iterable of network chunks of any sizes."""
    reader = _ExactReader(iter(chunks))
    frames = 0
    while True:
        header = reader.take(HEADER_BYTES)
        if not header:
            return
        if len(header) < HEADER_BYTES:
            msg = f"body ended inside the length prefix of frame {frames + 1}"
            raise TruncatedBodyError(msg)
        length = int.from_bytes(header, "little")
        if length > max_frame_bytes:
            msg = f"frame {frames + 1} announces {length} bytes, more than max_frame_bytes ({max_frame_bytes})"
            raise FrameTooLargeError(msg)
        frame = reader.take(length)
        if len(frame) < length:
            msg = f"body ended inside frame {frames + 1} ({len(frame)} of {length} bytes)"
            raise TruncatedBodyError(msg)
        frames += 1
        yield frame


class _ExactReader:
    """Exact-size reads over a chunk iterator, copying each byte once."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self._chunk = memoryview(b"")
        self._pos = 0

    def take(self, size: int) -> bytearray:
        """Exactly ``size`` bytes, or fewer only when the body ends."""
        buffer = bytearray(size)
        filled = 0
        while filled < size:
            available = len(self._chunk) - self._pos
            if available == 0:
                chunk = next(self._source, None)
                if chunk is None:
                    del buffer[filled:]
                    break
                self._chunk, self._pos = memoryview(chunk), 0
                continue
            step = min(available, size - filled)
            buffer[filled : filled + step] = self._chunk[self._pos : self._pos + step]
            filled += step
            self._pos += step
        return buffer


def iter_zip_entry(archive: zipfile.ZipFile, name: str, limit: int, where: str) -> Iterator[bytes]:
    """An entry's bytes in chunks, looked up by exact name: an entry name is never a path.

    An entry whose declared or actual uncompressed size exceeds ``limit`` is refused
    (a zip bomb), and reading stops at ``limit + 1`` bytes whatever the header says.
    """
    try:
        info = archive.getinfo(name)
    except KeyError:
        msg = f"{where}: the zip has no entry {name!r}"
        raise BadFrameError(msg) from None
    if info.file_size > limit:
        msg = f"{where}: entry {name!r} declares {info.file_size} bytes, more than {limit}; refused as a zip bomb"
        raise BadFrameError(msg)
    taken = 0
    try:
        with archive.open(info) as entry:
            while chunk := entry.read(ZIP_READ_CHUNK_BYTES):
                taken += len(chunk)
                if taken > limit:
                    msg = f"{where}: entry {name!r} inflates past {limit} bytes; refused as a zip bomb"
                    raise BadFrameError(msg)
                yield chunk
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        msg = f"{where}: entry {name!r} is corrupt ({exc})"
        raise BadFrameError(msg) from exc
