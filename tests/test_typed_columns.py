"""On the vendors' records as they are served today, no typed column the vendor fills is null.

Each source runs in its current generation against the emulator (Talentsoft's real export
shapes, HrFlow's Storing API and current objects, Visma Connect and the Youforce host,
Coresignal's v2 API); every record is checked against its vendor object (``raw``) with the
column table of tests/contracts/columns.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import current_generation, run_tap
from tests.contracts.columns import TABLES, unfilled
from tests.emulator.server import Emulator


@pytest.mark.parametrize("source", ["talentsoft", "hrflow", "youserve", "coresignal"])
def test_every_typed_column_the_vendor_fills_is_filled(emulator: Emulator, tmp_path: Path, source: str) -> None:
    result = run_tap(current_generation(emulator, source, tmp_path))
    checked = 0
    for stream in result.streams() & set(TABLES):
        for record in result.records(stream):
            assert unfilled(TABLES[stream], record["raw"], record) == [], f"{stream}: {record['raw']}"
            checked += 1
    assert checked >= 10
