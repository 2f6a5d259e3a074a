"""Coresignal ready notifications: the route, the webhook_url's secret, no polling wait once notified, the run hook."""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.sources.coresignal.client import CoresignalError
from tap_hrdata.sources.coresignal.streams import BulkJobsStream, Window
from tap_hrdata.tap import TapHrData
from tap_hrdata.webhooks.coresignal import READY_EVENT, ReadyNotices, parse_notifications, request_id_of
from tap_hrdata.webhooks.journal import JournalReader
from tap_hrdata.webhooks.talentsoft import BadEventError
from tests.conftest import config_for, mount, run_tap, run_tap_partial
from tests.emulator.coresignal import CoresignalEmulator, Invalid, _check_webhook
from tests.emulator.server import Emulator
from tests.webhooks.conftest import CORESIGNAL_SECRET, Served, serve_receiver
from tests.webhooks.test_restart import ROOT, start

STREAM = "bulk_jobs"
#: Long enough that a test waiting one interval would time out: a notified run must not wait.
LONG_INTERVAL = 30
SERVE = (sys.executable, "-m", "tap_hrdata.webhooks")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def served(files: Path) -> Any:
    with serve_receiver({"files_storage_url": str(files), "coresignal": {"webhook_secret": CORESIGNAL_SECRET}}) as s:
        yield s


def cs_config(emulator: Emulator, vendor: CoresignalEmulator, files: Path, served: Served, **settings: Any) -> Any:
    """The tap's config: notifications to the receiver's Coresignal route, the secret written in by the tap."""
    coresignal = {
        "webhook_url": f"{served.url}/coresignal/{{secret}}",
        "webhook_secret": CORESIGNAL_SECRET,
        "poll_interval_seconds": LONG_INTERVAL,
        **settings,
    }
    return config_for(emulator, vendor, files=files, coresignal=coresignal)


def only_request(vendor: CoresignalEmulator) -> str:
    assert len(vendor.data_requests) == 1
    return next(iter(vendor.data_requests))


def pending_of(state: dict[str, Any]) -> dict[str, Any] | None:
    return state.get("bookmarks", {}).get(STREAM, {}).get("pending_request")


def post(url: str, body: object) -> requests.Response:
    return requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10)


# ---- the route -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"data_request_id": "r-1", "status": "completed"},
        {"request_id": "r-1"},
        {"event": "data_request.ready", "data": {"request_id": "r-1", "files": 3}},
        {"id": 12345},
    ],
)
def test_a_notification_is_journalled_whole(served: Served, body: dict[str, Any]) -> None:
    answer = post(f"{served.url}/coresignal/{CORESIGNAL_SECRET}", body)
    assert answer.status_code == 200
    [entry] = served.entries("coresignal")
    assert entry["body"] == body
    assert entry["event"] == READY_EVENT
    assert request_id_of(entry["body"]) == ("12345" if "id" in body else "r-1")


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/coresignal/wrong-token-0123456789", {}, 401),
        ("/coresignal", {}, 401),
        ("/coresignal", {"X-Webhook-Token": "wrong-token-0123456789"}, 401),
        (f"/coresignal/{CORESIGNAL_SECRET}/data_request_ready", {}, 400),  # the route names no event
    ],
)
def test_a_notification_without_the_token_is_refused(
    served: Served, path: str, headers: dict[str, str], status: int
) -> None:
    answer = requests.post(served.url + path, data=json.dumps({"request_id": "r-1"}), headers=headers, timeout=10)
    assert answer.status_code == status
    assert served.journal_bytes("coresignal") == b""


@pytest.mark.parametrize("body", [b"not json", b"[]", b"[1]", b'{"status": "completed"}', b'{"data": {"id": ""}}'])
def test_a_body_naming_no_request_gets_400(served: Served, body: bytes) -> None:
    answer = requests.post(f"{served.url}/coresignal/{CORESIGNAL_SECRET}", data=body, timeout=10)
    assert answer.status_code == 400
    assert served.journal_bytes("coresignal") == b""


def test_the_refusal_names_the_fields_it_found() -> None:
    with pytest.raises(BadEventError, match="its fields: state, uuid"):
        parse_notifications(b'{"uuid": "x", "state": "done"}')


def test_ready_notices_read_the_journal_incrementally(served: Served) -> None:
    notices = ReadyNotices(JournalReader(served.journals["coresignal"]))
    assert not notices.ready("r-1")
    assert post(f"{served.url}/coresignal/{CORESIGNAL_SECRET}", {"request_id": "r-1"}).status_code == 200
    assert notices.ready("r-1")
    assert not notices.ready("r-2")
    assert notices.read() == set()  # nothing new
    threading.Timer(0.3, post, (f"{served.url}/coresignal/{CORESIGNAL_SECRET}", {"request_id": "r-2"})).start()
    started = time.monotonic()
    assert notices.wait("r-2", 20, time.sleep)
    assert time.monotonic() - started < 5
    assert not notices.wait("r-1", 0.3, time.sleep)  # only a new notification ends a wait
    assert ReadyNotices(None).wait("r-1", 0.01, time.sleep) is False


# ---- webhook_url and its secret ------------------------------------------------------------


def test_the_secret_is_written_into_the_webhook_url_and_nowhere_else(
    emulator: Emulator, files: Path, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=1))
    config = cs_config(emulator, vendor, files, served, poll_interval_seconds=0.05)
    with caplog.at_level(logging.INFO):
        result = run_tap(config)
    request_id = only_request(vendor)
    assert vendor.posts[0][1]["webhook_url"] == f"{served.url}/coresignal/{CORESIGNAL_SECRET}"
    assert result.records(STREAM)
    # collected at its second poll: the emulator notified the receiver, which journalled it
    deadline = time.monotonic() + 10
    while not served.entries("coresignal") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [n.status for n in vendor.notifications] == [200]
    assert [request_id_of(e["body"]) for e in served.entries("coresignal")] == [request_id]
    assert CORESIGNAL_SECRET not in caplog.text
    assert CORESIGNAL_SECRET not in json.dumps(result.messages)


def test_the_journal_key_does_not_depend_on_the_secret(emulator: Emulator, files: Path, served: Served) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=50))
    keys = set()
    for secret in (CORESIGNAL_SECRET, "another-secret-0123456789"):
        config = cs_config(emulator, vendor, files, served, webhook_secret=secret)
        stream = BulkJobsStream(TapHrData(config=config, state={}))
        keys.add(stream.journal_key(Window(gte=None, lte=None)))
    assert len(keys) == 1  # a new secret never makes a run pay again for a journalled request


def test_a_placeholder_without_a_secret_is_refused_before_paying(
    emulator: Emulator, files: Path, served: Served
) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=50))
    config = cs_config(emulator, vendor, files, served, webhook_secret=None)
    with pytest.raises(ConfigValidationError, match=r"coresignal\.webhook_url holds \{secret\}"):
        run_tap(config)
    assert vendor.post_count == 0


def test_an_id_file_request_of_the_current_api_carries_the_webhook(
    emulator: Emulator, files: Path, served: Served
) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=200, polls_until_ready=0))
    wanted = [job["id"] for job in vendor.all_jobs()[:5]]
    config = cs_config(emulator, vendor, files, served, api_token=None, api_key=vendor.api_key, job_ids=wanted)
    result = run_tap(config)
    assert len(result.records(STREAM)) == 5
    request = vendor.data_requests[only_request(vendor)]
    assert request.webhook_url == f"{served.url}/coresignal/{CORESIGNAL_SECRET}"


def test_the_emulator_accepts_http_webhooks_only_to_loopback() -> None:
    _check_webhook("https://hooks.example.com/coresignal/x")
    _check_webhook("http://127.0.0.1:8080/coresignal/x")
    for refused in ("http://hooks.example.com/coresignal/x", "http://127.0.0.2.example.com/x", "ftp://127.0.0.1/"):
        with pytest.raises(Invalid):
            _check_webhook(refused)


# ---- the notification removes the polling wait -----------------------------------------


def test_a_journalled_notification_lets_the_next_run_download_at_once(
    emulator: Emulator, files: Path, served: Served
) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=400, polls_until_ready=1000))
    # The run that pays: the request is not ready within poll_timeout_seconds; with notifications
    # set up, it stays pending and the run ends without an error.
    first = run_tap(cs_config(emulator, vendor, files, served, poll_timeout_seconds=0.3))
    request_id = only_request(vendor)
    assert first.records(STREAM) == []
    assert pending_of(first.last_state)["id"] == request_id  # type: ignore[index]
    assert vendor.polls[request_id] == 2  # at once, then at the timeout

    # Without a notification the next run polls: it waits the interval (here cut by the timeout).
    started = time.monotonic()
    waiting = run_tap(cs_config(emulator, vendor, files, served, poll_timeout_seconds=1.5), state=first.last_state)
    assert time.monotonic() - started >= 1.5
    assert vendor.polls[request_id] == 4
    assert waiting.records(STREAM) == []

    # Coresignal collects the request and notifies the receiver, which journals it.
    assert vendor.complete(request_id) == 200
    assert [request_id_of(e["body"]) for e in served.entries("coresignal")] == [request_id]

    started = time.monotonic()
    second = run_tap(cs_config(emulator, vendor, files, served, poll_timeout_seconds=600), state=waiting.last_state)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"the notified run took {elapsed:.1f}s"
    assert vendor.polls[request_id] == 5  # one listing: the minimum, no status poll, no wait
    assert sorted(r["id"] for r in second.records(STREAM)) == sorted(
        job["id"] for job in vendor.jobs_for_request(request_id)
    )
    assert pending_of(second.last_state) is None
    assert vendor.post_count == 1  # nothing paid twice


def test_a_notification_arriving_during_the_wait_ends_it(emulator: Emulator, files: Path, served: Served) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=400, polls_until_ready=1000, notification_shape="nested"))
    completed: list[Any] = []

    def collect_after_the_first_poll() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if vendor.data_requests and vendor.polls[next(iter(vendor.data_requests))] >= 1:
                completed.append(vendor.complete(next(iter(vendor.data_requests))))
                return
            time.sleep(0.02)

    helper = threading.Thread(target=collect_after_the_first_poll)
    helper.start()
    started = time.monotonic()
    result = run_tap(cs_config(emulator, vendor, files, served, poll_timeout_seconds=120))
    elapsed = time.monotonic() - started
    helper.join(10)
    request_id = only_request(vendor)
    assert completed == [200]
    assert elapsed < 10, f"the run waited {elapsed:.1f}s (interval {LONG_INTERVAL}s)"
    assert vendor.polls[request_id] == 2  # the first poll, then the listing the notification called for
    assert len(result.records(STREAM)) == len(vendor.jobs_for_request(request_id))
    assert served.entries("coresignal")[0]["body"]["data"]["request_id"] == request_id


def test_a_notified_request_still_processing_falls_back_to_polling(
    emulator: Emulator, files: Path, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=1000))
    first = run_tap(cs_config(emulator, vendor, files, served, poll_timeout_seconds=0))
    request_id = only_request(vendor)
    assert vendor.polls[request_id] == 1
    # a notification the files list contradicts (sent early, or repeated): polled as usual
    assert post(f"{served.url}/coresignal/{CORESIGNAL_SECRET}", {"request_id": request_id}).status_code == 200
    vendor.polls_until_ready = 3  # collected at the 4th listing: the notified one, then two polls
    with caplog.at_level(logging.INFO):
        result = run_tap(
            cs_config(emulator, vendor, files, served, poll_interval_seconds=0.05, poll_timeout_seconds=60),
            state=first.last_state,
        )
    assert "still being processed though Coresignal notified it; polling" in caplog.text
    assert vendor.polls[request_id] == 4
    assert len(result.records(STREAM)) == len(vendor.jobs_for_request(request_id))


def test_without_notifications_a_timeout_is_still_an_error(emulator: Emulator, files: Path, served: Served) -> None:
    vendor = mount(emulator, CoresignalEmulator(jobs=100, polls_until_ready=1000))
    config = cs_config(emulator, vendor, files, served, poll_timeout_seconds=0, webhook_secret=None, webhook_url=None)
    result, error = run_tap_partial(config)
    assert isinstance(error, CoresignalError)
    assert "was not ready after" in str(error)
    assert pending_of(result.last_state) is not None


# ---- serve --on-coresignal-ready -------------------------------------------------------

#: The hook's command: logs its start, its argv and its end to a file, taking a while.
HOOK = """
import json, sys, time
with open(sys.argv[1], "a") as log:
    log.write(json.dumps(["start", time.monotonic(), sys.argv]) + "\\n")
time.sleep(1.0)
with open(sys.argv[1], "a") as log:
    log.write(json.dumps(["end", time.monotonic()]) + "\\n")
"""


def test_the_ready_command_runs_after_the_answer_one_at_a_time(tmp_path: Path, files: Path) -> None:
    config = tmp_path / "receiver.json"
    config.write_text(
        json.dumps({"files_storage_url": str(files), "coresignal": {"webhook_secret": CORESIGNAL_SECRET}})
    )
    log = tmp_path / "hook.log"
    command = shlex.join([sys.executable, "-c", HOOK, str(log)])
    process = subprocess.Popen(
        [*SERVE, "--config", str(config), "serve", "--port", "0", "--on-coresignal-ready", command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = wait_listening(process)
        answered = []
        for number in range(3):
            started = time.monotonic()
            status = post(f"{url}/coresignal/{CORESIGNAL_SECRET}", {"request_id": f"r-{number}"}).status_code
            answered.append((status, time.monotonic() - started))
        assert [status for status, _ in answered] == [200, 200, 200]
        assert all(seconds < 0.9 for _, seconds in answered), answered  # the answer never waits for the command
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and log_lines(log).count("end") < 2:
            time.sleep(0.05)
        time.sleep(1.5)  # a third run would have started by now
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line[0] for line in lines] == ["start", "end", "start", "end"]  # never two at once, none lost
    assert lines[1][1] <= lines[2][1]
    assert all(CORESIGNAL_SECRET not in json.dumps(line) for line in lines)  # no secret on its command line
    assert CORESIGNAL_SECRET not in err
    assert "exited with code 0" in err
    assert len(list(JournalReader(files / "webhooks" / "coresignal" / "events.jsonl").entries())) == 3


def wait_listening(process: subprocess.Popen[str]) -> str:
    """The URL a receiver started with :func:`subprocess.Popen` listens on."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on "), line
    return line.split()[2]


def log_lines(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [json.loads(line)[0] for line in log.read_text().splitlines() if line.strip()]


def test_the_ready_command_needs_the_coresignal_route(tmp_path: Path) -> None:
    config = tmp_path / "receiver.json"
    config.write_text(json.dumps({"files_storage_url": str(tmp_path), "talentsoft": {"webhook_secret": "x" * 20}}))
    done = subprocess.run(
        [*SERVE, "--config", str(config), "serve", "--port", "0", "--on-coresignal-ready", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "set coresignal.webhook_secret" in done.stderr


def test_a_receiver_serves_every_configured_vendor(tmp_path: Path) -> None:
    config = tmp_path / "receiver.json"
    config.write_text(
        json.dumps(
            {
                "files_storage_url": str(tmp_path / "files"),
                "hrflow": {"webhook_secret": "h" * 20},
                "coresignal": {"webhook_secret": CORESIGNAL_SECRET},
            }
        )
    )
    process, url = start(config)
    try:
        assert requests.get(f"{url}/healthz", timeout=10).json() == {
            "status": "ok",
            "vendors": ["coresignal", "hrflow"],
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
