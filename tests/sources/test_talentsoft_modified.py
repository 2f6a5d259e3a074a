"""Talentsoft ``replication: modified`` (the default): edits to old records reach the next run.

Against the emulator, whose export is in export order (not by date) and whose records can be
edited in place between runs (``edit_vacancies`` / ``edit_candidates``): the second run emits
exactly the edited records (and the edited candidates' applications and attachments), records
at the bookmark's instant are not lost, a run that breaks mid-export resumes at the next record
of the same filtered export, ``start_date`` is the first run's lower bound, an ``offset`` state
moves to ``modified`` without a full refresh, and a bad state is refused before any request.
"""

from __future__ import annotations

import copy
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.sources.talentsoft.streams import ModifiedBookmark, ModifiedPass, VacanciesStream, bookmark_after
from tap_hrdata.statecheck import StateError
from tests.conftest import config_for, mount
from tests.conftest import run_tap as run_tap_in_place
from tests.conftest import run_tap_partial as run_tap_partial_in_place
from tests.emulator.server import Fault
from tests.emulator.talentsoft import TalentsoftEmulator

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import SyncResult
    from tests.emulator.server import Emulator

EXPORTS = ("vacancies", "candidates")


@pytest.fixture
def vendor(emulator: Emulator) -> TalentsoftEmulator:
    return mount(emulator, TalentsoftEmulator(vacancies=25, candidates=12, attachments_per_candidate=(1, 3)))


def config(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, **talentsoft: Any) -> dict[str, Any]:
    settings = {"page_size": 4, "referential_categories": [], **talentsoft}
    return config_for(emulator, vendor, files=tmp_path / "files", talentsoft=settings)


def run_tap(cfg: dict[str, Any], state: dict[str, Any] | None = None) -> SyncResult:
    """A sync from a copy of ``state`` (the tap updates the state it is given in place)."""
    return run_tap_in_place(cfg, copy.deepcopy(state))


def run_tap_partial(cfg: dict[str, Any], state: dict[str, Any] | None = None) -> tuple[SyncResult, BaseException]:
    """A failing sync from a copy of ``state``."""
    return run_tap_partial_in_place(cfg, copy.deepcopy(state))


def keys(result: SyncResult, stream: str) -> list[str]:
    key = "reference" if stream == "vacancies" else "id"
    return [record[key] for record in result.records(stream)]


def filters(vendor: TalentsoftEmulator, export: str, since: int = 0) -> list[str | None]:
    """The ``filter`` of each call of ``export`` from call number ``since`` on."""
    return [call[3] for call in vendor.export_calls[since:] if call[0] == export]


def epoch(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def candidate_with_children(vendor: TalentsoftEmulator) -> int:
    """The index of an old candidate with applications (every candidate here has attachments)."""
    return next(i for i, doc in enumerate(vendor.candidate_docs()) if doc["applications"] and i < 10)


def test_a_second_run_emits_exactly_the_edited_records_and_their_children(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    first = run_tap(cfg)
    assert len(keys(first, "vacancies")) == 25
    assert len(keys(first, "candidates")) == 12
    assert set(filters(vendor, "vacancies")) == {None}  # the whole export, once
    state = first.last_state
    assert state["bookmarks"]["vacancies"]["replication_key"] == "update_date"

    index = candidate_with_children(vendor)
    edited_vacancies = vendor.edit_vacancies(3, 17)
    [edited_candidate] = vendor.edit_candidates(index)
    calls = len(vendor.export_calls)
    second = run_tap(cfg, state)

    assert sorted(keys(second, "vacancies")) == sorted(edited_vacancies)
    assert keys(second, "candidates") == [edited_candidate]
    doc: Any = list(vendor.candidate_docs())[index]
    assert {a["application_id"] for a in second.records("applications")} == {a["id"] for a in doc["applications"]}
    assert {a["attachment_id"] for a in second.records("attachments")} == {a["id"] for a in doc["attachments"]}
    bookmark = state["bookmarks"]["vacancies"]["replication_key_value"]
    assert filters(vendor, "vacancies", calls) == [f"updateDate:ge:{bookmark}"]
    # The new bookmark is the edit's date, with the edited keys at it; a third run emits nothing.
    after = second.last_state["bookmarks"]["vacancies"]
    assert epoch(after["replication_key_value"]) == vendor.update_epoch("vacancies", 3)
    assert after["ids_at_bookmark"] == sorted(edited_vacancies)
    assert "modified_run" not in after
    assert "progress_markers" not in after
    third = run_tap(cfg, second.last_state)
    assert keys(third, "vacancies") == []
    assert keys(third, "candidates") == []


def test_offset_mode_never_sees_edits_to_old_records(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path, replication="offset")
    first = run_tap(cfg)
    assert first.last_state["bookmarks"]["vacancies"]["replication_key"] == "offset"
    vendor.edit_vacancies(3, 17)
    vendor.edit_candidates(candidate_with_children(vendor))
    [appended] = vendor.add_vacancies(1)
    second = run_tap(cfg, first.last_state)
    assert keys(second, "vacancies") == [appended]  # appended records only: the edits are missed
    assert keys(second, "candidates") == []
    assert second.records("applications") == []


def test_records_modified_at_the_bookmark_instant_are_not_lost(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path)
    first = run_tap(cfg)
    for export in EXPORTS:
        assert first.last_state["bookmarks"][export]["ids_at_bookmark"]  # the records emitted at that instant
    # After the first run, one vacancy and one candidate are modified in the same second as the bookmark.
    vacancy_instant = epoch(first.last_state["bookmarks"]["vacancies"]["replication_key_value"])
    candidate_instant = epoch(first.last_state["bookmarks"]["candidates"]["replication_key_value"])
    previous = set(first.last_state["bookmarks"]["vacancies"]["ids_at_bookmark"])
    vacancy_index = next(i for i in range(25) if vendor.vacancy_reference(i) not in previous)
    [vacancy] = vendor.edit_vacancies(vacancy_index, at=vacancy_instant)
    previous = set(first.last_state["bookmarks"]["candidates"]["ids_at_bookmark"])
    candidate_index = next(i for i in range(12) if vendor.candidate_id(i) not in previous)
    [candidate] = vendor.edit_candidates(candidate_index, at=candidate_instant)

    second = run_tap(cfg, first.last_state)
    assert keys(second, "vacancies") == [vacancy]  # not the ones already emitted at that instant
    assert keys(second, "candidates") == [candidate]
    after = second.last_state["bookmarks"]["vacancies"]
    assert epoch(after["replication_key_value"]) == vacancy_instant
    assert vacancy in after["ids_at_bookmark"]
    assert set(first.last_state["bookmarks"]["vacancies"]["ids_at_bookmark"]) < set(after["ids_at_bookmark"])
    third = run_tap(cfg, second.last_state)
    assert keys(third, "vacancies") == []
    assert keys(third, "candidates") == []


def test_a_run_broken_mid_export_resumes_at_the_next_record_of_the_same_filtered_export(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(VacanciesStream, "STATE_MSG_FREQUENCY", 1)  # a STATE after each record
    cfg = config(emulator, vendor, tmp_path, page_size=3)
    first = run_tap(cfg)
    edited = vendor.edit_vacancies(1, 4, 6, 9, 12, 15, 18, 21)  # one date: one filtered export of 8
    calls = len(vendor.export_calls)
    # The third page's second frame cannot be read: the run stops there.
    vendor.faults.add(Fault(path_regex="/vacancies$", query_regex="offset=6&", kind="bad_json", params={"frame": 2}))
    broken, error = run_tap_partial(cfg, first.last_state)
    assert "not valid JSON" in str(error)
    emitted = keys(broken, "vacancies")
    assert 0 < len(emitted) < len(edited)
    assert emitted == edited[: len(emitted)]  # export order, up to the broken frame
    run = broken.last_state["bookmarks"]["vacancies"]["modified_run"]
    since = filters(vendor, "vacancies", calls)[0]
    assert since is not None
    assert since.startswith("updateDate:ge:")
    assert run["since"] == since
    last_offset = run["offset"]
    assert last_offset == 6  # the frame before the broken one (filtered offset 7)
    # The committed bookmark has not moved: the export is not sorted by date.
    assert (
        broken.last_state["bookmarks"]["vacancies"]["replication_key_value"]
        == first.last_state["bookmarks"]["vacancies"]["replication_key_value"]
    )

    calls = len(vendor.export_calls)
    resumed = run_tap(cfg, broken.last_state)
    first_call = next(call for call in vendor.export_calls[calls:] if call[0] == "vacancies")
    assert first_call[1] == last_offset + 1  # the next record ...
    assert first_call[3] == since  # ... of the same filtered export
    assert keys(resumed, "vacancies") == edited[len(emitted) :]  # each edited record exactly once over the two
    after = resumed.last_state["bookmarks"]["vacancies"]
    assert "modified_run" not in after
    assert epoch(after["replication_key_value"]) == vendor.update_epoch("vacancies", 1)
    assert keys(run_tap(cfg, resumed.last_state), "vacancies") == []


def test_a_record_edited_behind_the_pass_while_it_runs_is_read_by_the_next_run(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export is not sorted by date: while a pass reads it, vacancy 0 (already passed) and vacancy
    20 (ahead) are edited, 20 with a later date than 0. The bookmark stops at the vendor's clock when
    the pass started, not at vacancy 20's date: the next run reads vacancy 0."""
    cfg = config(emulator, vendor, tmp_path, page_size=1, max_concurrent_requests=1)
    first = run_tap(cfg)
    vendor.edit_vacancies(2)  # something for the pass to read
    answer = vendor._export  # the emulator's export, wrapped
    edited: list[str] = []

    def export(request: Any, kind: str, fault: Any) -> Any:
        if kind == "vacancies" and request.arg("offset") == "1" and not edited:  # position 0 is passed
            now = int(time.time())
            edited.extend(vendor.edit_vacancies(0, at=now + 5))
            edited.extend(vendor.edit_vacancies(20, at=now + 10))
        return answer(request, kind, fault)

    monkeypatch.setattr(vendor, "_export", export)
    second = run_tap(cfg, first.last_state)
    behind, ahead = edited
    assert ahead in keys(second, "vacancies")
    assert behind not in keys(second, "vacancies")  # passed before it was edited
    bookmark = epoch(second.last_state["bookmarks"]["vacancies"]["replication_key_value"])
    assert bookmark < vendor.update_epoch("vacancies", 0)  # capped at the pass's start
    third = run_tap(cfg, second.last_state)
    assert behind in keys(third, "vacancies")


def test_start_date_is_the_first_runs_lower_bound(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    start = "2023-06-01T00:00:00Z"
    cfg = config(emulator, vendor, tmp_path)
    cfg["start_date"] = start
    first = run_tap(cfg)
    assert set(filters(vendor, "vacancies")) == {"updateDate:gt:2023-06-01T00:00:00Z"}
    expected = [i for i in range(25) if vendor.update_epoch("vacancies", i) > epoch(start)]
    assert 0 < len(expected) < 25
    assert keys(first, "vacancies") == [vendor.vacancy_reference(i) for i in expected]
    # Then incremental from the bookmark (start_date is older).
    [old] = vendor.edit_vacancies(next(i for i in range(25) if i not in expected))
    calls = len(vendor.export_calls)
    second = run_tap(cfg, first.last_state)
    assert keys(second, "vacancies") == [old]
    bookmark = first.last_state["bookmarks"]["vacancies"]["replication_key_value"]
    assert filters(vendor, "vacancies", calls) == [f"updateDate:ge:{bookmark}"]


def test_the_user_filter_is_kept_and_the_date_clause_joined_to_it(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    cfg = config(emulator, vendor, tmp_path, filter="creationDate:ge:2021-01-01")
    first = run_tap(cfg)
    assert set(filters(vendor, "vacancies")) == {"creationDate:ge:2021-01-01"}
    partition = first.last_state["bookmarks"]["vacancies"]["partitions"][0]
    assert partition["context"] == {"export_filter": "creationDate:ge:2021-01-01"}
    [edited] = vendor.edit_vacancies(2)
    calls = len(vendor.export_calls)
    second = run_tap(cfg, first.last_state)
    assert keys(second, "vacancies") == [edited]
    assert filters(vendor, "vacancies", calls) == [
        f"creationDate:ge:2021-01-01,updateDate:ge:{partition['replication_key_value']}"
    ]
    assert {r["export_filter"] for r in second.records("vacancies")} == {"creationDate:ge:2021-01-01"}


def test_an_offset_state_moves_to_modified_without_a_full_refresh(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    offset_state = run_tap(config(emulator, vendor, tmp_path, replication="offset")).last_state
    assert offset_state["bookmarks"]["vacancies"]["replication_key_value"] == 24
    [edited] = vendor.edit_vacancies(3)
    cfg = config(emulator, vendor, tmp_path)  # modified: the default
    calls = len(vendor.export_calls)
    first = run_tap(cfg, offset_state)
    # No modified bookmark yet: the whole export once (an offset says nothing of edits before it).
    assert set(filters(vendor, "vacancies", calls)) == {None}
    assert len(keys(first, "vacancies")) == 25
    assert edited in keys(first, "vacancies")
    after = first.last_state["bookmarks"]["vacancies"]
    assert after["replication_key"] == "update_date"
    assert epoch(after["replication_key_value"]) == vendor.update_epoch("vacancies", 3)
    # Then incremental.
    quiet = run_tap(cfg, first.last_state)
    assert keys(quiet, "vacancies") == []
    [again] = vendor.edit_vacancies(8)
    assert keys(run_tap(cfg, quiet.last_state), "vacancies") == [again]


FUTURE = "2099-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("entry", "path", "said"),
    [
        ({"replication_key": "update_date", "replication_key_value": "abc"}, "replication_key_value", "timestamp"),
        ({"replication_key": "update_date", "replication_key_value": 12}, "replication_key_value", "timestamp"),
        ({"replication_key": "update_date", "replication_key_value": FUTURE}, "replication_key_value", "future"),
        (
            {"replication_key": "update_date", "replication_key_value": "2024-01-01T00:00:00Z", "ids_at_bookmark": "x"},
            "ids_at_bookmark",
            "list of record keys",
        ),
        (
            {"replication_key": "update_date", "replication_key_value": "2024-01-01T00:00:00Z", "ids_at_bookmark": [1]},
            "ids_at_bookmark",
            "list of record keys",
        ),
        ({"modified_run": "x"}, "modified_run", "an object"),
        ({"modified_run": {"since": None, "offset": "abc"}}, "modified_run.offset", "record offset"),
        ({"modified_run": {"since": None, "offset": -5}}, "modified_run.offset", "record offset"),
        ({"modified_run": {"since": 5, "offset": 3}}, "modified_run.since", "filter clause"),
        ({"modified_run": {"since": None, "offset": 3, "latest": "nope"}}, "modified_run.latest", "timestamp"),
        ({"modified_run": {"since": None, "offset": 3, "latest": FUTURE}}, "modified_run.latest", "future"),
        ({"modified_run": {"since": None, "offset": 3, "ids_at_latest": [""]}}, "modified_run.ids_at_latest", "keys"),
        ({"modified_run": {"since": None, "offset": 3, "started": "x"}}, "modified_run.started", "timestamp"),
    ],
)
@pytest.mark.parametrize("where", ["stream", "partition"])
def test_a_bad_modified_state_stops_the_run_before_any_request(  # noqa: PLR0917  # fixtures and parameters
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, entry: dict[str, Any], path: str, said: str,
    where: str,
) -> None:  # fmt: skip
    cfg = config(emulator, vendor, tmp_path)
    if where == "partition":
        cfg["talentsoft"]["filter"] = "creationDate:ge:2021-01-01"
        state = {
            "bookmarks": {
                "candidates": {"partitions": [{"context": {"export_filter": "creationDate:ge:2021-01-01"}, **entry}]}
            }
        }
        prefix = "candidates.partitions[0]"
    else:
        state = {"bookmarks": {"candidates": entry}}
        prefix = "candidates"
    _, error = run_tap_partial(cfg, state)
    assert isinstance(error, StateError), f"{type(error).__name__}: {error}"
    assert f"state: bookmarks.{prefix}.{path}" in str(error)
    assert said in str(error)
    assert vendor.export_calls == []


def test_the_bookmark_never_passes_the_vendors_clock_when_the_pass_started() -> None:
    """A record edited during a pass, behind its position, is dated after the pass started:
    the bookmark stops at that start, so the next run reads it (and the later records again)."""
    start = datetime(2026, 1, 1, 10, 0, 0, tzinfo=timezone.utc)
    done = ModifiedPass(since=None, offset=9, latest=start + timedelta(seconds=5), ids_at_latest={"A"}, started=start)
    assert bookmark_after(None, done) == ModifiedBookmark(start, frozenset())
    done = ModifiedPass(since=None, offset=9, latest=start - timedelta(seconds=5), ids_at_latest={"A"}, started=start)
    assert bookmark_after(None, done) == ModifiedBookmark(start - timedelta(seconds=5), frozenset({"A"}))
    # Keys at the same instant accumulate; a pass that emitted nothing keeps the bookmark.
    previous = ModifiedBookmark(start - timedelta(seconds=5), frozenset({"B"}))
    assert bookmark_after(previous, done) == ModifiedBookmark(previous.moment, frozenset({"A", "B"}))
    assert bookmark_after(previous, ModifiedPass(since="x", started=start)) == previous
