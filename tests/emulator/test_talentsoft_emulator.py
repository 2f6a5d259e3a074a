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

from tests.contracts.shapes import shape_mismatches
from tests.emulator.server import Emulator, Fault
from tests.emulator.talentsoft import (
    CURRENT_PATHS,
    NON_UTF8_BYTES,
    TS_CIVILITIES,
    TS_CONTRACT_TYPES,
    TS_EDUCATION_LEVELS,
    TS_EXPERIENCE_LEVELS,
    FilterError,
    TalentsoftEmulator,
    fold,
    parse_date,
    parse_filter,
)

CLIENT = {"client_id": "ts-client", "client_secret": "ts-secret-0123456789"}
GRANT = {"grant_type": "client_credentials", **CLIENT}
SAMPLE_DOC = "api-docs/talentsoft-exports-stream-examples.txt"
FIXTURES = Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "talentsoft"


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


# ---------------------------------------------------------------------------- the current shape
# What Riminder/hrflow-connectors' Talentsoft connector reads (connectors/talentsoft/connector.py
# format_ts_vacancy / format_ts_candidate, v2 aisles.py, schemas.py, utils/const.py).

REF_KEYS = {"id", "label"}
REFERENTIAL_ITEM_KEYS = {"code", "clientCode", "label", "active", "parentCode", "type", "parentType", "hasChildren"}


def at(document: object, path: str) -> object:
    """The value at a ``$.a.b`` path (None when a step is missing)."""
    for name in path.removeprefix("$.").split("."):
        document = document.get(name) if isinstance(document, dict) else None
    return document


def is_ref(value: object) -> bool:
    """A referential value inside a document: ``{"id": "<digits>", "label": "<text>"}``."""
    return (
        isinstance(value, dict)
        and set(value) == REF_KEYS
        and isinstance(value["id"], str)
        and value["id"].isdigit()
        and isinstance(value["label"], str)
        and bool(value["label"])
    )


def connector_reads_vacancy(detail: dict) -> dict:
    """Every access format_ts_vacancy() makes, in the same way (KeyError/TypeError if missing)."""
    job = detail["jobDescription"]
    custom = job["jobDescriptionCustomFields"]
    criteria = detail["criteria"]
    return {
        "name": job["title"],
        "reference": detail["reference"],
        "created_at": detail["creationDate"],
        "token": detail["modificationDate"],  # v2 aisles.py: the incremental token
        "location": (detail["location"]["address"], detail["location"]["latitude"], detail["location"]["longitude"]),
        "sections": (
            job["description1"] or "",
            job["description2"] or "",
            *(custom.get(f"longText{n}") or "" for n in (1, 2, 3)),
        ),
        "languages": [language["language"]["label"] for language in detail.get("languages") or []],
        "ids": [(detail[name] or {}).get("id") for name in ("organisation", "status")]
        + [(job[name] or {}).get("id") for name in ("professionalCategory", "country", "primaryProfile")]
        + [(job["contractType"] or {}).get("id")],
        "published": (detail.get("publishedOnInternet"), detail.get("publishedOnIntranet")),
        "levels": [criteria[name].get("id") for name in ("experienceLevel", "educationLevel") if criteria[name]],
        "skills": criteria["skills"],
    }  # fmt: skip


def connector_reads_candidate(document: dict) -> dict:
    """Every access format_ts_candidate() makes, in the same way."""
    details = document["candidateDetail"]
    sought = details["positionSought"]
    optional = [
        sought["contractType"],
        sought["jobPreferencesCustomFields"]["customCodeTable1"],
        details["globalExperience"]["globalExperienceLevel"],
        sought["primaryProfile"],
        *(education["educationLevel"] for education in details["educations"]),
    ]
    resume = next((a for a in document["attachments"] if a["isResume"]), None)
    return {
        "tags": [document["isEmployee"], document["isInProgress"]]
        + [details["personalInformation"]["residentCountry"].get("id")]
        + [value["id"] for value in optional if value]
        + [application["vacancyReference"] for application in document["applications"]],
        "reference": details["id"],
        "created_at": details["creationDate"],
        "resume": None if resume is None else (resume["mimeType"], resume["filename"]),
    }  # fmt: skip


@pytest.fixture
def current(emulator: Emulator) -> tuple[TalentsoftEmulator, str, dict[str, str]]:
    """A current-shape vendor with enough records for variety; its base URL; auth headers."""
    ts = TalentsoftEmulator(shape="current", vacancies=40, candidates=40, attachments_per_candidate=(1, 4))
    url = mount(emulator, ts)
    return ts, url, token_headers(url)


def test_shape_option_defaults_to_seed_and_is_checked() -> None:
    seed, now = TalentsoftEmulator(), TalentsoftEmulator(shape="current")
    assert seed.shape == "seed"
    with pytest.raises(ValueError, match="shape"):
        TalentsoftEmulator(shape="v2")
    seed_doc, now_doc = next(seed.vacancy_docs()), next(now.vacancy_docs())
    assert "title" in seed_doc["offerDetail"]
    assert "jobDescription" not in seed_doc["offerDetail"]
    assert "title" not in now_doc["offerDetail"]
    assert "updateDate" not in now_doc["offerDetail"]
    assert isinstance(now_doc["offerDetail"]["jobDescription"]["title"], str)
    assert "id" in seed.referential("countries")[0]
    assert "id" not in now.referential("countries")[0]
    assert next(seed.candidate_docs())["candidateDetail"]["id"] == "CAND-00001"
    assert next(now.candidate_docs())["candidateDetail"]["id"] == "_TS-00001"
    assert "firstName" in next(seed.candidate_docs())["candidateDetail"]
    assert "firstName" not in next(now.candidate_docs())["candidateDetail"]
    assert now.add_candidates(1) == ["_TS-00013"]
    assert re.fullmatch(r"20\d\d-26", now.add_vacancies(1)[0])
    assert now.attachments("_TS-00013") == now._attachments(12)
    with pytest.raises(KeyError):
        now.attachments("CAND-00001")


def test_current_vacancies_have_the_connector_structure(current: tuple) -> None:
    ts, url, auth = current
    response = export(url, auth, "vacancies", limit=1000)
    assert response.headers["Content-Range"] == "0-39/40"
    docs = documents(response.content, "offerdetail")
    assert docs == list(ts.vacancy_docs())
    contract_labels = {label for _, _, label in TS_CONTRACT_TYPES}
    for doc in docs:
        detail = doc["offerDetail"]
        connector_reads_vacancy(detail)
        for column, path in CURRENT_PATHS["vacancies"].items():
            assert at(doc, path) not in (None, ""), (column, path, detail["reference"])
        assert re.fullmatch(r"(\d{4})-\d{2,}", detail["reference"])
        assert detail["reference"][:4] == detail["creationDate"][:4]
        assert detail["creationDate"] <= detail["modificationDate"]
        for name in ("status", "organisation"):
            assert is_ref(detail[name]), (name, detail[name])
        job = detail["jobDescription"]
        for name in ("contractType", "country"):
            assert is_ref(job[name]), (name, job[name])
        for name in ("professionalCategory", "primaryProfile"):
            assert job[name] is None or is_ref(job[name])
        assert job["contractType"]["label"] in contract_labels
        assert (int(job["contractType"]["id"]), job["contractType"]["label"]) in {
            (c, lab) for c, _, lab in TS_CONTRACT_TYPES
        }
        assert job["country"] == detail["location"]["country"]
        assert set(job["jobDescriptionCustomFields"]) >= {"longText1", "longText2", "longText3"}
        assert isinstance(detail["location"]["address"], str)
        assert isinstance(detail["location"]["latitude"], float)
        assert isinstance(detail["location"]["longitude"], float)
        assert -90 <= detail["location"]["latitude"] <= 90
        assert set(detail["criteria"]) == {"experienceLevel", "educationLevel", "skills"}
        assert all(is_ref(skill) for skill in detail["criteria"]["skills"])
        assert all(
            set(item) == {"language", "languageLevel"} and is_ref(item["language"]) and is_ref(item["languageLevel"])
            for item in detail["languages"]
        )
        assert isinstance(detail["publishedOnInternet"], bool)
        assert isinstance(detail["publishedOnIntranet"], bool)
    # varied: several values per referential, and the guarded fields are sometimes null
    jobs = [doc["offerDetail"]["jobDescription"] for doc in docs]
    assert len({job["contractType"]["label"] for job in jobs}) >= 3
    assert len({job["country"]["label"] for job in jobs}) >= 3
    assert len({doc["offerDetail"]["status"]["label"] for doc in docs}) >= 3
    assert len({job["title"] for job in jobs}) >= 20
    assert {job["description2"] is None for job in jobs} == {True, False}
    assert {doc["offerDetail"]["criteria"]["experienceLevel"] is None for doc in docs} == {True, False}
    assert {bool(doc["offerDetail"]["languages"]) for doc in docs} == {True, False}


def test_current_candidates_have_the_connector_structure(current: tuple) -> None:
    ts, url, auth = current
    references = {doc["offerDetail"]["reference"] for doc in ts.vacancy_docs()}
    response = export(url, auth, "candidates", limit=1000)
    frames, rest = split_frames(response.content)
    assert rest == b""
    expected = list(ts.candidate_docs())
    assert len(frames) == len(expected) == 40
    for frame, want in zip(frames, expected, strict=True):
        archive = zipfile.ZipFile(io.BytesIO(frame))
        doc = json.loads(archive.read("applicantdetail"))
        assert doc == want
        connector_reads_candidate(doc)
        for column, path in CURRENT_PATHS["candidates"].items():
            assert at(doc, path) not in (None, ""), (column, path)
        detail = doc["candidateDetail"]
        assert re.fullmatch(r"_TS-\d{5}", detail["id"])
        assert detail["creationDate"] <= detail["modificationDate"]
        assert isinstance(doc["isEmployee"], bool)
        person = detail["personalInformation"]
        assert {"firstName", "lastName", "email", "phoneNumber", "residentCountry"} <= set(person)
        assert "@" in person["email"]
        assert re.fullmatch(r"\+\d{1,3}( \d+)+", person["phoneNumber"])
        assert is_ref(person["residentCountry"])
        assert person["civility"] is None or (int(person["civility"]["id"]), person["civility"]["label"]) in {
            (code, label) for code, _, label in TS_CIVILITIES
        }
        sought = detail["positionSought"]
        assert is_ref(sought["primaryProfile"])
        assert is_ref(sought["jobPreferencesCustomFields"]["customCodeTable1"])
        assert sought["contractType"] is None or is_ref(sought["contractType"])
        level = detail["globalExperience"]["globalExperienceLevel"]
        assert level is None or level["label"] in {label for _, _, label in TS_EXPERIENCE_LEVELS}
        for education in detail["educations"]:
            assert education["educationLevel"] is None or education["educationLevel"]["label"] in {
                label for _, _, label in TS_EDUCATION_LEVELS
            }
        for application in doc["applications"]:
            assert application["vacancyReference"] in references
            assert is_ref(application["status"])
            assert is_ref(application["origin"])
        open_ones = [a for a in doc["applications"] if a["status"]["label"] not in {"Rejected", "Hired"}]
        assert doc["isInProgress"] is bool(open_ones)
        assert archive.namelist() == ["applicantdetail"] + [a["id"] for a in doc["attachments"]]
        for attachment in doc["attachments"]:
            assert set(attachment) == {"id", "filename", "mimeType", "isResume", "description"}
            assert archive.read(attachment["id"]) == ts.attachment_bytes(detail["id"], attachment["id"])
    assert {doc["isEmployee"] for doc in expected} == {True, False}
    assert {doc["isInProgress"] for doc in expected} == {True, False}
    assert len({doc["candidateDetail"]["personalInformation"]["residentCountry"]["label"] for doc in expected}) >= 3
    assert any(len([a for a in doc["attachments"] if a["isResume"]]) == 2 for doc in expected)


def test_current_referentials_are_items_without_id(emulator: Emulator) -> None:
    ts = TalentsoftEmulator(
        shape="current", categories={"countries": 30, "languages": 8, "contractTypes": 6, "civilities": 6}
    )
    url = mount(emulator, ts)
    auth = token_headers(url)
    countries = requests.get(f"{url}/api/v1/referentials/countries", headers=auth, timeout=10).json()
    assert len(countries) == 30
    assert countries[0] == {
        "code": 2001,
        "clientCode": "_TS_CO_Country_FR",
        "label": "France",
        "active": True,
        "parentCode": None,
        "type": "country",
        "parentType": "",
        "hasChildren": False,
    }
    for category in ("countries", "languages", "contractTypes", "civilities"):
        items = requests.get(f"{url}/api/v1/referentials/{category}", headers=auth, timeout=10).json()
        assert items == ts.referential(category)
        for item in items:
            assert set(item) == REFERENTIAL_ITEM_KEYS, item
            assert isinstance(item["code"], int)
            assert not isinstance(item["code"], bool)
            assert isinstance(item["clientCode"], str)
            assert isinstance(item["hasChildren"], bool)
    contract_types = ts.referential("contractTypes")
    assert [(i["code"], i["clientCode"], i["label"]) for i in contract_types] == list(TS_CONTRACT_TYPES)
    assert {i["type"] for i in contract_types} == {"contractType"}
    assert ts.referential("civilities")[3]["clientCode"] == "_TS_CO_Civility_Mrs "  # verbatim, trailing space
    # the values inside the documents point at the referential items: id == str(code)
    codes = {str(item["code"]): item["label"] for item in countries}
    for doc in ts.vacancy_docs():
        country = doc["offerDetail"]["jobDescription"]["country"]
        assert codes[country["id"]] == country["label"]
    contract_codes = {str(i["code"]): i["label"] for i in contract_types}
    for doc in ts.vacancy_docs():
        contract = doc["offerDetail"]["jobDescription"]["contractType"]
        assert contract_codes[contract["id"]] == contract["label"]


@pytest.mark.parametrize("shape", ["seed", "current"])
def test_q_searches_vacancies_and_every_call_is_recorded(emulator: Emulator, shape: str) -> None:
    ts = TalentsoftEmulator(shape=shape, vacancies=60)
    url = mount(emulator, ts)
    auth = token_headers(url)
    docs = list(ts.vacancy_docs())

    def title(doc: dict) -> str:
        detail = doc["offerDetail"]
        return fold(detail["jobDescription"]["title"] if shape == "current" else detail["title"])

    want = [doc["offerDetail"] for doc in docs if "developpeur" in title(doc)]
    assert 0 < len(want) < 60
    response = export(url, auth, "vacancies", q="DÉVELOPPEUR", limit=3)  # case and accents do not matter
    assert response.headers["Content-Range"] == f"0-2/{len(want)}"
    got = []
    for offset in range(0, len(want), 3):
        got += documents(export(url, auth, "vacancies", q="Développeur", limit=3, offset=offset).content, "offerdetail")
    assert [doc["offset"] for doc in got] == list(range(len(want)))
    assert [doc["offerDetail"] for doc in got] == want
    both = [d for d in want if "senior" in title({"offerDetail": d})]  # every term must match
    assert 0 < len(both) < len(want)
    two = documents(export(url, auth, "vacancies", q="senior developpeur", limit=100).content, "offerdetail")
    assert [doc["offerDetail"] for doc in two] == both
    reference = docs[3]["offerDetail"]["reference"]
    one = documents(export(url, auth, "vacancies", q=reference).content, "offerdetail")
    assert [doc["offerDetail"]["reference"] for doc in one] == [reference]
    cut = sorted(d["creationDate"] for d in want)[len(want) // 2]
    flt = f"creationDate:gt:{cut}"
    mixed = documents(export(url, auth, "vacancies", q="developpeur", filter=flt, limit=100).content, "offerdetail")
    assert [doc["offerDetail"] for doc in mixed] == [d for d in want if d["creationDate"] > cut]
    assert export(url, auth, "vacancies", q="").headers["Content-Range"] == "0-49/60"
    assert export(url, auth, "vacancies", q="zzzz-nothing").headers["Content-Range"] == "*/0"
    assert export(url, auth, "candidates", q="x").status_code == 400  # the connector sends q to vacancies only
    assert export(url, auth, "vacancies", q=["a", "b"]).status_code == 400
    assert ts.export_params[0] == ("vacancies", {"q": "DÉVELOPPEUR", "limit": "3"})
    assert ts.export_params[-3:] == [
        ("vacancies", {"q": "zzzz-nothing"}),
        ("candidates", {"q": "x"}),
        ("vacancies", {"q": ["a", "b"]}),
    ]
    assert ("vacancies", {"q": "developpeur", "filter": flt, "limit": "100"}) in ts.export_params
    assert len(ts.export_params) == ts.export_requests["vacancies"] + ts.export_requests["candidates"]
    assert len(ts.export_calls) == len(ts.export_params) - 2  # the rejected calls serve nothing


@pytest.mark.parametrize("shape", ["seed", "current"])
def test_attachmenttype_resume_serves_only_resumes(emulator: Emulator, shape: str) -> None:
    ts = TalentsoftEmulator(shape=shape, candidates=30, attachments_per_candidate=(1, 4))
    url = mount(emulator, ts)
    auth = token_headers(url)
    full = documents(export(url, auth, "candidates", limit=100).content, "applicantdetail")
    response = export(url, auth, "candidates", attachmenttype="resume", limit=100)
    assert response.headers["Content-Range"] == "0-29/30"
    frames, _ = split_frames(response.content)
    docs = []
    for frame in frames:
        archive = zipfile.ZipFile(io.BytesIO(frame))
        doc = json.loads(archive.read("applicantdetail"))
        assert archive.namelist() == ["applicantdetail"] + [a["id"] for a in doc["attachments"]]
        docs.append(doc)
    assert docs == list(ts.candidate_docs(resume_only=True))
    assert all(a["isResume"] for doc in docs for a in doc["attachments"])
    for whole, resumes in zip(full, docs, strict=True):
        assert resumes["attachments"] == [a for a in whole["attachments"] if a["isResume"]]
        assert {k: v for k, v in resumes.items() if k != "attachments"} == {
            k: v for k, v in whole.items() if k != "attachments"
        }
    assert sum(map(len, (d["attachments"] for d in docs))) < sum(map(len, (d["attachments"] for d in full)))
    assert export(url, auth, "candidates", attachmenttype="RESUME", limit=1).status_code == 200
    assert export(url, auth, "candidates", attachmenttype="cv").status_code == 400
    assert export(url, auth, "vacancies", attachmenttype="resume").status_code == 400
    assert ts.export_params[1] == ("candidates", {"attachmenttype": "resume", "limit": "100"})
    assert ts.export_params[-2:] == [
        ("candidates", {"attachmenttype": "cv"}),
        ("vacancies", {"attachmenttype": "resume"}),
    ]


def test_faults_reach_the_current_fields(emulator: Emulator) -> None:
    ts = TalentsoftEmulator(shape="current", attachments_per_candidate=(1, 1))
    url = mount(emulator, ts)
    auth = token_headers(url)
    ts.faults.add(Fault(path_regex="/candidates$", kind="non_utf8"))
    frames, _ = split_frames(export(url, auth, "candidates", limit=1).content)
    assert NON_UTF8_BYTES in zipfile.ZipFile(io.BytesIO(frames[0])).read("applicantdetail")
    ts.faults.add(Fault(path_regex="/vacancies$", kind="non_utf8"))
    frames, _ = split_frames(export(url, auth, "vacancies", limit=1).content)
    text = zipfile.ZipFile(io.BytesIO(frames[0])).read("offerdetail")
    assert b'"title": "' + ts_title(ts).encode() + b" " + NON_UTF8_BYTES in text
    ts.faults.add(Fault(path_regex="/candidates$", kind="missing_id"))
    doc = documents(export(url, auth, "candidates", limit=1).content, "applicantdetail")[0]
    assert "id" not in doc["candidateDetail"]
    assert "personalInformation" in doc["candidateDetail"]


def ts_title(ts: TalentsoftEmulator) -> str:
    return next(ts.vacancy_docs())["offerDetail"]["jobDescription"]["title"]


CURRENT_FIXTURES = {
    "vacancy_document_current": ("vacancies", "offerdetail"),
    "candidate_document_current": ("candidates", "applicantdetail"),
}


@pytest.mark.parametrize(
    "options",
    [
        {"vacancies": 4, "candidates": 8, "attachments_per_candidate": (1, 2)},  # what the contract fetchers mount
        {"vacancies": 60, "candidates": 60, "attachments_per_candidate": (1, 3), "seed": 7},
    ],
)
def test_current_fixtures_match_the_current_shape_and_carry_values(emulator: Emulator, options: dict) -> None:
    ts = TalentsoftEmulator(shape="current", **options)
    url = mount(emulator, ts)
    auth = token_headers(url)
    for name, (kind, entry) in CURRENT_FIXTURES.items():
        fixture = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        assert fixture["generation"] == "current"
        assert any(p["where"].startswith("Riminder/hrflow-connectors:") for p in fixture["provenance"])
        served = documents(export(url, auth, kind, limit=100).content, entry)
        assert [m for doc in served for m in shape_mismatches(fixture["body"], doc)] == [], name
        seed_doc = next(
            TalentsoftEmulator().vacancy_docs() if kind == "vacancies" else TalentsoftEmulator().candidate_docs()
        )
        assert shape_mismatches(fixture["body"], seed_doc), f"{name}: the seed shape would match it too"
        for column, path in CURRENT_PATHS[kind].items():  # the typed columns have values to check
            assert at(fixture["body"], path) not in (None, ""), (name, column, path)
    referential = json.loads((FIXTURES / "referential_list_current.json").read_text(encoding="utf-8"))
    served_items = requests.get(f"{url}/api/v1/referentials/countries", headers=auth, timeout=10).json()
    assert [m for item in served_items for m in shape_mismatches(referential["body"], [item])] == []
    assert shape_mismatches(referential["body"], TalentsoftEmulator().referential("countries"))
