"""What every stream shares: the run summary (records, files, bytes, calls, retries) and progress lines."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tap_hrdata.stats import StreamStats
from tests.conftest import config_for, current_generation, mount, run_tap, run_tap_partial
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator, Fault
from tests.emulator.talentsoft import TalentsoftEmulator


@pytest.fixture
def progress_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StreamStats, "PROGRESS_SECONDS", 0.0)


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
    assert re.search(r"2 API calls, 1 retries, \d+\.\ds$", line)


def test_a_progress_line_has_rates_and_with_a_total_a_percentage_and_an_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("tap_hrdata.stats.time.monotonic", lambda: clock[0])
    records = [0]
    stats = StreamStats("vacancies", logging.getLogger("test"), lambda: records[0])
    stats.expect_more(records=1000)
    clock[0], records[0] = 110.0, 250
    stats.add(bytes=5_000_000)
    assert stats.progress() == ("250 of 1,000 records (25%), 0 files, 5.0 MB; 25 records/s, 0.5 MB/s; ETA 30s")
    stats.expect_more(records=1000)  # a second export (partition) announced
    assert "250 of 2,000 records (12%)" in stats.progress()

    files = StreamStats("delivered_files", logging.getLogger("test"), lambda: 0)
    files.expect_more(files=4)
    clock[0] = 400.0
    files.add(bytes=1, files=1)
    assert files.progress().startswith("0 records (25%), 1 of 4 files")
    assert files.progress().endswith("ETA 14m30s")  # 290 s for a quarter

    unknown = StreamStats("hrflow_profiles", logging.getLogger("test"), lambda: 7)
    unknown.add(bytes=10)
    assert "%" not in unknown.progress()
    assert "ETA" not in unknown.progress()


@pytest.mark.parametrize(
    ("source", "announced"),
    [
        ("talentsoft", r"Progress of stream 'vacancies': [\d,]+ of 12 records"),  # Content-Range
        ("hrflow", r"Progress of stream 'hrflow_profiles': [\d,]+ of \d+ records"),  # meta.total
        ("youserve", r"Progress of stream 'delivered_files': .* of \d+ files"),  # the listing's count
        ("coresignal", r"Progress of stream 'bulk_jobs': .* of \d+ files"),  # the request's files
    ],
)
@pytest.mark.usefixtures("progress_at_every_step")
def test_each_source_announces_its_total(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str, announced: str
) -> None:
    with caplog.at_level(logging.INFO):
        run_tap(current_generation(emulator, source, tmp_path))
    assert re.search(announced, caplog.text), caplog.text[-3000:]
    assert re.search(r"\(\d+%\).*; ETA \d+s", caplog.text)


def test_a_failed_run_prints_what_every_stream_did_before_it(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    talentsoft = mount(emulator, TalentsoftEmulator(vacancies=5, candidates=3))
    hrflow = mount(emulator, HrflowEmulator())
    hrflow.faults.add(Fault(path_regex=r"/profiles", status=403, times=100))
    with caplog.at_level(logging.INFO):
        run_tap_partial(config_for(emulator, talentsoft, hrflow, files=tmp_path))
    assert "Stream 'hrflow_profiles' failed; what this run did until then:" in caplog.text
    assert "Summary of stream 'vacancies': 5 records" in caplog.text
    assert "Summary of stream 'candidates': 3 records" in caplog.text
    assert "Summary of stream 'hrflow_profiles' (failed): 0 records" in caplog.text
    assert caplog.text.count("Summary of stream 'vacancies'") == 1
