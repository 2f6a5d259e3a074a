"""On the vendors' records as they are served today, no typed column the vendor fills is null.

Each source runs in its current generation against the emulator (Talentsoft's real export
shapes, HrFlow's Storing API and current objects, Visma Connect and the Youforce host,
Coresignal's v2 API); every record is checked against its vendor object (``raw``) with the
column table of tests/contracts/columns.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import config_for, mount, run_tap
from tests.contracts.columns import TABLES, unfilled
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator


def current_config(emulator: Emulator, source: str, tmp_path: Path) -> dict[str, Any]:
    """A fresh vendor of ``source`` serving its current generation, and the tap config for it."""
    files = tmp_path / "files"
    if source == "talentsoft":
        vendor = mount(emulator, TalentsoftEmulator(vacancies=12, candidates=8, shape="current"))
        return config_for(
            emulator, vendor, files=files, talentsoft={"referential_categories": ["countries", "languages"]}
        )
    if source == "hrflow":
        vendor = mount(emulator, HrflowEmulator(shape="current", unindexed_profiles=2))
        return config_for(emulator, vendor, files=files)
    if source == "youserve":
        vendor = mount(emulator, YouserveEmulator())
        return config_for(emulator, vendor.youforce, files=files)
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=0))
    return config_for(emulator, vendor, coresignal={"api_token": None, "api_key": vendor.api_key})


@pytest.mark.parametrize("source", ["talentsoft", "hrflow", "youserve", "coresignal"])
def test_every_typed_column_the_vendor_fills_is_filled(emulator: Emulator, tmp_path: Path, source: str) -> None:
    result = run_tap(current_config(emulator, source, tmp_path))
    checked = 0
    for stream in result.streams() & set(TABLES):
        for record in result.records(stream):
            assert unfilled(TABLES[stream], record["raw"], record) == [], f"{stream}: {record['raw']}"
            checked += 1
    assert checked >= 10
