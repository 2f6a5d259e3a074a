"""What every stream shares: the run summary (records, files, bytes, calls, retries) and progress lines."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tap_hrdata.stats import StreamStats
from tests.conftest import config_for, mount, run_tap
from tests.emulator.server import Emulator, Fault
from tests.emulator.talentsoft import TalentsoftEmulator


def talentsoft_config(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> dict[str, object]:
    return config_for(emulator, vendor, files=tmp_path)


def test_progress_and_summary_lines(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = mount(emulator, TalentsoftEmulator(candidates=4, attachments_per_candidate=(2, 2)))
    monkeypatch.setattr(StreamStats, "PROGRESS_SECONDS", 0.0)
    vendor.faults.add(Fault(path_regex=r"/api/v1/referentials/", status=503))
    with caplog.at_level(logging.INFO):
        run_tap(talentsoft_config(emulator, vendor, tmp_path))
    assert "Progress of stream 'attachments'" in caplog.text
    assert "Summary of stream 'attachments': 8 records, 8 files" in caplog.text
    assert "Summary of stream 'candidates': 4 records, 0 files" in caplog.text
    # referentials: one category, one 503 retried: 2 calls, 1 retry
    assert "Summary of stream 'referentials': " in caplog.text
    line = next(line for line in caplog.text.splitlines() if "Summary of stream 'referentials'" in line)
    assert line.endswith("2 API calls, 1 retries")
