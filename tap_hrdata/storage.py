"""Where file bytes go: a local folder or any fsspec URL, written atomically.

Keys are built only from ids made safe by :func:`safe_segment`; a name that came from a
server (a zip entry name, a file name) never becomes a path. A write goes to a temporary
name first and is moved into place when complete, so a partial file never looks
complete and a rerun simply rewrites the same key. On object stores (s3://, gs:// ...)
an object only appears when its upload completes, so it is written in place. The
sha256 and size are computed while the bytes stream through. A run killed mid-write
leaves its temporary file behind; the next complete write of that key removes it.
"""

from __future__ import annotations

import base64
import contextlib
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


class UnsafeKeyError(ValueError):
    """An id that cannot be used as a storage key segment."""


def safe_segment(value: object) -> str:
    """A storage key segment from an id: ``[A-Za-z0-9._-]`` kept, the rest %-encoded.

    ``.`` and ``..`` alone, and the empty string, are refused: they would walk the tree.
    """
    text = str(value)
    if text in {"", ".", ".."}:
        msg = f"refusing {text!r} as a storage key segment"
        raise UnsafeKeyError(msg)
    if _SAFE.fullmatch(text):
        return text
    return "".join(ch if _SAFE.fullmatch(ch) else "".join(f"%{b:02X}" for b in ch.encode()) for ch in text)


@dataclass(frozen=True)
class StoredFile:
    """What a record says about bytes it stored."""

    uri: str
    size: int
    sha256: str
    content_base64: str | None


class FileStorage:
    """Atomic, checksummed writes under one root URL."""

    def __init__(self, url: str, *, inline_max_bytes: int = 0) -> None:
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")
        self.inline_max_bytes = inline_max_bytes
        self.local = isinstance(self.fs, LocalFileSystem)

    def key_path(self, *segments: object) -> str:
        """The full path of a key made of id segments (each made safe)."""
        return "/".join([self.root, *(safe_segment(s) for s in segments)])

    def uri(self, path: str) -> str:
        """The URI a record carries for ``path``."""
        return str(self.fs.unstrip_protocol(path))

    def write(self, segments: tuple[object, ...], chunks: Iterable[bytes | memoryview]) -> StoredFile:
        """Store ``chunks`` under the key made of ``segments``, atomically."""
        part = self.open_part(segments)
        try:
            for chunk in chunks:
                part.append(chunk)
        except BaseException:
            part.abort()
            raise
        return part.commit()

    def probe(self) -> None:
        """Write a small file under the root and delete it: raises when the storage refuses either."""
        key = (f".tap-hrdata-preflight-{uuid.uuid4().hex}",)
        stored = self.write(key, [b"tap-hrdata can write here\n"])
        self.fs.rm(self.key_path(*key))
        if stored.size == 0:  # pragma: no cover  # a storage that drops bytes
            msg = "the probe file was stored empty"
            raise OSError(msg)

    def open_part(self, segments: tuple[object, ...]) -> PartialFile:
        """A file written in several pieces (ranged downloads), published on ``commit``."""
        return PartialFile(self, self.key_path(*segments))


def _drop_stale_parts(path: Path) -> None:
    """Remove the temporary files of ``path`` that killed runs left (their writes never finished)."""
    for stale in path.parent.glob(glob.escape(path.name) + ".part-*"):
        with contextlib.suppress(FileNotFoundError):  # another run's cleanup got there first
            stale.unlink()


class PartialFile:
    """A local temporary file, or an object upload, that becomes visible on commit.

    Bytes are hashed as they are appended, so callers append only bytes they have
    verified (a ranged download appends a chunk once it is complete).
    """

    def __init__(self, storage: FileStorage, path: str) -> None:
        self.storage = storage
        self.path = path
        fs = storage.fs
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self._target = f"{path}.part-{uuid.uuid4().hex}" if storage.local else path
        self._out = fs.open(self._target, "wb")
        self._digest = hashlib.sha256()
        self.size = 0
        self._inline: bytearray | None = bytearray() if storage.inline_max_bytes > 0 else None

    def append(self, chunk: bytes | memoryview) -> None:
        """Add a verified chunk."""
        self._out.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)
        if self._inline is not None:
            if self.size <= self.storage.inline_max_bytes:
                self._inline += chunk
            else:
                self._inline = None

    def commit(self) -> StoredFile:
        """Close and publish the file under its key (and drop what killed runs left of it)."""
        self._out.close()
        if self._target != self.path:
            self.storage.fs.mv(self._target, self.path)
            _drop_stale_parts(Path(self.path))
        content = base64.b64encode(self._inline).decode("ascii") if self._inline is not None else None
        return StoredFile(
            uri=self.storage.uri(self.path),
            size=self.size,
            sha256=self._digest.hexdigest(),
            content_base64=content,
        )

    def abort(self) -> None:
        """Drop what was written (an object upload is discarded, not completed)."""
        discard = getattr(self._out, "discard", None)
        if discard is not None and self._target == self.path:
            discard()
        self._out.close()
        if self._target != self.path and self.storage.fs.exists(self._target):
            self.storage.fs.rm(self._target)
