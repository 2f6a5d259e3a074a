"""HrFlow trackings and ratings for the emulator: ``GET /trackings`` and ``GET /ratings``.

Wired into :class:`~tests.emulator.hrflow.HrflowEmulator` as ``vendor.activity``. Both lists
are served as HrFlow's own Python SDK asks for them (``Riminder/python-hrflow-api``, hrflow 4.3):

* ``hrflow/tracking/__init__.py``: ``Tracking.get`` sends every argument that is not None
  (``role`` required; ``actions``, ``source_keys`` / ``source_key`` + ``profile_key`` |
  ``profile_reference``, ``board_keys`` / ``board_key`` + ``job_key`` | ``job_reference``,
  ``return_profile``, ``return_author``, ``page`` (1), ``limit`` (30), ``order_by`` ("desc"),
  ``sort_by`` ("scoring"), ``created_at_min`` / ``created_at_max``, and the profile filters
  ``location_lat`` / ``location_lon`` / ``location_distance``, ``use_location_address`` /
  ``_experience`` / ``_education``, ``experiences_duration_min`` / ``_max``,
  ``educations_duration_min`` / ``_max``) to ``GET trackings``; ``hrflow/rating/__init__.py``:
  ``Rating.get``, the same but ``actions``, to ``GET ratings``.
* ``hrflow/hrflow.py``: ``Hrflow.get`` JSON-encodes list arguments (``_validate_args``:
  ``source_keys=["a"]`` goes as ``source_keys=%5B%22a%22%5D``) and ``requests`` sends booleans
  as Python writes them (``return_profile=False``).
* ``hrflow/core/validation.py``: the ``sort_by`` values (``SORT_BY_VALUES``: created_at,
  updated_at, location, location_experience, location_education, searching, scoring), the
  ``order_by`` values (asc, desc), and ``validate_response``, which reads an answer only when its
  ``Content-Type`` is exactly ``application/json``.
* The SDK's docstrings: ``role`` is one of recruiter, candidate, employee, manager; a list of
  profiles is asked by ``source_keys`` (leaving ``source_key`` and the profile empty), one
  profile by ``source_key`` and ``profile_key`` or ``profile_reference``; jobs likewise by
  ``board_keys`` or ``board_key`` + ``job_key`` | ``job_reference``. ``Tracking.post`` /
  ``Rating.post`` give the fields a tracking or rating is made of: ``action`` (a stage id such as
  view, apply, hire) or ``score`` (0 to 1), ``role``, ``source_key``, ``board_key``,
  ``profile_key`` / ``profile_reference``, ``job_key`` / ``job_reference``, ``author_email``,
  ``comment``, ``created_at``; dates elsewhere in the SDK (``created_at_min``) are "YYYY-MM-DD".

Our guesses, where neither the SDK nor a public page says: the items are the posted fields
plus an ``id`` and a 40-hex ``key`` as every other HrFlow object has (``keyed = False`` serves
them without either, for a tap that must then derive an identity); timestamps in HrFlow's
``2020-07-22T09:11:32+0000`` form; ``created_at_min`` / ``created_at_max`` are UTC days, both
ends included, compared with the item's own ``created_at``; ``sort_by=created_at`` (and
``updated_at``: the items have no other date) sorts by it, ``scoring`` by the rating's score
(trackings: storage order), the location and searching sorts keep storage order; ties are broken
by key. Both sides given (``source_keys`` and ``board_keys``) means both must match. Errors are
HrFlow's: HTTP 200 with ``code`` 400 in the body (a missing or unknown role, a malformed or
unknown parameter, an unknown source or board, no profile or job side at all); an empty result
is a ``code`` 200 answer with an empty list.

The data is generated deterministically from the vendor's seed, after its profiles and jobs
(its own random draws are left alone): a few trackings and about one rating for every other
profile, on jobs of every board, in all four roles (mostly recruiter), created between 2019
and the end of 2025, one in ten at the same second as the one before (ties).
:meth:`HrflowActivity.add_tracking` / :meth:`HrflowActivity.add_rating` add one between runs,
at any ``created_at`` (an instant already used included).
"""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from tests.emulator import hrflow as hf

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.emulator.hrflow import HrflowEmulator
    from tests.emulator.server import Request

ROLES = ("recruiter", "candidate", "employee", "manager")
ACTIONS = ("view", "apply", "screening", "interview", "offer", "hire", "reject")
KINDS = ("trackings", "ratings")
#: ``hrflow/core/validation.py``'s ``SORT_BY_VALUES`` and ``ORDER_BY_VALUES`` (None: not sent).
SORT_BY_VALUES = (
    "created_at",
    "updated_at",
    "location",
    "location_experience",
    "location_education",
    "searching",
    "scoring",
)
#: The arguments of ``Rating.get``; ``Tracking.get`` takes ``actions`` too.
RATING_PARAMS = frozenset(
    {
        "role",
        "source_keys",
        "source_key",
        "profile_key",
        "profile_reference",
        "board_keys",
        "board_key",
        "job_key",
        "job_reference",
        "return_profile",
        "return_author",
        "page",
        "limit",
        "order_by",
        "sort_by",
        "created_at_min",
        "created_at_max",
        "location_lat",
        "location_lon",
        "location_distance",
        "use_location_address",
        "use_location_experience",
        "use_location_education",
        "experiences_duration_min",
        "experiences_duration_max",
        "educations_duration_min",
        "educations_duration_max",
    }
)
TRACKING_PARAMS = RATING_PARAMS | {"actions"}
PARAMS = {"trackings": TRACKING_PARAMS, "ratings": RATING_PARAMS}
MESSAGES = {"trackings": "List of trackings", "ratings": "List of ratings"}
#: Who records an action or a rating, by role (a candidate: the profile's own email).
_AUTHORS = {
    "recruiter": ("claire.recruiter@example.com", "omar.recruiter@example.com", "ines.talent@example.com"),
    "employee": ("referrer.jo@example.com", "referrer.li@example.com"),
    "manager": ("hiring.manager@example.com", "cto@example.com"),
}
_COMMENTS = (None, None, "Strong match", "Relance prévue — à recontacter", "No visa 🛂", "Great culture fit")
_SCORES = (0.2, 0.4, 0.6, 0.8, 1.0)
_START = datetime(2019, 1, 1, tzinfo=timezone.utc)
_SPAN_SECONDS = 7 * 365 * 86400  # to the end of 2025


class HrflowActivity:
    """The trackings and ratings of one :class:`HrflowEmulator` (``vendor.activity``)."""

    def __init__(self, vendor: HrflowEmulator) -> None:
        self.vendor = vendor
        #: False: items are served without ``id`` and ``key`` (the tap derives an identity).
        self.keyed = True
        self._rng = random.Random(f"hrflow-activity-{vendor.seed}")
        self._next_id = 50_000
        self._items: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        self._generate()

    # ------------------------------------------------------------------ test helpers

    def routes(self) -> dict[str, Callable[[Request], dict[str, Any]]]:
        """The paths this part answers, for the vendor's router."""
        return {"/trackings": self._list_trackings, "/ratings": self._list_ratings}

    def items(
        self, kind: str, role: str | None = None, *, source_keys: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the items of ``kind`` as served (of one role, of some sources), in storage order."""
        with self.vendor._lock:
            return [
                self._served(item)
                for item in self._items[kind]
                if (role is None or item["role"] == role) and (source_keys is None or item["source_key"] in source_keys)
            ]

    def trackings(self, role: str | None = None, *, source_keys: list[str] | None = None) -> list[dict[str, Any]]:
        """Copies of the trackings as served."""
        return self.items("trackings", role, source_keys=source_keys)

    def ratings(self, role: str | None = None, *, source_keys: list[str] | None = None) -> list[dict[str, Any]]:
        """Copies of the ratings as served."""
        return self.items("ratings", role, source_keys=source_keys)

    def latest(self, kind: str, role: str) -> str:
        """The greatest ``created_at`` of the items of ``kind`` in ``role`` (HrFlow's form)."""
        with self.vendor._lock:
            return max((item["created_at"] for item in self._items[kind] if item["role"] == role), key=hf.parse_stamp)

    def add_tracking(
        self, role: str = "recruiter", *, created_at: datetime | str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Store a new tracking (``created_at``: now by default; a stamp already used is fine); a copy as served."""
        return self._add("trackings", role, created_at, fields)

    def add_rating(
        self, role: str = "recruiter", *, created_at: datetime | str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Store a new rating (see :meth:`add_tracking`); a copy as served."""
        return self._add("ratings", role, created_at, fields)

    # ------------------------------------------------------------------ data

    def _generate(self) -> None:
        rng = self._rng
        profiles = list(self.vendor._profiles.values())
        jobs = list(self.vendor._jobs.values())
        if not jobs:
            return
        previous: datetime | None = None
        for profile in profiles:
            for kind, counts in (("trackings", (0, 1, 1, 2, 3)), ("ratings", (0, 0, 1, 1, 2))):
                for _ in range(rng.choice(counts)):
                    if previous is not None and rng.random() < 0.1:
                        moment = previous  # the same second as the item before: a tie
                    else:
                        moment = _START + timedelta(seconds=rng.randrange(_SPAN_SECONDS))
                    previous = moment
                    role = rng.choices(ROLES, weights=(6, 2, 1, 1))[0]
                    self._items[kind].append(self._make(kind, role, profile, rng.choice(jobs), moment))

    def _make(
        self, kind: str, role: str, profile: dict[str, Any], job: dict[str, Any], moment: datetime
    ) -> dict[str, Any]:
        rng = self._rng
        self._next_id += 1
        author = (profile.get("info") or {}).get("email") if role == "candidate" else rng.choice(_AUTHORS[role])
        item: dict[str, Any] = {"id": self._next_id, "key": f"{rng.getrandbits(160):040x}", "role": role}
        if kind == "trackings":
            item["action"] = rng.choice(ACTIONS)
        else:
            item["score"] = rng.choice(_SCORES)
        item.update(
            {
                "source_key": profile["source"]["key"],
                "profile_key": profile["key"],
                "profile_reference": profile.get("reference"),
                "board_key": job["board"]["key"],
                "job_key": job["key"],
                "job_reference": job.get("reference"),
                "author_email": author,
                "comment": rng.choice(_COMMENTS),
                "created_at": hf.format_stamp(moment),
            }
        )
        return item

    def _add(self, kind: str, role: str, created_at: datetime | str | None, fields: dict[str, Any]) -> dict[str, Any]:
        if role not in ROLES:
            raise ValueError(role)
        with self.vendor._lock:
            profile = next(iter(self.vendor._profiles.values()))
            job = next(iter(self.vendor._jobs.values()))
            if isinstance(created_at, str):
                created_at = (
                    hf.parse_stamp(created_at) if created_at.endswith("+0000") else datetime.fromisoformat(created_at)
                )
            moment = created_at or datetime.now(timezone.utc).replace(microsecond=0)
            item = self._make(kind, role, profile, job, moment)
            item.update(fields)
            self._items[kind].append(item)
            return self._served(item)

    def _served(self, item: dict[str, Any]) -> dict[str, Any]:
        served = copy.deepcopy(item)
        if not self.keyed:
            served.pop("id", None)
            served.pop("key", None)
        return served

    # ------------------------------------------------------------------ HTTP

    def _list_trackings(self, request: Request) -> dict[str, Any]:
        return self._list("trackings", request)

    def _list_ratings(self, request: Request) -> dict[str, Any]:
        return self._list("ratings", request)

    def _list(self, kind: str, request: Request) -> dict[str, Any]:
        """One page of the items of ``kind`` the query selects, sorted as asked (module docstring)."""
        args = hf._args(request, set(PARAMS[kind]))
        role = args.get("role")
        if role is None:
            raise hf._ApiError(400, "role is required")
        if role not in ROLES:
            raise hf._ApiError(400, f"role must be one of {', '.join(ROLES)}, got {role!r}")
        sides = [
            self._side(args, "source", self.vendor._sources, "profile"),
            self._side(args, "board", self.vendor._boards, "job"),
        ]
        if sides == [None, None]:
            raise hf._ApiError(400, "Give source_keys, board_keys, or a profile (source_key) or a job (board_key)")
        wanted = [lambda item: item["role"] == role, *sides]
        if kind == "trackings" and "actions" in args:
            actions = _string_list(args, "actions")
            wanted.append(lambda item: item["action"] in actions)
        first, last = hf._day(args, "created_at_min"), hf._day(args, "created_at_max")
        if first is not None:
            wanted.append(lambda item: item["created_at"][:10] >= first)
        if last is not None:
            wanted.append(lambda item: item["created_at"][:10] <= last)
        wanted.append(self._profile_filter(args))
        profile_flag, author_flag = hf._boolean(args, "return_profile"), hf._boolean(args, "return_author")
        page, limit = hf._paging(args, self.vendor.max_limit)
        sort_by, order_by = args.get("sort_by", "scoring"), args.get("order_by", "desc")
        if sort_by not in SORT_BY_VALUES:
            raise hf._ApiError(400, f"sort_by must be one of {', '.join(SORT_BY_VALUES)}, got {sort_by!r}")
        if order_by not in hf.ORDERS:
            raise hf._ApiError(400, f"order_by must be one of {', '.join(hf.ORDERS)}, got {order_by!r}")
        items = [item for item in self._items[kind] if all(check(item) for check in wanted if check is not None)]
        if sort_by in ("created_at", "updated_at"):
            items.sort(key=lambda item: (hf.parse_stamp(item["created_at"]), item["key"]), reverse=order_by == "desc")
        elif sort_by == "scoring" and kind == "ratings":
            items.sort(key=lambda item: (item["score"], item["key"]), reverse=order_by == "desc")
        chunk, meta = hf._page(items, page, limit)
        served = [self._served(item) for item in chunk]
        for item in served:
            if profile_flag:
                item["profile"] = copy.deepcopy(self.vendor._profiles.get(item["profile_key"]))
            if author_flag:
                item["author"] = {"email": item["author_email"], "firstName": None, "lastName": None}
        return hf._envelope(200, MESSAGES[kind], meta, served)

    def _side(
        self, args: dict[str, str], container: str, known: dict[str, Any], thing: str
    ) -> Callable[[dict[str, Any]], bool] | None:
        """The profile side (sources) or the job side (boards) of a query; None when not given."""
        many, one = f"{container}_keys", f"{container}_key"
        key, reference = args.get(f"{thing}_key"), args.get(f"{thing}_reference")
        if many in args:
            if one in args or key is not None or reference is not None:
                raise hf._ApiError(400, f"Give either {many} or {one} with a {thing}, not both")
            keys = hf._keys(args, many, known, container.capitalize())
            return lambda item: item[f"{container}_key"] in keys
        if one not in args:
            if key is not None or reference is not None:
                raise hf._ApiError(400, f"{thing}_key and {thing}_reference go with {one}")
            return None
        if args[one] not in known:
            raise hf._ApiError(400, f"Invalid parameters. Unable to find object: {container}")
        if (key is None) == (reference is None):
            raise hf._ApiError(400, f"{one} goes with one of {thing}_key and {thing}_reference")
        field, value = (f"{thing}_key", key) if key is not None else (f"{thing}_reference", reference)
        return lambda item: item[f"{container}_key"] == args[one] and item[field] == value

    def _profile_filter(self, args: dict[str, str]) -> Callable[[dict[str, Any]], bool] | None:
        """The filters on an item's profile: a radius around a point, experience and education years."""
        for name in ("use_location_address", "use_location_experience", "use_location_education"):
            hf._boolean(args, name)  # accepted (the location of the address is the only one kept here)
        checks: list[Callable[[dict[str, Any]], bool]] = []
        spatial = ("location_lat", "location_lon", "location_distance")
        given = [name for name in spatial if name in args]
        if given and len(given) < len(spatial):
            raise hf._ApiError(400, "location_lat, location_lon and location_distance go together")
        if given:
            centre = (hf._number(args, "location_lat", -90, 90), hf._number(args, "location_lon", -180, 180))
            radius = hf._number(args, "location_distance", 0, 20_040)
            checks.append(lambda p: (point := hf._point(p)) is not None and hf._km(point, centre) <= radius)
        for field in ("experiences_duration", "educations_duration"):
            for end, low in (("min", True), ("max", False)):
                name = f"{field}_{end}"
                if name in args:
                    bound = hf._number(args, name, 0, 100)
                    checks.append(_bounded(field, bound, low=low))
        if not checks:
            return None
        profiles = self.vendor._profiles

        def wanted(item: dict[str, Any]) -> bool:
            profile = profiles.get(item["profile_key"])
            return profile is not None and all(check(profile) for check in checks)

        return wanted


def _bounded(field: str, bound: float, *, low: bool) -> Callable[[dict[str, Any]], bool]:
    def check(profile: dict[str, Any]) -> bool:
        value = profile.get(field)
        return isinstance(value, (int, float)) and (value >= bound if low else value <= bound)

    return check


def _string_list(args: dict[str, str], name: str) -> list[str]:
    """A JSON-encoded, non-empty list of strings (as the SDK's client sends a list)."""
    raw = args[name]
    try:
        values = json.loads(raw)
    except ValueError:
        raise hf._ApiError(400, f"{name} must be a JSON-encoded list, got {raw!r}") from None
    if not isinstance(values, list) or not values or not all(isinstance(value, str) for value in values):
        raise hf._ApiError(400, f"{name} must be a non-empty JSON list of strings, got {raw!r}")
    return values
