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

from tap_hrdata.http import BrokenBodyError

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

HEADER_BYTES = 4


class FrameTooLargeError(ValueError):
    """A frame announces more bytes than ``max_frame_bytes``: refused before allocating."""


class TruncatedBodyError(BrokenBodyError):
    """The body ended inside a frame (or inside a frame's length prefix)."""


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
