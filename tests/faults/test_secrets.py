"""Secrets: a whole sync with faults at DEBUG level writes no credential anywhere.

The tap runs as a real process (``TAP_HRDATA_LOGLEVEL=DEBUG``) against all four emulated
vendors while they fail in every way that makes the tap log: 401s on tokens it believes
valid, 5xx answers that echo the request (headers and body, as a debugging proxy would),
resets in the middle of bodies, HrFlow error codes, a slow Retry-After. Then stdout, stderr,
the state and every stored file are scanned for the client secrets, API keys and every
access token the emulator issued. Failed requests are reported by path and status, with
nothing the request carried.

The per-source secret tests in tests/sources/ (``test_no_secret_in_output_or_logs``) run in
process with pytest's log capture; this one covers what only a real process shows.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import mount, run_tap_partial
from tests.emulator.__main__ import tap_config
from tests.emulator.server import Fault, Response
from tests.faults.conftest import POLL, make_vendor, setup_source

if TYPE_CHECKING:
    from pathlib import Path

    from tests.emulator.server import Emulator


def secrets_of(vendor: Any) -> list[str]:
    """Every credential of a vendor: configured secrets and the tokens it issued."""
    names = ("client_secret", "api_key", "api_token", "connect_client_secret")
    values = [getattr(vendor, name, None) for name in names]
    values += list(getattr(vendor, "issued_tokens", []))
    return [value for value in values if value]


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets found in ``text`` (first and last characters only, for the message)."""
    return [f"{s[:3]}...{s[-3:]}" for s in secrets if s in text]


def test_a_whole_sync_with_faults_at_debug_level_writes_no_secret(emulator: Emulator, tmp_path: Path) -> None:
    talentsoft, hrflow, youserve, coresignal = vendors = tuple(
        mount(emulator, make_vendor(source)) for source in ("talentsoft", "hrflow", "youserve", "coresignal")
    )
    # Talentsoft: a 401 on a valid token (renewed), a 503 echoing the request, a reset mid-export.
    talentsoft.faults.add(Fault(path_regex="/vacancies$", status=401))
    talentsoft.faults.add(Fault(path_regex="/candidates$", status=503, echo=True))
    talentsoft.faults.add(Fault(path_regex="/candidates$", abort_after=4000))
    talentsoft.faults.add(Fault(path_regex="^/api/token$", status=502, echo=True))
    # HrFlow: an error code inside a 200, a 502 echoing the request (X-API-KEY included).
    hrflow.faults.add(Fault(path_regex="^/storing/profiles$", kind="body_code", params={"code": 500}))
    hrflow.faults.add(Fault(path_regex="^/storing/jobs$", status=502, echo=True))
    # YouServe: the token echoed back by a 503, a revoked token, a reset inside a file.
    youserve.faults.add(Fault(path_regex="/files$", method="GET", status=503, echo=True))
    youserve.faults.add(Fault(path_regex="/files/.", method="GET", status=401))
    youserve.faults.add(Fault(path_regex="/files/.", method="GET", abort_after=10))
    youserve.faults.add(Fault(path_regex="^/connect/token$", status=500, echo=True))  # Visma Connect
    # Coresignal: the static token echoed by a 503 on a poll, a 429 with Retry-After.
    coresignal.faults.add(Fault(path_regex=POLL, status=503, echo=True))
    coresignal.faults.add(Fault(path_regex="/files/json/", status=429, retry_after="1", echo=True))

    root = tmp_path / "files"
    config = tap_config(emulator, vendors, str(root))
    config["coresignal"]["poll_interval_seconds"] = 0.05
    config_path, state_path = tmp_path / "config.json", tmp_path / "state.json"
    config_path.write_text(json.dumps(config))
    state_path.write_text("{}")
    env = {**os.environ, "TAP_HRDATA_LOGLEVEL": "DEBUG"}
    command = [sys.executable, "-m", "tap_hrdata", "--config", str(config_path), "--state", str(state_path)]
    done = subprocess.run(command, capture_output=True, env=env, cwd=tmp_path, timeout=120, check=False)
    stdout, stderr = done.stdout.decode(), done.stderr.decode(errors="replace")
    assert done.returncode == 0, stderr[-3000:]

    fired = {v.prefix: sum(v.faults.fired.values()) for v in vendors}
    assert fired == {"/ts": 4, "/hrflow": 2, "/youserve": 4, "/coresignal": 2}  # every fault above was met
    assert talentsoft.token_requests >= 2  # renewed after the 401 (and the 502)
    assert len(youserve.issued_tokens) >= 2
    assert " | DEBUG    | " in stderr  # DEBUG logging was on
    messages = [json.loads(line) for line in stdout.split("\n") if line.strip()]  # not splitlines: U+2028
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} >= {
        "vacancies",
        "attachments",
        "hrflow_profiles",
        "hrflow_jobs",
        "delivered_files",
        "bulk_jobs",
    }
    state = json.dumps([m["value"] for m in messages if m["type"] == "STATE"][-1])

    secrets = [s for vendor in vendors for s in secrets_of(vendor)]
    assert len(secrets) >= 8
    for name, text in (("stdout", stdout), ("stderr", stderr), ("state", state)):
        assert not leaks(text, secrets), f"{name} shows {leaks(text, secrets)}"
    assert "<redacted>" in stderr  # echoed credentials were cut out of the retry warnings
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        content = path.read_bytes().decode("latin-1")
        assert not leaks(content, secrets), f"{path} holds {leaks(content, secrets)}"


#: (source, a fatal answer on this endpoint, method, the path the error must show)
FAILURES = [
    ("talentsoft", r"^/api/token$", "POST", "/ts/api/token"),
    ("talentsoft", r"/vacancies$", "GET", "/ts/api/exports/v1/vacancies"),
    ("talentsoft", r"^/api/v1/referentials/", "GET", "/ts/api/v1/referentials/countries"),
    ("hrflow", r"^/storing/profiles$", "GET", "/hrflow/storing/profiles"),
    ("youserve", r"^/authentication/token$", "POST", "/youserve/authentication/token"),
    ("youserve", r"/files$", "GET", "/youserve/fileapi/v1.0/files"),
    ("youserve", r"/files/.", "GET", "/youserve/fileapi/v1.0/files/"),
    ("coresignal", r"/bulk_collect/filter$", "POST", "/coresignal/v1/professional_network/job/bulk_collect/filter"),
    ("coresignal", r"/files/json/", "GET", "/coresignal/v1/bulk_collect/"),
]


@pytest.mark.parametrize("status", [400, 403])
@pytest.mark.parametrize(
    "failure", FAILURES, ids=[f"{f[0]}-{f[2]}_{f[3].rsplit('/', 1)[-1] or 'file'}" for f in FAILURES]
)
def test_a_failed_request_shows_path_and_status_never_what_it_carried(
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    failure: tuple[str, str, str, str],
    status: int,
) -> None:
    """The server echoes the request (Authorization, X-API-KEY, form body, query) in its error."""
    source, path, method, shown = failure
    setup = setup_source(emulator, source, tmp_path)
    setup.vendor.faults.add(Fault(path_regex=path, method=method, status=status, echo=True))
    with caplog.at_level(logging.DEBUG):
        partial, error = run_tap_partial(setup.config)
    message = str(error)
    assert f"{method} {shown}" in message
    assert f"HTTP {status}" in message
    assert "?" not in message.split("failed with", 1)[0]  # no query string in the path
    secrets = secrets_of(setup.vendor)
    for name, text in (("error", message), ("logs", caplog.text), ("output", partial.text())):
        assert not leaks(text, secrets), f"{name} shows {leaks(text, secrets)}"
    assert "injected" in message  # the body excerpt is shown ...
    assert "<redacted>" in message  # ... without what the request carried


@pytest.mark.parametrize(
    "body", [b"<html>bad gateway for key hrflow-key-0123456789</html>", b'{"key": "hrflow-key-0123456789"}']
)
def test_an_hrflow_answer_echoing_the_api_key_does_not_show_it(emulator: Emulator, tmp_path: Path, body: bytes) -> None:
    """A 200 that is not an HrFlow envelope (a proxy's page) is an error quoting the body, key cut."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    original = setup.vendor.handle
    setup.vendor.handle = lambda request: (
        Response(200, body=body, headers={"Content-Type": "text/html"})
        if request.path == "/storing/profiles"
        else original(request)
    )
    _, error = run_tap_partial(setup.config)
    assert "hrflow stream 'hrflow_profiles': GET /hrflow/storing/profiles answered HTTP 200" in str(error)
    assert setup.vendor.api_key not in str(error)
    assert "<redacted>" in str(error)
