"""The record pipeline's fast paths write what the SDK's own passes write.

``VendorStream`` skips the SDK's selection pass when the catalog selects everything, and
takes :class:`~tap_hrdata.streams.Conformance`'s fast path for records the SDK's type
conformance would leave as they are; every other record goes through the SDK.
"""

from __future__ import annotations

import datetime
import decimal
import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_hrdata.selection import MemoSelectionMask
from tap_hrdata.streams import Conformance
from tests.conftest import current_generation, run_tap
from tests.emulator.server import Emulator

LOGGER = logging.getLogger("test")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["string"]},
        "count": {"type": ["integer", "null"]},
        "ratio": {"type": ["number", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "strict_flag": {"type": "boolean"},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "raw": {"type": ["object", "null"]},
        "nested": {"type": ["object", "null"], "properties": {"b": {"type": ["boolean", "null"]}}},
        "tags": {"type": ["array", "null"], "items": {"type": ["boolean", "null"]}},
        "free": {},
    },
}

VALUES: list[object] = [
    "x",
    "",
    0,
    1,
    2,
    True,
    False,
    None,
    1.5,
    float("nan"),
    float("inf"),
    decimal.Decimal("1.5"),
    {"b": 1, "c": "x"},
    [1, 0, None],
    [{"b": 2}],
    b"\x00",
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    datetime.date(2026, 1, 2),
]


def outcome(conform: Any, record: dict[str, Any]) -> object:
    """What a conformance returns, or the type of what it raises (the SDK refuses some values)."""
    try:
        return conform(dict(record))
    except Exception as exc:  # compared, not handled
        return type(exc)


def same(left: object, right: object) -> bool:
    """Equal, NaN included, and of the same types (True is not 1)."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        assert isinstance(right, dict)
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        assert isinstance(right, list)
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return left == right


@pytest.mark.parametrize("level", list(TypeConformanceLevel))
@pytest.mark.parametrize("name", [*SCHEMA["properties"], "not_in_schema"])
def test_every_value_in_every_kind_of_column_conforms_as_the_sdk_does(name: str, level: TypeConformanceLevel) -> None:
    conformance = Conformance(SCHEMA, level)
    for value in VALUES:
        record = {"id": "k", name: value, "count": 3}
        fast = outcome(lambda r: conformance.conform("s", r, LOGGER), record)
        sdk = outcome(lambda r: conform_record_data_types("s", r, SCHEMA, level, LOGGER), record)
        assert same(fast, sdk), value


def test_the_fast_path_is_taken_for_the_values_record_builders_make() -> None:
    conformance = Conformance(SCHEMA, TypeConformanceLevel.RECURSIVE)
    record = {"id": "k", "count": 3, "ratio": 1.5, "flag": None, "strict_flag": True, "raw": {"a": [1]}}
    assert conformance.unchanged(record)
    result = conformance.conform("s", record, LOGGER)
    assert result == record
    assert result is not record  # a new dict, as the SDK's


@pytest.mark.parametrize("record", [{"flag": 1}, {"ratio": math.inf}, {"nested": {"b": 1}}, {"tags": [1]}, {"x": 1}])
def test_records_the_sdk_would_change_are_not_on_the_fast_path(record: dict[str, Any]) -> None:
    assert not Conformance(SCHEMA, TypeConformanceLevel.RECURSIVE).unchanged(record)


@pytest.mark.parametrize("source", ["talentsoft", "hrflow", "youserve", "coresignal"])
def test_a_whole_sync_writes_the_same_records_with_and_without_the_fast_paths(
    emulator: Emulator, tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_records: list[int] = []
    unchanged = Conformance.unchanged

    def counted(self: Conformance, record: dict[str, Any]) -> bool:
        taken = unchanged(self, record)
        fast_records.append(taken)
        return taken

    monkeypatch.setattr(Conformance, "unchanged", counted)
    fast = run_tap(current_generation(emulator, source, tmp_path / "fast"))
    assert sum(fast_records) >= 10

    # The SDK's own passes: its conformance for every record, its selection pass too.
    monkeypatch.setattr(Conformance, "unchanged", lambda self, record: False)
    memo_init = MemoSelectionMask.__init__

    def selecting_nothing_for_sure(self: MemoSelectionMask, *args: Any) -> None:
        memo_init(self, *args)
        self.selects_everything = False

    monkeypatch.setattr(MemoSelectionMask, "__init__", selecting_nothing_for_sure)
    slow = run_tap(current_generation(emulator, source, tmp_path / "slow"))

    def records(result: Any, folder: str) -> list[object]:
        """The RECORD messages, but for where files went and the id Coresignal gives each data request."""
        written = [(m["stream"], m["record"]) for m in result.messages if m["type"] == "RECORD"]
        for _, record in written:
            if "data_request_id" in record:
                record["data_request_id"] = "<request>"
        return json.loads(json.dumps(written).replace(str(tmp_path / folder), "<files>"))

    assert len(records(fast, "fast")) >= 10
    assert records(fast, "fast") == records(slow, "slow")
