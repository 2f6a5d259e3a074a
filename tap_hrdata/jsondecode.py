"""Vendor JSON from bytes: fast when it is clean, forgiving of a stray byte, never silent.

Every JSON the tap reads (answers, export documents, JSON Lines records) goes through
:func:`decode_json`, so they all treat bad input alike, nesting deeper than
:data:`MAX_DEPTH` included.
"""

from __future__ import annotations

import json
import re
import typing as t

import msgspec
from singer_sdk.exceptions import FatalAPIError

if t.TYPE_CHECKING:
    import logging

_DECODE = msgspec.json.Decoder().decode

#: The deepest nesting of arrays and objects accepted in vendor JSON (``[[1]]`` is 2 deep).
#: No HR record comes near it (a profile, a job or an export document is about 10 deep);
#: far deeper, the decoders, the redaction walk, the SDK and targets all recurse about once
#: per level and hit Python's recursion limit (1,000 frames on CPython) with a bare
#: ``RecursionError`` naming nothing. Below this limit, every one of them has room.
MAX_DEPTH = 100
#: Path segments of the too-deep place shown in the message; the rest is elided.
_SHOWN_SEGMENTS = 4
_SHOWN_KEY_CHARS = 40
#: What the locating scan looks at: strings (whose brackets are text), brackets and separators.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[][{},:]')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class JsonTooDeepError(FatalAPIError):
    """JSON nested deeper than :data:`MAX_DEPTH`: refused, with where and at which path.

    Not a ``ValueError``: the bytes are JSON, and asking for them again (as for a body cut
    short) would only bring the same nesting back.
    """


def loads(raw: bytes | str) -> t.Any:  # vendor JSON is untyped
    """``json.loads(raw)``, by msgspec's decoder (3x faster) whenever it accepts ``raw``.

    Both give the same objects for strict UTF-8 JSON; anything msgspec refuses (a BOM, NaN,
    a lone surrogate, bytes that are not UTF-8 ...) goes to ``json.loads``.
    """
    try:
        return _DECODE(raw)
    except msgspec.DecodeError:
        return json.loads(raw)


def decode_text(raw: bytes, *, where: str, logger: logging.Logger) -> str:
    """UTF-8 text (a leading BOM dropped); bytes that are not UTF-8 become U+FFFD.

    A warning names ``where``: one bad byte in a name must not stop a sync for good.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8-sig", errors="replace")
        logger.warning(
            "%s: the answer holds bytes that are not UTF-8 (the first at byte %d); they were replaced with U+FFFD",
            where,
            exc.start,
        )
        return text


def decode_json(raw: bytes, *, where: str, logger: logging.Logger) -> t.Any:  # vendor JSON is untyped
    """The JSON value of ``raw``; raises ValueError when it is not JSON.

    Bytes that are not UTF-8 become U+FFFD with a warning naming ``where``. JSON nested
    deeper than :data:`MAX_DEPTH` raises :class:`JsonTooDeepError` naming ``where`` and
    the path of the first container too deep: the same limit on every Python version,
    whether the decoder itself runs out of recursion (about 1,000 deep) or not.
    """
    try:
        try:
            value = loads(raw)
        except UnicodeDecodeError:
            value = json.loads(decode_text(raw, where=where, logger=logger))
    except RecursionError:
        raise JsonTooDeepError(too_deep_message(raw, where)) from None
    # Fewer brackets than the limit cannot nest deeper than it: most records stop here.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and nested_deeper_than(value, MAX_DEPTH):
        raise JsonTooDeepError(too_deep_message(raw, where))
    return value


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` deep.

    Level by level, without recursion (the point is to refuse what recursion cannot take),
    and stopping at ``limit``: a few percent of the time taken to decode the value.
    """
    level = [value] if type(value) is dict or type(value) is list else []
    for _ in range(limit):
        if not level:
            return False
        below: list[t.Any] = []
        for container in level:  # plain loops: twice as fast as a comprehension per container
            for item in container.values() if type(container) is dict else container:
                if type(item) is dict or type(item) is list:
                    below.append(item)
        level = below
    return bool(level)


def too_deep_message(raw: bytes, where: str) -> str:
    """Why ``raw`` is refused: ``where``, the path to the first container past the limit, and its byte.

    Only ever run on the way to an error; it stops at that container.
    """
    segments: list[str] = []  # per open container: the key or index being read in it
    in_object: list[bool] = []
    expect_key = False
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token in {b"[", b"{"}:
            if len(in_object) == MAX_DEPTH:
                path = "".join(segments[:_SHOWN_SEGMENTS]) + ("..." if len(segments) > _SHOWN_SEGMENTS else "")
                return (
                    f"{where}: JSON nested more than {MAX_DEPTH} levels deep at ${path} (byte {match.start()}); "
                    "refused, as no vendor record is that deep"
                )
            in_object.append(token == b"{")
            segments.append("" if token == b"{" else "[0]")
            expect_key = token == b"{"
        elif token in {b"]", b"}"}:
            if in_object:
                in_object.pop()
                segments.pop()
            expect_key = False
        elif token == b",":
            if in_object and not in_object[-1]:
                segments[-1] = f"[{int(segments[-1][1:-1]) + 1}]"
            expect_key = bool(in_object and in_object[-1])
        elif token == b":":
            expect_key = False
        elif expect_key and in_object:
            segments[-1] = _key_segment(token)
    return f"{where}: JSON nested too deeply to decode; refused"


def _key_segment(token: bytes) -> str:
    """``.name``, or ``["any key"]`` (cut short) when the key is not a plain name."""
    try:
        key = str(json.loads(token))
    except ValueError:
        key = token[1:-1].decode("utf-8", errors="replace")
    if _NAME.fullmatch(key) and len(key) <= _SHOWN_KEY_CHARS:
        return f".{key}"
    shown = key[:_SHOWN_KEY_CHARS] + ("..." if len(key) > _SHOWN_KEY_CHARS else "")
    return f"[{json.dumps(shown, ensure_ascii=False)}]"
