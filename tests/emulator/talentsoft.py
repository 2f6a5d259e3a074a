"""Cegid Talentsoft Recruiting exports API, emulated (mounted at ``/ts``).

What the vendor documents (``shared/api-docs/talentsoft-exports-*.txt``), strictly:

- ``POST /api/token``: OAuth2 client credentials in a form-urlencoded body;
- ``GET /api/exports/v1/vacancies`` and ``/api/exports/v1/candidates``: a *framed
  stream*, each record a 4-byte little-endian length followed by that many bytes of a
  zip archive (entry ``offerdetail`` or ``applicantdetail`` holding the JSON document,
  plus one entry per candidate attachment, named by the attachment's id), paged with
  ``offset``/``limit``, the total in ``Content-Range``;
- ``GET /api/v1/referentials/{category}``: a JSON array;
- ``POST /api/exports/v1/reports``: a report on indexed data, the body as the doc's example
  (``{"reportType": "vacancies" | "candidates", "items": [{"id", "date", "lastUpdateDate",
  "status": "success" | "error", "messages" (with "error" only)}]}``), checked strictly (400
  naming the problem otherwise) and recorded in ``reports`` when accepted (200, ``{}``: the
  doc shows no answer).

The data is generated deterministically from ``seed``, one record at a time, and the
export bodies are generators that hold one frame at a time, so gigabytes of attachments
cost no more memory than the largest frame. Body-level faults (truncated frames, bad
zips, path traversal, zip bombs ...) are armed through ``self.faults`` with
``Fault(kind=...)``; see :data:`BODY_FAULT_KINDS`.

Two document shapes (``shape=``), the referentials following the same option:

- ``"seed"`` (the default): the emulator's first guess, flat documents (``offerDetail.title``,
  ``candidateDetail.firstName``, referential items ``{id, code, label, active, translations}``);
- ``"current"``: the structure the public hrflow-connectors Talentsoft connector reads
  (``Riminder/hrflow-connectors``: ``connectors/talentsoft/connector.py``, ``warehouse.py``,
  ``schemas.py``, ``utils/const.py``; ``v2/connectors/talentsoft/aisles.py``,
  ``mappings/format/*.json``): ``offerDetail.jobDescription{title, description1, ...}``,
  ``location{address, latitude, longitude}``, ``criteria``, ``languages``, ``modificationDate``;
  candidates with top-level ``isEmployee``/``isInProgress`` and ``candidateDetail.personalInformation``,
  ``positionSought``, ``globalExperience``, ``educations``; referential values in documents as
  ``{"id", "label"}`` (the connector reads ``.id``, and ``.label`` of ``languages[].language``);
  referential items ``{code (int), clientCode, label, active, parentCode, type, parentType,
  hasChildren}`` without ``id`` (the connector's ``standardItem``). See :data:`CURRENT_PATHS`.

Export parameters besides ``offset``/``limit``/``filter``, in both shapes, as the connector sends
them: ``q`` on vacancies (its ``ReadJobsParameters.q``, "Query search to get vacancies": here every
whitespace-separated term must occur, case- and accent-insensitively, in the vacancy's text
fields, see :meth:`TalentsoftEmulator._search_text`) and ``attachmenttype`` on candidates
(``attachmenttype=resume`` when it wants resumes only: frames then carry, and documents list,
only the attachments with ``isResume``). Every export call's parameters are recorded in
``export_params``.

``filter`` (the connector's ``updateDate:gt:<date>``; here clauses ``updateDate`` or ``creationDate``
``:gt|ge|lt|le|eq:<ISO date>``, comma-joined, all of which must hold) narrows the export; the
records keep their export order (it is *not* sorted by date) and ``offset`` is the position in the
narrowed set. Records change between runs: ``add_vacancies``/``add_candidates`` append,
``edit_vacancies``/``edit_candidates`` give records already exported a new ``updateDate`` /
``modificationDate`` at the same position (as an edit in Talentsoft does).
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
from tests.emulator.talentsoft_system import TalentsoftSystem

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
        "lie_total",  # Content-Range total is params["extra"] (default 1) too large, or params["total"]
        # when given (an understated total: "0-9/5" with 35 records)
        "duplicate",  # the first record of the page is served twice (params: previous=1: the
        # record before the page is served first, as when page boundaries overlap)
        "hostile_entries",  # frame k also holds entries "../../x", "/etc/x", "..\\x", "C:/x"
        "zip_bomb_lying",  # candidate k's extra attachment declares params["declared"] bytes
        # (default 1000) but inflates to params["size"] (default 50 MB)
        "non_utf8",  # frame k's JSON is UTF-8 but for one Latin-1 byte in a name or title
        "lie_range",  # Content-Range's range ends params["shift"] (default 1) records past the last one
        # served (an exclusive end: "0-10/25" for offsets 0 to 9)
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
SHAPES = ("seed", "current")
#: The query parameters each export accepts (``q`` and ``attachmenttype``: see the module docstring).
EXPORT_PARAMS = {
    "vacancies": frozenset({"offset", "limit", "filter", "q"}),
    "candidates": frozenset({"offset", "limit", "filter", "attachmenttype"}),
}
#: ``attachmenttype`` values: the connector only ever sends ``resume`` (any case accepted here).
ATTACHMENT_TYPES = frozenset({"resume"})
FILTER_FIELDS = {"creationDate": 0, "updateDate": 1}
#: The field number of an ``id::`` clause (its value: a frozenset of ids).
ID_FIELD = -1
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

# ---------------------------------------------------------------------------- the "current" shape's data
# Real referential values (code, clientCode, label), verbatim from
# Riminder/hrflow-connectors:src/hrflow_connectors/connectors/talentsoft/utils/const.py,
# trailing spaces of two clientCodes included.
TS_CONTRACT_TYPES = (
    (1044, "_TS_CO_Contract_CDI", "Permanent"), (1045, "_TS_CO_Contract_CDD", "Fixed Term contract"),
    (1047, "_TS_CO_Contract_Alternance", "Apprenticeship"), (1046, "_TS_CO_Contract_Stage", "Internship / Student"),
    (1049, "_TS_CO_Contract_CIFRE", "CIFRE"), (1048, "_TS_CO_Contract_VIE", "VIE"),
)  # fmt: skip
TS_EDUCATION_LEVELS = (
    (261, "_TS_etude_min_Aucun_diplome", "No Degree"), (262, "_TS_etude_min_BAC", "Bac"),
    (2859, "_TS_etude_min_BAC2", "A Levels, Diploma"), (4028, "_TS_etude_min_Licence", "Licence"),
    (2860, "_TS_etude_min_BAC4", "Bachelor's Degree"), (266, "_TS_etude_min_BAC5", "Master Degree"),
    (2858, "_TS_etude_min_CAP_BEP", "GCSEs"), (2861, "_TS_etude_min_DOCTORAT", "PhD, Doctorate"),
    (4030, "_TS_etude_min_Mastere", "Mastère"),
)  # fmt: skip
TS_EXPERIENCE_LEVELS = (
    (274, "_TS_niveau_exp_premiere_exp", "First experience"),
    (1785, "_TS_niveau_exp_superieur_3ans ", "More than 3 years"),
    (1783, "_TS_niveau_exp_superieur_5ans", "More than 5 years"),
    (275, "_TS_niveau_exp_superieur_8ans", "More than 8 years"),
)  # fmt: skip
TS_CIVILITIES = (
    (3445, "_TS_CO_Civility_Dr", "Dr."), (1790, "_TS_CO_Civility_Miss", "Miss"),
    (280, "_TS_CO_Civility_Mr", "Mr."), (1789, "_TS_CO_Civility_Mrs ", "Mrs"),
    (281, "_TS_CO_Civility_Mme", "Ms."), (3467, "_TS_CO_Civility_Other", "Other"),
)  # fmt: skip
# Invented (no public source shows their codes or labels): (code, label).
TS_VACANCY_STATUSES = ((1501, "Draft"), (1502, "Published"), (1503, "Suspended"), (1504, "Closed"), (1505, "Filled"))
TS_PROFESSIONAL_CATEGORIES = ((1201, "Executive"), (1202, "Technician / Supervisor"), (1203, "Employee"))
TS_PROFILES = (
    (1301, "Software development"), (1302, "Data & BI"), (1303, "Sales"), (1304, "Human resources"),
    (1305, "Finance / Accounting"), (1306, "Product management"), (1307, "Project management"),
    (1308, "Customer success"), (1309, "Infrastructure & operations"), (1310, "Design"),
)  # fmt: skip
#: The primary profile of each of :data:`JOBS` (an index into :data:`TS_PROFILES`).
JOB_PROFILES = (0, 1, 2, 3, 4, 5, 6, 0, 7, 8, 3, 9)
TS_SKILLS = (
    (1401, "Python"), (1402, "SQL"), (1403, "Excel"), (1404, "Negotiation"), (1405, "Recruitment"),
    (1406, "Agile / Scrum"), (1407, "Kubernetes"), (1408, "Figma"), (1409, "IFRS"), (1410, "Customer relationship"),
    (1411, "Power BI"), (1412, "Project management"),
)  # fmt: skip
TS_LANGUAGE_LEVELS = ((1101, "Beginner"), (1102, "Intermediate"), (1103, "Fluent"), (1104, "Bilingual / Native"))
TS_APPLICATION_STATUSES = (
    (1601, "New"), (1602, "In review"), (1603, "Interview"), (1604, "Offer"), (1605, "Rejected"), (1606, "Hired"),
)  # fmt: skip
CLOSED_APPLICATION_STATUSES = frozenset({1605, 1606})
TS_ORIGINS = (
    (1801, "Career site"), (1802, "LinkedIn"), (1803, "Indeed"), (1804, "Referral"), (1805, "Agency"),
    (1806, "Job fair"),
)  # fmt: skip
#: ``positionSought.jobPreferencesCustomFields.customCodeTable1``: the connector tags it
#: "talentsoft-profileStatus-id"; a client-defined code table (values invented).
TS_PROFILE_STATUSES = ((1701, "To contact"), (1702, "Shortlisted"), (1703, "In process"), (1704, "Talent pool"))
COUNTRY_CODE_BASE = 2000  # country n of COUNTRIES has the referential code 2000 + n (invented)
LANGUAGE_CODE_BASE = 2100  # language n of LANGUAGES has the code 2100 + n (invented)
#: Places: city, ISO country, postal code, street, address style, latitude, longitude.
PLACES = (
    ("Paris", "FR", "75009", "rue La Fayette", "fr", 48.8752, 2.3390),
    ("Lyon", "FR", "69009", "quai Paul Sédallian", "fr", 45.7797, 4.8055),
    ("Nantes", "FR", "44000", "rue de Strasbourg", "fr", 47.2184, -1.5536),
    ("Bordeaux", "FR", "33000", "cours de l'Intendance", "fr", 44.8410, -0.5762),
    ("Berlin", "DE", "10117", "Friedrichstraße", "de", 52.5200, 13.3880),
    ("München", "DE", "80331", "Sendlinger Straße", "de", 48.1374, 11.5755),
    ("Madrid", "ES", "28013", "Calle Gran Vía", "de", 40.4203, -3.7058),
    ("Barcelona", "ES", "08007", "Passeig de Gràcia", "de", 41.3917, 2.1649),
    ("Milano", "IT", "20121", "Via Manzoni", "de", 45.4700, 9.1930),
    ("London", "GB", "EC2A 4NE", "Shoreditch High Street", "gb", 51.5246, -0.0786),
    ("Bruxelles", "BE", "1000", "boulevard Anspach", "fr", 50.8467, 4.3499),
    ("Genève", "CH", "1204", "rue du Rhône", "fr", 46.2034, 6.1479),
    ("Amsterdam", "NL", "1017 BN", "Herengracht", "de", 52.3676, 4.8897),
    ("Lisboa", "PT", "1250-096", "Avenida da Liberdade", "de", 38.7200, -9.1450),
    ("Montréal", "CA", "H3B 2Y5", "rue Sainte-Catherine Ouest", "ca", 45.5019, -73.5674),
)  # fmt: skip
PHONE_PREFIXES = {
    "FR": "+33", "DE": "+49", "ES": "+34", "IT": "+39", "GB": "+44", "BE": "+32", "CH": "+41", "NL": "+31",
    "PT": "+351", "CA": "+1",
}  # fmt: skip
COLLEGES = (
    "INSA Lyon", "Sorbonne Université", "Université de Nantes", "Technische Universität München",
    "Universidad Complutense de Madrid", "Politecnico di Milano", "University of Manchester", "ESSEC Business School",
    "Université de Genève", "Universidade de Lisboa", "IUT de Bordeaux", "Université de Montréal",
)  # fmt: skip
#: Referential categories the current shape knows beyond countries and languages (names chosen
#: here: the vendor's category names are not public, only ``countries``); (code, clientCode, label).
TS_REFERENTIALS: dict[str, tuple[str, tuple[tuple[int, str, str], ...]]] = {
    "contractTypes": ("contractType", TS_CONTRACT_TYPES),
    "educationLevels": ("educationLevel", TS_EDUCATION_LEVELS),
    "experienceLevels": ("experienceLevel", TS_EXPERIENCE_LEVELS),
    "civilities": ("civility", TS_CIVILITIES),
}
#: Where the current shape puts what the tap's typed columns read (JSON paths in one document).
CURRENT_PATHS = {
    "vacancies": {
        "reference": "$.offerDetail.reference",
        "title": "$.offerDetail.jobDescription.title",
        "status": "$.offerDetail.status.label",
        "organisation": "$.offerDetail.organisation.label",
        "contract_type": "$.offerDetail.jobDescription.contractType.label",
        "country": "$.offerDetail.jobDescription.country.label",
        "location_address": "$.offerDetail.location.address",
        "location_latitude": "$.offerDetail.location.latitude",
        "location_longitude": "$.offerDetail.location.longitude",
        "creation_date": "$.offerDetail.creationDate",
        "update_date": "$.offerDetail.modificationDate",
    },
    "candidates": {
        "id": "$.candidateDetail.id",
        "first_name": "$.candidateDetail.personalInformation.firstName",
        "last_name": "$.candidateDetail.personalInformation.lastName",
        "email": "$.candidateDetail.personalInformation.email",
        "phone": "$.candidateDetail.personalInformation.phoneNumber",
        "status": "$.candidateDetail.positionSought.jobPreferencesCustomFields.customCodeTable1.label",
        "creation_date": "$.candidateDetail.creationDate",
        "update_date": "$.candidateDetail.modificationDate",
        "is_employee": "$.isEmployee",
        "is_in_progress": "$.isInProgress",
        "position_sought": "$.candidateDetail.positionSought.primaryProfile.label",
    },
}


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


def parse_filter(text: str) -> tuple[tuple[int, str, Any], ...]:
    """``updateDate:gt:2024-01-01T00:00:00Z,creationDate:le:2024-06-30`` as clauses.

    ``id::A`` (or ``id::A,B,C``: the ids after it, comma-separated) selects records by id (the
    vacancy's reference, the candidate's id), as the public connector documents
    (Riminder/hrflow-connectors, src/hrflow_connectors/connectors/talentsoft/docs/applicant_new.md:
    "By id Multiple Items 'id::_TS-00001,_TS-00002'"; connector.py sends ``id::{applicantId}``
    for each applicant event).
    """
    clauses: list[tuple[int, str, Any]] = []
    ids: list[str] | None = None
    for clause in text.split(","):
        if ids is not None and ":" not in clause:
            if not clause:
                raise FilterError("invalid filter: an empty id")
            ids.append(clause)
            continue
        parts = clause.split(":", 2)
        if len(parts) != 3:
            msg = f"invalid filter clause {clause!r}: expected field:operator:value"
            raise FilterError(msg)
        name, op, value = parts
        if name == "id":
            if op not in ("", "eq") or not value:
                msg = f"invalid id filter {clause!r}: expected id::value"
                raise FilterError(msg)
            ids = [value]
            clauses.append((ID_FIELD, "in", ids))
            continue
        ids = None
        if name not in FILTER_FIELDS:
            msg = f"invalid filter field {name!r}: expected one of id, {', '.join(FILTER_FIELDS)}"
            raise FilterError(msg)
        if op not in FILTER_OPS:
            msg = f"invalid filter operator {op!r}: expected one of {', '.join(FILTER_OPS)}"
            raise FilterError(msg)
        clauses.append((FILTER_FIELDS[name], op, parse_date(value)))
    return tuple((field, op, frozenset(value) if field == ID_FIELD else value) for field, op, value in clauses)


REPORTS_PATH = "/api/exports/v1/reports"
REPORT_TYPES = ("vacancies", "candidates")
REPORT_STATUSES = ("success", "error")


def _date_time(value: object) -> bool:
    """Whether ``value`` is an ISO 8601 date-time string."""
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        parse_date(value)
    except FilterError:
        return False
    return True


def report_problem(body: object) -> str | None:
    """What is wrong with a report body, as the doc's example shapes it; None when nothing is."""
    if not isinstance(body, dict) or set(body) != {"reportType", "items"}:
        return "a report is an object with exactly reportType and items"
    if body["reportType"] not in REPORT_TYPES:
        return f"reportType must be one of {', '.join(REPORT_TYPES)}"
    items = body["items"]
    if not isinstance(items, list) or not items:
        return "items must be a non-empty list"
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return f"items[{index}] is not an object"
        allowed = {"id", "date", "lastUpdateDate", "status"} | (
            {"messages"} if item.get("status") == "error" else set()
        )
        if not {"id", "date", "lastUpdateDate", "status"} <= set(item) or not set(item) <= allowed:
            return f"items[{index}] must hold id, date, lastUpdateDate, status (and messages only in error)"
        if not isinstance(item["id"], str) or not item["id"]:
            return f"items[{index}].id must be a non-empty string"
        for name in ("date", "lastUpdateDate"):
            if not _date_time(item[name]):
                return f"items[{index}].{name} must be an ISO 8601 date-time"
        if item["status"] not in REPORT_STATUSES:
            return f"items[{index}].status must be one of {', '.join(REPORT_STATUSES)}"
        messages = item.get("messages")
        if messages is not None and (not isinstance(messages, list) or not all(isinstance(m, str) for m in messages)):
            return f"items[{index}].messages must be a list of strings"
    return None


def _int_param(params: dict[str, object], name: str, default: int) -> int:
    value = params.get(name, default)
    if not isinstance(value, int):
        msg = f"fault parameter {name!r} must be an int, not {value!r}"
        raise TypeError(msg)
    return value


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_text.lower()) or "x"


def fold(text: str) -> str:
    """``text`` for ``q`` matching: HTML tags dropped, accents removed, case folded."""
    text = re.sub(r"<[^>]*>", " ", text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _ref(code: int, label: str) -> dict[str, object]:
    """A referential value inside a current-shape document: the connector reads its ``id``
    (``(ts_vacancy["status"] or {}).get("id")``) and its ``label`` (``language["language"]["label"]``);
    the id is the referential item's ``code``, as a string (a choice: no public document shows one)."""
    return {"id": str(code), "label": label}


def _pick(rng: random.Random, items: Sequence[tuple[int, str]]) -> dict[str, object]:
    code, label = rng.choice(items)
    return _ref(code, label)


def _real(item: tuple[int, str, str]) -> dict[str, object]:
    return _ref(item[0], item[2])


def _country(iso_code: str) -> dict[str, object]:
    for number, (code, english, _) in enumerate(COUNTRIES, 1):
        if code == iso_code:
            return _ref(COUNTRY_CODE_BASE + number, english)
    msg = f"no country {iso_code!r}"
    raise KeyError(msg)


def _address(rng: random.Random, place: tuple[str, str, str, str, str, float, float]) -> str:
    city, _, postal, street, style, _, _ = place
    number = rng.randint(1, 180)
    if style == "fr":
        return f"{number} {street}, {postal} {city}"
    if style == "gb":
        return f"{number} {street}, {city} {postal}"
    if style == "ca":
        return f"{number} {street}, {city} (QC) {postal}"
    return f"{street} {number}, {postal} {city}"


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
        shape: str = "seed",
    ) -> None:
        """``shape``: ``"seed"`` (default) or ``"current"``, for documents and referentials alike
        (see the module docstring); ``categories``: referential category -> item count."""
        if shape not in SHAPES:
            msg = f"shape must be one of {', '.join(SHAPES)}, not {shape!r}"
            raise ValueError(msg)
        self.shape = shape
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
        #: Every authorized export call's query, as sent (accepted or not): (export, {name: value});
        #: a parameter sent more than once is recorded as the list of its values.
        self.export_params: list[tuple[str, dict[str, str | list[str]]]] = []
        #: Test-only, for paging ahead: what happened, in order: ``("request", export, offset)`` as an
        #: export call is accepted, ``("released" | "timed_out", export, offset)`` when a held body
        #: goes on (see :attr:`hold_last_frame`), ``("body_end", export, offset)`` once a body's
        #: last byte is handed to the server.
        self.export_events: list[tuple[str, str, int]] = []
        #: Test-only: (export, offset) -> seconds the body of that page waits at most, before its
        #: last frame, for a request of a later page of the same export. A client that asks for
        #: the next page while it reads this one releases it at once; one that waits for the
        #: body to end cannot.
        self.hold_last_frame: dict[tuple[str, int], float] = {}
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._tokens: dict[str, float] = {}  # token -> monotonic deadline
        self._base = {"vacancies": vacancies, "candidates": candidates}
        self._added: dict[str, list[int]] = {"vacancies": [], "candidates": []}  # epochs of added records
        #: Records edited since generated (index -> new updateDate epoch): same position, new date.
        self._edited: dict[str, dict[int, int]] = {"vacancies": {}, "candidates": {}}
        self._last_fresh = 0
        self._version = 0
        self._filter_cache: OrderedDict[tuple[object, ...], list[int]] = OrderedDict()
        self._text_cache: dict[int, str] = {}
        self._referentials = {name: self._make_referential(name, n) for name, n in self.categories.items()}
        #: Webhook subscriptions and referential translations (tests/emulator/talentsoft_system.py).
        self.system = TalentsoftSystem(self._auth, self._referentials)
        #: Reports on indexed data accepted, in order: each the request's JSON body.
        self.reports: list[dict[str, Any]] = []

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

    def candidate_docs(self, *, resume_only: bool = False) -> Iterator[dict[str, object]]:
        """The candidate documents in export order (unfiltered), ``offset`` included;
        ``resume_only``: as ``attachmenttype=resume`` serves them."""
        for index in range(self._count("candidates")):
            yield self._document("candidates", index, index, resume_only=resume_only)

    def vacancy_reference(self, index: int) -> str:
        """The reference of the vacancy at ``index`` (0-based, in export order)."""
        if self.shape == "current":  # the connector's example reference is "2019-01"
            return f"{time.gmtime(self._dates('vacancies', index)[0]).tm_year}-{index + 1:02d}"
        return f"VAC-{index + 1:05d}"

    def candidate_id(self, index: int) -> str:
        """The id of the candidate at ``index`` (0-based, in export order)."""
        if self.shape == "current":  # the connector's example id is "_TS-00001"
            return f"_TS-{index + 1:05d}"
        return f"CAND-{index + 1:05d}"

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
        return [self.vacancy_reference(i) for i in self._add("vacancies", n)]

    def add_candidates(self, n: int) -> list[str]:
        """Append ``n`` candidates at the end of the export, updated now; their ids."""
        return [self.candidate_id(i) for i in self._add("candidates", n)]

    def edit_vacancies(self, *indices: int, at: int | None = None) -> list[str]:
        """Edit vacancies already in the export (0-based indices): same position, ``updateDate`` (and
        ``modificationDate``) now, or ``at`` (epoch seconds) when given; their references."""
        self._edit("vacancies", indices, at)
        return [self.vacancy_reference(i) for i in indices]

    def edit_candidates(self, *indices: int, at: int | None = None) -> list[str]:
        """Edit candidates already in the export, as :meth:`edit_vacancies` does; their ids."""
        self._edit("candidates", indices, at)
        return [self.candidate_id(i) for i in indices]

    def update_epoch(self, kind: str, index: int) -> int:
        """The ``updateDate`` of record ``index`` of ``kind`` (``vacancies``, ``candidates``), epoch seconds."""
        with self._lock:
            return self._dates(kind, index)[1]

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
        if self.system.handles(path):
            return self.system.route(request)
        if path == "/api/token":
            return self._method(request, "POST") or self._token(request)
        if path == REPORTS_PATH:
            return self._method(request, "POST") or self._auth(request) or self._report(request)
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

    def _report(self, request: Request) -> Response:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return Response.json(400, {"message": "Content-Type must be application/json"})
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return Response.json(400, {"message": "the body is not JSON"})
        problem = report_problem(body)
        if problem is not None:
            return Response.json(400, {"message": problem})
        with self._lock:
            self.reports.append(body)
        return Response.json(200, {})

    def reported_items(self, report_type: str) -> list[tuple[str, str]]:
        """Every item reported for ``report_type`` so far, in order: (id, lastUpdateDate)."""
        with self._lock:
            return [
                (item["id"], item["lastUpdateDate"])
                for body in self.reports
                if body["reportType"] == report_type
                for item in body["items"]
            ]

    def _referential(self, request: Request, category: str) -> Response:
        if request.query:
            return Response.json(400, {"message": f"unknown query parameters: {', '.join(sorted(request.query))}"})
        if category not in self._referentials:
            return Response.json(404, {"message": f"unknown referential {category!r}"})
        return Response.json(200, self._referentials[category])

    def _export(self, request: Request, kind: str, fault: Fault | None) -> Response:
        recorded = {name: values[0] if len(values) == 1 else list(values) for name, values in request.query.items()}
        with self._lock:
            self.export_params.append((kind, recorded))
        unknown = sorted(set(request.query) - EXPORT_PARAMS[kind])
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
        terms = tuple(fold(request.arg("q") or "").split())  # an empty q restricts nothing
        attachment_type = request.arg("attachmenttype")
        if attachment_type is not None and attachment_type.lower() not in ATTACHMENT_TYPES:
            return Response.json(
                400, {"message": f"attachmenttype must be one of {', '.join(sorted(ATTACHMENT_TYPES))}, "
                      f"not {attachment_type!r}"},
            )  # fmt: skip
        try:
            indices = self._select(kind, None if filter_text is None else parse_filter(filter_text), terms)
        except FilterError as exc:
            return Response.json(400, {"message": str(exc)})
        total = len(indices)
        served = max(0, min(limit, total - offset))
        reported = total
        if fault is not None and fault.kind == "lie_total":
            reported = _int_param(fault.params, "total", total + _int_param(fault.params, "extra", 1))
        last = offset + served - 1
        if fault is not None and fault.kind == "lie_range":
            last += _int_param(fault.params, "shift", 1)
        content_range = f"{offset}-{last}/{reported}" if served else f"*/{reported}"
        with self._lock:
            self.export_calls.append((kind, offset, limit, filter_text))
            self.export_events.append(("request", kind, offset))
            self._arrived.notify_all()
        return Response(
            200,
            body=self._frames(kind, indices, offset, served, fault, resume_only=attachment_type is not None),
            headers={"Content-Type": "application/octet-stream", "Content-Range": content_range},
            chunked=True,
        )

    # ------------------------------------------------------------------ the framed stream

    def _frames(
        self, kind: str, indices: Sequence[int], offset: int, served: int, fault: Fault | None, *,
        resume_only: bool = False,
    ) -> Iterator[bytes | memoryview]:  # fmt: skip
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
            if number == len(positions) and (kind, offset) in self.hold_last_frame:
                self._hold(kind, offset, self.hold_last_frame[kind, offset])
            hit = kind_of_fault if number == target else None
            if hit == "huge_length":
                yield b"\xff\xff\xff\xff"
                return
            archive: bytes | memoryview = self._archive(
                kind, indices[position], position, hit, params, resume_only=resume_only
            )
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
        with self._lock:
            self.export_events.append(("body_end", kind, offset))

    def _hold(self, kind: str, offset: int, seconds: float) -> None:
        """Wait (up to ``seconds``) for a request of a later page of ``kind`` than the one at ``offset``."""
        with self._arrived:
            asked = ("request", kind, offset)
            since = max(i for i, event in enumerate(self.export_events) if event == asked)  # this page's request

            def later_page_asked() -> bool:
                return any(e[0] == "request" and e[1] == kind and e[2] > offset for e in self.export_events[since:])

            released = self._arrived.wait_for(later_page_asked, timeout=seconds)
            self.export_events.append(("released" if released else "timed_out", kind, offset))

    def _archive(
        self, kind: str, index: int, position: int, hit: str | None, params: dict[str, object], *,
        resume_only: bool = False,
    ) -> memoryview:  # fmt: skip
        """The zip of one record, written once into one buffer."""
        doc = self._document(kind, index, position, resume_only=resume_only)
        detail: dict[str, object] = doc[DETAIL[kind]]  # type: ignore[assignment]
        when = self._dates(kind, index)[1]
        # (entry name, chunks, size, deflate)
        entries: list[tuple[str, Iterator[bytes] | Sequence[bytes], int, bool]] = []
        if kind == "candidates":
            candidate_id = str(detail["id"])
            listed: list[dict[str, object]] = doc["attachments"]  # type: ignore[assignment]
            for attachment in self._attachments(index, resume_only=resume_only):
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
            holder = detail
            if self.shape == "current":
                holder = detail["personalInformation" if kind == "candidates" else "jobDescription"]  # type: ignore[assignment]
            holder[field] = f"{holder[field]} {_NON_UTF8_MARKER}"
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

    def _edit(self, kind: str, indices: Sequence[int], at: int | None) -> None:
        with self._lock:
            if at is None:
                at = int(time.time())  # now, as the vendor's clock says (the Date header's)
            for index in indices:
                if not 0 <= index < self._count(kind):
                    msg = f"no {kind} record at index {index}"
                    raise IndexError(msg)
                self._edited[kind][index] = at
            self._version += 1
            self._filter_cache.clear()
            self._text_cache.clear()

    def _hash(self, kind: str, index: int) -> bytes:
        return hashlib.blake2b(f"{self.seed}/{kind}/{index}".encode(), digest_size=32).digest()

    def _dates(self, kind: str, index: int) -> tuple[int, int]:
        """(creationDate, updateDate) as epoch seconds, cheap: filters scan them all."""
        base = self._base[kind]
        edited = self._edited[kind].get(index)
        if index >= base:
            fresh = self._added[kind][index - base]
            return fresh, fresh if edited is None else edited
        digest = self._hash(kind, index)
        created = BASE_EPOCH + int.from_bytes(digest[:8], "little") % CREATION_SPAN
        delta = int.from_bytes(digest[8:16], "little")
        if edited is not None:
            return created, edited
        return created, created + (0 if delta % 5 == 0 else delta % UPDATE_SPAN)

    def _select(
        self, kind: str, clauses: tuple[tuple[int, str, Any], ...] | None, terms: tuple[str, ...] = ()
    ) -> Sequence[int]:
        """The record indices matching a filter and the ``q`` terms, in export order (cached)."""
        with self._lock:
            count = self._count(kind)
            if clauses is None and not terms:
                return range(count)
            key = (kind, clauses, terms, count, self._version)
            cached = self._filter_cache.get(key)
            if cached is not None:
                self._filter_cache.move_to_end(key)
                return cached
            checks = [(field, FILTER_OPS[op], value) for field, op, value in clauses or () if field != ID_FIELD]
            wanted = [value for field, _, value in clauses or () if field == ID_FIELD]
            record_id = self.vacancy_reference if kind == "vacancies" else self.candidate_id
            selected = []
            for index in range(count):
                dates = self._dates(kind, index)
                if not all(check(dates[field], value) for field, check, value in checks):
                    continue
                if wanted and not all(record_id(index) in ids for ids in wanted):
                    continue
                if terms and not all(term in self._search_text(index) for term in terms):
                    continue
                selected.append(index)
            self._filter_cache[key] = selected
            while len(self._filter_cache) > 8:
                self._filter_cache.popitem(last=False)
            return selected

    def _search_text(self, index: int) -> str:
        """What ``q`` searches in vacancy ``index``, folded (:func:`fold`): the reference, the title,
        the descriptions, the organisation, the place, the contract type (and, in the current shape,
        the primary profile and professional category). A choice: the connector only says
        "Query search to get vacancies"."""
        cached = self._text_cache.get(index)
        if cached is not None:
            return cached
        detail: Any = self._document("vacancies", index, index)["offerDetail"]
        if self.shape == "current":
            job = detail["jobDescription"]
            custom = job["jobDescriptionCustomFields"]
            values = [
                detail["reference"], job["title"], job["description1"], job["description2"], custom["longText1"],
                detail["organisation"], detail["location"]["address"], job["country"], job["contractType"],
                job["primaryProfile"], job["professionalCategory"],
            ]  # fmt: skip
        else:
            values = [
                detail["reference"], detail["title"], detail["description"], detail["organisation"],
                detail["location"]["city"], detail["location"]["country"], detail["contractType"],
            ]  # fmt: skip
        parts = [str(v["label"] if isinstance(v, dict) else v) for v in values if v is not None]
        text = fold("\n".join(parts))
        if index < self._base["vacancies"]:  # added vacancies are few: not worth caching
            self._text_cache[index] = text
        return text

    def _names(self, index: int) -> tuple[str, str]:
        digest = self._hash("candidates", index)
        first = FIRST_NAMES[int.from_bytes(digest[16:24], "little") % len(FIRST_NAMES)]
        last = LAST_NAMES[int.from_bytes(digest[24:32], "little") % len(LAST_NAMES)]
        return first, last

    def _candidate_index(self, candidate_id: str) -> int:
        match = re.fullmatch(r"_TS-(\d+)" if self.shape == "current" else r"CAND-(\d+)", candidate_id)
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

    def _attachments(self, index: int, *, resume_only: bool = False) -> list[Attachment]:
        """The attachments of candidate ``index``: the first is a CV; in the current shape an
        English CV among the others is a resume too (a candidate may have two)."""
        rng = random.Random(f"{self.seed}/attachments/{index}")
        slug = _slug(self._names(index)[0])
        result = []
        for number in range(1, rng.randint(*self.attachments_per_candidate) + 1):
            size = rng.randint(*self.attachment_size)
            if number == 1:
                pattern, mime, description = "cv_{}.pdf", "application/pdf", "Curriculum vitae"
            else:
                pattern, mime, description = rng.choice(OTHER_FILES)
            filename = pattern.format(slug)
            resume = number == 1 or (self.shape == "current" and pattern == "cv_{}_en.doc")
            result.append(Attachment(f"ATT-{index + 1:05d}-{number}", filename, mime, resume, description, size))
        return [a for a in result if a.is_resume] if resume_only else result

    @staticmethod
    def _listed(attachment: Attachment) -> dict[str, object]:
        return {
            "id": attachment.id,
            "filename": attachment.filename,
            "mimeType": attachment.mime_type,
            "isResume": attachment.is_resume,
            "description": attachment.description,
        }

    def _document(self, kind: str, index: int, position: int, *, resume_only: bool = False) -> dict[str, object]:
        if self.shape == "current":
            if kind == "vacancies":
                return self._vacancy_current(index, position)
            return self._candidate_current(index, position, resume_only=resume_only)
        return self._vacancy(index, position) if kind == "vacancies" else self._candidate(index, position, resume_only)

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

    def _candidate(self, index: int, position: int, resume_only: bool = False) -> dict[str, object]:
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
            "attachments": [self._listed(a) for a in self._attachments(index, resume_only=resume_only)],
        }

    def _vacancy_current(self, index: int, position: int) -> dict[str, object]:
        """A vacancy as the connector reads it (``format_ts_vacancy``): see :data:`CURRENT_PATHS`.

        Always filled: what the tap's typed columns read and what the connector reads without a
        guard; sometimes null: what the connector guards (``or {}``, ``if ...``, ``or ""``).
        """
        rng = random.Random(f"{self.seed}/vacancy/{index}")
        created, updated = self._dates("vacancies", index)
        job_number = rng.randrange(len(JOBS))
        place = rng.choice(PLACES)
        city, iso_code = place[0], place[1]
        title = f"{JOBS[job_number]} {rng.choice(SENIORITIES)}"
        if iso_code == "FR":  # French job ads name both genders
            title += rng.choice(("", " H/F", " (H/F)"))
        org_id, org_label = rng.choice(ORGANISATIONS)
        status = _pick(rng, TS_VACANCY_STATUSES)
        contract = _real(rng.choice(TS_CONTRACT_TYPES))
        experience = _real(rng.choice(TS_EXPERIENCE_LEVELS)) if rng.random() < 0.8 else None
        education = _real(rng.choice(TS_EDUCATION_LEVELS)) if rng.random() < 0.7 else None
        skills = [_ref(code, label) for code, label in rng.sample(TS_SKILLS, rng.randint(0, 4))]
        languages = [
            {
                "language": _ref(LANGUAGE_CODE_BASE + number, LANGUAGES[number - 1][1]),
                "languageLevel": _pick(rng, TS_LANGUAGE_LEVELS),
            }
            for number in sorted(rng.sample(range(1, 6), rng.randint(0, 2)))
        ]
        team = rng.randint(3, 40)
        description2 = None
        if rng.random() < 0.75:
            wanted = ", ".join(skill["label"] for skill in skills) or "vos qualités relationnelles"  # type: ignore[misc]
            level = experience["label"] if experience else "all levels"
            description2 = f"<p>Expérience : {level}.</p>\n<p>Vous maîtrisez {wanted}.</p>"
        published = status["label"] == "Published"
        return {
            "offset": position,
            "offerDetail": {
                "reference": self.vacancy_reference(index),
                "status": status,
                "organisation": _ref(org_id, org_label),
                "creationDate": iso(created),
                "modificationDate": iso(updated),
                "location": {
                    "address": _address(rng, place),
                    "latitude": round(place[5] + rng.uniform(-0.02, 0.02), 6),
                    "longitude": round(place[6] + rng.uniform(-0.02, 0.02), 6),
                    "country": _country(iso_code),
                },
                "jobDescription": {
                    "title": title,
                    "description1": (
                        f"<p>Au sein de {org_label}, vous rejoignez une équipe de {team} personnes à {city}.</p>\n"
                        f'<ul><li>Télétravail possible</li><li>RTT & "mutuelle"</li></ul>'
                    ),
                    "description2": description2,
                    "contractType": contract,
                    "country": _country(iso_code),
                    "professionalCategory": _pick(rng, TS_PROFESSIONAL_CATEGORIES) if rng.random() < 0.8 else None,
                    "primaryProfile": _ref(*TS_PROFILES[JOB_PROFILES[job_number]]) if rng.random() < 0.9 else None,
                    "jobDescriptionCustomFields": {
                        "longText1": rng.choice((None, f"Poste basé à {city}, déplacements ponctuels.")),
                        "longText2": rng.choice((None, None, "Prise de poste : dès que possible.")),
                        "longText3": None,
                        "shortText1": rng.choice(REMOTE),
                    },
                },
                "criteria": {"experienceLevel": experience, "educationLevel": education, "skills": skills},
                "languages": languages,
                "publishedOnInternet": published and rng.random() < 0.9,
                "publishedOnIntranet": published or rng.random() < 0.3,
            },
        }

    def _candidate_current(self, index: int, position: int, *, resume_only: bool = False) -> dict[str, object]:
        """A candidate as the connector reads it (``format_ts_candidate``): see :data:`CURRENT_PATHS`."""
        rng = random.Random(f"{self.seed}/candidate/{index}")
        created, updated = self._dates("candidates", index)
        first, last = self._names(index)
        place = rng.choice(PLACES)
        iso_code = place[1]
        prefix = PHONE_PREFIXES[iso_code]
        if iso_code == "FR":
            phone = f"{prefix} {rng.choice('67')} " + " ".join(f"{rng.randrange(100):02d}" for _ in range(4))
        else:
            phone = f"{prefix} {rng.randrange(100, 1000)} {rng.randrange(1_000_000, 10_000_000)}"
        vacancies = self._base["vacancies"]
        applications = []
        for number in range(1, (rng.randint(0, 3) if vacancies else 0) + 1):
            status_code, status_label = rng.choice(TS_APPLICATION_STATUSES)
            for _ in range(8):  # a vacancy that existed when the candidate last changed, if one comes up
                vacancy = rng.randrange(vacancies)
                opened = self._dates("vacancies", vacancy)[0]
                if opened <= updated:
                    break
            applications.append(
                {
                    "id": 100_000 + index * 10 + number,
                    "type": "offer",
                    "vacancyReference": self.vacancy_reference(vacancy),
                    "status": _ref(status_code, status_label),
                    "date": iso(rng.randint(min(max(created, opened), updated), updated)),
                    "origin": _pick(rng, TS_ORIGINS),
                }
            )
        in_progress = any(int(app["status"]["id"]) not in CLOSED_APPLICATION_STATUSES for app in applications)  # type: ignore[index]
        educations = [
            {
                "educationLevel": _real(rng.choice(TS_EDUCATION_LEVELS)) if rng.random() < 0.8 else None,
                "college": rng.choice(COLLEGES),
                "yearObtained": time.gmtime(created).tm_year - rng.randint(1, 25),
            }
            for _ in range(rng.randint(0, 2))
        ]
        birth = rng.choice((None, f"{rng.randint(1965, 2003)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"))
        return {
            "offset": position,
            "isEmployee": rng.random() < 0.15,
            "isInProgress": in_progress,
            "candidateDetail": {
                "id": self.candidate_id(index),
                "creationDate": iso(created),
                "modificationDate": iso(updated),
                "personalInformation": {
                    "civility": _real(rng.choice(TS_CIVILITIES)) if rng.random() < 0.7 else None,
                    "firstName": first,
                    "lastName": last,
                    "middleName": None,
                    "email": f"{_slug(first)}.{_slug(last)}{index + 1}@example.com",
                    "phoneNumber": phone,
                    "phoneNumber2": None,
                    "address": _address(rng, place),
                    "postalCode": place[2],
                    "city": place[0],
                    "residentCountry": _country(iso_code),
                    "birthDate": birth,
                },
                "positionSought": {
                    "primaryProfile": _pick(rng, TS_PROFILES),
                    "contractType": _real(rng.choice(TS_CONTRACT_TYPES)) if rng.random() < 0.75 else None,
                    "salaryPretensions": rng.choice((None, str(rng.randrange(25_000, 150_000, 500)))),
                    "jobPreferencesCustomFields": {"customCodeTable1": _pick(rng, TS_PROFILE_STATUSES)},
                },
                "globalExperience": {
                    "globalExperienceLevel": _real(rng.choice(TS_EXPERIENCE_LEVELS)) if rng.random() < 0.8 else None
                },
                "educations": educations,
            },
            "applications": applications,
            "attachments": [self._listed(a) for a in self._attachments(index, resume_only=resume_only)],
        }

    def _make_referential(self, category: str, count: int) -> list[dict[str, object]]:
        if self.shape == "current":
            return self._make_referential_current(category, count)
        return self._make_referential_seed(category, count)

    @staticmethod
    def _make_referential_current(category: str, count: int) -> list[dict[str, object]]:
        """Items as the connector models them (``schemas.py`` ``standardItem``): no ``id``, an
        integer ``code``; real values for the categories of ``utils/const.py``."""
        items: list[dict[str, object]] = []
        item_type = category[:-1] if category.endswith("s") else category
        known: Sequence[tuple[int, str, str]] = ()
        if category in TS_REFERENTIALS:
            item_type, known = TS_REFERENTIALS[category]
        elif category == "countries":
            item_type = "country"
            known = [(COUNTRY_CODE_BASE + n, f"_TS_CO_Country_{c}", e) for n, (c, e, _) in enumerate(COUNTRIES, 1)]
        elif category == "languages":
            item_type = "language"
            known = [(LANGUAGE_CODE_BASE + n, f"_TS_CO_Language_{c}", e) for n, (c, e, _) in enumerate(LANGUAGES, 1)]
        for number in range(1, count + 1):
            if number <= len(known):
                code, client_code, label = known[number - 1]
            else:
                code, client_code = 9000 + number, f"_TS_CO_{item_type}_{number:03d}"
                label = f"{category[:1].upper()}{category[1:]} {number}"
            items.append(
                {
                    "code": code,
                    "clientCode": client_code,
                    "label": label,
                    "active": number % 10 != 0,
                    "parentCode": None,
                    "type": item_type,
                    "parentType": "",
                    "hasChildren": False,
                }
            )
        return items

    @staticmethod
    def _make_referential_seed(category: str, count: int) -> list[dict[str, object]]:
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
