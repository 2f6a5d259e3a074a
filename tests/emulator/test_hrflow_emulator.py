"""The HrFlow emulator answers like the real API: envelope, errors in 200s, paging, sorting, faults.

The later tests (Storing API, current shapes, what HrFlow's own SDK sends) follow
``Riminder/python-hrflow-api`` (hrflow 4.3.0): see the module docstring of ``hrflow.py``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.contracts.shapes import shape_mismatches
from tests.contracts.test_emulator_contracts import _REPO_PATH, FIXTURES, _check_doc_lines, _has_typed_leaf
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


def test_auth_tries_the_keys_and_takes_no_parameter(base: str) -> None:
    """``GET /auth``, the SDK's ``auth.get()``: what the tap's preflight calls."""
    assert get(base, "/auth")["code"] == 200
    assert get(base, "/auth", headers={"X-API-KEY": "wrong", "X-USER-EMAIL": "etl@example.com"})["code"] == 401
    assert get(base, "/auth", page=1)["code"] == 400


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


# ---------------------------------------------------------------------------- Storing API, SDK, current shapes

#: The query strings hrflow 4.3.0 (HrFlow's Python SDK) sends for its default calls, captured
#: against this emulator: ``source.list()``, ``board.list()``,
#: ``profile.storing.list(source_keys=["src-a"], return_profile=True)``,
#: ``job.storing.list(board_keys=["board-a"], return_job=True)``,
#: ``profile.searching.list(source_keys=["src-a"])``, ``job.searching.list(board_keys=["board-a"])``.
SDK_QUERIES = {
    "/sources": "page=1&limit=30&sort_by=date&order_by=desc",
    "/boards": "page=1&limit=30&sort_by=date&order_by=desc",
    "/storing/profiles": (
        "source_keys=%5B%22src-a%22%5D&return_profile=True&page=1&limit=30&order_by=desc&sort_by=created_at"
    ),
    "/storing/jobs": "board_keys=%5B%22board-a%22%5D&return_job=True&page=1&limit=30&order_by=desc&sort_by=created_at",
    "/profiles/searching": "source_keys=%5B%22src-a%22%5D&limit=30&page=1&sort_by=created_at",
    "/jobs/searching": "board_keys=%5B%22board-a%22%5D&limit=30&page=1&sort_by=created_at",
}
#: The SDK models' key pattern (``hrflow/core/validation.py`` KEY_REGEX).
KEY_REGEX = re.compile(r"^[0-9a-f]{40}$")
HEX_SOURCE, HEX_BOARD = "07065e555609a231752a586afd6495c951bbae6b", "b" * 40
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "hrflow"


def mount_new(server: Emulator, **options: Any) -> tuple[HrflowEmulator, str]:
    """A fresh vendor built with ``options``, mounted; it and its base URL."""
    vendor = HrflowEmulator(**options)
    server.vendors[:] = [vendor]
    return vendor, server.url("/hrflow")


def storing(base: str, kind: str, keys: list[str], **params: Any) -> dict[str, Any]:
    name = "source_keys" if kind == "profiles" else "board_keys"
    return get(base, f"/storing/{kind}", **{name: json.dumps(keys)}, **params)


def storing_pages(base: str, kind: str, keys: list[str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = storing(base, kind, keys, page=page, **params)
        assert body["code"] == 200, body
        if not body["data"]:
            return items
        items += body["data"]
        page += 1


def typed_profile_values(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile fields the tap types (tap_hrdata/sources/hrflow/streams.py)."""
    info = profile["info"]
    return {
        "key": profile["key"],
        "reference": profile["reference"],
        "source.key": profile["source"]["key"],
        "source.name": profile["source"]["name"],
        "info.full_name": info["full_name"],
        "info.first_name": info["first_name"],
        "info.last_name": info["last_name"],
        "info.email": info["email"],
        "info.phone": info["phone"],
        "info.location.text": info["location"]["text"],
        "info.location.lat": info["location"]["lat"],
        "info.location.lng": info["location"]["lng"],
        "text_language": profile["text_language"],
        "created_at": profile["created_at"],
        "updated_at": profile["updated_at"],
    }


def typed_job_values(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": job["key"],
        "reference": job["reference"],
        "board.key": job["board"]["key"],
        "board.name": job["board"]["name"],
        "name": job["name"],
        "url": job["url"],
        "location.text": job["location"]["text"],
        "location.lat": job["location"]["lat"],
        "location.lng": job["location"]["lng"],
        "created_at": job["created_at"],
        "updated_at": job["updated_at"],
    }


@pytest.mark.parametrize("path", sorted(SDK_QUERIES))
def test_the_sdk_default_calls_are_answered(base: str, path: str) -> None:
    # Before the Storing API and the sort_by/order_by of /sources, four of these answered 400 or 404.
    response = requests.get(f"{base}{path}?{SDK_QUERIES[path]}", headers=HEADERS, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"  # the SDK's validate_response checks it
    body = response.json()
    assert body["code"] == 200, body
    assert body["meta"]["count"] == len(
        body["data"] if isinstance(body["data"], list) else next(iter(body["data"].values()))
    )


def test_storing_profiles_data_is_the_list(base: str, hrflow: HrflowEmulator) -> None:
    body = storing(base, "profiles", ["src-a"], return_profile="true", page=2, limit=20)
    assert body["message"] == "List of profiles"
    assert body["meta"] == {"page": 2, "maxPage": 3, "count": 20, "total": 45}
    assert isinstance(body["data"], list)
    ordered = sorted(hrflow.profiles("src-a"), key=lambda p: (p["created_at"], p["key"]), reverse=True)
    assert body["data"] == ordered[20:40]  # whole profiles, created_at desc by default
    searched = search(base, ["src-a"], page=2, limit=20)["data"]["profiles"]
    assert body["data"] == searched  # nothing is unindexed by default
    past = storing(base, "profiles", ["src-a"], return_profile="true", page=4, limit=20)
    assert past["meta"] == {"page": 4, "maxPage": 3, "count": 0, "total": 45}
    assert past["data"] == []


def test_storing_jobs_data_is_the_list(base: str, hrflow: HrflowEmulator) -> None:
    body = storing(base, "jobs", ["board-a"], return_job="True", limit=30, page=2, order_by="asc")
    assert body["message"] == "List of jobs"
    assert body["meta"] == {"page": 2, "maxPage": 2, "count": 3, "total": 33}
    ordered = sorted(hrflow.jobs("board-a"), key=lambda j: (j["created_at"], j["key"]))
    assert body["data"] == ordered[30:]
    assert storing(base, "jobs", ["board-empty-1"], return_job="true")["data"] == []
    assert storing(base, "jobs", ["src-a"])["message"] == "Invalid parameters. Unable to find object: board"


@pytest.mark.parametrize("flag", [None, "false", "False", "0"])
def test_storing_without_return_flag_lists_keys_reference_and_dates(base: str, flag: str | None) -> None:
    extra = {} if flag is None else {"return_profile": flag}
    body = storing(base, "profiles", ["src-b"], limit=100, **extra)
    assert body["meta"]["total"] == 20
    assert all(set(item) == {"key", "reference", "created_at", "updated_at"} for item in body["data"])
    full = storing(base, "profiles", ["src-b"], limit=100, return_profile="TRUE")["data"]
    assert body["data"] == [{k: p[k] for k in ("key", "reference", "created_at", "updated_at")} for p in full]
    jobs = storing(base, "jobs", ["board-a"], **({} if flag is None else {"return_job": flag}))
    assert set(jobs["data"][0]) == {"key", "reference", "created_at", "updated_at"}


@pytest.mark.parametrize("sort_by", ["created_at", "updated_at"])
@pytest.mark.parametrize("order_by", ["asc", "desc"])
def test_storing_sort_order_with_key_tie_break(server: Emulator, sort_by: str, order_by: str) -> None:
    _, base = mount_new(server, unindexed_profiles=2)
    profiles = storing_pages(
        base, "profiles", ["src-a", "src-b"], limit=7, sort_by=sort_by, order_by=order_by, return_profile=1
    )
    pairs = [(p[sort_by], p["key"]) for p in profiles]
    assert pairs == sorted(pairs, reverse=order_by == "desc")
    assert len(profiles) == len({p["key"] for p in profiles}) == 69


def test_storing_filters(base: str, hrflow: HrflowEmulator) -> None:
    profiles = hrflow.profiles("src-a")
    target = profiles[3]

    def keys(**params: Any) -> set[str]:
        return {p["key"] for p in storing_pages(base, "profiles", ["src-a"], return_profile="true", **params)}

    full_name = target["info"]["full_name"]
    assert keys(name=full_name.upper()) == {p["key"] for p in profiles if p["info"]["full_name"] == full_name}
    assert keys(key=target["key"]) == {target["key"]}
    assert keys(reference=target["reference"]) == {target["key"]}
    assert keys(reference="nope") == set()
    paris = {p["key"] for p in profiles if p["info"]["location"]["text"] == "Paris, France"}
    assert paris
    assert keys(location_lat="48.85", location_lon="2.35", location_dist="5") == paris
    assert keys(location_lat="48.85", location_lon="2.35", location_dist="400") > paris  # Lyon is 392 km away
    day = target["created_at"][:10]
    same_day = {p["key"] for p in profiles if p["created_at"][:10] == day}
    assert keys(created_at_min=day, created_at_max=day) == same_day
    later = {p["key"] for p in profiles if p["created_at"][:10] >= day}
    assert keys(created_at_min=day) == later
    jobs = hrflow.jobs("board-a")
    named = {j["key"] for j in jobs if "engineer" in j["name"].lower()}
    assert {j["key"] for j in storing_pages(base, "jobs", ["board-a"], name="ENGINEER", return_job="true")} == named
    point = next(j for j in jobs if j["location"]["geopoint"])["location"]["geopoint"]
    near = storing(base, "jobs", ["board-a"], location_lat=point["lat"], location_lon=point["lon"], location_dist=1)
    assert near["meta"]["total"] == sum(1 for j in jobs if j["location"]["geopoint"] == point)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"source_keys": "src-a"},
        {"source_keys": "[]"},
        {"source_keys": '["src-a", "nope"]'},
        {"source_keys": '["src-a"]', "board_keys": '["board-a"]'},
        {"source_keys": '["src-a"]', "return_job": "true"},
        {"source_keys": '["src-a"]', "return_profile": "yes"},
        {"source_keys": '["src-a"]', "sort_by": "location"},  # the SDK allows it, the storing docstring does not
        {"source_keys": '["src-a"]', "sort_by": "searching"},
        {"source_keys": '["src-a"]', "order_by": "DESC"},
        {"source_keys": '["src-a"]', "limit": "0"},
        {"source_keys": '["src-a"]', "page": "0"},
        {"source_keys": '["src-a"]', "stage": "new"},
        {"source_keys": '["src-a"]', "name": ""},
        {"source_keys": '["src-a"]', "location_lat": "48.8", "location_lon": "2.3"},
        {"source_keys": '["src-a"]', "location_lat": "north", "location_lon": "2.3", "location_dist": "5"},
        {"source_keys": '["src-a"]', "location_lat": "91", "location_lon": "2.3", "location_dist": "5"},
        {"source_keys": '["src-a"]', "created_at_min": "2020-01-01T00:00:00"},
        {"source_keys": '["src-a"]', "created_at_max": "2020-02-30"},
        {"source_keys": '["src-a"]', "updated_at_min": "2020-01-01"},
    ],
)
def test_storing_bad_parameters_answer_code_400(base: str, params: dict[str, str]) -> None:
    response = requests.get(base + "/storing/profiles", params=params, headers=HEADERS, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 400, body
    assert body["message"]
    assert body["data"] is None


def test_storing_unknown_source_message_is_the_sdks(base: str) -> None:
    body = storing(base, "profiles", ["src-a", "nope"])
    assert body == {
        "code": 400,
        "message": "Invalid parameters. Unable to find object: source",
        "meta": {},
        "data": None,
    }
    assert get(base, "/storing/profiles", headers={}, source_keys='["src-a"]')["code"] == 401


def test_unindexed_objects_are_only_in_storing(server: Emulator) -> None:
    vendor, base = mount_new(server, unindexed_profiles=3, unindexed_jobs=2, shape="current")
    for key, indexed in (("src-a", 45), ("src-b", 20)):
        assert storing(base, "profiles", [key])["meta"]["total"] == indexed + 3
        assert search(base, [key])["meta"]["total"] == indexed
    assert storing(base, "profiles", ["src-empty-1"])["meta"]["total"] == 0
    assert storing(base, "jobs", ["board-a"])["meta"]["total"] == 35
    assert get(base, "/jobs/searching", board_keys='["board-a"]')["meta"]["total"] == 33
    stored = {p["key"] for p in storing_pages(base, "profiles", ["src-a", "src-b"], limit=100)}
    searched = {p["key"] for p in all_pages(base, ["src-a", "src-b"], limit=100)}
    hidden = stored - searched
    assert hidden == {p["key"] for p in vendor.profiles(indexed=False)}
    assert len(hidden) == 6
    assert searched == {p["key"] for p in vendor.profiles(indexed=True)}
    for profile in vendor.profiles(indexed=False):
        # Not valid for searching by the SDK's own rule (hrflow/utils/searching.py): no text.
        assert profile["text"] == ""
        assert all(value not in (None, "") for value in typed_profile_values(profile).values()), profile
    jobs_hidden = {j["key"] for j in vendor.jobs(indexed=False)}
    assert len(jobs_hidden) == 2
    assert jobs_hidden <= {j["key"] for j in storing_pages(base, "jobs", ["board-a"], return_job="true")}
    # Counts per source cover every stored profile.
    sizes = {s["key"]: s["stats"]["size"] for s in get(base, "/sources")["data"]}
    assert sizes["src-a"] == "48"


def test_unindexed_default_and_add_helpers(server: Emulator) -> None:
    vendor, base = mount_new(server)
    assert vendor.profiles(indexed=False) == []
    assert vendor.jobs(indexed=False) == []
    hidden = vendor.add_profile("src-b", indexed=False)
    textless = vendor.add_profile("src-b", text="")
    job = vendor.add_job("board-a", indexed=False)
    assert {p["key"] for p in vendor.profiles("src-b", indexed=False)} == {hidden["key"], textless["key"]}
    assert search(base, ["src-b"])["meta"]["total"] == 20
    assert storing(base, "profiles", ["src-b"])["meta"]["total"] == 22
    newest = storing(base, "jobs", ["board-a"], sort_by="updated_at", limit=1)["data"][0]
    assert newest["key"] == job["key"]
    assert get(base, "/jobs/searching", board_keys='["board-a"]')["meta"]["total"] == 33


def test_storing_needs_no_searching_subscription(server: Emulator) -> None:
    _, base = mount_new(server, searching_api=False)
    for path, params in (
        ("/profiles/searching", {"source_keys": '["src-a"]'}),
        ("/jobs/searching", {"board_keys": '["board-a"]'}),
    ):
        body = get(base, path, **params)
        assert body["code"] == 403, body
        assert body["data"] is None
    assert storing(base, "profiles", ["src-a"], return_profile="true")["meta"]["total"] == 45
    assert storing(base, "jobs", ["board-a"], return_job="true")["meta"]["total"] == 33
    assert get(base, "/sources")["code"] == 200


def test_sources_and_boards_take_the_sdks_sorting(base: str) -> None:
    desc = [s["key"] for s in get(base, "/sources", sort_by="date", order_by="desc")["data"]]
    assert desc == [s["key"] for s in get(base, "/sources")["data"]]
    assert [s["key"] for s in get(base, "/sources", sort_by="date", order_by="asc")["data"]] == desc[::-1]
    created = [s["created_at"] for s in get(base, "/sources", order_by="asc")["data"]]
    assert created == sorted(created)
    named = get(base, "/boards", name="campaign", page=1, limit=1, sort_by="date", order_by="desc")
    assert named["meta"] == {"page": 1, "maxPage": 1, "count": 1, "total": 1}
    assert get(base, "/sources", sort_by="created_at")["code"] == 400
    assert get(base, "/sources", order_by="DESC")["code"] == 400
    assert get(base, "/boards", sort_by="date", stage="new")["code"] == 400


def test_current_shapes_profiles(server: Emulator) -> None:
    vendor, base = mount_new(server, shape="current", unindexed_profiles=2)
    profiles = storing_pages(base, "profiles", ["src-a", "src-b"], return_profile="true", limit=50)
    assert len(profiles) == 69
    assert profiles == sorted(vendor.profiles(), key=lambda p: (p["created_at"], p["key"]), reverse=True)
    for profile in profiles:
        assert profile["source_key"] == profile["source"]["key"]
        source = vendor.source_keys().index(profile["source_key"])
        assert profile["source"] == {
            "key": profile["source_key"],
            "name": f"sync-{profile['source_key']}",
            "type": "api",
            "subtype": "python",
            "environment": "production",
        }, source
        empty = [name for name, value in typed_profile_values(profile).items() if value in (None, "")]
        assert empty == [], (profile["key"], empty)
        for field in ("skills", "languages", "tags", "metadatas"):
            assert all(e["value"] is None or isinstance(e["value"], str) for e in profile[field]), profile[field]
        assert all(a["file_size"].isdigit() for a in profile["attachments"])
    searched = search(base, ["src-a"], limit=100)["data"]["profiles"]
    assert all("source_key" in p and "environment" in p["source"] for p in searched)
    # The seed shape stays the default.
    doc = HrflowEmulator().profiles()[0]
    assert "source_key" not in doc
    assert set(doc["source"]) == {"key", "name"}


@pytest.mark.parametrize(
    ("options", "layout"),
    [
        ({}, "geopoint"),
        ({"job_location": "latlng"}, "latlng"),
        ({"shape": "current"}, "latlng"),
        ({"shape": "current", "job_location": "geopoint"}, "geopoint"),
    ],
)
def test_job_location_layouts(server: Emulator, options: dict[str, str], layout: str) -> None:
    vendor, base = mount_new(server, **options)
    jobs = storing_pages(base, "jobs", ["board-a"], return_job="true")
    assert vendor.job_location == layout
    for job in jobs:
        location = job["location"]
        if layout == "latlng":
            assert set(location) == {"text", "lat", "lng"}
            assert location["lat"] is None or -90 <= location["lat"] <= 90
        else:
            assert set(location) == {"text", "geopoint"}
            assert location["geopoint"] is None or set(location["geopoint"]) == {"lat", "lon"}
    # Same places whatever the layout: the draws do not depend on it.
    with_layout = HrflowEmulator(**options).jobs()
    other = HrflowEmulator(**{**options, "job_location": "geopoint" if layout == "latlng" else "latlng"}).jobs()
    assert [j["location"]["text"] for j in with_layout] == [j["location"]["text"] for j in other]


def test_current_shapes_jobs(server: Emulator) -> None:
    vendor, base = mount_new(server, shape="current", unindexed_jobs=2)
    jobs = storing_pages(base, "jobs", ["board-a"], return_job="true", limit=10)
    assert len(jobs) == 35
    for job in jobs:
        assert job["board_key"] == job["board"]["key"] == "board-a"
        assert job["board"] == {
            "key": "board-a",
            "name": "careers-board-a",
            "type": "api",
            "subtype": "python",
            "environment": "production",
        }
        assert isinstance(job["id"], int)
        assert job["id"] >= 0
        empty = [name for name, value in typed_job_values(job).items() if value in (None, "")]
        assert empty == [], (job["key"], empty)
        for field in ("skills", "languages", "tags", "metadatas"):
            assert all(e["value"] is None or isinstance(e["value"], str) for e in job[field]), job[field]
    assert {j["key"] for j in get(base, "/jobs/searching", board_keys='["board-a"]', limit=100)["data"]["jobs"]} == {
        j["key"] for j in vendor.jobs(indexed=True)
    }


def test_current_shapes_sources_and_boards_carry_environment(server: Emulator) -> None:
    _, base = mount_new(server, shape="current")
    sources = {s["key"]: s["environment"] for s in get(base, "/sources")["data"]}
    assert sources == {"src-a": "production", "src-b": "production", "src-empty-1": "test", "src-empty-2": "test"}
    boards = {b["key"]: b["environment"] for b in get(base, "/boards")["data"]}
    assert boards == {"board-a": "production", "board-empty-1": "test"}
    _, base = mount_new(server)
    assert all("environment" not in s for s in get(base, "/sources")["data"])


def test_current_objects_meet_the_sdk_models(server: Emulator) -> None:
    """What the SDK's pydantic models require (tests/utils/schemas.py Profile / Job / Board,
    hrflow/schemas.py HrFlowProfile / HrFlowJob), checked without the SDK: the SDK run of the
    report validated the same answers with the models themselves."""
    vendor, base = mount_new(server, shape="current", sources={HEX_SOURCE: 12}, boards={HEX_BOARD: 9})
    body = storing(base, "profiles", [HEX_SOURCE], return_profile="true", limit=5, page=2)
    meta = body["meta"]  # the tests' Pagination validator, on a middle page
    assert meta["page"] <= meta["maxPage"]
    assert math.ceil(meta["total"] / meta["count"]) == meta["maxPage"]
    assert meta["count"] >= meta["total"] / meta["maxPage"]
    for profile in vendor.profiles():
        assert KEY_REGEX.match(profile["key"])
        assert KEY_REGEX.match(profile["source"]["key"])
        assert all(isinstance(profile["source"][f], str) for f in ("key", "name", "type", "subtype", "environment"))
        assert isinstance(profile["text"], str)
        assert isinstance(profile["info"], dict)
        assert all(KEY_REGEX.match(e["key"]) for e in profile["experiences"] + profile["educations"])
        assert all(KEY_REGEX.match(a["alt"]) for a in profile["attachments"])
        assert all(
            u["type"] in {"from_resume", "linkedin", "twitter", "facebook", "github"} for u in profile["info"]["urls"]
        )
        assert profile["experiences_duration"] >= 0
    for job in vendor.jobs():
        assert KEY_REGEX.match(job["key"])
        assert KEY_REGEX.match(job["board_key"])
        assert isinstance(job["name"], str)
        assert -180 <= job["location"]["lng"] <= 180
        assert all(isinstance(r["value_min"], (int, float)) for r in job["ranges_float"])


@pytest.mark.parametrize(
    ("name", "path", "params"),
    [
        ("profiles_searching_current", "/profiles/searching", {"source_keys": '["src-a"]', "limit": 2}),
        ("jobs_searching_current", "/jobs/searching", {"board_keys": '["board-a"]', "limit": 2}),
        ("sources_list_current", "/sources", {"limit": 2}),
        ("boards_list_current", "/boards", {"limit": 2}),
    ],
)
def test_current_shapes_serve_the_current_fixtures(server: Emulator, name: str, path: str, params: dict) -> None:
    # tests/contracts lists these as NOT_SERVED_YET: true of the default (seed) shape, not of "current".
    expected = FIXTURES[f"hrflow/{name}"]["body"]
    _, base = mount_new(server, shape="current")
    assert shape_mismatches(expected, get(base, path, **params)) == []
    _, base = mount_new(server)
    assert shape_mismatches(expected, get(base, path, **params))


def load_pending() -> dict[str, dict[str, Any]]:
    """The Storing API's fixtures (``*_storing_current.json``), by their short names."""
    return {
        path.stem.removesuffix("_current"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(FIXTURES_DIR.glob("*_storing_current.json"))
    }


def test_pending_storing_fixtures_are_well_formed() -> None:
    fixtures = load_pending()
    assert set(fixtures) == {"profiles_storing", "jobs_storing"}
    for fixture in fixtures.values():
        assert set(fixture) == {"provenance", "generation", "endpoint", "body"}
        assert fixture["generation"] == "current"
        assert re.match(r"GET /storing/(profiles|jobs)$", fixture["endpoint"])
        assert _has_typed_leaf(fixture["body"])
        for source in fixture["provenance"]:
            assert set(source) == {"kind", "where", "note"}
            assert source["note"].strip()
            if source["kind"] == "public_client":
                assert _REPO_PATH.match(source["where"]), source["where"]
            else:
                assert source["kind"] == "doc"
                _check_doc_lines(source["where"])
        first = fixture["body"]["data"][0]
        assert first["location" if "board" in first else "info"]  # realistic values, not nulls


@pytest.mark.parametrize(
    ("name", "flag", "keys"),
    [("profiles_storing", "return_profile", "src-a"), ("jobs_storing", "return_job", "board-a")],
)
def test_pending_storing_fixtures_match_the_current_shapes(server: Emulator, name: str, flag: str, keys: str) -> None:
    fixture = load_pending()[name]
    kind = "profiles" if name.startswith("profiles") else "jobs"
    _, base = mount_new(server, shape="current", unindexed_profiles=1, unindexed_jobs=1)
    answer = storing(base, kind, [keys], **{flag: "True"}, page=1, limit=2)
    assert shape_mismatches(fixture["body"], answer) == []
    every = {"data": storing_pages(base, kind, [keys], **{flag: "True"}, limit=100)}
    assert shape_mismatches({"data": fixture["body"]["data"]}, every) == []
    _, base = mount_new(server)  # the seed shape does not have them
    assert shape_mismatches(fixture["body"], storing(base, kind, [keys], **{flag: "True"}, limit=2))


def test_faults_apply_to_storing(base: str, hrflow: HrflowEmulator) -> None:
    hrflow.faults.add(Fault(path_regex="^/storing/", kind="non_utf8", times=2))
    full = requests.get(
        base + "/storing/profiles",
        params={"source_keys": '["src-a"]', "return_profile": "true"},
        headers=HEADERS,
        timeout=5,
    )
    assert NON_UTF8_BYTES in full.content
    short = requests.get(base + "/storing/jobs", params={"board_keys": '["board-a"]'}, headers=HEADERS, timeout=5)
    assert NON_UTF8_BYTES in short.content
    hrflow.faults.add(Fault(path_regex="^/storing/profiles$", query_regex="page=2", kind="duplicate"))
    first = storing(base, "profiles", ["src-a"], limit=10)["data"]
    second = storing(base, "profiles", ["src-a"], limit=10, page=2)["data"]
    assert second[0] == first[-1]
    assert len(second) == 11
    hrflow.faults.add(Fault(path_regex="^/storing/jobs$", kind="lie_meta"))
    assert storing(base, "jobs", ["board-a"])["meta"]["maxPage"] == 5


@pytest.mark.parametrize("options", [{"shape": "new"}, {"job_location": "lonlat"}])
def test_unknown_options_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        HrflowEmulator(**options)
