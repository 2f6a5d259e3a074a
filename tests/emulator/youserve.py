"""Visma YouServe File API (subscriber role), emulated strictly.

Mounted at ``/youserve``: the tap's ``base_url`` is ``emulator.url("/youserve")`` and its token
URL ``emulator.url("/youserve") + "/authentication/token"``. The vendor documentation is
``youserve-file-api-subscriber.txt``; where it is silent, this emulator picks the strict reading
and says so below.

The current sign-in, as Visma's own examples use it (VR-API-Integration/file-api-integration-examples,
powershell/VismaDeveloperPortal/download), is served by the same vendor object through two
facades, each mounted at a prefix of its own; files, tokens, faults and bookkeeping are shared:

* ``vendor.connect`` (:class:`VismaConnectEmulator`, prefix ``/visma-connect``) stands for
  https://connect.visma.com: ``POST /connect/token`` with the form ``grant_type=client_credentials``,
  ``client_id``, ``client_secret``, ``tenant_id`` (an optional ``scope`` must be a subset of
  ``connect_scope``) answers ``{"access_token", "expires_in", "token_type", "scope"}``; the token
  (JWT-shaped, random signature) is bound to its tenant. Refusals: 400 ``invalid_request``
  (missing field, not a form, repeated field, not POST), ``connect_invalid_client_status``
  (401, or 400 as IdentityServer answers) ``invalid_client``, 400 ``unsupported_grant_type``,
  ``invalid_tenant`` (a tenant not in ``connect_tenants``), ``invalid_scope``.
* ``vendor.youforce`` (:class:`YouforceFileApi`, prefix ``/youforce``) stands for
  https://fileapi.youforce.com: the same ``/v1.0/files`` endpoints (``role=subscriber`` still
  required), for Visma Connect tokens only; the tenant is the token's (``connect_tenants`` maps a
  Visma Connect tenant id to the files' ``tenantId``), an x-raet-tenant-id header is ignored and
  recorded in ``youforce_tenant_headers``. ``$filter=`` (empty) means no filter (available files)
  and ``startsWith(FileName, 'x') eq false`` is a filter, as the example config.xml has them; the
  seed host keeps answering both with a 400. ``youforce_accepts_youserve_tokens=True`` also
  lets seed tokens in with their x-raet-tenant-id header (the YouforceDeveloperPortal example).
* Tokens of one sign-in are unknown (401) on the other sign-in's host.
* Spike arrest (off by default): with ``spike_arrest_per_minute`` set, File API calls to the hosts
  in ``spike_arrest_hosts`` go through a token bucket of ``spike_arrest_burst`` calls refilled at
  that rate (Apigee smoothing: 100 per minute is one call per 0.6 s); the rest get a 429 with no
  Retry-After, counted in ``spike_arrests``. ``spike_arrest_clock`` replaces ``time.monotonic``.
  Token requests are never arrested; an arrested call consumes no armed fault.
* Bookkeeping: ``calls`` counts ``(method, kind)`` over every host, ``host_calls``
  ``(host, method, kind)``; ``token_requests`` and ``issued_tokens`` cover both sign-ins
  (``token_requests_by_sign_in`` splits them); ``connect_token_forms`` keeps each Visma Connect
  form with its secret redacted.
* Concurrency (for tests of a tap sending requests side by side): ``answer_delay(request, kind)``
  (settable, None by default) gives the seconds a File API call waits before it is answered,
  after the spike arrest let it through and before its token is checked (random delays make
  answers come back out of order); ``in_flight``/``most_in_flight`` count the File API calls
  being answered at once (the delay included, not the body's transfer); ``exchanges`` lists
  every call as an :class:`Exchange` (arrival time, host, method, kind, path, status) in the
  order the answers were produced. ``body_piece_bytes`` (default 1 MiB) is the largest piece
  of a file body generated at once: smaller, the emulator's own memory stays out of a
  measure of the tap's (both run in one process in tests).
* Mounting: ``for host in vendor.hosts(): mount(emulator, host)``; then
  ``config_for(emulator, vendor)`` is the seed sign-in and ``config_for(emulator, vendor.youforce)``
  the Visma Connect one (``vendor.sign_in_settings(emulator.url(), sign_in)`` gives either block).

Behaviour worth knowing when writing tap tests:

* By default (no ``status`` clause in ``$filter``) the listing only shows files that were not
  downloaded yet, and ``count`` shrinks as files get downloaded: paging by ``pageIndex`` while
  downloading skips files, exactly as the real API would make a naive tap do.
* A file becomes downloaded once a complete GET, or a ranged GET that includes its last byte,
  has been served (a body cut by an ``abort_after`` fault does not count).
* File bytes are generated lazily from ``(seed, fileId)`` in 4 KiB blocks, each starting with its
  block number, so an offset error anywhere changes the bytes; a 1 GB file costs no memory.
* ``$filter`` is parsed by a tokenizer and a recursive-descent parser: field and function names
  are case-insensitive (the documentation writes both ``FileName`` and ``fileName``); operators,
  ``and``/``or`` and status values are lower case only; ``fileName`` only takes ``eq``/``ne`` and
  the three functions, compared case-insensitively (a SQL Server collation); ``status`` only
  takes ``eq``; a bare DateTime literal needs its offset (``Z`` or ``+01:00``), the
  ``datetime'...'`` form may omit it (UTC). An empty ``$filter`` or ``$orderBy`` is a 400.
* Strict on ranges: only ``bytes=a-b`` and ``bytes=a-``; suffix and multi-part ranges, ``b < a``
  or any other syntax is a 400. ``Accept`` must name ``application/octet-stream`` on GET
  (``*/*`` is not enough: 406).
* Body-level faults (``Fault.kind``) only act on a GET of a file that answers 200/206:
  ``short_body`` (``params["missing"]`` bytes fewer, default 1, sent chunked without
  Content-Length so the body ends cleanly), ``wrong_total`` (Content-Range total is
  ``params["total"]``, default size + 1; only on 206) and ``ignore_range`` (a ranged GET is
  answered 200 with the whole file). Arm them with ``method="GET"`` so a HEAD does not consume
  them.
* Listing faults (``Fault.kind`` on ``GET /files``): ``duplicate`` (a page after the first
  starts with the last entry of the page before, as when an upload shifts the pages),
  ``lie_count`` (``count`` is ``params["extra"]``, default 5, too large) and ``non_utf8`` (the
  first entry's ``fileName`` holds a Latin-1 byte and a lone 0xFF).
* ``add_file(..., file_id=...)`` delivers a file under any id (a hostile ``../../x`` too); the
  id in a request path is percent-decoded, as ASP.NET routing does.
* Files sharing the sort key (one ``uploadDate``) are listed in ``fileId`` order by default;
  the documentation defines no order there, so ``tie_order="hashed"`` lists them in another
  stable order (a hash of seed and id): a tap must not rely on the order inside one date.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote

from tests.emulator.server import Faults, Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from tests.emulator.server import Fault

#: Raw bytes the listing's "non_utf8" fault puts into a file name: a Latin-1 "é" and a lone 0xFF.
NON_UTF8_BYTES = b"Ren\xe9 \xff"
_NON_UTF8_MARKER = "\u2063NON-UTF8-MARKER\u2063"
BLOCK = 4096  # bytes of one generated block; each starts with its 8-byte block number
PIECE = 1024 * 1024  # largest piece of a streamed body
DEFAULT_PUBLISHER = "cfc6678d-06d8-41c7-acb5-7448a14dc917"  # the documentation's publisher
FILES_PATH = "/fileapi/v1.0/files"
TOKEN_PATH = "/authentication/token"
CONNECT_TOKEN_PATH = "/connect/token"  # a path: https://connect.visma.com/connect/token
YOUFORCE_FILES_PATH = "/v1.0/files"  # https://fileapi.youforce.com/v1.0/files
#: Visma Developer Portal client ids start with "isv_"; the tenant id is a GUID (the example
#: README's ``VismaConnectTenantId``), mapped to the File API tenant "sandbox" by default.
DEFAULT_CONNECT_CLIENT_ID = "isv_tap_hrdata"
DEFAULT_CONNECT_CLIENT_SECRET = "vc-secret-0123456789abcdef"
DEFAULT_CONNECT_TENANT = "11111111-1111-1111-1111-111111111111"
#: The scopes a subscriber app is granted (the docs show "youforce-fileapi:files:list
#: youforce-fileapi:files:upload" for a publisher; the subscriber's are our guess by analogy).
DEFAULT_CONNECT_SCOPE = "youforce-fileapi:files:list youforce-fileapi:files:download youforce-fileapi:files:delete"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_TICKS_PER_SECOND = 10_000_000  # .NET ticks: 100 ns

# (file_name, business_type, size, upload_date) of the default set; dates shared on purpose.
DEFAULT_FILES: tuple[tuple[str, int, int, str], ...] = (
    ("sandbox_test_file.xml", 7101, 107, "2026-01-05T07:30:23.657Z"),
    ("sandbox_test_file.txt", 7101, 33, "2026-01-05T07:30:23.657Z"),
    ("sandbox_test_file.csv", 7101, 76, "2026-01-05T07:30:23.657Z"),
    ("payroll_2026_01.xml", 7101, 48_213, "2026-01-31T18:02:11.120Z"),
    ("empty_export.csv", 8000, 0, "2026-02-02T06:00:00.000Z"),
    ("absence_holidays", 8000, 1_024, "2026-02-02T06:00:00.000Z"),
    ("employees_full.csv", 8000, 307_200, "2026-02-10T09:15:42.001Z"),
    ("it's a 'test' file.txt", 8000, 4_096, "2026-02-11T12:00:00.500Z"),
    ("bint_mutations_0001.xml", 101100, 12_345, "2026-02-14T23:59:59.999Z"),
    ("bint_mutations_0002.xml", 101100, 65_536, "2026-02-20T05:04:03.210Z"),
    ("bint_mutations_0003.xml", 101100, 65_537, "2026-02-20T05:04:03.210Z"),
    ("../../etc/passwd", 101100, 1_900, "2026-02-25T10:10:10.010Z"),
    ("payroll_2026_02.xml", 7101, 51_877, "2026-02-28T18:01:09.004Z"),
)


@dataclass(frozen=True)
class Exchange:
    """One call as the vendor saw it (``YouserveEmulator.exchanges``)."""

    arrived: float  # time.monotonic() when the call came in
    host: str
    method: str
    kind: str  # "token", "list", "file", "range", "other"
    path: str
    status: int


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in the documented shape (see the 416 example)."""
    payload = {"correlationId": None, "message": message, "errorCode": str(status), "exception": None}
    return Response.json(status, payload, headers)


# --------------------------------------------------------------------------- dates


_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def parse_datetime(text: str, *, offset_required: bool = True) -> int:
    """An ISO/OData DateTime as .NET ticks (100 ns) since the Unix epoch; ValueError if invalid."""
    match = _DATETIME.fullmatch(text)
    if not match:
        msg = f"not a DateTime: {text!r}"
        raise ValueError(msg)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset is None and offset_required:
        msg = f"DateTime without offset: {text!r}"
        raise ValueError(msg)
    tz = timezone.utc
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 14 or minutes > 59:
            msg = f"bad offset in {text!r}"
            raise ValueError(msg)
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
    delta = moment - _EPOCH
    ticks = (delta.days * 86_400 + delta.seconds) * _TICKS_PER_SECOND
    return ticks + int((fraction or "").ljust(7, "0"))


def format_ticks(ticks: int) -> str:
    """Ticks since the epoch as the listing shows them: ``2021-03-25T07:30:23.657Z``."""
    seconds, rest = divmod(ticks, _TICKS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 10_000:03d}Z"


# --------------------------------------------------------------------------- $filter


class FilterError(ValueError):
    """A malformed ``$filter``."""


@dataclass
class _Token:
    kind: str  # "(", ")", ",", "word", "string", "number", "datetime"
    value: Any
    pos: int


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL = re.compile(r"[0-9A-Za-z:.+\-]+")
_INTEGER = re.compile(r"-?\d+", re.ASCII)


def _read_string(text: str, pos: int) -> tuple[str, int]:
    """The quoted string starting at ``text[pos] == "'"``, OData escaping; and the next position."""
    out = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == "'":
            if text.startswith("''", i):
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(char)
        i += 1
    msg = f"unterminated string starting at position {pos}"
    raise FilterError(msg)


def tokenize(text: str) -> list[_Token]:
    """Split a ``$filter`` into tokens."""
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t":
            i += 1
        elif char in "(),":
            tokens.append(_Token(char, char, i))
            i += 1
        elif char == "'":
            value, end = _read_string(text, i)
            tokens.append(_Token("string", value, i))
            i = end
        elif char.isascii() and (char.isalpha() or char == "_"):
            match = _WORD.match(text, i)
            assert match is not None
            word = match.group()
            end = match.end()
            if word.lower() == "datetime" and text.startswith("'", end):
                value, end = _read_string(text, end)
                try:
                    tokens.append(_Token("datetime", parse_datetime(value, offset_required=False), i))
                except ValueError as exc:
                    raise FilterError(str(exc)) from None
            else:
                tokens.append(_Token("word", word, i))
            i = end
        elif char in "0123456789-":
            match = _LITERAL.match(text, i)
            assert match is not None
            literal = match.group()
            if _INTEGER.fullmatch(literal):
                tokens.append(_Token("number", int(literal), i))
            else:
                try:
                    tokens.append(_Token("datetime", parse_datetime(literal), i))
                except ValueError:
                    msg = f"bad literal {literal!r} at position {i}"
                    raise FilterError(msg) from None
            i = match.end()
        else:
            msg = f"unexpected character {char!r} at position {i}"
            raise FilterError(msg)
    return tokens


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "ge": lambda a, b: a >= b,
    "le": lambda a, b: a <= b,
}
_FUNCTIONS: dict[str, Callable[[str, str], bool]] = {
    "startswith": lambda name, arg: name.startswith(arg),
    "endswith": lambda name, arg: name.endswith(arg),
    "contains": lambda name, arg: arg in name,
}
_FIELDS = ("uploaddate", "businesstype", "status", "filename")
_BOOL_OPS = ("eq", "ne")
_STATUSES = {
    "all": lambda f: True,
    "downloaded": lambda f: f.downloaded,
    "available": lambda f: not f.downloaded,
}


class FilterParser:
    """Recursive descent over the tokens; ``and`` binds tighter than ``or``.

    filter  := or_expr END
    or_expr := and_expr ("or" and_expr)*
    and_expr:= primary ("and" primary)*
    primary := "(" or_expr ")" | function "(" field "," string ")" | field op literal
    """

    def __init__(self, text: str, *, boolean_functions: bool = False) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.has_status = False
        #: Accept ``startsWith(FileName, 'x') eq false`` (``eq``/``ne`` ``true``/``false`` after a
        #: function), as the filters in Visma's example config.xml files write it.
        self.boolean_functions = boolean_functions

    def parse(self) -> Callable[[YouserveFile], bool]:
        """The predicate of the whole filter (without the default status clause)."""
        if not self.tokens:
            msg = "empty filter"
            raise FilterError(msg)
        predicate = self._or()
        if self.pos != len(self.tokens):
            token = self.tokens[self.pos]
            msg = f"unexpected {token.value!r} at position {token.pos}"
            raise FilterError(msg)
        return predicate

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self, what: str) -> _Token:
        token = self._peek()
        if token is None:
            msg = f"expected {what} at the end"
            raise FilterError(msg)
        self.pos += 1
        return token

    def _expect(self, kind: str, what: str) -> _Token:
        token = self._next(what)
        if token.kind != kind:
            msg = f"expected {what} at position {token.pos}, got {token.value!r}"
            raise FilterError(msg)
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "word" and token.value == word:
            self.pos += 1
            return True
        return False

    def _or(self) -> Callable[[YouserveFile], bool]:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda f: any(p(f) for p in parts)

    def _and(self) -> Callable[[YouserveFile], bool]:
        parts = [self._primary()]
        while self._keyword("and"):
            parts.append(self._primary())
        if len(parts) == 1:
            return parts[0]
        return lambda f: all(p(f) for p in parts)

    def _primary(self) -> Callable[[YouserveFile], bool]:
        token = self._next("a condition")
        if token.kind == "(":
            inner = self._or()
            self._expect(")", "')'")
            return inner
        if token.kind != "word":
            msg = f"expected a field or function at position {token.pos}, got {token.value!r}"
            raise FilterError(msg)
        following = self._peek()
        if following is not None and following.kind == "(":
            return self._function(token)
        return self._comparison(token)

    def _function(self, name: _Token) -> Callable[[YouserveFile], bool]:
        function = _FUNCTIONS.get(name.value.lower())
        if function is None:
            msg = f"unknown function {name.value!r} at position {name.pos}"
            raise FilterError(msg)
        self._expect("(", "'('")
        field = self._expect("word", "a field name")
        if field.value.lower() != "filename":
            msg = f"{name.value} only applies to fileName, not {field.value!r}"
            raise FilterError(msg)
        self._expect(",", "','")
        argument = self._expect("string", "a quoted string").value.casefold()
        self._expect(")", "')'")
        following = self._peek()
        if (
            self.boolean_functions
            and following is not None
            and following.kind == "word"
            and following.value in _BOOL_OPS
        ):
            self.pos += 1
            literal = self._expect("word", "true or false")
            if literal.value not in ("true", "false"):
                msg = f"expected true or false at position {literal.pos}, got {literal.value!r}"
                raise FilterError(msg)
            wanted = (literal.value == "true") == (following.value == "eq")
            return lambda f: function(f.file_name.casefold(), argument) == wanted
        return lambda f: function(f.file_name.casefold(), argument)

    def _comparison(self, field_token: _Token) -> Callable[[YouserveFile], bool]:
        field = field_token.value.lower()
        if field not in _FIELDS:
            msg = f"unknown field {field_token.value!r} at position {field_token.pos}"
            raise FilterError(msg)
        op_token = self._expect("word", "an operator")
        compare = _COMPARE.get(op_token.value)
        if compare is None:
            msg = f"unknown operator {op_token.value!r} at position {op_token.pos}"
            raise FilterError(msg)
        value = self._next("a value")
        op = op_token.value
        if field == "uploaddate":
            if value.kind != "datetime":
                msg = f"uploadDate needs a DateTime, got {value.value!r} at position {value.pos}"
                raise FilterError(msg)
            ticks = value.value
            return lambda f: compare(f.upload_ticks, ticks)
        if field == "businesstype":
            if value.kind != "number":
                msg = f"businessType needs an integer, got {value.value!r} at position {value.pos}"
                raise FilterError(msg)
            number = value.value
            return lambda f: compare(f.business_type, number)
        if field == "status":
            if op != "eq":
                msg = f"status only supports eq, not {op!r}"
                raise FilterError(msg)
            if value.kind != "string" or value.value not in _STATUSES:
                msg = f"status must be 'available', 'downloaded' or 'all', got {value.value!r}"
                raise FilterError(msg)
            self.has_status = True
            return _STATUSES[value.value]
        # fileName
        if op not in ("eq", "ne"):
            msg = f"fileName only supports eq and ne, not {op!r}"
            raise FilterError(msg)
        if value.kind != "string":
            msg = f"fileName needs a quoted string, got {value.value!r} at position {value.pos}"
            raise FilterError(msg)
        wanted = value.value.casefold()
        return lambda f: compare(f.file_name.casefold(), wanted)


def compile_filter(text: str | None, *, current: bool = False) -> Callable[[YouserveFile], bool]:
    """The predicate of a ``$filter`` including the default "available only" clause.

    ``current`` reads it as the Youforce host does in Visma's examples: an empty ``$filter``
    means no filter (config.xml: 'No filters (same as "status eq 'available'")'), and a
    function may be compared with ``true``/``false``. The seed-doc host keeps both a 400.
    """
    if text is None or (current and text == ""):
        return lambda f: not f.downloaded
    parser = FilterParser(text, boolean_functions=current)
    predicate = parser.parse()
    if parser.has_status:
        return predicate
    return lambda f: predicate(f) and not f.downloaded


_ORDER_KEYS: dict[str, Callable[[YouserveFile], Any]] = {
    "uploaddate": lambda f: f.upload_ticks,
    "businesstype": lambda f: f.business_type,
    "status": lambda f: f.downloaded,
    "filename": lambda f: f.file_name.casefold(),
}


def parse_order(text: str | None) -> tuple[Callable[[YouserveFile], Any], bool]:
    """``$orderBy`` as (key, descending); ValueError if invalid."""
    if text is None:
        return _ORDER_KEYS["uploaddate"], True
    parts = text.split()
    if not 1 <= len(parts) <= 2 or parts[0].lower() not in _ORDER_KEYS:
        msg = f"Invalid orderBy: {text!r}"
        raise ValueError(msg)
    modifier = parts[1].lower() if len(parts) == 2 else "asc"
    if modifier not in ("asc", "desc"):
        msg = f"Invalid orderBy modifier: {text!r}"
        raise ValueError(msg)
    return _ORDER_KEYS[parts[0].lower()], modifier == "desc"


# --------------------------------------------------------------------------- files


@dataclass
class YouserveFile:
    """One delivered file; its bytes are generated on demand."""

    file_id: str
    file_name: str
    business_type: int
    size: int
    upload_ticks: int
    tenant_id: str
    publisher_id: str
    seed: int
    downloaded: bool = False
    deleted: bool = False
    _pattern: bytes | None = None
    _sha256: str | None = None

    def entry(self) -> dict[str, Any]:
        """The listing entry, as in the documentation."""
        return {
            "downloaded": self.downloaded,
            "fileId": self.file_id,
            "fileName": self.file_name,
            "fileSize": self.size,
            "tenantId": self.tenant_id,
            "businessType": {"id": self.business_type, "name": str(self.business_type)},
            "publisherId": self.publisher_id,
            "uploadDate": format_ticks(self.upload_ticks),
        }

    def _block_tail(self) -> bytes:
        if self._pattern is None:
            base = f"youserve:{self.seed}:{self.file_id}".encode()
            digests = (hashlib.sha256(base + b":%d" % j).digest() for j in range(BLOCK // 32))
            self._pattern = b"".join(digests)[8:]
        return self._pattern

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the file (keep the span small: at most a piece)."""
        end = min(end, self.size)
        if start >= end:
            return b""
        tail = self._block_tail()
        first, last = start // BLOCK, (end - 1) // BLOCK
        data = b"".join(k.to_bytes(8, "big") + tail for k in range(first, last + 1))
        offset = first * BLOCK
        return data[start - offset : end - offset]

    def pieces(self, start: int, end: int, piece: int = PIECE) -> Iterator[bytes]:
        """Bytes ``[start, end)`` as pieces of at most ``piece`` bytes, aligned on ``piece``."""
        pos = start
        while pos < end:
            stop = min(end, (pos // piece + 1) * piece)
            yield self.read(pos, stop)
            pos = stop

    def sha256(self) -> str:
        """The hex SHA-256 of the whole file, computed streaming (and cached)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            for part in self.pieces(0, self.size):
                digest.update(part)
            self._sha256 = digest.hexdigest()
        return self._sha256


def _content_disposition(name: str) -> str:
    """``attachment; filename=...`` as ASP.NET writes it: a token bare, anything else quoted."""
    if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        return f"attachment; filename={name}"
    ascii_name = "".join(c if " " <= c <= "~" else "_" for c in name)
    escaped = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
    value = f'attachment; filename="{escaped}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


# --------------------------------------------------------------------------- the vendor


_RANGE = re.compile(r"bytes=(\d+)-(\d*)", re.ASCII)
_PAGE_NUMBER = re.compile(r"\d{1,9}", re.ASCII)

#: The hosts one :class:`YouserveEmulator` serves (``host_calls`` and ``spike_arrest_hosts`` use these).
HOST_YOUSERVE = "youserve"  # the seed docs' host, mounted at /youserve
HOST_CONNECT = "visma_connect"  # connect.visma.com, mounted at /visma-connect
HOST_YOUFORCE = "youforce"  # fileapi.youforce.com, mounted at /youforce
#: The two sign-ins (the tap's ``youserve.sign_in`` values); each token belongs to one.
SIGN_IN_YOUSERVE = "youserve"
SIGN_IN_CONNECT = "visma_connect"


@dataclass
class _Grant:
    """What an access token stands for."""

    expiry: float  # time.monotonic() deadline
    sign_in: str  # SIGN_IN_YOUSERVE or SIGN_IN_CONNECT
    tenant: str  # the File API tenant it reaches (the files' tenantId)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class YouserveEmulator:
    """The YouServe File API of a subscriber, plus its token endpoint.

    The same files, tokens, faults and bookkeeping also serve the current sign-in through two
    facades, each mounted at its own prefix: :attr:`connect` (Visma Connect's token endpoint,
    :class:`VismaConnectEmulator`) and :attr:`youforce` (the Youforce File API host,
    :class:`YouforceFileApi`). See the module docstring.
    """

    prefix = "/youserve"

    def __init__(
        self,
        *,
        client_id: str = "ys-client",
        client_secret: str = "ys-secret-0123456789",  # noqa: S107
        tenant_id: str = "sandbox",
        files: Iterable[dict[str, Any]] | None = None,
        seed: int = 1,
        expires_in: int = 3600,
        max_page_size: int = 1000,
        connect_client_id: str = DEFAULT_CONNECT_CLIENT_ID,
        connect_client_secret: str = DEFAULT_CONNECT_CLIENT_SECRET,
        connect_tenants: Mapping[str, str] | None = None,
        connect_scope: str = DEFAULT_CONNECT_SCOPE,
        connect_invalid_client_status: int = 401,
        youforce_accepts_youserve_tokens: bool = False,
        spike_arrest_per_minute: float | None = None,
        spike_arrest_burst: int = 1,
        spike_arrest_hosts: Iterable[str] = (HOST_YOUSERVE, HOST_YOUFORCE),
        spike_arrest_clock: Callable[[], float] = time.monotonic,
        tie_order: str = "file_id",
    ) -> None:
        if tie_order not in {"file_id", "hashed"}:
            msg = f"tie_order must be file_id or hashed, not {tie_order!r}"
            raise ValueError(msg)
        #: How files sharing the sort key are ordered in a listing (see the module docstring).
        self.tie_order = tie_order
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant_id = tenant_id
        self.seed = seed
        self.expires_in = expires_in
        self.max_page_size = max_page_size
        # Visma Connect (sign_in visma_connect)
        self.connect_client_id = connect_client_id
        self.connect_client_secret = connect_client_secret
        #: Visma Connect tenant id -> the File API tenant its tokens reach (the listing's tenantId).
        self.connect_tenants: dict[str, str] = dict(
            connect_tenants if connect_tenants is not None else {DEFAULT_CONNECT_TENANT: tenant_id}
        )
        if not self.connect_tenants:
            msg = "connect_tenants needs at least one tenant"
            raise ValueError(msg)
        self.connect_scope = connect_scope
        self.connect_invalid_client_status = connect_invalid_client_status
        self.youforce_accepts_youserve_tokens = youforce_accepts_youserve_tokens
        # spike arrest (off unless a rate is given)
        if spike_arrest_per_minute is not None and spike_arrest_per_minute <= 0:
            msg = "spike_arrest_per_minute must be positive (or None: off)"
            raise ValueError(msg)
        if spike_arrest_burst < 1:
            msg = "spike_arrest_burst must be at least 1"
            raise ValueError(msg)
        self.spike_arrest_per_minute = spike_arrest_per_minute
        self.spike_arrest_burst = spike_arrest_burst
        self.spike_arrest_hosts = frozenset(spike_arrest_hosts)
        self._clock = spike_arrest_clock
        self._spike_buckets: dict[str, tuple[float, float]] = {}  # host -> (tokens, at)
        # bookkeeping
        self.faults = Faults()
        self.token_requests = 0  # token requests of both sign-ins
        self.token_requests_by_sign_in: Counter[str] = Counter()
        #: The form of every Visma Connect token request, ``client_secret`` replaced by "<redacted>".
        self.connect_token_forms: list[dict[str, str]] = []
        self.calls: Counter[tuple[str, str]] = Counter()  # (method, kind), every host together
        self.host_calls: Counter[tuple[str, str, str]] = Counter()  # (host, method, kind)
        self.range_requests: list[tuple[str, int, int | None]] = []
        self.deleted: list[str] = []
        self.issued_tokens: list[str] = []  # tokens of both sign-ins, in issue order
        #: Values of x-raet-tenant-id headers the Youforce host received (it does not need one).
        self.youforce_tenant_headers: list[str] = []
        self.spike_arrests = 0  # 429s given by the spike arrest
        self.spike_arrests_by_host: Counter[str] = Counter()
        #: Seconds a File API call waits before its answer (see the module docstring); None: none.
        self.answer_delay: Callable[[Request, str], float] | None = None
        self.in_flight = 0  # File API calls being answered now
        self.most_in_flight = 0  # the most at once so far
        self.exchanges: list[Exchange] = []  # every call, in the order its answer was produced
        self.body_piece_bytes = PIECE  # largest piece of a file body generated at once
        self._tokens: dict[str, _Grant] = {}
        self._files: dict[str, YouserveFile] = {}
        self._lock = threading.RLock()
        #: Visma Connect's token endpoint, to mount at :attr:`VismaConnectEmulator.prefix`.
        self.connect = VismaConnectEmulator(self)
        #: The Youforce File API host, to mount at :attr:`YouforceFileApi.prefix`.
        self.youforce = YouforceFileApi(self)
        if files is None:
            files = [
                {"file_name": name, "business_type": bt, "size": size, "upload_date": date}
                for name, bt, size, date in DEFAULT_FILES
            ]
        for spec in files:
            self.add_file(**spec)

    # ------------------------------------------------------------------ test helpers

    def add_file(  # noqa: PLR0917  # the signature tests and benchmarks call positionally
        self,
        file_name: str,
        business_type: int,
        size: int,
        upload_date: str | datetime | None = None,
        tenant_id: str | None = None,
        publisher_id: str | None = None,
        file_id: str | None = None,
    ) -> dict[str, Any]:
        """Deliver a file (bytes generated lazily, any size); returns its listing entry.

        ``upload_date`` defaults to one second after the latest upload date; ``file_id``
        to a UUID derived from the seed.
        """
        with self._lock:
            if upload_date is None:
                latest = max((f.upload_ticks for f in self._files.values()), default=None)
                base = parse_datetime("2026-01-01T00:00:00.000Z")
                ticks = base if latest is None else latest + _TICKS_PER_SECOND
            elif isinstance(upload_date, datetime):
                moment = upload_date if upload_date.tzinfo else upload_date.replace(tzinfo=timezone.utc)
                delta = moment - _EPOCH
                ticks = (delta.days * 86_400 + delta.seconds) * _TICKS_PER_SECOND
                ticks += delta.microseconds // 1000 * 10_000
            else:
                ticks = parse_datetime(upload_date, offset_required=False)
            ticks -= ticks % 10_000  # the listing shows milliseconds: keep nothing finer hidden
            digest = hashlib.sha256(f"youserve-file:{self.seed}:{len(self._files)}".encode()).digest()
            file_id = file_id if file_id is not None else str(uuid.UUID(bytes=digest[:16], version=4))
            item = YouserveFile(
                file_id=file_id,
                file_name=file_name,
                business_type=int(business_type),
                size=int(size),
                upload_ticks=ticks,
                tenant_id=tenant_id or self.tenant_id,
                publisher_id=publisher_id or DEFAULT_PUBLISHER,
                seed=self.seed,
            )
            self._files[file_id] = item
            return item.entry()

    def file_bytes(self, file_id: str) -> bytes:
        """All bytes of a (small) file."""
        item = self._files[file_id]
        return item.read(0, item.size)

    def file_sha256(self, file_id: str) -> str:
        """The hex SHA-256 of a file, computed streaming."""
        return self._files[file_id].sha256()

    def entries(self) -> list[dict[str, Any]]:
        """The listing entries of every file not deleted (any tenant, downloaded or not),
        newest upload first."""
        with self._lock:
            files = sorted(
                (f for f in self._files.values() if not f.deleted),
                key=lambda f: (-f.upload_ticks, f.file_id),
            )
            return [f.entry() for f in files]

    def set_downloaded(self, file_id: str, downloaded: bool = True) -> None:
        """Force the downloaded flag of a file."""
        with self._lock:
            self._files[file_id].downloaded = downloaded

    def expire_all_tokens(self) -> None:
        """Every token issued so far (either sign-in) is now expired (401 with "The token expired")."""
        with self._lock:
            for grant in self._tokens.values():
                grant.expiry = 0.0

    def revoke_all_tokens(self) -> None:
        """Every token issued so far (either sign-in) is now unknown (401)."""
        with self._lock:
            self._tokens.clear()

    @property
    def connect_tenant_id(self) -> str:
        """The first Visma Connect tenant (the one :meth:`sign_in_settings` configures)."""
        return next(iter(self.connect_tenants))

    def hosts(self) -> tuple[YouserveEmulator, VismaConnectEmulator, YouforceFileApi]:
        """Everything to mount for both sign-ins: ``for host in vendor.hosts(): mount(emulator, host)``."""
        return (self, self.connect, self.youforce)

    # ------------------------------------------------------------------ dispatch

    def _kind(self, request: Request, host: str = HOST_YOUSERVE) -> str:
        if host == HOST_CONNECT:
            return "token" if request.path == CONNECT_TOKEN_PATH else "other"
        if host == HOST_YOUSERVE and request.path == TOKEN_PATH:
            return "token"
        files_path = FILES_PATH if host == HOST_YOUSERVE else YOUFORCE_FILES_PATH
        if request.path == files_path:
            return "list"
        if request.path.startswith(files_path + "/"):
            if request.method == "GET" and request.headers.get("Range") is not None:
                return "range"
            return "file"
        return "other"

    #: The tap's settings block this vendor answers.
    source = "youserve"

    def tap_settings(self, base_url: str) -> dict[str, Any]:
        """What the tap needs to talk to this vendor at ``base_url`` (the seed-doc sign-in)."""
        return {
            "base_url": base_url,
            "token_url": base_url + "/authentication/token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "tenant_id": self.tenant_id,
        }

    def sign_in_settings(self, server_url: str, sign_in: str) -> dict[str, Any]:
        """The tap's ``youserve`` block for ``sign_in`` with every host mounted on the server at
        ``server_url`` (``emulator.url()``, no prefix): ``youserve`` talks to :attr:`prefix`,
        ``visma_connect`` to :attr:`connect` and :attr:`youforce` at their prefixes."""
        server_url = server_url.rstrip("/")
        if sign_in == SIGN_IN_YOUSERVE:
            base_url = server_url + self.prefix
            return {
                "sign_in": SIGN_IN_YOUSERVE,
                "base_url": base_url,
                "token_url": base_url + TOKEN_PATH,
                "file_api_url": base_url + FILES_PATH.removesuffix("/files"),
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "tenant_id": self.tenant_id,
            }
        if sign_in == SIGN_IN_CONNECT:
            return {
                "sign_in": SIGN_IN_CONNECT,
                "token_url": server_url + self.connect.prefix + CONNECT_TOKEN_PATH,
                "file_api_url": server_url + self.youforce.prefix + YOUFORCE_FILES_PATH.removesuffix("/files"),
                "client_id": self.connect_client_id,
                "client_secret": self.connect_client_secret,
                "tenant_id": self.connect_tenant_id,
            }
        msg = f"unknown sign_in {sign_in!r}: {SIGN_IN_YOUSERVE!r} or {SIGN_IN_CONNECT!r}"
        raise ValueError(msg)

    def handle(self, request: Request) -> Response:
        """Answer one request to the seed-doc host."""
        return self.handle_host(HOST_YOUSERVE, request)

    def handle_host(self, host: str, request: Request) -> Response:
        """Answer one request to ``host`` (the facades call this with theirs)."""
        kind = self._kind(request, host)
        arrived = time.monotonic()
        file_api = kind in {"list", "file", "range"}
        with self._lock:
            self.calls[(request.method, kind)] += 1
            self.host_calls[(host, request.method, kind)] += 1
            if file_api:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            response = self._answer(host, request, kind)
        finally:
            with self._lock:
                if file_api:
                    self.in_flight -= 1
        with self._lock:
            self.exchanges.append(Exchange(arrived, host, request.method, kind, request.path, response.status))
        return response

    def _answer(self, host: str, request: Request, kind: str) -> Response:
        if kind != "token" and not self._spike_arrest_lets_through(host):  # File API calls only
            return _spike_arrest_violation(self.spike_arrest_per_minute or 0.0, self.spike_arrest_burst)
        delay = self.answer_delay(request, kind) if self.answer_delay is not None and kind != "token" else 0.0
        if delay > 0:
            time.sleep(delay)
        fault = self.faults.take(request)
        injected = Faults.status_response(fault)
        if injected is not None:
            return injected
        if kind == "token":
            response = self._token(request) if host == HOST_YOUSERVE else self._connect_token(request)
        elif kind == "other":
            response = Response(status=404) if host == HOST_CONNECT else _error(404, "Not found.")
        else:
            response = self._file_api(request, kind, fault, host)
        return Faults.apply(fault, response)

    # ------------------------------------------------------------------ spike arrest

    def _spike_arrest_lets_through(self, host: str) -> bool:
        """A token bucket per host: ``spike_arrest_burst`` calls at once, refilled at the rate."""
        rate = self.spike_arrest_per_minute
        if rate is None or host not in self.spike_arrest_hosts:
            return True
        with self._lock:
            now = self._clock()
            capacity = float(self.spike_arrest_burst)
            tokens, at = self._spike_buckets.get(host, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - at) * rate / 60.0)
            if tokens >= 1.0 - 1e-9:
                self._spike_buckets[host] = (tokens - 1.0, now)
                return True
            self._spike_buckets[host] = (tokens, now)
            self.spike_arrests += 1
            self.spike_arrests_by_host[host] += 1
            return False

    # ------------------------------------------------------------------ tokens

    def _issue(self, token: str, sign_in: str, tenant: str) -> None:
        with self._lock:
            self.issued_tokens.append(token)
            self._tokens[token] = _Grant(time.monotonic() + self.expires_in, sign_in, tenant)

    @staticmethod
    def _form(request: Request) -> dict[str, str] | Response:
        """The form-encoded body as single-valued fields, or the OAuth error refusing it."""
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return Response.json(
                400,
                {"error": "invalid_request", "error_description": "form-encoded body expected"},
            )
        try:
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return Response.json(400, {"error": "invalid_request"})
        if any(len(values) != 1 for values in form.values()):
            return Response.json(400, {"error": "invalid_request", "error_description": "repeated field"})
        return {name: values[0] for name, values in form.items()}

    def _token(self, request: Request) -> Response:
        with self._lock:
            self.token_requests += 1
            self.token_requests_by_sign_in[SIGN_IN_YOUSERVE] += 1
        if request.method != "POST":
            return Response.json(405, {"error": "invalid_request"}, {"Allow": "POST"})
        fields = self._form(request)
        if isinstance(fields, Response):
            return fields
        if "grant_type" not in fields:
            return Response.json(400, {"error": "invalid_request", "error_description": "grant_type"})
        if fields["grant_type"] != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type"})
        if "client_id" not in fields or "client_secret" not in fields:
            return Response.json(400, {"error": "invalid_request", "error_description": "client credentials"})
        if not (
            secrets.compare_digest(fields["client_id"], self.client_id)
            and secrets.compare_digest(fields["client_secret"], self.client_secret)
        ):
            return Response.json(401, {"error": "invalid_client"})
        with self._lock:
            token = f"ys.{len(self.issued_tokens) + 1}.{secrets.token_urlsafe(24)}"
        self._issue(token, SIGN_IN_YOUSERVE, self.tenant_id)
        return Response.json(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in},
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _connect_token(self, request: Request) -> Response:
        """Visma Connect's ``POST /connect/token``, client credentials for one tenant."""
        with self._lock:
            self.token_requests += 1
            self.token_requests_by_sign_in[SIGN_IN_CONNECT] += 1
        if request.method != "POST":  # IdentityServer-style: a 400, not a 405
            return Response.json(400, {"error": "invalid_request", "error_description": "POST expected"})
        fields = self._form(request)
        if isinstance(fields, Response):
            return fields
        with self._lock:
            self.connect_token_forms.append(
                {k: ("<redacted>" if k == "client_secret" else v) for k, v in fields.items()}
            )
        if not fields.get("client_id") or not fields.get("client_secret"):
            return Response.json(400, {"error": "invalid_request", "error_description": "client_id, client_secret"})
        if not (
            secrets.compare_digest(fields["client_id"], self.connect_client_id)
            and secrets.compare_digest(fields["client_secret"], self.connect_client_secret)
        ):
            return Response.json(self.connect_invalid_client_status, {"error": "invalid_client"})
        if not fields.get("grant_type"):
            return Response.json(400, {"error": "invalid_request", "error_description": "grant_type"})
        if fields["grant_type"] != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type"})
        tenant = fields.get("tenant_id")
        if not tenant:
            return Response.json(400, {"error": "invalid_request", "error_description": "tenant_id"})
        if tenant not in self.connect_tenants:
            return Response.json(
                400,
                {"error": "invalid_tenant", "error_description": "The client is not authorized for this tenant."},
            )
        granted = self.connect_scope.split()
        if "scope" in fields:
            asked = fields["scope"].split()
            if not asked or not set(asked) <= set(granted):
                return Response.json(400, {"error": "invalid_scope"})
            granted = [s for s in granted if s in asked]
        token = self._connect_jwt(tenant, granted)
        self._issue(token, SIGN_IN_CONNECT, self.connect_tenants[tenant])
        return Response.json(
            200,
            {
                "access_token": token,
                "expires_in": self.expires_in,
                "token_type": "Bearer",
                "scope": " ".join(granted),
            },
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _connect_jwt(self, tenant: str, scopes: list[str]) -> str:
        """A JWT-shaped token (header.payload.signature) naming its tenant; the signature is random."""
        header = {"alg": "RS256", "kid": "emulator", "typ": "at+jwt"}
        now = int(time.time())
        payload = {
            "iss": "https://connect.visma.com",
            "client_id": self.connect_client_id,
            "tenant_id": tenant,
            "scope": scopes,
            "iat": now,
            "exp": now + self.expires_in,
            "jti": secrets.token_hex(16),
        }
        parts = (json.dumps(header).encode(), json.dumps(payload).encode(), secrets.token_bytes(64))
        return ".".join(_b64url(part) for part in parts)

    # ------------------------------------------------------------------ file API

    def _check_access(self, request: Request, host: str = HOST_YOUSERVE) -> str | Response:
        """The tenant the request may see, or the answer refusing it."""
        authorization = request.headers.get("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "Unauthorized.", {"WWW-Authenticate": "Bearer"})
        accepted = {SIGN_IN_YOUSERVE} if host == HOST_YOUSERVE else {SIGN_IN_CONNECT}
        if host == HOST_YOUFORCE and self.youforce_accepts_youserve_tokens:
            accepted.add(SIGN_IN_YOUSERVE)
        with self._lock:
            grant = self._tokens.get(token)
            expiry = grant.expiry if grant is not None else 0.0
        if grant is None or grant.sign_in not in accepted:  # another issuer's token is as good as none
            return _error(401, "Unauthorized.", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if expiry <= time.monotonic():
            header = 'Bearer error="invalid_token", error_description="The token expired"'
            return _error(401, "Unauthorized.", {"WWW-Authenticate": header})
        header_tenant = request.headers.get("x-raet-tenant-id")
        if host == HOST_YOUFORCE and header_tenant is not None:
            with self._lock:
                self.youforce_tenant_headers.append(header_tenant)
        if grant.sign_in == SIGN_IN_YOUSERVE and header_tenant != self.tenant_id:
            return _error(403, "Forbidden: unknown or unauthorized tenant.")
        if request.query.get("role") != ["subscriber"]:
            return _error(400, "The role query parameter must be 'subscriber'.")
        return grant.tenant

    def _file_api(self, request: Request, kind: str, fault: Fault | None, host: str = HOST_YOUSERVE) -> Response:
        tenant = self._check_access(request, host)
        if isinstance(tenant, Response):
            return tenant
        if kind == "list":
            if request.method != "GET":
                return _error(405, "Method not allowed.", {"Allow": "GET"})
            return self._list(request, fault, tenant=tenant, current=host == HOST_YOUFORCE)
        files_path = FILES_PATH if host == HOST_YOUSERVE else YOUFORCE_FILES_PATH
        file_id = unquote(request.path[len(files_path) + 1 :])
        if request.method not in ("GET", "HEAD", "DELETE"):
            return _error(405, "Method not allowed.", {"Allow": "GET, HEAD, DELETE"})
        with self._lock:
            item = self._files.get(file_id)
            if item is None or item.deleted or item.tenant_id != tenant:
                return _error(404, "File not found.")
            if request.method == "DELETE":
                item.deleted = True
                self.deleted.append(file_id)
                return Response(status=204)
        if request.method == "HEAD":
            headers = {
                "Content-Length": str(item.size),
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            return Response(status=200, headers=headers)
        return self._download(request, item, fault)

    def _list(
        self, request: Request, fault: Fault | None = None, *, tenant: str | None = None, current: bool = False
    ) -> Response:
        tenant = self.tenant_id if tenant is None else tenant
        page_index_text = request.arg("pageIndex", "0")
        page_size_text = request.arg("pageSize", "20")
        assert page_index_text is not None
        assert page_size_text is not None
        if not _PAGE_NUMBER.fullmatch(page_index_text):
            return _error(400, f"Invalid pageIndex: {page_index_text!r}")
        if not _PAGE_NUMBER.fullmatch(page_size_text) or not (1 <= int(page_size_text) <= self.max_page_size):
            return _error(400, f"Invalid pageSize: {page_size_text!r} (1 to {self.max_page_size})")
        page_index, page_size = int(page_index_text), int(page_size_text)
        try:
            predicate = compile_filter(request.arg("$filter"), current=current)
        except FilterError as exc:
            return _error(400, f"Invalid filter: {exc}")
        try:
            key, descending = parse_order(request.arg("$orderBy"))
        except ValueError as exc:
            return _error(400, str(exc))
        with self._lock:
            matching = [f for f in self._files.values() if not f.deleted and f.tenant_id == tenant and predicate(f)]
            matching.sort(key=self._tie_key())
            matching.sort(key=key, reverse=descending)  # stable: ties stay in tie order
            page = matching[page_index * page_size : (page_index + 1) * page_size]
            data = [f.entry() for f in page]
        kind = fault.kind if fault is not None else None
        count = len(matching)
        if kind == "duplicate" and page_index > 0 and data:
            data.insert(0, matching[page_index * page_size - 1].entry())
        if kind == "lie_count":
            count += int(fault.params.get("extra", 5)) if fault is not None else 0  # type: ignore[call-overload]
        if kind == "non_utf8" and data:
            data[0]["fileName"] = f"{data[0]['fileName']} {_NON_UTF8_MARKER}"
        payload = {"data": data, "pageIndex": page_index, "pageSize": page_size, "count": count}
        response = Response.json(200, payload, {"Content-Type": "application/json; charset=utf-8"})
        if kind == "non_utf8" and data:
            assert isinstance(response.body, bytes)
            response.body = response.body.replace(json.dumps(_NON_UTF8_MARKER)[1:-1].encode(), NON_UTF8_BYTES, 1)
            response.headers["Content-Length"] = str(len(response.body))
        return response

    def _tie_key(self) -> Callable[[YouserveFile], Any]:
        """The order of files that share the sort key (``tie_order``)."""
        if self.tie_order == "file_id":
            return lambda f: f.file_id
        return lambda f: hashlib.sha256(f"{self.seed}:{f.file_id}".encode()).digest()

    def _download(self, request: Request, item: YouserveFile, fault: Fault | None) -> Response:
        accepted = [part.split(";")[0].strip().lower() for part in (request.headers.get("Accept") or "").split(",")]
        if "application/octet-stream" not in accepted:
            return _error(406, "Not acceptable: send Accept: application/octet-stream.")
        size = item.size
        range_header = request.headers.get("Range")
        fault_kind = fault.kind if fault is not None else None
        fault_params: dict[str, Any] = fault.params if fault is not None else {}
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": _content_disposition(item.file_name),
            "Accept-Ranges": "bytes",
        }
        status, first, last = 200, 0, size - 1
        if range_header is not None:
            match = _RANGE.fullmatch(range_header.strip())
            if match is None:
                return _error(400, f"Invalid Range header: {range_header!r}")
            first = int(match.group(1))
            requested_last = int(match.group(2)) if match.group(2) else None
            if requested_last is not None and requested_last < first:
                return _error(400, f"Invalid Range header: {range_header!r}")
            with self._lock:
                self.range_requests.append((item.file_id, first, requested_last))
            if first >= size:
                return _error(416, "Range not satisfiable.", {"Content-Range": f"bytes */{size}"})
            last = size - 1 if requested_last is None else min(requested_last, size - 1)
            if fault_kind == "ignore_range":
                first, last = 0, size - 1
            else:
                status = 206
                total = size
                if fault_kind == "wrong_total":
                    total = int(fault_params.get("total", size + 1))
                headers["Content-Range"] = f"bytes {first}-{last}/{total}"
        end = last + 1  # exclusive
        length = end - first
        chunked = False
        body_end = end
        if fault_kind == "short_body":
            missing = int(fault_params.get("missing", 1))
            body_end = max(first, end - missing)
            chunked = True
        else:
            headers["Content-Length"] = str(length)
        # the file counts as downloaded when its last byte goes out, unless a reset cuts the body
        cut = fault is not None and fault.abort_after is not None and fault.abort_after < body_end - first
        completes = end == size and not cut
        body = self._stream(item, first, body_end, mark_downloaded=completes)
        return Response(status=status, body=body, headers=headers, chunked=chunked)

    def _stream(self, item: YouserveFile, start: int, end: int, *, mark_downloaded: bool) -> Iterator[bytes]:
        """The body; the file is marked downloaded just before its final piece is handed over."""
        pieces = item.pieces(start, end, self.body_piece_bytes)
        previous = next(pieces, None)
        for current in pieces:
            assert previous is not None
            yield previous
            previous = current
        if mark_downloaded:
            with self._lock:
                item.downloaded = True
        if previous is not None:
            yield previous


def _spike_arrest_violation(per_minute: float, burst: int) -> Response:
    """The gateway's 429: no Retry-After (Visma's own client then waits 60 s).

    The body is the shape an Apigee SpikeArrest policy answers (Visma's usage-limit page names
    Apigee's policies: Quota, concurrent rate limit, spike arrest); clients only see the 429.
    """
    rate = (
        f"MessageRate{{messagesPerPeriod={per_minute:g}, periodInMicroseconds=60000000, "
        f"maxBurstMessageCount={burst:.1f}}}"
    )
    payload = {
        "fault": {
            "faultstring": f"Spike arrest violation. Allowed rate : {rate}",
            "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"},
        }
    }
    return Response.json(429, payload)


class _Facade:
    """A host of a :class:`YouserveEmulator` mounted at a prefix of its own.

    Attributes it does not define itself (``faults``, ``calls``, ``add_file`` ...) are the
    vendor's: files, tokens, faults and bookkeeping are shared by every host.
    """

    prefix: str
    host: str
    #: Vendor attributes this host does not take over (a token endpoint is no tap source).
    not_forwarded: frozenset[str] = frozenset()

    def __init__(self, vendor: YouserveEmulator) -> None:
        self.vendor = vendor

    def handle(self, request: Request) -> Response:
        """Answer one request to this host."""
        return self.vendor.handle_host(self.host, request)

    @property
    def client_id(self) -> str:
        """The Visma Connect client id (the credentials of this sign-in)."""
        return self.vendor.connect_client_id

    @property
    def client_secret(self) -> str:
        """The Visma Connect client secret (``assert_no_client_secret(vendor.youforce, text)``)."""
        return self.vendor.connect_client_secret

    @property
    def tenant_id(self) -> str:
        """The Visma Connect tenant id the tap signs in for."""
        return self.vendor.connect_tenant_id

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "vendor" or name in self.not_forwarded:
            raise AttributeError(name)
        return getattr(self.vendor, name)


class VismaConnectEmulator(_Facade):
    """Visma Connect's token endpoint (https://connect.visma.com/connect/token), mounted at
    ``/visma-connect``: its tokens work on :class:`YouforceFileApi` only."""

    prefix = "/visma-connect"
    host = HOST_CONNECT
    not_forwarded = frozenset({"source", "tap_settings"})


class YouforceFileApi(_Facade):
    """The Youforce File API host (https://fileapi.youforce.com/v1.0), mounted at ``/youforce``.

    Serves ``/v1.0/files`` like the seed host serves ``/fileapi/v1.0/files``, to Visma Connect
    tokens (the tenant comes from the token: no x-raet-tenant-id needed, one sent is ignored and
    recorded). ``config_for(emulator, vendor.youforce)`` gives a ``visma_connect`` config.
    """

    prefix = "/youforce"
    host = HOST_YOUFORCE
    #: The tap's settings block this host answers.
    source = "youserve"

    def tap_settings(self, base_url: str) -> dict[str, Any]:
        """The tap's ``youserve`` block (``sign_in: visma_connect``) for this host at ``base_url``
        (``emulator.url(vendor.youforce.prefix)``); the token endpoint is taken to be mounted
        at :attr:`VismaConnectEmulator.prefix` on the same server."""
        if not base_url.endswith(self.prefix):
            msg = f"{base_url!r} is not this host's URL (it ends with {self.prefix!r})"
            raise ValueError(msg)
        return self.vendor.sign_in_settings(base_url.removesuffix(self.prefix), SIGN_IN_CONNECT)
