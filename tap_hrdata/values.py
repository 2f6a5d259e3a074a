"""Vendor values made typed: one helper per kind, used by every source's record builders.

Vendor JSON is untyped: a field documented as a string may arrive as a number, an object
or null. Typed columns must never fail a record over that (the whole object is kept in
``raw`` anyway), so each helper returns None for a value it cannot read faithfully,
instead of guessing or raising.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
#: ``datetime.fromisoformat`` reads every vendor form from Python 3.11 on (3.10 reads few).
_FAST_ISO = sys.version_info >= (3, 11)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
#: ``[unit ]first-last/total``, either side may be ``*`` (RFC 9110 for bytes; Talentsoft
#: writes item ranges without a unit: ``0-99/250``).
_CONTENT_RANGE = re.compile(r"\s*(?:([A-Za-z]+)\s+)?(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*", re.ASCII)


def text(value: object) -> str | None:
    """A scalar as text; None for null, objects and lists (they stay in ``raw``)."""
    if value.__class__ is str:  # the usual case, first: a type test per column of every record
        return value  # a str, as just tested (mypy narrows __class__ is str)
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def label(value: object) -> str | None:
    """Like :func:`text`, but an object stands for its label.

    The intended difference: Talentsoft writes referential values (a status, a country)
    either as a plain code or as ``{"id", "code", "label"}``; users query the label.
    """
    if value.__class__ is str:
        return value  # a str, as just tested (mypy narrows __class__ is str)
    if isinstance(value, dict):
        value = value.get("label") or value.get("name") or value.get("code") or value.get("id")
    return text(value)


def integer(value: object) -> int | None:
    """An integer from an int, a whole float or a string of digits; None otherwise (and for booleans)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


def number(value: object) -> float | None:
    """A finite number from a JSON number or a numeric string (``"48.85"``); None otherwise (booleans too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        parsed = float(value)
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def flag(value: object) -> bool | None:
    """A boolean from ``true``/``false`` or the vendors' 0/1 flags (numbers or strings)."""
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return value in (1, "1")
    return None


# ---- timestamps --------------------------------------------------------------------------------


def parse_timestamp(value: str) -> datetime:
    """An aware UTC datetime from every timestamp form the vendors write.

    ``2020-07-22T09:11:32+0000`` (HrFlow), ``2020-05-19T08:42:47.4000000Z`` (YouServe, seven
    fraction digits: the ones past microseconds are dropped), ``2025-06-14 17:42:28``
    (Coresignal), ISO 8601 with ``Z`` or ``+00:00``, a bare date. A value without an offset
    is UTC. Raises ValueError for anything else; :func:`utc_timestamp` is the lenient form.
    The parse is by hand, not ``datetime.fromisoformat``: Python 3.10 reads none of the
    first three.
    """
    if isinstance(value, str) and _FAST_ISO and (value[-1:].isdigit() or value[-1:] == "Z"):
        try:  # C speed; Python 3.11+ reads all of the forms above
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    match = _TIMESTAMP.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        msg = f"not a timestamp: {value!r}"
        raise ValueError(msg)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    zone = timezone.utc
    if offset and offset not in {"Z", "z"}:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "")[:6].ljust(6, "0")),
        tzinfo=zone,
    )
    return moment.astimezone(timezone.utc)


def utc_timestamp(value: object) -> datetime | None:
    """:func:`parse_timestamp`, or None for a value that is not a timestamp."""
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def iso_timestamp(value: object) -> str | None:
    """A timestamp as RFC 3339 in UTC (``2020-07-22T09:11:32+00:00``), or None.

    Microseconds appear only when there are some. YouServe's records use
    :func:`iso_timestamp_micro` instead (see there).
    """
    if isinstance(value, str) and _FAST_ISO and (value[-1:].isdigit() or value[-1:] == "Z"):
        try:  # the usual vendor forms, without the conversions parse_timestamp makes for a datetime
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:  # UTC: what astimezone would write, without converting
                return parsed.isoformat() + "+00:00"
            return parsed.astimezone(timezone.utc).isoformat()
    moment = value if isinstance(value, datetime) else utc_timestamp(value)
    return None if moment is None else moment.astimezone(timezone.utc).isoformat()


def iso_timestamp_micro(moment: datetime) -> str:
    """RFC 3339 in UTC, always with six fraction digits.

    The intended difference from :func:`iso_timestamp`: YouServe upload dates carry
    sub-second parts and its bookmark is compared as written, so every value has one
    fixed width (``...47.400000+00:00``), which sorts as the dates do.
    """
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


# ---- Content-Range -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentRange:
    """A parsed ``Content-Range`` header: None where it says ``*``."""

    unit: str | None
    first: int | None
    last: int | None
    total: int | None


def content_range(header: str | None) -> ContentRange | None:
    """Parse ``Content-Range``; None when it is absent or not a range.

    Talentsoft exports send item ranges (``0-99/250``, no unit) and YouServe byte ranges
    (``bytes 0-1023/4096``): one parser, each caller checks the unit and fields it needs.
    """
    match = _CONTENT_RANGE.fullmatch(header or "")
    if match is None:
        return None
    unit, first, last, total = match.groups()
    return ContentRange(
        unit=unit.lower() if unit else None,
        first=int(first) if first is not None else None,
        last=int(last) if last is not None else None,
        total=int(total) if total != "*" else None,
    )
