"""Stream talentsoft_events: the journal's events, each once, incremental on the journal position."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tap_hrdata.sources.talentsoft.events import TalentsoftEventsStream, event_window
from tap_hrdata.statecheck import StateError
from tap_hrdata.storage import FileStorage
from tap_hrdata.tap import TapHrData
from tap_hrdata.webhooks.journal import JournalWriter, journal_path
from tap_hrdata.webhooks.talentsoft import named_ids
from tests.conftest import captured_stdout, config_for, mount, run_tap, run_tap_partial
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.webhooks.seed import seed_talentsoft_journal

STREAM = "talentsoft_events"


@pytest.fixture
def config(emulator: Emulator) -> dict[str, Any]:
    vendor = mount(emulator, TalentsoftEmulator(vacancies=2, candidates=1))
    return config_for(emulator, vendor)


def journal(config: dict[str, Any]) -> Path:
    return journal_path(FileStorage(config["files_storage_url"]), "talentsoft")


def append(config: dict[str, Any], *bodies: dict[str, Any]) -> int:
    return seed_talentsoft_journal(config["files_storage_url"], bodies)


def vacancy(event_id: str, reference: str) -> dict[str, Any]:
    return {"eventId": event_id, "event": "vacancy_update", "hookId": "h-1", "data": {"reference": reference}}


def test_no_journal_no_records(config: dict[str, Any]) -> None:
    result = run_tap(config)
    assert result.records(STREAM) == []
    assert "vacancies" in result.streams()


def test_events_are_emitted_once_across_runs(config: dict[str, Any]) -> None:
    end = append(config, vacancy("e1", "VAC-1"), {"event": "applicant_new", "data": {"applicantId": "C-9"}})
    first = run_tap(config)
    records = first.records(STREAM)
    assert [r["event"] for r in records] == ["vacancy_update", "applicant_new"]
    assert records[0] == {
        "event_key": "e1",
        "journal_position": records[0]["journal_position"],
        "received_at": "2026-12-02T10:00:00.000000Z",
        "event": "vacancy_update",
        "object_type": "vacancy",
        "object_id": "VAC-1",
        "hook_id": "h-1",
        "raw": vacancy("e1", "VAC-1"),
    }
    assert records[1]["object_id"] == "C-9"
    assert records[1]["event_key"].startswith("sha256:")
    assert records[-1]["journal_position"] == end
    state = first.last_state
    assert state["bookmarks"][STREAM]["replication_key_value"] == end

    # a line being written (or torn) is not read; the next run reads it once complete
    with journal(config).open("ab") as handle:
        handle.write(b'{"v":1,"event_key":"half')
    assert run_tap(config, state=state).records(STREAM) == []
    JournalWriter(journal(config), logging.getLogger("test")).open().close()  # the next receiver cuts it off
    append(config, vacancy("e3", "VAC-3"))
    second = run_tap(config, state=state)
    assert [r["event_key"] for r in second.records(STREAM)] == ["e3"]
    assert run_tap(config, state=second.last_state).records(STREAM) == []


@pytest.mark.parametrize("where", ["past the end", "inside a line"])
def test_a_bookmark_that_is_no_position_of_the_journal_stops_the_run(config: dict[str, Any], where: str) -> None:
    end = append(config, vacancy("e1", "VAC-1"), vacancy("e2", "VAC-2"))
    bookmark = end + 100 if where == "past the end" else end - 5
    state = {"bookmarks": {STREAM: {"replication_key": "journal_position", "replication_key_value": bookmark}}}
    result, error = run_tap_partial(config, state)
    assert isinstance(error, StateError)
    assert f"the bookmark {bookmark} is not a position of the journal" in str(error)
    assert result.records(STREAM) == []


@pytest.mark.parametrize("value", ["abc", -1, 4.5, True])
def test_a_bad_bookmark_stops_the_run(value: object) -> None:
    with pytest.raises(StateError, match=r"bookmarks\.talentsoft_events\.replication_key_value"):
        TalentsoftEventsStream.check_state({"replication_key": "journal_position", "replication_key_value": value})


def test_named_ids_for_targeted_refreshes() -> None:
    events = [
        ("vacancy_update", {"data": {"reference": "VAC-1"}}),
        ("vacancy_new", {"reference": "VAC-2"}),
        ("application_event_new", {"data": {"applicantId": "C-1", "vacancyReference": "VAC-1"}}),
        ("applicant_update", {"payload": {"id": "C-2"}}),
        ("vacancy_update", {"data": {}}),
    ]
    assert named_ids(events) == {"vacancies": {"VAC-1", "VAC-2"}, "candidates": {"C-1", "C-2"}}


def test_one_window_per_run_shared_with_the_targeted_refreshes(config: dict[str, Any]) -> None:
    first_end = append(config, vacancy("e1", "VAC-1"), {"event": "applicant_update", "data": {"applicantId": "C-1"}})
    tap = TapHrData(config=config, state={})
    window = event_window(tap)
    assert (window.start, window.end) == (0, first_end)
    assert window.named_ids() == {"vacancies": {"VAC-1"}, "candidates": {"C-1"}}
    append(config, vacancy("e2", "VAC-2"))  # arrives while the run goes on: the next run's
    assert event_window(tap) is window
    with captured_stdout() as raw:
        tap.sync_all()
        messages = [json.loads(line) for line in raw.getvalue().splitlines()]
    emitted = [m["record"]["event_key"] for m in messages if m["type"] == "RECORD" and m["stream"] == STREAM]
    assert len(emitted) == 2
    assert emitted[0] == "e1"
    assert emitted[1].startswith("sha256:")  # no id: keyed by the hash of its body
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert state["bookmarks"][STREAM]["replication_key_value"] == first_end
    following = run_tap(config, state=state)
    assert [r["event_key"] for r in following.records(STREAM)] == ["e2"]
    assert event_window(TapHrData(config=config, state=following.last_state)).named_ids() == {
        "vacancies": set(),
        "candidates": set(),
    }
