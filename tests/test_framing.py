"""The framed-stream reader: every split position, truncation, oversized lengths, linear cost."""

from __future__ import annotations

import io
import random
import struct
import typing as t
import warnings
import zipfile

import pytest

from tap_hrdata.framing import (
    COPY_FRAME_MAX_BYTES,
    BadFrameError,
    CentralDirectory,
    FrameArchive,
    FrameTooLargeError,
    TruncatedBodyError,
    iter_frames,
)

FRAMES = [b"a", b"", b"hello", bytes(range(256)) * 2]


def framed(frames: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(f)) + f for f in frames)


BODY = framed(FRAMES)


def test_every_split_position_parses() -> None:
    for first in range(len(BODY) + 1):
        for second in range(first, len(BODY) + 1, 7):
            chunks = [BODY[:first], BODY[first:second], BODY[second:]]
            assert [bytes(f) for f in iter_frames(chunks, 10_000)] == FRAMES


def test_one_byte_chunks() -> None:
    chunks = [BODY[i : i + 1] for i in range(len(BODY))]
    assert [bytes(f) for f in iter_frames(chunks, 10_000)] == FRAMES


def test_empty_body_is_no_frames() -> None:
    assert list(iter_frames([], 10)) == []
    assert list(iter_frames([b"", b""], 10)) == []


@pytest.mark.parametrize("cut", [1, 3, 6, 12, len(BODY) - 1])
def test_truncated_body_is_an_error(cut: int) -> None:
    with pytest.raises(TruncatedBodyError):
        list(iter_frames([BODY[:cut]], 10_000))


def test_frames_before_the_truncation_are_delivered() -> None:
    reader = iter_frames([BODY[:-1]], 10_000)
    assert [bytes(next(reader)) for _ in range(3)] == FRAMES[:3]
    with pytest.raises(TruncatedBodyError):
        next(reader)


def test_oversized_length_is_refused_before_allocating() -> None:
    with pytest.raises(FrameTooLargeError):
        list(iter_frames([b"\xff\xff\xff\xff"], 268_435_456))
    with pytest.raises(FrameTooLargeError):
        list(iter_frames([framed([b"x" * 11])], 10))


def test_frame_at_the_limit_is_accepted() -> None:
    assert [bytes(f) for f in iter_frames([framed([b"x" * 10])], 10)] == [b"x" * 10]


def test_many_frames_in_one_chunk_stay_linear() -> None:
    # 20k frames in a single chunk: a reader that re-slices its buffer per frame would
    # copy ~20k x 10 MB here; this one finishes instantly.
    body = framed([b"y" * 500] * 20_000)
    assert sum(1 for _ in iter_frames([body], 1000)) == 20_000


def pieces(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def test_a_frame_kept_is_never_overwritten() -> None:
    # Frames split over chunks share one buffer, but only once nothing holds the previous one.
    frames = [bytes([n]) * 300 for n in range(5)]
    kept = list(iter_frames(pieces(framed(frames), 7), 1000))
    assert [bytes(f) for f in kept] == frames


def test_a_frame_let_go_lends_its_buffer() -> None:
    buffers, contents = [], []
    for frame in iter_frames(pieces(framed([b"a" * 300, b"b" * 200]), 7), 1000):
        buffers.append(id(frame.obj))
        contents.append(bytes(frame))
        del frame
    assert contents == [b"a" * 300, b"b" * 200]
    assert buffers[0] == buffers[1]


def test_a_frame_within_a_chunk_is_a_view_of_it() -> None:
    body = framed([b"a" * 300, b"b" * 200])
    assert [f.obj for f in iter_frames([body], 1000)] == [body, body]


# ---- FrameArchive: zip entries read in place ---------------------------------------------------


def zip_frame(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return bytearray(buffer.getvalue())


BIG = bytes(range(256)) * 20_000  # 5 MB, more than one read step


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
@pytest.mark.parametrize("pad", [0, COPY_FRAME_MAX_BYTES])  # copied into BytesIO, or read through a view
def test_entries_read_back(method: int, pad: int) -> None:
    entries = {"doc": b'{"offset": 1}', "ATT-1": BIG, "pad": random.Random(1).randbytes(pad)}
    archive = FrameArchive(zip_frame(entries, method), 10_000_000, "frame 1")
    assert archive.read("doc") == entries["doc"]
    assert b"".join(archive.iter_entry("ATT-1")) == BIG
    assert all(len(chunk) <= 1 << 20 for chunk in archive.iter_entry("ATT-1"))


def test_missing_entry_is_named() -> None:
    archive = FrameArchive(zip_frame({"doc": b"{}"}), 1000, "frame 7")
    with pytest.raises(BadFrameError, match="frame 7: the zip has no entry 'x'"):
        archive.read("x")


def test_declared_size_over_the_limit_is_a_bomb() -> None:
    archive = FrameArchive(zip_frame({"doc": b"0" * 2000}), 1000, "frame 1")
    with pytest.raises(BadFrameError, match="zip bomb"):
        archive.read("doc")


def test_entry_inflating_past_its_declared_size_is_a_bomb() -> None:
    frame = zip_frame({"doc": b"0" * 100_000})
    archive = FrameArchive(frame, 10_000_000, "frame 1")
    archive.zip.getinfo("doc").file_size = 1000  # a header that lies
    with pytest.raises(BadFrameError, match="zip bomb"):
        archive.read("doc")


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_corrupt_entry_is_refused(method: int) -> None:
    frame = zip_frame({"doc": b"x" * 5000, "ATT-1": BIG}, method)
    start = frame.index(b"ATT-1") + len("ATT-1")  # the entry's data follows its local header
    frame[start + 3000] ^= 0xFF
    archive = FrameArchive(frame, 10_000_000, "frame 1")
    assert archive.read("doc") == b"x" * 5000
    with pytest.raises(BadFrameError, match="corrupt"):
        b"".join(archive.iter_entry("ATT-1"))


def test_local_header_naming_another_file_is_refused() -> None:
    frame = zip_frame({"doc": b"{}"})
    frame[frame.index(b"doc")] = ord("x")  # the local header's name, not the central directory's
    with pytest.raises(BadFrameError, match="names another file"):
        FrameArchive(frame, 1000, "frame 1").read("doc")


def test_not_a_zip() -> None:
    with pytest.raises(zipfile.BadZipFile):
        FrameArchive(bytearray(b"not a zip at all"), 1000, "frame 1")


# ---- CentralDirectory: the plain zips' directory, read as zipfile reads it ------------------------

INFO_FIELDS = (
    "filename",
    "orig_filename",
    "date_time",
    "compress_type",
    "comment",
    "extra",
    "create_system",
    "create_version",
    "extract_version",
    "reserved",
    "flag_bits",
    "volume",
    "internal_attr",
    "external_attr",
    "header_offset",
    "CRC",
    "compress_size",
    "file_size",
)


def zip_of(entries: list[tuple[zipfile.ZipInfo | str, bytes]], **options: object) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", **options) as archive:  # type: ignore[arg-type]
        for name, data in entries:
            archive.writestr(name, data)
    return bytearray(buffer.getvalue())


def utf8_name() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("Zoé.pdf", (2024, 2, 29, 23, 59, 58))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def repeated_name() -> bytearray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate name it writes
        return zip_of([("doc", b"1"), ("doc", b"22")])


PLAIN_ZIPS = {
    "deflated": zip_of([("doc", b'{"a": 1}' * 50), ("ATT-1", BIG[:70_000])], compression=zipfile.ZIP_DEFLATED),
    "stored": zip_of([("doc", b"{}"), ("ATT-1", b"x" * 10)]),
    "utf-8 name, a date": zip_of([(utf8_name(), b"%PDF")]),
    "repeated name": repeated_name(),
    "cp437 name": bytearray(zip_of([("cafX.txt", b"{}")]).replace(b"cafX.txt", b"caf\x82.txt")),
}


@pytest.mark.parametrize("name", sorted(PLAIN_ZIPS))
def test_a_plain_zip_directory_is_read_as_zipfile_reads_it(name: str) -> None:
    frame = PLAIN_ZIPS[name]
    directory = CentralDirectory.read(memoryview(frame))
    assert directory is not None
    reference = zipfile.ZipFile(io.BytesIO(frame))
    assert [i.filename for i in directory.infolist()] == list(reference.NameToInfo)
    for expected in reference.NameToInfo.values():
        got = directory.getinfo(expected.filename)
        assert {f: getattr(got, f) for f in INFO_FIELDS} == {f: getattr(expected, f) for f in INFO_FIELDS}
    archive = FrameArchive(frame, 10_000_000, "frame 1")
    assert isinstance(archive.zip, CentralDirectory)
    for info in reference.infolist():
        if reference.NameToInfo[info.filename] is info:
            assert archive.read(info.filename) == reference.read(info)


def with_extra() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("doc")
    info.extra = struct.pack("<HH4s", 0xCAFE, 4, b"abcd")
    return info


OTHER_ZIPS: dict[str, t.Callable[[], bytearray]] = {
    "extra field": lambda: zip_of([(with_extra(), b"{}")]),
    "bzip2": lambda: zip_of([("doc", b"{}")], compression=zipfile.ZIP_BZIP2),
    "data before the zip": lambda: bytearray(b"junk") + zip_of([("doc", b"{}")]),
    "a NUL in a name": lambda: bytearray(zip_of([("docX.txt", b"{}")]).replace(b"docX.txt", b"doc\x00.txt")),
    "empty": lambda: zip_of([]),
}


def commented() -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("doc", b"{}")
        archive.comment = b"hello"
    return bytearray(buffer.getvalue())


def zip64() -> bytearray:
    """A zip with zip64 end records (zipfile writes them past 65,535 entries: here past 0)."""
    limit = zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP_FILECOUNT_LIMIT = 0  # type: ignore[misc]
    try:
        return zip_of([("doc", b"{}")])
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = limit  # type: ignore[misc]


OTHER_ZIPS["a comment"] = commented
OTHER_ZIPS["zip64"] = zip64


def test_an_entry_forced_to_zip64_is_plain_in_the_directory() -> None:
    """Its local header has a zip64 extra field (read in place, skipped), its directory entry none."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, archive.open("doc", "w", force_zip64=True) as entry:
        entry.write(b'{"offset": 1}')
    frame = bytearray(buffer.getvalue())
    assert CentralDirectory.read(memoryview(frame)) is not None
    assert FrameArchive(frame, 1000, "frame 1").read("doc") == b'{"offset": 1}'


@pytest.mark.parametrize("name", sorted(OTHER_ZIPS))
def test_any_other_zip_goes_to_zipfile(name: str) -> None:
    frame = OTHER_ZIPS[name]()
    assert CentralDirectory.read(memoryview(frame)) is None
    archive = FrameArchive(frame, 10_000_000, "frame 1")
    assert isinstance(archive.zip, zipfile.ZipFile)


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f.__setitem__(slice(-22, -18), b"PK\x05\x07"),  # no end record
        lambda f: f.__setitem__(slice(f.index(b"PK\x01\x02"), f.index(b"PK\x01\x02") + 4), b"PK\x01\x03"),
        lambda f: f.__setitem__(slice(-10, -6), struct.pack("<L", 10**6)),  # directory size past the end
    ],
)
def test_a_damaged_directory_goes_to_zipfile_and_its_errors(damage: t.Callable[[bytearray], None]) -> None:
    frame = zip_of([("doc", b"{}")])
    damage(frame)
    assert CentralDirectory.read(memoryview(frame)) is None
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(frame))
    with pytest.raises(zipfile.BadZipFile):
        FrameArchive(frame, 1000, "frame 1")


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("flip", [0, 10, -1])
def test_a_small_document_read_whole_is_checked_as_one_read_in_pieces(method: int, flip: int) -> None:
    """read() takes one step for a small entry, but refuses what iter_entry refuses, with its message."""
    document = b'{"offset": 1, "title": "' + b"x" * 300 + b'"}'
    frame = zip_frame({"doc": document}, method)
    start = frame.index(b"doc") + len("doc")  # the entry's data follows its local header
    end = start + zipfile.ZipFile(io.BytesIO(frame)).getinfo("doc").compress_size
    frame[(start + flip) % end if flip >= 0 else end - 1] ^= 0x55
    with pytest.raises(BadFrameError) as in_pieces:
        b"".join(FrameArchive(bytearray(frame), 10_000, "frame 1").iter_entry("doc"))
    with pytest.raises(BadFrameError) as whole:
        FrameArchive(bytearray(frame), 10_000, "frame 1").read("doc")
    assert str(whole.value) == str(in_pieces.value)
