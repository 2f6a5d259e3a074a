"""The receiver: pings, authentication (401, nothing stored), bad bodies (400), events journalled before 2xx."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from tap_hrdata.webhooks import journal as journal_module
from tap_hrdata.webhooks import receiver as receiver_module
from tests.webhooks.conftest import SECRET, Served

EVENT = {"eventId": "e-1", "event": "vacancy_update", "hookId": "h-1", "data": {"reference": "VAC-1"}}


def post(url: str, body: object, **kwargs: object) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_health(receiver: Served) -> None:
    answer = requests.get(f"{receiver.url}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "vendors": ["talentsoft"]}


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_ping_answers_and_stores_nothing(receiver: Served, method: str) -> None:
    answer = requests.request(method, f"{receiver.url}/talentsoft/{SECRET}/ping", timeout=10)
    assert answer.status_code == 200
    assert receiver.journal_bytes() == b""


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/talentsoft/wrong-token-0123456789", {}),
        (f"/talentsoft/{SECRET[:-1]}", {}),  # all but the last character
        (f"/talentsoft/{SECRET}x", {}),
        ("/talentsoft", {}),
        ("/talentsoft/vacancy_update", {}),  # no token: the event name is taken for one
        ("/talentsoft", {"X-Webhook-Token": "wrong-token-0123456789"}),
        ("/talentsoft", {"Authorization": "Bearer wrong-token-0123456789"}),
        ("/talentsoft", {"Authorization": f"Basic {SECRET}"}),
        ("/talentsoft/ping", {}),
    ],
)
def test_unauthenticated_deliveries_get_401_and_nothing_is_stored(
    receiver: Served, path: str, headers: dict[str, str]
) -> None:
    answer = requests.post(receiver.url + path, data=json.dumps(EVENT), headers=headers, timeout=10)
    assert answer.status_code == 401
    assert receiver.journal_bytes() == b""


@pytest.mark.parametrize(
    ("path_tail", "body"),
    [
        ("", b"not json"),
        ("", b"\xff\xfe"),
        ("", b""),
        ("", []),
        ("", [1, 2]),
        ("", "a string"),
        ("", {"data": {"reference": "VAC-1"}}),  # no event name, none in the URL
        ("", {"event": "salary_paid"}),  # not an event the receiver accepts
        ("", [EVENT, {"event": "salary_paid"}]),  # one bad event spoils the batch: nothing stored
        ("/salary_paid", {"data": {}}),  # the URL names an unknown event
    ],
)
def test_bad_bodies_get_400_and_nothing_is_stored(receiver: Served, path_tail: str, body: object) -> None:
    answer = post(f"{receiver.url}/talentsoft/{SECRET}{path_tail}", body)
    assert answer.status_code == 400
    assert "error" in answer.json()
    assert receiver.journal_bytes() == b""


def test_an_event_is_journalled_and_fsynced_before_the_2xx(receiver: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[bytes] = []
    real_fsync = journal_module.os.fsync
    monkeypatch.setattr(
        journal_module.os, "fsync", lambda fd: (synced.append(receiver.journal_bytes()), real_fsync(fd))
    )
    answer = post(f"{receiver.url}/talentsoft/{SECRET}", EVENT)
    assert answer.status_code == 200
    assert answer.json() == {"status": "accepted", "events": 1}
    # the bytes were on disk, and synced, when the answer was sent
    assert len(synced) == 1
    assert synced[0] == receiver.journal_bytes()
    [entry] = receiver.entries()
    assert entry["event"] == "vacancy_update"
    assert entry["event_key"] == "e-1"
    assert entry["body"] == EVENT
    assert entry["vendor"] == "talentsoft"
    assert entry["received_at"].endswith("Z")


def test_a_journal_the_disk_refuses_answers_503(receiver: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", full)
    answer = post(f"{receiver.url}/talentsoft/{SECRET}", EVENT)
    assert answer.status_code == 503
    monkeypatch.undo()
    assert receiver.journal_bytes() == b""
    assert post(f"{receiver.url}/talentsoft/{SECRET}", EVENT).status_code == 200  # the vendor's retry


@pytest.mark.parametrize(
    "headers",
    [{"X-Webhook-Token": SECRET}, {"Authorization": f"Bearer {SECRET}"}, {"Authorization": f"bearer {SECRET}"}],
)
def test_the_secret_may_come_in_a_header(receiver: Served, headers: dict[str, str]) -> None:
    answer = requests.post(f"{receiver.url}/talentsoft", data=json.dumps(EVENT), headers=headers, timeout=10)
    assert answer.status_code == 200
    ping = requests.get(f"{receiver.url}/talentsoft/ping", headers=headers, timeout=10)
    assert ping.status_code == 200
    assert len(receiver.entries()) == 1


def test_a_batch_is_journalled_whole_and_the_url_names_the_event(receiver: Served) -> None:
    batch = [{"data": {"applicantId": f"A-{i}"}} for i in range(3)]
    answer = post(f"{receiver.url}/talentsoft/{SECRET}/applicant_update", batch)
    assert answer.status_code == 200
    assert answer.json()["events"] == 3
    entries = receiver.entries()
    assert [e["event"] for e in entries] == ["applicant_update"] * 3
    assert [e["body"] for e in entries] == batch
    # no id in the bodies: keyed by a hash of each, stable, distinct
    keys = [e["event_key"] for e in entries]
    assert len(set(keys)) == 3
    assert all(key.startswith("sha256:") for key in keys)


def test_a_redelivered_event_keeps_its_key(receiver: Served) -> None:
    body = {"event": "vacancy_new", "data": {"reference": "VAC-9"}}
    for _ in range(2):
        assert post(f"{receiver.url}/talentsoft/{SECRET}", body).status_code == 200
    first, second = receiver.entries()
    assert first["event_key"] == second["event_key"]


@pytest.mark.parametrize("event", ["vacancy_new", "vacancy_update", "application_event_new", "applicant_new"])
def test_every_documented_event_is_accepted(receiver: Served, event: str) -> None:
    assert post(f"{receiver.url}/talentsoft/{SECRET}", {"event": event, "id": "x"}).status_code == 200
    assert [e["event"] for e in receiver.entries()] == [event]


def test_methods_sizes_and_routes(receiver: Served) -> None:
    assert requests.get(f"{receiver.url}/talentsoft/{SECRET}", timeout=10).status_code == 405
    assert requests.post(f"{receiver.url}/hrflow/{SECRET}", data=b"{}", timeout=10).status_code == 404
    assert requests.post(f"{receiver.url}/talentsoft/{SECRET}/a/b", data=b"{}", timeout=10).status_code == 404
    receiver.app.max_body_bytes = 100
    big = {"event": "vacancy_new", "data": "x" * 200}
    assert post(f"{receiver.url}/talentsoft/{SECRET}", big).status_code == 413
    assert receiver.journal_bytes() == b""


def test_the_secret_is_compared_in_constant_time(receiver: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = receiver_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(receiver_module.hmac, "compare_digest", spy)
    assert post(f"{receiver.url}/talentsoft/wrong-token-0123456789", EVENT).status_code == 401
    assert post(f"{receiver.url}/talentsoft/{SECRET}", EVENT).status_code == 200
    assert compared == [(b"wrong-token-0123456789", SECRET.encode()), (SECRET.encode(), SECRET.encode())]


def test_the_secret_is_never_logged(receiver: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    post(f"{receiver.url}/talentsoft/{SECRET}", EVENT)
    post(f"{receiver.url}/talentsoft/{SECRET}", b"bad")
    post(f"{receiver.url}/talentsoft/{SECRET}x", EVENT)
    requests.get(f"{receiver.url}/talentsoft/{SECRET}/ping", timeout=10)
    requests.post(f"{receiver.url}/talentsoft", data=b"{}", headers={"X-Webhook-Token": SECRET + "y"}, timeout=10)
    # everything logged in the process but the test's own HTTP client (urllib3 logs the URLs it calls)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))
    assert "journalled" in logged
    assert "refused" in logged
    assert SECRET not in logged


def test_an_internal_error_is_a_500_that_names_no_path(
    receiver: Served, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(body: bytes, hint: str | None) -> list[object]:
        raise RuntimeError(f"boom {SECRET}")

    hook = receiver.app.hooks["talentsoft"]
    monkeypatch.setitem(receiver.app.hooks, "talentsoft", type(hook)(hook.name, hook.secret, broken))  # type: ignore[arg-type]
    answer = post(f"{receiver.url}/talentsoft/{SECRET}", EVENT)
    assert answer.status_code == 500
    assert SECRET not in caplog.text
    assert receiver.journal_bytes() == b""


def test_a_chunked_body_is_read_whole(receiver: Served) -> None:
    pieces = [b'{"event": "vacancy_new", ', b'"id": "chunked-1", ', b'"data": {"reference": "VAC-5"}}']
    answer = requests.post(f"{receiver.url}/talentsoft/{SECRET}", data=iter(pieces), timeout=10)
    assert answer.status_code == 200
    assert [e["event_key"] for e in receiver.entries()] == ["chunked-1"]
