"""The HrFlow emulator answers like the real API: envelope, errors in 200s, paging, sorting, faults."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.emulator.hrflow import NON_UTF8_BYTES, HrflowEmulator
from tests.emulator.server import Emulator, Fault

if TYPE_CHECKING:
    from collections.abc import Iterator

HEADERS = {"X-API-KEY": "hrflow-key-0123456789", "X-USER-EMAIL": "etl@example.com"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    # One server for the module (stopping one costs its 0.5 s poll interval); each test
    # swaps in a fresh vendor object below.
    with Emulator([HrflowEmulator()]) as emulator:
        yield emulator


@pytest.fixture
def hrflow(server: Emulator) -> HrflowEmulator:
    vendor = HrflowEmulator()
    server.vendors[:] = [vendor]
    return vendor


@pytest.fixture
def base(server: Emulator, hrflow: HrflowEmulator) -> str:
    return server.url("/hrflow")


def get(base: str, path: str, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = requests.get(base + path, params=params, headers=HEADERS if headers is None else headers, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def search(base: str, keys: list[str], **params: Any) -> dict[str, Any]:
    return get(base, "/profiles/searching", source_keys=json.dumps(keys), **params)


def all_pages(base: str, keys: list[str], **params: Any) -> list[dict[str, Any]]:
    profiles: list[dict[str, Any]] = []
    page = 1
    while True:
        body = search(base, keys, page=page, **params)
        assert body["code"] == 200
        if not body["data"]["profiles"]:
            return profiles
        profiles += body["data"]["profiles"]
        page += 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-KEY": "hrflow-key-0123456789"},
        {"X-USER-EMAIL": "etl@example.com"},
        {"X-API-KEY": "wrong", "X-USER-EMAIL": "etl@example.com"},
        {"X-API-KEY": "hrflow-key-0123456789", "X-USER-EMAIL": "other@example.com"},
        {"Authorization": "Bearer hrflow-key-0123456789", "X-USER-EMAIL": "etl@example.com"},
    ],
)
def test_auth_errors_hide_in_200_bodies(base: str, headers: dict[str, str]) -> None:
    body = get(base, "/profiles/searching", headers=headers, source_keys='["src-a"]')
    assert body == {"code": 401, "message": "Unauthorized", "meta": {}, "data": None}
    assert get(base, "/sources", headers=headers)["code"] == 401


def test_headers_are_case_insensitive(base: str) -> None:
    headers = {"x-api-key": HEADERS["X-API-KEY"], "x-user-email": HEADERS["X-USER-EMAIL"]}
    assert get(base, "/sources", headers=headers)["code"] == 200


def test_paging_meta_and_past_the_end(base: str, hrflow: HrflowEmulator) -> None:
    metas = [search(base, ["src-a"], page=page, limit=20)["meta"] for page in (1, 2, 3, 4)]
    assert metas == [
        {"page": 1, "maxPage": 3, "count": 20, "total": 45},
        {"page": 2, "maxPage": 3, "count": 20, "total": 45},
        {"page": 3, "maxPage": 3, "count": 5, "total": 45},
        {"page": 4, "maxPage": 3, "count": 0, "total": 45},
    ]
    past = search(base, ["src-a"], page=9, limit=20)
    assert past["code"] == 200
    assert past["data"] == {"profiles": []}
    keys = [p["key"] for p in all_pages(base, ["src-a"], limit=20)]
    assert sorted(keys) == sorted(p["key"] for p in hrflow.profiles("src-a"))
    assert len(set(keys)) == 45


def test_sources_merge_and_empty_source(base: str) -> None:
    body = search(base, ["src-a", "src-b"], limit=100)
    assert body["meta"] == {"page": 1, "maxPage": 1, "count": 65, "total": 65}
    assert {p["source"]["key"] for p in body["data"]["profiles"]} == {"src-a", "src-b"}
    empty = search(base, ["src-empty-1"])
    assert empty["meta"] == {"page": 1, "maxPage": 0, "count": 0, "total": 0}
    assert empty["data"] == {"profiles": []}


@pytest.mark.parametrize("sort_by", ["created_at", "updated_at"])
@pytest.mark.parametrize("order_by", ["asc", "desc"])
def test_sort_order_with_key_tie_break(base: str, sort_by: str, order_by: str) -> None:
    profiles = all_pages(base, ["src-a", "src-b"], limit=7, sort_by=sort_by, order_by=order_by)
    pairs = [(p[sort_by], p["key"]) for p in profiles]
    assert pairs == sorted(pairs, reverse=order_by == "desc")
    assert len(profiles) == 65


def test_default_sort_is_created_at_desc(base: str) -> None:
    profiles = search(base, ["src-a"], limit=100)["data"]["profiles"]
    pairs = [(p["created_at"], p["key"]) for p in profiles]
    assert pairs == sorted(pairs, reverse=True)
    # The data set has created_at ties on purpose, so the key tie-break matters.
    assert len({p["created_at"] for p in profiles}) < len(profiles)


def test_updated_at_distinct_and_well_formed(hrflow: HrflowEmulator) -> None:
    stamps = [p["updated_at"] for p in hrflow.profiles()] + [j["updated_at"] for j in hrflow.jobs()]
    assert len(stamps) == len(set(stamps)) == 98
    assert all(STAMP.match(s) for s in stamps)
    assert min(stamps)[:4] != max(stamps)[:4]  # spread over years


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"source_keys": "src-a"},
        {"source_keys": "src-a,src-b"},
        {"source_keys": '"src-a"'},
        {"source_keys": "[]"},
        {"source_keys": "[1]"},
        {"source_keys": '{"src-a": 1}'},
        {"source_keys": '["src-a", "nope"]'},
        {"source_keys": '["src-a"]', "limit": "0"},
        {"source_keys": '["src-a"]', "limit": "101"},
        {"source_keys": '["src-a"]', "limit": ""},
        {"source_keys": '["src-a"]', "page": "0"},
        {"source_keys": '["src-a"]', "page": "-1"},
        {"source_keys": '["src-a"]', "page": "1.0"},
        {"source_keys": '["src-a"]', "sort_by": "date"},
        {"source_keys": '["src-a"]', "order_by": "DESC"},
        {"source_keys": '["src-a"]', "board_keys": '["board-a"]'},
        {"source_keys": '["src-a"]', "updated_at_min": "2020-01-01"},
    ],
)
def test_bad_parameters_answer_code_400(base: str, params: dict[str, str]) -> None:
    response = requests.get(base + "/profiles/searching", params=params, headers=HEADERS, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 400
    assert body["message"]
    assert body["data"] is None


def test_repeated_parameter_is_rejected(base: str) -> None:
    url = base + '/profiles/searching?source_keys=["src-a"]&page=1&page=2'
    assert requests.get(url, headers=HEADERS, timeout=5).json()["code"] == 400


def test_unknown_path_is_http_404_in_envelope(base: str) -> None:
    response = requests.get(base + "/profiles/search", headers=HEADERS, timeout=5)
    assert response.status_code == 404
    assert response.json()["code"] == 404
    assert set(response.json()) == {"code", "message", "meta", "data"}


def test_touch_profile_moves_it_first(base: str, hrflow: HrflowEmulator) -> None:
    last = search(base, ["src-a", "src-b"], limit=100, sort_by="updated_at", order_by="asc")["data"]["profiles"][0]
    touched = hrflow.touch_profile(last["key"])
    assert touched["updated_at"] > max(p["updated_at"] for p in hrflow.profiles() if p["key"] != last["key"])
    first = search(base, ["src-a", "src-b"], limit=1, sort_by="updated_at", order_by="desc")["data"]["profiles"][0]
    assert first["key"] == last["key"]
    assert first["updated_at"] == touched["updated_at"]
    again = hrflow.touch_profile(hrflow.profiles("src-b")[0]["key"])
    assert again["updated_at"] > touched["updated_at"]


def test_add_profile_and_job(base: str, hrflow: HrflowEmulator) -> None:
    added = hrflow.add_profile("src-empty-2")
    body = search(base, ["src-empty-2"])
    assert body["meta"]["total"] == 1
    assert body["data"]["profiles"][0]["key"] == added["key"]
    assert added["source"] == {"key": "src-empty-2", "name": "archive-2"}
    job = hrflow.add_job("board-a")
    jobs = get(base, "/jobs/searching", board_keys='["board-a"]', sort_by="updated_at", limit=1)
    assert jobs["meta"]["total"] == 34
    assert jobs["data"]["jobs"][0]["key"] == job["key"]
    with pytest.raises(KeyError):
        hrflow.add_profile("nope")


def test_jobs_searching(base: str, hrflow: HrflowEmulator) -> None:
    body = get(base, "/jobs/searching", board_keys='["board-a"]', page=2, limit=30, order_by="asc")
    assert body["message"] == "Job searching list"
    assert body["meta"] == {"page": 2, "maxPage": 2, "count": 3, "total": 33}
    job = body["data"]["jobs"][0]
    assert {"key", "reference", "name", "location", "sections", "board", "ranges_float"} <= set(job)
    assert job["board"] == {"key": "board-a", "name": "careers-board-a"}
    hrflow.touch_job(job["key"])
    first = get(base, "/jobs/searching", board_keys='["board-a"]', sort_by="updated_at", limit=1)
    assert first["data"]["jobs"][0]["key"] == job["key"]
    assert get(base, "/jobs/searching", board_keys='["src-a"]')["code"] == 400
    assert get(base, "/jobs/searching", source_keys='["src-a"]')["code"] == 400


def test_sources_and_boards_lists(base: str) -> None:
    body = get(base, "/sources")
    assert body["message"] == "Source list"
    assert body["meta"] == {"page": 1, "maxPage": 1, "count": 4, "total": 4}
    sizes = {s["key"]: s["stats"]["size"] for s in body["data"]}
    assert sizes == {"src-a": "45", "src-b": "20", "src-empty-1": "0", "src-empty-2": "0"}
    assert {"key", "name", "type", "subtype", "created_at", "updated_at", "members", "user"} <= set(body["data"][0])
    assert [s["key"] for s in get(base, "/sources", name="ARCHIVE")["data"]] == ["src-empty-2", "src-empty-1"]
    paged = get(base, "/sources", page=2, limit=3)
    assert paged["meta"] == {"page": 2, "maxPage": 2, "count": 1, "total": 4}
    boards = get(base, "/boards")
    assert {b["key"] for b in boards["data"]} == {"board-a", "board-empty-1"}
    assert get(base, "/boards", sort_by="name")["code"] == 400


def test_profile_shape(hrflow: HrflowEmulator) -> None:
    profile = hrflow.profiles("src-b")[0]
    required = {"key", "reference", "created_at", "updated_at", "text_language", "text", "info", "source"}
    assert required <= set(profile)
    assert {"full_name", "first_name", "last_name", "email", "phone", "location", "summary", "urls"} <= set(
        profile["info"]
    )
    assert profile["source"] == {"key": "src-b", "name": "sync-src-b"}


def test_deterministic_from_seed() -> None:
    assert HrflowEmulator(seed=5).profiles() == HrflowEmulator(seed=5).profiles()
    assert HrflowEmulator(seed=5).jobs() != HrflowEmulator(seed=6).jobs()


def test_calls_and_call_log(base: str, hrflow: HrflowEmulator) -> None:
    search(base, ["src-a"], page=2)
    get(base, "/sources")
    assert hrflow.calls == {"/profiles/searching": 1, "/sources": 1}
    assert hrflow.call_log[0] == ("/profiles/searching", {"source_keys": '["src-a"]', "page": "2"})


def test_fault_body_code(base: str, hrflow: HrflowEmulator) -> None:
    hrflow.faults.add(Fault(path_regex="^/profiles/searching$", kind="body_code", params={"code": 503}))
    body = search(base, ["src-a"])
    assert body["code"] == 503
    assert body["data"] is None
    assert search(base, ["src-a"])["code"] == 200  # consumed


def test_fault_not_json(base: str, hrflow: HrflowEmulator) -> None:
    hrflow.faults.add(Fault(path_regex="searching", kind="not_json", params={"status": 502}))
    response = requests.get(
        base + "/profiles/searching", params={"source_keys": '["src-a"]'}, headers=HEADERS, timeout=5
    )
    assert response.status_code == 502
    assert response.text == "<html>Bad gateway</html>"


def test_fault_lie_meta(base: str, hrflow: HrflowEmulator) -> None:
    hrflow.faults.add(Fault(path_regex="searching", kind="lie_meta", times=2))
    first = search(base, ["src-b"], limit=10)
    assert first["meta"]["maxPage"] > 2
    assert first["meta"]["total"] > 20
    assert len(first["data"]["profiles"]) == 10
    beyond = search(base, ["src-b"], limit=10, page=3)
    assert beyond["code"] == 200
    assert beyond["data"]["profiles"] == []


def test_fault_non_utf8(base: str, hrflow: HrflowEmulator) -> None:
    hrflow.faults.add(Fault(path_regex="searching", kind="non_utf8"))
    response = requests.get(
        base + "/profiles/searching", params={"source_keys": '["src-a"]'}, headers=HEADERS, timeout=5
    )
    assert NON_UTF8_BYTES in response.content
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    decoded = json.loads(response.content.decode("utf-8", errors="replace"))
    assert decoded["meta"]["count"] == 30


def test_fault_status_and_retry_after(base: str, hrflow: HrflowEmulator) -> None:
    hrflow.faults.add(Fault(path_regex="^/sources$", status=429, retry_after="1"))
    response = requests.get(base + "/sources", headers=HEADERS, timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert get(base, "/sources")["code"] == 200
    assert hrflow.calls["/sources"] == 2
    assert hrflow.faults.fired["429"] == 1
