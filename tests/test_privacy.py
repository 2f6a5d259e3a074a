"""Personal data redaction (the ``redact`` setting): typed columns and ``raw`` alike."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.jsondecode import MAX_DEPTH
from tap_hrdata.privacy import Redactor, StreamRedaction
from tap_hrdata.sources.talentsoft.streams import CandidatesStream
from tap_hrdata.tap import TapHrData
from tests.conftest import config_for, mount, run_tap
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator

SALT = "a-secret-salt-of-some-length"
PERSONAL = ["personalInformation.email", "personalInformation.phoneNumber"]


def keyed(value: str) -> str:
    return hmac.new(SALT.encode(), value.encode(), hashlib.sha256).hexdigest()


def personal_values(vendor: TalentsoftEmulator) -> dict[str, tuple[str, str]]:
    """Each candidate's email and phone, as the vendor has them."""
    values = {}
    for document in vendor.candidate_docs():
        info = document["candidateDetail"]["personalInformation"]
        values[document["candidateDetail"]["id"]] = (info["email"], info["phoneNumber"])
    return values


@pytest.fixture
def talentsoft(emulator: Emulator) -> TalentsoftEmulator:
    return mount(emulator, TalentsoftEmulator(vacancies=3, candidates=12, shape="current"))


def test_a_path_inside_raw_redacts_the_columns_read_from_it() -> None:
    redaction = StreamRedaction.of(PERSONAL, CandidatesStream.column_sources)
    assert redaction.columns == {"email", "phone"}
    by_column = StreamRedaction.of(["email"], CandidatesStream.column_sources)
    assert by_column.columns == {"email"}
    assert ("candidateDetail", "personalInformation", "email") in by_column.paths  # its fields in raw too


def test_hash_and_drop_reach_every_match_inside_raw_and_leave_the_input_alone() -> None:
    record = {
        "id": "c1",
        "email": "ann@example.com",
        "raw": {
            "candidateDetail": {"personalInformation": {"email": "ann@example.com", "city": "Lyon"}},
            "contacts": [{"personalInformation": {"email": "bob@example.com"}}, {"other": 1}],
            "email": "not under personalInformation",
        },
    }
    original = copy.deepcopy(record)
    redaction = StreamRedaction.of(["personalInformation.email"], CandidatesStream.column_sources)

    hashed = Redactor(redaction, "hash", SALT).apply(record)
    assert record == original
    assert hashed["email"] == keyed("ann@example.com")
    assert hashed["raw"]["candidateDetail"]["personalInformation"] == {
        "email": keyed("ann@example.com"),
        "city": "Lyon",
    }
    assert hashed["raw"]["contacts"] == [{"personalInformation": {"email": keyed("bob@example.com")}}, {"other": 1}]
    assert hashed["raw"]["email"] == "not under personalInformation"  # the path's whole end must match

    dropped = Redactor(redaction, "drop", None).apply(record)
    assert dropped["email"] is None
    assert dropped["raw"]["candidateDetail"]["personalInformation"] == {"city": "Lyon"}
    assert dropped["raw"]["contacts"][0] == {"personalInformation": {}}

    nested = Redactor(StreamRedaction.of(["personalInformation"], {}), "hash", SALT).apply(record)
    expected = json.dumps({"city": "Lyon", "email": "ann@example.com"}, separators=(",", ":"))
    assert nested["raw"]["candidateDetail"]["personalInformation"] == keyed(expected)  # objects as compact JSON


def test_a_record_nested_to_the_json_limit_is_redacted() -> None:
    """``raw`` is never deeper than the decoders' limit; the walk, one or two frames a level, has room."""
    deep: Any = {"personalInformation": {"email": "ann@example.com"}}
    for _ in range(MAX_DEPTH - 3):
        deep = [deep]
    record = {"id": "c1", "raw": {"contacts": deep}}
    redacted = Redactor(StreamRedaction.of(["personalInformation.email"], {}), "hash", SALT).apply(record)
    inner = redacted["raw"]["contacts"]
    for _ in range(MAX_DEPTH - 3):
        inner = inner[0]
    assert inner == {"personalInformation": {"email": keyed("ann@example.com")}}


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_no_redacted_value_leaves_the_tap(emulator: Emulator, talentsoft: TalentsoftEmulator, mode: str) -> None:
    config = config_for(emulator, talentsoft, redact={"candidates": PERSONAL}, redact_mode=mode, redact_salt=SALT)
    result = run_tap(config)
    values = personal_values(talentsoft)
    candidates = result.records("candidates")
    assert len(candidates) == len(values)
    output = json.dumps(result.messages)
    for email, phone in values.values():
        assert email not in output
        assert phone not in output
    for record in candidates:
        email, phone = values[record["id"]]
        info = record["raw"]["candidateDetail"]["personalInformation"]
        if mode == "hash":
            assert (record["email"], record["phone"]) == (keyed(email), keyed(phone))
            assert (info["email"], info["phoneNumber"]) == (keyed(email), keyed(phone))
        else:
            assert (record["email"], record["phone"]) == (None, None)
            assert "email" not in info
            assert "phoneNumber" not in info
        assert info["firstName"]  # what is not named stays
    assert result.records("vacancies")  # other streams untouched


def test_a_stream_map_alone_leaves_raw_in_cleartext(emulator: Emulator, talentsoft: TalentsoftEmulator) -> None:
    """Why the setting exists: a map hashes the column, raw keeps the address."""
    config = config_for(emulator, talentsoft, stream_maps={"candidates": {"email": "md5(email) if email else None"}})
    result = run_tap(config)
    emails = {email for email, _ in personal_values(talentsoft).values()}
    raw_emails = {r["raw"]["candidateDetail"]["personalInformation"]["email"] for r in result.records("candidates")}
    assert raw_emails == emails


def problems(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigValidationError) as caught:
        TapHrData(config=config).streams  # noqa: B018  # discovery validates the settings
    return list(caught.value.errors)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"redact": {"candidates": PERSONAL}}, "redact_salt: set a secret of at least 16 characters"),
        ({"redact": {"candidates": PERSONAL}, "redact_salt": "short"}, "redact_salt: set a secret"),
        ({"redact": {"candidate": PERSONAL}, "redact_salt": SALT}, "redact.candidate: no such stream (did you mean"),
        ({"redact": {"candidates": ["id"]}, "redact_salt": SALT}, "cannot redact 'id', a key of the stream"),
        (
            {"redact": {"candidates": ["candidateDetail.id"]}, "redact_mode": "drop"},
            "cannot redact 'id', a key of the stream",
        ),
        ({"redact": {"candidates": ["personalInformation."]}, "redact_salt": SALT}, "must be a list of dotted"),
        ({"redact": {"candidates": PERSONAL}, "redact_mode": "mask"}, "redact_mode"),
        (
            {"redact": {"hrflow_profiles": ["info.location.lat"]}, "redact_salt": SALT},
            "column 'location_lat' is not text",
        ),
    ],
)
def test_a_redaction_that_cannot_work_stops_the_run_naming_the_setting(
    emulator: Emulator, talentsoft: TalentsoftEmulator, settings: dict[str, Any], expected: str
) -> None:
    hrflow = mount(emulator, HrflowEmulator())
    found = problems({**config_for(emulator, talentsoft, hrflow), **settings})
    assert any(expected in problem for problem in found), found
    assert not any(SALT in problem or "short" in problem.split(":")[-1] for problem in found)


def test_dropping_a_number_column_is_fine(emulator: Emulator) -> None:
    hrflow = mount(emulator, HrflowEmulator(shape="current"))
    config = config_for(emulator, hrflow, redact={"hrflow_profiles": ["info.location"]}, redact_mode="drop")
    result = run_tap(config)
    profiles = result.records("hrflow_profiles")
    assert profiles
    for record in profiles:
        assert (record["location_text"], record["location_lat"], record["location_lng"]) == (None, None, None)
        assert "location" not in record["raw"]["info"]
