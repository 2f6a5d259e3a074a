"""Bad and hostile input: a clear error naming source, stream and offset or file, never a hang,
never an unbounded allocation, never a file written outside the storage root.

Where a bad item is kept rather than refused, the choice is stated in the test: text that is
not UTF-8 is kept with U+FFFD in place of the bad bytes (and a warning naming where), since
stopping would block every later run at the same record and the rest of the record is intact.

Related single-source cases stay in tests/sources/ (Talentsoft ``test_zip_bomb_is_refused``,
``test_attachment_ids_never_become_paths``; YouServe ``test_server_names_and_ids_never_become_
paths``; HrFlow ``test_non_utf8_bytes_are_replaced_with_a_warning``; Coresignal
``test_corrupt_and_hostile_gzip_bodies``). JSON nested past the decoders' limit, ids too
long for a file name and a full disk: ``test_hostile_data.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import time
import tracemalloc
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tap_hrdata.http.client import VendorClient
from tests.conftest import run_tap, run_tap_partial
from tests.emulator.server import Fault, Response
from tests.faults.conftest import POLL, assert_exactly_once, assert_union_complete, setup_source

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.conftest import SyncResult
    from tests.emulator.server import Emulator, Request
    from tests.faults.conftest import Setup

T = TypeVar("T")

MB = 1 << 20


def error_then_resume(setup: Setup, *words: str) -> SyncResult:
    """The armed fault stops the run with an error holding ``words``; a run from its last
    state (the fault gone) completes the data. Returns the failed run."""
    partial, error = run_tap_partial(setup.config)
    for word in words:
        assert word in str(error), f"{word!r} not in {str(error)!r}"
    setup.vendor.faults.clear()
    assert_union_complete([partial, run_tap(setup.config, state=partial.last_state)], setup)
    return partial


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


def intercept(vendor: Any, path_regex: str, answer: Callable[[Request], Response], times: int = 1) -> list[Request]:
    """Answer the first ``times`` requests matching ``path_regex`` with ``answer``."""
    original = vendor.handle
    seen: list[Request] = []

    def handle(request: Request) -> Response:
        if len(seen) < times and re.search(path_regex, request.path):
            seen.append(request)
            return answer(request)
        return original(request)

    vendor.handle = handle
    return seen


def rewrite_json(vendor: Any, path_regex: str, change: Callable[[Any], None]) -> None:
    """Let ``change`` edit the JSON answers of requests matching ``path_regex`` (in place)."""
    original = vendor.handle

    def handle(request: Request) -> Response:
        response = original(request)
        if re.search(path_regex, request.path) and isinstance(response.body, bytes) and response.status == 200:
            payload = json.loads(response.body)
            change(payload)
            response.body = json.dumps(payload).encode()
            response.headers["Content-Length"] = str(len(response.body))
        return response

    vendor.handle = handle


# ---- Talentsoft frames and zips ---------------------------------------------------------------


def with_peak_memory(run: Callable[[], T]) -> tuple[T, int]:
    """``run()``'s result, and the most memory Python held at once while it ran."""
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("export", ["vacancies", "candidates"])
def test_a_frame_length_of_0xffffffff_is_refused_before_allocating(
    emulator: Emulator, tmp_path: Path, export: str
) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=f"/{export}$", kind="huge_length", params={"frame": 2}))
    (partial, error), peak = with_peak_memory(lambda: run_tap_partial(setup.config))
    assert f"talentsoft stream '{export}': frame at offset 1" in str(error)
    assert "announces 4294967295 bytes, more than max_frame_bytes" in str(error)
    assert peak < 50 * MB
    assert [r["offset"] for r in partial.records(export)] == [0]
    assert_union_complete([partial, run_tap(setup.config, state=partial.last_state)], setup)


@pytest.mark.parametrize(
    ("export", "kind", "words"),
    [
        ("vacancies", "not_zip", "frame at offset 2 is not a zip archive"),
        ("candidates", "not_zip", "frame at offset 2 is not a zip archive"),
        ("vacancies", "bad_json", "frame at offset 2: offerdetail is not valid JSON"),
        ("candidates", "bad_json", "frame at offset 2: applicantdetail is not valid JSON"),
        ("vacancies", "missing_offset", "frame at offset 2: offerdetail has no integer 'offset'"),
        ("candidates", "missing_offset", "frame at offset 2: applicantdetail has no integer 'offset'"),
        ("vacancies", "missing_id", "document at offset 2 has no offerDetail.reference"),
        ("candidates", "missing_id", "document at offset 2 has no candidateDetail.id"),
    ],
)
def test_a_bad_export_document_names_stream_and_offset(
    emulator: Emulator, tmp_path: Path, export: str, kind: str, words: str
) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=f"/{export}$", kind=kind, params={"frame": 3}))
    partial = error_then_resume(setup, f"talentsoft stream '{export}'", words)
    assert [r["offset"] for r in partial.records(export)] == [0, 1]


@pytest.mark.parametrize("export", ["vacancies", "candidates"])
def test_zip_entries_named_like_paths_are_never_paths(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, export: str
) -> None:
    """Entries ``../../x``, ``/etc/x``, ``..\\..\\x``, ``C:/x`` beside the real ones: ignored."""
    setup = setup_source(emulator, "talentsoft", tmp_path)
    workdir = tmp_path / "a" / "b"
    workdir.mkdir(parents=True)
    monkeypatch.chdir(workdir)  # "../../x" relative to the working directory would be tmp_path/x
    setup.vendor.faults.add(Fault(path_regex=f"/{export}$", kind="hostile_entries", params={"frame": 2}))
    result = run_tap(setup.config)
    assert setup.vendor.faults.fired["hostile_entries"] == 1
    assert_exactly_once(result, setup)
    stored = {(p.parent.name, p.name) for p in files_under(setup.root)}
    assert stored == {(r["candidate_id"], r["attachment_id"]) for r in result.records("attachments")}
    assert files_under(tmp_path) == files_under(setup.root)


def test_an_attachment_entry_renamed_to_a_path_is_a_clear_error(emulator: Emulator, tmp_path: Path) -> None:
    """The attachment listed in the document is not in the zip (its entry is ``../../x``)."""
    setup = setup_source(emulator, "talentsoft", tmp_path)
    first = setup.vendor.attachments("CAND-00002")[0].id
    setup.vendor.faults.add(Fault(path_regex="/candidates$", kind="traversal", params={"frame": 2}))
    error_then_resume(
        setup,
        "talentsoft stream 'attachments'",
        f"candidate CAND-00002 (offset 1), attachment {first!r}",
        f"the zip has no entry {first!r}",
    )
    assert files_under(tmp_path) == files_under(setup.root)


def test_an_attachment_id_that_is_a_path_stays_under_the_root(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.vendor.faults.add(Fault(path_regex="/candidates$", kind="traversal_id", params={"frame": 1}))
    result = run_tap(setup.config)
    [hostile] = [a for a in result.records("attachments") if a["attachment_id"] == "../../x"]
    assert hostile["storage_uri"] == f"file://{setup.root}/talentsoft/attachments/CAND-00001/..%2F..%2Fx"
    stored = (setup.root / "talentsoft" / "attachments" / "CAND-00001" / "..%2F..%2Fx").read_bytes()
    assert hashlib.sha256(stored).hexdigest() == hostile["sha256"]
    assert files_under(tmp_path) == files_under(setup.root)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("zip_bomb", f"declares {50 * MB} bytes, more than {10 * MB}; refused as a zip bomb"),
        ("zip_bomb_lying", "ATT-00003-BOMB"),  # declares 1000 bytes, inflates to 50 MB
    ],
)
def test_a_zip_bomb_is_refused_in_bounded_memory(emulator: Emulator, tmp_path: Path, kind: str, words: str) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    setup.settings(max_frame_bytes=10 * MB)
    setup.vendor.faults.add(Fault(path_regex="/candidates$", kind=kind, params={"frame": 3, "size": 50 * MB}))
    (partial, error), peak = with_peak_memory(lambda: run_tap_partial(setup.config))
    message = str(error)
    assert "talentsoft stream 'attachments': candidate CAND-00003 (offset 2), attachment 'ATT-00003-BOMB'" in message
    assert words in message
    assert "zip bomb" in message or "corrupt" in message
    assert peak < 30 * MB  # 50 MB never inflated in memory
    assert not (setup.root / "talentsoft" / "attachments" / "CAND-00003" / "ATT-00003-BOMB").exists()
    assert not list(setup.root.rglob("*.part-*"))  # the partial write was dropped
    setup.vendor.faults.clear()
    assert_union_complete([partial, run_tap(setup.config, state=partial.last_state)], setup)


# ---- invalid JSON from the other sources ------------------------------------------------------


def test_hrflow_body_that_is_not_json_names_stream_and_endpoint(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.vendor.faults.add(Fault(path_regex="^/storing/jobs$", kind="not_json", times=100))
    error_then_resume(
        setup,
        "hrflow stream 'hrflow_jobs': GET /hrflow/storing/jobs answered HTTP 200 with a body that is not JSON",
        "<html>Bad gateway</html>",
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda page: page["data"][1].pop("fileId"), "a listing entry has no fileId"),
        (lambda page: page["data"][1].update(fileSize="12"), "fileSize '12' is not a size"),
        (lambda page: page["data"][1].update(uploadDate="yesterday"), "uploadDate 'yesterday' is not a date-time"),
        (lambda page: page["data"][1].update(fileId=".."), "fileId '..' is not an id"),
    ],
    ids=["no_file_id", "size_not_a_number", "date_not_a_date", "dot_dot_id"],
)
def test_a_bad_youserve_listing_entry_names_stream_and_file(
    emulator: Emulator, tmp_path: Path, change: Callable[[Any], None], words: str
) -> None:
    setup = setup_source(emulator, "youserve", tmp_path)
    rewrite_json(setup.vendor, r"/files$", change)
    partial, error = run_tap_partial(setup.config)
    assert "youserve stream 'delivered_files'" in str(error)
    assert words in str(error)
    # none: the files of an upload date are read whole, sorted by id, before any is emitted
    assert partial.records("delivered_files") == []
    assert files_under(tmp_path) == files_under(setup.root)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("truncated_gzip", "is a truncated gzip file"),
        ("not_gzip", "is not a gzip file"),
        ("bad_line", ": not valid JSON"),
    ],
)
def test_a_coresignal_file_that_stays_broken_names_stream_and_file(
    emulator: Emulator, tmp_path: Path, kind: str, words: str
) -> None:
    setup = setup_source(emulator, "coresignal", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=r"/files/json/part-00001-", kind=kind, times=100))
    partial, error = run_tap_partial(setup.config)
    [request_id] = setup.vendor.data_requests
    name = setup.vendor.files_for_request(request_id)[1]
    assert f"coresignal stream 'bulk_jobs': file {name!r} of data request {request_id}" in str(error)
    assert words in str(error)
    setup.vendor.faults.clear()
    assert_union_complete([partial, run_tap(setup.config, state=partial.last_state)], setup)
    assert setup.vendor.post_count == 1  # the next run resumed the paid request


# ---- HrFlow errors inside HTTP 200 answers ------------------------------------------------------

HRFLOW_ENDPOINTS = {
    "hrflow_profiles": "/storing/profiles",
    "hrflow_jobs": "/storing/jobs",
    "hrflow_sources": "/sources",
    "hrflow_boards": "/boards",
    "hrflow_trackings": "/trackings",
    "hrflow_ratings": "/ratings",
}


@pytest.mark.parametrize("stream", sorted(HRFLOW_ENDPOINTS))
def test_hrflow_code_500_under_http_200_once_is_retried(emulator: Emulator, tmp_path: Path, stream: str) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.vendor.faults.add(Fault(path_regex=f"^{HRFLOW_ENDPOINTS[stream]}$", kind="body_code", params={"code": 500}))
    result = run_tap(setup.config)
    assert setup.vendor.faults.fired["body_code"] == 1
    assert_exactly_once(result, setup)


@pytest.mark.parametrize("stream", sorted(HRFLOW_ENDPOINTS))
def test_hrflow_code_500_that_persists_names_stream_and_endpoint(
    emulator: Emulator, tmp_path: Path, stream: str
) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    path = HRFLOW_ENDPOINTS[stream]
    setup.vendor.faults.add(Fault(path_regex=f"^{path}$", kind="body_code", params={"code": 500}, times=100))
    error_then_resume(setup, f"hrflow stream '{stream}': GET /hrflow{path} answered code 500: Internal error")


# ---- text that is not UTF-8: kept, the bad bytes replaced, with a warning -------------------------

NON_UTF8 = [
    (
        "talentsoft",
        r"/vacancies$",
        "vacancies",
        lambda r: r["title"],
        "talentsoft stream 'vacancies': frame at offset 0",
    ),
    (
        "talentsoft",
        r"/candidates$",
        "candidates",
        lambda r: r["first_name"],
        "talentsoft stream 'candidates': frame at offset 0",
    ),
    (
        "hrflow",
        r"^/storing/profiles$",
        "hrflow_profiles",
        lambda r: r["raw"]["text"],
        "hrflow stream 'hrflow_profiles'",
    ),
    ("youserve", r"/files$", "delivered_files", lambda r: r["file_name"], "youserve stream 'delivered_files'"),
    (
        "coresignal",
        r"/files/json/part-00000-",
        "bulk_jobs",
        lambda r: r["title"],
        "coresignal stream 'bulk_jobs': file",
    ),
]


@pytest.mark.parametrize("case", NON_UTF8, ids=[f"{c[0]}-{c[2]}" for c in NON_UTF8])
def test_text_that_is_not_utf8_is_kept_with_replacement_characters_and_a_warning(
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, str, str, Callable[[dict[str, Any]], str], str],
) -> None:
    source, path, stream, field, where = case
    setup = setup_source(emulator, source, tmp_path)
    setup.vendor.faults.add(Fault(path_regex=path, method="GET", kind="non_utf8", params={"frame": 1, "line": 3}))
    with caplog.at_level(logging.WARNING):
        result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    marked = [r for r in result.records(stream) if "Ren\ufffd \ufffd" in (field(r) or "")]
    assert len(marked) == 1
    warnings = [r.getMessage() for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert len(warnings) == 1
    assert where in warnings[0]


# ---- answers that never end ---------------------------------------------------------------------


def endless(_: Request) -> Response:
    return Response(
        200, body=itertools.repeat(b" " * 65536), headers={"Content-Type": "application/json"}, chunked=True
    )


@pytest.mark.parametrize(
    "case",
    [
        ("talentsoft", r"^/api/v1/referentials/", "referentials", "GET /ts/api/v1/referentials/countries"),
        ("hrflow", r"^/storing/profiles$", "hrflow_profiles", "GET /hrflow/storing/profiles"),
        ("youserve", r"/files$", "delivered_files", "GET /youserve/fileapi/v1.0/files"),
        ("coresignal", POLL, "bulk_jobs", "GET /coresignal/v1/bulk_collect/"),
    ],
    ids=["talentsoft", "hrflow", "youserve", "coresignal"],
)
def test_a_json_answer_that_never_ends_is_refused_not_buffered(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[str, str, str, str]
) -> None:
    source, path, stream, shown = case
    monkeypatch.setattr(VendorClient, "max_json_bytes", 2 * MB)
    setup = setup_source(emulator, source, tmp_path)
    intercept(setup.vendor, path, endless)
    started = time.monotonic()
    _, error = run_tap_partial(setup.config)
    assert time.monotonic() - started < 30
    assert f"{source} stream '{stream}'" in str(error)
    assert shown in str(error)
    assert f"answered more than {2 * MB} bytes; refused" in str(error)


# ---- server names never become paths ---------------------------------------------------------------


def test_youserve_names_and_ids_that_look_like_paths_stay_under_the_root(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_source(emulator, "youserve", tmp_path)
    workdir = tmp_path / "a" / "b"
    workdir.mkdir(parents=True)
    monkeypatch.chdir(workdir)
    setup.vendor.add_file("../../etc/passwd", 7101, 40, file_id="../../x")
    setup.vendor.add_file("/etc/shadow", 7101, 40, file_id="/etc/x")
    setup.vendor.add_file("C:\\Windows\\x", 7101, 40, file_id="..\\..\\x")
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    assert any(r["file_name"] == "../../etc/passwd" for r in result.records("delivered_files"))
    stored = files_under(setup.root)
    assert {p.name for p in stored} >= {"..%2F..%2Fx", "%2Fetc%2Fx", "..%5C..%5Cx"}
    assert files_under(tmp_path) == stored
    for record in result.records("delivered_files"):
        assert record["storage_uri"].startswith(f"file://{setup.root}/youserve/")
