"""Coresignal Jobs Data API, Bulk Collect: the emulated vendor (mounted at ``/coresignal``).

Two generations side by side, as the vendor serves them (some accounts still have v1)::

    v1, ``Authorization: Bearer <api_token>`` (the older documentation):
    POST /v1/professional_network/job/bulk_collect/filter   {"filters": {...}, "limit"?, "webhook_url"?}
    POST /v1/professional_network/job/bulk_collect/id_file  multipart/form-data, "file": a job id a line
    GET  /v1/bulk_collect/{id}/files                        {"data_request_files": [...]} ([] until ready)
    GET  /v1/bulk_collect/{id}/files/{file_name}            gzip JSON Lines, streamed, chunked

    v2, ``apikey: <api_key>`` (docs.coresignal.com today):
    POST /v2/data_requests/job_base/filter   {"filters": {...}, "limit"?, "webhook_url"?, "data_format"?: "json"}
    POST /v2/data_requests/job_base/id_file  multipart/form-data, "ids_file": a job id a line
                                             (optional plain fields "webhook_url", "data_format")
    GET  /v2/data_requests/{id}/files        {"data_request_files": [...]} once collected
    GET  /v2/data_requests/{id}/files/{file_name}   gzip JSON Lines, as v1

Strict where the real API is (or may be): exact credentials (each generation answers 401 to
the other's), unknown body keys, filter keys and form fields, malformed multipart, ``%2F``
instead of ``/`` in a file name, a 27 requests/second per-credential limit (429 +
``Retry-After: 1``), 409 for an identical request (same generation) that is still being
collected or downloaded.

v1: the POST answers 200 ``{"request_id": id}`` (key: ``id_field_name``) and charges credits
at once (402 ``{"message": "Insufficient credits"}`` when short); the files list is ``[]``
until ready; a request that matched nothing delivers one empty file. No record cap.

v2: the POST answers ``v2_post_status`` (201) ``{"request_id": id}`` with ``Location:
/v2/data_requests/{id}/files`` (relative to the API base, as the vendor writes it), and
charges nothing. The request is collected at the poll after ``polls_until_ready`` polls of
its files list; until then the list answers ``not_ready_status`` (200) ``{"message": "Data
request is still being processed"}`` (or ``{"data_request_files": []}`` with
``not_ready_answer="empty_list"``). Collecting ends in one of:

    200 {"data_request_files": [...]}                              credits charged now
    422 {"message": "Request matched too many IDs. Maximum is 10,000 IDs"}
        a filter request that would deliver more than ``record_cap`` records (no ``limit``,
        or ``limit`` > cap): accepted by the POST, rejected here, charged nothing
    422 {"message": "No records matched the request"}          nothing matched, no file
    402 {"detail": "Insufficient credits"}                      credits ran out while collecting

and that answer stays. An id file of more than ``record_cap`` ids is refused by the POST: 400
``{"message": "File contains too many IDs. Maximum is 10,000 IDs"}``; a malformed id file is
a 400 too (v1: 422). Unknown paths under ``/v2/`` (a request id that is not a UUID) answer 404
before credentials are looked at, as a gateway does.

Ready notifications (the documentation's "Webhooks: POST endpoints allow you to add webhooks
and get notified when your data request is ready"; the body is not documented): when a
request that was POSTed with a ``webhook_url`` stops being collected (at the poll that
collects it, or when a test calls :meth:`CoresignalEmulator.complete`), the emulator POSTs
``{"data_request_id": id, "status": ...}`` (``notification_shape="nested"``: ``{"event":
"data_request.ready", "data": {"request_id": id, ...}}``) there, and records each delivery
in ``notifications``. ``webhook_url`` must be https, or http to a loopback host (tests);
only loopback URLs are called (a test's made-up host is recorded as not sent).

Both generations keep a data request ``retention_days`` (30) after its POST; past that, its
files list and files answer ``expired_status`` (503, as the vendor's response code table
files the 30-day rule; 404 ``Data request not found`` when set to 404). The clock is the wall
clock moved by :meth:`CoresignalEmulator.advance_days` or by setting ``now``.

The job universe is deterministic from ``seed``. Only a compact tuple per job is kept in
memory; job objects and the gzip files are built on the fly while they are sent, so a
100k-job benchmark never holds a whole file in memory.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import random
import re
import threading
import time
import uuid
import zlib
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import requests

from tests.emulator.server import Fault, Faults, Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

FILTER_PATH = "/v1/professional_network/job/bulk_collect/filter"
ID_FILE_PATH = "/v1/professional_network/job/bulk_collect/id_file"
#: Raw bytes the "non_utf8" fault puts into a job's title: a Latin-1 "é" and a lone 0xFF.
NON_UTF8_BYTES = b"Ren\xe9 \xff"
_LIST_RE = re.compile(r"^/v1/bulk_collect/([^/]+)/files$")
_FILE_RE = re.compile(r"^/v1/bulk_collect/([^/]+)/files/(.+)$")
V2_FILTER_PATH = "/v2/data_requests/job_base/filter"
V2_ID_FILE_PATH = "/v2/data_requests/job_base/id_file"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_V2_LIST_RE = re.compile(rf"^/v2/data_requests/({_UUID})/files$")
_V2_FILE_RE = re.compile(rf"^/v2/data_requests/({_UUID})/files/(.+)$")
_API_KEY_RE = re.compile(r"[A-Za-z0-9]{32}")

BODY_KEYS = frozenset({"filters", "limit", "webhook_url"})
V2_BODY_KEYS = BODY_KEYS | {"data_format"}
V2_FORM_FIELDS = frozenset({"ids_file", "webhook_url", "data_format"})
DATA_FORMATS = frozenset({"json"})  # the only format this emulator writes
#: The answer of a v2 files list while the request is being collected (a public client waits on it).
STILL_PROCESSING = "Data request is still being processed"
NO_MATCH = "No records matched the request"
#: Request states: being collected, delivered, or one of the failures of a v2 collection.
PROCESSING, READY, TOO_MANY, NO_MATCH_STATE, NO_CREDITS = "processing", "ready", "too_many", "no_match", "no_credits"
STRING_FILTERS = frozenset(
    {
        "title",
        "keyword_description",
        "employment_type",
        "location",
        "company_name",
        "company_domain",
        "company_exact_website",
        "company_professional_network_url",
        "country",
        "industry",
    }
)
DATE_FILTERS = frozenset({"created_at_gte", "created_at_lte", "last_updated_gte", "last_updated_lte"})
FLAG_FILTERS = frozenset({"deleted", "application_active"})
FILTER_KEYS = STRING_FILTERS | DATE_FILTERS | FLAG_FILTERS | {"company_id"}

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # the vendor's timestamp format: "2024-05-02 14:33:21"
_EPOCH_START = calendar.timegm((2025, 1, 1, 0, 0, 0))  # last_updated values spread from here ...
_SPAN = 540 * 86400  # ... over about 18 months
JOB_ID_BASE = 3_000_000_000  # beyond int32 on purpose
JOB_ID_STEP = 7

TITLES = (
    "Senior Data Engineer",
    "Backend Developer (Python)",
    "HR Business Partner",
    "Talent Acquisition Specialist",
    "Product Manager",
    "Développeur Full-Stack",
    "Ingeniero de Datos",
    "Payroll Administrator",
    "Site Reliability Engineer",
    "Account Executive",
    "Registered Nurse - ICU",
    "Warehouse Associate",
    "Machine Learning Engineer",
    "Customer Success Manager",
    "Financial Analyst",
    "UX/UI Designer",
    "Recruiter, Tech & Product",
    "Store Manager",
    "DevOps Engineer",
    "Office Assistant (part-time)",
)
SENIORITIES = (
    "Entry level",
    "Associate",
    "Mid-Senior level",
    "Director",
    "Executive",
    "Internship",
    "Not Applicable",
)
EMPLOYMENT_TYPES = ("Full-time", "Part-time", "Contract", "Temporary", "Internship", "Volunteer", "Other")
INDUSTRIES = (
    "IT Services and IT Consulting",
    "Software Development",
    "Financial Services",
    "Hospitals and Health Care",
    "Retail",
    "Staffing and Recruiting",
    "Manufacturing",
    "Higher Education",
)
FUNCTIONS = (
    "Engineering",
    "Information Technology",
    "Sales",
    "Marketing",
    "Human Resources",
    "Finance",
    "Other",
)
PLACES = (  # (location, country)
    ("New York, NY, United States", "United States"),
    ("San Francisco Bay Area", "United States"),
    ("Berlin, Berlin, Germany", "Germany"),
    ("Paris, Île-de-France, France", "France"),
    ("Vilnius, Vilnius, Lithuania", "Lithuania"),
    ("London, England, United Kingdom", "United Kingdom"),
    ("São Paulo, São Paulo, Brazil", "Brazil"),
    ("Bengaluru, Karnataka, India", "India"),
    ("Toronto, Ontario, Canada", "Canada"),
    ("EMEA", None),
)
SALARIES = (
    (),
    (),
    ("$80,000.00/yr - $100,000.00/yr",),
    ("€45,000.00/yr - €55,000.00/yr",),
    ("$25.00/hr - $35.00/hr",),
)
_ADJECTIVES = ("Blue", "Quantum", "Northern", "Bright", "Silver", "Agile", "Green", "Urban", "Prime", "Nova")
_NOUNS = (
    "Harbor",
    "Labs",
    "Analytics",
    "Logistics",
    "Health",
    "Systems",
    "Foods",
    "Robotics",
    "Capital",
    "Works",
)
_SUFFIXES = ("Inc.", "GmbH", "Ltd", "S.A.", "UAB", "LLC")
_SENTENCES = (
    "Design, build and maintain reliable data pipelines.",
    "Partner with hiring managers to define role requirements.",
    "Own the full recruitment cycle from sourcing to offer.",
    "Work closely with product, design and engineering teams.",
    "Drive continuous improvement of our internal processes.",
    "Mentor junior colleagues and share knowledge across teams.",
    "Analyse KPIs and report on them to leadership every month.",
    "Keep our customers happy and help them grow with our product.",
    "Ensure compliance with local labour law and company policies.",
    "Participate in the on-call rotation (one week in six).",
    "Travel up to 20% of the time within the region.",
    "Bring curiosity, ownership and a sense of humour.",
)
_POSTED = ("1 day ago", "3 days ago", "1 week ago", "2 weeks ago", "3 weeks ago", "1 month ago")
_APPLICANTS = (None, "Be among the first 25 applicants", "37 applicants", "Over 200 applicants")
_RECRUITER_NAMES = ("Jane Doe", "John Smith", "Aistė Petrauskienė", "Pierre Martin", None)


_TITLE_SLUGS = tuple(re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") for title in TITLES)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json = _ENCODER.encode  # compact JSON text, non-ASCII kept as is (as the vendor's files are)


# JSON text of the fixed vocabularies, for the fast serializer (CoresignalEmulator._line)
_TITLES_J = tuple(map(_json, TITLES))
_SENIORITIES_J = tuple(map(_json, SENIORITIES))
_EMPLOYMENT_TYPES_J = tuple(map(_json, EMPLOYMENT_TYPES))
_PLACES_J = tuple(f'"location":{_json(location)},"country":{_json(country)}' for location, country in PLACES)
_SALARIES_J = tuple(_json(list(salary)) for salary in SALARIES)
_POSTED_J = tuple(map(_json, _POSTED))
_APPLICANTS_J = tuple(map(_json, _APPLICANTS))
_RECRUITER_NAMES_J = tuple(map(_json, _RECRUITER_NAMES))
_FUNCTIONS_J = tuple(_json([{"job_function_list": {"function": function}}]) for function in FUNCTIONS)
_INDUSTRIES_J = {  # a job is in one industry or in two different ones
    key: _json([{"job_industry_list": {"industry": INDUSTRIES[i]}} for i in key])
    for key in [(i,) for i in range(len(INDUSTRIES))]
    + [(i, j) for i in range(len(INDUSTRIES)) for j in range(len(INDUSTRIES)) if i != j]
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")


class Company(NamedTuple):
    """One company of the emulated universe."""

    id: int
    name: str
    domain: str
    website: str
    url: str  # its professional network page: the jobs' company_url
    slug: str
    json: str  # its three job fields as JSON text


class _Core(NamedTuple):
    """The immutable part of one job; the rest is derived when the job is serialized."""

    id: int
    title: int
    company: int
    place: int
    seniority: int
    employment: int
    industries: tuple[int, ...]
    function: int
    created: int  # epoch seconds, UTC
    deleted: int
    active: int
    salary: int
    variant: int  # drives the optional fields and the odd characters of the description


class Invalid(Exception):  # noqa: N818  # a 422 answer, not a crash
    """A request the real API would reject with 422."""

    status = 422


class BadFile(Invalid):
    """A v2 id file the real API rejects with 400 (malformed, or more ids than the cap)."""

    status = 400


@dataclass
class DataRequest:
    """One accepted bulk collect request and the snapshot of the jobs it selected."""

    id: str
    kind: str  # "filter" or "id_file"
    key: str  # the normalized request, for the 409 rule
    indices: array  # job positions, in file order
    last_updated: array  # their last_updated at the POST (epoch seconds)
    file_names: list[str]
    bounds: list[tuple[int, int]]  # the slice of ``indices`` each file holds
    webhook_url: str | None = None
    polls: int = 0
    completed: set[str] = field(default_factory=set)  # files sent in full at least once
    generation: str = "v1"  # "v1" or "v2"
    created_at: float = 0.0  # the emulator's clock at the POST (epoch seconds)
    too_many: bool = False  # a v2 filter request that would deliver more than the record cap
    status: str = PROCESSING  # then READY, or (v2) TOO_MANY, NO_MATCH_STATE or NO_CREDITS
    charged: int = 0  # credits this request cost (v1: at the POST; v2: when collected)

    @property
    def ready(self) -> bool:
        """True once its files are listed."""
        return self.status == READY

    @property
    def in_progress(self) -> bool:
        """True while being collected, then until every file has been downloaded in full at least once."""
        if self.status == PROCESSING:
            return True
        return self.status == READY and not self.completed.issuperset(self.file_names)


def format_time(epoch: int) -> str:
    """Epoch seconds as the vendor writes timestamps."""
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


def parse_time(value: object, name: str) -> int:
    """A filter timestamp ("YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DD", UTC) as epoch seconds."""
    if isinstance(value, str) and _DATE_RE.match(value):
        for fmt in (TIME_FORMAT, "%Y-%m-%d"):
            try:
                return calendar.timegm(time.strptime(value, fmt))
            except ValueError:
                continue
    msg = f"Filter '{name}' must be a date 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS', got {value!r}"
    raise Invalid(msg)


def _header_param(header: str, value: str) -> Message:
    message = Message()
    message[header] = value
    return message


@dataclass
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    headers: dict[str, str]
    data: bytes


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart/form-data body on its boundary (RFC 7578 / RFC 2046), strictly."""
    parsed = _header_param("Content-Type", content_type)
    if parsed.get_content_type() != "multipart/form-data":
        msg = "Content-Type must be multipart/form-data"
        raise Invalid(msg)
    boundary = parsed.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        msg = "multipart/form-data without a valid boundary"
        raise Invalid(msg)
    delimiter = b"--" + boundary.encode("latin-1")
    if body.startswith(delimiter):
        pos = len(delimiter)
    else:  # a preamble may precede the first delimiter
        first = body.find(b"\r\n" + delimiter)
        if first < 0:
            msg = "multipart body does not contain its boundary"
            raise Invalid(msg)
        pos = first + 2 + len(delimiter)
    parts: list[Part] = []
    while True:
        if body.startswith(b"--", pos):  # the close delimiter
            return parts
        eol = body.find(b"\r\n", pos)
        if eol < 0 or body[pos:eol].strip(b" \t"):
            msg = "malformed multipart delimiter line"
            raise Invalid(msg)
        start = eol + 2
        end = body.find(b"\r\n" + delimiter, start)
        if end < 0:
            msg = "multipart body is missing its closing boundary"
            raise Invalid(msg)
        parts.append(_parse_part(body[start:end]))
        pos = end + 2 + len(delimiter)


def _parse_part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):
        head, data = b"", raw[2:]
    else:
        head_end = raw.find(b"\r\n\r\n")
        if head_end < 0:
            msg = "multipart part without a header/body separator"
            raise Invalid(msg)
        head, data = raw[:head_end], raw[head_end + 4 :]
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n"):
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon or not name.strip() or name != name.strip():
            msg = f"malformed multipart part header {line[:60]!r}"
            raise Invalid(msg)
        headers[name.lower()] = value.strip()
    disposition = headers.get("content-disposition")
    if disposition is None:
        msg = "multipart part without Content-Disposition"
        raise Invalid(msg)
    parsed = _header_param("Content-Disposition", disposition)
    name = parsed.get_param("name", header="content-disposition")
    if parsed.get_content_disposition() != "form-data" or not isinstance(name, str):
        msg = "multipart part is not a named form-data part"
        raise Invalid(msg)
    return Part(name=name, filename=parsed.get_filename(), headers=headers, data=data)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _check_webhook(value: object) -> None:
    """An https URL; http only to a loopback host (the tests' receiver)."""
    if isinstance(value, str) and re.match(r"^https://[^/\s]+", value):
        return
    if isinstance(value, str) and re.match(r"^http://[^/\s]+", value) and urlsplit(value).hostname in LOOPBACK_HOSTS:
        return
    msg = f"Field 'webhook_url' must be an https URL, got {value!r}"
    raise Invalid(msg)


@dataclass(frozen=True)
class Notification:
    """One ready notification the emulator sent: to which URL, and the receiver's answer (or the error)."""

    request_id: str
    url: str
    body: dict[str, Any]
    status: int | str


def _check_data_format(value: object) -> None:
    if value not in DATA_FORMATS:
        msg = f"Field 'data_format' must be one of {sorted(DATA_FORMATS)}, got {value!r}"
        raise Invalid(msg)


def parse_id_file(data: bytes) -> list[int]:
    """Job ids, one a line; blank lines are skipped, anything else but digits is refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = "The id file is not UTF-8 text"
        raise Invalid(msg) from exc
    ids: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        value = line.strip()
        if not value:
            continue
        if not value.isascii() or not value.isdigit():
            msg = f"Line {number} of the id file is not an integer id: {value[:40]!r}"
            raise Invalid(msg)
        ids.append(int(value))
    if not ids:
        msg = "The id file holds no ids"
        raise Invalid(msg)
    return ids


class CoresignalEmulator:
    """The Coresignal Bulk Collect API for jobs (see the module docstring).

    Constructor arguments beyond the job universe: ``api_token`` (v1 Bearer token),
    ``api_key`` (v2 ``apikey`` header, 32 letters and digits), ``record_cap`` (v2 records a
    request may deliver), ``not_ready_status`` (status of the v2 "still being processed"
    answer), ``not_ready_answer`` ("message", "empty_list", or None: each generation's own),
    ``expired_status`` and ``retention_days`` (files kept after the POST), ``v2_post_status``
    (the v2 POSTs' success status) and ``now`` (start the clock there, epoch seconds).
    """

    prefix = "/coresignal"

    def __init__(
        self,
        *,
        api_token: str = "cs-token-0123456789",  # noqa: S107
        api_key: str = "csKey0123456789abcdefghijklmnopq",
        jobs: int = 5000,
        files_per_request: int = 3,
        polls_until_ready: int = 2,
        credits: int = 1_000_000,
        rate_limit: int = 27,
        id_field_name: str = "request_id",
        seed: int = 1,
        compress_level: int = 1,
        record_cap: int = 10_000,
        not_ready_status: int = 200,
        not_ready_answer: str | None = None,
        expired_status: int = 503,
        retention_days: float = 30,
        v2_post_status: int = 201,
        now: float | None = None,
        notification_shape: str = "flat",
    ) -> None:
        if not _API_KEY_RE.fullmatch(api_key):
            msg = f"api_key must be 32 letters and digits, got {api_key!r}"
            raise ValueError(msg)
        if notification_shape not in ("flat", "nested"):
            msg = f"notification_shape must be 'flat' or 'nested', got {notification_shape!r}"
            raise ValueError(msg)
        self.notification_shape = notification_shape
        #: Ready notifications sent, in order (see :class:`Notification`).
        self.notifications: list[Notification] = []
        if not_ready_answer not in (None, "message", "empty_list"):
            msg = f"not_ready_answer must be 'message', 'empty_list' or None, got {not_ready_answer!r}"
            raise ValueError(msg)
        self.api_token = api_token
        self.api_key = api_key
        self.files_per_request = files_per_request
        self.polls_until_ready = polls_until_ready
        self.credits = credits
        self.rate_limit = rate_limit
        self.id_field_name = id_field_name
        self.seed = seed
        self.compress_level = compress_level
        self.record_cap = record_cap
        self.not_ready_status = not_ready_status
        self.not_ready_answer = not_ready_answer
        self.expired_status = expired_status
        self.retention_days = retention_days
        self.v2_post_status = v2_post_status
        self._clock_offset = 0.0 if now is None else now - time.time()
        self.faults = Faults()
        # bookkeeping, for tests
        self.post_count = 0  # accepted POSTs, both generations
        self.posts: list[tuple[str, Any]] = []  # (kind, body or ids) of each accepted POST, both generations
        self.post_counts: Counter[str] = Counter()  # accepted POSTs by generation ("v1", "v2")
        self.posts_by_generation: dict[str, list[tuple[str, Any]]] = {"v1": [], "v2": []}
        self.auth_used: Counter[tuple[str, str]] = Counter()  # (generation, "authorization" | "apikey")
        self.auth_refused: Counter[tuple[str, str]] = Counter()  # (generation, header sent, or "none")
        self.requests_per_second: Counter[int] = Counter()
        self.request_times: list[float] = []
        self.polls: Counter[str] = Counter()
        self.files_listed: Counter[str] = Counter()  # request id: lists answered with its file names
        self.downloads: Counter[tuple[str, str]] = Counter()
        self.rate_limited = 0  # 429 answers given
        self.expired_answers = 0  # answers about a request past its retention
        self.data_requests: dict[str, DataRequest] = {}
        #: File downloads being answered now (from the request to the body's end), and the most at once.
        self.downloads_in_flight = 0
        self.max_downloads_in_flight = 0
        #: File numbers (0-based, in list order) of each body sent to its end, in the order they ended.
        self.sent_log: list[int] = []
        self._holds: dict[int, tuple[int, float]] = {}  # see hold_file
        self._sent: dict[int, threading.Event] = {}  # file numbers whose body was sent to its end

        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._rng = random.Random(seed)  # test data, not security
        self.companies = self._make_companies()
        self._core: list[_Core] = []
        self._last_updated = array("q")
        self._make_jobs(jobs)

    # ------------------------------------------------------------------ the job universe

    def _make_companies(self) -> list[Company]:
        rng = self._rng
        companies = []
        names: set[str] = set()
        while len(companies) < 60:
            name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_SUFFIXES)}"
            if name in names:
                continue
            names.add(name)
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            domain = slug.replace("-", "") + rng.choice((".com", ".io", ".eu", ".de"))
            company_id = 10_000_000 + 37 * len(companies)
            url = f"https://www.professional-network.com/company/{slug}"
            companies.append(
                Company(
                    id=company_id,
                    name=name,
                    domain=domain,
                    website=f"https://www.{domain}",
                    url=url,
                    slug=slug,
                    json=f'"company_id":{company_id},"company_name":{_json(name)},"company_url":{_json(url)}',
                )
            )
        return companies

    def _new_core(self, position: int, created: int) -> _Core:
        v = self._rng.getrandbits(64)
        first = (v >> 21) % len(INDUSTRIES)
        industries: tuple[int, ...] = (first,)
        if (v >> 24) % 10 < 3:  # some jobs are in two industries
            industries = (first, (first + 1 + (v >> 28) % (len(INDUSTRIES) - 1)) % len(INDUSTRIES))
        return _Core(
            id=JOB_ID_BASE + JOB_ID_STEP * position,
            title=v % len(TITLES),
            company=(v >> 5) % len(self.companies),
            place=(v >> 11) % len(PLACES),
            seniority=(v >> 15) % len(SENIORITIES),
            employment=(v >> 18) % len(EMPLOYMENT_TYPES),
            industries=industries,
            function=(v >> 31) % len(FUNCTIONS),
            created=created,
            deleted=int((v >> 34) % 20 == 0),
            active=int((v >> 39) % 5 != 0),
            salary=(v >> 42) % len(SALARIES),
            variant=self._rng.getrandbits(32),
        )

    def _make_jobs(self, count: int) -> None:
        """``count`` jobs with distinct last_updated values spread over ~18 months, in shuffled order."""
        if count <= 0:
            return
        rng = self._rng
        spacing = max(1, _SPAN // count)
        slots = list(range(count))
        rng.shuffle(slots)
        for position, slot in enumerate(slots):
            last_updated = _EPOCH_START + slot * spacing + rng.randrange(spacing)
            created = last_updated - rng.randrange(120 * 86400)
            self._core.append(self._new_core(position, created))
            self._last_updated.append(last_updated)

    def _position(self, job_id: int) -> int | None:
        offset = job_id - JOB_ID_BASE
        if offset < 0 or offset % JOB_ID_STEP:
            return None
        position = offset // JOB_ID_STEP
        return position if position < len(self._core) else None

    def _description(self, core: _Core) -> str:
        company = self.companies[core.company]
        location = PLACES[core.place][0]
        v = core.variant
        parts = [
            f"{company.name} is looking for a {TITLES[core.title]} to join our team in {location}.",
            "\n\nResponsibilities:\n",
            f"\t• {_SENTENCES[v % len(_SENTENCES)]}\n",
            f"\t• {_SENTENCES[(v >> 4) % len(_SENTENCES)]}\n",
            f"\nAbout us: {_SENTENCES[(v >> 8) % len(_SENTENCES)]}",
        ]
        if v % 13 == 0:
            parts.append(" Café, crèche & naïve résumés welcome 🚀")
        if v % 7 == 0:
            parts.append("\r\nApply by e-mail: jobs@" + company.domain)
        if v % 97 == 0:  # a raw U+2028 in a JSON string: legal JSON, but not a line break in JSON Lines
            parts.append("\u2028Equal opportunity employer.")
        return "".join(parts)

    def _job_url(self, core: _Core, company: Company) -> str:
        return f"https://www.professional-network.com/jobs/view/{_TITLE_SLUGS[core.title]}-at-{company.slug}-{core.id}"

    def _job(self, position: int, last_updated: int) -> dict[str, Any]:
        """One job object, as the vendor delivers it."""
        core = self._core[position]
        company = self.companies[core.company]
        location, country = PLACES[core.place]
        v = core.variant
        url = self._job_url(core, company)
        recruiter = _RECRUITER_NAMES[(v >> 12) % len(_RECRUITER_NAMES)]
        return {
            "id": core.id,
            "created": format_time(core.created),
            "last_updated": format_time(last_updated),
            "time_posted": _POSTED[(v >> 16) % len(_POSTED)],
            "title": TITLES[core.title],
            "description": self._description(core),
            "seniority": SENIORITIES[core.seniority],
            "employment_type": EMPLOYMENT_TYPES[core.employment],
            "location": location,
            "country": country,
            "url": url,
            "hash": hashlib.md5(url.encode()).hexdigest(),  # noqa: S324  # what the vendor does
            "company_id": company.id,
            "company_name": company.name,
            "company_url": company.url,
            "external_url": f"{company.website}/careers/{core.id}" if v % 3 == 0 else None,
            "deleted": core.deleted,
            "application_active": core.active,
            "salary": list(SALARIES[core.salary]),
            "applicants_count": _APPLICANTS[(v >> 20) % len(_APPLICANTS)],
            "redirected_url": None,
            "job_industry_collection": [{"job_industry_list": {"industry": INDUSTRIES[i]}} for i in core.industries],
            # nested fields a typed schema does not know about
            "job_function_collection": [{"job_function_list": {"function": FUNCTIONS[core.function]}}],
            "recruiter": (
                None
                if recruiter is None
                else {
                    "name": recruiter,
                    "profile": {"url": f"https://www.professional-network.com/in/r{v % 100000}"},
                }
            ),
        }

    def _line(self, position: int, last_updated: int) -> bytes:
        """``json.dumps(self._job(...))`` plus a newline, built from pre-encoded pieces: about 4x faster."""
        core = self._core[position]
        company = self.companies[core.company]
        v = core.variant
        url = self._job_url(core, company)
        recruiter = _RECRUITER_NAMES_J[(v >> 12) % len(_RECRUITER_NAMES)]
        if recruiter != "null":
            profile = f"https://www.professional-network.com/in/r{v % 100000}"
            recruiter = f'{{"name":{recruiter},"profile":{{"url":"{profile}"}}}}'
        industries = _INDUSTRIES_J[core.industries]
        external = f'"{company.website}/careers/{core.id}"' if v % 3 == 0 else "null"
        return (
            f'{{"id":{core.id},"created":"{format_time(core.created)}","last_updated":"{format_time(last_updated)}",'
            f'"time_posted":{_POSTED_J[(v >> 16) % len(_POSTED)]},"title":{_TITLES_J[core.title]},'
            f'"description":{_json(self._description(core))},"seniority":{_SENIORITIES_J[core.seniority]},'
            f'"employment_type":{_EMPLOYMENT_TYPES_J[core.employment]},{_PLACES_J[core.place]},'
            f'"url":"{url}","hash":"{hashlib.md5(url.encode()).hexdigest()}",{company.json},'  # noqa: S324
            f'"external_url":{external},"deleted":{core.deleted},"application_active":{core.active},'
            f'"salary":{_SALARIES_J[core.salary]},'
            f'"applicants_count":{_APPLICANTS_J[(v >> 20) % len(_APPLICANTS)]},'
            f'"redirected_url":null,"job_industry_collection":{industries},'
            f'"job_function_collection":{_FUNCTIONS_J[core.function]},"recruiter":{recruiter}}}\n'
        ).encode()

    def all_jobs(self) -> list[dict[str, Any]]:
        """Every job as it is now, by id."""
        with self._lock:
            last_updated = array("q", self._last_updated)
        return [self._job(position, value) for position, value in enumerate(last_updated)]

    def add_jobs(self, n: int) -> list[dict[str, Any]]:
        """Add ``n`` new jobs, last updated (and created) after every existing job; returns them."""
        with self._lock:
            latest = max(self._last_updated, default=_EPOCH_START)
            added = []
            for k in range(1, n + 1):
                position = len(self._core)
                stamp = latest + 60 * k
                self._core.append(self._new_core(position, stamp))
                self._last_updated.append(stamp)
                added.append((position, stamp))
        return [self._job(position, stamp) for position, stamp in added]

    def touch_jobs(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Bump the jobs' last_updated to now (and always past every other job, each distinct)."""
        with self._lock:
            positions = [self._position(job_id) for job_id in ids]
            if None in positions:
                msg = f"no such job id(s): {[i for i, p in zip(ids, positions, strict=True) if p is None]}"
                raise KeyError(msg)
            stamp = max(int(time.time()), max(self._last_updated, default=0) + 1)
            touched = []
            for position in positions:
                assert position is not None
                self._last_updated[position] = stamp
                touched.append((position, stamp))
                stamp += 1
        return [self._job(position, stamp) for position, stamp in touched]

    def jobs_for_request(self, request_id: str) -> list[dict[str, Any]]:
        """The jobs a data request delivers, in file order (as they were at its POST)."""
        request = self.data_requests[request_id]
        return [self._job(p, lu) for p, lu in zip(request.indices, request.last_updated, strict=True)]

    def files_for_request(self, request_id: str) -> list[str]:
        """The file names of a data request, even before they are listed."""
        return list(self.data_requests[request_id].file_names)

    def in_progress(self, request_id: str) -> bool:
        """Whether a data request still blocks an identical one (409)."""
        with self._lock:
            return self._blocks(self.data_requests[request_id])

    def status(self, request_id: str) -> str:
        """ "processing", "ready", "too_many", "no_match", "no_credits", or "expired"."""
        with self._lock:
            data_request = self.data_requests[request_id]
            return "expired" if self._expired(data_request) else data_request.status

    # ------------------------------------------------------------------ the clock

    @property
    def now(self) -> float:
        """The emulator's clock (epoch seconds): the wall clock, moved by ``advance_days`` or set."""
        return time.time() + self._clock_offset

    @now.setter
    def now(self, value: float) -> None:
        self._clock_offset = value - time.time()

    def advance_days(self, days: float) -> None:
        """Move the clock ``days`` forward (files expire ``retention_days`` after their POST)."""
        self._clock_offset += days * 86400

    def _expired(self, data_request: DataRequest) -> bool:
        return self.now - data_request.created_at >= self.retention_days * 86400

    def _blocks(self, data_request: DataRequest) -> bool:
        return data_request.in_progress and not self._expired(data_request)

    # ------------------------------------------------------------------ HTTP

    #: The tap's settings block this vendor answers.
    source = "coresignal"

    def tap_settings(self, base_url: str) -> dict[str, Any]:
        """What the tap needs to talk to this vendor at ``base_url``: a small paid request, quick polls."""
        return {
            "base_url": base_url,
            "api_token": self.api_token,
            "filters": {"title": "engineer"},
            "poll_interval_seconds": 0.05,
        }

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        limited = self._rate_limit(request)
        if limited is not None:
            return limited
        fault = self.faults.take(request)
        injected = Faults.status_response(fault)
        if injected is not None:
            return injected
        try:
            response = self._route(request, fault)
        except Invalid as exc:
            response = Response.json(exc.status, {"message": str(exc)})
        return Faults.apply(fault, response)

    def _rate_limit(self, request: Request) -> Response | None:
        """Count the request; a 429 when its credential already made ``rate_limit`` requests in the last second."""
        now = time.monotonic()
        token = request.headers.get("apikey") or request.headers.get("Authorization") or ""
        with self._lock:
            self.request_times.append(now)
            self.requests_per_second[int(now)] += 1
            window = self._windows.setdefault(token, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.rate_limit:
                self.rate_limited += 1
                return Response.json(429, {"message": "Too many requests"}, {"Retry-After": "1"})
            window.append(now)
        return None

    def _route(self, request: Request, fault: Fault | None) -> Response:
        if request.path.startswith("/v2/"):
            return self._route_v2(request, fault)
        if request.headers.get("Authorization") != f"Bearer {self.api_token}":
            self._refused("v1", request)
            return Response.json(401, {"message": "Unauthorized: invalid or missing Bearer token"})
        with self._lock:
            self.auth_used[("v1", "authorization")] += 1
        path = request.path
        if "%2f" in path.lower():  # an encoded slash is not a path separator: no such file
            return Response.json(404, {"message": "Not Found"})
        if path in {FILTER_PATH, ID_FILE_PATH}:
            if request.method != "POST":
                return Response.json(405, {"message": "Method Not Allowed"})
            if path == FILTER_PATH:
                return self._post_filter(request, "v1")
            return self._post_id_file(request)
        listing = _LIST_RE.match(path)
        download = None if listing else _FILE_RE.match(path)
        if listing is None and download is None:
            return Response.json(404, {"message": "Not Found"})
        if request.method != "GET":
            return Response.json(405, {"message": "Method Not Allowed"})
        if listing is not None:
            return self._list_files("v1", listing.group(1))
        assert download is not None
        return self._download("v1", download.group(1), download.group(2), fault)

    def _route_v2(self, request: Request, fault: Fault | None) -> Response:
        """The v2 generation: the route is found first (404 before credentials), then the ``apikey`` header."""
        path = request.path
        listing = _V2_LIST_RE.match(path)
        download = None if listing else _V2_FILE_RE.match(path)
        if path not in {V2_FILTER_PATH, V2_ID_FILE_PATH} and listing is None and download is None:
            return Response.json(404, {"message": "Not Found"})
        key = request.headers.get("apikey")
        if key != self.api_key:
            self._refused("v2", request)
            message = "No API key found in request" if key is None else "Invalid authentication credentials"
            return Response.json(401, {"message": message})
        with self._lock:
            self.auth_used[("v2", "apikey")] += 1
        if "%2f" in path.lower():
            return Response.json(404, {"message": "Not Found"})
        if listing is None and download is None:
            if request.method != "POST":
                return Response.json(405, {"message": "Method Not Allowed"})
            return self._post_filter(request, "v2") if path == V2_FILTER_PATH else self._post_id_file_v2(request)
        if request.method != "GET":
            return Response.json(405, {"message": "Method Not Allowed"})
        if listing is not None:
            return self._list_files("v2", listing.group(1))
        assert download is not None
        return self._download("v2", download.group(1), download.group(2), fault)

    def _refused(self, generation: str, request: Request) -> None:
        sent = [name for name in ("authorization", "apikey") if request.headers.get(name) is not None]
        with self._lock:
            self.auth_refused[(generation, "+".join(sent) or "none")] += 1

    # POST filter -------------------------------------------------------------------------

    def _post_filter(self, request: Request, generation: str) -> Response:
        content_type = _header_param("Content-Type", request.headers.get("Content-Type") or "")
        if content_type.get_content_type() != "application/json":
            msg = "Content-Type must be application/json"
            raise Invalid(msg)
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            msg = "Request body is not valid JSON"
            raise Invalid(msg) from exc
        if not isinstance(body, dict):
            msg = "Request body must be a JSON object"
            raise Invalid(msg)
        extra = sorted(set(body) - (BODY_KEYS if generation == "v1" else V2_BODY_KEYS))
        if extra:
            msg = f"Unexpected field(s) in request body: {', '.join(extra)}"
            raise Invalid(msg)
        filters = body.get("filters")
        if not isinstance(filters, dict) or not filters:
            msg = "Field 'filters' is required and must be a non-empty object"
            raise Invalid(msg)
        unknown = sorted(set(filters) - FILTER_KEYS)
        if unknown:
            msg = f"Unknown filter field(s): {', '.join(unknown)}"
            raise Invalid(msg)
        predicates = [self._predicate(name, value) for name, value in sorted(filters.items())]
        limit = body.get("limit")
        if "limit" in body and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
            msg = f"Field 'limit' must be a positive integer, got {limit!r}"
            raise Invalid(msg)
        webhook = body.get("webhook_url")
        if "webhook_url" in body:
            _check_webhook(webhook)
        if "data_format" in body:
            _check_data_format(body["data_format"])

        # v2: a request that would deliver more than the cap is accepted, and rejected while collecting
        capped = generation == "v2" and (limit is None or limit > self.record_cap)
        stop = self.record_cap + 1 if capped else limit
        with self._lock:
            last_updated = array("q", self._last_updated)
            cores = self._core[: len(last_updated)]
        selected = array("q")
        for position, core in enumerate(cores):
            if all(predicate(core, last_updated[position]) for predicate in predicates):
                selected.append(position)
                if stop is not None and len(selected) >= stop:
                    break
        too_many = capped and len(selected) > self.record_cap
        if too_many:
            selected = array("q")
        key = f"{generation}:filter:" + json.dumps(body, sort_keys=True, separators=(",", ":"))
        return self._accept(
            generation,
            "filter",
            key,
            body,
            selected,
            last_updated=last_updated,
            webhook_url=webhook,
            too_many=too_many,
        )

    def _predicate(self, name: str, value: object) -> Callable[[_Core, int], bool]:
        """The test one filter makes on a job (its core and its current last_updated)."""
        if name in DATE_FILTERS:
            bound = parse_time(value, name)
            if name == "created_at_gte":
                return lambda core, _lu: core.created >= bound
            if name == "created_at_lte":
                return lambda core, _lu: core.created <= bound
            if name == "last_updated_gte":
                return lambda _core, lu: lu >= bound
            return lambda _core, lu: lu <= bound
        if name in FLAG_FILTERS:
            if value not in (0, 1) or isinstance(value, float):
                msg = f"Filter '{name}' must be 0 or 1 (or a boolean), got {value!r}"
                raise Invalid(msg)
            flag = int(value)  # type: ignore[call-overload]
            if name == "deleted":
                return lambda core, _lu: core.deleted == flag
            return lambda core, _lu: core.active == flag
        if name == "company_id":
            if not isinstance(value, int) or isinstance(value, bool):
                msg = f"Filter 'company_id' must be an integer, got {value!r}"
                raise Invalid(msg)
            return lambda core, _lu: self.companies[core.company].id == value
        if not isinstance(value, str) or not value.strip():
            msg = f"Filter '{name}' must be a non-empty string, got {value!r}"
            raise Invalid(msg)
        needle = value.strip().casefold()
        companies = self.companies
        text: dict[str, Callable[[_Core], str | None]] = {
            "title": lambda core: TITLES[core.title],
            "location": lambda core: PLACES[core.place][0],
            "company_name": lambda core: companies[core.company].name,
            "keyword_description": self._description,
        }
        exact: dict[str, Callable[[_Core], str | None]] = {
            "employment_type": lambda core: EMPLOYMENT_TYPES[core.employment],
            "country": lambda core: PLACES[core.place][1],
            "company_domain": lambda core: companies[core.company].domain,
            "company_exact_website": lambda core: companies[core.company].website,
            "company_professional_network_url": lambda core: companies[core.company].url,
        }
        if name in text:
            get = text[name]
            return lambda core, _lu: needle in (get(core) or "").casefold()
        if name == "industry":
            return lambda core, _lu: any(needle in INDUSTRIES[i].casefold() for i in core.industries)
        get = exact[name]
        if name == "company_domain":
            needle = needle.removeprefix("www.")
        elif name in {"company_exact_website", "company_professional_network_url"}:
            needle = needle.rstrip("/")
        return lambda core, _lu: (get(core) or "").casefold() == needle

    # POST id_file ------------------------------------------------------------------------

    def _post_id_file(self, request: Request) -> Response:
        parts = parse_multipart(request.body, request.headers.get("Content-Type") or "")
        files = [part for part in parts if part.name == "file"]
        if len(files) != 1 or files[0].filename is None:
            msg = "Field 'file' is required: exactly one uploaded file of job ids"
            raise Invalid(msg)
        ids = parse_id_file(files[0].data)
        return self._accept_ids("v1", ids, webhook_url=None)

    def _post_id_file_v2(self, request: Request) -> Response:
        parts = parse_multipart(request.body, request.headers.get("Content-Type") or "")
        unknown = sorted({part.name for part in parts} - V2_FORM_FIELDS)
        if unknown:
            msg = f"Unexpected form field(s): {', '.join(unknown)} (the ids go in an 'ids_file' file)"
            raise Invalid(msg)
        files = [part for part in parts if part.name == "ids_file"]
        if len(files) != 1 or files[0].filename is None:
            msg = "Field 'ids_file' is required: exactly one uploaded file of job ids"
            raise Invalid(msg)
        fields: dict[str, str] = {}
        for part in parts:
            if part.name == "ids_file":
                continue
            if part.filename is not None or part.name in fields:
                msg = f"Form field '{part.name}' must be given once, as a plain value"
                raise Invalid(msg)
            try:
                fields[part.name] = part.data.decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = f"Form field '{part.name}' is not UTF-8 text"
                raise Invalid(msg) from exc
        if "webhook_url" in fields:
            _check_webhook(fields["webhook_url"])
        if "data_format" in fields:
            _check_data_format(fields["data_format"])
        try:
            ids = parse_id_file(files[0].data)
        except Invalid as exc:
            raise BadFile(str(exc)) from exc
        if len(ids) > self.record_cap:
            msg = f"File contains too many IDs. Maximum is {self.record_cap:,} IDs"
            raise BadFile(msg)
        return self._accept_ids("v2", ids, webhook_url=fields.get("webhook_url"))

    def _accept_ids(self, generation: str, ids: list[int], *, webhook_url: str | None) -> Response:
        with self._lock:
            last_updated = array("q", self._last_updated)
            seen: set[int] = set()
            selected = array("q")
            for job_id in ids:
                position = self._position(job_id)
                if position is not None and position < len(last_updated) and job_id not in seen:
                    seen.add(job_id)
                    selected.append(position)
        key = f"{generation}:id_file:" + ",".join(map(str, ids))
        return self._accept(
            generation, "id_file", key, ids, selected, last_updated=last_updated, webhook_url=webhook_url
        )

    # common to both POSTs ----------------------------------------------------------------

    def _accept(
        self,
        generation: str,
        kind: str,
        key: str,
        posted: object,
        selected: array,
        *,
        last_updated: array,
        webhook_url: str | None,
        too_many: bool = False,
    ) -> Response:
        """The 409 rule and (v1) the credit rule, then a new data request."""
        with self._lock:
            if any(other.key == key and self._blocks(other) for other in self.data_requests.values()):
                return Response.json(409, {"message": "Identical request already in progress"})
            charged = 0
            if generation == "v1":  # v1 charges at the POST; v2 when the request is collected
                if len(selected) > self.credits:
                    return Response.json(402, {"message": "Insufficient credits"})
                self.credits -= len(selected)
                charged = len(selected)
            self.post_count += 1
            self.posts.append((kind, posted))
            self.post_counts[generation] += 1
            self.posts_by_generation[generation].append((kind, posted))
            request_id = str(uuid.uuid4())
            if generation == "v1":
                files = max(1, min(self.files_per_request, len(selected)))  # no match: one empty file
            else:
                files = min(self.files_per_request, len(selected))  # no match: no file (a 422)
            per_file, extra = divmod(len(selected), max(1, files))
            bounds, start = [], 0
            for k in range(files):
                end = start + per_file + (1 if k < extra else 0)
                bounds.append((start, end))
                start = end
            file_uuid = uuid.uuid4()
            self.data_requests[request_id] = DataRequest(
                id=request_id,
                kind=kind,
                key=key,
                indices=selected,
                last_updated=array("q", (last_updated[p] for p in selected)),
                file_names=[f"json/part-{k:05d}-{file_uuid}.json.gz" for k in range(files)],
                bounds=bounds,
                webhook_url=webhook_url,
                generation=generation,
                created_at=self.now,
                too_many=too_many,
                charged=charged,
            )
        if generation == "v1":
            location = f"{self.prefix}/v1/bulk_collect/{request_id}/files"
            return Response.json(200, {self.id_field_name: request_id}, {"Location": location})
        # as the vendor writes it: relative to the API base (…/cdapi), not to the host
        location = f"/v2/data_requests/{request_id}/files"
        return Response.json(self.v2_post_status, {"request_id": request_id}, {"Location": location})

    # GET files ---------------------------------------------------------------------------

    def _find(self, generation: str, request_id: str) -> DataRequest | Response:
        """The data request (caller holds the lock), or the 404 / expiry answer."""
        data_request = self.data_requests.get(request_id)
        if data_request is None or data_request.generation != generation:
            return Response.json(404, {"message": "Data request not found"})
        if self._expired(data_request):
            self.expired_answers += 1
            if self.expired_status == 404:
                return Response.json(404, {"message": "Data request not found"})
            days = f"{self.retention_days:g}"
            message = f"Data request files are no longer available: they are kept {days} days after the request"
            return Response.json(self.expired_status, {"message": message})
        return data_request

    def _collect(self, data_request: DataRequest) -> None:
        """End the collection of a request (caller holds the lock): v2 may fail it, and charges it."""
        if data_request.generation == "v1":
            data_request.status = READY
            return
        count = len(data_request.indices)
        if data_request.too_many:
            data_request.status = TOO_MANY
        elif count == 0:
            data_request.status = NO_MATCH_STATE
        elif count > self.credits:
            data_request.status = NO_CREDITS
        else:
            self.credits -= count
            data_request.charged = count
            data_request.status = READY

    # ready notifications ------------------------------------------------------------------

    def notification_body(self, data_request: DataRequest) -> dict[str, Any]:
        """What the emulator POSTs to a request's ``webhook_url`` once it is collected."""
        status = "completed" if data_request.status == READY else "failed"
        if self.notification_shape == "nested":
            details = {"request_id": data_request.id, "status": status, "files": len(data_request.file_names)}
            return {"event": "data_request.ready", "data": details}
        return {"data_request_id": data_request.id, "status": status}

    def notify(self, request_id: str) -> int | str | None:
        """POST the request's ready notification to its ``webhook_url`` (again); the answer's status, or None.

        None when the request has no webhook_url; the name of the error when the POST failed.
        """
        with self._lock:
            data_request = self.data_requests[request_id]
            url = data_request.webhook_url
            body = self.notification_body(data_request)
        if url is None:
            return None
        status: int | str
        if urlsplit(url).hostname not in LOOPBACK_HOSTS:  # a test's made-up host: nothing leaves the machine
            status = "not sent (not a loopback host)"
            with self._lock:
                self.notifications.append(Notification(request_id, url, body, status))
            return status
        try:
            status = requests.post(url, json=body, timeout=10).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        with self._lock:
            self.notifications.append(Notification(request_id, url, body, status))
        return status

    def complete(self, request_id: str, *, notify: bool = True) -> int | str | None:
        """Test knob: collect a request now (whatever its polls), and send its ready notification.

        Returns the notification's answer (see :meth:`notify`); None when none was sent.
        """
        with self._lock:
            data_request = self.data_requests[request_id]
            if data_request.status == PROCESSING:
                self._collect(data_request)
        return self.notify(request_id) if notify else None

    def _list_files(self, generation: str, request_id: str) -> Response:
        with self._lock:
            found = self._find(generation, request_id)
            if isinstance(found, Response):
                return found
            data_request = found
            self.polls[request_id] += 1
            data_request.polls += 1
            if data_request.status == PROCESSING and data_request.polls > self.polls_until_ready:
                self._collect(data_request)
                if data_request.webhook_url is not None:  # as the vendor would: not within the answer
                    threading.Thread(target=self.notify, args=(request_id,), daemon=True).start()
            status = data_request.status
            if status == READY:
                self.files_listed[request_id] += 1
                return Response.json(200, {"data_request_files": list(data_request.file_names)})
        if status == PROCESSING:
            answer = self.not_ready_answer or ("empty_list" if generation == "v1" else "message")
            if answer == "empty_list":
                return Response.json(200, {"data_request_files": []})
            return Response.json(self.not_ready_status, {"message": STILL_PROCESSING})
        if status == TOO_MANY:
            return Response.json(422, {"message": f"Request matched too many IDs. Maximum is {self.record_cap:,} IDs"})
        if status == NO_MATCH_STATE:
            return Response.json(422, {"message": NO_MATCH})
        return Response.json(402, {"detail": "Insufficient credits"})

    def hold_file(self, number: int, until_sent: int, timeout: float = 5.0) -> None:
        """Test knob: file ``number`` (0-based, in list order, of any request) is answered only once
        file ``until_sent`` was sent to its end, or after ``timeout`` seconds: downloads complete out
        of order when both are in flight (and a client downloading one at a time waits ``timeout``)."""
        with self._lock:
            self._holds[number] = (until_sent, timeout)

    def _download(self, generation: str, request_id: str, file_name: str, fault: Fault | None) -> Response:
        with self._lock:
            found = self._find(generation, request_id)
            if isinstance(found, Response):
                return found
            data_request = found
            if not data_request.ready or file_name not in data_request.file_names:
                return Response.json(404, {"message": "File not found"})
            self.downloads[(request_id, file_name)] += 1
            number = data_request.file_names.index(file_name)
            self.downloads_in_flight += 1
            self.max_downloads_in_flight = max(self.max_downloads_in_flight, self.downloads_in_flight)
            hold = self._holds.get(number)
            awaited = self._sent.setdefault(hold[0], threading.Event()) if hold is not None else None
        if hold is not None and awaited is not None:
            awaited.wait(hold[1])
        response = self._file_answer(data_request, file_name, fault)
        response.body = self._counted(number, response.body)
        return response

    def _counted(self, number: int, body: bytes | Iterable[bytes]) -> Iterator[bytes]:
        """``body``, the download counted in flight until it ends (sent, or abandoned)."""
        sent = False
        try:
            if isinstance(body, bytes):
                yield body
            else:
                yield from body
            sent = True
        finally:
            with self._lock:
                self.downloads_in_flight -= 1
                if sent:
                    self.sent_log.append(number)
                    self._sent.setdefault(number, threading.Event()).set()

    def _file_answer(self, data_request: DataRequest, file_name: str, fault: Fault | None) -> Response:
        kind = fault.kind if fault is not None else None
        params = fault.params if fault is not None else {}
        headers = {
            "Content-Type": "application/gzip",
            "Content-Disposition": f'attachment; filename="{file_name.rsplit("/", 1)[1]}"',
        }
        if kind == "not_gzip":
            text = params.get("body", b"File is being regenerated, please retry later.\n")
            body: Iterable[bytes] = [text if isinstance(text, bytes) else str(text).encode()]
        else:
            body = self._gzip_lines(data_request, file_name, kind, params)
        return Response(status=200, body=body, headers=headers, chunked=True)

    def _lines(self, data_request: DataRequest, file_name: str) -> Iterator[bytes]:
        start, end = data_request.bounds[data_request.file_names.index(file_name)]
        for k in range(start, end):
            yield self._line(data_request.indices[k], data_request.last_updated[k])

    def _gzip_lines(
        self, data_request: DataRequest, file_name: str, kind: str | None, params: dict[str, object]
    ) -> Iterator[bytes]:
        """The file, compressed piece by piece as it is sent.

        Body faults: ``bad_line`` (line ``params["line"]``, default the middle one, is cut in
        half), ``truncated_gzip`` (the stream stops inside that line, no trailer) and
        ``non_utf8`` (that line's title starts with a Latin-1 byte and a lone 0xFF).
        """
        start, end = data_request.bounds[data_request.file_names.index(file_name)]
        count = end - start
        middle = int(params.get("line", count // 2))  # type: ignore[call-overload]
        compressor = zlib.compressobj(self.compress_level, zlib.DEFLATED, 31)  # 31: gzip container
        batch: list[bytes] = []
        size = 0
        lines = self._lines(data_request, file_name)
        if count == 0 and kind == "bad_line":
            lines = iter([b'{"id": 1, "title": "bro\n'])
        for number, line in enumerate(lines):
            if number == middle and kind == "non_utf8":
                line = line.replace(b'"title":"', b'"title":"' + NON_UTF8_BYTES + b" ", 1)
            if number == middle and kind in {"bad_line", "truncated_gzip"}:
                cut = line[: max(1, len(line) // 2)]
                if kind == "bad_line":
                    line = cut + b"\n"
                else:  # the gzip stream stops in the middle of this line: no final block, no trailer
                    yield compressor.compress(b"".join(batch) + cut) + compressor.flush(zlib.Z_SYNC_FLUSH)
                    return
            batch.append(line)
            size += len(line)
            if size >= 1 << 18:
                piece = compressor.compress(b"".join(batch))
                batch, size = [], 0
                if piece:
                    yield piece
        if kind == "truncated_gzip":  # an empty file: only the beginning of a gzip stream
            yield compressor.compress(b"".join(batch)) + compressor.flush(zlib.Z_SYNC_FLUSH)
            return
        yield compressor.compress(b"".join(batch)) + compressor.flush()
        if kind in {None, "non_utf8"}:  # sent in full: this file no longer keeps the request in progress
            with self._lock:
                data_request.completed.add(file_name)
