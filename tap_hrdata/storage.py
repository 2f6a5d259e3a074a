"""Where file bytes go: a local folder or any fsspec URL, written atomically.

Keys are built only from ids made safe by :func:`safe_segment` (hashed when too long for
a file name); a name that came from a server (a zip entry name, a file name) never
becomes a path. A write goes to a temporary name first and is moved into place when
complete, so a partial file never looks complete and a rerun simply rewrites the same
key. On object stores (s3://, gs:// ...) an object only appears when its upload
completes, so it is written in place. The sha256 and size are computed while the bytes
stream through. A run killed mid-write leaves its temporary file behind; the next
complete write of that key removes it. A write the storage refuses (a full disk) raises
:class:`StorageError` naming the key and the ids it is made of, and leaves nothing under
the key.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import glob
import hashlib
import re
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

if t.TYPE_CHECKING:
    from collections.abc import Iterable

_SAFE = re.compile(r"[A-Za-z0-9._-]+")
#: Longest segment kept as it is (bytes; a safe segment is ASCII): a file name may have 255
#: bytes (NAME_MAX of Linux, macOS and Windows), and a local write first goes to
#: ``<name>.part-<32 hex digits>``.
MAX_SEGMENT_BYTES = 255 - len(".part-") - 32
#: Marks a hashed segment; never found in one kept as it is (where ``~`` is ``%7E``).
HASH_MARK = "~"
#: Of a hashed segment: the start kept readable, before the mark and the 64 hex digits of a sha256.
HASHED_PREFIX_BYTES = MAX_SEGMENT_BYTES - len(HASH_MARK) - 64
#: Most characters of an id a message shows.
_SHOWN_ID_CHARS = 80


class UnsafeKeyError(ValueError):
    """An id that cannot be used as a storage key segment."""


class StorageError(OSError):
    """A write under ``files_storage_url`` that failed: the key, the ids it is made of, and why.

    The message is ``args[0]`` and ``str()`` alike: the SDK logs only ``args[0]`` of the error
    that stops a run, which for a full disk was ``28``. ``errno`` and ``strerror`` are the
    cause's; ``stream`` says which stream's message already starts with its name
    (:meth:`~tap_hrdata.streams.VendorStream.get_records` adds it, once).
    """

    def __init__(self, message: str, cause: OSError | None = None, stream: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.stream = stream
        if cause is not None:
            self.errno, self.strerror = cause.errno, cause.strerror

    def __str__(self) -> str:
        return str(self.args[0])

    def in_stream(self, stream: str) -> StorageError:
        """The same failure, its message starting with ``stream`` (``talentsoft stream 'attachments'``)."""
        return StorageError(f"{stream}: {self.args[0]}", self.cause, stream)


def safe_segment(value: object) -> str:
    """A storage key segment from an id: ``[A-Za-z0-9._-]`` kept, the rest %-encoded.

    ``.`` and ``..`` alone, and the empty string, are refused: they would walk the tree.
    A segment longer than :data:`MAX_SEGMENT_BYTES` once encoded (25 CJK characters, 9
    bytes each, are enough) would fail every write with "File name too long"; it becomes
    its first :data:`HASHED_PREFIX_BYTES` bytes (whole characters), ``~`` and the sha256
    of the whole encoded segment in hex. That is stable from run to run, unique (the
    encoding is one-to-one, and ``~`` never appears in a segment kept as it is), and
    leaves every shorter segment as it always was.
    """
    text = str(value)
    if text in {"", ".", ".."}:
        msg = f"refusing {text!r} as a storage key segment"
        raise UnsafeKeyError(msg)
    if _SAFE.fullmatch(text):
        if len(text) <= MAX_SEGMENT_BYTES:
            return text
        pieces = list(text)
    else:
        pieces = [ch if _SAFE.fullmatch(ch) else "".join(f"%{b:02X}" for b in ch.encode()) for ch in text]
    encoded = "".join(pieces)
    if len(encoded) <= MAX_SEGMENT_BYTES:
        return encoded
    kept, size = [], 0
    for piece in pieces:  # whole characters: the readable start never ends in half of one
        size += len(piece)
        if size > HASHED_PREFIX_BYTES:
            break
        kept.append(piece)
    return f"{''.join(kept)}{HASH_MARK}{hashlib.sha256(encoded.encode('ascii')).hexdigest()}"


@dataclass(frozen=True)
class StoredFile:
    """What a record says about bytes it stored."""

    uri: str
    size: int
    sha256: str
    content_base64: str | None


class FileStorage:
    """Atomic, checksummed writes under one root URL."""

    def __init__(self, url: str, *, inline_max_bytes: int = 0, options: t.Mapping[str, t.Any] | None = None) -> None:
        self.fs, root = fsspec.core.url_to_fs(url, **backend_options(url, options or {}))
        self.root = root.rstrip("/")
        self.inline_max_bytes = inline_max_bytes
        self.local = isinstance(self.fs, LocalFileSystem)

    def key_path(self, *segments: object) -> str:
        """The full path of a key made of id segments (each made safe)."""
        return "/".join([self.root, *(safe_segment(s) for s in segments)])

    def describe(self, segments: tuple[object, ...]) -> str:
        """A key as messages name it: its path under the root, and the ids that making it safe changed."""
        key = "/".join(safe_segment(s) for s in segments)
        changed = [str(s) for s in segments if safe_segment(s) != str(s)]
        shown = ", ".join(
            repr(text[:_SHOWN_ID_CHARS] + ("..." if len(text) > _SHOWN_ID_CHARS else "")) for text in changed
        )
        return f"key {key!r}" + (f" (from the ids {shown})" if changed else "") + f" under {self.uri(self.root)}"

    def uri(self, path: str) -> str:
        """The URI a record carries for ``path``."""
        return str(self.fs.unstrip_protocol(path))

    def write(self, segments: tuple[object, ...], chunks: Iterable[bytes | memoryview]) -> StoredFile:
        """Store ``chunks`` under the key made of ``segments``, atomically.

        Raises :class:`StorageError` naming the key when the storage refuses (a full disk);
        what ``chunks`` raises goes through as it is. Either way nothing is left under the key.
        """
        part = self.open_part(segments)
        try:
            for chunk in chunks:
                part.append(chunk)
        except BaseException:
            part.abort()
            raise
        return part.commit()

    def probe(self) -> None:
        """Write a small file under the root and delete it: raises when the storage refuses either.

        A run killed between the write and the delete leaves its probe file: the next probe
        removes such leftovers first (another run's live probe may go too; its own delete
        then finds nothing to delete, which is no refusal).
        """
        for stale in self.fs.glob(f"{self.root}/{PROBE_PREFIX}*"):  # its .part- files too
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(stale)
        key = (f"{PROBE_PREFIX}{uuid.uuid4().hex}",)
        stored = self.write(key, [b"tap-hrdata can write here\n"])
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.key_path(*key))
        if stored.size == 0:  # pragma: no cover  # a storage that drops bytes
            msg = "the probe file was stored empty"
            raise OSError(msg)

    def open_part(self, segments: tuple[object, ...]) -> PartialFile:
        """A file written in several pieces (ranged downloads), published on ``commit``."""
        return PartialFile(self, self.key_path(*segments), self.describe(segments))


def backend_options(url: str, options: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``files_storage_options`` as the fsspec backend of ``url`` takes them.

    For s3:// (s3fs): ``region`` becomes ``client_kwargs.region_name``; ``endpoint_url``,
    ``key``, ``secret`` and ``token`` are s3fs's own names. Other keys pass as they are.
    Unset (None) values are left out, so the backend's own defaults apply.
    """
    given = {name: value for name, value in options.items() if value is not None}
    region = given.pop("region", None)
    if region is not None:
        if url.split("://", 1)[0] in ("s3", "s3a"):
            given["client_kwargs"] = {**given.get("client_kwargs", {}), "region_name": region}
        else:
            given["region"] = region
    return given


#: The name of the preflight's probe files (a random suffix each).
PROBE_PREFIX = ".tap-hrdata-preflight-"


def _drop_stale_parts(path: Path) -> None:
    """Remove the temporary files of ``path`` that killed runs left (their writes never finished)."""
    for stale in path.parent.glob(glob.escape(path.name) + ".part-*"):
        with contextlib.suppress(FileNotFoundError):  # another run's cleanup got there first
            stale.unlink()


class PartialFile:
    """A local temporary file, or an object upload, that becomes visible on commit.

    Bytes are hashed as they are appended, so callers append only bytes they have
    verified (a ranged download appends a chunk once it is complete). Every refusal of the
    storage (a full disk when creating, writing, flushing or moving the file) raises
    :class:`StorageError` naming the key (``described``); a failed commit drops the file.
    """

    def __init__(self, storage: FileStorage, path: str, described: str | None = None) -> None:
        self.storage = storage
        self.path = path
        self.described = described or f"key {path!r}"
        fs = storage.fs
        self._target = f"{path}.part-{uuid.uuid4().hex}" if storage.local else path
        try:
            if storage.local:  # object stores have no folders (and s3fs's makedirs would create a bucket)
                fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            self._out = fs.open(self._target, "wb")
        except OSError as exc:
            raise self.failed(exc) from exc
        self._digest = hashlib.sha256()
        self.size = 0
        self._inline: bytearray | None = bytearray() if storage.inline_max_bytes > 0 else None

    def failed(self, cause: OSError) -> StorageError:
        """The error naming this file's key, and why the storage refused it."""
        code = errno.errorcode.get(cause.errno or 0)
        reason = f"{cause.strerror} ({code})" if cause.strerror and code else str(cause) or type(cause).__name__
        return StorageError(f"could not store {self.described}: {reason}", cause)

    def append(self, chunk: bytes | memoryview) -> None:
        """Add a verified chunk."""
        try:
            self._out.write(chunk)
        except OSError as exc:
            raise self.failed(exc) from exc
        self._digest.update(chunk)
        self.size += len(chunk)
        if self._inline is not None:
            if self.size <= self.storage.inline_max_bytes:
                self._inline += chunk
            else:
                self._inline = None

    def commit(self) -> StoredFile:
        """Close and publish the file under its key (and drop what killed runs left of it).

        Closing flushes the last bytes, which a full disk refuses: the file is then dropped.
        """
        try:
            self._out.close()
            if self._target != self.path:
                self.storage.fs.mv(self._target, self.path)
        except OSError as exc:
            self.abort()
            raise self.failed(exc) from exc
        if self._target != self.path:
            _drop_stale_parts(Path(self.path))
        content = base64.b64encode(self._inline).decode("ascii") if self._inline is not None else None
        return StoredFile(
            uri=self.storage.uri(self.path),
            size=self.size,
            sha256=self._digest.hexdigest(),
            content_base64=content,
        )

    def abort(self) -> None:
        """Drop what was written (an object upload is discarded, not completed); again is harmless.

        A storage that just refused a write may refuse the flush of closing too: that is
        not news, and must neither hide the first error nor keep the file from being removed.
        """
        discard = getattr(self._out, "discard", None)
        if discard is not None and self._target == self.path:
            # An object upload: abort it (a multipart upload is aborted, so it is neither
            # published nor left to bill) and never close it: closing would complete it.
            with contextlib.suppress(OSError):
                discard()
            self._out.closed = True
            return
        with contextlib.suppress(OSError):
            self._out.close()
        if self._target != self.path:
            with contextlib.suppress(OSError):  # a temporary name left is removed by the next write of the key
                self.storage.fs.rm(self._target)
