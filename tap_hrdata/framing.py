"""The framed stream of the Talentsoft exports: ``[uint32 LE length][zip bytes]`` repeated.

The reader is linear in the body size and holds at most one frame plus one network
chunk: each frame is filled into a buffer of its announced size through a memoryview,
and the few bytes left over from a chunk are carried to the next frame. (The vendor's
Python sample re-slices a growing ``bytes`` buffer for every chunk, which is quadratic in
the frame size.) A frame longer than the configured maximum, or a body that ends inside
a frame, is an error, never a silent end of data.

:class:`FrameArchive` reads a frame's zip in place: the central directory of a plain zip
(no comment, no zip64, no extra fields, stored or deflated entries: what the exports
send) is read here, as :mod:`zipfile` reads it, and any other zip is given to
:mod:`zipfile`; stored or deflated entries are then read straight from the frame's buffer
(no copy of the frame, no copy of a stored entry), their size and CRC-32 checked as
:mod:`zipfile` checks them. Anything else (encryption, other methods) goes through
:mod:`zipfile` itself.
"""

from __future__ import annotations

import io
import struct
import sys
import typing as t
import zipfile
import zlib

from singer_sdk.exceptions import FatalAPIError
from typing_extensions import override

from tap_hrdata.http.retry import BrokenBodyError
from tap_hrdata.inflate import RAW_DEFLATE, InflateError, inflate

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

HEADER_BYTES = 4
ZIP_READ_CHUNK_BYTES = 1 << 20
#: Frames up to this size are given to zipfile as a copy (``io.BytesIO``, C speed); larger
#: ones through a view (:class:`_FrameFile`), so a frame is held once, not twice.
COPY_FRAME_MAX_BYTES = 1 << 16
#: A zip's local file header (as zipfile's ``structFileHeader``): signature, versions, flags,
#: method, time, date, CRC-32, sizes, then the lengths of the name (10) and extra field (11).
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_NAME_LENGTH, _EXTRA_LENGTH = 10, 11
_IN_PLACE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_ENCRYPTED_OR_PATCHED = 0x1 | 0x20 | 0x40  # encrypted, compressed patch data, strong encryption
_UTF8_NAME = 0x800
#: The end of central directory record (zipfile's ``structEndArchive``) and the zip64 locator's signature.
_END_RECORD = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_LOCATOR_BYTES = 20
#: A central directory entry (zipfile's ``structCentralDir``): signature, versions, flags, method,
#: time, date, CRC-32, sizes, lengths of name, extra field and comment, disk, attributes, offset.
_CENTRAL_ENTRY = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_MAX_EXTRACT_VERSION = 63  # zipfile's MAX_EXTRACT_VERSION


class FrameTooLargeError(ValueError):
    """A frame announces more bytes than ``max_frame_bytes``: refused before allocating."""


class TruncatedBodyError(BrokenBodyError):
    """The body ended inside a frame (or inside a frame's length prefix)."""


class BadFrameError(FatalAPIError):
    """A frame whose content cannot be read safely (not a zip, a bomb, bad JSON ...)."""


def iter_frames(chunks: Iterable[bytes], max_frame_bytes: int) -> Iterator[memoryview]:
    """Yield each frame's payload from an iterable of network chunks of any sizes.

    A frame is a view of the network chunk when it lies within one, else of a buffer that
    is reused for a later frame once nothing holds the view (or a view derived from it)
    any more: a frame kept is never overwritten.
    """
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
        frame = reader.take(length, reuse=True)
        if len(frame) < length:
            msg = f"body ended inside frame {frames + 1} ({len(frame)} of {length} bytes)"
            raise TruncatedBodyError(msg)
        frames += 1
        yield frame
        del frame  # the consumer may have let it go: do not hold it while the next one fills


class _ExactReader:
    """Exact-size reads over a chunk iterator, copying each byte once."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self._chunk = memoryview(b"")
        self._pos = 0
        self._buffer = bytearray()

    def _reusable(self, size: int) -> bytearray:
        """The frame buffer, or a new one when it is too small or still held.

        Every view handed out holds a reference to the buffer until the last view (or
        slice of it) is gone, so two references (the attribute and getrefcount's argument)
        mean nobody holds it. Reusing it spares the allocation, its zero-filling and its
        page faults: a tenth of the time of a run of large frames.
        """
        if len(self._buffer) < size or sys.getrefcount(self._buffer) > 2:
            self._buffer = bytearray()  # let the old one go before the new one is allocated
            self._buffer = bytearray(size)
        return self._buffer

    def take(self, size: int, *, reuse: bool = False) -> memoryview:
        """Exactly ``size`` bytes, or fewer only when the body ends."""
        if len(self._chunk) - self._pos >= size:  # all in the current chunk: a view of it, no copy
            self._pos += size
            return self._chunk[self._pos - size : self._pos]
        buffer = memoryview(self._reusable(size) if reuse else bytearray(size))[:size]
        filled = 0
        while filled < size:
            available = len(self._chunk) - self._pos
            if available == 0:
                chunk = next(self._source, None)
                if chunk is None:
                    buffer = buffer[:filled]
                    break
                self._chunk, self._pos = memoryview(chunk), 0
                continue
            step = min(available, size - filled)
            buffer[filled : filled + step] = self._chunk[self._pos : self._pos + step]
            filled += step
            self._pos += step
        return buffer


class _FrameFile(io.RawIOBase):
    """A read-only, seekable file over a frame's buffer, for :class:`zipfile.ZipFile`.

    ``io.BytesIO(bytearray)`` copies the whole frame; this only copies what is read.
    """

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    @override
    def readable(self) -> bool:
        return True

    @override
    def seekable(self) -> bool:
        return True

    @override
    def tell(self) -> int:
        return self._pos

    @override
    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            msg = "negative seek position"
            raise ValueError(msg)
        self._pos = base + offset
        return self._pos

    @override
    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        data = self._view[self._pos : end].tobytes() if end > self._pos else b""
        self._pos = max(self._pos, end)
        return data

    @override
    def readinto(self, buffer: t.Any) -> int:  # any writable buffer
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class FrameArchive:
    """A frame's zip archive, read in place.

    Entries are looked up by exact name (an entry name is never a path). The zip-bomb
    check is one rule, in :meth:`_checked`: an entry may declare at most ``limit`` bytes,
    and may inflate to no more than it declared, so no entry ever yields more than
    ``limit``. A corrupt entry (bad local header, size or CRC-32) is an error. ``where``
    names the frame in every message. Raises :class:`zipfile.BadZipFile` when the frame is
    not a zip.
    """

    def __init__(self, frame: bytes | bytearray | memoryview, limit: int, where: str) -> None:
        self._view = memoryview(frame)
        self.limit = limit
        self.where = where
        #: The zip's entries by name (``getinfo``): read here for a plain zip, else by :mod:`zipfile`.
        self.zip: zipfile.ZipFile | CentralDirectory
        directory = CentralDirectory.read(self._view)
        if directory is not None:
            self.zip = directory
        else:
            file = io.BytesIO(frame) if len(frame) <= COPY_FRAME_MAX_BYTES else _FrameFile(self._view)
            self.zip = zipfile.ZipFile(file)

    def read(self, name: str, where: str | None = None) -> bytes:
        """An entry's bytes, whole (a JSON document).

        A small entry read in place is inflated in one call and returned when its size,
        CRC-32 and end of stream check out; anything else (or any doubt) goes through
        :meth:`iter_entry`, whose checks raise the errors. Same bytes, fewer steps for the
        many small documents of an export.
        """
        info = self.zip.NameToInfo.get(name) if isinstance(self.zip, zipfile.ZipFile) else self.zip.lookup(name)
        if info is not None and info.file_size <= min(self.limit, ZIP_READ_CHUNK_BYTES) and _readable_in_place(info):
            data = self._data(info, where or self.where)
            whole: bytes | None = None
            if info.compress_type == zipfile.ZIP_STORED:
                whole = bytes(data)
            else:
                inflater = zlib.decompressobj(RAW_DEFLATE)
                try:
                    whole = inflater.decompress(data, info.file_size + 1)
                except zlib.error:
                    whole = None
                if not inflater.eof:
                    whole = None
            if whole is not None and len(whole) == info.file_size and zlib.crc32(whole) == info.CRC:
                return whole
        return b"".join(self.iter_entry(name, where))

    def iter_entry(self, name: str, where: str | None = None) -> Iterator[bytes | memoryview]:
        """An entry's bytes in pieces of at most 1 MiB (views of the frame when stored)."""
        where = where or self.where
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            msg = f"{where}: the zip has no entry {name!r}"
            raise BadFrameError(msg) from None
        if info.file_size > self.limit:
            msg = (
                f"{where}: entry {name!r} declares {info.file_size} bytes, more than {self.limit}; "
                "refused as a zip bomb"
            )
            raise BadFrameError(msg)
        pieces = self._in_place(info, where) if _readable_in_place(info) else self._through_zipfile(info, where)
        return self._checked(info, pieces, where)

    @staticmethod
    def _checked(
        info: zipfile.ZipInfo, pieces: Iterator[bytes | memoryview], where: str
    ) -> Iterator[bytes | memoryview]:
        """The pieces of an entry, stopped past its declared size, its size and CRC-32 checked."""
        name = info.orig_filename
        crc = 0
        taken = 0
        for piece in pieces:
            taken += len(piece)
            if taken > info.file_size:
                msg = (
                    f"{where}: entry {name!r} inflates past its declared {info.file_size} bytes; refused as a zip bomb"
                )
                raise BadFrameError(msg)
            crc = zlib.crc32(piece, crc)
            yield piece
        if taken != info.file_size or crc != info.CRC:
            msg = f"{where}: entry {name!r} is corrupt (bad size or CRC-32)"
            raise BadFrameError(msg)

    def _through_zipfile(self, info: zipfile.ZipInfo, where: str) -> Iterator[bytes]:
        """Entries zipfile must decode itself (other methods, encryption): its reader, in pieces."""
        archive = self.zip
        if not isinstance(archive, zipfile.ZipFile):  # never: a CentralDirectory holds only entries read in place
            msg = f"{where}: entry {info.orig_filename!r} cannot be read in place"
            raise BadFrameError(msg)
        try:
            with archive.open(info) as entry:
                while chunk := entry.read(ZIP_READ_CHUNK_BYTES):
                    yield chunk
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            msg = f"{where}: entry {info.orig_filename!r} is corrupt ({exc})"
            raise BadFrameError(msg) from exc

    def _in_place(self, info: zipfile.ZipInfo, where: str) -> Iterator[bytes | memoryview]:
        """A stored or deflated entry read straight from the frame: no copy of the frame."""
        data = self._data(info, where)
        if info.compress_type == zipfile.ZIP_STORED:
            yield from (data[pos : pos + ZIP_READ_CHUNK_BYTES] for pos in range(0, len(data), ZIP_READ_CHUNK_BYTES))
            return
        try:
            yield from inflate((data,), wbits=RAW_DEFLATE, step=ZIP_READ_CHUNK_BYTES)
        except InflateError as exc:
            msg = f"{where}: entry {info.orig_filename!r} is corrupt ({exc})"
            raise BadFrameError(msg) from exc

    def _data(self, info: zipfile.ZipInfo, where: str) -> memoryview:
        """The bytes of an entry as stored in the frame, its local header checked."""
        name = info.orig_filename
        view = self._view
        header = view[info.header_offset : info.header_offset + _LOCAL_HEADER.size]
        fields = _LOCAL_HEADER.unpack(header) if len(header) == _LOCAL_HEADER.size else None
        if fields is None or fields[0] != _LOCAL_SIGNATURE:
            msg = f"{where}: entry {name!r} is corrupt (bad local file header)"
            raise BadFrameError(msg)
        name_start = info.header_offset + _LOCAL_HEADER.size
        name_length = fields[_NAME_LENGTH]
        start = name_start + name_length + fields[_EXTRA_LENGTH]
        local_name = bytes(view[name_start : name_start + name_length])
        encoding = "utf-8" if info.flag_bits & _UTF8_NAME else (getattr(self.zip, "metadata_encoding", None) or "cp437")
        if _entry_name(local_name, encoding, errors="replace") != name:
            msg = f"{where}: entry {name!r} is corrupt (its local header names another file)"
            raise BadFrameError(msg)
        data = view[start : start + info.compress_size]
        if len(data) != info.compress_size:
            msg = f"{where}: entry {name!r} is corrupt (it ends past the frame)"
            raise BadFrameError(msg)
        return data


def _entry_name(raw: bytes, encoding: str, errors: str = "strict") -> str:
    """An entry name decoded as zipfile decodes it; ASCII (the usual name) by the fast codec.

    UTF-8 and cp437 read ASCII bytes as ASCII does; cp437's codec is a slow table lookup.
    """
    if raw.isascii() and encoding in {"utf-8", "cp437"}:
        return raw.decode("ascii")
    return raw.decode(encoding, errors=errors)


def _readable_in_place(info: zipfile.ZipInfo) -> bool:
    return info.compress_type in _IN_PLACE_METHODS and not info.flag_bits & _ENCRYPTED_OR_PATCHED


class CentralDirectory:
    """The entries of a plain zip, read from its central directory as :mod:`zipfile` reads them.

    :mod:`zipfile` costs as much as everything else the tap does for a small export frame;
    the exports' zips are plain (no comment, no zip64, no extra fields, stored or deflated
    entries), and for those this reads the same fields into the same
    :class:`zipfile.ZipInfo` objects. :meth:`read` returns None for any other zip (or any
    doubt), which then goes to :mod:`zipfile`, with its own checks and errors.
    """

    metadata_encoding = None  # as a ZipFile opened without one: names are cp437 unless flagged UTF-8

    def __init__(self, entries: dict[str, zipfile.ZipInfo]) -> None:
        self._entries = entries

    def getinfo(self, name: str) -> zipfile.ZipInfo:
        """The entry named ``name`` (the last of that name, as zipfile); KeyError when there is none."""
        return self._entries[name]

    def lookup(self, name: str) -> zipfile.ZipInfo | None:
        """The entry named ``name``, or None."""
        return self._entries.get(name)

    def infolist(self) -> list[zipfile.ZipInfo]:
        """Every entry, in the central directory's order (names repeated once)."""
        return list(self._entries.values())

    @classmethod
    def read(cls, view: memoryview) -> CentralDirectory | None:
        """The directory of the plain zip in ``view``, or None when it is not one (zipfile decides then)."""
        size = len(view)
        end = size - _END_RECORD.size
        if end < _ZIP64_LOCATOR_BYTES:
            return None
        signature, _, _, _, _, directory_size, directory_offset, comment_length = _END_RECORD.unpack_from(view, end)
        if signature != _END_SIGNATURE or comment_length:
            return None
        if view[end - _ZIP64_LOCATOR_BYTES : end - _ZIP64_LOCATOR_BYTES + 4] == _ZIP64_LOCATOR_SIGNATURE:
            return None
        if directory_offset + directory_size != end:  # data before the zip, or a directory that does not fit
            return None
        entries: dict[str, zipfile.ZipInfo] = {}
        position = directory_offset
        while position < end:
            if position + _CENTRAL_ENTRY.size > end:
                return None
            fields = _CENTRAL_ENTRY.unpack_from(view, position)
            name_length, extra_length, comment_length = fields[12], fields[13], fields[14]
            flags, method, extract_version = fields[5], fields[6], fields[3]
            if (
                fields[0] != _CENTRAL_SIGNATURE
                or extra_length
                or extract_version > _MAX_EXTRACT_VERSION
                or method not in _IN_PLACE_METHODS
                or flags & _ENCRYPTED_OR_PATCHED
            ):
                return None
            name_start = position + _CENTRAL_ENTRY.size
            position = name_start + name_length + comment_length
            if position > end:
                return None
            raw_name = bytes(view[name_start : name_start + name_length])
            try:
                name = _entry_name(raw_name, "utf-8" if flags & _UTF8_NAME else "cp437")
            except UnicodeDecodeError:
                return None
            if "\x00" in name:
                return None  # zipfile cuts such names short: let it
            time, date = fields[7], fields[8]
            day = ((date >> 9) + 1980, (date >> 5) & 0xF, date & 0x1F)
            info = zipfile.ZipInfo(name, (*day, time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2))
            info.comment = bytes(view[name_start + name_length : position])
            (
                _,
                info.create_version,
                info.create_system,
                info.extract_version,
                info.reserved,
                info.flag_bits,
                info.compress_type,
                _,
                _,
                info.CRC,
                info.compress_size,
                info.file_size,
                _,
                _,
                _,
                info.volume,
                info.internal_attr,
                info.external_attr,
                info.header_offset,
            ) = fields
            entries[info.filename] = info
        if position != end:
            return None
        return cls(entries)
