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

import base64
import json
import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import pytest

from tests.conftest import mount, run_tap, run_tap_partial
from tests.emulator.__main__ import tap_config
from tests.emulator.server import Fault, Response
from tests.faults.conftest import POLL, make_vendor, setup_source

if TYPE_CHECKING:
    from pathlib import Path

    from tests.emulator.server import Emulator


def secrets_of(vendor: Any) -> list[str]:
    """Every credential of a vendor: configured secrets, the tokens it issued, HTTP Basic's ``id:secret``."""
    names = ("client_secret", "api_key", "api_token", "connect_client_secret")
    values = [getattr(vendor, name, None) for name in names]
    values += [token.strip() for token in getattr(vendor, "issued_tokens", [])]
    client_id, client_secret = getattr(vendor, "client_id", None), getattr(vendor, "client_secret", None)
    if client_id and client_secret:
        pair = f"{client_id}:{client_secret}".encode()
        values += [base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()]
    return [value for value in values if value]


def encodings(secret: str) -> set[str]:
    """Every form a server or an error may write a secret in."""
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        escaped,
        escaped.replace("/", "\\/"),  # PHP's json_encode
        repr(secret)[1:-1],
    }


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets found in ``text``, in any encoding (first and last characters only, for the message)."""
    return [f"{s[:3]}...{s[-3:]}" for s in secrets if any(form in text for form in encodings(s))]


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
    # Every matching request fails (not only the first): a late request of the test before,
    # still in the emulator's queue when this test mounts its vendor, must not take the fault.
    setup.vendor.faults.add(Fault(path_regex=path, method=method, status=status, echo=True, times=100))
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


# ---- issue 14: tokens that arrive with whitespace, secrets echoed in other encodings, secrets of the wrong type


def rewrite_tokens(vendor: Any, token_path: str, change: Any) -> None:
    """``vendor``'s token answers pass through ``change(access_token)``."""
    original = vendor.handle

    def handle(request: Any) -> Response:
        answer = original(request)
        if request.path == token_path and answer.status == 200 and isinstance(answer.body, bytes):
            payload = json.loads(answer.body)
            payload["access_token"] = change(payload["access_token"])
            return Response.json(200, payload)
        return answer

    vendor.handle = handle


TOKEN_PATHS = {"talentsoft": "/api/token", "youserve": "/authentication/token"}


@pytest.mark.parametrize("source", sorted(TOKEN_PATHS))
def test_a_token_with_a_trailing_newline_is_trimmed_and_works(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    setup = setup_source(emulator, source, tmp_path)
    rewrite_tokens(setup.vendor, TOKEN_PATHS[source], lambda token: f"{token}\n")
    with caplog.at_level(logging.DEBUG):
        result = run_tap(setup.config)
    assert result.records(next(iter(setup.expected())))  # every request carried the trimmed token
    assert not leaks(caplog.text + result.text(), secrets_of(setup.vendor))


@pytest.mark.parametrize("source", sorted(TOKEN_PATHS))
def test_a_token_no_header_can_carry_is_a_clear_error_without_the_token(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    setup = setup_source(emulator, source, tmp_path)
    rewrite_tokens(setup.vendor, TOKEN_PATHS[source], lambda token: f"{token[:8]} \x01{token[8:]}")
    with caplog.at_level(logging.DEBUG):
        partial, error = run_tap_partial(setup.config)
    assert f"{source}: the token endpoint answered an access_token" in str(error)
    assert "characters a request header cannot carry" in str(error)
    issued = [t[8:] for t in setup.vendor.issued_tokens]  # the part after the injected characters
    assert not any(part in str(error) + caplog.text + partial.text() for part in issued)


ECHOED_SECRET = "ts/S3cr3t+Val/ue=="  # "/" and "+": every encoding differs


def test_a_secret_echoed_in_any_encoding_is_cut(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The token endpoint refuses the client, quoting its secret as PHP, a form and HTTP Basic write it."""
    setup = setup_source(emulator, "talentsoft", tmp_path, client_secret=ECHOED_SECRET)
    basic = base64.b64encode(f"{setup.vendor.client_id}:{ECHOED_SECRET}".encode()).decode()
    body = (
        '{"error": "invalid_client", "client_secret": "ts\\/S3cr3t+Val\\/ue==", '
        f'"form": "client_secret={quote_plus(ECHOED_SECRET)}", "authorization": "Basic {basic}"}}'
    ).encode()
    original = setup.vendor.handle
    setup.vendor.handle = lambda request: (
        Response(400, body=body, headers={"Content-Type": "application/json"})
        if request.path == "/api/token"
        else original(request)
    )
    with caplog.at_level(logging.DEBUG):
        partial, error = run_tap_partial(setup.config)
    assert "POST /ts/api/token failed with HTTP 400" in str(error)
    assert "invalid_client" in str(error)  # the excerpt is shown ...
    for name, text in (("error", str(error)), ("logs", caplog.text), ("output", partial.text())):
        assert not leaks(text, secrets_of(setup.vendor)), f"{name} shows {leaks(text, secrets_of(setup.vendor))}"
    assert str(error).count("<redacted>") >= 3  # ... cut where each form of the secret was


def test_a_secret_of_the_wrong_type_is_named_never_shown(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.config["talentsoft"]["client_secret"] = 987654321987
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(setup.config))
    done = subprocess.run(
        [sys.executable, "-m", "tap_hrdata", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "talentsoft.client_secret" in done.stderr
    assert "987654321987" not in done.stdout + done.stderr
    assert setup.vendor.token_requests == 0
