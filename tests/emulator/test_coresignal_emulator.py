"""The Coresignal Bulk Collect emulator answers like the vendor, strictly."""

from __future__ import annotations

import gzip
import json
import re
import time
import zlib
from email.message import Message
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.emulator import coresignal
from tests.emulator.coresignal import (
    FILTER_PATH,
    ID_FILE_PATH,
    NO_MATCH,
    STILL_PROCESSING,
    V2_FILTER_PATH,
    V2_ID_FILE_PATH,
    CoresignalEmulator,
    Invalid,
    parse_multipart,
)
from tests.emulator.server import Emulator, Fault, Request

if TYPE_CHECKING:
    from collections.abc import Callable

TOKEN = "cs-token-0123456789"
API_KEY = "csKey0123456789abcdefghijklmnopq"  # the default v2 key: 32 letters and digits
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
FILE_NAME = re.compile(r"^json/part-\d{5}-[0-9a-f-]{36}\.json\.gz$")


class Client:
    """A bare client of the emulated API (what the tap does, without its politeness)."""

    def __init__(self, vendor: CoresignalEmulator, base: str, token: str = TOKEN) -> None:
        self.vendor = vendor
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def filter(self, body: object) -> requests.Response:
        return self.session.post(self.base + FILTER_PATH, json=body, timeout=10)

    def id_file(self, content: str | bytes, field: str = "file") -> requests.Response:
        return self.session.post(self.base + ID_FILE_PATH, files={field: ("ids.txt", content)}, timeout=10)

    def files(self, request_id: str) -> requests.Response:
        return self.session.get(f"{self.base}/v1/bulk_collect/{request_id}/files", timeout=10)

    def download(self, request_id: str, name: str) -> requests.Response:
        return self.session.get(f"{self.base}/v1/bulk_collect/{request_id}/files/{name}", timeout=10)

    def submit(self, filters: dict[str, Any], **extra: object) -> str:
        response = self.filter({"filters": filters, **extra})
        assert response.status_code == 200, response.text
        return response.json()["request_id"]

    def ready_files(self, request_id: str) -> list[str]:
        for _ in range(self.vendor.polls_until_ready + 1):
            names = self.files(request_id).json()["data_request_files"]
            if names:
                return names
        pytest.fail("the files never appeared")
        return []

    def records(self, request_id: str) -> list[dict[str, Any]]:
        jobs = []
        for name in self.ready_files(request_id):
            response = self.download(request_id, name)
            assert response.status_code == 200
            jobs += [json.loads(line) for line in gzip.decompress(response.content).split(b"\n") if line]
        return jobs


@pytest.fixture
def serve(emulator: Emulator) -> Callable[..., Client]:
    """Mount a fresh CoresignalEmulator(**kwargs) on the session's server (tests/conftest.py).

    Small and unthrottled unless a test asks otherwise.
    """

    def start(**kwargs: Any) -> Client:
        kwargs.setdefault("jobs", 300)
        kwargs.setdefault("rate_limit", 10_000)
        vendor = CoresignalEmulator(**kwargs)
        emulator.vendors[:] = [v for v in emulator.vendors if v.prefix != vendor.prefix] + [vendor]
        return Client(vendor, emulator.url(vendor.prefix))

    return start


def lines_of(data: bytes) -> list[bytes]:
    """JSON Lines split on b"\\n" only (never str.splitlines: U+2028 is not a line break)."""
    return [line for line in data.split(b"\n") if line]


# ---------------------------------------------------------------------------- auth


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Token {TOKEN}", f"bearer {TOKEN}", TOKEN])
def test_every_endpoint_requires_the_exact_bearer_token(
    serve: Callable[..., Client], authorization: str | None
) -> None:
    client = serve()
    request_id = client.submit({"title": "engineer"})
    bad = requests.Session()
    if authorization is not None:
        bad.headers["Authorization"] = authorization
    base = client.base
    answers = [
        bad.post(base + FILTER_PATH, json={"filters": {"title": "nurse"}}),
        bad.post(base + ID_FILE_PATH, files={"file": ("ids.txt", "3000000000\n")}),
        bad.get(f"{base}/v1/bulk_collect/{request_id}/files"),
        bad.get(f"{base}/v1/bulk_collect/{request_id}/files/json/part-00000-x.json.gz"),
    ]
    assert [a.status_code for a in answers] == [401] * 4
    assert all("message" in a.json() for a in answers)
    assert client.vendor.post_count == 1
    assert client.vendor.polls[request_id] == 0


# ---------------------------------------------------------------------------- filter POST


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"filters": {"title": "x"}, "page": 2}, "page"),
        ({"filters": {"title": "x", "salary_gte": 10}}, "salary_gte"),
        ({"filters": {"last_updated_after": "2025-01-01"}}, "last_updated_after"),
        ({"filters": {}}, "filters"),
        ({}, "filters"),
        ({"filters": [{"title": "x"}]}, "filters"),
        ({"filters": {"title": "x"}, "limit": 0}, "limit"),
        ({"filters": {"title": "x"}, "limit": -3}, "limit"),
        ({"filters": {"title": "x"}, "limit": "5"}, "limit"),
        ({"filters": {"title": "x"}, "limit": True}, "limit"),
        ({"filters": {"title": "x"}, "webhook_url": "http://example.com/hook"}, "webhook_url"),
        ({"filters": {"title": "x"}, "webhook_url": 5}, "webhook_url"),
        ({"filters": {"last_updated_gte": "2025/01/01"}}, "last_updated_gte"),
        ({"filters": {"last_updated_gte": "2025-1-1"}}, "last_updated_gte"),
        ({"filters": {"created_at_lte": "2025-01-01T00:00:00Z"}}, "created_at_lte"),
        ({"filters": {"title": ""}}, "title"),
        ({"filters": {"title": None}}, "title"),
        ({"filters": {"company_id": "10000000"}}, "company_id"),
        ({"filters": {"deleted": 2}}, "deleted"),
        ([{"filters": {"title": "x"}}], "object"),
    ],
)
def test_filter_post_rejects_what_the_api_rejects(serve: Callable[..., Client], body: object, named: str) -> None:
    client = serve(credits=1000)
    response = client.filter(body)
    assert response.status_code == 422
    assert named in response.json()["message"]
    assert (client.vendor.post_count, client.vendor.credits, client.vendor.posts) == (0, 1000, [])


def test_filter_post_needs_a_json_body(serve: Callable[..., Client]) -> None:
    client = serve()
    url = client.base + FILTER_PATH
    as_text = client.session.post(url, data='{"filters": {"title": "x"}}', headers={"Content-Type": "text/plain"})
    not_json = client.session.post(url, data="{filters:", headers={"Content-Type": "application/json"})
    assert (as_text.status_code, not_json.status_code) == (422, 422)
    charset = client.session.post(
        url, data=b'{"filters": {"title": "x"}}', headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert charset.status_code == 200


def test_filters_select_the_right_jobs(serve: Callable[..., Client]) -> None:
    client = serve(jobs=400, polls_until_ready=0)
    every = client.vendor.all_jobs()
    stamps = sorted(job["last_updated"] for job in every)
    cut = stamps[300]
    recent = client.records(client.submit({"last_updated_gte": cut}))
    assert sorted(job["id"] for job in recent) == sorted(job["id"] for job in every if job["last_updated"] >= cut)
    assert len(recent) == 100

    day = cut[:10]
    by_day = client.records(client.submit({"last_updated_gte": day}))
    assert {job["id"] for job in by_day} == {job["id"] for job in every if job["last_updated"] >= f"{day} 00:00:00"}

    engineers = client.records(client.submit({"title": "ENGINEER", "location": "berlin"}))
    expected = [j for j in every if "engineer" in j["title"].lower() and "berlin" in j["location"].lower()]
    assert engineers
    assert [job["id"] for job in engineers] == [job["id"] for job in expected]  # files hold the jobs by id

    company = every[0]["company_name"]
    mixed = client.records(client.submit({"company_name": company.upper(), "deleted": 0, "application_active": True}))
    assert {j["id"] for j in mixed} == {
        j["id"] for j in every if j["company_name"] == company and j["deleted"] == 0 and j["application_active"] == 1
    }

    limited = client.records(client.submit({"last_updated_gte": "2020-01-01"}, limit=7))
    assert [job["id"] for job in limited] == [job["id"] for job in every[:7]]


# ---------------------------------------------------------------------------- credits and 409


def test_credits_are_charged_once_at_the_post(serve: Callable[..., Client]) -> None:
    client = serve(credits=1000, polls_until_ready=1)
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})
    selected = len(vendor.jobs_for_request(request_id))
    assert 0 < selected < 1000
    assert (vendor.credits, vendor.post_count) == (1000 - selected, 1)
    assert vendor.posts == [("filter", {"filters": {"title": "engineer"}})]
    assert len(client.records(request_id)) == selected
    for name in client.ready_files(request_id):  # downloading twice is free
        client.download(request_id, name)
    assert vendor.credits == 1000 - selected

    vendor.credits = 5
    response = client.filter({"filters": {"title": "manager"}})
    assert response.status_code == 402
    assert response.json() == {"message": "Insufficient credits"}
    assert (vendor.credits, vendor.post_count, len(vendor.data_requests)) == (5, 1, 1)
    assert client.submit({"title": "manager"}, limit=5)
    assert vendor.credits == 0


def test_identical_request_in_progress_is_refused_until_fully_downloaded(
    serve: Callable[..., Client],
) -> None:
    client = serve(polls_until_ready=0)
    vendor = client.vendor
    first = client.submit({"title": "engineer", "country": "Germany"})
    credits = vendor.credits
    again = client.filter({"filters": {"country": "Germany", "title": "engineer"}})  # same JSON, other key order
    assert again.status_code == 409
    assert again.json() == {"message": "Identical request already in progress"}
    assert vendor.credits == credits
    assert client.filter({"filters": {"title": "engineer", "country": "Germany"}, "limit": 3}).status_code == 200

    names = client.ready_files(first)
    assert len(names) == 3
    for name in names[:-1]:
        assert client.download(first, name).status_code == 200
    assert client.filter({"filters": {"title": "engineer", "country": "Germany"}}).status_code == 409
    assert client.download(first, names[-1]).status_code == 200
    assert not vendor.in_progress(first)
    second = client.submit({"country": "Germany", "title": "engineer"})
    assert second != first
    assert vendor.post_count == 3


# ---------------------------------------------------------------------------- GET files


def test_files_appear_after_polls_until_ready(serve: Callable[..., Client]) -> None:
    client = serve(polls_until_ready=2, files_per_request=3)
    request_id = client.submit({"title": "a"})
    answers = [client.files(request_id) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert [a.json()["data_request_files"] for a in answers[:2]] == [[], []]
    names = answers[2].json()["data_request_files"]
    assert answers[3].json()["data_request_files"] == names
    assert len(names) == 3
    assert all(FILE_NAME.match(name) for name in names)
    assert [name[:16] for name in names] == ["json/part-00000-", "json/part-00001-", "json/part-00002-"]
    assert client.vendor.polls[request_id] == 4
    assert client.files("0a1b2c3d-0000-4000-8000-000000000000").status_code == 404


def test_files_download_with_their_slash_and_hold_the_jobs(serve: Callable[..., Client]) -> None:
    client = serve(polls_until_ready=1)
    vendor = client.vendor
    request_id = client.submit({"last_updated_gte": "2025-06-01"})
    names = vendor.files_for_request(request_id)
    assert client.download(request_id, names[0]).status_code == 404  # not listed yet
    names = client.ready_files(request_id)
    jobs: list[dict[str, Any]] = []
    sizes = []
    for name in names:
        response = client.download(request_id, name)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/gzip"
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Encoding" not in response.headers  # the client gets the gzip bytes, not a decoded body
        part = [json.loads(line) for line in lines_of(gzip.decompress(response.content))]
        sizes.append(len(part))
        jobs += part
        assert vendor.downloads[(request_id, name)] == 1
    assert jobs == vendor.jobs_for_request(request_id)
    assert max(sizes) - min(sizes) <= 1
    assert all(job["last_updated"] >= "2025-06-01 00:00:00" for job in jobs)

    encoded = names[0].replace("/", "%2F")
    assert client.download(request_id, encoded).status_code == 404
    assert client.download(request_id, names[0].replace("/", "%2f")).status_code == 404
    assert client.download(request_id, names[0].split("/", 1)[1]).status_code == 404
    assert client.download(request_id, "json/part-00009-nope.json.gz").status_code == 404
    assert client.download("0a1b2c3d-0000-4000-8000-000000000000", names[0]).status_code == 404


def test_few_jobs_give_fewer_files_and_no_match_one_empty_file(serve: Callable[..., Client]) -> None:
    client = serve(files_per_request=3, polls_until_ready=0, credits=100)
    two = client.submit({"title": "engineer"}, limit=2)
    assert len(client.ready_files(two)) == 2
    assert len(client.records(two)) == 2
    none = client.submit({"title": "astronaut"})
    assert client.vendor.credits == 98
    [name] = client.ready_files(none)
    assert gzip.decompress(client.download(none, name).content) == b""


def test_the_answer_key_is_configurable(serve: Callable[..., Client]) -> None:
    client = serve(id_field_name="data_request_id")
    response = client.filter({"filters": {"title": "engineer"}})
    assert list(response.json()) == ["data_request_id"]
    assert response.json()["data_request_id"] in client.vendor.data_requests


def test_unknown_paths_and_wrong_methods(serve: Callable[..., Client]) -> None:
    client = serve()
    assert client.session.get(client.base + FILTER_PATH).status_code == 405
    assert client.session.post(f"{client.base}/v1/bulk_collect/x/files").status_code == 405
    assert client.session.post(client.base + FILTER_PATH + "/").status_code == 404
    assert client.session.get(client.base + "/v2/data_requests/x/files").status_code == 404


# ---------------------------------------------------------------------------- id_file POST


def test_id_file_upload_selects_the_existing_ids(serve: Callable[..., Client]) -> None:
    client = serve(credits=100, polls_until_ready=0)
    vendor = client.vendor
    every = vendor.all_jobs()
    wanted = [every[10]["id"], every[3]["id"], 4_999_999_999, every[10]["id"], every[7]["id"]]
    response = client.id_file("\r\n".join(map(str, wanted)) + "\r\n\r\n")
    assert response.status_code == 200
    request_id = response.json()["request_id"]
    assert vendor.posts == [("id_file", wanted)]
    assert vendor.credits == 97  # three distinct ids exist
    assert [job["id"] for job in client.records(request_id)] == [
        every[10]["id"],
        every[3]["id"],
        every[7]["id"],
    ]
    assert client.id_file("\n".join(map(str, wanted))).status_code == 200  # in progress? no: fully downloaded
    assert client.id_file("\n".join(map(str, wanted))).status_code == 409


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("3000000000\nabc\n", "file"),
        ("3000000000\n3000000007.0\n", "file"),
        ("3000000000, 3000000007\n", "file"),
        ("-3000000000\n", "file"),
        ("\n\n", "file"),
        (b"\xff\xfe3\x000\x00", "file"),
        ("3000000000\n", "ids"),
    ],
)
def test_id_file_rejects_bad_files(serve: Callable[..., Client], content: str | bytes, field: str) -> None:
    client = serve(credits=100)
    response = client.id_file(content, field=field)
    assert response.status_code == 422
    assert response.json()["message"]
    assert (client.vendor.credits, client.vendor.post_count) == (100, 0)


def test_id_file_needs_a_multipart_file_part(serve: Callable[..., Client]) -> None:
    client = serve()
    url = client.base + ID_FILE_PATH
    as_field = client.session.post(url, files={"file": (None, "3000000000\n")})  # a plain field, not a file
    as_json = client.session.post(url, json={"file": "3000000000"})
    no_boundary = client.session.post(url, data=b"3000000000", headers={"Content-Type": "multipart/form-data"})
    assert [r.status_code for r in (as_field, as_json, no_boundary)] == [422, 422, 422]


def test_multipart_parser_follows_the_boundary() -> None:
    body = (
        b"preamble to ignore\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"--b0undar\r\n"
        b"--b0undary  \r\n"
        b'Content-Disposition: form-data; name="file"; filename="ids.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"1\r\n2\r\n"
        b"--b0undary--\r\nepilogue"
    )
    note, upload = parse_multipart(body, 'multipart/form-data; boundary="b0undary"')
    assert (note.name, note.filename, note.data) == ("note", None, b"--b0undar")
    assert (upload.name, upload.filename, upload.data) == ("file", "ids.txt", b"1\r\n2")
    with pytest.raises(Invalid, match="closing boundary"):
        parse_multipart(body.split(b"--b0undary--")[0], "multipart/form-data; boundary=b0undary")
    with pytest.raises(Invalid, match="boundary"):
        parse_multipart(body, "multipart/form-data; boundary=other")


# ---------------------------------------------------------------------------- rate limit


def test_bursts_over_the_rate_limit_get_429_with_retry_after(serve: Callable[..., Client]) -> None:
    client = serve(rate_limit=5, credits=100)
    vendor = client.vendor
    answers = [client.filter({"filters": {"title": f"engineer {k}"}}) for k in range(12)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses
    limited = [a for a in answers if a.status_code == 429]
    assert all(a.headers["Retry-After"] == "1" for a in limited)
    assert vendor.post_count == statuses.count(200)  # refused requests charge nothing
    assert vendor.rate_limited == len(limited)
    assert sum(vendor.requests_per_second.values()) == len(vendor.request_times) == 12
    time.sleep(1.05)
    assert client.filter({"filters": {"title": "nurse"}}).status_code == 200


# ---------------------------------------------------------------------------- faults


def test_status_faults_and_resets(serve: Callable[..., Client]) -> None:
    client = serve(polls_until_ready=0)
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})
    vendor.faults.add(Fault(path_regex=r"/files$", status=503, retry_after="2"))
    injected = client.files(request_id)
    assert (injected.status_code, injected.headers["Retry-After"]) == (503, "2")
    name = client.ready_files(request_id)[0]
    vendor.faults.add(Fault(path_regex=r"/files/json/", abort_after=50))
    with pytest.raises(requests.exceptions.RequestException):
        client.download(request_id, name)
    assert vendor.in_progress(request_id)
    assert gzip.decompress(client.download(request_id, name).content)


def test_body_faults_of_the_gzip_files(serve: Callable[..., Client]) -> None:
    client = serve(polls_until_ready=0, files_per_request=1)
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})
    [name] = client.ready_files(request_id)
    expected = vendor.jobs_for_request(request_id)

    vendor.faults.add(Fault(path_regex=r"/files/json/", kind="truncated_gzip"))
    truncated = client.download(request_id, name)
    assert truncated.status_code == 200  # the HTTP body itself ends cleanly
    with pytest.raises((EOFError, zlib.error, OSError)):
        gzip.decompress(truncated.content)
    decoder = zlib.decompressobj(31)
    partial = decoder.decompress(truncated.content)
    assert not decoder.eof
    assert len(lines_of(partial)) == len(expected) // 2 + 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines_of(partial)[-1])

    vendor.faults.add(Fault(path_regex=r"/files/json/", kind="not_gzip"))
    plain = client.download(request_id, name)
    assert plain.status_code == 200
    assert not plain.content.startswith(b"\x1f\x8b")

    vendor.faults.add(Fault(path_regex=r"/files/json/", kind="bad_line"))
    lines = lines_of(gzip.decompress(client.download(request_id, name).content))
    assert len(lines) == len(expected)
    broken = []
    for number, line in enumerate(lines):
        try:
            assert json.loads(line) == expected[number]
        except json.JSONDecodeError:
            broken.append(number)
    assert broken == [len(expected) // 2]
    assert vendor.in_progress(request_id)  # none of these was a clean download

    assert [json.loads(line) for line in lines_of(gzip.decompress(client.download(request_id, name).content))] == (
        expected
    )
    assert not vendor.in_progress(request_id)


# ---------------------------------------------------------------------------- the job universe


def test_jobs_are_deterministic_and_shaped_like_the_vendor_s() -> None:
    one, two = CoresignalEmulator(jobs=200, seed=3), CoresignalEmulator(jobs=200, seed=3)
    jobs = one.all_jobs()
    assert jobs == two.all_jobs()
    assert jobs != CoresignalEmulator(jobs=200, seed=4).all_jobs()
    assert len({job["id"] for job in jobs}) == 200
    assert len({job["last_updated"] for job in jobs}) == 200
    months = {job["last_updated"][:7] for job in jobs}
    assert len(months) >= 12
    for job in jobs:
        assert TIMESTAMP.match(job["created"])
        assert TIMESTAMP.match(job["last_updated"])
        assert job["created"] <= job["last_updated"]
        assert isinstance(job["id"], int)
        assert isinstance(job["company_id"], int)
        assert job["deleted"] in (0, 1)
        assert job["application_active"] in (0, 1)
        assert isinstance(job["salary"], list)
        assert job["job_industry_collection"]
        assert {"title", "company_name", "company_url", "location", "country", "url", "description"} <= set(job)
        assert {"seniority", "employment_type", "job_function_collection", "recruiter"} <= set(job)
    # the streamed lines are exactly the job objects
    for position in range(0, 200, 3):
        line = one._line(position, one._last_updated[position])
        assert line.endswith(b"\n")
        assert json.loads(line) == jobs[position]


def test_added_and_touched_jobs_come_after_all_others(serve: Callable[..., Client]) -> None:
    client = serve(polls_until_ready=0)
    vendor = client.vendor
    before = vendor.all_jobs()
    latest = max(job["last_updated"] for job in before)
    old = client.submit({"last_updated_gte": "2020-01-01"})

    added = vendor.add_jobs(3)
    assert all(job["last_updated"] > latest for job in added)
    assert len({job["id"] for job in added} | {job["id"] for job in before}) == len(before) + 3
    touched = vendor.touch_jobs([before[0]["id"], before[1]["id"]])
    newest = max(job["last_updated"] for job in added)
    assert all(job["last_updated"] > newest for job in touched)
    assert len({job["last_updated"] for job in touched}) == 2

    fresh = client.records(client.submit({"last_updated_gte": min(j["last_updated"] for j in added)}))
    assert {job["id"] for job in fresh} == {job["id"] for job in added + touched}
    assert [job["last_updated"] for job in vendor.jobs_for_request(old)[:2]] == [
        job["last_updated"] for job in before[:2]
    ]  # a request keeps what it selected at its POST
    with pytest.raises(KeyError):
        vendor.touch_jobs([123])


def test_downloads_are_streamed_not_built_in_memory() -> None:
    vendor = CoresignalEmulator(jobs=2000, files_per_request=1, polls_until_ready=0)
    message = Message()
    message["Authorization"] = f"Bearer {TOKEN}"
    message["Content-Type"] = "application/json"
    post = vendor.handle(Request("POST", FILTER_PATH, {}, message, b'{"filters": {"deleted": 0}}'))
    request_id = json.loads(post.body)["request_id"]  # type: ignore[arg-type]
    listing = vendor.handle(Request("GET", f"/v1/bulk_collect/{request_id}/files", {}, message, b""))
    [name] = json.loads(listing.body)["data_request_files"]  # type: ignore[arg-type]
    download = vendor.handle(Request("GET", f"/v1/bulk_collect/{request_id}/files/{name}", {}, message, b""))
    assert download.chunked
    assert not isinstance(download.body, bytes | bytearray | list)
    pieces = list(download.body)
    assert len(pieces) > 1
    assert len(lines_of(gzip.decompress(b"".join(pieces)))) == len(vendor.jobs_for_request(request_id))


# ============================================================================ v2 (today's API)


class ClientV2:
    """A bare client of the v2 generation: ``apikey`` header, /v2/data_requests/... paths."""

    def __init__(self, vendor: CoresignalEmulator, base: str, key: str = API_KEY) -> None:
        self.vendor = vendor
        self.base = base
        self.session = requests.Session()
        self.session.headers["apikey"] = key

    def filter(self, body: object) -> requests.Response:
        return self.session.post(self.base + V2_FILTER_PATH, json=body, timeout=10)

    def id_file(
        self, content: str | bytes, field: str = "ids_file", data: dict[str, str] | None = None
    ) -> requests.Response:
        files = {field: ("ids.csv", content, "text/csv")}
        return self.session.post(self.base + V2_ID_FILE_PATH, files=files, data=data or {}, timeout=10)

    def files(self, request_id: str) -> requests.Response:
        return self.session.get(f"{self.base}/v2/data_requests/{request_id}/files", timeout=10)

    def download(self, request_id: str, name: str) -> requests.Response:
        return self.session.get(f"{self.base}/v2/data_requests/{request_id}/files/{name}", timeout=10)

    def submit(self, filters: dict[str, Any], **extra: object) -> str:
        response = self.filter({"filters": filters, **extra})
        assert response.status_code == 201, response.text
        return response.json()["request_id"]

    def settle(self, request_id: str) -> requests.Response:
        """Poll the files list until the request is collected; the first answer that is not 'processing'."""
        for _ in range(self.vendor.polls_until_ready + 1):
            response = self.files(request_id)
            if response.json().get("message") != STILL_PROCESSING and response.json() != {"data_request_files": []}:
                return response
        pytest.fail("the request was never collected")
        return response

    def records(self, request_id: str) -> list[dict[str, Any]]:
        listing = self.settle(request_id)
        assert listing.status_code == 200, listing.text
        jobs = []
        for name in listing.json()["data_request_files"]:
            response = self.download(request_id, name)
            assert response.status_code == 200
            jobs += [json.loads(line) for line in lines_of(gzip.decompress(response.content))]
        return jobs


def v2(client: Client, key: str = API_KEY) -> ClientV2:
    """The v2 client of the vendor ``client`` talks to."""
    return ClientV2(client.vendor, client.base, key)


def last_updated_cut(vendor: CoresignalEmulator, index: int) -> str:
    return sorted(job["last_updated"] for job in vendor.all_jobs())[index]


def test_the_docstring_lists_every_endpoint_of_both_generations() -> None:
    doc = coresignal.__doc__ or ""
    for endpoint in (
        f"POST {FILTER_PATH}",
        f"POST {ID_FILE_PATH}",
        "GET  /v1/bulk_collect/{id}/files ",
        "GET  /v1/bulk_collect/{id}/files/{file_name}",
        f"POST {V2_FILTER_PATH}",
        f"POST {V2_ID_FILE_PATH}",
        "GET  /v2/data_requests/{id}/files ",
        "GET  /v2/data_requests/{id}/files/{file_name}",
    ):
        assert endpoint in doc, endpoint
    for rule in ("Request matched too many IDs", NO_MATCH, "Insufficient credits", "still being processed", "503"):
        assert rule in doc, rule


# ---------------------------------------------------------------------------- v2: endpoints


def test_v2_filter_post_answers_201_a_request_id_and_a_location_and_charges_nothing(
    serve: Callable[..., Client],
) -> None:
    client = v2(serve(credits=1000, polls_until_ready=1))
    vendor = client.vendor
    response = client.filter({"filters": {"title": "engineer"}, "limit": 5, "webhook_url": "https://hook.example/x"})
    assert response.status_code == 201
    assert list(response.json()) == ["request_id"]
    request_id = response.json()["request_id"]
    assert UUID.match(request_id)
    # relative to the API base (https://api.coresignal.com/cdapi), as the vendor writes it: no mount prefix
    assert response.headers["Location"] == f"/v2/data_requests/{request_id}/files"
    assert vendor.data_requests[request_id].generation == "v2"
    assert vendor.data_requests[request_id].webhook_url == "https://hook.example/x"
    assert vendor.credits == 1000  # nothing charged at the POST
    follow = client.session.get(client.base + response.headers["Location"], timeout=10)
    assert follow.json() == {"message": STILL_PROCESSING}
    assert len(client.records(request_id)) == 5
    assert vendor.credits == 995

    old_accounts = v2(serve(v2_post_status=200))
    assert old_accounts.filter({"filters": {"title": "engineer"}}).status_code == 200


def test_v2_delivers_the_selected_jobs_and_keeps_its_requests_apart_from_v1(serve: Callable[..., Client]) -> None:
    client = serve(polls_until_ready=0)
    client2 = v2(client)
    vendor = client.vendor
    request_id = client2.submit({"last_updated_gte": "2025-06-01", "deleted": 0})
    listing = client2.files(request_id)
    assert listing.status_code == 200
    names = listing.json()["data_request_files"]
    assert len(names) == 3
    assert all(FILE_NAME.match(name) for name in names)
    download = client2.download(request_id, names[0])
    assert download.headers["Content-Type"] == "application/gzip"
    assert download.headers["Transfer-Encoding"] == "chunked"
    jobs = client2.records(request_id)
    assert jobs == vendor.jobs_for_request(request_id)
    assert {job["id"] for job in jobs} == {
        job["id"] for job in vendor.all_jobs() if job["last_updated"] >= "2025-06-01 00:00:00" and job["deleted"] == 0
    }
    # a request lives in its own generation
    assert client.files(request_id).status_code == 404
    assert client.download(request_id, names[0]).status_code == 404
    v1_id = client.submit({"title": "engineer"})
    assert client2.files(v1_id).status_code == 404
    assert client2.files(v1_id).json() == {"message": "Data request not found"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"filters": {"title": "x"}, "page": 2}, "page"),
        ({"filters": {"title": "x", "salary_gte": 10}}, "salary_gte"),
        ({"filters": {}}, "filters"),
        ({"filters": {"title": "x"}, "limit": 0}, "limit"),
        ({"filters": {"title": "x"}, "limit": "5"}, "limit"),
        ({"filters": {"title": "x"}, "webhook_url": "http://example.com/hook"}, "webhook_url"),
        ({"filters": {"title": "x"}, "data_format": "csv"}, "data_format"),
        ({"filters": {"last_updated_gte": "2025/01/01"}}, "last_updated_gte"),
        ({"filters": {"last_updated_lte": "yesterday"}}, "last_updated_lte"),
        ({"filters": {"company_id": "10000000"}}, "company_id"),
        ({"es_dsl_query": {"query": {"match_all": {}}}}, "es_dsl_query"),
    ],
)
def test_v2_filter_post_rejects_what_the_api_rejects(serve: Callable[..., Client], body: object, named: str) -> None:
    client = v2(serve(credits=1000))
    response = client.filter(body)
    assert response.status_code == 422
    assert named in response.json()["message"]
    assert (client.vendor.post_count, client.vendor.credits, client.vendor.data_requests) == (0, 1000, {})


def test_v2_filter_accepts_the_json_data_format(serve: Callable[..., Client]) -> None:
    client = v2(serve())
    assert client.filter({"filters": {"title": "x"}, "data_format": "json"}).status_code == 201
    v1 = serve()  # v1 keeps its own, smaller body
    assert v1.filter({"filters": {"title": "x"}, "data_format": "json"}).status_code == 422


def test_v2_id_file_takes_the_ids_in_an_ids_file_field(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=0, credits=100))
    vendor = client.vendor
    every = vendor.all_jobs()
    wanted = [every[4]["id"], every[9]["id"], 4_999_999_999, every[4]["id"]]
    response = client.id_file("\n".join(map(str, wanted)) + "\n", data={"webhook_url": "https://hook.example/y"})
    assert response.status_code == 201
    request_id = response.json()["request_id"]
    assert response.headers["Location"] == f"/v2/data_requests/{request_id}/files"
    assert vendor.posts_by_generation["v2"] == [("id_file", wanted)]
    assert vendor.data_requests[request_id].webhook_url == "https://hook.example/y"
    assert [job["id"] for job in client.records(request_id)] == [every[4]["id"], every[9]["id"]]
    assert vendor.credits == 98
    with_format = client.id_file(f"{every[1]['id']}\r\n", data={"data_format": "json"})
    assert with_format.status_code == 201


@pytest.mark.parametrize(
    ("field", "data", "named"),
    [
        ("file", {}, "ids_file"),  # v1's field name
        ("ids", {}, "ids_file"),
        ("ids_file", {"notes": "x"}, "notes"),
        ("ids_file", {"data_format": "csv"}, "data_format"),
        ("ids_file", {"webhook_url": "ftp://hook"}, "webhook_url"),
    ],
)
def test_v2_id_file_refuses_other_fields_with_422(
    serve: Callable[..., Client], field: str, data: dict[str, str], named: str
) -> None:
    client = v2(serve(credits=100))
    response = client.id_file("3000000000\n", field=field, data=data)
    assert response.status_code == 422
    assert named in response.json()["message"]
    assert (client.vendor.credits, client.vendor.post_count) == (100, 0)
    as_value = client.session.post(client.base + V2_ID_FILE_PATH, files={"ids_file": (None, "3000000000\n")})
    assert as_value.status_code == 422  # a plain field, not an uploaded file
    v1 = serve()
    assert v1.id_file("3000000000\n", field="ids_file").status_code == 422  # and v1 wants "file"


@pytest.mark.parametrize(
    "content",
    ["id\n3000000000\n", "3000000000,3000000007\n", "3000000000\nabc\n", "\n\n", b"\xff\xfe3\x000\x00"],
)
def test_v2_a_malformed_id_file_is_a_400(serve: Callable[..., Client], content: str | bytes) -> None:
    client = v2(serve(credits=100))
    response = client.id_file(content)
    assert response.status_code == 400
    assert response.json()["message"]
    assert (client.vendor.credits, client.vendor.post_count) == (100, 0)


def test_v2_unknown_paths_and_wrong_methods(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=0))
    request_id = client.submit({"title": "engineer"})
    [name, *_] = client.files(request_id).json()["data_request_files"]
    base = client.base
    assert client.session.get(base + V2_FILTER_PATH).status_code == 405
    assert client.session.get(base + V2_ID_FILE_PATH).status_code == 405
    assert client.session.post(f"{base}/v2/data_requests/{request_id}/files").status_code == 405
    assert client.session.post(base + "/v2/data_requests/job_base/es_dsl", json={}).status_code == 404
    assert client.session.post(base + "/v2/data_requests/job_multi_source/filter", json={}).status_code == 404
    assert requests.get(f"{base}/v2/data_requests/not-a-uuid/files", timeout=10).status_code == 404  # no route
    unknown = client.files("0a1b2c3d-0000-4000-8000-000000000000")
    assert (unknown.status_code, unknown.json()) == (404, {"message": "Data request not found"})
    assert client.download(request_id, name.replace("/", "%2F")).status_code == 404
    assert client.download(request_id, name.split("/", 1)[1]).status_code == 404
    assert client.download(request_id, name).status_code == 200


# ---------------------------------------------------------------------------- v2: credentials


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"apikey": "wrongKey0123456789abcdefghijklmn"},
        {"apikey": f"Bearer {API_KEY}"},
        {"apikey": API_KEY.upper()},
        {"Authorization": f"Bearer {API_KEY}"},
        {"Authorization": f"Bearer {TOKEN}"},  # a v1 account's token
        {"x-api-key": API_KEY},
    ],
)
def test_v2_requires_the_exact_apikey_header(serve: Callable[..., Client], headers: dict[str, str]) -> None:
    client = v2(serve())
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})
    bad = requests.Session()
    bad.headers.update(headers)
    base = client.base
    answers = [
        bad.post(base + V2_FILTER_PATH, json={"filters": {"title": "nurse"}}),
        bad.post(base + V2_ID_FILE_PATH, files={"ids_file": ("ids.csv", "3000000000\n")}),
        bad.get(f"{base}/v2/data_requests/{request_id}/files"),
        bad.get(f"{base}/v2/data_requests/{request_id}/files/json/part-00000-x.json.gz"),
    ]
    assert [a.status_code for a in answers] == [401] * 4
    assert all(a.json()["message"] for a in answers)
    assert vendor.post_count == 1
    assert vendor.polls[request_id] == 0
    assert sum(n for (generation, _), n in vendor.auth_refused.items() if generation == "v2") == 4
    assert vendor.auth_used[("v2", "apikey")] == 1


def test_v1_refuses_the_v2_apikey_and_both_keys_work_side_by_side(serve: Callable[..., Client]) -> None:
    client = serve()
    vendor = client.vendor
    keyed = requests.Session()
    keyed.headers["apikey"] = API_KEY
    base = client.base
    answers = [
        keyed.post(base + FILTER_PATH, json={"filters": {"title": "nurse"}}),
        keyed.post(base + ID_FILE_PATH, files={"file": ("ids.txt", "3000000000\n")}),
        keyed.get(f"{base}/v1/bulk_collect/0a1b2c3d-0000-4000-8000-000000000000/files"),
    ]
    assert [a.status_code for a in answers] == [401] * 3
    assert vendor.auth_refused[("v1", "apikey")] == 3
    assert client.submit({"title": "nurse"})  # the v1 token, unchanged
    mixed = v2(client)
    mixed.session.headers["APIKEY"] = API_KEY  # header names are case-insensitive
    assert mixed.submit({"title": "nurse"})
    assert (vendor.auth_used[("v1", "authorization")], vendor.auth_used[("v2", "apikey")]) == (1, 1)


@pytest.mark.parametrize(
    "key", ["short", "cs-Key0123456789abcdefghijklmnopq", API_KEY + "x", API_KEY + "\n", API_KEY[:-1] + "é"]
)
def test_the_v2_key_is_32_letters_and_digits(key: str) -> None:
    with pytest.raises(ValueError, match="api_key"):
        CoresignalEmulator(jobs=10, api_key=key)
    vendor = CoresignalEmulator(jobs=10, api_key="A" * 32, api_token="my-v1-token")
    assert (vendor.api_key, vendor.api_token) == ("A" * 32, "my-v1-token")
    assert CoresignalEmulator(jobs=10).api_key == API_KEY


def test_the_rate_limit_counts_each_credential_apart(serve: Callable[..., Client]) -> None:
    client = serve(rate_limit=3)
    client2 = v2(client)
    statuses = [client2.files("0a1b2c3d-0000-4000-8000-000000000000").status_code for _ in range(5)]
    assert statuses[:3] == [404] * 3
    assert 429 in statuses
    assert client.files("0a1b2c3d-0000-4000-8000-000000000000").status_code == 404  # the v1 token's own window


# ---------------------------------------------------------------------------- v2: not ready


@pytest.mark.parametrize("status", [200, 202, 404, 425])
def test_v2_not_ready_answers_a_message_with_the_chosen_status(serve: Callable[..., Client], status: int) -> None:
    client = v2(serve(polls_until_ready=2, not_ready_status=status))
    request_id = client.submit({"title": "engineer"})
    answers = [client.files(request_id) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert [a.json() for a in answers[:2]] == [{"message": "Data request is still being processed"}] * 2
    assert "data_request_files" not in answers[0].json()
    assert answers[2].json()["data_request_files"]
    assert client.vendor.polls[request_id] == 3
    name = client.vendor.files_for_request(request_id)[0]
    fresh = client.submit({"title": "manager"})
    assert client.download(fresh, client.vendor.files_for_request(fresh)[0]).status_code == 404  # not listed yet
    assert client.download(request_id, name).status_code == 200


def test_the_not_ready_answer_can_be_the_empty_list_or_the_message_on_either_generation(
    serve: Callable[..., Client],
) -> None:
    client = serve(polls_until_ready=1, not_ready_answer="empty_list", not_ready_status=202)
    client2 = v2(client)
    request_id = client2.submit({"title": "engineer"})
    first = client2.files(request_id)
    assert (first.status_code, first.json()) == (200, {"data_request_files": []})
    assert client2.files(request_id).json()["data_request_files"]

    client = serve(polls_until_ready=1, not_ready_answer="message")
    v1_id = client.submit({"title": "engineer"})
    assert client.files(v1_id).json() == {"message": STILL_PROCESSING}
    assert client.files(v1_id).json()["data_request_files"]
    with pytest.raises(ValueError, match="not_ready_answer"):
        CoresignalEmulator(jobs=10, not_ready_answer="nothing")


# ---------------------------------------------------------------------------- v2: outcomes of collecting


def test_v2_a_request_that_matched_nothing_answers_422(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=1, credits=100))
    vendor = client.vendor
    request_id = client.submit({"title": "astronaut"})
    assert client.files(request_id).json() == {"message": STILL_PROCESSING}
    answers = [client.files(request_id) for _ in range(2)]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].json() == {"message": NO_MATCH}
    assert vendor.files_for_request(request_id) == []
    assert client.download(request_id, "json/part-00000-x.json.gz").status_code == 404
    assert (vendor.credits, vendor.status(request_id), vendor.files_listed[request_id]) == (100, "no_match", 0)
    ids = client.id_file("4999999999\n")
    assert client.settle(ids.json()["request_id"]).status_code == 422  # no id of the file exists


def test_v2_credits_running_out_while_collecting_answer_402(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=1, credits=10))
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})  # more than 10 jobs: accepted all the same
    selected = len(vendor.jobs_for_request(request_id))
    assert selected > 10
    assert vendor.credits == 10
    failed = client.settle(request_id)
    assert failed.status_code == 402
    assert failed.json() == {"detail": "Insufficient credits"}
    assert "credits" in failed.json()["detail"]
    vendor.credits = 10**6
    assert client.files(request_id).status_code == 402  # the request failed for good
    assert (vendor.status(request_id), vendor.data_requests[request_id].charged) == ("no_credits", 0)
    assert vendor.credits == 10**6

    # armed on a live account: the credits go before the request is collected
    armed = client.submit({"title": "manager"})
    vendor.credits = 0
    assert client.settle(armed).status_code == 402
    paid = client.submit({"title": "engineer"}, limit=3)
    vendor.credits = 3
    assert client.settle(paid).status_code == 200
    assert (vendor.credits, vendor.data_requests[paid].charged) == (0, 3)


def test_v2_credits_are_charged_when_the_request_is_collected(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=2, credits=1000))
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})
    selected = len(vendor.jobs_for_request(request_id))
    client.files(request_id)
    client.files(request_id)
    assert vendor.credits == 1000
    assert client.files(request_id).status_code == 200
    assert vendor.credits == 1000 - selected
    for _ in range(2):
        assert client.files(request_id).status_code == 200
    assert vendor.credits == 1000 - selected  # once
    assert vendor.data_requests[request_id].charged == selected


# ---------------------------------------------------------------------------- v2: the record cap


def test_v2_a_filter_over_the_record_cap_is_accepted_then_rejected_while_collecting(
    serve: Callable[..., Client],
) -> None:
    client = v2(serve(jobs=300, record_cap=50, polls_until_ready=1, credits=1000))
    vendor = client.vendor
    too_many = client.submit({"last_updated_gte": "2020-01-01"})
    assert vendor.credits == 1000
    assert client.files(too_many).json() == {"message": STILL_PROCESSING}
    rejected = client.files(too_many)
    assert rejected.status_code == 422
    assert rejected.json() == {"message": "Request matched too many IDs. Maximum is 50 IDs"}
    assert rejected.json()["message"] != NO_MATCH
    assert client.files(too_many).status_code == 422
    assert (vendor.credits, vendor.status(too_many), vendor.files_for_request(too_many)) == (1000, "too_many", [])

    over_limit = client.submit({"last_updated_gte": "2020-01-01"}, limit=51)
    assert client.settle(over_limit).status_code == 422
    at_cap = client.submit({"last_updated_gte": "2020-01-01"}, limit=50)
    assert len(client.records(at_cap)) == 50
    small = client.submit({"last_updated_gte": last_updated_cut(vendor, 260)})  # 40 jobs, no limit
    assert len(client.records(small)) == 40
    roomy = client.submit({"last_updated_gte": last_updated_cut(vendor, 270)}, limit=5000)  # 30 match
    assert len(client.records(roomy)) == 30
    assert vendor.credits == 1000 - 50 - 40 - 30  # only the requests that delivered

    v1 = serve(jobs=300, record_cap=50, polls_until_ready=0)  # v1 has no cap
    assert len(v1.records(v1.submit({"last_updated_gte": "2020-01-01"}))) == 300


def test_v2_the_default_record_cap_is_10000(serve: Callable[..., Client]) -> None:
    client = v2(serve(jobs=10_001, polls_until_ready=0))
    assert client.vendor.record_cap == 10_000
    every = client.submit({"last_updated_gte": "2020-01-01"})
    answer = client.files(every)
    assert (answer.status_code, answer.json()) == (
        422,
        {"message": "Request matched too many IDs. Maximum is 10,000 IDs"},
    )
    capped = client.submit({"last_updated_gte": "2020-01-01"}, limit=10_000)
    assert len(client.files(capped).json()["data_request_files"]) == 3


def test_v2_an_id_file_over_the_record_cap_is_refused_by_the_post(serve: Callable[..., Client]) -> None:
    client = v2(serve(jobs=300, record_cap=50, credits=1000))
    ids = [job["id"] for job in client.vendor.all_jobs()]
    over = client.id_file("\n".join(map(str, ids[:51])))
    assert over.status_code == 400
    assert over.json() == {"message": "File contains too many IDs. Maximum is 50 IDs"}
    assert (client.vendor.post_count, client.vendor.credits) == (0, 1000)
    assert client.id_file("\n".join(map(str, ids[:50]))).status_code == 201


def test_v2_last_updated_windows_each_under_the_cap_cover_every_job(serve: Callable[..., Client]) -> None:
    client = serve(jobs=300, record_cap=50, polls_until_ready=0)
    client2 = v2(client)
    vendor = client.vendor
    stamps = sorted(job["last_updated"] for job in vendor.all_jobs())
    assert client2.settle(client2.submit({"last_updated_gte": stamps[0]})).status_code == 422
    seen: list[int] = []
    for start in range(0, 300, 40):
        window = {"last_updated_gte": stamps[start], "last_updated_lte": stamps[min(start + 39, 299)]}
        jobs = client2.records(client2.submit(window))
        assert len(jobs) == min(40, 300 - start)
        assert all(window["last_updated_gte"] <= job["last_updated"] <= window["last_updated_lte"] for job in jobs)
        same_in_v1 = client.records(client.submit(window))
        assert [job["id"] for job in jobs] == [job["id"] for job in same_in_v1]
        seen += [job["id"] for job in jobs]
    assert sorted(seen) == sorted(job["id"] for job in vendor.all_jobs())
    day = stamps[150][:10]
    by_day = client2.records(client2.submit({"last_updated_gte": day, "last_updated_lte": day + " 23:59:59"}))
    assert {job["id"] for job in by_day} == {job["id"] for job in vendor.all_jobs() if job["last_updated"][:10] == day}


# ---------------------------------------------------------------------------- retention (30 days)


def test_files_are_kept_30_days_then_the_request_answers_503(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=0))
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})
    names = client.files(request_id).json()["data_request_files"]
    vendor.advance_days(29.9)
    assert client.files(request_id).status_code == 200
    assert client.download(request_id, names[0]).status_code == 200
    vendor.advance_days(0.2)
    listing = client.files(request_id)
    assert listing.status_code == 503
    assert "30 days" in listing.json()["message"]
    assert client.download(request_id, names[1]).status_code == 503
    assert vendor.status(request_id) == "expired"
    assert vendor.expired_answers == 2
    assert client.files("0a1b2c3d-0000-4000-8000-000000000000").status_code == 404  # unknown stays 404


def test_expiry_can_answer_404_and_the_clock_can_be_set(serve: Callable[..., Client]) -> None:
    start = 1_800_000_000.0
    client = serve(polls_until_ready=0, expired_status=404, now=start)
    client2 = v2(client)
    vendor = client.vendor
    assert abs(vendor.now - start) < 5
    request_id = client2.submit({"title": "engineer"})
    v1_id = client.submit({"title": "engineer"})
    assert vendor.data_requests[request_id].created_at == pytest.approx(start, abs=5)
    vendor.now = max(vendor.data_requests[i].created_at for i in (request_id, v1_id)) + 30 * 86400
    answer = client2.files(request_id)
    assert (answer.status_code, answer.json()) == (404, {"message": "Data request not found"})
    assert client.files(v1_id).status_code == 404  # v1 requests expire alike
    assert vendor.status(v1_id) == "expired"


def test_an_expired_request_no_longer_blocks_an_identical_one(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=0))
    vendor = client.vendor
    first = client.submit({"title": "engineer", "country": "Germany"})
    again = client.filter({"filters": {"country": "Germany", "title": "engineer"}})
    assert (again.status_code, again.json()) == (409, {"message": "Identical request already in progress"})
    assert vendor.in_progress(first)
    same_on_v1 = Client(vendor, client.base).filter({"filters": {"title": "engineer", "country": "Germany"}})
    assert same_on_v1.status_code == 200  # another generation, another request: no 409 across them
    vendor.advance_days(31)
    assert not vendor.in_progress(first)
    assert client.filter({"filters": {"country": "Germany", "title": "engineer"}}).status_code == 201


def test_v2_requests_in_progress_are_refused_until_downloaded_or_failed(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=0, jobs=300, record_cap=10))
    vendor = client.vendor
    too_many = client.submit({"title": "engineer"})
    assert client.filter({"filters": {"title": "engineer"}}).status_code == 409  # still being collected
    assert client.files(too_many).status_code == 422
    assert not vendor.in_progress(too_many)
    assert client.filter({"filters": {"title": "engineer"}}).status_code == 201  # a failed request blocks nothing
    fine = client.submit({"title": "engineer"}, limit=4)
    for name in client.files(fine).json()["data_request_files"]:
        assert vendor.in_progress(fine)
        client.download(fine, name)
    assert not vendor.in_progress(fine)


# ---------------------------------------------------------------------------- bookkeeping and faults


def test_bookkeeping_per_generation(serve: Callable[..., Client]) -> None:
    client = serve(polls_until_ready=1)
    client2 = v2(client)
    vendor = client.vendor
    v1_id = client.submit({"title": "engineer"})
    v2_filter = client2.submit({"title": "nurse"}, limit=2)
    v2_ids = client2.id_file("3000000000\n3000000007\n").json()["request_id"]
    assert vendor.post_count == 3
    assert vendor.post_counts == {"v1": 1, "v2": 2}
    assert vendor.posts_by_generation == {
        "v1": [("filter", {"filters": {"title": "engineer"}})],
        "v2": [("filter", {"filters": {"title": "nurse"}, "limit": 2}), ("id_file", [3000000000, 3000000007])],
    }
    assert vendor.posts == vendor.posts_by_generation["v1"] + vendor.posts_by_generation["v2"]
    assert [vendor.data_requests[i].generation for i in (v1_id, v2_filter, v2_ids)] == ["v1", "v2", "v2"]
    assert vendor.status(v2_filter) == "processing"
    assert client2.records(v2_filter)
    names = vendor.files_for_request(v2_filter)
    assert vendor.status(v2_filter) == "ready"
    assert vendor.polls[v2_filter] == 2
    assert vendor.files_listed[v2_filter] == 1  # the not-ready answer lists nothing
    assert [vendor.downloads[(v2_filter, name)] for name in names] == [1] * len(names)
    assert vendor.auth_used == {("v1", "authorization"): 1, ("v2", "apikey"): 2 + 2 + len(names)}
    assert sum(vendor.auth_refused.values()) == 0


def test_v2_files_take_the_body_faults_too(serve: Callable[..., Client]) -> None:
    client = v2(serve(polls_until_ready=0, files_per_request=1))
    vendor = client.vendor
    request_id = client.submit({"title": "engineer"})
    [name] = client.files(request_id).json()["data_request_files"]
    vendor.faults.add(Fault(path_regex=r"^/v2/data_requests/.+/files/json/", kind="truncated_gzip"))
    truncated = client.download(request_id, name)
    with pytest.raises((EOFError, zlib.error, OSError)):
        gzip.decompress(truncated.content)
    assert vendor.in_progress(request_id)
    vendor.faults.add(Fault(path_regex=r"^/v2/data_requests/.+/files$", status=503, retry_after="2"))
    assert client.files(request_id).status_code == 503
    assert len(lines_of(gzip.decompress(client.download(request_id, name).content))) == len(
        vendor.jobs_for_request(request_id)
    )
    assert not vendor.in_progress(request_id)
