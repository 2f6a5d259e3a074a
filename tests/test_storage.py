"""File storage: safe keys, atomic writes, checksums, inline content."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from tap_hrdata.storage import FileStorage, UnsafeKeyError, safe_segment


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
