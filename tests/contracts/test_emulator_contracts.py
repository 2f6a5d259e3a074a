"""The emulator's answers against the contract fixtures (vendor answer shapes from docs and public clients).

Each fixture under ``fixtures/<vendor>/<name>.json`` is driven here over HTTP: one function per
fixture asks the real emulator for the corresponding answer (decoding Talentsoft frames and
Coresignal gzip JSON Lines on the way) and the answer must have the fixture's shape.

Two lists say where the emulator is known not to follow a fixture:

* :data:`NOT_SERVED_YET`: fixtures of the vendors' *current* generation (``"generation": "current"``)
  that the emulator does not serve yet; they are strict xfails, so the test turns red the day the
  emulator learns the shape: then delete the entry.
* :data:`KNOWN_GAPS`: base fixtures where the emulator disagrees with the vendor today; the exact
  list of mismatches is pinned, so a new drift *and* a fix both turn the test red. They are not
  fixed here (the emulator is not ours to change in this task): see the report of the change
  that added them.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.conftest import mount
from tests.contracts.shapes import shape_mismatches
from tests.emulator.coresignal import FILTER_PATH, CoresignalEmulator
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.emulator.server import Emulator

FIXTURES_DIR = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10

# Credentials given to the vendors' public constructors (any value works; these are explicit).
TS_CLIENT = {"client_id": "contract-ts-client", "client_secret": "contract-ts-secret"}
HRFLOW_KEY, HRFLOW_USER = "contract-hrflow-key", "contract@example.com"
YS_CLIENT = {"client_id": "contract-ys-client", "client_secret": "contract-ys-secret"}
YS_TENANT = "sandbox"
CS_TOKEN = "contract-cs-token"


def load_fixtures() -> dict[str, dict[str, Any]]:
    """Every fixture, by ``<vendor>/<name>``."""
    return {
        path.relative_to(FIXTURES_DIR).with_suffix("").as_posix(): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(FIXTURES_DIR.glob("*/*.json"))
    }


FIXTURES = load_fixtures()

ISSUE_12 = "issue 12: the emulator does not serve the vendor's current shape yet: "
#: Current-generation fixtures the emulator does not serve yet (strict xfail; delete the entry when it does).
NOT_SERVED_YET: dict[str, str] = {}

#: Base fixtures the emulator disagrees with today: the exact mismatches, pinned (see the module docstring).
KNOWN_GAPS: dict[str, list[str]] = {
    # The doc's job example has agent_key "agent_key"; the emulator always sends null.
    "hrflow/jobs_searching": [
        "answer 0: $.data.jobs[0].agent_key: expected string, got null",
        "answer 0: $.data.jobs[1].agent_key: expected string, got null",
    ],
    # docs.coresignal.com's Base Jobs API sample against the emulator's first job line.
    "coresignal/job_line": [
        "answer 0: $.salary: expected string, got array",  # a String in the vendor's dictionary; a list here
        "answer 0: $.professional_network_job_id: missing (expected number)",
        "answer 0: $.last_updated_ux: missing (expected number)",
        "answer 0: $.redirected_url: expected string, got null",  # always null in the emulator
        "answer 0: $.redirected_url_hash: missing (expected string)",
        "answer 0: $.job_functions_collection: missing (expected array)",  # the emulator: job_function_collection
    ],
}


# ---------------------------------------------------------------------------- decoding


def read_frames(body: bytes) -> list[bytes]:
    """The zips of a Talentsoft export body: ``[uint32 LE length][zip]`` repeated, nothing after."""
    frames, pos = [], 0
    while pos < len(body):
        assert len(body) - pos >= 4, f"a frame length prefix is cut at byte {pos}"
        size = int.from_bytes(body[pos : pos + 4], "little")
        assert len(body) - pos - 4 >= size, f"the frame at byte {pos} announces {size} bytes, fewer follow"
        frames.append(body[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return frames


def first_json_line(gzipped: bytes) -> Any:
    """The first record of a gzip JSON Lines file."""
    line = gzip.decompress(gzipped).split(b"\n", 1)[0]
    return json.loads(line)


def json_answer(response: requests.Response, status: int = 200) -> Any:
    """The JSON body of a successful answer."""
    assert response.status_code == status, (
        f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    )
    return response.json()


# ---------------------------------------------------------------------------- Talentsoft


def _talentsoft(emulator: Emulator, shape: str = "seed") -> tuple[str, dict[str, str]]:
    """A fresh Talentsoft vendor; its base URL and the headers of an authorized call."""
    vendor = mount(
        emulator,
        TalentsoftEmulator(**TS_CLIENT, vacancies=4, candidates=8, attachments_per_candidate=(1, 2), shape=shape),
    )
    base = emulator.url(vendor.prefix)
    token = ts_token(base)["access_token"]
    return base, {"Authorization": f"bearer {token}"}


def ts_token(base: str) -> Any:
    form = {"grant_type": "client_credentials", **TS_CLIENT, "scope": "MatchingIndexation"}
    return json_answer(requests.post(f"{base}/api/token", data=form, timeout=TIMEOUT))


def ts_documents(base: str, headers: dict[str, str], kind: str, entry: str) -> list[tuple[zipfile.ZipFile, Any]]:
    response = requests.get(f"{base}/api/exports/v1/{kind}", params={"limit": 8}, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    archives = [zipfile.ZipFile(io.BytesIO(frame)) for frame in read_frames(response.content)]
    assert archives, f"the {kind} export sent no frame"
    return [(archive, json.loads(archive.read(entry))) for archive in archives]


def fetch_talentsoft_token(emulator: Emulator) -> list[Any]:
    vendor = mount(emulator, TalentsoftEmulator(**TS_CLIENT))
    return [ts_token(emulator.url(vendor.prefix))]


def fetch_talentsoft_vacancies(emulator: Emulator, shape: str = "seed") -> list[Any]:
    return [document for _, document in ts_documents(*_talentsoft(emulator, shape), "vacancies", "offerdetail")]


def fetch_talentsoft_candidates(emulator: Emulator, shape: str = "seed") -> list[Any]:
    documents = ts_documents(*_talentsoft(emulator, shape), "candidates", "applicantdetail")
    for archive, document in documents:  # the doc: each attachment id names a zip entry
        names = set(archive.namelist())
        assert all(item["id"] in names for item in document["attachments"]), (names, document["attachments"])
    full = [d for _, d in documents if d["applications"] and d["attachments"]]
    assert full, "no candidate with both applications and attachments: the list templates would not be checked"
    return [document for _, document in documents]


def fetch_talentsoft_referential(emulator: Emulator, shape: str = "seed") -> list[Any]:
    base, headers = _talentsoft(emulator, shape)
    return [json_answer(requests.get(f"{base}/api/v1/referentials/countries", headers=headers, timeout=TIMEOUT))]


# ---------------------------------------------------------------------------- HrFlow


def _hrflow_get(
    emulator: Emulator, path: str, key: str = HRFLOW_KEY, shape: str = "seed", **params: object
) -> list[Any]:
    vendor = mount(emulator, HrflowEmulator(api_key=HRFLOW_KEY, user_email=HRFLOW_USER, shape=shape))
    headers = {"X-API-KEY": key, "X-USER-EMAIL": HRFLOW_USER}
    answer = json_answer(
        requests.get(emulator.url(vendor.prefix) + path, params=params, headers=headers, timeout=TIMEOUT)
    )
    return [answer]


def fetch_hrflow_profiles(emulator: Emulator, shape: str = "seed") -> list[Any]:
    return _hrflow_get(emulator, "/profiles/searching", shape=shape, source_keys='["src-a"]', page=1, limit=2)


def fetch_hrflow_jobs(emulator: Emulator, shape: str = "seed") -> list[Any]:
    return _hrflow_get(emulator, "/jobs/searching", shape=shape, board_keys='["board-a"]', page=1, limit=2)


def fetch_hrflow_sources(emulator: Emulator, shape: str = "seed") -> list[Any]:
    return _hrflow_get(emulator, "/sources", shape=shape, page=1, limit=2)


def fetch_hrflow_boards(emulator: Emulator, shape: str = "seed") -> list[Any]:
    return _hrflow_get(emulator, "/boards", shape=shape, page=1, limit=2)


def fetch_hrflow_storing(emulator: Emulator, objects: str) -> list[Any]:
    keys, flag = ("source_keys", "return_profile") if objects == "profiles" else ("board_keys", "return_job")
    containers = '["src-a"]' if objects == "profiles" else '["board-a"]'
    return _hrflow_get(emulator, f"/storing/{objects}", shape="current", **{keys: containers, flag: "true"}, limit=2)


def fetch_hrflow_error(emulator: Emulator) -> list[Any]:
    # HrFlow puts errors in the body; the emulator also answers HTTP 200 (json_answer checks that).
    return _hrflow_get(emulator, "/profiles/searching", key="not-the-key", source_keys='["src-a"]')


# ---------------------------------------------------------------------------- YouServe


def _youserve(emulator: Emulator) -> tuple[str, Any]:
    vendor = mount(emulator, YouserveEmulator(**YS_CLIENT, tenant_id=YS_TENANT))
    base = emulator.url(vendor.prefix)
    form = {"grant_type": "client_credentials", **YS_CLIENT}
    return base, json_answer(requests.post(f"{base}/authentication/token", data=form, timeout=TIMEOUT))


def fetch_youserve_token(emulator: Emulator) -> list[Any]:
    return [_youserve(emulator)[1]]


def _visma_connect(emulator: Emulator) -> tuple[YouserveEmulator, Any]:
    """A fresh YouServe vendor with its Visma Connect and Youforce hosts, and a Visma Connect token."""
    vendor = mount(emulator, YouserveEmulator(**YS_CLIENT, tenant_id=YS_TENANT))
    form = {
        "grant_type": "client_credentials",
        "client_id": vendor.connect_client_id,
        "client_secret": vendor.connect_client_secret,
        "tenant_id": vendor.connect_tenant_id,
    }
    url = emulator.url(vendor.connect.prefix) + "/connect/token"
    return vendor, json_answer(requests.post(url, data=form, timeout=TIMEOUT))


def fetch_visma_connect_token(emulator: Emulator) -> list[Any]:
    return [_visma_connect(emulator)[1]]


def fetch_youforce_files(emulator: Emulator) -> list[Any]:
    vendor, token = _visma_connect(emulator)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    params = {"role": "subscriber", "pageIndex": 0, "pageSize": 2}
    url = emulator.url(vendor.youforce.prefix) + "/v1.0/files"
    return [json_answer(requests.get(url, params=params, headers=headers, timeout=TIMEOUT))]


def fetch_youserve_files(emulator: Emulator) -> list[Any]:
    base, token = _youserve(emulator)
    headers = {"Authorization": f"Bearer {token['access_token']}", "x-raet-tenant-id": YS_TENANT}
    params = {"role": "subscriber", "pageIndex": 0, "pageSize": 2}
    return [json_answer(requests.get(f"{base}/fileapi/v1.0/files", params=params, headers=headers, timeout=TIMEOUT))]


# ---------------------------------------------------------------------------- Coresignal


def _coresignal(emulator: Emulator, polls_until_ready: int = 0) -> tuple[requests.Session, str, Any]:
    """A fresh vendor and one accepted data request: the session, the base URL and the POST answer."""
    vendor = mount(
        emulator,
        CoresignalEmulator(api_token=CS_TOKEN, jobs=50, rate_limit=10_000, polls_until_ready=polls_until_ready),
    )
    base = emulator.url(vendor.prefix)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {CS_TOKEN}"
    answer = json_answer(session.post(base + FILTER_PATH, json={"filters": {"title": "engineer"}}, timeout=TIMEOUT))
    return session, base, answer


def fetch_coresignal_data_request(emulator: Emulator) -> list[Any]:
    return [_coresignal(emulator)[2]]


def _files(session: requests.Session, base: str, answer: Any) -> Any:
    return json_answer(session.get(f"{base}/v1/bulk_collect/{answer['request_id']}/files", timeout=TIMEOUT))


def fetch_coresignal_files(emulator: Emulator) -> list[Any]:
    return [_files(*_coresignal(emulator))]


def fetch_coresignal_files_not_ready(emulator: Emulator) -> list[Any]:
    return [_files(*_coresignal(emulator, polls_until_ready=2))]


def fetch_coresignal_v2_files_not_ready(emulator: Emulator) -> list[Any]:
    """The current API (v2, ``apikey``) while a request is processed."""
    vendor = mount(emulator, CoresignalEmulator(jobs=50, rate_limit=10_000, polls_until_ready=2))
    base = emulator.url(vendor.prefix)
    session = requests.Session()
    session.headers["apikey"] = vendor.api_key
    answer = json_answer(
        session.post(
            f"{base}/v2/data_requests/job_base/filter", json={"filters": {"title": "engineer"}}, timeout=TIMEOUT
        ),
        status=201,
    )
    return [json_answer(session.get(f"{base}/v2/data_requests/{answer['request_id']}/files", timeout=TIMEOUT))]


def fetch_coresignal_job_line(emulator: Emulator) -> list[Any]:
    session, base, answer = _coresignal(emulator)
    names = _files(session, base, answer)["data_request_files"]
    assert names, "the data request has no file"
    response = session.get(f"{base}/v1/bulk_collect/{answer['request_id']}/files/{names[0]}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return [first_json_line(response.content)]


#: How each fixture's answer is obtained from the emulator.
FETCHERS: dict[str, Callable[[Emulator], list[Any]]] = {
    "talentsoft/token": fetch_talentsoft_token,
    "talentsoft/vacancy_document": fetch_talentsoft_vacancies,
    "talentsoft/vacancy_document_current": functools.partial(fetch_talentsoft_vacancies, shape="current"),
    "talentsoft/candidate_document": fetch_talentsoft_candidates,
    "talentsoft/candidate_document_current": functools.partial(fetch_talentsoft_candidates, shape="current"),
    "talentsoft/referential_list": fetch_talentsoft_referential,
    "talentsoft/referential_list_current": functools.partial(fetch_talentsoft_referential, shape="current"),
    "hrflow/profiles_searching": fetch_hrflow_profiles,
    "hrflow/profiles_searching_current": functools.partial(fetch_hrflow_profiles, shape="current"),
    "hrflow/jobs_searching": fetch_hrflow_jobs,
    "hrflow/jobs_searching_current": functools.partial(fetch_hrflow_jobs, shape="current"),
    "hrflow/sources_list": fetch_hrflow_sources,
    "hrflow/sources_list_current": functools.partial(fetch_hrflow_sources, shape="current"),
    "hrflow/boards_list": fetch_hrflow_boards,
    "hrflow/boards_list_current": functools.partial(fetch_hrflow_boards, shape="current"),
    "hrflow/profiles_storing_current": functools.partial(fetch_hrflow_storing, objects="profiles"),
    "hrflow/jobs_storing_current": functools.partial(fetch_hrflow_storing, objects="jobs"),
    "hrflow/error_envelope": fetch_hrflow_error,
    "youserve/token": fetch_youserve_token,
    "youserve/files_page": fetch_youserve_files,
    "youserve/connect_token_current": fetch_visma_connect_token,
    "youserve/youforce_files_page_current": fetch_youforce_files,
    "coresignal/data_request": fetch_coresignal_data_request,
    "coresignal/files_list": fetch_coresignal_files,
    "coresignal/files_list_processing_current": fetch_coresignal_v2_files_not_ready,
    "coresignal/job_line": fetch_coresignal_job_line,
}


def mismatches_of(expected: Any, answers: list[Any]) -> list[str]:
    """Every mismatch of every answer, each prefixed with the answer's position."""
    return [
        f"answer {i}: {problem}" for i, answer in enumerate(answers) for problem in shape_mismatches(expected, answer)
    ]


def _cases() -> list[Any]:
    cases = []
    for name in FIXTURES:
        marks = [pytest.mark.xfail(strict=True, reason=NOT_SERVED_YET[name])] if name in NOT_SERVED_YET else []
        cases.append(pytest.param(name, id=name, marks=marks))
    return cases


@pytest.mark.parametrize("name", _cases())
def test_emulator_answer_has_the_fixture_shape(emulator: Emulator, name: str) -> None:
    answers = FETCHERS[name](emulator)
    assert answers, f"{name}: no answer to compare"
    assert mismatches_of(FIXTURES[name]["body"], answers) == KNOWN_GAPS.get(name, [])


# ---------------------------------------------------------------------------- the fixtures themselves


def test_every_fixture_is_driven_and_every_list_entry_is_a_fixture() -> None:
    assert len(FIXTURES) >= 17
    assert set(FETCHERS) == set(FIXTURES)
    current = {name for name, fixture in FIXTURES.items() if fixture.get("generation") == "current"}
    assert set(NOT_SERVED_YET) <= current, "only current-generation fixtures may wait for the emulator"
    assert set(KNOWN_GAPS) <= set(FIXTURES) - current


_LINES = re.compile(r"^(?P<file>[^:]+):(?P<ranges>\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)$")
_REPO_PATH = re.compile(r"^[\w.-]+/[\w.-]+:\S+$")


def _has_typed_leaf(value: Any) -> bool:
    """True when ``value`` constrains anything: a key, or a non-null leaf."""
    if isinstance(value, dict):
        return bool(value)
    if isinstance(value, list):
        return any(_has_typed_leaf(item) for item in value[:1])
    return value is not None


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_is_well_formed(name: str) -> None:
    fixture = FIXTURES[name]
    assert set(fixture) <= {"provenance", "generation", "endpoint", "body"}, sorted(fixture)
    assert fixture.get("generation", "current") == "current"
    assert isinstance(fixture["endpoint"], str)
    assert re.match(r"(GET|POST|PUT|DELETE|HEAD) /", fixture["endpoint"])
    assert _has_typed_leaf(fixture["body"]), "a body that constrains nothing would match any answer"
    assert fixture["provenance"], "a fixture without provenance"
    for source in fixture["provenance"]:
        assert set(source) == {"kind", "where", "note"}, source
        assert source["kind"] in {"doc", "public_client"}
        assert source["note"].strip()
        where = source["where"]
        if source["kind"] == "public_client":
            assert _REPO_PATH.match(where), f"a public client is cited as owner/repo:path, not {where!r}"
        elif where.startswith("../shared/api-docs/"):
            _check_doc_lines(where)
        else:  # the vendor's own pages: a URL, or owner/repo:path of a vendor documentation repository
            assert where.startswith("https://") or _REPO_PATH.match(where), where


def _check_doc_lines(where: str) -> None:
    match = _LINES.match(where)
    assert match, f"cite a shared doc as file:first-last[,first-last], not {where!r}"
    path = (REPO_ROOT / match["file"]).resolve()
    if not path.parent.is_dir():
        pytest.skip(f"{path.parent} is not beside this checkout")
    assert path.is_file(), f"no such doc: {path}"
    count = len(path.read_text(encoding="utf-8").splitlines())
    for part in match["ranges"].split(","):
        first, _, last = part.partition("-")
        assert 1 <= int(first) <= int(last or first) <= count, f"{where}: {path.name} has {count} lines"
