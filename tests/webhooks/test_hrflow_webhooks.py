"""HrFlow webhooks: the SDK's signature, 401 for what is not signed, the signed payload journalled, hrflow_events.

The signature is checked against HrFlow's own SDK (``hrflow`` installed for the tests,
``Webhook._decode_request``): whatever the SDK accepts, the receiver accepts, and the
tampered headers both refuse.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import requests
from hrflow import Hrflow

from tap_hrdata.sources.hrflow.events import HrflowEventsStream
from tap_hrdata.statecheck import StateError
from tap_hrdata.webhooks.hrflow import named_object, parse_events, verified_payload
from tap_hrdata.webhooks.journal import JournalReader
from tests.conftest import config_for, mount, run_tap
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.hrflow_webhooks import (
    EVENTS,
    HrflowWebhooks,
    b64url,
    payload_text,
    seed_hrflow_journal,
    signature_header,
    tampered_payload,
    tampered_signature,
)
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.webhooks.conftest import HRFLOW_SECRET, SECRET, Served
from tests.webhooks.seed import seed_talentsoft_journal
from tests.webhooks.test_restart import start

STREAM = "hrflow_events"
EVENT = EVENTS[0]


def sdk_decode(header: str, secret: str = HRFLOW_SECRET) -> Any:
    """What HrFlow's SDK makes of a signature header (raises ValueError when it refuses it)."""
    return Hrflow(api_secret="unused", api_user="unused", webhook_secret=secret).webhooks._decode_request(header)


def ours(header: str, secret: str = HRFLOW_SECRET) -> Any:
    payload = verified_payload(header, secret)
    return None if payload is None else json.loads(payload)


def hooks(served: Served) -> HrflowWebhooks:
    return HrflowWebhooks(f"{served.url}/hrflow", HRFLOW_SECRET)


# ---- the signature, against the SDK ------------------------------------------------------


@pytest.mark.parametrize("event", [*EVENTS, [EVENTS[0], EVENTS[2]]])
def test_the_sdk_and_the_receiver_accept_the_same_signed_header(event: Any) -> None:
    header = signature_header(payload_text(event), HRFLOW_SECRET)
    assert sdk_decode(header) == event
    assert ours(header) == event


def test_unpadded_and_standard_base64_are_read_too() -> None:
    payload = payload_text(EVENT)
    header = signature_header(payload, HRFLOW_SECRET)
    signature, body = header.split(".")
    assert ours(f"{signature.rstrip('=')}.{body.rstrip('=')}") == EVENT


def forged_headers() -> dict[str, str]:
    header = signature_header(payload_text(EVENT), HRFLOW_SECRET)
    other = {**EVENT, "profile": {"key": "pk-forged", "source": {"key": "src-a"}}}
    return {
        "another payload, the same signature": tampered_payload(header, other),
        "one character of the signature changed": tampered_signature(header),
        "signed with another secret": signature_header(payload_text(EVENT), "another-secret-0123456789"),
        "a signature of zeros": f"{b64url(b'0' * 64)}.{header.split('.')[1]}",
        "no signature part": header.split(".")[1],
        "not base64": "!!!.???",
    }


@pytest.mark.parametrize("name", list(forged_headers()))
def test_a_tampered_header_is_refused_by_both(name: str) -> None:
    header = forged_headers()[name]
    with pytest.raises(ValueError):  # noqa: PT011  # the SDK raises bare ValueErrors (binascii.Error is one)
        sdk_decode(header)
    assert ours(header) is None


# ---- the receiver ----------------------------------------------------------------------


def test_a_signed_event_is_journalled_from_its_header_not_its_body(all_receiver: Served) -> None:
    sender = hooks(all_receiver)
    body = json.dumps({"type": "profile.parsing.success", "profile": {"key": "from-the-body"}}).encode()
    assert sender.send(EVENT, body=body) == 200
    assert sender.send([EVENTS[1], EVENTS[2]]) == 200  # a batch: one entry per event
    entries = all_receiver.entries("hrflow")
    assert [e["body"] for e in entries] == [EVENT, EVENTS[1], EVENTS[2]]
    assert [e["event"] for e in entries] == ["profile.parsing.success", "profile.storing.update", "job.storing.success"]
    assert entries[0]["vendor"] == "hrflow"
    assert entries[0]["event_key"].startswith("sha256:")
    assert sender.send(EVENT) == 200  # delivered again by HrFlow: the same key
    assert all_receiver.entries("hrflow")[-1]["event_key"] == entries[0]["event_key"]
    assert all_receiver.journal_bytes("talentsoft") == b""


@pytest.mark.parametrize(
    "how",
    [
        "unsigned",
        "tampered payload",
        "tampered signature",
        "another secret",
        "the secret as a token",
        "the secret in the path",
        "the Talentsoft token",
    ],
)
def test_an_unsigned_or_tampered_webhook_gets_401_and_nothing_is_stored(all_receiver: Served, how: str) -> None:
    header = signature_header(payload_text(EVENT), HRFLOW_SECRET)
    url = f"{all_receiver.url}/hrflow"
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if how == "tampered payload":
        headers["HTTP-HRFLOW-SIGNATURE"] = tampered_payload(header, {**EVENT, "type": "profile.storing.error"})
    elif how == "tampered signature":
        headers["HTTP-HRFLOW-SIGNATURE"] = tampered_signature(header)
    elif how == "another secret":
        headers["HTTP-HRFLOW-SIGNATURE"] = signature_header(payload_text(EVENT), "another-secret-0123456789")
    elif how == "the secret as a token":
        headers["X-Webhook-Token"] = HRFLOW_SECRET
    elif how == "the secret in the path":
        url = f"{url}/{HRFLOW_SECRET}"
    elif how == "the Talentsoft token":
        url = f"{url}/{SECRET}"
    answer = requests.post(url, data=payload_text(EVENT), headers=headers, timeout=10)
    assert answer.status_code == 401
    assert all_receiver.journal_bytes("hrflow") == b""


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"{}", b'{"type": 5}', b'{"type": "no_dots"}', b"[]", b"[1]", b'"profile.parsing.success"'],
)
def test_a_signed_payload_that_is_no_event_gets_400(all_receiver: Served, payload: bytes) -> None:
    headers = {"HTTP-HRFLOW-SIGNATURE": signature_header(payload, HRFLOW_SECRET)}
    answer = requests.post(f"{all_receiver.url}/hrflow", data=payload, headers=headers, timeout=10)
    assert answer.status_code == 400
    assert all_receiver.journal_bytes("hrflow") == b""


def test_a_signed_delivery_to_another_path_is_refused(all_receiver: Served) -> None:
    headers = {"HTTP-HRFLOW-SIGNATURE": signature_header(payload_text(EVENT), HRFLOW_SECRET)}
    answer = requests.post(f"{all_receiver.url}/hrflow/profile.parsing.success", headers=headers, timeout=10)
    assert answer.status_code == 400
    assert all_receiver.journal_bytes("hrflow") == b""


# ---- stream hrflow_events ----------------------------------------------------------------


@pytest.fixture
def config(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    vendor = mount(emulator, HrflowEmulator(sources={"src-a": 3}, boards={"board-a": 2}))
    return config_for(emulator, vendor, files=tmp_path / "files")


def test_the_objects_events_name() -> None:
    assert named_object("profile.parsing.success", EVENTS[0]) == ("profile", "pk-1")
    assert named_object("job.storing.success", EVENTS[2]) == ("job", "jk-1")
    assert named_object("action.stage.success", EVENTS[3]) == ("profile", "pk-1")
    assert named_object("profile.parsing.error", {"type": "x"}) == ("profile", None)
    assert named_object("workflow.run.success", {"job_key": "jk-9"}) == ("job", "jk-9")
    assert named_object("workflow.run.success", {}) == (None, None)


def test_events_are_emitted_once_across_runs(config: dict[str, Any]) -> None:
    end = seed_hrflow_journal(config["files_storage_url"])
    first = run_tap(config)
    records = first.records(STREAM)
    assert [r["event"] for r in records] == [e["type"] for e in EVENTS]
    assert records[0] == {
        "event_key": parse_events(payload_text(EVENTS[0]))[0].event_key,
        "journal_position": records[0]["journal_position"],
        "received_at": "2026-12-02T10:00:00.000000Z",
        "event": "profile.parsing.success",
        "object_type": "profile",
        "object_key": "pk-1",
        "source_key": "src-a",
        "board_key": None,
        "raw": EVENTS[0],
    }
    assert (records[2]["object_type"], records[2]["object_key"], records[2]["board_key"]) == ("job", "jk-1", "board-a")
    assert (records[3]["object_type"], records[3]["object_key"]) == ("profile", "pk-1")
    assert records[-1]["journal_position"] == end
    assert first.last_state["bookmarks"][STREAM]["replication_key_value"] == end
    assert run_tap(config, state=first.last_state).records(STREAM) == []
    assert {"hrflow_profiles", "hrflow_jobs"} <= first.streams()


def test_talentsoft_and_hrflow_journals_are_read_side_by_side(emulator: Emulator, config: dict[str, Any]) -> None:
    talentsoft = mount(emulator, TalentsoftEmulator(vacancies=2, candidates=1))
    both = {**config_for(emulator, talentsoft, files=config["files_storage_url"]), "hrflow": config["hrflow"]}
    seed_hrflow_journal(config["files_storage_url"], EVENTS[:2])
    seed_talentsoft_journal(config["files_storage_url"])
    result = run_tap(both)
    assert len(result.records(STREAM)) == 2
    assert len(result.records("talentsoft_events")) == 4
    bookmarks = result.last_state["bookmarks"]
    assert bookmarks[STREAM]["replication_key_value"] != bookmarks["talentsoft_events"]["replication_key_value"]


@pytest.mark.parametrize("value", ["abc", -1, 4.5, True])
def test_a_bad_bookmark_stops_the_run(value: object) -> None:
    with pytest.raises(StateError, match=r"bookmarks\.hrflow_events\.replication_key_value"):
        HrflowEventsStream.check_state({"replication_key": "journal_position", "replication_key_value": value})


def test_every_accepted_event_arrives_once_across_a_killed_receiver(config: dict[str, Any], tmp_path: Path) -> None:
    """SIGKILL between events: what was acknowledged is journalled, and the tap emits each once."""
    settings = tmp_path / "receiver.json"
    settings.write_text(
        json.dumps({"files_storage_url": config["files_storage_url"], "hrflow": {"webhook_secret": HRFLOW_SECRET}})
    )
    journal = Path(config["files_storage_url"]) / "webhooks" / "hrflow" / "events.jsonl"
    events = [{"type": "profile.storing.update", "profile": {"key": f"pk-{i}"}} for i in range(6)]
    target: dict[str, dict[str, Any]] = {}  # what a target keyed on event_key holds

    def load(records: list[dict[str, Any]]) -> None:
        for record in records:
            target[record["event_key"]] = record

    process, url = start(settings)
    try:
        sender = HrflowWebhooks(f"{url}/hrflow", HRFLOW_SECRET)
        assert [sender.send(event) for event in events[:3]] == [200, 200, 200]
        first = run_tap(config)  # the tap reads while the receiver runs
        load(first.records(STREAM))
        assert sender.send(events[3]) == 200
        refused = sender.send(events[4], header=tampered_signature(sender.header(events[4])))
        assert refused == 401
    finally:
        process.send_signal(signal.SIGKILL)  # no shutdown: only what was fsynced survives
        process.wait(timeout=30)
    with journal.open("ab") as handle:  # a crash in the middle of an append: never acknowledged
        handle.write(b'{"v":1,"vendor":"hrflow","event":"profile.sto')

    process, url = start(settings)
    try:
        sender = HrflowWebhooks(f"{url}/hrflow", HRFLOW_SECRET)
        assert sender.send(events[2]) == 200  # HrFlow delivers an event again: the same key
        assert sender.send(events[5]) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert HRFLOW_SECRET not in err

    second = run_tap(config, state=first.last_state)
    emitted = [r["raw"]["profile"]["key"] for r in second.records(STREAM)]
    assert emitted == ["pk-3", "pk-2", "pk-5"]  # after the first run's bookmark, each line once
    load(second.records(STREAM))
    assert sorted(r["raw"]["profile"]["key"] for r in target.values()) == ["pk-0", "pk-1", "pk-2", "pk-3", "pk-5"]
    assert run_tap(config, state=second.last_state).records(STREAM) == []
    entries = list(JournalReader(journal).entries())
    assert entries[-1].position == journal.stat().st_size  # the torn line was cut off
