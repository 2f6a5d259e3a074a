"""HTTP conduct shared by every source: one place for what the SDK leaves out.

Every stream of the tap derives from :class:`ConductedStream`, which adds to the SDK's
``RESTStream``:

- timeouts on every request (``request_timeout_seconds``);
- retries with exponential backoff and jitter on 429, 5xx, resets and broken bodies,
  honouring ``Retry-After`` (the SDK's wait generator ignores it);
- one token renewal on a 401, then the request is retried;
- error messages that name the source, stream, method, path and status, never a header,
  a query string or a token;
- bodies streamed (``stream=True``) and a resumable-body loop (:meth:`ConductedStream.
  resumable`) for exports and files, so a broken body is retried from the last record or
  byte already taken, not from the start;
- JSON answers read whole inside the retry (the SDK parses a page after its request has
  returned, where a broken or stalled body would not be retried), and never past
  ``max_page_bytes``: a body that never ends is refused, not buffered;
- transport failures that outlast the retries reported as the source, stream, method,
  path and reason, never a URL's query string;
- plain ``http://`` refused for anything but loopback hosts, since credentials travel.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import re
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import backoff
import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.singerlib.catalog import SelectionMask

from tap_hrdata.settings import global_settings, source_settings

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from singer_sdk.helpers.types import Auth, Context, RequestFunc
    from singer_sdk.streams.rest import HTTPRequest

    from tap_hrdata.tap import TapHrData

T = t.TypeVar("T")

MAX_RETRY_AFTER_SECONDS = 600.0
ERROR_EXCERPT_CHARS = 300
#: Largest JSON answer (a page, a listing) read whole; a longer body is refused.
MAX_PAGE_BYTES = 256 << 20
PAGE_READ_BYTES = 1 << 16
#: Names of headers, query parameters and form fields whose values are credentials.
SECRET_NAMES = re.compile(r"authorization|api[-_]?key|token|secret|password|signature|credential", re.IGNORECASE)
_QUERY = re.compile(r"(/[^\s?'\"]*)\?[^\s'\")]*")
_REDACTED = "<redacted>"


class BrokenBodyError(Exception):
    """A response body that ended or broke before it was complete (retriable)."""


class TokenRejectedError(RetriableAPIError):
    """A 401 on a token we believed valid: renew it once and retry at once."""


#: Failures of the transport while a body is being read: the body is re-requested.
BODY_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionResetError,
    BrokenBodyError,
)

#: Failures of the transport (no answer, or a broken one): retried, then reported.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)

#: Failures of a request before its body: retried by the request decorator.
REQUEST_ERRORS: tuple[type[Exception], ...] = (RetriableAPIError, *TRANSPORT_ERRORS)


def is_loopback(host: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1 addresses."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: str, what: str) -> None:
    """Refuse a URL credentials must not travel to: plain http is for loopback only."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        msg = f"{what} uses plain http:// to a non-loopback host; credentials are sent only over https://"
    else:
        msg = f"{what} must be an https:// URL"
    raise ConfigValidationError(msg, errors=[msg])  # the SDK's CLI prints only `errors`


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """The wait a ``Retry-After`` header asks for (seconds or HTTP date), capped."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; Retry-After wins when the server gives one."""

    max_tries: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 60.0

    def delay(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) after ``exc``."""
        if isinstance(exc, TokenRejectedError):
            return 0.0
        asked = retry_after_seconds(getattr(exc, "response", None))
        if asked is not None:
            return asked
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311  # jitter, not crypto

    def wait_gen(self) -> Generator[float, BaseException | None, None]:
        """A ``backoff`` wait generator: backoff sends it the exception of each failure."""
        attempt = 0
        exc = yield 0.0  # priming
        while True:
            attempt += 1
            exc = yield self.delay(attempt, exc)


class StreamStats:
    """What one stream did and cost: progress lines while bytes move, a summary at the end.

    ``bytes`` and ``files`` are plain counters for the code that moves them; every change
    may log a progress line, at most one per ``PROGRESS_SECONDS``, so a long file
    download shows its progress the way Meltano users read it.
    """

    PROGRESS_SECONDS = 30.0

    def __init__(self, stream: str, logger: logging.Logger) -> None:
        self.stream = stream
        self.logger = logger
        self.records = 0
        self.api_calls = 0
        self.retries = 0
        self._bytes = 0
        self._files = 0
        self._last_progress = time.monotonic()

    @property
    def bytes(self) -> int:
        """Bytes read (exports, pages) or stored (files)."""
        return self._bytes

    @bytes.setter
    def bytes(self, value: int) -> None:
        self._bytes = value
        self._progress()

    @property
    def files(self) -> int:
        """Files completed."""
        return self._files

    @files.setter
    def files(self, value: int) -> None:
        self._files = value
        self._progress()

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress >= self.PROGRESS_SECONDS:
            self._last_progress = now
            self.logger.info(
                "Progress of stream '%s': %d records, %d files, %.1f MB so far",
                self.stream,
                self.records,
                self._files,
                self._bytes / 1e6,
            )

    def summary(self) -> str:
        """The end-of-run line."""
        return (
            f"Summary of stream '{self.stream}': {self.records} records, {self._files} files, "
            f"{self._bytes} bytes, {self.api_calls} API calls, {self.retries} retries"
        )


def request_secrets(request: requests.PreparedRequest | None) -> list[str]:
    """The credentials a request carried, to be cut out of anything the tap shows.

    They are the values of its secret-named headers, query parameters and form fields
    (``Authorization: Bearer <token>`` gives the token too): a server may echo its request
    in an error body (a debugging proxy, a hostile server).
    """
    if request is None:
        return []
    found: list[str] = []
    for name, value in request.headers.items():
        if SECRET_NAMES.search(name) and value:
            found.append(str(value))
            found.extend(part for part in str(value).split() if len(part) >= 8)
    pairs = parse_qsl(urlsplit(request.url or "").query, keep_blank_values=False)
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and "=" in body and len(body) < 1 << 16:
        pairs += parse_qsl(body, keep_blank_values=False)
    found.extend(value for name, value in pairs if SECRET_NAMES.search(name) and value)
    # the longest first, so that a value holding another is cut whole
    return sorted({value for value in found if len(value) >= 4}, key=len, reverse=True)


def redact(text: str, secrets: t.Iterable[str]) -> str:
    """``text`` with every secret value (and its URL-encoded form) replaced by ``<redacted>``."""
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret, safe="")}:
            text = text.replace(form, _REDACTED)
    return text


def without_query(text: str) -> str:
    """``text`` with the query string of any URL or path in it dropped."""
    return _QUERY.sub(r"\1", text)


def transport_error(source: str, stream: str, request: requests.PreparedRequest | None, exc: BaseException) -> str:
    """The message of a transport failure that outlasted the retries: where, and why."""
    if request is None:
        request = getattr(exc, "request", None)
    method = (request.method if request is not None else None) or "GET"
    path = urlsplit((request.url if request is not None else None) or "").path
    reason = without_query(redact(str(exc), request_secrets(request)))[:ERROR_EXCERPT_CHARS]
    return f"{source} stream '{stream}': {method} {path} failed: {type(exc).__name__}: {reason}"


def redacted_error(source: str, stream: str, response: requests.Response) -> str:
    """An error message naming where and how a request failed, and nothing secret.

    The path is kept, the query string is dropped (it may carry filters or keys), headers
    are never shown, and the body excerpt is short, with any credential of the request
    cut out of it (a server may echo what it was sent).
    """
    request = response.request
    method = request.method if request is not None else "GET"
    path = urlsplit(response.url or (request.url if request is not None else "") or "").path
    excerpt = ""
    try:
        raw = next(response.iter_content(ERROR_EXCERPT_CHARS * 4), b"")
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        text = without_query(redact(text, request_secrets(request)))
        excerpt = " ".join(text.split())[:ERROR_EXCERPT_CHARS]
    except (requests.RequestException, RuntimeError, ConnectionError, StopIteration):
        excerpt = ""
    finally:
        response.close()
    reason = response.reason or ""
    msg = f"{source} stream '{stream}': {method} {path} failed with HTTP {response.status_code} {reason}"
    return f"{msg}: {excerpt}" if excerpt else msg


def decode_text(raw: bytes, *, where: str, logger: logging.Logger) -> str:
    """UTF-8 text (a leading BOM dropped); bytes that are not UTF-8 become U+FFFD.

    A warning names ``where``: one bad byte in a name must not stop a sync for good.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8-sig", errors="replace")
        logger.warning(
            "%s: the answer holds bytes that are not UTF-8 (the first at byte %d); they were replaced with U+FFFD",
            where,
            exc.start,
        )
        return text


class MemoSelectionMask(SelectionMask):
    """The SDK's selection mask, remembering the answers it inherits from a parent.

    The SDK checks every property of every record against the mask, nested ones included
    (all of ``raw``), and the SDK's mask answers an unlisted breadcrumb by walking up to
    its listed ancestor on every lookup: a fifth of the sync time of small records. Same
    answers, each computed once.
    """

    def __missing__(self, breadcrumb: tuple[str, ...]) -> bool:
        selected = super().__missing__(breadcrumb)
        self[breadcrumb] = selected
        return selected


class ConductedStream(RESTStream[T]):
    """Base of every stream of the tap: settings of its source, shared auth, HTTP conduct."""

    #: Settings block of the stream's source (``talentsoft``, ``hrflow`` ...).
    source: t.ClassVar[str]
    retry_policy: t.ClassVar[RetryPolicy] = RetryPolicy()
    #: Largest JSON answer read whole (see :meth:`read_page`).
    max_page_bytes: t.ClassVar[int] = MAX_PAGE_BYTES
    _tap: TapHrData
    _memo_mask: tuple[SelectionMask, MemoSelectionMask] | None = None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats = self._tap.stats_for(self.name)
        # Bodies are streamed: JSON pages are read whole by .json(), exports and files
        # chunk by chunk, never more than one frame or chunk at a time.
        self.requests_session.stream = True

    @property
    def mask(self) -> SelectionMask:
        """The SDK's selection mask, as a :class:`MemoSelectionMask` (same answers, faster)."""
        sdk_mask = super().mask
        if self._memo_mask is None or self._memo_mask[0] is not sdk_mask:
            self._memo_mask = (sdk_mask, MemoSelectionMask(sdk_mask))
        return self._memo_mask[1]

    @property
    def settings(self) -> dict[str, t.Any]:
        """The settings of the stream's source, defaults applied."""
        return source_settings(self.config, self.source)

    @property
    def url_base(self) -> str:
        """The source's base URL (it may carry a path prefix)."""
        return str(self.settings["base_url"]).rstrip("/")

    @property
    def timeout(self) -> float:  # type: ignore[override]  # requests takes floats
        """Connect and read timeout, seconds."""
        return float(global_settings(self.config)["request_timeout_seconds"])

    @property
    def authenticator(self) -> Auth:
        """The one authenticator of the source for the whole run."""
        return self._tap.authenticator_for(self.source)

    def post_process(self, row: dict[str, t.Any], context: t.Any = None) -> dict[str, t.Any] | None:
        """Count the record for the end-of-run summary (subclasses call this last)."""
        self.stats.records += 1
        return row

    def log_sync_costs(self) -> None:
        """Called by the SDK for every stream once all have synced: log the summary line."""
        super().log_sync_costs()
        if self.stats.records or self.stats.api_calls or self.stats.files:
            self.logger.info(self.stats.summary())

    # ---- responses -------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        """Classify a response: fine, retriable, token to renew, or fatal (redacted)."""
        self.stats.api_calls += 1
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            if (accepted := getattr(self.authenticator, "note_accepted", None)) is not None:
                accepted()
            return
        if status == HTTPStatus.UNAUTHORIZED and self._renew_after_rejection(response):
            response.close()
            msg = f"{self.source} stream '{self.name}': token rejected, renewing it once"
            raise TokenRejectedError(msg, response)
        msg = redacted_error(self.source, self.name, response)
        if status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(msg, response)
        raise FatalAPIError(msg)

    def _renew_after_rejection(self, response: requests.Response) -> bool:
        renew = getattr(self.authenticator, "renew_after_rejection", None)
        if renew is None or response.request is None:
            return False
        return bool(renew(response.request.headers.get("Authorization")))

    def response_error_message(self, response: requests.Response) -> str:
        """Error text for a failed response, without secrets (the SDK's shows headers)."""
        return redacted_error(self.source, self.name, response)

    def read_page(self, response: requests.Response) -> bytes:
        """A whole JSON answer, read at most once and never past ``max_page_bytes``.

        Read inside the retry (see :meth:`_request`), a broken or stalled body is asked for
        again; a body that never ends is refused instead of filling the memory.
        """
        if response._content is not False:  # already read (requests' own marker)
            return response.content
        limit = self.max_page_bytes
        pieces: list[bytes] = []
        size = 0
        for piece in response.iter_content(PAGE_READ_BYTES):
            size += len(piece)
            if size > limit:
                response.close()
                request = response.request
                method = request.method if request is not None else "GET"
                path = urlsplit(response.url or "").path
                msg = f"{self.source} stream '{self.name}': {method} {path} answered more than {limit} bytes; refused"
                raise FatalAPIError(msg)
            pieces.append(piece)
        content = b"".join(pieces)
        response._content = content  # what .content and .json() read
        return content

    def _request(self, prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
        """The SDK's page request, its body read here, inside the retry.

        The SDK parses a page after this returns, outside the retry: a body that broke or
        stalled there would end the run instead of being asked for again.
        """
        response = super()._request(prepared_request, context)
        self.read_page(response)
        return response

    # ---- retries ---------------------------------------------------------------------

    def backoff_max_tries(self) -> int:
        """Attempts per request before giving up."""
        return self.retry_policy.max_tries

    def backoff_wait_generator(self) -> Generator[float, t.Any, None]:
        """Backoff honouring Retry-After."""
        return self.retry_policy.wait_gen()

    def backoff_handler(self, details: t.Any) -> None:  # backoff's Details
        """Count and log a retry, without the request's headers or query."""
        self.stats.retries += 1
        exc = details.get("exception")
        self.logger.warning(
            "%s stream '%s': retry %d in %.1fs after %s",
            self.source,
            self.name,
            details.get("tries", 0),
            details.get("wait", 0.0),
            exc if isinstance(exc, (RetriableAPIError, BrokenBodyError)) else type(exc).__name__,
        )

    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Retry ``func`` on retriable failures, honouring Retry-After.

        A transport failure that outlasts the retries becomes an error naming the source,
        stream, method and path (requests' own names the host and the query string only).
        """
        retrying = backoff.on_exception(
            self.backoff_wait_generator,
            REQUEST_ERRORS,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=None,  # the policy jitters itself, and never below Retry-After
            logger=None,
        )(func)

        def conducted(prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
            try:
                return retrying(prepared, context)
            except TRANSPORT_ERRORS as exc:
                raise FatalAPIError(transport_error(self.source, self.name, prepared, exc)) from exc

        return conducted

    # ---- requests outside the SDK's page loop ------------------------------------------

    def send(self, request: HTTPRequest) -> requests.Response:
        """Send one request with the shared conduct; the body is left unread (streamed)."""
        prepared = self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            data=request.data,
        )
        return self.request_decorator(self._send_prepared)(prepared, None)

    def _send_prepared(self, prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
        authenticated = self.authenticator(prepared)
        response = self.requests_session.send(
            authenticated, timeout=self.timeout, stream=True, allow_redirects=self.allow_redirects
        )
        self.validate_response(response)
        return response

    def resumable(
        self,
        open_body: Callable[[], requests.Response],
        read: Callable[[requests.Response], Iterator[T]],
        *,
        where: str,
    ) -> Iterator[T]:
        """Read a body, re-opening it after a broken transfer.

        ``open_body`` must build its request from the caller's *current* position (next
        offset, next byte), which ``read`` advances as it yields, so a retry resumes after
        what was already taken instead of starting over.
        """
        failures = 0
        while True:
            response = open_body()
            try:
                yield from read(response)
            except BODY_ERRORS as exc:
                failures += 1
                if failures >= self.retry_policy.max_tries:
                    reason = without_query(str(exc))[:ERROR_EXCERPT_CHARS]
                    msg = f"{self.source} stream '{self.name}': {where}: body broken {failures} times ({reason})"
                    raise FatalAPIError(msg) from exc
                wait = self.retry_policy.delay(failures, exc)
                self.stats.retries += 1
                self.logger.warning(
                    "%s stream '%s': %s: body broken (%s), resuming in %.1fs",
                    self.source,
                    self.name,
                    where,
                    type(exc).__name__,
                    wait,
                )
                time.sleep(wait)
                continue
            finally:
                response.close()
            return
