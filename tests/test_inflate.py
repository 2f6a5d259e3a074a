"""The one streaming inflater: bounded pieces whatever the ratio, gzip members, and what is refused."""

from __future__ import annotations

import gzip
import zlib

import pytest

from tap_hrdata.inflate import GZIP, RAW_DEFLATE, InflateError, inflate


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, RAW_DEFLATE)
    return compressor.compress(data) + compressor.flush()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[k : k + size] for k in range(0, len(data), size)]


@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 20])
def test_output_pieces_stay_under_the_step_whatever_the_ratio(chunk: int) -> None:
    data = b"x" * (3 << 20)  # a 3 MiB bomb in a few KB
    packed = raw_deflate(data)
    assert len(packed) < 10_000
    out = list(inflate(pieces(packed, chunk), wbits=RAW_DEFLATE, step=1 << 16))
    assert b"".join(out) == data
    assert max(map(len, out)) <= 1 << 16


def test_gzip_members_are_one_file_only_when_asked() -> None:
    data = gzip.compress(b"one\n") + gzip.compress(b"two\n")
    assert b"".join(inflate([data], wbits=GZIP, step=64, members=True)) == b"one\ntwo\n"
    assert b"".join(inflate([data], wbits=GZIP, step=64)) == b"one\n"  # a zip entry ends with its stream


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ([], "empty"),
        ([b"plain text, not gzip"], "not compressed"),
        ([gzip.compress(b"abc" * 100)[:-10]], "truncated"),
        ([gzip.compress(b"abc")[:-8] + b"\x00\x00\x00\x00" + gzip.compress(b"abc")[-4:]], "corrupt"),
    ],
)
def test_what_is_refused_and_why(body: list[bytes], kind: str) -> None:
    with pytest.raises(InflateError) as refused:
        b"".join(inflate(body, wbits=GZIP, step=64, members=True))
    assert refused.value.kind == kind
