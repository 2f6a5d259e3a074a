"""Talentsoft reports on indexed data (``talentsoft.report_indexing``): confirmed records only, each version once.

A run reports what the state it *started* with covers: the records of the run that wrote
that state (a target wrote it after committing them). Runs here hand each other their
last STATE as a target that committed everything would; a run "whose target never
confirmed" is one whose state is not handed on.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tap_hrdata.sources.talentsoft.reports import BATCH, MARK, report_date
from tap_hrdata.sources.talentsoft.streams import VacanciesStream
from tap_hrdata.statecheck import StateError
from tests.conftest import config_for, mount, run_tap_partial
from tests.conftest import run_tap as run_tap_in_place
from tests.emulator.server import Fault
from tests.emulator.talentsoft import TalentsoftEmulator, report_problem

if TYPE_CHECKING:
    from tests.conftest import SyncResult
    from tests.emulator.server import Emulator

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"vacancies": "reference", "candidates": "id"}


@pytest.fixture
def vendor(emulator: Emulator) -> TalentsoftEmulator:
    return mount(emulator, TalentsoftEmulator(vacancies=130, candidates=12, attachments_per_candidate=(0, 1)))


def config(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, **talentsoft: Any) -> dict[str, Any]:
    settings = {"page_size": 40, "referential_categories": [], "report_indexing": True, **talentsoft}
    return config_for(emulator, vendor, files=tmp_path / "files", talentsoft=settings)


def run_tap(cfg: dict[str, Any], state: dict[str, Any] | None = None) -> SyncResult:
    """A sync from a copy of ``state`` (the tap updates the state it is given in place)."""
    return run_tap_in_place(cfg, copy.deepcopy(state))


def versions(result: SyncResult, stream: str) -> set[tuple[str, str | None]]:
    """What a run emitted, as reports name it: (id, lastUpdateDate)."""
    key = KEYS[stream]
    return {(record[key], report_date(record["update_date"])) for record in result.records(stream)}


def reported(vendor: TalentsoftEmulator, stream: str) -> list[tuple[str, str]]:
    return vendor.reported_items(stream)


@pytest.mark.parametrize("replication", ["modified", "offset"])
def test_a_run_reports_exactly_the_records_its_starting_state_confirms_once(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, replication: str
) -> None:
    cfg = config(emulator, vendor, tmp_path, replication=replication)
    first = run_tap(cfg)
    assert len(first.records("vacancies")) == 130
    assert vendor.reports == []  # nothing confirmed yet: no target has committed anything

    second = run_tap(cfg, first.last_state)
    for stream in KEYS:
        items = reported(vendor, stream)
        assert len(items) == len(set(items))  # each version once
        assert set(items) == versions(first, stream)
    assert all(len(body["items"]) <= BATCH for body in vendor.reports)
    assert len([body for body in vendor.reports if body["reportType"] == "vacancies"]) == 2  # 130 in batches of 100
    assert all(item["status"] == "success" for body in vendor.reports for item in body["items"])
    created = {r["reference"]: report_date(r["creation_date"]) for r in first.records("vacancies")}
    assert all(
        item["date"] == created[item["id"]]
        for b in vendor.reports
        if b["reportType"] == "vacancies"
        for item in b["items"]
    )

    sent = len(vendor.reports)
    run_tap(cfg, second.last_state)
    assert len(vendor.reports) == sent  # nothing new


def test_a_state_no_target_confirmed_reports_nothing(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    run_tap(cfg)  # its target never committed: its state is lost
    second = run_tap(cfg)  # from no state: exports everything again
    assert vendor.reports == []
    run_tap(cfg, second.last_state)
    for stream in KEYS:
        items = reported(vendor, stream)
        assert Counter(items) == Counter(versions(second, stream))  # once each, not once per run that emitted it


def test_an_edit_the_target_never_confirmed_is_not_reported_until_it_is(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    first = run_tap(cfg)
    refs = vendor.edit_vacancies(3, 70)
    ids = vendor.edit_candidates(2)

    second = run_tap(cfg, first.last_state)  # reports the first run's versions, emits the edited ones
    assert {key for key, _ in versions(second, "vacancies")} == set(refs)
    assert set(reported(vendor, "vacancies")) == versions(first, "vacancies")
    sent = len(vendor.reports)

    # The second run's target never confirmed: the third starts from the first run's state again.
    third = run_tap(cfg, first.last_state)
    assert versions(third, "vacancies") == versions(second, "vacancies")
    assert len(vendor.reports) == sent  # the edited versions are not confirmed: not reported

    run_tap(cfg, third.last_state)
    new = vendor.reports[sent:]
    assert {(i["id"], i["lastUpdateDate"]) for b in new if b["reportType"] == "vacancies" for i in b["items"]} == (
        versions(third, "vacancies")
    )
    assert {(i["id"], i["lastUpdateDate"]) for b in new if b["reportType"] == "candidates" for i in b["items"]} == (
        versions(third, "candidates")
    )
    assert {key for key, _ in versions(third, "candidates")} == set(ids)
    # The new version of each edited record was reported after the old one: once each.
    for stream in KEYS:
        assert len(reported(vendor, stream)) == len(set(reported(vendor, stream)))
    edited = [item for item in reported(vendor, "vacancies") if item[0] == refs[0]]
    assert len(edited) == 2
    assert edited[0][1] != edited[1][1]


def test_a_failed_report_is_sent_by_the_next_run(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    first = run_tap(cfg)
    vendor.faults.add(Fault(path_regex=r"/api/exports/v1/reports$", status=500, times=10_000))
    second = run_tap(cfg, first.last_state)  # the run itself goes on
    assert vendor.reports == []
    assert "the report on indexed data failed" in caplog.text
    assert MARK in second.last_state["bookmarks"]["vacancies"]

    vendor.faults.clear()
    third = run_tap(cfg, second.last_state)
    for stream in KEYS:
        items = reported(vendor, stream)
        assert Counter(items) == Counter(versions(first, stream))
    sent = len(vendor.reports)
    run_tap(cfg, third.last_state)
    assert len(vendor.reports) == sent


def test_a_state_written_mid_run_confirms_exactly_the_records_written_before_it(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(VacanciesStream, "STATE_MSG_FREQUENCY", 10)  # a STATE every 10 records
    cfg = config(emulator, vendor, tmp_path)
    # The second page's 25th frame cannot be read: the run stops after 64 vacancies.
    vendor.faults.add(Fault(path_regex="/vacancies$", query_regex="offset=40&", kind="bad_json", params={"frame": 25}))
    broken, _ = run_tap_partial(cfg, {})
    written: list[dict[str, Any]] = []
    marked: list[tuple[int, dict[str, Any]]] = []
    for message in broken.messages:
        if message["type"] == "RECORD" and message["stream"] == "vacancies":
            written.append(message["record"])
        elif message["type"] == "STATE" and MARK in message["value"]["bookmarks"].get("vacancies", {}):
            mark = message["value"]["bookmarks"]["vacancies"][MARK]
            assert mark["emitted"] == len(written)  # a mark counts exactly the records written before its STATE
            marked.append((len(written), message["value"]))
    assert len(written) == 64
    assert [count for count, _ in marked[:6]] == [10, 20, 30, 40, 50, 60]
    assert vendor.reports == []

    # A target that committed up to the STATE after the 30th record: exactly those 30 are reported.
    run_tap(cfg, marked[2][1])
    expected = {(r["reference"], report_date(r["update_date"])) for r in written[:30]}
    assert Counter(reported(vendor, "vacancies")) == Counter(expected)


def test_a_version_written_again_is_not_reported_again(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    first = run_tap(cfg)
    run_tap(cfg, first.last_state)
    sent = len(vendor.reports)
    # A full refresh: everything emitted again, then confirmed; the same versions are not reported twice.
    again = run_tap(cfg)
    run_tap(cfg, again.last_state)
    assert len(vendor.reports) == sent


def test_report_indexing_off_sends_nothing(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    cfg = config(emulator, vendor, tmp_path, report_indexing=False)
    first = run_tap(cfg)
    second = run_tap(cfg, first.last_state)
    run_tap(cfg, second.last_state)
    assert vendor.reports == []
    assert not (tmp_path / "files" / "talentsoft" / "reports").exists()
    assert MARK not in json.dumps(second.last_state)


def test_test_mode_reports_nothing(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    cfg = config(emulator, vendor, tmp_path)
    first = run_tap(cfg)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "state.json").write_text(json.dumps(first.last_state))
    args = ["--config", str(tmp_path / "config.json"), "--state", str(tmp_path / "state.json"), "--test"]
    done = subprocess.run(
        [sys.executable, "-m", "tap_hrdata", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert vendor.reports == []
    run_tap(cfg, first.last_state)  # the same state in a real run does report
    assert vendor.reports


def test_a_bad_mark_stops_the_run_before_any_request(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    state = {"bookmarks": {"vacancies": {MARK: {"run": "../x", "emitted": 3}}}}
    with pytest.raises(StateError, match=r"bookmarks\.vacancies\.report_mark"):
        run_tap(cfg, state)
    assert vendor.token_requests == 0


def test_the_emulator_refuses_a_report_not_shaped_as_the_doc_says(
    emulator: Emulator, vendor: TalentsoftEmulator
) -> None:
    good = {
        "reportType": "vacancies",
        "items": [
            {"id": "V1", "date": "2019-05-16T11:38:37Z", "lastUpdateDate": "2019-05-16T11:38:37Z", "status": "success"}
        ],
    }
    assert report_problem(good) is None
    assert report_problem({**good, "reportType": "offers"}) is not None
    assert report_problem({**good, "items": []}) is not None
    assert report_problem({**good, "items": [{**good["items"][0], "status": "ok"}]}) is not None
    assert report_problem({**good, "items": [{**good["items"][0], "lastUpdateDate": None}]}) is not None
    assert report_problem({**good, "items": [{**good["items"][0], "messages": ["x"]}]}) is not None
    base = emulator.url(vendor.prefix)
    token = requests.post(
        f"{base}/api/token",
        data={"grant_type": "client_credentials", "client_id": vendor.client_id, "client_secret": vendor.client_secret},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    bad = requests.post(f"{base}/api/exports/v1/reports", json={"reportType": "vacancies"}, headers=headers, timeout=10)
    assert bad.status_code == 400
    ok = requests.post(f"{base}/api/exports/v1/reports", json=good, headers=headers, timeout=10)
    assert ok.status_code == 200
    assert vendor.reports == [good]
