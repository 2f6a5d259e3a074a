"""HrFlow trackings and ratings against the emulator: exact first run, incremental runs, paging, errors, state.

The emulator's ``GET /trackings`` and ``GET /ratings`` (tests/emulator/hrflow_activity.py) follow
HrFlow's Python SDK (``Riminder/python-hrflow-api``: ``hrflow/tracking/__init__.py``,
``hrflow/rating/__init__.py``, ``hrflow/hrflow.py``); the first tests run that SDK (hrflow 4.3,
installed for the tests) against the emulator, so the emulator speaks what the SDK sends.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hrflow import Hrflow
from hrflow.rating import Rating
from hrflow.tracking import Tracking

from tap_hrdata.sources.hrflow.activity import ROLES, RatingsStream, TrackingsStream, identity
from tap_hrdata.statecheck import StateError
from tap_hrdata.tap import TapHrData
from tap_hrdata.values import iso_timestamp, utc_timestamp
from tests.conftest import SyncResult, config_for, mount, run_tap, run_tap_partial
from tests.emulator.hrflow import HrflowEmulator, parse_stamp
from tests.emulator.hrflow_activity import RATING_PARAMS, TRACKING_PARAMS
from tests.emulator.server import Emulator, Fault

STREAMS = {"trackings": "hrflow_trackings", "ratings": "hrflow_ratings"}
PATHS = {"trackings": "/trackings", "ratings": "/ratings"}
SOURCES = ["src-a", "src-b"]


@pytest.fixture
def vendor(emulator: Emulator) -> HrflowEmulator:
    return mount(emulator, HrflowEmulator())


def activity_config(emulator: Emulator, vendor: HrflowEmulator, **hrflow: Any) -> dict[str, Any]:
    settings = {"source_keys": SOURCES, "board_keys": ["board-a"], **hrflow}
    return config_for(emulator, vendor, hrflow=settings)


def only_activity(config: dict[str, Any]) -> dict[str, Any]:
    """A catalog selecting the two activity streams alone (the other HrFlow streams are tested elsewhere)."""
    catalog = TapHrData(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in STREAMS.values()
    return catalog


def run(config: dict[str, Any], state: dict[str, Any] | None = None) -> SyncResult:
    return run_tap(config, state=state, catalog=only_activity(config))


def keys(result: SyncResult, kind: str) -> list[tuple[str, str]]:
    return [(record["role"], record["key"]) for record in result.records(STREAMS[kind])]


def served(vendor: HrflowEmulator, kind: str, sources: list[str] = SOURCES) -> list[tuple[str, str]]:
    return [(item["role"], item["key"]) for item in vendor.activity.items(kind, source_keys=sources)]


def bookmark(state: dict[str, Any], kind: str, role: str) -> dict[str, Any]:
    partitions = state["bookmarks"][STREAMS[kind]]["partitions"]
    return next(p for p in partitions if p["context"] == {"role": role})


def queries(vendor: HrflowEmulator, kind: str, role: str | None = None) -> list[dict[str, str]]:
    return [q for path, q in vendor.call_log if path == PATHS[kind] and (role is None or q["role"] == role)]


# ---- the emulator speaks the SDK's protocol ------------------------------------------------------


@pytest.fixture
def sdk(emulator: Emulator, vendor: HrflowEmulator) -> Any:  # the SDK's client is untyped
    return Hrflow(api_url=emulator.url(vendor.prefix) + "/", api_secret=vendor.api_key, api_user=vendor.user_email)


def test_the_emulator_takes_exactly_the_sdks_parameters() -> None:
    assert set(inspect.signature(Tracking.get).parameters) - {"self"} == TRACKING_PARAMS
    assert set(inspect.signature(Rating.get).parameters) - {"self"} == RATING_PARAMS


@pytest.mark.parametrize("role", ROLES)
def test_the_sdk_gets_every_item_of_a_role(sdk: Any, vendor: HrflowEmulator, role: str) -> None:
    trackings = sdk.tracking.get(role=role, source_keys=SOURCES, limit=100)  # the SDK's defaults otherwise
    ratings = sdk.rating.get(role=role, board_keys=["board-a"], limit=100)
    assert (trackings["code"], ratings["code"]) == (200, 200)
    assert sorted(item["key"] for item in trackings["data"]) == sorted(
        item["key"] for item in vendor.activity.trackings(role)
    )
    assert sorted(item["key"] for item in ratings["data"]) == sorted(
        item["key"] for item in vendor.activity.ratings(role)
    )
    assert trackings["meta"]["total"] == len(trackings["data"]) > 0
    scores = [item["score"] for item in ratings["data"]]
    assert scores == sorted(scores, reverse=True)  # the SDK's default: sort_by scoring, order_by desc
    # what the SDK sent: lists JSON-encoded, booleans as Python writes them
    path, query = vendor.call_log[-2]
    assert path == "/trackings"
    assert query == {
        "role": role,
        "source_keys": json.dumps(SOURCES),
        "return_profile": "False",
        "return_author": "False",
        "page": "1",
        "limit": "100",
        "order_by": "desc",
        "sort_by": "scoring",
    }


def test_the_sdk_pages_sorts_and_filters_by_creation_day(sdk: Any, vendor: HrflowEmulator) -> None:
    every = vendor.activity.trackings("recruiter")
    pages = [
        sdk.tracking.get(
            role="recruiter",
            source_keys=["src-a"],
            page=page,
            limit=7,
            sort_by="created_at",
            order_by="asc",
            created_at_min="2022-01-01",
            actions=["apply", "hire", "view"],
            return_author=True,
        )
        for page in (1, 2, 3, 4, 5)
    ]
    items = [item for answer in pages for item in answer["data"]]
    wanted = [
        item
        for item in every
        if item["source_key"] == "src-a"
        and item["created_at"] >= "2022-01-01"
        and item["action"] in {"apply", "hire", "view"}
    ]
    assert sorted(item["key"] for item in items) == sorted(item["key"] for item in wanted)
    stamps = [parse_stamp(item["created_at"]) for item in items]
    assert stamps == sorted(stamps)
    assert all(item["author"]["email"] == item["author_email"] for item in items)
    assert pages[0]["meta"] == {"page": 1, "maxPage": math.ceil(len(wanted) / 7), "count": 7, "total": len(wanted)}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"role": "boss", "source_keys": ["src-a"]}, "role must be one of recruiter, candidate, employee, manager"),
        ({"role": "recruiter"}, "Give source_keys, board_keys"),
        ({"role": "recruiter", "source_keys": ["nope"]}, "Source key(s) not found"),
        ({"role": "recruiter", "source_keys": ["src-a"], "created_at_min": "2022-01-01T00:00:00"}, "YYYY-MM-DD"),
        ({"role": "recruiter", "source_keys": ["src-a"], "sort_by": "score"}, "sort_by must be one of"),
        ({"role": "recruiter", "source_keys": ["src-a"], "source_key": "src-a"}, "not both"),
        ({"role": "recruiter", "source_key": "src-a"}, "goes with one of profile_key and profile_reference"),
        ({"role": "recruiter", "source_keys": ["src-a"], "location_lat": 48.8}, "go together"),
    ],
)
def test_bad_queries_answer_code_400_in_http_200(sdk: Any, params: dict[str, Any], message: str) -> None:
    answer = sdk.tracking.get(**params)  # the SDK reads HTTP 200 answers only as JSON with their code
    assert answer["code"] == 400
    assert message in answer["message"]


def test_one_profile_and_one_job(sdk: Any, vendor: HrflowEmulator) -> None:
    item = vendor.activity.ratings("recruiter")[0]
    by_profile = sdk.rating.get(role="recruiter", source_key=item["source_key"], profile_key=item["profile_key"])
    by_job = sdk.rating.get(role="recruiter", board_key=item["board_key"], job_key=item["job_key"], limit=100)
    assert item["key"] in {i["key"] for i in by_profile["data"]}
    assert {i["profile_key"] for i in by_profile["data"]} == {item["profile_key"]}
    assert {i["job_key"] for i in by_job["data"]} == {item["job_key"]}


# ---- a first run ------------------------------------------------------------------------------


def test_first_run_emits_every_item_of_every_role_once(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run(activity_config(emulator, vendor))
    assert result.streams() == set(STREAMS.values())
    for kind in STREAMS:
        emitted = keys(result, kind)
        assert len(emitted) == len(set(emitted))
        assert sorted(emitted) == sorted(served(vendor, kind))
        assert {role for role, _ in emitted} == set(ROLES)  # the data set has every role
    assert (len(keys(result, "trackings")), len(keys(result, "ratings"))) == (96, 42)

    # the query: the role, the sources as one JSON list, oldest first; no created_at_min without a bookmark
    assert queries(vendor, "trackings", "recruiter")[0] == {
        "role": "recruiter",
        "source_keys": json.dumps(SOURCES),
        "page": "1",
        "limit": "30",
        "sort_by": "created_at",
        "order_by": "asc",
    }
    # each role's list read to its end and no further: one page per 30 items (an empty role: one call)
    for kind in STREAMS:
        for role in ROLES:
            count = len(vendor.activity.items(kind, role))
            pages = sorted(int(q["page"]) for q in queries(vendor, kind, role))
            assert pages == list(range(1, max(1, math.ceil(count / 30)) + 1)), (kind, role)

    # each role's bookmark: its newest created_at and the keys at that instant
    for kind in STREAMS:
        for role in ROLES:
            items = vendor.activity.items(kind, role)
            newest = max(parse_stamp(item["created_at"]) for item in items)
            mark = bookmark(result.last_state, kind, role)
            assert mark["replication_key"] == "created_at"
            assert utc_timestamp(mark["replication_key_value"]) == newest
            assert mark["ids_at_bookmark"] == sorted(
                item["key"] for item in items if parse_stamp(item["created_at"]) == newest
            )
            assert "progress_markers" not in mark


def test_records_have_typed_columns_and_the_whole_item(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run(activity_config(emulator, vendor))
    for kind, column in (("trackings", "action"), ("ratings", "score")):
        by_key = {item["key"]: item for item in vendor.activity.items(kind)}
        for record in result.records(STREAMS[kind]):
            item = by_key[record["key"]]
            assert record["raw"] == item
            assert record[column] == item[column]
            for name in ("role", "source_key", "profile_key", "profile_reference", "board_key", "job_key"):
                assert record[name] == item[name], name
            assert (record["job_reference"], record["author_email"], record["comment"]) == (
                item["job_reference"],
                item["author_email"],
                item["comment"],
            )
            assert record["created_at"] == iso_timestamp(item["created_at"])
            assert record["created_at"].endswith("+00:00")


# ---- incremental runs ----------------------------------------------------------------------------


def test_a_second_run_emits_exactly_the_new_items_those_at_the_bookmark_instant_included(
    emulator: Emulator, vendor: HrflowEmulator
) -> None:
    config = activity_config(emulator, vendor)
    first = run(config)
    added: dict[str, list[tuple[str, str]]] = {"trackings": [], "ratings": []}
    backdated = []
    for role in ROLES:
        for kind, add in (("trackings", vendor.activity.add_tracking), ("ratings", vendor.activity.add_rating)):
            latest = vendor.activity.latest(kind, role)
            at_bookmark = add(role, created_at=latest)  # the same second as the bookmark, a new item
            later = add(role, created_at=parse_stamp(latest) + timedelta(hours=1))
            added[kind] += [(role, at_bookmark["key"]), (role, later["key"])]
            backdated.append(add(role, created_at=parse_stamp(latest) - timedelta(days=30))["key"])
    vendor.reset_calls()

    second = run(config, state=first.last_state)
    for kind in STREAMS:
        assert sorted(keys(second, kind)) == sorted(added[kind])  # exactly the new items, each once
        assert queries(vendor, kind)[0]["created_at_min"]  # a cut list: not read from its start again
    assert not {key for kind in STREAMS for _, key in keys(second, kind)} & set(backdated)  # the documented limit
    for role in ROLES:
        later = vendor.activity.latest("trackings", role)
        mark = bookmark(second.last_state, "trackings", role)
        assert utc_timestamp(mark["replication_key_value"]) == parse_stamp(later)
        assert mark["ids_at_bookmark"] == [next(k for r, k in added["trackings"][1::2] if r == role)]

    vendor.reset_calls()
    third = run(config, state=second.last_state)
    assert keys(third, "trackings") == keys(third, "ratings") == []
    assert third.last_state["bookmarks"]["hrflow_trackings"] == second.last_state["bookmarks"]["hrflow_trackings"]


def test_several_items_at_the_bookmark_instant(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = activity_config(emulator, vendor)
    instant = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
    tied = [vendor.activity.add_tracking("manager", created_at=instant)["key"] for _ in range(2)]
    first = run(config)
    assert bookmark(first.last_state, "trackings", "manager")["ids_at_bookmark"] == sorted(tied)

    third_one = vendor.activity.add_tracking("manager", created_at=instant)["key"]
    second = run(config, state=first.last_state)
    assert keys(second, "trackings") == [("manager", third_one)]
    mark = bookmark(second.last_state, "trackings", "manager")
    assert utc_timestamp(mark["replication_key_value"]) == instant
    assert mark["ids_at_bookmark"] == sorted([*tied, third_one])
    assert keys(run(config, state=second.last_state), "trackings") == []


def test_an_unchanged_rerun_emits_nothing_for_one_call_per_role(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = activity_config(emulator, vendor)
    first = run(config)
    vendor.reset_calls()
    rerun = run(config, state=first.last_state)
    assert rerun.records("hrflow_trackings") == rerun.records("hrflow_ratings") == []
    assert (vendor.calls["/trackings"], vendor.calls["/ratings"]) == (4, 4)  # page 1 of each role's recent days
    for kind in STREAMS:
        for query in queries(vendor, kind):
            mark = bookmark(first.last_state, kind, query["role"])
            day = (utc_timestamp(mark["replication_key_value"]) - timedelta(days=1)).strftime("%Y-%m-%d")
            assert query["created_at_min"] == day
    assert rerun.last_state["bookmarks"] == first.last_state["bookmarks"]


def test_start_date_is_a_first_bookmark(emulator: Emulator, vendor: HrflowEmulator) -> None:
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    result = run({**activity_config(emulator, vendor), "start_date": "2025-03-01"})
    for kind in STREAMS:
        wanted = [(i["role"], i["key"]) for i in vendor.activity.items(kind) if parse_stamp(i["created_at"]) >= start]
        assert wanted
        assert len(wanted) < len(served(vendor, kind))
        assert sorted(keys(result, kind)) == sorted(wanted)
        assert {q["created_at_min"] for q in queries(vendor, kind)} == {"2025-02-28"}


def test_an_item_dated_in_the_future_never_puts_the_bookmark_there(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = activity_config(emulator, vendor)
    future = vendor.activity.add_rating("employee", created_at=datetime(2031, 1, 1, tzinfo=timezone.utc))
    first = run(config)
    mark = bookmark(first.last_state, "ratings", "employee")
    assert utc_timestamp(mark["replication_key_value"]) <= datetime.now(timezone.utc)
    assert mark["ids_at_bookmark"] == []
    second = run(config, state=first.last_state)  # the state is accepted (no bookmark in the future)
    assert keys(second, "ratings") == [("employee", future["key"])]  # read again: a duplicate, never a loss


# ---- paging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 8])
def test_paging_across_several_pages(emulator: Emulator, vendor: HrflowEmulator, concurrency: int) -> None:
    result = run(activity_config(emulator, vendor, page_size=5, max_concurrent_requests=concurrency))
    for kind in STREAMS:
        assert Counter(keys(result, kind)) == Counter(served(vendor, kind))
        for role in ROLES:
            count = len(vendor.activity.items(kind, role))
            pages = sorted(int(q["page"]) for q in queries(vendor, kind, role))
            assert pages == list(range(1, max(1, math.ceil(count / 5)) + 1)), (kind, role)  # each once, to maxPage
    assert len(queries(vendor, "trackings", "recruiter")) == 12  # 59 recruiter trackings


def test_a_list_that_ends_early_keeps_the_roles_bookmark(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Page 2 of the recruiters' trackings comes back empty twice while meta.total says more: the end is
    not confirmed, so that role's bookmark does not move (its next run reads the list again)."""
    config = activity_config(emulator, vendor)
    vendor.faults.add(
        Fault(path_regex=r"^/trackings$", query_regex=r"role=recruiter&.*&page=2&", kind="empty_page", times=2)
    )
    first = run(config)
    assert "may not have been read to its end" in caplog.text
    recruiter = {key for role, key in keys(first, "trackings") if role == "recruiter"}
    assert len(recruiter) == 30  # page 1
    partitions = first.last_state["bookmarks"]["hrflow_trackings"]["partitions"]
    assert "replication_key_value" not in next(p for p in partitions if p["context"] == {"role": "recruiter"})
    assert "replication_key_value" in bookmark(first.last_state, "trackings", "candidate")

    second = run(config, state=first.last_state)
    again = {key for role, key in keys(second, "trackings") if role == "recruiter"}
    assert again == {key for _, key in served(vendor, "trackings") if _ == "recruiter"}  # page 1 twice: no loss
    assert {role for role, _ in keys(second, "trackings")} == {"recruiter"}


# ---- errors, state, scope ---------------------------------------------------------------------------


def test_an_error_in_a_200_body_surfaces(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = activity_config(emulator, vendor)
    vendor.faults.add(Fault(path_regex=r"^/ratings$", kind="body_code", params={"code": 400}, times=100))
    partial, error = run_tap_partial(config)
    assert "hrflow stream 'hrflow_ratings': GET /hrflow/ratings answered code 400: Internal error" in str(error)
    assert vendor.api_key not in str(error)
    assert "hrflow_ratings" not in partial.last_state.get("bookmarks", {}) or not any(
        "replication_key_value" in p for p in partial.last_state["bookmarks"]["hrflow_ratings"].get("partitions", [])
    )
    assert vendor.calls["/ratings"] == 1  # a code 400 is not retried


def test_a_code_500_in_a_200_body_is_retried(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.faults.add(Fault(path_regex=r"^/trackings$", kind="body_code", params={"code": 500}))
    result = run(activity_config(emulator, vendor))
    assert vendor.faults.fired["body_code"] == 1
    assert sorted(keys(result, "trackings")) == sorted(served(vendor, "trackings"))


BAD_PARTITIONS = [
    (
        {"replication_key_value": "last tuesday"},
        "hrflow_trackings.partitions[1].replication_key_value must be a timestamp",
    ),
    (
        {"replication_key_value": "2999-01-01T00:00:00+00:00"},
        "hrflow_trackings.partitions[1].replication_key_value is in the future",
    ),
    (
        {"replication_key_value": "2024-01-01T00:00:00+00:00", "ids_at_bookmark": "abc"},
        "hrflow_trackings.partitions[1].ids_at_bookmark must be a list of item keys",
    ),
    ({"replication_key_value": "2024-01-01T00:00:00+00:00", "ids_at_bookmark": [""]}, "ids_at_bookmark must be a list"),
]


@pytest.mark.parametrize(("partition", "message"), BAD_PARTITIONS)
def test_a_bad_bookmark_is_refused_before_any_request(
    emulator: Emulator, vendor: HrflowEmulator, partition: dict[str, Any], message: str
) -> None:
    good = {
        "context": {"role": "recruiter"},
        "replication_key": "created_at",
        "replication_key_value": "2024-01-01T00:00:00+00:00",
    }
    stream_state = {
        "partitions": [good, {"context": {"role": "candidate"}, "replication_key": "created_at", **partition}]
    }
    with pytest.raises(StateError, match=re.escape(message)):
        TrackingsStream.check_state(stream_state)
    RatingsStream.check_state({"partitions": [good]})  # a good one passes

    _, error = run_tap_partial(
        activity_config(emulator, vendor), state={"bookmarks": {"hrflow_trackings": stream_state}}
    )
    assert isinstance(error, StateError)
    assert message in str(error)
    assert not vendor.calls  # refused before any request


def test_keyless_items_get_a_stable_derived_key(emulator: Emulator, vendor: HrflowEmulator) -> None:
    vendor.activity.keyed = False
    config = activity_config(emulator, vendor)
    first = run(config)
    for kind in STREAMS:
        items = vendor.activity.items(kind, source_keys=SOURCES)
        assert "key" not in items[0]
        expected = sorted((item["role"], identity(item, item["role"])) for item in items)
        assert sorted(keys(first, kind)) == expected
        assert all(re.fullmatch(r"[0-9a-f]{64}", key) for _, key in keys(first, kind))
        assert len(set(expected)) == len(expected)
    assert run(config).records("hrflow_trackings") == first.records("hrflow_trackings")  # the same keys again
    latest = vendor.activity.latest("trackings", "candidate")
    new = vendor.activity.add_tracking("candidate", created_at=latest, comment="a new one at the bookmark instant")
    second = run(config, state=first.last_state)
    assert keys(second, "trackings") == [("candidate", identity(new, "candidate"))]
    assert keys(second, "ratings") == []


def test_board_keys_when_no_source_is_configured(emulator: Emulator, vendor: HrflowEmulator) -> None:
    result = run(activity_config(emulator, vendor, source_keys=[]))
    assert sorted(keys(result, "ratings")) == sorted((i["role"], i["key"]) for i in vendor.activity.ratings())
    assert {q["board_keys"] for q in queries(vendor, "ratings")} == {'["board-a"]'}
    assert not any("source_keys" in q for q in queries(vendor, "ratings"))


def test_nothing_is_asked_without_sources_or_boards(
    emulator: Emulator, vendor: HrflowEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    result = run(activity_config(emulator, vendor, source_keys=[], board_keys=[]))
    assert result.streams() == set()
    assert not queries(vendor, "trackings")
    assert not queries(vendor, "ratings")
    assert caplog.text.count("hrflow.source_keys and hrflow.board_keys are empty") == 2  # once per stream


def test_redact_reaches_the_author_in_the_column_and_in_raw(emulator: Emulator, vendor: HrflowEmulator) -> None:
    config = {
        **activity_config(emulator, vendor),
        "redact": {"hrflow_ratings": ["author_email"]},
        "redact_mode": "drop",
    }
    result = run(config)
    ratings = result.records("hrflow_ratings")
    assert len(ratings) == 42
    assert all(record["author_email"] is None and "author_email" not in record["raw"] for record in ratings)
    assert all(record["author_email"] for record in result.records("hrflow_trackings"))  # another stream: as served
