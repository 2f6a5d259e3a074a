"""Vendor JSON: the fast decoder and the standard one agree; a stray byte is kept, with a warning;
nesting past :data:`MAX_DEPTH` is refused, naming where and the path."""

from __future__ import annotations

import json
import logging
import typing as t

import pytest

from tap_hrdata.jsondecode import MAX_DEPTH, JsonTooDeepError, decode_json, loads, nested_deeper_than


@pytest.mark.parametrize(
    "raw",
    [b'{"a": [1, 2.5, "x", null, true]}', b'"\\u2028"', b"\xef\xbb\xbf{}", b'{"n": NaN}', b"12345678901234567890123"],
)
def test_same_objects_as_the_standard_decoder(raw: bytes) -> None:
    assert repr(loads(raw)) == repr(json.loads(raw))


def test_a_byte_that_is_not_utf8_is_kept_as_a_replacement_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        value = decode_json(b'{"name": "Ren\xe9"}', where="stream 'x': record 3", logger=logging.getLogger("t"))
    assert value == {"name": "Ren\ufffd"}
    assert "stream 'x': record 3" in caplog.text
    assert "not UTF-8" in caplog.text


def test_what_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        decode_json(b"<html>", where="w", logger=logging.getLogger("t"))


LOGGER = logging.getLogger("t")


def arrays(depth: int, inside: bytes = b"") -> bytes:
    return b"[" * depth + inside + b"]" * depth


def objects(depth: int) -> bytes:
    return b'{"k":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize("nest", [arrays, objects])
def test_json_nested_to_the_limit_is_kept_and_one_more_level_is_refused(nest: t.Callable[[int], bytes]) -> None:
    assert decode_json(nest(MAX_DEPTH), where="w", logger=LOGGER) is not None
    with pytest.raises(JsonTooDeepError, match=rf"^stream 'x', record 3: JSON nested more than {MAX_DEPTH} levels"):
        decode_json(nest(MAX_DEPTH + 1), where="stream 'x', record 3", logger=LOGGER)


@pytest.mark.parametrize(
    ("prefix", "levels", "inner", "suffix", "path"),
    [
        (b'{"data": [{}, {"deep": ', 3, arrays(200), b"}]}", "$.data[1].deep[0]..."),
        (b'{"a b": ', 1, arrays(MAX_DEPTH), b"}", '$["a b"][0][0][0]...'),
        (b'{"' + b"k" * 50 + b'": ', 1, arrays(MAX_DEPTH), b"}", '$["' + "k" * 40 + '..."][0][0][0]...'),
        (b"", 0, arrays(100_000), b"", "$[0][0][0][0]..."),  # the decoders' own RecursionError
        (b"", 0, b"[" * 100_000, b"", "$[0][0][0][0]..."),  # never closed
        (b'{"n": "Ren\xe9", "d": ', 1, arrays(2000), b"}", "$.d[0][0][0]..."),  # not UTF-8
        (b'{"s": "[[\\"[{\\\\", "d": ', 1, arrays(MAX_DEPTH), b"}", "$.d[0][0][0]..."),  # brackets in text
    ],
    ids=["page-item", "odd-key", "long-key", "100000-deep", "unclosed", "not-utf8", "text"],
)
def test_the_refusal_names_the_path_and_byte_of_the_first_container_too_deep(
    prefix: bytes, levels: int, inner: bytes, suffix: bytes, path: str
) -> None:
    byte = len(prefix) + MAX_DEPTH - levels  # the first bracket past the limit
    with pytest.raises(JsonTooDeepError) as refused:
        decode_json(prefix + inner + suffix, where="w", logger=LOGGER)
    assert str(refused.value).startswith(f"w: JSON nested more than {MAX_DEPTH} levels deep at {path} (byte {byte}); ")


def test_brackets_inside_strings_are_text() -> None:
    raw = json.dumps({"a": "[" * 5000, "b": ["{" * 5000 + '\\"[[['], "c": "\\" + "]" * 300}).encode()
    assert decode_json(raw, where="w", logger=LOGGER)["a"] == "[" * 5000


def test_a_too_deep_answer_is_not_a_value_error() -> None:
    """Not "not JSON": a body that is not JSON is asked for again, and this one would not change."""
    assert not issubclass(JsonTooDeepError, ValueError)


@pytest.mark.parametrize("depth", [0, 1, 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 3 * MAX_DEPTH])
def test_the_walk_agrees_with_the_decoder(depth: int) -> None:
    value = json.loads(arrays(depth, b"1") if depth else b"1")
    assert nested_deeper_than(value, MAX_DEPTH) is (depth > MAX_DEPTH)
    assert nested_deeper_than({"a": [1, {"b": value}]}, MAX_DEPTH) is (depth + 3 > MAX_DEPTH)
