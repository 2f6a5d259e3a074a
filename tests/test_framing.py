"""The framed-stream reader: every split position, truncation, oversized lengths, linear cost."""

from __future__ import annotations

import struct

import pytest

from tap_hrdata.framing import FrameTooLargeError, TruncatedBodyError, iter_frames

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
