"""Cegid Talentsoft Recruiting exports API, emulated (mounted at ``/ts``).

What the vendor documents (``shared/api-docs/talentsoft-exports-*.txt``), strictly:

- ``POST /api/token``: OAuth2 client credentials in a form-urlencoded body;
- ``GET /api/exports/v1/vacancies`` and ``/api/exports/v1/candidates``: a *framed
  stream*, each record a 4-byte little-endian length followed by that many bytes of a
  zip archive (entry ``offerdetail`` or ``applicantdetail`` holding the JSON document,
  plus one entry per candidate attachment, named by the attachment's id), paged with
  ``offset``/``limit``, the total in ``Content-Range``;
- ``GET /api/v1/referentials/{category}``: a JSON array.

The data is generated deterministically from ``seed``, one record at a time, and the
export bodies are generators that hold one frame at a time, so gigabytes of attachments
cost no more memory than the largest frame. Body-level faults (truncated frames, bad
zips, path traversal, zip bombs ...) are armed through ``self.faults`` with
``Fault(kind=...)``; see :data:`BODY_FAULT_KINDS`.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import secrets
import threading
import time
import unicodedata
import zipfile
from collections import Counter, OrderedDict
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs

from tests.emulator.server import Fault, Faults, Request, Response

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

#: Fault kinds this vendor understands besides the transport ones of ``server.Faults``.
BODY_FAULT_KINDS = frozenset(
    {
        "truncate",  # the body ends cleanly inside frame k (params: frame, cut)
        "huge_length",  # frame k's length prefix is 0xFFFFFFFF, then the body ends
        "not_zip",  # frame k is random bytes of a normal length
        "traversal",  # candidate k's attachment entry is "../../x", plus an "/etc/x" entry
        "traversal_id",  # candidate k's attachment id (JSON and entry) is "../../x"
        "zip_bomb",  # candidate k gets an attachment of 50 MB of zeros, deflated (params: size)
        "bad_json",  # frame k's JSON entry is not valid JSON
        "missing_offset",  # document k has no "offset"
        "missing_id",  # document k has no candidateDetail.id (offerDetail.reference)
        "lie_total",  # Content-Range total is params["extra"] (default 1) too large
        "duplicate",  # the first record of the page is served twice (params: previous=1: the
        # record before the page is served first, as when page boundaries overlap)
        "hostile_entries",  # frame k also holds entries "../../x", "/etc/x", "..\\x", "C:/x"
        "zip_bomb_lying",  # candidate k's extra attachment declares params["declared"] bytes
        # (default 1000) but inflates to params["size"] (default 50 MB)
        "non_utf8",  # frame k's JSON is UTF-8 but for one Latin-1 byte in a name or title
    }
)
#: Raw bytes the "non_utf8" fault puts into a text field: a Latin-1 "é" and a lone 0xFF.
NON_UTF8_BYTES = b"Ren\xe9 \xff"
_NON_UTF8_MARKER = "\u2063NON-UTF8-MARKER\u2063"
HOSTILE_ENTRY_NAMES = ("../../x", "/etc/x", "..\\..\\x", "C:/x")

DENIED = "Authorization has been denied for this request."
FORM = "application/x-www-form-urlencoded"
SCOPE = "MatchingIndexation"
ENTRY = {"vacancies": "offerdetail", "candidates": "applicantdetail"}
DETAIL = {"vacancies": "offerDetail", "candidates": "candidateDetail"}
EXPORT_PARAMS = frozenset({"offset", "limit", "filter"})
FILTER_FIELDS = {"creationDate": 0, "updateDate": 1}
FILTER_OPS = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})?)?"
)
_INT = re.compile(r"\d{1,18}")
_REFERENTIAL = re.compile(r"/api/v1/referentials/([^/]+)")

BASE_EPOCH = 1609459200  # 2021-01-01T00:00:00Z: generated records are created after it
CREATION_SPAN = 1277 * 86400  # ... and before 2024-07-01
UPDATE_SPAN = 180 * 86400  # updated up to 180 days after creation (so all before 2025)
CHUNK = 1 << 20  # attachment bytes are produced 1 MiB at a time
ZIP_BOMB_SIZE = 50 * 1024 * 1024

FIRST_NAMES = (
    "John", "Zoé", "Hélène", "Karim", "Li", "Marta", "Jérôme", "Aïcha", "Pierre", "Olga",
    "François", "Emma", "Noah", "Inès", "Lucas", "Chloé", "Mohamed", "Sofia", "Hugo", "Léa",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Müller", "García", "Rossi", "Smith", "Nguyen", "Lefèvre",
    "O'Brien", "Kowalski", "Dupont", "Moreau", "Fernández", "Schmidt", "Petit", "Durand",
)  # fmt: skip
JOBS = (
    "Software Engineer", "Data Analyst", "Sales Manager", "HR Business Partner", "Accountant",
    "Product Owner", "Chef de projet", "Développeur Python", "Customer Success Manager",
    "DevOps Engineer", "Chargé(e) de recrutement", "UX Designer",
)  # fmt: skip
SENIORITIES = ("Junior", "Senior", "Lead", "Confirmé")
CITIES = (
    ("Paris", "France"), ("Lyon", "France"), ("Nantes", "France"), ("Bordeaux", "France"),
    ("Berlin", "Germany"), ("München", "Germany"), ("Madrid", "Spain"), ("Barcelona", "Spain"),
    ("Milano", "Italy"), ("London", "United Kingdom"), ("Bruxelles", "Belgium"),
    ("Genève", "Switzerland"), ("Amsterdam", "Netherlands"), ("Lisboa", "Portugal"),
    ("Montréal", "Canada"),
)  # fmt: skip
ORGANISATIONS = (
    (101, "Cegid France / R&D"), (102, "Cegid France / Sales"), (103, "Cegid Iberia"),
    (104, "Talentsoft GmbH"), (105, "Holding / Finance"),
)  # fmt: skip
CONTRACT_TYPES = (
    (1, "Permanent"), (2, "Fixed-term"), (3, "Internship"), (4, "Apprenticeship"), (5, "Freelance"),
)  # fmt: skip
VACANCY_STATUSES = ((1, "Draft"), (2, "Published"), (3, "Suspended"), (4, "Closed"), (5, "Filled"))
CANDIDATE_STATUSES = ((1, "Active"), (2, "Archived"), (3, "Hired"), (4, "Blacklisted"))
APPLICATION_STATUSES = (
    (1, "New"), (2, "In review"), (3, "Interview"), (4, "Offer"), (5, "Rejected"), (6, "Hired"),
)  # fmt: skip
ORIGINS = ("Career site", "LinkedIn", "Indeed", "Referral", "Agency", "Spontaneous")
SOURCES = ("Job board", "Job fair", "Cooptation", "School partnership")
REMOTE = ("none", "hybrid", "full")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OTHER_FILES = (
    ("cover_letter_{}.docx", DOCX, "Cover letter"),
    ("diploma_{}.pdf", "application/pdf", "Diploma"),
    ("portfolio_{}.zip", "application/zip", "Portfolio"),
    ("photo_{}.jpg", "image/jpeg", "Photo"),
    ("cv_{}_en.doc", "application/msword", "Curriculum vitae (English)"),
)  # fmt: skip
COUNTRIES = (
    ("FR", "France", "France"), ("DE", "Germany", "Allemagne"), ("ES", "Spain", "Espagne"),
    ("IT", "Italy", "Italie"), ("GB", "United Kingdom", "Royaume-Uni"), ("BE", "Belgium", "Belgique"),
    ("CH", "Switzerland", "Suisse"), ("NL", "Netherlands", "Pays-Bas"), ("PT", "Portugal", "Portugal"),
    ("IE", "Ireland", "Irlande"), ("AT", "Austria", "Autriche"), ("PL", "Poland", "Pologne"),
    ("SE", "Sweden", "Suède"), ("NO", "Norway", "Norvège"), ("DK", "Denmark", "Danemark"),
    ("FI", "Finland", "Finlande"), ("LU", "Luxembourg", "Luxembourg"), ("GR", "Greece", "Grèce"),
    ("CZ", "Czechia", "Tchéquie"), ("HU", "Hungary", "Hongrie"), ("RO", "Romania", "Roumanie"),
    ("BG", "Bulgaria", "Bulgarie"), ("HR", "Croatia", "Croatie"), ("US", "United States", "États-Unis"),
    ("CA", "Canada", "Canada"), ("BR", "Brazil", "Brésil"), ("MX", "Mexico", "Mexique"),
    ("JP", "Japan", "Japon"), ("CN", "China", "Chine"), ("IN", "India", "Inde"),
    ("AU", "Australia", "Australie"), ("MA", "Morocco", "Maroc"), ("TN", "Tunisia", "Tunisie"),
    ("SN", "Senegal", "Sénégal"), ("ZA", "South Africa", "Afrique du Sud"), ("SG", "Singapore", "Singapour"),
)  # fmt: skip
LANGUAGES = (
    ("en", "English", "Anglais"), ("fr", "French", "Français"), ("de", "German", "Allemand"),
    ("es", "Spanish", "Espagnol"), ("it", "Italian", "Italien"), ("pt", "Portuguese", "Portugais"),
    ("nl", "Dutch", "Néerlandais"), ("pl", "Polish", "Polonais"), ("sv", "Swedish", "Suédois"),
    ("ja", "Japanese", "Japonais"), ("zh", "Chinese", "Chinois"), ("ar", "Arabic", "Arabe"),
)  # fmt: skip
KNOWN_REFERENTIALS = {"countries": COUNTRIES, "languages": LANGUAGES}


class Attachment(NamedTuple):
    """One candidate attachment as generated (its bytes are derived, never stored)."""

    id: str
    filename: str
    mime_type: str
    is_resume: bool
    description: str
    size: int


class FilterError(ValueError):
    """An export ``filter`` the API rejects."""


def iso(epoch: int) -> str:
    """``2024-03-05T10:11:12Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_date(value: str) -> float:
    """An ISO 8601 date or date-time as epoch seconds (no zone means UTC)."""
    match = _DATE.fullmatch(value)
    if match is None:
        msg = f"invalid date {value!r}: expected an ISO 8601 date or date-time"
        raise FilterError(msg)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = timezone.utc
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=tz
        )
    except ValueError as exc:
        msg = f"invalid date {value!r}: {exc}"
        raise FilterError(msg) from None
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)


def parse_filter(text: str) -> tuple[tuple[int, str, float], ...]:
    """``updateDate:gt:2024-01-01T00:00:00Z,creationDate:le:2024-06-30`` as clauses."""
    clauses = []
    for clause in text.split(","):
        parts = clause.split(":", 2)
        if len(parts) != 3:
            msg = f"invalid filter clause {clause!r}: expected field:operator:value"
            raise FilterError(msg)
        name, op, value = parts
        if name not in FILTER_FIELDS:
            msg = f"invalid filter field {name!r}: expected one of {', '.join(FILTER_FIELDS)}"
            raise FilterError(msg)
        if op not in FILTER_OPS:
            msg = f"invalid filter operator {op!r}: expected one of {', '.join(FILTER_OPS)}"
            raise FilterError(msg)
        clauses.append((FILTER_FIELDS[name], op, parse_date(value)))
    return tuple(clauses)


def _int_param(params: dict[str, object], name: str, default: int) -> int:
    value = params.get(name, default)
    if not isinstance(value, int):
        msg = f"fault parameter {name!r} must be an int, not {value!r}"
        raise TypeError(msg)
    return value


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_text.lower()) or "x"


def _zip_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(max(epoch, 315532800))  # zip dates start in 1980
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


def _write_entry(
    archive: zipfile.ZipFile, name: str, chunks: Iterator[bytes] | Sequence[bytes], size: int, when: int, *,
    deflate: bool,
) -> None:  # fmt: skip
    info = zipfile.ZipInfo(name, _zip_time(when))
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    info.file_size = size
    info.external_attr = 0o644 << 16
    with archive.open(info, "w") as out:
        for chunk in chunks:
            out.write(chunk)


def _declare_size(buffer: io.BytesIO, name: str, declared: int) -> None:
    """Make the entry ``name`` declare ``declared`` uncompressed bytes, in its local header
    and in the central directory, whatever it really inflates to (a lying zip bomb)."""
    data = buffer.getbuffer()
    encoded = name.encode()
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        offset = archive.getinfo(name).header_offset
    data[offset + 22 : offset + 26] = declared.to_bytes(4, "little")  # local header: uncompressed size
    position = bytes(data).find(b"PK\x01\x02")
    while position >= 0:
        name_length = int.from_bytes(data[position + 28 : position + 30], "little")
        if bytes(data[position + 46 : position + 46 + name_length]) == encoded:
            data[position + 24 : position + 28] = declared.to_bytes(4, "little")  # central directory
            break
        position = bytes(data).find(b"PK\x01\x02", position + 4)
    del data


class TalentsoftEmulator:
    """The Talentsoft exports API: tokens, framed zip exports, referentials."""

    prefix = "/ts"

    def __init__(
        self,
        *,
        client_id: str = "ts-client",
        client_secret: str = "ts-secret-0123456789",  # noqa: S107
        vacancies: int = 25,
        candidates: int = 12,
        attachments_per_candidate: tuple[int, int] = (0, 3),
        attachment_size: tuple[int, int] = (200, 5000),
        seed: int = 1,
        expires_in: int = 1199,
        max_limit: int = 1000,
        compress_attachments: bool = True,
        categories: dict[str, int] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.attachments_per_candidate = attachments_per_candidate
        self.attachment_size = attachment_size
        self.seed = seed
        self.expires_in = expires_in
        self.max_limit = max_limit
        self.compress_attachments = compress_attachments
        self.categories = dict(categories if categories is not None else {"countries": 30, "languages": 8})
        self.faults = Faults()
        self.token_requests = 0
        self.issued_tokens: list[str] = []
        self.export_requests: Counter[str] = Counter()
        self.export_calls: list[tuple[str, int, int, str | None]] = []
        self._lock = threading.RLock()
        self._tokens: dict[str, float] = {}  # token -> monotonic deadline
        self._base = {"vacancies": vacancies, "candidates": candidates}
        self._added: dict[str, list[int]] = {"vacancies": [], "candidates": []}  # epochs of added records
        self._last_fresh = 0
        self._version = 0
        self._filter_cache: OrderedDict[tuple[object, ...], list[int]] = OrderedDict()
        self._referentials = {name: self._make_referential(name, n) for name, n in self.categories.items()}

    # ------------------------------------------------------------------ public helpers

    @property
    def vacancy_count(self) -> int:
        """How many vacancies the export holds now."""
        return self._count("vacancies")

    @property
    def candidate_count(self) -> int:
        """How many candidates the export holds now."""
        return self._count("candidates")

    def vacancy_docs(self) -> Iterator[dict[str, object]]:
        """The vacancy documents in export order (unfiltered), ``offset`` included."""
        for index in range(self._count("vacancies")):
            yield self._document("vacancies", index, index)

    def candidate_docs(self) -> Iterator[dict[str, object]]:
        """The candidate documents in export order (unfiltered), ``offset`` included."""
        for index in range(self._count("candidates")):
            yield self._document("candidates", index, index)

    def referential(self, category: str) -> list[dict[str, object]]:
        """The items of one referential category."""
        return self._referentials[category]

    def attachment_bytes(self, candidate_id: str, attachment_id: str) -> bytes:
        """The content of one attachment (built in full: keep it for small ones)."""
        return b"".join(self._attachment_chunks(candidate_id, self._find_attachment(candidate_id, attachment_id)))

    def attachment_sha256(self, candidate_id: str, attachment_id: str) -> str:
        """The hex sha256 of one attachment, computed without holding it."""
        digest = hashlib.sha256()
        for chunk in self._attachment_chunks(candidate_id, self._find_attachment(candidate_id, attachment_id)):
            digest.update(chunk)
        return digest.hexdigest()

    def attachments(self, candidate_id: str) -> list[Attachment]:
        """The attachments of one candidate (ids, names, sizes)."""
        return self._attachments(self._candidate_index(candidate_id))

    def total_attachment_bytes(self) -> int:
        """The size of every attachment of every candidate, summed."""
        return sum(a.size for i in range(self._count("candidates")) for a in self._attachments(i))

    def add_vacancies(self, n: int) -> list[str]:
        """Append ``n`` vacancies at the end of the export, updated now; their references."""
        return [f"VAC-{i + 1:05d}" for i in self._add("vacancies", n)]

    def add_candidates(self, n: int) -> list[str]:
        """Append ``n`` candidates at the end of the export, updated now; their ids."""
        return [f"CAND-{i + 1:05d}" for i in self._add("candidates", n)]

    def expire_all_tokens(self) -> None:
        """Every token issued so far is now expired."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = float("-inf")

    def revoke_all_tokens(self) -> None:
        """Every token issued so far is now unknown (a 401 on a token believed valid)."""
        with self._lock:
            self._tokens.clear()

    # ------------------------------------------------------------------ HTTP

    #: The tap's settings block this vendor answers.
    source = "talentsoft"

    def tap_settings(self, base_url: str) -> dict[str, Any]:
        """What the tap needs to talk to this vendor at ``base_url``."""
        return {"base_url": base_url, "client_id": self.client_id, "client_secret": self.client_secret}

    def handle(self, request: Request) -> Response:
        """Answer one request (the shared server strips ``/ts``)."""
        fault = self.faults.take(request)
        path = request.path
        with self._lock:
            if path == "/api/token":
                self.token_requests += 1
            elif path.startswith("/api/exports/v1/") and path[16:] in ENTRY:
                self.export_requests[path[16:]] += 1
        injected = Faults.status_response(fault)
        if injected is not None:
            return injected
        return Faults.apply(fault, self._route(request, fault))

    def _route(self, request: Request, fault: Fault | None) -> Response:
        path = request.path
        if path == "/api/token":
            return self._method(request, "POST") or self._token(request)
        if path.startswith("/api/exports/v1/") and path[16:] in ENTRY:
            return self._method(request, "GET") or self._auth(request) or self._export(request, path[16:], fault)
        match = _REFERENTIAL.fullmatch(path)
        if match:
            return self._method(request, "GET") or self._auth(request) or self._referential(request, match[1])
        return Response.json(404, {"message": f"No HTTP resource was found that matches the request URI {path!r}."})

    @staticmethod
    def _method(request: Request, allowed: str) -> Response | None:
        if request.method == allowed:
            return None
        return Response.json(
            405, {"message": f"The requested resource does not support http method '{request.method}'."},
            {"Allow": allowed},
        )  # fmt: skip

    def _token(self, request: Request) -> Response:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != FORM:
            return Response.json(400, {"error": "invalid_request", "error_description": f"Content-Type must be {FORM}"})
        try:
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return Response.json(400, {"error": "invalid_request", "error_description": "malformed body"})
        if any(len(values) != 1 for values in form.values()):
            return Response.json(400, {"error": "invalid_request", "error_description": "repeated parameter"})
        fields = {name: values[0] for name, values in form.items()}
        if "grant_type" not in fields:
            return Response.json(400, {"error": "invalid_request", "error_description": "grant_type is missing"})
        if fields["grant_type"] != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type"})
        if fields.get("client_id") != self.client_id or fields.get("client_secret") != self.client_secret:
            return Response.json(401, {"error": "invalid_client"})
        if "scope" in fields and fields["scope"] != SCOPE:
            return Response.json(400, {"error": "invalid_scope"})
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.expires_in
            self.issued_tokens.append(token)
        return Response.json(
            200,
            {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in},
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _auth(self, request: Request) -> Response | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        with self._lock:
            deadline = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if deadline is not None and time.monotonic() < deadline:
            return None
        return Response.json(401, {"message": DENIED}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _referential(self, request: Request, category: str) -> Response:
        if request.query:
            return Response.json(400, {"message": f"unknown query parameters: {', '.join(sorted(request.query))}"})
        if category not in self._referentials:
            return Response.json(404, {"message": f"unknown referential {category!r}"})
        return Response.json(200, self._referentials[category])

    def _export(self, request: Request, kind: str, fault: Fault | None) -> Response:
        unknown = sorted(set(request.query) - EXPORT_PARAMS)
        if unknown:
            return Response.json(400, {"message": f"unknown query parameters: {', '.join(unknown)}"})
        repeated = sorted(name for name, values in request.query.items() if len(values) != 1)
        if repeated:
            return Response.json(400, {"message": f"repeated query parameters: {', '.join(repeated)}"})
        offset_text, limit_text = request.arg("offset", "0") or "", request.arg("limit", "50") or ""
        if not _INT.fullmatch(offset_text):
            return Response.json(400, {"message": f"offset must be an integer >= 0, not {offset_text!r}"})
        if not _INT.fullmatch(limit_text) or not 1 <= int(limit_text) <= self.max_limit:
            return Response.json(
                400, {"message": f"limit must be an integer from 1 to {self.max_limit}, not {limit_text!r}"}
            )
        offset, limit = int(offset_text), int(limit_text)
        filter_text = request.arg("filter")
        try:
            indices = self._select(kind, None if filter_text is None else parse_filter(filter_text))
        except FilterError as exc:
            return Response.json(400, {"message": str(exc)})
        total = len(indices)
        served = max(0, min(limit, total - offset))
        reported = total
        if fault is not None and fault.kind == "lie_total":
            reported += _int_param(fault.params, "extra", 1)
        content_range = f"{offset}-{offset + served - 1}/{reported}" if served else f"*/{reported}"
        with self._lock:
            self.export_calls.append((kind, offset, limit, filter_text))
        return Response(
            200,
            body=self._frames(kind, indices, offset, served, fault),
            headers={"Content-Type": "application/octet-stream", "Content-Range": content_range},
            chunked=True,
        )

    # ------------------------------------------------------------------ the framed stream

    def _frames(
        self, kind: str, indices: Sequence[int], offset: int, served: int, fault: Fault | None
    ) -> Iterator[bytes | memoryview]:
        """The body: one frame at a time (length prefix, then the zip), faults applied.

        The zip is yielded as a view of the buffer it was written into, not a copy, and every
        reference to it is dropped before the next one is built: a frame costs its own size
        once (plus the server's 64 KiB pieces), whatever its size.
        """
        kind_of_fault = fault.kind if fault is not None and fault.kind in BODY_FAULT_KINDS else None
        params = fault.params if fault is not None else {}
        target = _int_param(params, "frame", 1)
        positions = list(range(offset, offset + served))
        if kind_of_fault == "duplicate" and positions:
            previous = _int_param(params, "previous", 0) and positions[0] > 0
            positions.insert(0, positions[0] - 1 if previous else positions[0])
        for number, position in enumerate(positions, 1):
            hit = kind_of_fault if number == target else None
            if hit == "huge_length":
                yield b"\xff\xff\xff\xff"
                return
            archive: bytes | memoryview = self._archive(kind, indices[position], position, hit, params)
            if hit == "not_zip":
                archive = random.Random(f"{self.seed}/not_zip/{kind}/{position}").randbytes(len(archive))
            prefix = len(archive).to_bytes(4, "little")
            if hit == "truncate":
                cut = _int_param(params, "cut", 4 + len(archive) // 2)
                cut = max(1, min(cut, 4 + len(archive) - 1))
                yield prefix[:cut]
                if cut > 4:
                    yield archive[: cut - 4]
                return
            yield prefix
            yield archive
            del archive
            yield b""  # the server drops its reference to the frame before the next is built

    def _archive(self, kind: str, index: int, position: int, hit: str | None, params: dict[str, object]) -> memoryview:
        """The zip of one record, written once into one buffer."""
        doc = self._document(kind, index, position)
        detail: dict[str, object] = doc[DETAIL[kind]]  # type: ignore[assignment]
        when = self._dates(kind, index)[1]
        # (entry name, chunks, size, deflate)
        entries: list[tuple[str, Iterator[bytes] | Sequence[bytes], int, bool]] = []
        if kind == "candidates":
            candidate_id = str(detail["id"])
            listed: list[dict[str, object]] = doc["attachments"]  # type: ignore[assignment]
            for attachment in self._attachments(index):
                chunks = self._attachment_chunks(candidate_id, attachment)
                entries.append((attachment.id, chunks, attachment.size, self.compress_attachments))
            if hit == "traversal_id":
                if not listed:
                    listed.append(self._listed(Attachment("", f"cv_{index}.pdf", "application/pdf", True, "CV", 6)))
                    entries.append(("", [b"owned\n"], 6, True))
                listed[0]["id"] = "../../x"
                entries[0] = ("../../x", *entries[0][1:])
            elif hit in {"zip_bomb", "zip_bomb_lying"}:
                size = _int_param(params, "size", ZIP_BOMB_SIZE)
                bomb = Attachment(f"ATT-{index + 1:05d}-BOMB", "bomb.pdf", "application/pdf", False, "Bomb", size)
                listed.append(self._listed(bomb))
                entries.append((bomb.id, self._zeros(size), size, True))
        if hit == "traversal":
            if kind == "candidates" and entries:
                entries[0] = ("../../x", *entries[0][1:])
            else:
                entries.append(("../../x", [b"owned\n"], 6, True))
            entries.append(("/etc/x", [b"owned\n"], 6, True))
        if hit == "hostile_entries":
            entries.extend((name, [b"owned\n"], 6, True) for name in HOSTILE_ENTRY_NAMES)
        if hit == "missing_offset":
            del doc["offset"]
        if hit == "missing_id":
            del detail["id" if kind == "candidates" else "reference"]
        if hit == "non_utf8":
            field = "firstName" if kind == "candidates" else "title"
            detail[field] = f"{detail[field]} {_NON_UTF8_MARKER}"
        text = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        if hit == "non_utf8":
            text = text.replace(_NON_UTF8_MARKER.encode(), NON_UTF8_BYTES, 1)
        if hit == "bad_json":
            text = text[: len(text) // 2]  # the outer object is never closed
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            _write_entry(archive, ENTRY[kind], [text], len(text), when, deflate=True)
            for name, chunks, size, deflate in entries:
                _write_entry(archive, name, chunks, size, when, deflate=deflate)
        if hit == "zip_bomb_lying":
            _declare_size(buffer, f"ATT-{index + 1:05d}-BOMB", _int_param(params, "declared", 1000))
        return buffer.getbuffer()  # no copy: the view keeps the buffer alive

    @staticmethod
    def _zeros(size: int) -> Iterator[bytes]:
        block = bytes(min(size, CHUNK))
        for start in range(0, size, CHUNK):
            yield block[: min(CHUNK, size - start)]

    def _attachment_chunks(self, candidate_id: str, attachment: Attachment) -> Iterator[bytes]:
        """The bytes of one attachment, 1 MiB at a time: its digest repeated, cut to size."""
        digest = hashlib.sha256(f"{self.seed}:{candidate_id}:{attachment.id}".encode()).digest()
        block = digest * (min(attachment.size, CHUNK) // 32 + 1)
        view = memoryview(block)
        for start in range(0, attachment.size, CHUNK):
            yield bytes(view[: min(CHUNK, attachment.size - start)])

    # ------------------------------------------------------------------ generated data

    def _count(self, kind: str) -> int:
        with self._lock:
            return self._base[kind] + len(self._added[kind])

    def _add(self, kind: str, n: int) -> range:
        with self._lock:
            fresh = max(int(time.time()), self._last_fresh + 1)  # strictly after any earlier addition
            self._last_fresh = fresh
            start = self._count(kind)
            self._added[kind].extend([fresh] * n)
            self._version += 1
            self._filter_cache.clear()
            return range(start, start + n)

    def _hash(self, kind: str, index: int) -> bytes:
        return hashlib.blake2b(f"{self.seed}/{kind}/{index}".encode(), digest_size=32).digest()

    def _dates(self, kind: str, index: int) -> tuple[int, int]:
        """(creationDate, updateDate) as epoch seconds, cheap: filters scan them all."""
        base = self._base[kind]
        if index >= base:
            fresh = self._added[kind][index - base]
            return fresh, fresh
        digest = self._hash(kind, index)
        created = BASE_EPOCH + int.from_bytes(digest[:8], "little") % CREATION_SPAN
        delta = int.from_bytes(digest[8:16], "little")
        return created, created + (0 if delta % 5 == 0 else delta % UPDATE_SPAN)

    def _select(self, kind: str, clauses: tuple[tuple[int, str, float], ...] | None) -> Sequence[int]:
        """The record indices matching a filter, in export order (cached per filter)."""
        with self._lock:
            count = self._count(kind)
            if clauses is None:
                return range(count)
            key = (kind, clauses, count, self._version)
            cached = self._filter_cache.get(key)
            if cached is not None:
                self._filter_cache.move_to_end(key)
                return cached
            checks = [(field, FILTER_OPS[op], value) for field, op, value in clauses]
            selected = []
            for index in range(count):
                dates = self._dates(kind, index)
                if all(check(dates[field], value) for field, check, value in checks):
                    selected.append(index)
            self._filter_cache[key] = selected
            while len(self._filter_cache) > 8:
                self._filter_cache.popitem(last=False)
            return selected

    def _names(self, index: int) -> tuple[str, str]:
        digest = self._hash("candidates", index)
        first = FIRST_NAMES[int.from_bytes(digest[16:24], "little") % len(FIRST_NAMES)]
        last = LAST_NAMES[int.from_bytes(digest[24:32], "little") % len(LAST_NAMES)]
        return first, last

    def _candidate_index(self, candidate_id: str) -> int:
        match = re.fullmatch(r"CAND-(\d+)", candidate_id)
        index = int(match[1]) - 1 if match else -1
        if not 0 <= index < self._count("candidates"):
            msg = f"no candidate {candidate_id!r}"
            raise KeyError(msg)
        return index

    def _find_attachment(self, candidate_id: str, attachment_id: str) -> Attachment:
        for attachment in self._attachments(self._candidate_index(candidate_id)):
            if attachment.id == attachment_id:
                return attachment
        msg = f"no attachment {attachment_id!r} for candidate {candidate_id!r}"
        raise KeyError(msg)

    def _attachments(self, index: int) -> list[Attachment]:
        rng = random.Random(f"{self.seed}/attachments/{index}")
        slug = _slug(self._names(index)[0])
        result = []
        for number in range(1, rng.randint(*self.attachments_per_candidate) + 1):
            size = rng.randint(*self.attachment_size)
            if number == 1:
                pattern, mime, description = "cv_{}.pdf", "application/pdf", "Curriculum vitae"
            else:
                pattern, mime, description = rng.choice(OTHER_FILES)
            filename, resume = pattern.format(slug), number == 1
            result.append(Attachment(f"ATT-{index + 1:05d}-{number}", filename, mime, resume, description, size))
        return result

    @staticmethod
    def _listed(attachment: Attachment) -> dict[str, object]:
        return {
            "id": attachment.id,
            "filename": attachment.filename,
            "mimeType": attachment.mime_type,
            "isResume": attachment.is_resume,
            "description": attachment.description,
        }

    def _document(self, kind: str, index: int, position: int) -> dict[str, object]:
        return self._vacancy(index, position) if kind == "vacancies" else self._candidate(index, position)

    def _vacancy(self, index: int, position: int) -> dict[str, object]:
        rng = random.Random(f"{self.seed}/vacancy/{index}")
        created, updated = self._dates("vacancies", index)
        title = f"{rng.choice(JOBS)} {rng.choice(SENIORITIES)}"
        city, country = rng.choice(CITIES)
        org_id, org_label = rng.choice(ORGANISATIONS)
        status_id, status_label = rng.choice(VACANCY_STATUSES)
        contract_id, contract_label = rng.choice(CONTRACT_TYPES)
        team = rng.randint(3, 40)
        return {
            "offset": position,
            "offerDetail": {
                "reference": f"VAC-{index + 1:05d}",
                "title": title,
                "status": {"id": status_id, "label": status_label},
                "creationDate": iso(created),
                "updateDate": iso(updated),
                "organisation": {"id": org_id, "label": org_label},
                "location": {"city": city, "country": country},
                "contractType": {"id": contract_id, "label": contract_label},
                "description": (
                    f"<p>{title} — {org_label}.</p>\n<p>Vous rejoindrez une équipe de {team} personnes "
                    f'à {city}.</p>\n<ul><li>Télétravail possible</li><li>RTT & "mutuelle"</li></ul>'
                ),
                "customFields": {
                    "cf_budget": rng.choice((None, rng.randrange(30_000, 120_000, 1000))),
                    "cf_remote": rng.choice(REMOTE),
                },
            },
        }

    def _candidate(self, index: int, position: int) -> dict[str, object]:
        rng = random.Random(f"{self.seed}/candidate/{index}")
        created, updated = self._dates("candidates", index)
        first, last = self._names(index)
        status_id, status_label = rng.choice(CANDIDATE_STATUSES)
        vacancies = self._base["vacancies"]
        applications = []
        for number in range(1, (rng.randint(0, 3) if vacancies else 0) + 1):
            app_status_id, app_status_label = rng.choice(APPLICATION_STATUSES)
            applications.append(
                {
                    "id": f"APP-{index + 1:05d}-{number}",
                    "vacancyReference": f"VAC-{rng.randrange(vacancies) + 1:05d}",
                    "status": {"id": app_status_id, "label": app_status_label},
                    "applicationDate": iso(rng.randint(created, updated)),
                    "origin": rng.choice(ORIGINS),
                }
            )
        return {
            "offset": position,
            "candidateDetail": {
                "id": f"CAND-{index + 1:05d}",
                "firstName": first,
                "lastName": last,
                "email": f"{_slug(first)}.{_slug(last)}{index + 1}@example.com",
                "phone": "+33 6 " + " ".join(f"{rng.randrange(100):02d}" for _ in range(4)),
                "creationDate": iso(created),
                "updateDate": iso(updated),
                "status": {"id": status_id, "label": status_label},
                "customFields": {
                    "cf_source_detail": rng.choice((None, *SOURCES)),
                    "cf_salary_expectation": rng.choice((None, rng.randrange(25_000, 150_000, 500))),
                    "cf_willing_to_relocate": rng.random() < 0.5,
                },
            },
            "applications": applications,
            "attachments": [self._listed(attachment) for attachment in self._attachments(index)],
        }

    @staticmethod
    def _make_referential(category: str, count: int) -> list[dict[str, object]]:
        known = KNOWN_REFERENTIALS.get(category, ())
        items: list[dict[str, object]] = []
        for number in range(1, count + 1):
            if number <= len(known):
                code, english, french = known[number - 1]
            else:
                code = f"{category[:3].upper()}{number:03d}"
                english, french = f"{category.capitalize()} {number}", f"{category.capitalize()} n°{number}"
            items.append(
                {
                    "id": number,
                    "code": code,
                    "label": english,
                    "active": number % 10 != 0,
                    "translations": {"en-GB": english, "fr-FR": french},
                }
            )
        return items
