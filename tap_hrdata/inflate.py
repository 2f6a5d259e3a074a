"""One streaming inflater for every compressed body: zip entries (raw deflate) and gzip files.

Memory is bounded by ``step`` whatever the compression ratio: no output piece is larger
than ``step`` (a bomb inflates one bounded piece at a time, and the caller decides when
to stop), and the input is fed ``step`` bytes at a time, so zlib's ``unconsumed_tail``
(a copy) never holds more than one step of it.
"""

from __future__ import annotations

import typing as t
import zlib

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: zlib's ``wbits`` for the two containers the vendors use.
RAW_DEFLATE = -zlib.MAX_WBITS  # zip entries
GZIP = 16 + zlib.MAX_WBITS  # .gz files (the gzip container only)


class InflateError(ValueError):
    """A compressed stream that is corrupt, truncated or empty; ``kind`` says which."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind} ({detail})" if detail else kind)
        self.kind = kind


def inflate(
    chunks: Iterable[bytes | memoryview],
    *,
    wbits: int,
    step: int,
    members: bool = False,
) -> Iterator[bytes]:
    """Inflate ``chunks`` as they arrive, in pieces of at most ``step`` bytes.

    ``members``: concatenated streams are one body, as gzip(1) reads a multi-member .gz;
    otherwise input after the end of the first stream is ignored (a zip entry's data ends
    where its stream does). Raises :class:`InflateError` with ``kind`` ``"corrupt"`` (bad
    data or checksum; ``"not compressed"`` when the very first bytes are not a header),
    ``"truncated"`` (the input ends before the stream does) or ``"empty"`` (no input).
    """
    inflater = zlib.decompressobj(wbits)
    received = False
    produced = False
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            for pos in range(0, len(view), step):
                pending: bytes | memoryview = view[pos : pos + step]
                while pending:
                    received = True
                    if inflater.eof:
                        if not members:
                            return
                        inflater = zlib.decompressobj(wbits)  # the next member
                    before = len(pending)
                    piece = inflater.decompress(pending, step)
                    pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                    if piece:
                        produced = True
                        yield piece
                    elif len(pending) == before and not inflater.eof:
                        break  # no progress on this input: needs more of it
        while not inflater.eof and (piece := inflater.decompress(b"", step)):
            produced = True
            yield piece  # output zlib still held when the input ran out
    except zlib.error as exc:
        kind = "not compressed" if not produced and "header" in str(exc) else "corrupt"
        raise InflateError(kind, str(exc)) from exc
    if not received:
        raise InflateError("empty")
    if not inflater.eof:
        raise InflateError("truncated")
