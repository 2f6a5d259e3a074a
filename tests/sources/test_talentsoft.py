"""Talentsoft exports against the emulator: paging, resume, attachments, faults, secrets."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.tap import TapHrData
from tests.conftest import assert_no_client_secret, config_for, mount, run_tap, run_tap_partial
from tests.emulator.server import Emulator, Fault
from tests.emulator.talentsoft import TalentsoftEmulator

TS_STREAMS = {
    "vacancies",
    "candidates",
    "applications",
    "attachments",
    "referentials",
    "referential_translations",
    "talentsoft_events",
}


def ts_config(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, **talentsoft: Any) -> dict[str, Any]:
    return config_for(emulator, vendor, files=tmp_path / "files", talentsoft=talentsoft)


@pytest.fixture
def vendor(emulator: Emulator) -> TalentsoftEmulator:
    return mount(emulator, TalentsoftEmulator(vacancies=25, candidates=12, attachments_per_candidate=(1, 3)))


def test_discovery_lists_only_talentsoft(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    tap = TapHrData(config=ts_config(emulator, vendor, tmp_path))
    assert set(tap.streams) == TS_STREAMS


def test_full_sync(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    config = ts_config(emulator, vendor, tmp_path, page_size=7, referential_categories=["countries", "languages"])
    result = run_tap(config)

    vacancies = result.records("vacancies")
    expected = [d["offerDetail"]["reference"] for d in vendor.vacancy_docs()]
    assert [v["reference"] for v in vacancies] == expected
    assert [v["offset"] for v in vacancies] == list(range(25))
    assert vacancies[0]["raw"] == next(iter(vendor.vacancy_docs()))  # nothing dropped

    candidates = result.records("candidates")
    docs = list(vendor.candidate_docs())
    assert [c["id"] for c in candidates] == [d["candidateDetail"]["id"] for d in docs]
    assert candidates[3]["raw"] == docs[3]
    applications = result.records("applications")
    assert len(applications) == sum(len(d["applications"]) for d in docs)
    assert {a["candidate_id"] for a in applications} <= {c["id"] for c in candidates}

    # One token for the whole run, shared by every stream; pages follow Content-Range.
    assert vendor.token_requests == 1
    vacancy_offsets = [offset for endpoint, offset, _, _ in vendor.export_calls if endpoint == "vacancies"]
    assert vacancy_offsets == [0, 7, 14, 21]

    referentials = result.records("referentials")
    assert {r["category"] for r in referentials} == {"countries", "languages"}
    assert len(referentials) == len(vendor.referential("countries")) + len(vendor.referential("languages"))

    # replication: modified (the default): the bookmark is the greatest modification date emitted.
    bookmarks = result.last_state["bookmarks"]
    assert bookmarks["vacancies"]["replication_key"] == "update_date"
    latest = max(d["offerDetail"]["updateDate"] for d in vendor.vacancy_docs())
    assert bookmarks["vacancies"]["replication_key_value"] == latest
    assert bookmarks["candidates"]["replication_key_value"] == max(d["candidateDetail"]["updateDate"] for d in docs)


def test_a_full_last_page_asks_once_more_whatever_content_range_says(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    """25 vacancies in pages of 5: page 5 reaches the total, but a full page may not be the last
    (a total can understate the export), so offset 25 is asked, and answers ``*/25``."""
    result = run_tap(ts_config(emulator, vendor, tmp_path, page_size=5))
    assert [v["offset"] for v in result.records("vacancies")] == list(range(25))
    assert [call[1] for call in vendor.export_calls if call[0] == "vacancies"] == [0, 5, 10, 15, 20, 25]


def test_a_bookmark_past_the_exports_end_is_said(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Offset 99 with 25 vacancies: nothing to read, and a warning rather than a silent empty run."""
    state = {"bookmarks": {"vacancies": {"replication_key": "offset", "replication_key_value": 99}}}
    result = run_tap(ts_config(emulator, vendor, tmp_path, replication="offset"), state=state)
    assert result.records("vacancies") == []
    assert "talentsoft stream 'vacancies': the bookmark is past the export's end (next offset 100" in caplog.text
    assert "talentsoft stream 'candidates': the bookmark is past" not in caplog.text  # no bookmark: read from 0


def test_attachments_checksums_and_storage_paths(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    result = run_tap(ts_config(emulator, vendor, tmp_path, page_size=5))
    attachments = result.records("attachments")
    expected = {(d["candidateDetail"]["id"], a["id"]) for d in vendor.candidate_docs() for a in d["attachments"]}
    assert {(a["candidate_id"], a["attachment_id"]) for a in attachments} == expected
    for record in attachments:
        path = tmp_path / "files" / "talentsoft" / "attachments" / record["candidate_id"] / record["attachment_id"]
        data = path.read_bytes()
        assert record["storage_uri"] == f"file://{path}"
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        assert record["sha256"] == vendor.attachment_sha256(record["candidate_id"], record["attachment_id"])
        assert record["size_bytes"] == len(data)
        assert record["content_base64"] is None
    assert not list((tmp_path / "files").rglob("*.part-*"))


def test_inline_small_attachments(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(
        emulator,
        TalentsoftEmulator(candidates=3, attachments_per_candidate=(1, 1), attachment_size=(300, 300)),
    )
    config = {**ts_config(emulator, vendor, tmp_path), "inline_files_max_bytes": 300}
    attachments = run_tap(config).records("attachments")
    assert attachments
    assert all(a["content_base64"] for a in attachments)


def test_resume_from_bookmark(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    state = {"bookmarks": {"vacancies": {"replication_key": "offset", "replication_key_value": 9}}}
    result = run_tap(ts_config(emulator, vendor, tmp_path, page_size=10, replication="offset"), state=state)
    assert [v["offset"] for v in result.records("vacancies")] == list(range(10, 25))
    assert [call[1] for call in vendor.export_calls if call[0] == "vacancies"] == [10, 20]


def test_incremental_rerun_fetches_only_new_records(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    config = ts_config(emulator, vendor, tmp_path)
    first = run_tap(config)
    added = vendor.add_vacancies(2)
    second = run_tap(config, state=first.last_state)
    assert [v["reference"] for v in second.records("vacancies")] == added
    assert second.records("candidates") == []
    # The same in replication: offset, where the new records are the ones after the bookmark's offset.
    vendor = mount(emulator, TalentsoftEmulator(vacancies=25, candidates=12, attachments_per_candidate=(1, 3)))
    config = ts_config(emulator, vendor, tmp_path, replication="offset")
    first = run_tap(config)
    vendor.add_vacancies(2)
    second = run_tap(config, state=first.last_state)
    assert [v["offset"] for v in second.records("vacancies")] == [25, 26]
    assert second.records("candidates") == []


def test_filter_keeps_its_own_bookmark(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    """replication: offset (modified: tests/sources/test_talentsoft_modified.py)."""
    config = ts_config(emulator, vendor, tmp_path, filter="updateDate:gt:2000-01-01", replication="offset")
    result = run_tap(config)
    assert {call[3] for call in vendor.export_calls} == {"updateDate:gt:2000-01-01"}
    partitions = result.last_state["bookmarks"]["vacancies"]["partitions"]
    assert partitions[0]["context"] == {"export_filter": "updateDate:gt:2000-01-01"}
    assert partitions[0]["replication_key_value"] == 24


def test_broken_body_resumes_after_last_record(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex="/vacancies$", abort_after=3000))
    result = run_tap(ts_config(emulator, vendor, tmp_path, page_size=100))
    offsets = [v["offset"] for v in result.records("vacancies")]
    assert offsets == list(range(25))  # nothing lost, nothing twice
    calls = [offset for endpoint, offset, _, _ in vendor.export_calls if endpoint == "vacancies"]
    assert len(calls) == 2
    assert 0 < calls[1] < 25  # the retry started after the records already taken


def test_body_ending_inside_a_frame_is_retried(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex="/candidates$", kind="truncate", params={"frame": 4}))
    result = run_tap(ts_config(emulator, vendor, tmp_path))
    assert [c["offset"] for c in result.records("candidates")] == list(range(12))
    calls = [offset for endpoint, offset, _, _ in vendor.export_calls if endpoint == "candidates"]
    assert calls == [0, 3]


def test_oversized_frame_length_is_a_clear_error(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path
) -> None:
    vendor.faults.add(Fault(path_regex="/vacancies$", kind="huge_length", params={"frame": 2}))
    result, error = run_tap_partial(ts_config(emulator, vendor, tmp_path))
    assert "max_frame_bytes" in str(error)
    assert [v["offset"] for v in result.records("vacancies")] == [0]


def test_401_on_a_valid_token_renews_once(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    config = ts_config(emulator, vendor, tmp_path, page_size=10)
    vendor.faults.add(Fault(path_regex="/vacancies$", status=401))
    result = run_tap(config)
    assert len(result.records("vacancies")) == 25
    assert vendor.token_requests == 2


def test_wrong_secret_fails_clearly(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    config = ts_config(emulator, vendor, tmp_path)
    config["talentsoft"]["client_secret"] = "not-the-secret-xyz"
    _, error = run_tap_partial(config)
    assert "HTTP 401" in str(error)
    assert "/api/token" in str(error)
    assert "not-the-secret-xyz" not in str(error)
    assert vendor.token_requests == 1  # a refused credential is not retried


def test_429_honours_retry_after(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex="/vacancies$", status=429, retry_after="1"))
    started = time.monotonic()
    result = run_tap(ts_config(emulator, vendor, tmp_path, referential_categories=[]))
    assert time.monotonic() - started >= 1.0
    assert len(result.records("vacancies")) == 25


def test_client_error_names_endpoint_and_status(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    _, error = run_tap_partial(ts_config(emulator, vendor, tmp_path, filter="nonsense"))
    message = str(error)
    assert re.search(r"GET /ts/api/exports/v1/(vacancies|candidates) failed", message)
    assert "HTTP 400" in message
    assert "filter=" not in message  # no query string in errors
    assert not any(token in message for token in vendor.issued_tokens)


def test_attachment_ids_never_become_paths(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex="/candidates$", kind="traversal_id", params={"frame": 1}))
    vendor.faults.add(Fault(path_regex="/candidates$", kind="traversal", params={"frame": 2}))
    result = run_tap(ts_config(emulator, vendor, tmp_path / "deep" / "root"))
    root = tmp_path / "deep" / "root" / "files"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    assert all(root in p.parents for p in written)
    hostile = [a for a in result.records("attachments") if a["attachment_id"] == "../../x"]
    assert hostile
    assert hostile[0]["storage_uri"].endswith("/..%2F..%2Fx")


def test_zip_bomb_is_refused(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex="/candidates$", kind="zip_bomb", params={"frame": 1}))
    _, error = run_tap_partial(ts_config(emulator, vendor, tmp_path, max_frame_bytes=10_000_000))
    assert "zip bomb" in str(error)


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    config = {"talentsoft": {"base_url": "http://talentsoft.example.com", "client_id": "a", "client_secret": "b"}}
    with pytest.raises(ConfigValidationError, match="plain http"):
        _ = TapHrData(config=config).streams


def test_no_secret_in_output_or_logs(
    emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vendor.faults.add(Fault(path_regex="/candidates$", status=503))
    vendor.faults.add(Fault(path_regex="/vacancies$", status=401))
    with caplog.at_level(logging.DEBUG):
        result = run_tap(ts_config(emulator, vendor, tmp_path))
    assert_no_client_secret(vendor, result.text() + caplog.text)


# ---- the exports as they are served today (issue 12) --------------------------------------------


def test_current_records_fill_the_typed_columns_from_the_real_paths(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(
        emulator, TalentsoftEmulator(vacancies=6, candidates=6, attachments_per_candidate=(1, 2), shape="current")
    )
    result = run_tap(ts_config(emulator, vendor, tmp_path))
    vacancies = {r["reference"]: r for r in result.records("vacancies")}
    for doc in vendor.vacancy_docs():
        detail = doc["offerDetail"]
        record = vacancies[detail["reference"]]
        assert record["title"] == detail["jobDescription"]["title"]
        assert record["contract_type"] == detail["jobDescription"]["contractType"]["label"]
        assert record["location_country"] == detail["jobDescription"]["country"]["label"]
        assert record["location_address"] == detail["location"]["address"]
        assert record["location_latitude"] == detail["location"]["latitude"]
        assert record["location_longitude"] == detail["location"]["longitude"]
        assert record["update_date"] == detail["modificationDate"]
        assert record["raw"] == doc
    candidates = {r["id"]: r for r in result.records("candidates")}
    for doc in vendor.candidate_docs():
        person = doc["candidateDetail"]["personalInformation"]
        record = candidates[doc["candidateDetail"]["id"]]
        assert (record["first_name"], record["last_name"]) == (person["firstName"], person["lastName"])
        assert (record["email"], record["phone"]) == (person["email"], person["phoneNumber"])
        assert (record["is_employee"], record["is_in_progress"]) == (doc["isEmployee"], doc["isInProgress"])
        assert record["position_sought"] == doc["candidateDetail"]["positionSought"]["primaryProfile"]["label"]
        assert record["update_date"] == doc["candidateDetail"]["modificationDate"]


def test_referential_items_without_id_are_keyed_by_their_code(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, TalentsoftEmulator(vacancies=1, candidates=0, shape="current"))
    result = run_tap(ts_config(emulator, vendor, tmp_path, referential_categories=["countries", "languages"]))
    records = result.records("referentials")
    items = [(c, i) for c in ("countries", "languages") for i in vendor.referential(c)]
    assert all("id" not in item for _, item in items)
    assert sorted((r["category"], r["id"]) for r in records) == sorted((c, str(i["code"])) for c, i in items)
    assert len({(r["category"], r["id"]) for r in records}) == len(items)  # never collapsed into one row


def test_a_referential_item_with_nothing_to_key_it_by_is_a_clear_error(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, TalentsoftEmulator(vacancies=1, candidates=0, shape="current"))
    vendor.referential("countries")[:] = [{"label": "France", "active": True}]  # served as it is
    _, error = run_tap_partial(ts_config(emulator, vendor, tmp_path))
    assert "talentsoft stream 'referentials': category 'countries' holds an item with no id, code or clientCode" in str(
        error
    )


def test_query_and_attachment_type_reach_the_exports(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(
        emulator, TalentsoftEmulator(vacancies=12, candidates=5, attachments_per_candidate=(2, 3), shape="current")
    )
    title = next(vendor.vacancy_docs())["offerDetail"]["jobDescription"]["title"]
    query = title.split()[0]
    config = ts_config(emulator, vendor, tmp_path, query=query, attachment_type="resume")
    result = run_tap(config)
    sent = dict(vendor.export_params)
    assert sent["vacancies"]["q"] == query
    assert sent["candidates"]["attachmenttype"] == "resume"
    assert "attachmenttype" not in sent["vacancies"]
    assert all(query.lower() in json.dumps(r["raw"]).lower() for r in result.records("vacancies"))
    assert len(result.records("vacancies")) < 12
    assert all(a["is_resume"] for a in result.records("attachments"))
    # offsets are positions in the queried set: its bookmark is its own
    bookmarks = result.last_state["bookmarks"]["vacancies"]["partitions"]
    assert bookmarks[0]["context"] == {"export_query": query}
