"""The Talentsoft emulator against its documentation (and the vendor's own sample)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import requests

from tests.emulator.server import Emulator, Fault
from tests.emulator.talentsoft import FilterError, TalentsoftEmulator, parse_date, parse_filter

CLIENT = {"client_id": "ts-client", "client_secret": "ts-secret-0123456789"}
GRANT = {"grant_type": "client_credentials", **CLIENT}
SAMPLE_DOC = "api-docs/talentsoft-exports-stream-examples.txt"


def mount(emulator: Emulator, vendor: TalentsoftEmulator) -> str:
    """Mount a fresh vendor on the session's server (see tests/conftest.py); its base URL."""
    emulator.vendors[:] = [v for v in emulator.vendors if v.prefix != vendor.prefix] + [vendor]
    return emulator.url(vendor.prefix)


def token_headers(base: str) -> dict[str, str]:
    response = requests.post(f"{base}/api/token", data=GRANT, timeout=10)
    response.raise_for_status()
    return {"Authorization": "bearer " + response.json()["access_token"]}


@pytest.fixture
def ts() -> TalentsoftEmulator:
    return TalentsoftEmulator()


@pytest.fixture
def base(emulator: Emulator, ts: TalentsoftEmulator) -> str:
    return mount(emulator, ts)


@pytest.fixture
def auth(base: str) -> dict[str, str]:
    return token_headers(base)


def export(base: str, auth: dict[str, str], kind: str, *, stream: bool = False, **params: object) -> requests.Response:
    return requests.get(f"{base}/api/exports/v1/{kind}", params=params, headers=auth, timeout=30, stream=stream)


def split_frames(body: bytes) -> tuple[list[bytes], bytes]:
    """The complete frames of a body, and what is left after them (an incomplete frame)."""
    frames, pos = [], 0
    while len(body) - pos >= 4:
        size = int.from_bytes(body[pos : pos + 4], "little")
        if len(body) - pos - 4 < size:
            break
        frames.append(body[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return frames, body[pos:]


def documents(body: bytes, entry: str) -> list[dict]:
    frames, rest = split_frames(body)
    assert rest == b""
    return [json.loads(zipfile.ZipFile(io.BytesIO(frame)).read(entry)) for frame in frames]


# ---------------------------------------------------------------------------- tokens


def test_token_ok_without_and_with_scope(ts: TalentsoftEmulator, base: str) -> None:
    first = requests.post(f"{base}/api/token", data=GRANT, timeout=10)
    second = requests.post(f"{base}/api/token", data={**GRANT, "scope": "MatchingIndexation"}, timeout=10)
    for response in (first, second):
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 1199
        assert len(body["access_token"]) >= 60
    assert ts.token_requests == 2
    assert ts.issued_tokens == [first.json()["access_token"], second.json()["access_token"]]


@pytest.mark.parametrize(
    ("data", "headers", "expected"),
    [
        ({**GRANT, "client_secret": "nope"}, {}, (401, "invalid_client")),
        ({**GRANT, "client_id": "other"}, {}, (401, "invalid_client")),
        ({"grant_type": "client_credentials"}, {}, (401, "invalid_client")),
        ({**GRANT, "grant_type": "password"}, {}, (400, "unsupported_grant_type")),
        (CLIENT, {}, (400, "invalid_request")),
        ({**GRANT, "scope": "Everything"}, {}, (400, "invalid_scope")),
        (json.dumps(GRANT), {"Content-Type": "application/json"}, (400, "invalid_request")),
        ("grant_type=client_credentials", {"Content-Type": "text/plain"}, (400, "invalid_request")),
    ],
)
def test_token_rejections(
    ts: TalentsoftEmulator, base: str, data: object, headers: dict, expected: tuple[int, str]
) -> None:
    response = requests.post(f"{base}/api/token", data=data, headers=headers, timeout=10)
    assert (response.status_code, response.json()["error"]) == expected
    assert ts.issued_tokens == []


def test_token_endpoint_wants_post(base: str) -> None:
    assert requests.get(f"{base}/api/token", timeout=10).status_code == 405


def test_exports_need_a_valid_token(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    url = f"{base}/api/exports/v1/vacancies"
    for headers in ({}, {"Authorization": "bearer nope"}, {"Authorization": auth["Authorization"][7:]}):
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401
        assert "message" in response.json()
    token = auth["Authorization"].split()[1]
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    assert requests.get(url, headers={"Authorization": f"BEARER {token}"}, timeout=10).status_code == 200
    ts.expire_all_tokens()
    assert requests.get(url, headers=auth, timeout=10).status_code == 401
    fresh = requests.post(f"{base}/api/token", data=GRANT, timeout=10).json()["access_token"]
    assert requests.get(url, headers={"Authorization": f"bearer {fresh}"}, timeout=10).status_code == 200
    ts.revoke_all_tokens()
    assert requests.get(url, headers={"Authorization": f"bearer {fresh}"}, timeout=10).status_code == 401
    assert requests.get(f"{base}/api/v1/referentials/countries", timeout=10).status_code == 401


def test_tokens_expire_after_expires_in(emulator: Emulator) -> None:
    url = mount(emulator, TalentsoftEmulator(expires_in=1))
    headers = token_headers(url)
    assert requests.get(f"{url}/api/v1/referentials/countries", headers=headers, timeout=10).ok
    time.sleep(1.05)
    response = requests.get(f"{url}/api/v1/referentials/countries", headers=headers, timeout=10)
    assert response.status_code == 401


# ---------------------------------------------------------------------------- exports


def test_paging_and_content_range(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    expected = list(ts.vacancy_docs())
    assert len(expected) == 25
    assert [doc["offset"] for doc in expected] == list(range(25))
    seen = []
    for offset, content_range in ((0, "0-9/25"), (10, "10-19/25"), (20, "20-24/25"), (25, "*/25")):
        response = export(base, auth, "vacancies", offset=offset, limit=10)
        assert response.status_code == 200
        assert response.headers["Content-Range"] == content_range
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Transfer-Encoding"] == "chunked"
        seen += documents(response.content, "offerdetail")
    assert seen == expected
    assert ts.export_requests["vacancies"] == 4
    assert ts.export_calls[-1] == ("vacancies", 25, 10, None)
    whole = export(base, auth, "vacancies")  # default limit 50
    assert whole.headers["Content-Range"] == "0-24/25"
    assert documents(whole.content, "offerdetail") == expected


def test_candidate_frames_hold_documents_and_attachments(
    ts: TalentsoftEmulator, base: str, auth: dict[str, str]
) -> None:
    response = export(base, auth, "candidates", limit=1000)
    assert response.headers["Content-Range"] == "0-11/12"
    frames, rest = split_frames(response.content)
    assert rest == b""
    assert len(frames) == 12
    references = {doc["offerDetail"]["reference"] for doc in ts.vacancy_docs()}
    expected = list(ts.candidate_docs())
    total = 0
    for frame, want in zip(frames, expected, strict=True):
        archive = zipfile.ZipFile(io.BytesIO(frame))
        doc = json.loads(archive.read("applicantdetail").decode("utf-8"))
        assert doc == want
        candidate_id = doc["candidateDetail"]["id"]
        assert re.fullmatch(r"CAND-\d{5}", candidate_id)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["candidateDetail"]["updateDate"])
        assert all(app["vacancyReference"] in references for app in doc["applications"])
        assert 0 <= len(doc["attachments"]) <= 3
        assert archive.namelist() == ["applicantdetail"] + [a["id"] for a in doc["attachments"]]
        for attachment in doc["attachments"]:
            content = archive.read(attachment["id"])
            assert 200 <= len(content) <= 5000
            total += len(content)
            assert hashlib.sha256(content).hexdigest() == ts.attachment_sha256(candidate_id, attachment["id"])
            assert content == ts.attachment_bytes(candidate_id, attachment["id"])
            assert set(attachment) == {"id", "filename", "mimeType", "isResume", "description"}
        assert [a["isResume"] for a in doc["attachments"]][:1] in ([], [True])
    assert total == ts.total_attachment_bytes() > 0


def test_generated_data_is_deterministic() -> None:
    one, two = TalentsoftEmulator(seed=3), TalentsoftEmulator(seed=3)
    assert list(one.candidate_docs()) == list(two.candidate_docs())
    assert list(one.vacancy_docs()) != list(TalentsoftEmulator(seed=4).vacancy_docs())


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": "1.5"},
        {"offset": ""},
        {"page": 2},
        {"offset": [0, 10]},
        {"filter": "updateDate>2024-01-01"},
        {"filter": "modifiedDate:gt:2024-01-01"},
        {"filter": "updateDate:after:2024-01-01"},
        {"filter": "updateDate:gt:yesterday"},
        {"filter": "updateDate:gt:2024-13-01"},
        {"filter": "updateDate:gt:2024-01-01,"},
        {"filter": ""},
    ],
)
def test_bad_export_queries_are_rejected(base: str, auth: dict[str, str], query: dict) -> None:
    response = export(base, auth, "candidates", **query)
    assert response.status_code == 400
    assert response.json()["message"]


def test_filter_parsing() -> None:
    assert parse_date("2024-01-02") == parse_date("2024-01-02T00:00:00Z") == 1704153600
    assert parse_date("2024-01-02T01:00:00+01:00") == 1704153600
    assert parse_date("2024-01-02T00:00:00.5") == 1704153600.5
    assert parse_filter("updateDate:gt:2024-01-02,creationDate:le:2024-01-02T00:00") == (
        (1, "gt", 1704153600),
        (0, "le", 1704153600),
    )
    for bad in (
        "updateDate:gt",
        "updatedate:gt:2024-01-01",
        "updateDate:GT:2024-01-01",
        "updateDate:gt:20240101",
    ):
        with pytest.raises(FilterError):
            parse_filter(bad)


def test_filter_selects_and_renumbers_offsets(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    docs = [doc["offerDetail"] for doc in ts.vacancy_docs()]
    cut = sorted(doc["updateDate"] for doc in docs)[12]
    want = [doc for doc in docs if doc["updateDate"] > cut and doc["creationDate"] >= "2021-06-01"]
    assert 0 < len(want) < 25
    flt = f"updateDate:gt:{cut},creationDate:ge:2021-06-01"
    response = export(base, auth, "vacancies", filter=flt, limit=3)
    assert response.headers["Content-Range"] == f"0-2/{len(want)}"
    got = []
    for offset in range(0, len(want), 3):
        got += documents(export(base, auth, "vacancies", filter=flt, limit=3, offset=offset).content, "offerdetail")
    assert [doc["offset"] for doc in got] == list(range(len(want)))
    assert [doc["offerDetail"] for doc in got] == want
    assert ts.export_calls[0] == ("vacancies", 0, 3, flt)


def test_added_records_come_last_with_a_fresh_update_date(
    ts: TalentsoftEmulator, base: str, auth: dict[str, str]
) -> None:
    latest = max(doc["candidateDetail"]["updateDate"] for doc in ts.candidate_docs())
    assert ts.add_candidates(2) == ["CAND-00013", "CAND-00014"]
    assert ts.add_vacancies(1) == ["VAC-00026"]
    response = export(base, auth, "candidates", filter=f"updateDate:gt:{latest}")
    assert response.headers["Content-Range"] == "0-1/2"
    new = documents(response.content, "applicantdetail")
    assert [doc["candidateDetail"]["id"] for doc in new] == ["CAND-00013", "CAND-00014"]
    assert [doc["offset"] for doc in new] == [0, 1]
    assert export(base, auth, "candidates").headers["Content-Range"] == "0-13/14"
    assert export(base, auth, "vacancies").headers["Content-Range"] == "0-25/26"


# ---------------------------------------------------------------------------- faults


def test_truncate_ends_the_body_cleanly_inside_a_frame(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    ts.faults.add(Fault(path_regex="/candidates$", kind="truncate", params={"frame": 2}))
    response = export(base, auth, "candidates", limit=5)
    assert response.headers["Content-Range"] == "0-4/12"
    frames, rest = split_frames(response.content)
    assert len(frames) == 1
    assert 4 < len(rest) < 4 + int.from_bytes(rest[:4], "little")
    assert ts.faults.fired["truncate"] == 1
    assert len(split_frames(export(base, auth, "candidates", limit=5).content)[0]) == 5  # consumed


def test_huge_length_not_zip_and_bad_json(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    ts.faults.add(Fault(path_regex="/vacancies$", kind="huge_length", params={"frame": 3}))
    body = export(base, auth, "vacancies", limit=5).content
    frames, rest = split_frames(body)
    assert len(frames) == 2
    assert rest == b"\xff\xff\xff\xff"

    ts.faults.add(Fault(path_regex="/vacancies$", kind="not_zip"))
    frames, rest = split_frames(export(base, auth, "vacancies", limit=2).content)
    assert rest == b""
    assert len(frames) == 2
    assert not zipfile.is_zipfile(io.BytesIO(frames[0]))
    assert zipfile.is_zipfile(io.BytesIO(frames[1]))

    ts.faults.add(Fault(path_regex="/candidates$", kind="bad_json", params={"frame": 2}))
    frames, _ = split_frames(export(base, auth, "candidates", limit=2).content)
    json.loads(zipfile.ZipFile(io.BytesIO(frames[0])).read("applicantdetail"))
    with pytest.raises(json.JSONDecodeError):
        json.loads(zipfile.ZipFile(io.BytesIO(frames[1])).read("applicantdetail"))


def test_missing_fields_duplicate_and_lying_total(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    ts.faults.add(Fault(path_regex="/candidates$", kind="missing_offset"))
    docs = documents(export(base, auth, "candidates", limit=2).content, "applicantdetail")
    assert "offset" not in docs[0]
    assert docs[1]["offset"] == 1

    ts.faults.add(Fault(path_regex="/candidates$", kind="missing_id", params={"frame": 2}))
    docs = documents(export(base, auth, "candidates", limit=2).content, "applicantdetail")
    assert "id" in docs[0]["candidateDetail"]
    assert "id" not in docs[1]["candidateDetail"]

    ts.faults.add(Fault(path_regex="/vacancies$", kind="duplicate"))
    docs = documents(export(base, auth, "vacancies", offset=3, limit=3).content, "offerdetail")
    assert [doc["offset"] for doc in docs] == [3, 3, 4, 5]

    ts.faults.add(Fault(path_regex="/vacancies$", kind="lie_total", params={"extra": 7}))
    response = export(base, auth, "vacancies", limit=10)
    assert response.headers["Content-Range"] == "0-9/32"
    assert len(documents(response.content, "offerdetail")) == 10


def test_traversal_entries(emulator: Emulator) -> None:
    ts = TalentsoftEmulator(attachments_per_candidate=(1, 2))
    url = mount(emulator, ts)
    auth = token_headers(url)
    ts.faults.add(Fault(path_regex="/candidates$", kind="traversal"))
    frames, _ = split_frames(export(url, auth, "candidates", limit=1).content)
    archive = zipfile.ZipFile(io.BytesIO(frames[0]))
    doc = json.loads(archive.read("applicantdetail"))
    assert doc["attachments"][0]["id"] == "ATT-00001-1"
    assert "../../x" in archive.namelist()
    assert "/etc/x" in archive.namelist()
    assert "ATT-00001-1" not in archive.namelist()

    ts.faults.add(Fault(path_regex="/candidates$", kind="traversal_id"))
    frames, _ = split_frames(export(url, auth, "candidates", limit=1).content)
    archive = zipfile.ZipFile(io.BytesIO(frames[0]))
    doc = json.loads(archive.read("applicantdetail"))
    assert doc["attachments"][0]["id"] == "../../x"
    assert "../../x" in archive.namelist()


def test_zip_bomb(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    ts.faults.add(Fault(path_regex="/candidates$", kind="zip_bomb", params={"size": 8 * 1024 * 1024}))
    frames, _ = split_frames(export(base, auth, "candidates", limit=1).content)
    assert len(frames[0]) < 100_000
    archive = zipfile.ZipFile(io.BytesIO(frames[0]))
    doc = json.loads(archive.read("applicantdetail"))
    bomb = doc["attachments"][-1]
    assert archive.getinfo(bomb["id"]).file_size == 8 * 1024 * 1024


def test_status_and_transport_faults(ts: TalentsoftEmulator, base: str, auth: dict[str, str]) -> None:
    ts.faults.add(Fault(path_regex="/vacancies$", status=503, retry_after="2"))
    response = export(base, auth, "vacancies")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert ts.export_requests["vacancies"] == 1
    assert ts.export_calls == []
    ts.faults.add(Fault(path_regex="/vacancies$", abort_after=1000))
    with pytest.raises(requests.exceptions.RequestException):
        export(base, auth, "vacancies").content  # noqa: B018
    ts.faults.add(Fault(path_regex="/api/token$", status=500))
    assert requests.post(f"{base}/api/token", data=GRANT, timeout=10).status_code == 500
    assert ts.faults.fired == {"503": 1, "transport": 1, "500": 1}


# ---------------------------------------------------------------------------- other endpoints


def test_referentials_and_unknown_routes(base: str, auth: dict[str, str]) -> None:
    countries = requests.get(f"{base}/api/v1/referentials/countries", headers=auth, timeout=10).json()
    assert len(countries) == 30
    assert countries[0] == {
        "id": 1,
        "code": "FR",
        "label": "France",
        "active": True,
        "translations": {"en-GB": "France", "fr-FR": "France"},
    }
    languages = requests.get(f"{base}/api/v1/referentials/languages", headers=auth, timeout=10).json()
    assert len(languages) == 8
    assert requests.get(f"{base}/api/v1/referentials/planets", headers=auth, timeout=10).status_code == 404
    assert requests.get(f"{base}/api/exports/v1/offers", headers=auth, timeout=10).status_code == 404
    assert requests.get(f"{base}/api/exports/v1/vacancies/", headers=auth, timeout=10).status_code == 404
    assert requests.post(f"{base}/api/exports/v1/vacancies", headers=auth, timeout=10).status_code == 405
    assert requests.delete(f"{base}/api/v1/referentials/countries", headers=auth, timeout=10).status_code == 405


# ---------------------------------------------------------------------------- the vendor's sample


def _sample_code() -> str:
    for root in (Path(__file__).resolve().parents[3] / "shared", Path("/work/shared")):
        if (root / SAMPLE_DOC).is_file():
            text = (root / SAMPLE_DOC).read_text(encoding="utf-8")
            return text[text.index("python exemple") + len("python exemple") :]
    pytest.skip("the vendor's documentation is not beside the repository")
    return ""


def test_vendor_python_sample_runs_unchanged(ts: TalentsoftEmulator, base: str) -> None:
    code = _sample_code()
    for name, value in (("urlbase", base + "/"), ("clientId", CLIENT["client_id"])):
        code = code.replace(f"{name} = ''", f"{name} = {value!r}", 1)
    code = code.replace("clientSecret = ''", f"clientSecret = {CLIENT['client_secret']!r}", 1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "talentsoft-sample", "exec"), {"__name__": "sample"})  # noqa: S102
    expected = [
        f"{doc['offset']}/24 -> Offer reference : {doc['offerDetail']['reference']}" for doc in ts.vacancy_docs()
    ]
    for doc in ts.candidate_docs():
        expected.append(
            f"{doc['offset']}/11 candidate id {doc['candidateDetail']['id']} application count "
            f"{len(doc['applications'])} files count {len(doc['attachments'])}"
        )
        for attachment in doc["attachments"]:
            size = len(ts.attachment_bytes(doc["candidateDetail"]["id"], attachment["id"]))
            expected.append(f"\t fileId {attachment['id']} Size {size}")
    assert out.getvalue().splitlines() == expected
    assert ts.token_requests == 1
    assert ts.export_calls == [
        ("vacancies", 0, 50, None),
        ("vacancies", 100, 50, None),
        ("candidates", 0, 50, None),
        ("candidates", 100, 50, None),
    ]


# ---------------------------------------------------------------------------- memory


def test_large_stored_attachments_stream_in_bounded_memory(emulator: Emulator) -> None:
    size = 6 * 1024 * 1024
    ts = TalentsoftEmulator(
        candidates=6,
        attachments_per_candidate=(1, 1),
        attachment_size=(size, size),
        compress_attachments=False,
    )
    assert ts.total_attachment_bytes() == 6 * size
    url = mount(emulator, ts)
    auth = token_headers(url)
    tracemalloc.start()
    try:
        with export(url, auth, "candidates", stream=True) as response:
            received = sum(len(chunk) for chunk in response.iter_content(65536))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received > 6 * size
    # one frame at a time, written once: no copy of it, no second frame alive
    assert peak < 2 * size, f"peak {peak} bytes for frames of {size} bytes"
