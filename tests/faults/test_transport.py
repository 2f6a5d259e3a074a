"""Transport faults on every endpoint of every source: the run ends with every record exactly once.

429 with Retry-After, bursts of 500/502/503, resets in the middle of a body, bodies that end
inside a frame, tokens that expire or are revoked mid-run, stalled servers (timeouts),
metadata that lies about totals, records repeated across pages. Where retries cannot help
(a burst longer than the retries, a server that never answers), the run stops with an error
naming the source, stream, endpoint and status, and the next run finishes the job.

Single-source cases that already exist stay in tests/sources/ (e.g. Talentsoft
``test_broken_body_resumes_after_last_record``, YouServe ``test_chunk_failing_midway_is_
retried_from_its_first_byte``, Coresignal ``test_429_honours_retry_after``); this suite runs
the same faults across every endpoint.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from singer_sdk.exceptions import FatalAPIError

from tests.conftest import run_tap, run_tap_partial
from tests.emulator.server import Fault
from tests.faults.conftest import (
    MAIN_ENDPOINT,
    MAIN_STREAM,
    POLL,
    SMALL_PAGES,
    SOURCES,
    RequestLog,
    assert_exactly_once,
    assert_union_complete,
    setup_source,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.emulator.server import Emulator, Request
    from tests.faults.conftest import Setup


def big_file(setup: Setup) -> str:
    """The id of the YouServe file fetched in several Range requests (307200 bytes)."""
    return next(e["fileId"] for e in setup.vendor.entries() if e["fileName"] == "employees_full.csv")


#: (source, endpoint label, path regex, method, reset after this many body bytes)
ENDPOINTS: list[tuple[str, str, str, str, int | None]] = [
    ("talentsoft", "token", r"^/api/token$", "POST", 20),
    ("talentsoft", "vacancies export", r"/api/exports/v1/vacancies$", "GET", 3000),
    ("talentsoft", "candidates export", r"/api/exports/v1/candidates$", "GET", 5000),
    ("talentsoft", "referentials", r"^/api/v1/referentials/", "GET", 100),
    ("hrflow", "profiles list", r"^/storing/profiles$", "GET", 100),
    ("hrflow", "jobs list", r"^/storing/jobs$", "GET", 100),
    ("hrflow", "sources", r"^/sources$", "GET", 100),
    ("hrflow", "boards", r"^/boards$", "GET", 100),
    ("youserve", "token", r"^/authentication/token$", "POST", 20),
    ("youserve", "listing", r"/files$", "GET", 100),
    ("youserve", "small file", r"/files/.", "GET", 20),
    ("youserve", "file chunk", "<big file>", "GET", 1000),
    ("youserve", "file HEAD", "<big file>", "HEAD", None),
    ("coresignal", "data request", r"/bulk_collect/filter$", "POST", None),
    ("coresignal", "file list", POLL, "GET", 10),
    ("coresignal", "gzip file", r"/files/json/", "GET", 5000),
]


def endpoint_id(endpoint: tuple[str, str, str, str, int | None]) -> str:
    return f"{endpoint[0]}-{endpoint[1].replace(' ', '_')}"


def arm(setup: Setup, path: str, method: str, **fault: Any) -> Fault:
    """Arm a fault on one endpoint of the setup's vendor."""
    if path == "<big file>":
        path = big_file(setup)
    return setup.vendor.faults.add(Fault(path_regex=path, method=method, **fault))


# ---- 429 and 5xx ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_429_waits_for_retry_after(emulator: Emulator, tmp_path: Path, source: str) -> None:
    setup = setup_source(emulator, source, tmp_path)
    path, method = MAIN_ENDPOINT[source]
    log = RequestLog(setup.vendor)
    arm(setup, path, method, status=429, retry_after="1")
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    # The refused request's retry waits the header's second (not the policy's milliseconds);
    # requests sent side by side before the 429 arrived are not held back.
    entries = [(at, called) for at, verb, called in log.entries if re.search(path, called) and verb == method]
    (refused_at, refused), *later = entries
    retried_at = next(at for at, called in later if called == refused)
    assert retried_at - refused_at >= 0.95


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
def test_a_burst_of_5xx_is_retried(
    emulator: Emulator, tmp_path: Path, endpoint: tuple[str, str, str, str, int | None]
) -> None:
    source, _, path, method, _ = endpoint
    setup = setup_source(emulator, source, tmp_path)
    for status in (500, 502, 503):
        arm(setup, path, method, status=status)
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    assert sum(setup.vendor.faults.fired[str(s)] for s in (500, 502, 503)) == 3
    if source == "coresignal":
        assert setup.vendor.post_count == 1  # a refused POST is not charged: one paid request


@pytest.mark.parametrize("source", SOURCES)
def test_a_burst_longer_than_the_retries_stops_clearly_and_the_next_run_finishes(
    emulator: Emulator, tmp_path: Path, source: str
) -> None:
    setup = setup_source(emulator, source, tmp_path)
    path, method = MAIN_ENDPOINT[source]
    stream, shown_path = MAIN_STREAM[source]
    arm(setup, path, method, status=503, times=100)
    partial, error = run_tap_partial(setup.config)
    message = str(error)
    assert f"{source} stream '{stream}'" in message
    assert f"{method} {shown_path}" in message
    assert "HTTP 503" in message
    setup.vendor.faults.clear()
    resumed = run_tap(setup.config, state=partial.last_state)
    assert_union_complete([partial, resumed], setup)
    if source == "coresignal":
        assert setup.vendor.post_count == 1  # the request paid by the failed run is resumed


# ---- resets in the middle of a body -----------------------------------------------------------


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e[4] is not None], ids=endpoint_id)
def test_a_reset_in_the_middle_of_a_body_is_retried(
    emulator: Emulator, tmp_path: Path, endpoint: tuple[str, str, str, str, int | None]
) -> None:
    source, _, path, method, cut = endpoint
    setup = setup_source(emulator, source, tmp_path)
    arm(setup, path, method, abort_after=cut)
    result = run_tap(setup.config)
    assert setup.vendor.faults.fired["transport"] == 1
    assert_exactly_once(result, setup)


def test_a_reset_after_a_paid_request_never_pays_twice(emulator: Emulator, tmp_path: Path) -> None:
    """The POST's answer breaks: the request may be paid, so it is not sent again blindly."""
    setup = setup_source(emulator, "coresignal", tmp_path)
    arm(setup, r"/bulk_collect/filter$", "POST", abort_after=5)
    partial, error = run_tap_partial(setup.config)
    message = str(error)
    assert "coresignal stream 'bulk_jobs'" in message
    assert "credits may have been charged" in message
    assert setup.vendor.post_count == 1
    _, error = run_tap_partial(setup.config, state=partial.last_state)
    assert "identical data request is already in progress" in str(error)  # refused: not paid again
    assert setup.vendor.post_count == 1


@pytest.mark.parametrize(
    ("cut", "case"),
    [(2, "inside the length prefix"), (4, "right after the length prefix"), (None, "inside the zip")],
)
@pytest.mark.parametrize("export", ["vacancies", "candidates"])
def test_a_body_that_ends_inside_a_frame_is_asked_again_from_that_record(
    emulator: Emulator, tmp_path: Path, export: str, cut: int | None, case: str
) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    params: dict[str, object] = {"frame": 4} if cut is None else {"frame": 4, "cut": cut}
    arm(setup, f"/api/exports/v1/{export}$", "GET", kind="truncate", params=params)
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    offsets = [offset for name, offset, _, _ in setup.vendor.export_calls if name == export]
    # With max_concurrent_requests over 1, the page after the first (from 10) is asked as its headers arrive.
    asked_again = [offset for offset in offsets if offset != SMALL_PAGES["talentsoft"]["page_size"]]
    assert asked_again[:2] == [0, 3], case  # the frames before the cut are kept, the rest asked again


@pytest.mark.parametrize("export", ["vacancies", "candidates"])
def test_a_body_that_always_ends_inside_a_frame_names_stream_and_offset(
    emulator: Emulator, tmp_path: Path, export: str
) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    arm(setup, f"/api/exports/v1/{export}$", "GET", kind="truncate", params={"frame": 1}, times=100)
    partial, error = run_tap_partial(setup.config)
    assert isinstance(error, FatalAPIError)
    assert f"talentsoft stream '{export}': export at offset 0" in str(error)
    assert "body ended inside frame 1" in str(error)
    setup.vendor.faults.clear()
    assert_union_complete([partial, run_tap(setup.config, state=partial.last_state)], setup)


# ---- tokens -----------------------------------------------------------------------------------

OAUTH = {"talentsoft": r"/api/exports/v1/", "youserve": r"^/fileapi/v1\.0/files"}
#: Of those, requests that come one after the other whatever max_concurrent_requests (export
#: pages, YouServe listing pages: each asked for once the one before is in), so stalls add up.
ONE_AFTER_THE_OTHER = {"talentsoft": r"/api/exports/v1/", "youserve": r"^/fileapi/v1\.0/files$"}


@pytest.mark.parametrize("source", sorted(OAUTH))
def test_a_short_lived_token_is_renewed_before_it_expires(emulator: Emulator, tmp_path: Path, source: str) -> None:
    setup = setup_source(emulator, source, tmp_path, expires_in=1)
    # Slow answers stretch the run past the token's lifetime (1 s).
    setup.vendor.faults.add(Fault(path_regex=ONE_AFTER_THE_OTHER[source], method="GET", stall_seconds=0.4, times=4))
    started = time.monotonic()
    result = run_tap(setup.config)
    assert time.monotonic() - started > 1.2
    assert_exactly_once(result, setup)
    assert setup.vendor.token_requests >= 2


@pytest.mark.parametrize("source", sorted(OAUTH))
def test_a_token_revoked_mid_run_is_renewed_once(emulator: Emulator, tmp_path: Path, source: str) -> None:
    setup = setup_source(emulator, source, tmp_path)
    seen = 0

    def revoke_on_the_third_call(request: Request) -> None:
        nonlocal seen
        if re.search(OAUTH[source], request.path):
            seen += 1
            if seen == 3:
                setup.vendor.revoke_all_tokens()  # the tap still believes its token valid

    RequestLog(setup.vendor, before=revoke_on_the_third_call)
    result = run_tap(setup.config)
    assert seen > 3
    assert_exactly_once(result, setup)
    assert setup.vendor.token_requests == 2


@pytest.mark.parametrize("source", sorted(OAUTH))
def test_a_401_that_persists_after_renewal_stops_without_looping(
    emulator: Emulator, tmp_path: Path, source: str
) -> None:
    setup = setup_source(emulator, source, tmp_path)
    setup.vendor.faults.add(Fault(path_regex=OAUTH[source], status=401, times=100))
    _, error = run_tap_partial(setup.config)
    assert "HTTP 401" in str(error)
    assert f"{source} stream '" in str(error)
    assert setup.vendor.token_requests == 2  # renewed once, then given up
    assert setup.vendor.faults.fired["401"] == 2


@pytest.mark.parametrize("source", ["hrflow", "coresignal"])
def test_a_401_on_a_static_key_is_not_retried(emulator: Emulator, tmp_path: Path, source: str) -> None:
    setup = setup_source(emulator, source, tmp_path)
    path, _ = {"hrflow": ("^/", None), "coresignal": (r"/bulk_collect/filter$", None)}[source]
    setup.vendor.faults.add(Fault(path_regex=path, status=401, times=100))
    _, error = run_tap_partial(setup.config)
    assert "HTTP 401" in str(error)
    assert setup.vendor.faults.fired["401"] == 1


# ---- stalled servers ----------------------------------------------------------------------------

TIMEOUT = 0.3
STALL = 1.5
#: How a server stalls: before its status line, before its body, or in the middle of its body.
STALLS = {
    "headers": {"stall_headers_seconds": STALL},
    "body": {"stall_seconds": STALL},
    "mid-body": {"stall_seconds": STALL, "stall_after": 10},
}
STALLED_ENDPOINTS = [
    ("talentsoft", "token", r"^/api/token$", "POST"),
    ("talentsoft", "candidates export", r"/api/exports/v1/candidates$", "GET"),
    ("talentsoft", "referentials", r"^/api/v1/referentials/", "GET"),
    ("hrflow", "profiles list", r"^/storing/profiles$", "GET"),
    ("youserve", "listing", r"/files$", "GET"),
    ("youserve", "file chunk", "<big file>", "GET"),
    ("coresignal", "file list", POLL, "GET"),
    ("coresignal", "gzip file", r"/files/json/", "GET"),
]


@pytest.mark.parametrize("how", sorted(STALLS))
@pytest.mark.parametrize("endpoint", STALLED_ENDPOINTS, ids=lambda e: f"{e[0]}-{e[1].replace(' ', '_')}")
def test_a_stalled_answer_times_out_and_is_retried(
    emulator: Emulator, tmp_path: Path, endpoint: tuple[str, str, str, str], how: str
) -> None:
    source, _, path, method = endpoint
    setup = setup_source(emulator, source, tmp_path)
    setup.config["request_timeout_seconds"] = TIMEOUT  # between bytes of a body
    setup.config["first_byte_timeout_seconds"] = TIMEOUT  # for the status line
    arm(setup, path, method, **STALLS[how])
    started = time.monotonic()
    result = run_tap(setup.config)
    assert time.monotonic() - started < STALL + 5  # the tap gave up on the stalled answer
    assert setup.vendor.faults.fired["transport"] == 1
    assert_exactly_once(result, setup)


@pytest.mark.parametrize("source", SOURCES)
def test_a_server_that_never_answers_is_a_clear_error(emulator: Emulator, tmp_path: Path, source: str) -> None:
    setup = setup_source(emulator, source, tmp_path)
    setup.config["first_byte_timeout_seconds"] = 0.2
    path, method = MAIN_ENDPOINT[source]
    stream, shown_path = MAIN_STREAM[source]
    arm(setup, path, method, stall_headers_seconds=1.0, times=100)
    started = time.monotonic()
    partial, error = run_tap_partial(setup.config)
    assert time.monotonic() - started < 10
    message = str(error)
    assert f"{source} stream '{stream}'" in message
    assert f"{method} {shown_path}" in message
    assert "timed out" in message.lower()
    assert "?" not in message  # no query string
    setup.vendor.faults.clear()
    assert_union_complete([partial, run_tap(setup.config, state=partial.last_state)], setup)


# ---- metadata that lies, records repeated across pages -------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        ("talentsoft", r"/api/exports/v1/", "lie_total", {"extra": 7}),
        ("hrflow", r"^/storing/", "lie_meta", {"extra_pages": 3}),
        ("youserve", r"/files$", "lie_count", {"extra": 7}),
    ],
    ids=["talentsoft-content_range", "hrflow-max_page", "youserve-count"],
)
def test_totals_larger_than_served_neither_loop_nor_lose_records(
    emulator: Emulator, tmp_path: Path, case: tuple[str, str, str, dict[str, object]]
) -> None:
    source, path, kind, params = case
    setup = setup_source(emulator, source, tmp_path)
    setup.vendor.faults.add(Fault(path_regex=path, method="GET", kind=kind, params=params, times=1000))
    log = RequestLog(setup.vendor)
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    paging = [entry for entry in log.entries if not entry[2].endswith("/translations")]  # one call per item
    assert len(paging) < 40  # paging stopped at the first empty or short page


@pytest.mark.parametrize(
    ("source", "path", "params"),
    [
        ("talentsoft", r"/api/exports/v1/", {}),
        ("talentsoft", r"/api/exports/v1/", {"previous": 1}),
        ("hrflow", r"^/storing/", {}),
        ("youserve", r"/files$", {}),
    ],
    ids=[
        "talentsoft-first_record_twice",
        "talentsoft-overlapping_pages",
        "hrflow-shifted_page",
        "youserve-shifted_page",
    ],
)
def test_records_repeated_across_pages_are_emitted_once(
    emulator: Emulator, tmp_path: Path, source: str, path: str, params: dict[str, object]
) -> None:
    setup = setup_source(emulator, source, tmp_path)
    setup.vendor.faults.add(Fault(path_regex=path, method="GET", kind="duplicate", params=params, times=1000))
    result = run_tap(setup.config)
    assert setup.vendor.faults.fired["duplicate"] > 2
    assert_exactly_once(result, setup)


# ---- bodies that trickle, answers that never come: deadlines and budgets (issue 14) ----------

#: A body under this rate is cut, judged over windows of max(0.3 s, 2 x piece / 2 MB/s): 1 s for 1 MiB pieces.
FAST_LINK = {"min_bytes_per_second": 2_000_000, "request_timeout_seconds": 0.3}
TRICKLED_ENDPOINTS = [
    ("talentsoft", "candidates export", r"/api/exports/v1/candidates$", "GET"),
    ("hrflow", "profiles page", r"^/storing/profiles$", "GET"),
    ("youserve", "file chunk", "<big file>", "GET"),
    ("coresignal", "gzip file", r"/files/json/", "GET"),
]


@pytest.mark.parametrize("endpoint", TRICKLED_ENDPOINTS, ids=lambda e: f"{e[0]}-{e[1].replace(' ', '_')}")
def test_a_body_that_trickles_is_cut_and_asked_for_again(
    emulator: Emulator, tmp_path: Path, endpoint: tuple[str, str, str, str]
) -> None:
    """One byte every 50 ms never trips a read timeout; the minimum rate cuts it."""
    source, _, path, method = endpoint
    setup = setup_source(emulator, source, tmp_path)
    setup.config.update(FAST_LINK)
    arm(setup, path, method, trickle_bytes_per_second=20, trickle_after=100)
    started = time.monotonic()
    result = run_tap(setup.config)
    assert time.monotonic() - started < 10  # the trickle alone would take minutes
    assert setup.vendor.faults.fired["transport"] == 1
    assert_exactly_once(result, setup)


def test_a_body_that_always_trickles_ends_in_an_error_naming_the_path(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.config.update(FAST_LINK)
    arm(setup, r"^/storing/profiles$", "GET", trickle_bytes_per_second=20, trickle_after=10, times=100)
    _, error = run_tap_partial(setup.config)
    message = str(error)
    assert "hrflow stream 'hrflow_profiles'" in message
    assert "GET /hrflow/storing/profiles" in message
    assert re.search(r"answered HTTP 200; the body was cut: it sent \d+ bytes in 0.3s", message), message
    assert "gave up after" in message


def test_a_page_slower_than_the_request_deadline_is_cut(emulator: Emulator, tmp_path: Path) -> None:
    """Fast enough for the minimum rate, but a page read whole must be done within the deadline."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.config.update(min_bytes_per_second=1, request_timeout_seconds=5, request_deadline_seconds=0.5)
    arm(setup, r"^/storing/profiles$", "GET", trickle_bytes_per_second=400, trickle_after=10)
    started = time.monotonic()
    result = run_tap(setup.config)
    assert time.monotonic() - started < 10
    assert setup.vendor.faults.fired["transport"] == 1
    assert_exactly_once(result, setup)


def test_a_host_that_never_answers_fails_within_the_retry_budget(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.config.update(first_byte_timeout_seconds=0.4, retry_budget_seconds=1.0)
    arm(setup, r"/api/exports/v1/candidates$", "GET", stall_headers_seconds=3.0, times=100)
    started = time.monotonic()
    _, error = run_tap_partial(setup.config)
    elapsed = time.monotonic() - started
    assert elapsed < 4  # 6 attempts of the first-byte timeout would be more; the budget stops it first
    message = str(error)
    assert "GET /ts/api/exports/v1/candidates" in message
    assert re.search(r"gave up after [2-5] attempts in \d\.\ds", message), message


def test_first_byte_and_read_timeouts_are_separate(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pause mid-body shorter than the read timeout is fine even when longer than the first-byte one."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.config.update(first_byte_timeout_seconds=0.3, request_timeout_seconds=3)
    arm(setup, r"^/storing/profiles$", "GET", stall_seconds=0.8, stall_after=10)
    with caplog.at_level(logging.WARNING):
        result = run_tap(setup.config)
    assert setup.vendor.faults.fired["transport"] == 1
    assert "retry 1" not in caplog.text
    assert_exactly_once(result, setup)

    caplog.clear()
    arm(setup, r"^/storing/profiles$", "GET", stall_headers_seconds=0.8)  # but waiting for the answer is not
    with caplog.at_level(logging.WARNING):
        again = run_tap(setup.config)
    assert setup.vendor.faults.fired["transport"] == 2
    assert "retry 1" in caplog.text
    assert "timed out" in caplog.text.lower()
    assert_exactly_once(again, setup)
