"""File storage: safe keys, atomic writes, checksums, inline content."""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from fsspec.implementations.local import LocalFileOpener

from tap_hrdata.storage import MAX_SEGMENT_BYTES, FileStorage, StorageError, UnsafeKeyError, safe_segment


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ATT-1.pdf", "ATT-1.pdf"),
        ("a/b", "a%2Fb"),
        ("../../x", "..%2F..%2Fx"),
        ("/etc/passwd", "%2Fetc%2Fpasswd"),
        ("é", "%C3%A9"),
        (42, "42"),
        ("a b~", "a%20b%7E"),
        ("a" * MAX_SEGMENT_BYTES, "a" * MAX_SEGMENT_BYTES),  # the longest kept as it is
        ("\u00e9" * 36, "%C3%A9" * 36),  # 216 bytes once encoded
    ],
)
def test_safe_segment(value: object, expected: str) -> None:
    assert safe_segment(value) == expected


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_safe_segment_refuses_walking_names(value: str) -> None:
    with pytest.raises(UnsafeKeyError):
        safe_segment(value)


def test_write_is_atomic_and_checksummed(tmp_path: Path) -> None:
    storage = FileStorage(str(tmp_path / "files"))
    stored = storage.write(("talentsoft", "attachments", "C1", "../../x"), [b"abc", b"def"])
    target = tmp_path / "files" / "talentsoft" / "attachments" / "C1" / "..%2F..%2Fx"
    assert target.read_bytes() == b"abcdef"
    assert stored.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    assert stored.size == 6
    assert stored.uri == f"file://{target}"
    assert stored.content_base64 is None
    assert not list(tmp_path.rglob("*.part-*"))
    assert not (tmp_path / "x").exists()


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    storage = FileStorage(str(tmp_path))

    def broken():
        yield b"partial"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        storage.write(("k", "f"), broken())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_rewrite_replaces(tmp_path: Path) -> None:
    storage = FileStorage(str(tmp_path))
    storage.write(("k", "f"), [b"old content"])
    storage.write(("k", "f"), [b"new"])
    assert (tmp_path / "k" / "f").read_bytes() == b"new"


def test_inline_content_up_to_the_limit(tmp_path: Path) -> None:
    storage = FileStorage(str(tmp_path), inline_max_bytes=4)
    assert storage.write(("a",), [b"ab", b"cd"]).content_base64 == base64.b64encode(b"abcd").decode()
    assert storage.write(("b",), [b"ab", b"cde"]).content_base64 is None


def test_fsspec_url(tmp_path: Path) -> None:
    storage = FileStorage(f"file://{tmp_path}/root")
    stored = storage.write(("x", "y"), [b"1"])
    assert (tmp_path / "root" / "x" / "y").read_bytes() == b"1"
    assert stored.uri.startswith("file://")


def test_memory_filesystem_writes_in_place() -> None:
    storage = FileStorage("memory://tap-hrdata-test")
    stored = storage.write(("x", "y"), [b"12", b"3"])
    assert storage.fs.cat_file(storage.key_path("x", "y")) == b"123"
    assert stored.uri.endswith("tap-hrdata-test/x/y")


#: What a hashed segment is: %-encoded text, ``~``, and a sha256 in hex.
HASHED = re.compile(r"(?:[A-Za-z0-9._-]|%[0-9A-F]{2})+~[0-9a-f]{64}")


@pytest.mark.parametrize(
    "value",
    ["a" * (MAX_SEGMENT_BYTES + 1), "\u65e5" * 25, "a" + "\u00e9" * 100, "ab" + "\u00e9" * 100, "x" * 5000],
    ids=["ascii", "cjk", "odd", "even", "huge"],
)
def test_a_segment_too_long_for_a_file_name_is_hashed_readably(value: str) -> None:
    segment = safe_segment(value)
    assert len(segment) <= MAX_SEGMENT_BYTES
    assert HASHED.fullmatch(segment)
    start = unquote(segment.split("~")[0], errors="strict")  # whole characters: never half of one
    assert value.startswith(start)
    assert len(start.encode()) > 40  # readable
    assert safe_segment(value) == segment  # stable


def test_hashed_segments_stay_unique() -> None:
    long = "\u65e5" * 40
    segments = {safe_segment(long), safe_segment(long + "1"), safe_segment(long + "2"), safe_segment(long[:-1])}
    assert len(segments) == 4  # ids sharing their readable start
    hashed = safe_segment(long)
    assert safe_segment(hashed) != hashed  # an id that looks like a hashed segment is encoded (~ is %7E)


def test_an_id_too_long_for_a_file_name_is_written_under_its_hashed_key(tmp_path: Path) -> None:
    storage = FileStorage(str(tmp_path))
    stored = storage.write(("k", "\u65e5" * 30), [b"abc"])
    assert stored.uri == f"file://{tmp_path}/k/{safe_segment(chr(0x65E5) * 30)}"
    assert (tmp_path / "k" / safe_segment("\u65e5" * 30)).read_bytes() == b"abc"


class FullDisk:
    """ENOSPC from the ``at`` step of every local file write (half a chunk is stored first)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: str) -> None:
        write, close = LocalFileOpener.write, LocalFileOpener.close

        def full_write(opener: LocalFileOpener, data: bytes) -> int:
            if at == "write":
                write(opener, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return int(write(opener, data))

        def full_close(opener: LocalFileOpener) -> None:
            close(opener)
            if at == "close":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(LocalFileOpener, "write", full_write)
        monkeypatch.setattr(LocalFileOpener, "close", full_close)


@pytest.mark.parametrize("at", ["write", "close"])
def test_a_full_disk_names_the_key_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: str) -> None:
    storage = FileStorage(str(tmp_path))
    storage.write(("k", "f"), [b"old"])  # an earlier version stays as it was
    FullDisk(monkeypatch, at)
    with pytest.raises(StorageError) as failed:
        storage.write(("k", "f"), [b"new content"])
    message = f"could not store key 'k/f' under file://{tmp_path}: No space left on device (ENOSPC)"
    assert failed.value.args[0] == message  # the SDK logs args[0] alone: it was "28"
    assert str(failed.value) == message
    assert (failed.value.errno, failed.value.strerror) == (errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert isinstance(failed.value, OSError)  # what the preflight and the Coresignal journal catch
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["f"]
    assert (tmp_path / "k" / "f").read_bytes() == b"old"


def test_a_full_disk_names_the_ids_a_key_was_made_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = FileStorage(str(tmp_path))
    FullDisk(monkeypatch, "write")
    part = storage.open_part(("youserve", "t/1", "\u65e5" * 30))
    with pytest.raises(StorageError) as failed:
        part.append(b"abcd")
    part.abort()
    part.abort()  # again: harmless
    assert f"(from the ids 't/1', '{chr(0x65E5) * 30}') under file://{tmp_path}:" in str(failed.value)
    assert f"key 'youserve/t%2F1/{safe_segment(chr(0x65E5) * 30)}'" in str(failed.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_storage_error_named_by_a_stream_keeps_its_cause() -> None:
    cause = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    named = StorageError("could not store key 'k'", cause).in_stream("youserve stream 'delivered_files'")
    assert str(named) == "youserve stream 'delivered_files': could not store key 'k'"
    assert (named.errno, named.stream, named.cause) == (errno.ENOSPC, "youserve stream 'delivered_files'", cause)


def test_the_probe_removes_what_a_killed_probe_left(tmp_path: Path) -> None:
    """A run killed between the preflight's write and delete leaves its probe (or its part): the next clears it."""
    storage = FileStorage(str(tmp_path))
    (tmp_path / ".tap-hrdata-preflight-0123abcd").write_bytes(b"left by a killed run\n")
    (tmp_path / ".tap-hrdata-preflight-4567cdef.part-89ab").write_bytes(b"half")
    (tmp_path / "kept").write_bytes(b"a stored file")
    storage.probe()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
