"""HrFlow profile attachments against the emulator: bytes in storage, no download twice, no key abroad.

The listing is HrFlow's ``GET /profile/indexing/attachments`` as its Python SDK sends it
(``Riminder/python-hrflow-api``, ``hrflow/profile/attachment.py``: ``ProfileAttachments.list``,
``client.get("profile/indexing/attachments", format_item_payload("profile", source_key, key,
reference, email))``); the attachment objects have the fields of the SDK's ``Attachment`` model
(``hrflow/schemas.py``), and the envelope and the unknown-profile answer follow HrFlow's API
reference (``Riminder/docs-api``, ``api-reference/profile-api/get-profile-attachments.md``). What
the emulator guesses beyond those is listed in ``tests/emulator/hrflow_attachments.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_hrdata.sources.hrflow.attachments import (
    DIGEST_CHARS,
    FINGERPRINTS,
    allowed_transport,
    profile_slot,
)
from tap_hrdata.statecheck import StateError
from tap_hrdata.tap import TapHrData
from tests.conftest import SyncResult, captured_stdout, config_for, mount, run_tap
from tests.contracts.columns import TABLES, unfilled
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.hrflow_attachments import MIN_BYTES, SPREAD_BYTES
from tests.emulator.server import Emulator, Fault, Request, Response

STREAM = "hrflow_profile_attachments"
LISTING = "/profile/indexing/attachments"
SOURCE = "src-a"
#: What the tests sync: the profiles and their attachments, nothing else.
SYNCED = {"hrflow_profiles", STREAM}
CREDENTIAL_HEADERS = ("x-api-key", "x-user-email", "authorization")
#: A size limit over every generated file (at most MIN_BYTES + SPREAD_BYTES), for the oversize tests.
LIMIT = MIN_BYTES + SPREAD_BYTES + 1


@pytest.fixture
def vendor(emulator: Emulator) -> HrflowEmulator:
    return mount(emulator, HrflowEmulator(sources={SOURCE: 9}, extra_sources=0, boards={}, extra_boards=0))


def att_config(emulator: Emulator, vendor: HrflowEmulator, files: Path, **hrflow: Any) -> dict[str, Any]:
    return config_for(emulator, vendor, files=files, hrflow={"source_keys": [SOURCE], **hrflow})


def selecting(config: dict[str, Any], streams: set[str] = SYNCED) -> dict[str, Any]:
    """The discovered catalog with exactly ``streams`` selected."""
    catalog = TapHrData(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def sync(config: dict[str, Any], state: dict[str, Any] | None = None) -> SyncResult:
    """A run with the attachments selected, from a copy of ``state`` (the run updates the state it is given)."""
    return run_tap(config, state=copy.deepcopy(state), catalog=selecting(config))


def sync_failing(config: dict[str, Any], state: dict[str, Any] | None = None) -> tuple[SyncResult, BaseException]:
    """A run expected to fail (as :func:`~tests.conftest.run_tap_partial`, with the attachments selected)."""
    result = SyncResult()
    catalog = selecting(config)
    with captured_stdout() as raw:
        try:
            TapHrData(config=config, state=state or {}, catalog=catalog).sync_all()
        except Exception as exc:  # the run's error is what the test looks at
            error: BaseException = exc
        else:
            pytest.fail("the sync was expected to fail")
        finally:
            result.messages = [json.loads(line) for line in raw.getvalue().splitlines() if line.strip()]
    return result, error


def stored(uri: str) -> bytes:
    assert uri.startswith("file://"), uri
    return Path(uri.removeprefix("file://")).read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def downloads(vendor: HrflowEmulator) -> int:
    return len(vendor.attachments.downloads())


def without_profiles_bookmark(state: dict[str, Any]) -> dict[str, Any]:
    """The state with the profiles' bookmark gone: the next run lists every profile again."""
    bookmarks = {name: value for name, value in state["bookmarks"].items() if name != "hrflow_profiles"}
    return {**state, "bookmarks": bookmarks}


# ---- what a run loads ------------------------------------------------------------------------


def test_every_file_is_stored_with_its_checksum(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    attachments = vendor.attachments
    assert attachments.profiles_with(0)
    assert attachments.profiles_with(1)
    assert attachments.profiles_with(2)  # the emulator's three cases are all there
    result = sync(att_config(emulator, vendor, tmp_path / "files"))

    expected = {
        (p["key"], a.file_name): a for p in vendor.profiles() for a in attachments.of(p["key"])
    }  # fmt: skip
    records = result.records(STREAM)
    assert {(r["profile_key"], r["attachment_key"]) for r in records} == set(expected)
    assert len(records) == len(expected)
    assert vendor.calls[LISTING] == len(vendor.profiles())  # one listing per profile, none with no file left out
    for record in records:
        attachment = expected[(record["profile_key"], record["attachment_key"])]
        content = attachments.content(record["profile_key"], attachment.file_name)
        assert record["sha256"] == sha(content)
        assert record["size_bytes"] == len(content)
        assert stored(record["storage_uri"]) == content
        assert record["storage_uri"] == (
            f"file://{tmp_path / 'files' / 'hrflow' / SOURCE / record['profile_key'] / attachment.file_name}"
        )
        assert record["source_key"] == SOURCE
        assert record["type"] == attachment.type
        assert record["file_name"] == attachment.file_name
        assert record["original_file_name"] == attachment.original_file_name
        assert record["extension"] == attachment.extension
        expected_type = "application/pdf" if attachment.extension == ".pdf" else "application/vnd.openxmlformats"
        assert record["content_type"].startswith(expected_type)
        assert record["updated_at"].endswith("+00:00")
        assert record["raw"]["file_name"] == attachment.file_name
        assert record["raw"]["file_size"] == len(content)  # the seed shape: an integer
        assert record["content_base64"] is None  # inline_files_max_bytes is 0
        assert unfilled(TABLES[STREAM], record["raw"], record) == []
    assert not list((tmp_path / "files").rglob("*.part-*"))


def test_the_stream_is_off_unless_selected(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    config = att_config(emulator, vendor, tmp_path / "files")
    catalog = TapHrData(config=config).catalog_dict
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == STREAM)
    top = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
    assert top["selected-by-default"] is False
    assert list(entry["key_properties"]) == ["profile_key", "attachment_key"]

    result = run_tap(config)
    assert result.records("hrflow_profiles")
    assert result.records(STREAM) == []
    assert vendor.calls[LISTING] == 0
    assert downloads(vendor) == 0


def test_state_is_written_by_the_parent_not_per_profile(
    emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path
) -> None:
    result = sync(att_config(emulator, vendor, tmp_path / "files"))
    with_files = [p["key"] for p in vendor.profiles() if vendor.attachments.of(p["key"])]
    assert len(with_files) >= 5
    schemas = [m for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == STREAM]
    assert len(schemas) == 1
    # Not one STATE per profile (the fingerprint table would repeat in each): the parent's only.
    assert len(result.states) == 1, len(result.states)  # the parent's last; 7 were written before the override
    table = result.last_state["bookmarks"][STREAM][FINGERPRINTS]
    assert set(table) == {profile_slot(SOURCE, key) for key in with_files}
    for key in with_files:
        assert len(table[profile_slot(SOURCE, key)]) == DIGEST_CHARS * len(vendor.attachments.of(key))


# ---- what a later run does not do ------------------------------------------------------------


def test_an_unchanged_rerun_downloads_and_emits_nothing(
    emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = att_config(emulator, vendor, tmp_path / "files")
    first = sync(config)
    fetched = downloads(vendor)
    assert fetched == len(first.records(STREAM)) > 0

    second = sync(config, state=first.last_state)  # nothing changed: no profile, so no listing either
    assert second.records("hrflow_profiles") == []
    assert second.records(STREAM) == []
    assert downloads(vendor) == fetched

    vendor.reset_calls()
    with caplog.at_level(logging.INFO):
        third = sync(config, state=without_profiles_bookmark(first.last_state))  # every profile again
    assert len(third.records("hrflow_profiles")) == len(vendor.profiles())
    assert vendor.calls[LISTING] == len(vendor.profiles())  # each listed (new signatures in every public_url) ...
    assert third.records(STREAM) == []  # ... and nothing emitted
    assert downloads(vendor) == fetched  # ... nor downloaded again
    assert third.last_state["bookmarks"][STREAM] == first.last_state["bookmarks"][STREAM]
    assert f"{fetched} attachment(s) unchanged since an earlier run, not downloaded again" in caplog.text


def test_a_changed_file_alone_is_downloaded_again(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    config = att_config(emulator, vendor, tmp_path / "files")
    first = sync(config)
    changed_profile = vendor.attachments.profiles_with(2)[0]
    untouched_files = vendor.attachments.profiles_with(1)[0]
    resume, original = vendor.attachments.of(changed_profile)
    old = vendor.attachments.content(changed_profile, original.file_name)
    vendor.attachments.change(changed_profile, original.file_name)
    vendor.touch_profile(changed_profile)  # both profiles are emitted again ...
    vendor.touch_profile(untouched_files)  # ... this one with its file as it was
    new = vendor.attachments.content(changed_profile, original.file_name)
    assert new != old
    before = len(vendor.attachments.file_requests)

    second = sync(config, state=first.last_state)
    assert {p["key"] for p in second.records("hrflow_profiles")} == {changed_profile, untouched_files}
    [record] = second.records(STREAM)
    assert (record["profile_key"], record["attachment_key"]) == (changed_profile, original.file_name)
    assert record["sha256"] == sha(new)
    assert stored(record["storage_uri"]) == new
    assert [r.token for r in vendor.attachments.file_requests[before:]] == [original.token]
    assert stored(f"file://{tmp_path}/files/hrflow/{SOURCE}/{changed_profile}/{resume.file_name}") == (
        vendor.attachments.content(changed_profile, resume.file_name)
    )
    slot = profile_slot(SOURCE, changed_profile)
    entries = first.last_state["bookmarks"][STREAM][FINGERPRINTS], second.last_state["bookmarks"][STREAM][FINGERPRINTS]
    assert entries[0][slot] != entries[1][slot]
    assert len(entries[1][slot]) == 2 * DIGEST_CHARS
    assert {k: v for k, v in entries[0].items() if k != slot} == {k: v for k, v in entries[1].items() if k != slot}


def test_a_file_gone_from_the_listing_leaves_the_table(
    emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path
) -> None:
    config = att_config(emulator, vendor, tmp_path / "files")
    first = sync(config)
    profile = vendor.attachments.profiles_with(2)[0]
    del vendor.attachments.of(profile)[1]  # the "original" is deleted at HrFlow
    vendor.touch_profile(profile)
    second = sync(config, state=first.last_state)
    assert second.records(STREAM) == []
    assert len(second.last_state["bookmarks"][STREAM][FINGERPRINTS][profile_slot(SOURCE, profile)]) == DIGEST_CHARS


# ---- transport -------------------------------------------------------------------------------


def test_files_on_another_origin_get_no_credentials(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    sync(att_config(emulator, vendor, tmp_path / "files"))
    api_host = f"127.0.0.1:{emulator.port}"
    requests_made = vendor.attachments.file_requests
    foreign = [r for r in requests_made if r.host != api_host]
    own = [r for r in requests_made if r.host == api_host]
    assert foreign
    assert own  # the same-origin files show the difference is made per origin
    assert all(r.host == f"localhost:{emulator.port}" and r.status == 200 for r in foreign)
    for request in foreign:
        assert not set(CREDENTIAL_HEADERS) & set(request.headers), request.headers
        assert not any(vendor.api_key in value or vendor.user_email in value for value in request.headers.values())
    assert all(r.headers.get("x-api-key") == vendor.api_key and r.status == 200 for r in own)


def test_a_file_host_may_redirect_and_still_gets_no_credentials(
    emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path
) -> None:
    """Object stores redirect (another region, a CDN): an unsigned GET follows, a token request would not."""
    original = vendor.handle
    redirected: list[str] = []

    def handle(request: Request) -> Response:
        host = request.headers.get("Host") or ""
        if not redirected and request.method == "GET" and host.startswith("localhost"):
            redirected.append(request.path)
            query = f"?{request.raw_query}" if request.raw_query else ""
            location = f"http://{host}{vendor.prefix}{request.path}{query}"
            return Response(status=302, headers={"Location": location, "Content-Length": "0"})
        return original(request)

    vendor.handle = handle  # type: ignore[method-assign]
    result = sync(att_config(emulator, vendor, tmp_path / "files"))
    assert redirected
    records = result.records(STREAM)
    assert records
    for record in records:
        assert sha(stored(record["storage_uri"])) == record["sha256"]
    foreign = [r for r in vendor.attachments.file_requests if r.host.startswith("localhost")]
    assert all(not set(CREDENTIAL_HEADERS) & set(r.headers) for r in foreign)


@pytest.mark.parametrize("limit", [1, 2])
def test_calls_in_flight_never_exceed_max_concurrent_requests(
    emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path, limit: int
) -> None:
    config = att_config(emulator, vendor, tmp_path / "files", page_size=2, max_concurrent_requests=limit)
    vendor.attachments.delay_seconds = 0.02  # calls side by side overlap, and show in in_flight
    result = sync(config)
    records = result.records(STREAM)
    assert len(records) == sum(len(vendor.attachments.of(p["key"])) for p in vendor.profiles())
    for record in records:
        assert record["sha256"] == sha(vendor.attachments.content(record["profile_key"], record["file_name"]))
    assert vendor.max_in_flight == limit  # a profile's two files are fetched side by side, never more


def test_plain_http_is_refused_off_loopback() -> None:
    assert allowed_transport("https://files.example.com/a.pdf?X-Amz-Signature=abc")
    assert allowed_transport("http://localhost:8000/a.pdf")
    assert allowed_transport("http://127.0.0.1:8000/a.pdf")
    assert not allowed_transport("http://files.example.com/a.pdf")
    assert not allowed_transport("ftp://files.example.com/a.pdf")
    assert not allowed_transport("https:///a.pdf")


def test_a_broken_body_starts_the_file_again(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex=r"^/storage/", abort_after=700, times=2))
    result = sync(att_config(emulator, vendor, tmp_path / "files"))
    assert vendor.faults.fired["transport"] == 2
    records = result.records(STREAM)
    assert records
    for record in records:
        assert stored(record["storage_uri"]) == vendor.attachments.content(record["profile_key"], record["file_name"])
    assert not list((tmp_path / "files").rglob("*.part-*"))


def test_a_throttled_download_is_retried(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    vendor.faults.add(Fault(path_regex=r"^/storage/", status=429, retry_after="0", times=1))
    result = sync(att_config(emulator, vendor, tmp_path / "files"))
    assert len(result.records(STREAM)) == sum(len(vendor.attachments.of(p["key"])) for p in vendor.profiles())


# ---- what stops a run ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "declared", "other_origin", "fetched"),
    [
        (LIMIT + 1, None, True, False),  # the listed file_size says so: not even asked for
        (LIMIT + 1, 100, True, True),  # file_size understates it: the Content-Length says so
        (LIMIT + 1, 100, False, True),  # chunked, no length: the bytes as they arrive say so
    ],
    ids=["listed-size", "content-length", "streamed"],
)
def test_a_file_over_the_limit_stops_the_run_naming_the_profile(  # noqa: PLR0917
    emulator: Emulator,
    vendor: HrflowEmulator,
    tmp_path: Path,
    size: int,
    declared: int | None,
    other_origin: bool,
    fetched: bool,
) -> None:
    profile = vendor.attachments.profiles_with(0)[0]
    big = vendor.attachments.add(profile, "big.pdf", size=size, declared_size=declared, other_origin=other_origin)
    config = att_config(emulator, vendor, tmp_path / "files", attachment_max_bytes=LIMIT)
    result, error = sync_failing(config)
    assert isinstance(error, FatalAPIError)
    message = str(error)
    assert f"hrflow stream '{STREAM}'" in message
    assert profile in message
    assert "'big.pdf'" in message
    assert f"hrflow.attachment_max_bytes ({LIMIT})" in message
    assert any(r.token == big.token for r in vendor.attachments.file_requests) is fetched
    assert not (tmp_path / "files" / "hrflow" / SOURCE / profile).exists() or not any(
        (tmp_path / "files" / "hrflow" / SOURCE / profile).iterdir()
    )
    assert all(r["profile_key"] != profile for r in result.records(STREAM))
    assert vendor.api_key not in message


def test_a_hostile_file_name_never_becomes_a_path(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    profile = vendor.attachments.profiles_with(0)[0]
    vendor.attachments.add(profile, "../../x")
    result = sync(att_config(emulator, vendor, tmp_path / "files"))
    [record] = [r for r in result.records(STREAM) if r["profile_key"] == profile]
    assert record["attachment_key"] == "../../x"
    assert record["storage_uri"] == f"file://{tmp_path / 'files' / 'hrflow' / SOURCE / profile / '..%2F..%2Fx'}"
    assert stored(record["storage_uri"]) == vendor.attachments.content(profile, "../../x")
    assert not (tmp_path / "files" / "hrflow" / "x").exists()
    assert not (tmp_path / "files" / "hrflow" / SOURCE / "x").exists()
    assert not (tmp_path / "x").exists()


def test_an_error_in_a_200_listing_body_stops_the_run(
    emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path
) -> None:
    vendor.faults.add(Fault(path_regex=f"^{LISTING}$", kind="body_code", params={"code": 400}))
    _, error = sync_failing(att_config(emulator, vendor, tmp_path / "files"))
    assert isinstance(error, FatalAPIError)
    assert f"hrflow stream '{STREAM}': profile " in str(error)
    assert f"GET /hrflow{LISTING} answered code 400" in str(error)
    assert vendor.api_key not in str(error)


def test_a_retriable_code_in_a_200_listing_body_is_retried(
    emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path
) -> None:
    vendor.faults.add(Fault(path_regex=f"^{LISTING}$", kind="body_code", params={"code": 503}, times=2))
    result = sync(att_config(emulator, vendor, tmp_path / "files"))
    assert len(result.records(STREAM)) == sum(len(vendor.attachments.of(p["key"])) for p in vendor.profiles())
    assert vendor.calls[LISTING] == len(vendor.profiles()) + 2


def test_two_files_with_one_name_stop_the_run(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    profile = vendor.attachments.profiles_with(1)[0]
    vendor.attachments.add(profile, vendor.attachments.of(profile)[0].file_name)
    _, error = sync_failing(att_config(emulator, vendor, tmp_path / "files"))
    assert f"profile {profile}: two attachments are named" in str(error)


def test_a_corrupt_fingerprint_table_is_refused(emulator: Emulator, vendor: HrflowEmulator, tmp_path: Path) -> None:
    config = att_config(emulator, vendor, tmp_path / "files")
    for table, where in [
        ("abc", f"bookmarks.{STREAM}.{FINGERPRINTS} must be an object"),
        ({"0123456789abcdef": "xyz"}, "'0123456789abcdef' must map"),
        ({"not-a-digest": "0123456789abcdef"}, "'not-a-digest' must map"),
    ]:
        with pytest.raises(StateError, match=where):
            TapHrData(config=config, state={"bookmarks": {STREAM: {FINGERPRINTS: table}}})


# ---- the emulator's endpoint, as strict as HrFlow -------------------------------------------


def test_the_emulator_listing_is_strict(emulator: Emulator, vendor: HrflowEmulator) -> None:
    base = emulator.url(vendor.prefix)
    headers = {"X-API-KEY": vendor.api_key, "X-USER-EMAIL": vendor.user_email}
    profile = vendor.profiles()[2]

    def get(params: dict[str, str], sent: dict[str, str] = headers) -> dict[str, Any]:
        answer = requests.get(f"{base}{LISTING}", params=params, headers=sent, timeout=10)
        assert answer.status_code == 200  # HrFlow's errors are in the body
        return dict(answer.json())

    ok = get({"source_key": SOURCE, "key": profile["key"]})
    assert (ok["code"], ok["message"]) == (200, "Profile's attachment list")
    assert [a["file_name"] for a in ok["data"]] == [a.file_name for a in vendor.attachments.of(profile["key"])]
    assert set(ok["data"][0]) == {
        "type",
        "alt",
        "file_size",
        "file_name",
        "original_file_name",
        "extension",
        "public_url",
        "created_at",
        "updated_at",
    }
    by_reference = get({"source_key": SOURCE, "reference": profile["reference"]})
    assert [a["file_name"] for a in by_reference["data"]] == [a["file_name"] for a in ok["data"]]
    by_email = get({"source_key": SOURCE, "profile_email": profile["info"]["email"]})
    assert [a["file_name"] for a in by_email["data"]] == [a["file_name"] for a in ok["data"]]
    assert get({"key": profile["key"]})["code"] == 400  # no source_key
    assert get({"source_key": SOURCE})["code"] == 400  # no profile
    assert get({"source_key": SOURCE, "key": profile["key"], "page": "1"})["code"] == 400  # unknown parameter
    assert get({"source_key": SOURCE, "key": "f" * 40}) == {"code": 400, "message": "Invalid profile array"}
    assert get({"source_key": "src-b", "key": profile["key"]})["code"] == 400  # not in that source
    assert get({"source_key": SOURCE, "key": profile["key"]}, {})["code"] == 401


def test_the_emulator_files_answer_only_where_their_url_points(emulator: Emulator, vendor: HrflowEmulator) -> None:
    base = emulator.url(vendor.prefix)
    headers = {"X-API-KEY": vendor.api_key, "X-USER-EMAIL": vendor.user_email}
    profile = vendor.attachments.profiles_with(2)[0]
    listing = requests.get(
        f"{base}{LISTING}", params={"source_key": SOURCE, "key": profile}, headers=headers, timeout=10
    )
    resume, original = listing.json()["data"]
    assert resume["public_url"].startswith(f"http://localhost:{emulator.port}/hrflow/storage/")
    assert original["public_url"].startswith(f"http://127.0.0.1:{emulator.port}/hrflow/storage/")
    assert requests.get(resume["public_url"], timeout=10).content == vendor.attachments.content(
        profile, resume["file_name"]
    )
    assert requests.get(original["public_url"], timeout=10).status_code == 401  # the API's origin wants the key
    assert requests.get(original["public_url"], headers=headers, timeout=10).status_code == 200
    elsewhere = resume["public_url"].replace("localhost", "127.0.0.1")
    assert requests.get(elsewhere, timeout=10).status_code == 404
    assert requests.get(resume["public_url"].split("?")[0], timeout=10).status_code == 404  # unsigned
