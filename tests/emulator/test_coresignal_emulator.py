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

from tests.emulator.coresignal import FILTER_PATH, ID_FILE_PATH, CoresignalEmulator, Invalid, parse_multipart
from tests.emulator.server import Emulator, Fault, Request

if TYPE_CHECKING:
    from collections.abc import Callable

TOKEN = "cs-token-0123456789"
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
