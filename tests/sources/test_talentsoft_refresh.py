"""Talentsoft targeted refreshes: the records webhook events name are re-exported by id, once.

The receiver journals the events (tests/webhooks/seed.py writes a journal as it does); the next
run of ``vacancies`` / ``candidates`` asks ``filter=id::a,b`` for the records the events name
that its own pass did not already emit, so one webhook means one targeted refresh, not a full
export. The id filter's syntax is the public connector's: ``id::_TS-00001,_TS-00002``
(Riminder/hrflow-connectors, src/hrflow_connectors/connectors/talentsoft/docs/applicant_new.md;
its connector.py sends ``filter=id::{applicantId}`` for every applicant event).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.sources.talentsoft.streams import EVENTS_REFRESHED, CandidatesStream
from tap_hrdata.statecheck import StateError
from tests.conftest import config_for, mount
from tests.conftest import run_tap as run_tap_in_place
from tests.conftest import run_tap_partial as run_tap_partial_in_place
from tests.emulator.server import Fault
from tests.emulator.talentsoft import TalentsoftEmulator, parse_filter
from tests.webhooks.seed import seed_talentsoft_journal

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import SyncResult
    from tests.emulator.server import Emulator


@pytest.fixture
def vendor(emulator: Emulator) -> TalentsoftEmulator:
    return mount(emulator, TalentsoftEmulator(vacancies=25, candidates=12, attachments_per_candidate=(1, 2)))


def config(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, **talentsoft: Any) -> dict[str, Any]:
    settings = {"page_size": 4, "referential_categories": [], **talentsoft}
    return config_for(emulator, vendor, files=tmp_path / "files", talentsoft=settings)


def run_tap(cfg: dict[str, Any], state: dict[str, Any] | None = None) -> SyncResult:
    return run_tap_in_place(cfg, copy.deepcopy(state))


def keys(result: SyncResult, stream: str) -> list[str]:
    key = "reference" if stream == "vacancies" else "id"
    return [record[key] for record in result.records(stream)]


def id_calls(vendor: TalentsoftEmulator, export: str, since: int) -> list[str]:
    """The ``filter`` of each id-filtered call of ``export`` from call number ``since`` on."""
    return [call[3] for call in vendor.export_calls[since:] if call[0] == export and call[3] and "id::" in call[3]]


def events(cfg: dict[str, Any], *, vacancies: tuple[str, ...] = (), candidates: tuple[str, ...] = ()) -> int:
    """Journal one ``vacancy_update`` per vacancy and one ``applicant_update`` per candidate; the journal's end."""
    bodies = tuple({"event": "vacancy_update", "data": {"reference": ref}} for ref in vacancies) + tuple(
        {"event": "applicant_update", "data": {"applicantId": cid}} for cid in candidates
    )
    return seed_talentsoft_journal(cfg["files_storage_url"], bodies)


def test_offset_mode_refreshes_exactly_the_records_events_name(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    """In ``offset`` mode an edit is never seen by paging: the event brings it, and only it."""
    cfg = config(emulator, vendor, tmp_path, replication="offset")
    first = run_tap(cfg)
    assert EVENTS_REFRESHED not in first.last_state["bookmarks"]["vacancies"]  # no journal, nothing kept
    [edited_vacancy] = vendor.edit_vacancies(3)
    [edited_candidate] = vendor.edit_candidates(5)
    [appended] = vendor.add_vacancies(1)
    end = events(cfg, vacancies=(edited_vacancy, edited_vacancy), candidates=(edited_candidate,))
    calls = len(vendor.export_calls)

    second = run_tap(cfg, first.last_state)
    assert keys(second, "vacancies") == [appended, edited_vacancy]  # the page after the bookmark, then the refresh
    assert keys(second, "candidates") == [edited_candidate]
    assert {a["candidate_id"] for a in second.records("attachments")} == {edited_candidate}
    assert id_calls(vendor, "vacancies", calls) == [f"id::{edited_vacancy}"]  # two events, one id, one call
    assert id_calls(vendor, "candidates", calls) == [f"id::{edited_candidate}"]
    refreshed = next(r for r in second.records("vacancies") if r["reference"] == edited_vacancy)
    assert refreshed["update_date"].startswith(_iso_day(vendor.update_epoch("vacancies", 3)))
    state = second.last_state["bookmarks"]
    # The refresh moved no offset bookmark; the journal position it covers is kept per stream.
    assert state["vacancies"]["replication_key_value"] == 25
    assert state["vacancies"][EVENTS_REFRESHED] == end
    assert state["candidates"][EVENTS_REFRESHED] == end

    calls = len(vendor.export_calls)
    third = run_tap(cfg, second.last_state)
    assert keys(third, "vacancies") == []
    assert id_calls(vendor, "vacancies", calls) == []  # no new event, no refresh call


def _iso_day(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def test_modified_mode_asks_only_for_what_its_pass_did_not_bring(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    first = run_tap(cfg)
    [edited] = vendor.edit_vacancies(7)
    untouched = vendor.vacancy_reference(11)  # an event whose change did not move updateDate
    events(cfg, vacancies=(edited, untouched))
    calls = len(vendor.export_calls)
    second = run_tap(cfg, first.last_state)
    assert keys(second, "vacancies") == [edited, untouched]  # each once: the pass brought the edited one
    assert id_calls(vendor, "vacancies", calls) == [f"id::{untouched}"]
    assert second.last_state["bookmarks"]["vacancies"]["ids_at_bookmark"] == [edited]  # the refresh moved nothing


def test_a_first_run_reads_everything_and_refreshes_nothing(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    end = events(cfg, vacancies=(vendor.vacancy_reference(0),), candidates=(vendor.candidate_id(0),))
    first = run_tap(cfg)
    assert len(keys(first, "vacancies")) == 25
    assert id_calls(vendor, "vacancies", 0) == []
    assert id_calls(vendor, "candidates", 0) == []
    assert first.last_state["bookmarks"]["vacancies"][EVENTS_REFRESHED] == end


def test_many_ids_go_in_batches_with_the_users_filter(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tap_hrdata.sources.talentsoft.streams.REFRESH_BATCH", 3)
    cfg = config(emulator, vendor, tmp_path, replication="offset", filter="creationDate:ge:2000-01-01")
    first = run_tap(cfg)
    named = tuple(vendor.candidate_id(i) for i in (0, 2, 4, 6, 8, 10, 11))
    events(cfg, candidates=(*named, "no,such:id"))
    calls = len(vendor.export_calls)
    second = run_tap(cfg, first.last_state)
    assert sorted(keys(second, "candidates")) == sorted(named)
    sent = id_calls(vendor, "candidates", calls)
    assert len(sent) == 3  # 7 ids, 3 a call (the id with a comma and a colon cannot be put in a filter)
    assert all(f.startswith("creationDate:ge:2000-01-01,id::") for f in sent)


def test_a_run_broken_during_the_refresh_refreshes_again(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path, replication="offset")
    first = run_tap(cfg)
    named = vendor.candidate_id(4)
    end = events(cfg, candidates=(named,))
    vendor.faults.add(Fault(path_regex="/candidates$", query_regex="filter=id", status=400, times=100))
    broken, error = run_tap_partial_in_place(cfg, copy.deepcopy(first.last_state))
    assert "400" in str(error)
    assert EVENTS_REFRESHED not in broken.last_state["bookmarks"]["candidates"]
    vendor.faults.clear()
    again = run_tap(cfg, broken.last_state)
    assert keys(again, "candidates") == [named]
    assert again.last_state["bookmarks"]["candidates"][EVENTS_REFRESHED] == end


def test_a_state_that_predates_the_journal_refreshes_from_its_start_and_a_cut_journal_is_survived(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(emulator, vendor, tmp_path, replication="offset")
    first = run_tap(cfg)
    events(cfg, vacancies=(vendor.vacancy_reference(1),))
    end = events(cfg, vacancies=(vendor.vacancy_reference(2),))
    second = run_tap(cfg, first.last_state)  # no events_refreshed_through yet: the whole journal
    assert keys(second, "vacancies") == [vendor.vacancy_reference(1), vendor.vacancy_reference(2)]

    state = copy.deepcopy(second.last_state)
    state["bookmarks"]["vacancies"][EVENTS_REFRESHED] = end + 1000  # the journal was replaced by a shorter one
    third = run_tap(cfg, state)
    assert keys(third, "vacancies") == []
    assert third.last_state["bookmarks"]["vacancies"][EVENTS_REFRESHED] == end
    assert "is not a position of the webhook journal" in caplog.text


@pytest.mark.parametrize("value", [-1, "12", 1.5, True])
def test_a_bad_refresh_position_is_refused(value: object) -> None:
    with pytest.raises(StateError, match=r"candidates\.events_refreshed_through"):
        CandidatesStream.check_state({"replication_key": "offset", "replication_key_value": 3, EVENTS_REFRESHED: value})


def test_the_emulator_reads_id_filters_as_the_connector_writes_them() -> None:
    assert parse_filter("id::_TS-00001") == ((-1, "in", frozenset({"_TS-00001"})),)
    assert parse_filter("updateDate:gt:2024-01-01,id::_TS-00001,_TS-00002") == (
        (1, "gt", 1704067200.0),
        (-1, "in", frozenset({"_TS-00001", "_TS-00002"})),
    )
    for bad in ("id::", "id:gt:3", "id::a,,b"):
        with pytest.raises(ValueError, match="invalid"):
            parse_filter(bad)
