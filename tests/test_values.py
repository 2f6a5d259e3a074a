"""Typed columns from untyped vendor values: each helper, and where two of them differ on purpose."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_hrdata.values import (
    ContentRange,
    content_range,
    flag,
    integer,
    iso_timestamp,
    iso_timestamp_micro,
    label,
    number,
    parse_timestamp,
    text,
    utc_timestamp,
)


def test_text_and_label() -> None:
    assert [text(v) for v in ("a", 7, 1.5, True, None, {"a": 1}, [1])] == ["a", "7", "1.5", "True", None, None, None]
    # label: a referential object stands for its label (then name, code, id)
    assert label({"id": 3, "code": "FR", "label": "France"}) == "France"
    assert label({"id": 3, "code": "FR"}) == "FR"
    assert label({"id": 3}) == "3"
    assert label("France") == "France"
    assert label([1]) is None


def test_numbers_and_flags() -> None:
    integers = [integer(v) for v in (12, "12", " -3 ", 4.0, 4.5, "4.0", True, None, "x")]
    assert integers == [
        12,
        12,
        -3,
        4,
        None,
        None,
        None,
        None,
        None,
    ]
    assert [number(v) for v in (1, 2.5, "2.5", " 48.85 ", "nan", "x", False, None)] == [
        1.0,
        2.5,
        2.5,
        48.85,
        None,
        None,
        None,
        None,
    ]
    flags = [flag(v) for v in (True, False, 1, 0, "1", "0", 2, "yes", None)]
    assert flags == [
        True,
        False,
        True,
        False,
        True,
        False,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2020-07-22T09:11:32+0000", datetime(2020, 7, 22, 9, 11, 32, tzinfo=timezone.utc)),  # HrFlow
        ("2021-03-25T07:30:23.6571234Z", datetime(2021, 3, 25, 7, 30, 23, 657123, tzinfo=timezone.utc)),  # YouServe
        ("2025-06-14 17:42:28", datetime(2025, 6, 14, 17, 42, 28, tzinfo=timezone.utc)),  # Coresignal: UTC
        ("2026-01-05T08:30:23+01:00", datetime(2026, 1, 5, 7, 30, 23, tzinfo=timezone.utc)),
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=timezone.utc)),
        (" 2026-01-01T00:00Z ", datetime(2026, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_every_vendor_timestamp_form(written: str, expected: datetime) -> None:
    assert parse_timestamp(written) == expected
    assert parse_timestamp(written).utcoffset() == timedelta(0)


@pytest.mark.parametrize("odd", ["", "soon", "2026-01-01T00:00:00Z or 1 eq 1", "2026-13-01", None, 20260101])
def test_what_is_not_a_timestamp(odd: object) -> None:
    assert utc_timestamp(odd) is None
    with pytest.raises(ValueError, match=r"not a timestamp|out of range|must be in"):
        parse_timestamp(odd)  # type: ignore[arg-type]


def test_the_two_output_forms() -> None:
    moment = datetime(2020, 7, 22, 9, 11, 32, tzinfo=timezone.utc)
    assert iso_timestamp("2020-07-22T09:11:32+0000") == "2020-07-22T09:11:32+00:00"
    assert iso_timestamp(moment) == "2020-07-22T09:11:32+00:00"
    assert iso_timestamp("nope") is None
    # YouServe's fixed width: strings sort as the dates do
    assert iso_timestamp_micro(moment) == "2020-07-22T09:11:32.000000+00:00"
    later = moment + timedelta(microseconds=400000)
    assert iso_timestamp_micro(moment) < iso_timestamp_micro(later)


@pytest.mark.parametrize(
    "written",
    [
        "2020-07-22T09:11:32+0000",
        "2021-03-25T07:30:23.6571234Z",
        "2020-05-19T08:42:47.4000000Z",
        "2025-06-14 17:42:28",
        "2025-06-14 17:42:28.5",
        "2026-01-05T08:30:23+01:00",
        "2026-01-05T23:30:23-05:30",
        "2026-01-01",
        " 2026-01-01T00:00Z ",
        "2026-01-01T00:00",
        "2026-13-01 00:00:00",
        "2026-02-30",
        "20260101",
        "",
        "soon",
    ],
)
def test_iso_timestamp_writes_what_the_parsed_moment_writes(written: str) -> None:
    """The fast path for strings (no datetime conversions) writes what converting the parse would."""
    moment = utc_timestamp(written)
    assert iso_timestamp(written) == (None if moment is None else moment.astimezone(timezone.utc).isoformat())


def test_text_of_a_str_subclass_is_a_plain_str() -> None:
    class Name(str):
        __slots__ = ()

    assert type(text(Name("x"))) is str
    assert type(label(Name("x"))) is str
    assert text(Name("x")) == label(Name("x")) == "x"


def test_content_range_for_items_and_bytes() -> None:
    assert content_range("0-99/250") == ContentRange(None, 0, 99, 250)  # Talentsoft: items, no unit
    assert content_range("items 0-99/*") == ContentRange("items", 0, 99, None)
    assert content_range("bytes 0-1023/4096") == ContentRange("bytes", 0, 1023, 4096)
    assert content_range("bytes */4096") == ContentRange("bytes", None, None, 4096)
    assert content_range("") is None
    assert content_range(None) is None
    assert content_range("bytes 0-1023") is None
