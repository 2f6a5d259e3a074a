"""Vendor JSON: the fast decoder and the standard one agree; a stray byte is kept, with a warning."""

from __future__ import annotations

import json
import logging

import pytest

from tap_hrdata.jsondecode import decode_json, loads


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
