"""The HrFlow.ai part of the vendor emulator, mounted under ``/hrflow``.

It speaks the subset of the HrFlow v1 HTTP API the tap reads, as HrFlow's own Python SDK
(``Riminder/python-hrflow-api``) sends it:

* Searching API: ``GET /profiles/searching`` (``source_keys`` JSON list, ``page``, ``limit``,
  ``sort_by``, ``order_by``) and ``GET /jobs/searching`` (``board_keys`` JSON list, same paging
  and sorting); ``data`` is ``{"profiles": [...]}`` / ``{"jobs": [...]}``.
* Storing API: ``GET /storing/profiles`` (``source_keys``, ``return_profile``, ``page``, ``limit``,
  ``sort_by``, ``order_by``, and the filters ``name``, ``key``, ``reference``, ``location_lat`` /
  ``location_lon`` / ``location_dist``, ``created_at_min`` / ``created_at_max``) and
  ``GET /storing/jobs`` (``board_keys``, ``return_job``, same); ``data`` is the list itself. It
  lists every stored object, those the Searching API leaves unindexed included, and needs no
  Searching subscription (``searching_api=False`` turns the Searching API off).
* ``GET /auth`` (the SDK's ``auth.get()``: "Try your API Keys")
* ``GET /sources`` and ``GET /boards`` (``name`` substring filter, ``page``, ``limit``,
  ``sort_by`` ``date``, ``order_by``).
* ``GET /profile/indexing/attachments`` and the files it points at (``vendor.attachments``, see
  ``tests/emulator/hrflow_attachments.py``).
* ``GET /trackings`` and ``GET /ratings`` (``vendor.activity``, see ``tests/emulator/hrflow_activity.py``).

Like the real service it hides errors in HTTP 200 answers: every body is the envelope
``{"code", "message", "meta", "data"}`` and a bad API key, a bad parameter ... come back as
HTTP 200 with ``code`` 401 / 400. It is strict: unknown, repeated or malformed query
parameters are rejected, so a tap that sends what the real API would refuse fails here too.

Two object shapes: ``shape="seed"`` (the default) serves those of the seed README (the SDK's
README: profiles' ``source`` and jobs' ``board`` are ``{key, name}``; sources and boards have no
``environment``); ``shape="current"`` serves those of the SDK's models (``tests/utils/schemas.py``,
``hrflow/schemas.py``): ``source_key`` + ``source {key, name, type, subtype, environment}``,
``board_key`` + ``board {...}``, ``environment`` on sources and boards, tag / skill / language
values as strings, and a value in every field the tap types. ``job_location`` picks the jobs'
coordinates: ``"geopoint"`` (``location.geopoint.lat/lon``, the README's) or ``"latlng"``
(``location.lat/lng``, the SDK models'); by default it follows ``shape``.

The data set (profiles, jobs, sources, boards) is generated deterministically from ``seed``;
``updated_at`` values are distinct across all profiles and jobs and spread over years.
``unindexed_profiles`` / ``unindexed_jobs`` add that many objects per source / board that only
the Storing API lists.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import re
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from tests.emulator.hrflow_activity import HrflowActivity
from tests.emulator.hrflow_attachments import HrflowAttachments
from tests.emulator.server import Faults, Response

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.emulator.server import Fault, Request

UTC = timezone.utc
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S+0000"
SORT_FIELDS = ("created_at", "updated_at")
ORDERS = ("asc", "desc")
DEFAULT_LIMIT = 30
#: ``sort_by`` values of ``/sources`` and ``/boards``: the SDK's ``Source.list()`` default.
CONTAINER_SORT_FIELDS = ("date",)
#: Object generations (see the module docstring) and job coordinate layouts.
SHAPES = ("seed", "current")
JOB_LOCATIONS = ("geopoint", "latlng")
#: What a storing list item holds without ``return_profile`` / ``return_job``: "the dates, the
#: reference and the keys" (the SDK's ``ProfileStoring.list`` docstring).
STORING_SUMMARY_FIELDS = ("key", "reference", "created_at", "updated_at")
#: The storing filters the SDK sends besides the keys, paging and sorting.
STORING_FILTERS = (
    "name",
    "key",
    "reference",
    "location_lat",
    "location_lon",
    "location_dist",
    "created_at_min",
    "created_at_max",
)
SEARCHING_OFF_MESSAGE = "Forbidden: the Searching API is not enabled for this workspace"
#: Body faults: ``body_code`` (HTTP 200 with ``code`` params["code"], default 500), ``not_json``
#: (an HTML page, HTTP params["status"]), ``lie_meta`` (``maxPage`` and ``total`` too large),
#: ``non_utf8`` (a Latin-1 byte in the first item's text), ``duplicate`` (a page after the
#: first starts with the last item of the page before, as when the sorted list moved),
#: ``short_max_page`` (``meta.maxPage`` is params["max_page"], default the page asked: "this is the
#: last page", as a stale count says; ``meta.total`` too when params["total"] is given),
#: ``empty_page`` (the page comes back with no item, its ``meta`` as it would be: a transient glitch),
#: ``no_total`` (``meta`` without ``total``, as some answers give it).
#: Arm them with ``query_regex`` (``r"(^|&)page=2(&|$)"``) for one page, ``times=1`` for a one-time glitch.
BODY_FAULT_KINDS = (
    "body_code",
    "not_json",
    "lie_meta",
    "non_utf8",
    "duplicate",
    "short_max_page",
    "empty_page",
    "no_total",
)

# Raw bytes put into a text field by the "non_utf8" fault: a Latin-1 "é" and a lone 0xFF.
NON_UTF8_BYTES = b"Ren\xe9 \xff\xfe"
_NON_UTF8_MARKER = "\u2063NON-UTF8-MARKER\u2063"

_EPOCH = datetime(2019, 1, 1, tzinfo=UTC)
_SPAN_SECONDS = 5 * 365 * 86400

_FIRST_NAMES = (
    "Zoë",
    "François",
    "Łukasz",
    "Ana",
    "Jürgen",
    "Siobhán",
    "Chidi",
    "Mei",
    "Aarav",
    "Inès",
    "Mateo",
    "Yuki",
    "Björn",
    "Camille",
    "Olusegun",
)
_LAST_NAMES = (
    "Dupont",
    "Müller",
    "Nowak",
    "García",
    "O'Brien",
    "Okafor",
    "Tanaka",
    "Søndergaard",
    "Silva",
    "Kowalski",
    "Haddad",
    "Nguyễn",
)
_CITIES = (
    ("Paris, France", 48.8566, 2.3522),
    ("Lyon, France", 45.764, 4.8357),
    ("Berlin, Germany", 52.52, 13.405),
    ("Kraków, Poland", 50.0647, 19.945),
    ("Lisbon, Portugal", 38.7223, -9.1393),
    ("Montréal, Canada", 45.5017, -73.5673),
    ("Dublin, Ireland", 53.3498, -6.2603),
    ("Lagos, Nigeria", 6.5244, 3.3792),
    ("São Paulo, Brazil", -23.5505, -46.6333),
    ("Remote", None, None),
)
_SKILLS = (
    ("python", "hard"),
    ("sql", "hard"),
    ("spark", "hard"),
    ("docker", "hard"),
    ("kubernetes", "hard"),
    ("react", "hard"),
    ("excel", "hard"),
    ("project management", "soft"),
    ("communication", "soft"),
    ("negotiation", "soft"),
)
_COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella", "Société Générale", "Hooli", "Stark Industries")
_TITLES = (
    "Data Engineer",
    "Backend Developer",
    "Product Manager",
    "Sales Representative",
    "HR Business Partner",
    "Nurse",
    "Accountant",
)
_SCHOOLS = (
    "Université Paris-Saclay",
    "TU München",
    "University College Dublin",
    "Politecnico di Milano",
    "Universidade de São Paulo",
)
_LANGUAGES = ("english", "french", "german", "spanish", "portuguese", "japanese")
_STAGES = ("new", "screening", "interview", "offer", "hired", "rejected")


def format_stamp(moment: datetime) -> str:
    """An HrFlow timestamp: ``2020-07-22T09:11:32+0000``."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_stamp(text: str) -> datetime:
    """The inverse of :func:`format_stamp`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


class _ApiError(Exception):
    """An error answer: ``code`` in the body, ``status`` on the wire (200 as HrFlow does)."""

    def __init__(self, code: int, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclasses.dataclass(frozen=True)
class _Hold:
    """When a held page is answered (see :meth:`HrflowEmulator.hold_page`)."""

    answered: int | None  # once this page of the same list was answered
    in_flight: int | None  # once this many requests are being answered at once
    timeout: float


class HrflowEmulator:
    """HrFlow.ai stand-in: profiles in sources, jobs in boards, faithful and strict."""

    prefix = "/hrflow"

    def __init__(
        self,
        *,
        api_key: str = "hrflow-key-0123456789",
        user_email: str = "etl@example.com",
        sources: dict[str, int] | None = None,
        boards: dict[str, int] | None = None,
        extra_sources: int = 2,
        extra_boards: int = 1,
        seed: int = 1,
        max_limit: int = 100,
        shape: str = "seed",
        job_location: str | None = None,
        unindexed_profiles: int = 0,
        unindexed_jobs: int = 0,
        searching_api: bool = True,
    ) -> None:
        if shape not in SHAPES:
            msg = f"shape must be one of {SHAPES}, got {shape!r}"
            raise ValueError(msg)
        job_location = job_location or ("geopoint" if shape == "seed" else "latlng")
        if job_location not in JOB_LOCATIONS:
            msg = f"job_location must be one of {JOB_LOCATIONS}, got {job_location!r}"
            raise ValueError(msg)
        self.api_key = api_key
        self.user_email = user_email
        self.max_limit = max_limit
        self.seed = seed
        self.shape = shape
        self.job_location = job_location
        #: False: the workspace has no Searching subscription (``/…/searching`` answer code 403).
        self.searching_api = searching_api
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.call_log: list[tuple[str, dict[str, str]]] = []
        #: Requests being answered now, and the most at once (what a concurrent client reaches).
        self.in_flight = 0
        self.max_in_flight = 0
        #: (path, page) of each list page answered, in the order the answers were made.
        self.answer_log: list[tuple[str, int]] = []
        self._holds: dict[tuple[str, int], _Hold] = {}  # see hold_page
        self._answered: dict[tuple[str, int], threading.Event] = {}  # (path, page) answered at least once
        self._lock = threading.RLock()
        self._in_flight_changed = threading.Condition(self._lock)
        self._rng = random.Random(seed)
        self._used_stamps: set[str] = set()
        self._last_moment = _EPOCH
        self._next_id = 1000
        self._sources: dict[str, dict[str, Any]] = {}
        self._boards: dict[str, dict[str, Any]] = {}
        self._profiles: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        #: Keys of the objects kept out of the search index on purpose (the Storing API lists them).
        self._unindexed: set[str] = set()
        #: Profile attachments: their listing and files (tests/emulator/hrflow_attachments.py).
        self.attachments = HrflowAttachments(self)

        sources = {"src-a": 45, "src-b": 20} if sources is None else sources
        boards = {"board-a": 33} if boards is None else boards
        for index, key in enumerate(sources):
            self._sources[key] = self._container(key, f"sync-{key}", "api", "python", index, environment="production")
        for number in range(1, extra_sources + 1):
            key = f"src-empty-{number}"
            self._sources[key] = self._container(
                key, f"archive-{number}", "folder", "archive", len(self._sources), environment="test"
            )
        for index, key in enumerate(boards):
            self._boards[key] = self._container(key, f"careers-{key}", "api", "python", index, environment="production")
        for number in range(1, extra_boards + 1):
            key = f"board-empty-{number}"
            self._boards[key] = self._container(
                key, f"campaign-{number}", "api", "php", len(self._boards), environment="test"
            )
        for key, count in sources.items():
            for index in range(count):
                self._store_profile(self._make_profile(key, index, None))
        for key, count in boards.items():
            for index in range(count):
                self._store_job(self._make_job(key, index, None))
        # Drawn after everything else, so the indexed data set does not depend on these counts.
        for key, count in sources.items():
            for index in range(count, count + unindexed_profiles):
                profile = self._make_profile(key, index, None)
                profile["text"] = ""  # stored, but not valid for searching (see _searchable)
                self._store_profile(profile)
        for key, count in boards.items():
            for index in range(count, count + unindexed_jobs):
                job = self._make_job(key, index, None)
                self._unindexed.add(job["key"])
                self._store_job(job)
        #: Trackings and ratings of the profiles and jobs (tests/emulator/hrflow_activity.py).
        self.activity = HrflowActivity(self)

    # ------------------------------------------------------------------ test helpers

    def profiles(self, source_key: str | None = None, *, indexed: bool | None = None) -> list[dict[str, Any]]:
        """Copies of the stored profiles (of one source, or all), in creation order.

        ``indexed=True``: only those the Searching API lists; ``False``: only those it leaves out.
        """
        with self._lock:
            return [
                copy.deepcopy(p)
                for p in self._profiles.values()
                if (source_key is None or p["source"]["key"] == source_key)
                and (indexed is None or indexed == self._profile_indexed(p))
            ]

    def jobs(self, board_key: str | None = None, *, indexed: bool | None = None) -> list[dict[str, Any]]:
        """Copies of the stored jobs (of one board, or all), in creation order; ``indexed`` as for profiles."""
        with self._lock:
            return [
                copy.deepcopy(j)
                for j in self._jobs.values()
                if (board_key is None or j["board"]["key"] == board_key)
                and (indexed is None or indexed == self._job_indexed(j))
            ]

    def source_keys(self) -> list[str]:
        """Every source key, the empty extra sources included."""
        with self._lock:
            return list(self._sources)

    def board_keys(self) -> list[str]:
        """Every board key, the empty extra boards included."""
        with self._lock:
            return list(self._boards)

    def add_profile(self, source_key: str, *, indexed: bool = True, **overrides: Any) -> dict[str, Any]:
        """Store a new profile in ``source_key``, created and updated now; a copy of it.

        ``indexed=False`` keeps it out of the search index (only the Storing API lists it).
        """
        with self._lock:
            if source_key not in self._sources:
                raise KeyError(source_key)
            index = sum(1 for p in self._profiles.values() if p["source"]["key"] == source_key)
            stamp = self._now_stamp()
            profile = self._make_profile(source_key, index, stamp)
            profile.update(overrides)
            if not indexed:
                self._unindexed.add(profile["key"])
            self._store_profile(profile)
            return copy.deepcopy(profile)

    def touch_profile(self, key: str) -> dict[str, Any]:
        """Set a profile's ``updated_at`` to now (later than any other); a copy of it."""
        with self._lock:
            profile = self._profiles[key]
            profile["updated_at"] = self._now_stamp()
            return copy.deepcopy(profile)

    def add_job(self, board_key: str, *, indexed: bool = True, **overrides: Any) -> dict[str, Any]:
        """Store a new job in ``board_key``, created and updated now; a copy of it (``indexed`` as for profiles)."""
        with self._lock:
            if board_key not in self._boards:
                raise KeyError(board_key)
            index = sum(1 for j in self._jobs.values() if j["board"]["key"] == board_key)
            stamp = self._now_stamp()
            job = self._make_job(board_key, index, stamp)
            job.update(overrides)
            if not indexed:
                self._unindexed.add(job["key"])
            self._store_job(job)
            return copy.deepcopy(job)

    def touch_job(self, key: str) -> dict[str, Any]:
        """Set a job's ``updated_at`` to now (later than any other); a copy of it."""
        with self._lock:
            job = self._jobs[key]
            job["updated_at"] = self._now_stamp()
            return copy.deepcopy(job)

    def reset_calls(self) -> None:
        """Forget ``calls``, ``call_log``, ``answer_log``, the pages answered and ``max_in_flight``."""
        with self._lock:
            self.calls.clear()
            self.call_log.clear()
            self.answer_log.clear()
            self._answered.clear()
            self.max_in_flight = self.in_flight

    # ------------------------------------------------------------------ HTTP

    #: The tap's settings block this vendor answers.
    source = "hrflow"

    def tap_settings(self, base_url: str) -> dict[str, Any]:
        """What the tap needs to talk to this vendor at ``base_url``: every source and board."""
        return {
            "base_url": base_url,
            "api_key": self.api_key,
            "user_email": self.user_email,
            "source_keys": sorted(self.source_keys()),
            "board_keys": sorted(self.board_keys()),
        }

    def hold_page(
        self,
        path: str,
        page: int,
        *,
        until_answered: int | None = None,
        until_in_flight: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        """Test knob: page ``page`` of the list at ``path`` is answered only once its page
        ``until_answered`` was, or once ``until_in_flight`` requests were being answered at the
        same time; after ``timeout`` seconds at the latest. Answers then complete out of order
        when pages are in flight side by side (and a client asking one at a time waits ``timeout``)."""
        with self._lock:
            self._holds[(path, page)] = _Hold(until_answered, until_in_flight, timeout)

    def handle(self, request: Request) -> Response:
        """Answer one request (the server has stripped ``/hrflow``), counting the requests in flight."""
        arg = request.arg("page") or ""
        page = int(arg) if arg.isdigit() else None
        awaited: threading.Event | None = None
        with self._in_flight_changed:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._in_flight_changed.notify_all()
            hold = self._holds.get((request.path, page)) if page is not None else None
            if hold is not None and hold.in_flight is not None:
                crowd = hold.in_flight
                self._in_flight_changed.wait_for(lambda: self.max_in_flight >= crowd, hold.timeout)
            if hold is not None and hold.answered is not None:
                awaited = self._answered.setdefault((request.path, hold.answered), threading.Event())
        try:
            if hold is not None and awaited is not None:
                awaited.wait(hold.timeout)
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1
                if page is not None:
                    self.answer_log.append((request.path, page))
                    self._answered.setdefault((request.path, page), threading.Event()).set()

    def _answer(self, request: Request) -> Response:
        fault = self.faults.take(request)
        with self._lock:
            self.calls[request.path] += 1
            self.call_log.append((request.path, {name: values[0] for name, values in request.query.items()}))
        injected = Faults.status_response(fault)
        if injected is not None:
            return injected
        if fault is not None and fault.kind is not None and fault.kind not in BODY_FAULT_KINDS:
            msg = f"unknown HrFlow fault kind {fault.kind!r}; known: {BODY_FAULT_KINDS}"
            raise ValueError(msg)
        kind = fault.kind if fault is not None else None
        if kind == "body_code":
            code = _int_param(fault, "code", 500)
            return Faults.apply(fault, _encode(200, _envelope(code, "Internal error", {}, None)))
        if kind == "not_json":
            status = _int_param(fault, "status", 200)
            html = Response(status=status, body=b"<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
            return Faults.apply(fault, html)
        served = self.attachments.answer(request)  # the attachment listing and the files it points at
        if served is not None:
            return Faults.apply(fault, served)
        try:
            status, payload = 200, self._route(request)
        except _ApiError as error:
            status, payload = error.status, _envelope(error.code, error.message, {}, None)
        if kind == "lie_meta" and payload["code"] == 200:
            _lie_meta(payload, fault)
        if kind == "duplicate" and payload["code"] == 200:
            self._duplicate(request, payload)
        if kind == "short_max_page" and payload["code"] == 200:
            _short_max_page(payload, request, fault)
        if kind == "empty_page" and payload["code"] == 200:
            _empty_page(payload)
        if kind == "no_total" and payload["code"] == 200:
            payload["meta"].pop("total", None)
        marked = kind == "non_utf8" and payload["code"] == 200 and _mark_non_utf8(payload)
        response = _encode(status, payload)
        if marked:
            assert isinstance(response.body, bytes)
            response.body = response.body.replace(_NON_UTF8_MARKER.encode(), NON_UTF8_BYTES, 1)
            response.headers["Content-Length"] = str(len(response.body))
        return Faults.apply(fault, response)

    def _duplicate(self, request: Request, payload: dict[str, Any]) -> None:
        """Page p > 1 starts with the last item of page p - 1 again, as when an item moved
        between two page requests (the "duplicate" fault)."""
        page = request.arg("page", "1") or "1"
        if not page.isdigit() or int(page) < 2:
            return
        previous = dataclasses.replace(request, query={**request.query, "page": [str(int(page) - 1)]})
        before = _page_items(self._route(previous))
        items = _page_items(payload)
        if before and items is not None:
            items.insert(0, before[-1])

    def _route(self, request: Request) -> dict[str, Any]:
        routes = {
            "/profiles/searching": self._search_profiles,
            "/jobs/searching": self._search_jobs,
            "/storing/profiles": self._store_profiles,
            "/storing/jobs": self._store_jobs,
            "/sources": self._list_sources,
            "/boards": self._list_boards,
            "/auth": self._auth,
            **self.activity.routes(),
        }
        handler = routes.get(request.path)
        if handler is None:
            raise _ApiError(404, f"Not Found: {request.path}", status=404)
        if request.method != "GET":
            raise _ApiError(405, f"Method {request.method} not allowed on {request.path}", status=405)
        self._check_auth(request)
        with self._lock:
            return handler(request)

    def _check_auth(self, request: Request) -> None:
        if request.headers.get("X-API-KEY") != self.api_key or request.headers.get("X-USER-EMAIL") != self.user_email:
            raise _ApiError(401, "Unauthorized")

    def _profile_indexed(self, profile: dict[str, Any]) -> bool:
        """Whether the Searching API lists ``profile``."""
        return profile["key"] not in self._unindexed and _searchable(profile)

    def _job_indexed(self, job: dict[str, Any]) -> bool:
        """Whether the Searching API lists ``job``."""
        return job["key"] not in self._unindexed

    def _check_searching(self) -> None:
        if not self.searching_api:
            raise _ApiError(403, SEARCHING_OFF_MESSAGE)

    def _search_profiles(self, request: Request) -> dict[str, Any]:
        self._check_searching()
        args = _args(request, {"source_keys", "page", "limit", "sort_by", "order_by"})
        keys = _keys(args, "source_keys", self._sources, "Source")
        page, limit = _paging(args, self.max_limit)
        sort_by, order_by = _sorting(args)
        items = [p for p in self._profiles.values() if p["source"]["key"] in keys and self._profile_indexed(p)]
        items.sort(key=lambda p: (p[sort_by], p["key"]), reverse=order_by == "desc")
        chunk, meta = _page(items, page, limit)
        return _envelope(200, "Profile's searching results", meta, {"profiles": chunk})

    def _search_jobs(self, request: Request) -> dict[str, Any]:
        self._check_searching()
        args = _args(request, {"board_keys", "page", "limit", "sort_by", "order_by"})
        keys = _keys(args, "board_keys", self._boards, "Board")
        page, limit = _paging(args, self.max_limit)
        sort_by, order_by = _sorting(args)
        items = [j for j in self._jobs.values() if j["board"]["key"] in keys and self._job_indexed(j)]
        items.sort(key=lambda j: (j[sort_by], j["key"]), reverse=order_by == "desc")
        chunk, meta = _page(items, page, limit)
        return _envelope(200, "Job searching list", meta, {"jobs": chunk})

    def _store_profiles(self, request: Request) -> dict[str, Any]:
        return self._storing_list(request, self._profiles, "source", "return_profile", "List of profiles")

    def _store_jobs(self, request: Request) -> dict[str, Any]:
        return self._storing_list(request, self._jobs, "board", "return_job", "List of jobs")

    def _storing_list(
        self, request: Request, stored: dict[str, dict[str, Any]], container: str, flag: str, message: str
    ) -> dict[str, Any]:
        """A Storing API list: every stored object of the containers, ``data`` the list itself."""
        keys_name = f"{container}_keys"
        args = _args(request, {keys_name, flag, "page", "limit", "sort_by", "order_by", *STORING_FILTERS})
        known = self._sources if container == "source" else self._boards
        missing = f"Invalid parameters. Unable to find object: {container}"  # the SDK's docstring
        keys = _keys(args, keys_name, known, container.capitalize(), missing_message=missing)
        full = _boolean(args, flag)
        page, limit = _paging(args, self.max_limit)
        sort_by, order_by = _sorting(args)
        wanted = _storing_filter(args)
        items = [item for item in stored.values() if item[container]["key"] in keys and wanted(item)]
        items.sort(key=lambda item: (item[sort_by], item["key"]), reverse=order_by == "desc")
        chunk, meta = _page(items, page, limit)
        if not full:
            chunk = [{name: item.get(name) for name in STORING_SUMMARY_FIELDS} for item in chunk]
        return _envelope(200, message, meta, chunk)

    def _auth(self, request: Request) -> dict[str, Any]:
        """``GET /auth``, "Try your API Keys" (``hrflow/auth/__init__.py`` of the SDK): no parameter."""
        _args(request, set())
        return _envelope(200, "Your API Key is valid", None, {"user_email": self.user_email})

    def _list_sources(self, request: Request) -> dict[str, Any]:
        counts = Counter(p["source"]["key"] for p in self._profiles.values())
        return self._list_containers(request, self._sources, counts, "Source list")

    def _list_boards(self, request: Request) -> dict[str, Any]:
        counts = Counter(j["board"]["key"] for j in self._jobs.values())
        return self._list_containers(request, self._boards, counts, "Board list")

    def _list_containers(
        self, request: Request, containers: dict[str, dict[str, Any]], counts: Counter[str], message: str
    ) -> dict[str, Any]:
        args = _args(request, {"name", "page", "limit", "sort_by", "order_by"})
        page, limit = _paging(args, self.max_limit)
        sort_by = args.get("sort_by", "date")
        order_by = args.get("order_by", "desc")
        if sort_by not in CONTAINER_SORT_FIELDS:
            raise _ApiError(400, f"sort_by must be one of {', '.join(CONTAINER_SORT_FIELDS)}, got {sort_by!r}")
        if order_by not in ORDERS:
            raise _ApiError(400, f"order_by must be one of {', '.join(ORDERS)}, got {order_by!r}")
        name = (args.get("name") or "").casefold()
        items = [c for c in containers.values() if name in c["name"].casefold()]
        items.sort(key=lambda c: (c["created_at"], c["key"]), reverse=order_by == "desc")
        chunk, meta = _page(items, page, limit)
        for item in chunk:
            item["stats"] = {"size": str(counts[item["key"]])}
        return _envelope(200, message, meta, chunk)

    # ------------------------------------------------------------------ data

    def _now_stamp(self) -> str:
        """Now, or one second after the latest stamp handed out when that is later."""
        moment = max(datetime.now(UTC).replace(microsecond=0), self._last_moment + timedelta(seconds=1))
        return self._claim(moment)

    def _claim(self, moment: datetime) -> str:
        """The stamp of ``moment``, pushed forward until no other object holds it."""
        while format_stamp(moment) in self._used_stamps:
            moment += timedelta(seconds=1)
        stamp = format_stamp(moment)
        self._used_stamps.add(stamp)
        self._last_moment = max(self._last_moment, moment)
        return stamp

    def _random_moment(self) -> datetime:
        return _EPOCH + timedelta(seconds=self._rng.randrange(_SPAN_SECONDS))

    def _stamps(self, previous_created: str | None) -> tuple[str, str]:
        """created_at and updated_at of a generated object; updated_at is unique."""
        rng = self._rng
        if previous_created is not None and rng.random() < 0.15:
            created = parse_stamp(previous_created)  # a created_at tie, for the key tie-break
        else:
            created = self._random_moment()
        updated = created if rng.random() < 0.2 else created + timedelta(seconds=rng.randrange(1, 400 * 86400))
        return format_stamp(created), self._claim(updated)

    def _new_key(self) -> str:
        return f"{self._rng.getrandbits(160):040x}"

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _user(self) -> dict[str, Any]:
        return {
            "avatarUrl": "/images/user.png",
            "email": self.user_email,
            "firstName": None,
            "id": 7,
            "lastName": None,
            "locale": "english",
            "phone": None,
            "position": None,
            "pseudo": None,
        }

    def _container(
        self, key: str, name: str, kind: str, subtype: str, index: int, *, environment: str
    ) -> dict[str, Any]:
        created = _EPOCH - timedelta(days=400 - 20 * index, seconds=self._rng.randrange(86400))
        updated = created + timedelta(days=self._rng.randrange(1, 60))
        container = {
            "archive": None,
            "consent": False,
            "consent_url": None,
            "created_at": format_stamp(created),
            "description": f"{name} ({kind}/{subtype})" if self._rng.random() < 0.7 else None,
            "id": self._new_id(),
            "key": key,
            "members": [self.user_email],
            "name": name,
            "notification": False,
            "private": False,
            "stats": {"size": "0"},
            "status": True,
            "subtype": subtype,
            "type": kind,
            "updated_at": format_stamp(updated),
            "user": self._user(),
        }
        if self.shape == "current":
            container["environment"] = environment  # the SDK models' Board / Source
        return container

    def _container_ref(self, container: dict[str, Any]) -> dict[str, Any]:
        """A profile's ``source`` / a job's ``board``: ``{key, name}``, plus type, subtype and
        environment in the current shape."""
        names = ("key", "name") if self.shape == "seed" else ("key", "name", "type", "subtype", "environment")
        return {name: container[name] for name in names}

    def _store_profile(self, profile: dict[str, Any]) -> None:
        self._profiles[profile["key"]] = profile

    def _store_job(self, job: dict[str, Any]) -> None:
        self._jobs[job["key"]] = job

    def _last_created(self, items: dict[str, dict[str, Any]], field: str, container: str) -> str | None:
        for item in reversed(items.values()):
            if item[field]["key"] == container:
                return item["created_at"]
        return None

    def _make_profile(self, source_key: str, index: int, stamp: str | None) -> dict[str, Any]:
        rng = self._rng
        key = self._new_key()
        if stamp is None:
            created_at, updated_at = self._stamps(self._last_created(self._profiles, "source", source_key))
        else:
            created_at = updated_at = stamp
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        city, lat, lng = rng.choice(_CITIES)
        email = f"{_ascii(first)}.{_ascii(last)}.{index}@mail.example.com".lower()
        phone = None if rng.random() < 0.25 else f"+33 6 {rng.randrange(10**8):08d}"
        current = self.shape == "current"
        if current:  # a value in every typed field; derived from the key, so the draws stay the same
            city, lat, lng = _located(city, lat, lng, key)
            phone = phone or _phone_from(key)
        skills = [{"name": n, "type": t, "value": None} for n, t in rng.sample(_SKILLS, rng.randrange(0, 6))]
        experiences = [self._experience(rng) for _ in range(rng.randrange(0, 4))]
        educations = [self._education(rng) for _ in range(rng.randrange(0, 3))]
        summary = f"{rng.choice(_TITLES)} with {rng.randrange(1, 20)} years of experience."
        if rng.random() < 0.2:
            summary += " Open to relocation 🚀"
        lines = [f"{first} {last}", email, phone or "", city, "", summary]
        lines += [f"{e['title']} — {e['company']}" for e in experiences]
        lines += [f"{e['title']}, {e['school']}" for e in educations]
        full_name = f"{first} {last}"
        profile = {
            "id": self._new_id(),
            "key": key,
            "reference": f"{source_key}-cand-{index:05d}",
            "archived_at": None,
            "created_at": created_at,
            "updated_at": updated_at,
            "text_language": "en",
            "text": "\n".join(lines),
            "info": {
                "full_name": full_name,
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone": phone,
                "date_birth": None,
                "gender": rng.choice((None, "female", "male")),
                "picture": None,
                "driving_license": rng.choice((None, "B")),
                "location": {
                    "text": city,
                    "lat": lat,
                    "lng": lng,
                    "fields": {"city": city.split(",")[0], "country": city.split(", ")[-1]} if lat else None,
                },
                "summary": summary,
                "urls": [
                    {
                        "type": "linkedin",
                        "url": f"https://www.linkedin.com/in/{_ascii(first).lower()}-{index}",
                    },
                    {"type": "github", "url": None},
                ],
            },
            "source": self._container_ref(self._sources[source_key]),
            "skills": skills,
            "languages": [{"name": n, "value": None} for n in rng.sample(_LANGUAGES, rng.randrange(1, 3))],
            "experiences": experiences,
            "experiences_duration": round(rng.uniform(0, 20), 2),
            "educations": educations,
            "educations_duration": round(rng.uniform(0, 6), 2),
            "interests": [],
            "labels": [],
            "tags": [
                {"name": "archive", "value": False},
                {"name": "pipeline_stage", "value": rng.choice(_STAGES)},
                {"name": "score", "value": rng.randrange(0, 100)},
            ],
            "metadatas": [{"name": "ats_id", "value": f"ATS-{rng.randrange(10**6):06d}"}],
            "attachments": self._attachments(rng, key, created_at),
            "consent_algorithmic": {
                "owner": {"parsing": True, "revealing": False, "embedding": True, "searching": True},
                "controller": {"parsing": True, "revealing": False, "embedding": True, "searching": True},
            },
        }
        if current:
            profile["source_key"] = source_key
            _values_as_text(profile, ("skills", "languages", "tags", "metadatas"))
            for attachment in profile["attachments"]:
                # tests/utils/schemas.py says int, hrflow/schemas.py str: digits satisfy both.
                attachment["file_size"] = str(attachment["file_size"])
        return profile

    def _experience(self, rng: random.Random) -> dict[str, Any]:
        start = self._random_moment() - timedelta(days=2000)
        end = None if rng.random() < 0.3 else start + timedelta(days=rng.randrange(90, 1500))
        city, lat, lng = rng.choice(_CITIES)
        return {
            "key": self._new_key(),
            "company": rng.choice(_COMPANIES),
            "title": rng.choice(_TITLES),
            "description": "Built and ran things; mentored juniors.",
            "location": {"text": city, "lat": lat, "lng": lng},
            "date_start": format_stamp(start),
            "date_end": format_stamp(end) if end else None,
            "skills": [{"name": n, "type": t, "value": None} for n, t in rng.sample(_SKILLS, 2)],
            "tasks": [],
            "certifications": [],
            "courses": [],
        }

    def _education(self, rng: random.Random) -> dict[str, Any]:
        start = self._random_moment() - timedelta(days=4000)
        return {
            "key": self._new_key(),
            "school": rng.choice(_SCHOOLS),
            "title": rng.choice(("MSc Computer Science", "BA Economics", "Diplôme d'ingénieur", "Nursing degree")),
            "description": None,
            "location": {"text": None, "lat": None, "lng": None},
            "date_start": format_stamp(start),
            "date_end": format_stamp(start + timedelta(days=rng.randrange(365, 1900))),
            "skills": [],
            "tasks": [],
            "certifications": [],
            "courses": [],
        }

    def _attachments(self, rng: random.Random, key: str, created_at: str) -> list[dict[str, Any]]:
        if rng.random() < 0.2:
            return []
        return [
            {
                "type": "resume",
                "alt": key,
                "file_size": rng.randrange(20_000, 900_000),
                "file_name": f"{key}.pdf",
                "original_file_name": "CV final (2).pdf",
                "extension": ".pdf",
                "public_url": f"https://riminder-documents.s3.eu-west-1.amazonaws.com/teams/x/sources/{key}.pdf",
                "created_at": created_at,
                "updated_at": None,
            }
        ]

    def _make_job(self, board_key: str, index: int, stamp: str | None) -> dict[str, Any]:
        rng = self._rng
        key = self._new_key()
        if stamp is None:
            created_at, updated_at = self._stamps(self._last_created(self._jobs, "board", board_key))
        else:
            created_at = updated_at = stamp
        title = rng.choice(_TITLES)
        city, lat, lng = rng.choice(_CITIES)
        current = self.shape == "current"
        if current:
            city, lat, lng = _located(city, lat, lng, key)
        low = rng.randrange(25, 70)
        start = self._random_moment()
        job = {
            "id": self._new_id(),
            "key": key,
            "reference": f"{board_key}-job-{index:05d}" if rng.random() < 0.9 else None,
            "name": title,
            "agent_key": None,
            "url": rng.choice(("", None, f"https://careers.example.com/jobs/{index}")),
            "summary": f"As a {title} you will design, build and evolve our platform. Équipe à {city}.",
            "archived_at": None,
            "location": self._job_location(city, lat, lng),
            "sections": [
                {"name": "profile", "title": "Searched Profile", "description": "Bac+5"},
                {"name": "mission", "title": "Mission", "description": "Ship reliable data pipelines."},
            ],
            "culture": None,
            "benefits": rng.choice((None, "Remote friendly; 25 days off")),
            "responsibilities": None,
            "requirements": None,
            "interviews": None,
            "skills": [
                {"name": n, "type": t, "value": rng.choice((None, 0.5, 0.9))} for n, t in rng.sample(_SKILLS, 3)
            ],
            "languages": [{"name": n, "value": 1} for n in rng.sample(_LANGUAGES, rng.randrange(1, 3))],
            "certifications": [],
            "courses": [],
            "tasks": [],
            "tags": [
                {"name": "archive", "value": False},
                {"name": "contract", "value": rng.choice(("CDI", "CDD"))},
            ],
            "ranges_date": [
                {
                    "name": "Dates",
                    "value_min": start.strftime("%Y-%m-%dT%H:%M"),
                    "value_max": (start + timedelta(days=120)).strftime("%Y-%m-%dT%H:%M"),
                }
            ],
            "ranges_float": [{"name": "salary", "value_min": low, "value_max": low + 10, "unit": "eur"}],
            "metadatas": [{"name": "metadata example", "value": "metadata"}],
            "created_at": created_at,
            "updated_at": updated_at,
            "board": self._container_ref(self._boards[board_key]),
        }
        if current:
            job["board_key"] = board_key
            job["reference"] = job["reference"] or f"{board_key}-job-{index:05d}"
            job["url"] = job["url"] or f"https://careers.example.com/jobs/{board_key}/{index}"
            _values_as_text(job, ("skills", "languages", "tags", "metadatas"))
        return job

    def _job_location(self, text: str, lat: float | None, lng: float | None) -> dict[str, Any]:
        """``{text, geopoint: {lat, lon}}`` (the README's) or ``{text, lat, lng}`` (the SDK models')."""
        if self.job_location == "latlng":
            return {"text": text, "lat": lat, "lng": lng}
        return {"text": text, "geopoint": {"lat": lat, "lon": lng} if lat is not None else None}


# ---------------------------------------------------------------------- helpers


def _ascii(text: str) -> str:
    """A rough ASCII form of a name, for email addresses."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L").replace("ø", "o"))
    return re.sub(r"[^A-Za-z]", "", folded.encode("ascii", "ignore").decode())


def _located(city: str, lat: float | None, lng: float | None, key: str) -> tuple[str, float, float]:
    """The place itself when it has coordinates, else a city picked from ``key`` (no RNG draw)."""
    if lat is not None and lng is not None:
        return city, lat, lng
    placed = [c for c in _CITIES if c[1] is not None]
    city, lat, lng = placed[int(key[:8], 16) % len(placed)]
    assert lat is not None
    assert lng is not None
    return city, lat, lng


def _phone_from(key: str) -> str:
    return f"+33 7 {int(key[-8:], 16) % 10**8:08d}"


def _as_text(value: Any) -> str | None:
    """A tag / skill / language value as the SDK models type it (``Optional[str]``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values_as_text(item: dict[str, Any], fields: tuple[str, ...]) -> None:
    for field in fields:
        for entity in item.get(field) or []:
            entity["value"] = _as_text(entity.get("value"))


def _searchable(profile: dict[str, Any]) -> bool:
    """The SDK's ``hrflow.utils.searching.is_valid_for_searching``: a text, and an e-mail, a first
    and last name, or half of eight info fields filled."""
    info = profile.get("info") or {}
    filled = ("first_name", "last_name", "phone", "date_birth", "gender", "summary", "urls")
    score = sum(1 for name in filled if info.get(name)) + (info.get("location") is not None)
    person = info.get("first_name") and info.get("last_name")
    return bool(profile.get("text")) and bool(info.get("email") or person or score / 8 >= 0.5)


def _int_param(fault: Fault | None, name: str, default: int) -> int:
    value = default if fault is None else fault.params.get(name, default)
    if not isinstance(value, int):
        msg = f"fault param {name!r} must be an int, got {value!r}"
        raise TypeError(msg)
    return value


def _envelope(code: int, message: str, meta: dict[str, Any], data: object) -> dict[str, Any]:
    return {"code": code, "message": message, "meta": meta, "data": data}


def _encode(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status=status, body=body, headers={"Content-Type": "application/json"})


def _args(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query parameters, each given at most once and all of them known."""
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise _ApiError(400, f"Unknown query parameter(s): {', '.join(unknown)}")
    repeated = sorted(name for name, values in request.query.items() if len(values) > 1)
    if repeated:
        raise _ApiError(400, f"Query parameter(s) given more than once: {', '.join(repeated)}")
    return {name: values[0] for name, values in request.query.items()}


def _keys(
    args: dict[str, str], name: str, known: dict[str, Any], label: str, *, missing_message: str | None = None
) -> set[str]:
    raw = args.get(name)
    if raw is None:
        raise _ApiError(400, f"{name} is required")
    try:
        keys = json.loads(raw)
    except ValueError:
        raise _ApiError(400, f"{name} must be a JSON-encoded list of keys, got {raw!r}") from None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise _ApiError(400, f"{name} must be a non-empty JSON list of strings, got {raw!r}")
    missing = [k for k in keys if k not in known]
    if missing:
        raise _ApiError(400, missing_message or f"{label} key(s) not found or not allowed: {', '.join(missing)}")
    return set(keys)


def _positive(args: dict[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise _ApiError(400, f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def _paging(args: dict[str, str], max_limit: int) -> tuple[int, int]:
    page = _positive(args, "page", 1)
    limit = _positive(args, "limit", DEFAULT_LIMIT)
    if page < 1:
        raise _ApiError(400, f"page must be >= 1, got {page}")
    if not 1 <= limit <= max_limit:
        raise _ApiError(400, f"limit must be between 1 and {max_limit}, got {limit}")
    return page, limit


def _sorting(args: dict[str, str]) -> tuple[str, str]:
    sort_by = args.get("sort_by", "created_at")
    order_by = args.get("order_by", "desc")
    if sort_by not in SORT_FIELDS:
        raise _ApiError(400, f"sort_by must be one of {', '.join(SORT_FIELDS)}, got {sort_by!r}")
    if order_by not in ORDERS:
        raise _ApiError(400, f"order_by must be one of {', '.join(ORDERS)}, got {order_by!r}")
    return sort_by, order_by


def _boolean(args: dict[str, str], name: str) -> bool:
    """A boolean query parameter: ``true`` / ``false`` in any case (requests sends Python's
    ``True``), or ``1`` / ``0``; absent is false."""
    raw = args.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise _ApiError(400, f"{name} must be a boolean, got {raw!r}")


def _number(args: dict[str, str], name: str, low: float, high: float) -> float:
    raw = args[name]
    try:
        value = float(raw)
    except ValueError:
        raise _ApiError(400, f"{name} must be a number, got {raw!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise _ApiError(400, f"{name} must be between {low:g} and {high:g}, got {raw!r}")
    return value


def _day(args: dict[str, str], name: str) -> str | None:
    """A ``YYYY-MM-DD`` date parameter (the SDK's documented format), or None."""
    raw = args.get(name)
    if raw is None:
        return None
    problem = _ApiError(400, f"{name} must be a date YYYY-MM-DD, got {raw!r}")
    if not re.fullmatch(r"\d{4}-\d\d-\d\d", raw):
        raise problem
    try:
        datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise problem from None
    return raw


def _point(item: dict[str, Any]) -> tuple[float, float] | None:
    """A profile's ``info.location`` or a job's ``location`` coordinates (``lat/lng`` or ``geopoint``)."""
    location = (item.get("info") or {}).get("location") if "info" in item else item.get("location")
    location = location or {}
    point = location.get("geopoint") or {}
    lat = location.get("lat", point.get("lat"))
    lng = location.get("lng", point.get("lon"))
    return (lat, lng) if lat is not None and lng is not None else None


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in kilometres."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _storing_filter(args: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """The Storing API's filters: name (substring, any case, of the full name or job name), key,
    reference, a radius around a point, and created_at days (both ends included)."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for name in ("name", "key", "reference"):
        if args.get(name) == "":
            raise _ApiError(400, f"{name} must not be empty")
    if "name" in args:
        needle = args["name"].casefold()
        checks.append(lambda i: needle in str((i.get("info") or {}).get("full_name") or i.get("name") or "").casefold())
    if "key" in args:
        checks.append(lambda i: i["key"] == args["key"])
    if "reference" in args:
        checks.append(lambda i: i.get("reference") == args["reference"])
    spatial = ("location_lat", "location_lon", "location_dist")
    given = [name for name in spatial if name in args]
    if given and len(given) < len(spatial):
        raise _ApiError(400, "location_lat, location_lon and location_dist go together")
    if given:
        centre = (_number(args, "location_lat", -90, 90), _number(args, "location_lon", -180, 180))
        radius = _number(args, "location_dist", 0, 20_040)
        checks.append(lambda i: (p := _point(i)) is not None and _km(p, centre) <= radius)
    first, last = _day(args, "created_at_min"), _day(args, "created_at_max")
    if first is not None:
        checks.append(lambda i: i["created_at"][:10] >= first)
    if last is not None:
        checks.append(lambda i: i["created_at"][:10] <= last)
    return lambda item: all(check(item) for check in checks)


def _page(items: list[dict[str, Any]], page: int, limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The deep-copied items of 1-based ``page`` and the meta block."""
    chunk = copy.deepcopy(items[(page - 1) * limit : page * limit])
    total = len(items)
    meta = {"page": page, "maxPage": math.ceil(total / limit), "count": len(chunk), "total": total}
    return chunk, meta


def _page_items(payload: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The item list of an answer: ``data``, or ``data.profiles`` / ``data.jobs``."""
    data = payload.get("data")
    if isinstance(data, dict):
        data = data.get("profiles", data.get("jobs"))
    return data if isinstance(data, list) else None


def _lie_meta(payload: dict[str, Any], fault: Fault | None) -> None:
    """Claim more pages and items than there are (a stale search index)."""
    extra = _int_param(fault, "extra_pages", 3)
    meta = payload["meta"]
    per_page = max(meta["count"], 1)
    meta["maxPage"] += extra
    meta["total"] += extra * per_page


def _short_max_page(payload: dict[str, Any], request: Request, fault: Fault | None) -> None:
    """Say fewer pages (and, with params["total"], fewer items) than there are: a stale count."""
    page = request.arg("page", "1") or "1"
    meta = payload["meta"]
    meta["maxPage"] = _int_param(fault, "max_page", int(page) if page.isdigit() else 1)
    if fault is not None and "total" in fault.params:
        meta["total"] = _int_param(fault, "total", meta["total"])


def _empty_page(payload: dict[str, Any]) -> None:
    """Drop the page's items, its meta unchanged but ``count``: a page that comes back empty once."""
    data = payload["data"]
    if isinstance(data, dict):
        for name in ("profiles", "jobs"):
            if isinstance(data.get(name), list):
                data[name] = []
    elif isinstance(data, list):
        payload["data"] = []
    payload["meta"]["count"] = 0


def _mark_non_utf8(payload: dict[str, Any]) -> bool:
    """Put the marker into the first item's text field (a profile's text, a job's summary, a
    source's name, else its key); False when the page is empty."""
    items = _page_items(payload)
    if not items:
        return False
    first = items[0]
    field = next(name for name in ("text", "summary", "name", "key") if isinstance(first.get(name), str))
    first[field] = f"{first[field]} {_NON_UTF8_MARKER}"
    return True
