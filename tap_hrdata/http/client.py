"""The one way the tap speaks HTTP: a client object per vendor source, shared by its streams.

A :class:`VendorClient` owns, for one source and one run: the ``requests`` session, the
source's authenticator, its throttle, the retry policy and redaction. Every request of
every stream goes through one loop (:meth:`VendorClient.body`):

    build the request -> sign it -> wait for the throttle -> send -> judge the status
    -> read the body (inside the same attempt) -> on a retriable failure, wait and go again

and there are two ways to read an answer:

- :meth:`VendorClient.call` (and :meth:`VendorClient.json`): the body is read whole inside
  the attempt, so a body that breaks or stalls is asked for again; JSON answers are
  capped at :attr:`VendorClient.max_json_bytes`, a body that never ends is refused;
- :meth:`VendorClient.body`: a streamed body read by the caller, re-opened after a
  failure from the caller's *current* position (next record, next byte), so a retry
  resumes after what was already taken.

Streams run calls side by side through :attr:`VendorClient.workers`
(:mod:`tap_hrdata.http.concurrency`); everything the calls share is safe across threads:
the session's connection pool is sized to the workers, the authenticator renews once for
all, the throttle paces every thread, a 429 pauses every send of the source (not only the
worker that met it), and the counters are kept under a lock.

Vendor clients subclass it: their authenticator, their headers, what their errors mean.
"""

from __future__ import annotations

import abc
import functools
import logging
import threading
import time
import typing as t
from collections import Counter
from http import HTTPStatus

import requests
from requests.structures import CaseInsensitiveDict
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from typing_extensions import override

from tap_hrdata.http import concurrency
from tap_hrdata.http.concurrency import Workers
from tap_hrdata.http.redaction import excerpt, request_line, request_secrets, without_query
from tap_hrdata.http.redirects import NEUTRAL_HEADERS, RedirectRefused, next_hop
from tap_hrdata.http.retry import RETRIABLE, BrokenBodyError, RetryPolicy, TokenRejectedError
from tap_hrdata.http.stalls import BodyLimits, BodyWatch, WatchedAdapter, WatchedResponse
from tap_hrdata.http.throttle import Unthrottled
from tap_hrdata.jsondecode import decode_json
from tap_hrdata.settings import global_settings, secret_settings, source_settings

if t.TYPE_CHECKING:
    from collections.abc import Callable, Collection, Generator, Iterable, Mapping

    from singer_sdk.streams.rest import HTTPRequest

    from tap_hrdata.http.auth import SourceAuthenticator
    from tap_hrdata.http.throttle import Throttle

T = t.TypeVar("T")

#: Pieces in which a JSON body is read.
JSON_READ_BYTES = 1 << 16
#: The caller name of the checks made before a run (``VendorClient.check``).
PREFLIGHT = "preflight"
_EXCERPT_READ_BYTES = 1200


class AnswerError(FatalAPIError):
    """A fatal answer, raised inside an attempt; the client adds the source and stream to it."""


class BodyTooLargeError(AnswerError):
    """A JSON answer longer than the client reads whole."""


class JsonResponse(requests.Response):
    """A response whose JSON body was read (capped) and decoded inside the retry.

    It is a :class:`requests.Response` with the status, headers, URL and request of the
    answer, so the paginators of ``singer_sdk.pagination`` take it as any response;
    :meth:`json` returns the body decoded once, and the bytes are not kept.
    """

    def __init__(self, answer: requests.Response, payload: t.Any, size: int) -> None:  # vendor JSON is untyped
        super().__init__()
        self.status_code = answer.status_code
        self.headers = answer.headers
        self.url = answer.url
        self.reason = answer.reason
        self.request = answer.request
        self.elapsed = answer.elapsed
        self.encoding = answer.encoding
        self.history = answer.history
        self.payload = payload
        #: Bytes of the body as received.
        self.size = size

    @override
    def json(self, **kwargs: t.Any) -> t.Any:  # vendor JSON is untyped
        """The decoded body."""
        return self.payload

    @override
    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> t.NoReturn:
        """The bytes are gone: read :meth:`json` (this makes ``.content`` and ``.text`` say so too)."""
        msg = "the body of a JsonResponse was decoded and dropped: use .json()"
        raise RuntimeError(msg)


class VendorClient(abc.ABC):
    """The HTTP client of one vendor source for one run (see the module docstring)."""

    #: Settings block of the source (``talentsoft`` ...), also the start of every message.
    source: t.ClassVar[str]
    #: Attempts and waits (class-wide: tests shorten the waits).
    retry_policy: t.ClassVar[RetryPolicy] = RetryPolicy()
    #: Largest JSON answer read whole; a longer body is refused.
    max_json_bytes: t.ClassVar[int] = 256 << 20
    #: Statuses retried besides 5xx.
    retry_statuses: t.ClassVar[frozenset[int]] = frozenset({HTTPStatus.TOO_MANY_REQUESTS})

    def __init__(
        self,
        config: Mapping[str, t.Any],
        logger: logging.Logger,
        before_first_send: Callable[[], None] | None = None,
    ) -> None:
        self.settings = source_settings(config, self.source)
        #: Called once, before the first request of the run (the tap's preflight).
        self._before_first_send = before_first_send
        conduct = global_settings(config)
        #: (connect, first byte) of every send; the read timeout is set once the headers are in.
        self.timeout = (float(conduct["connect_timeout_seconds"]), float(conduct["first_byte_timeout_seconds"]))
        self.request_deadline = float(conduct["request_deadline_seconds"])
        self.retry_budget = float(conduct["retry_budget_seconds"])
        self.logger = logger
        #: Calls in flight side by side for the whole source (``max_concurrent_requests``).
        self.workers = Workers(int(self.settings.get("max_concurrent_requests") or 1), name=f"{self.source}-")
        self.session = requests.Session()
        adapter = WatchedAdapter(
            BodyWatch(),
            BodyLimits(
                read_timeout=float(conduct["request_timeout_seconds"]),
                min_bytes_per_second=float(conduct["min_bytes_per_second"]),
            ),
            connections=self.workers.size + 1,  # every worker, and the stream's own thread
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._configured_secrets = [
            str(self.settings[name]) for name in secret_settings(self.source) if self.settings.get(name)
        ]
        self.authenticator: SourceAuthenticator = self.make_authenticator()
        self.throttle: Throttle = self.make_throttle()
        #: API calls and retries, per stream (the end-of-run summary).
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._lock = threading.Lock()  # the counters, the first send, the pause
        #: A 429 holds every send of the source until then (``time.monotonic``).
        self._paused_until = 0.0

    # ---- what a vendor client defines -----------------------------------------------------

    @property
    def base_url(self) -> str:
        """The source's base URL (it may carry a path prefix)."""
        return str(self.settings["base_url"]).rstrip("/")

    def problems(self) -> list[str]:
        """Settings of the source that cannot work together (checked before anything is sent)."""
        return []

    def urls(self) -> dict[str, str]:
        """The URLs credentials are sent to, by the setting they come from (checked: https or loopback)."""
        return {"base_url": self.base_url}

    @abc.abstractmethod
    def make_authenticator(self) -> SourceAuthenticator:
        """The source's one authenticator for the run."""

    def make_throttle(self) -> Throttle:
        """How the source paces its sends (none by default)."""
        return Unthrottled()

    def headers(self) -> dict[str, str]:
        """Headers every request of the source carries (besides credentials)."""
        return {}

    @property
    def max_tries(self) -> int:
        """Attempts of one call in a row (the policy's, unless the vendor says otherwise)."""
        return self.retry_policy.max_tries

    def retry_wait(self, failures: int, exc: BaseException) -> float:
        """Seconds to wait before the next attempt (the policy's: Retry-After, then backoff)."""
        return self.retry_policy.delay(failures, exc)

    def post_token(self, request: HTTPRequest) -> t.Any:  # the token answer is untyped JSON
        """Send a token request with the client's conduct (retries, timeouts, redaction), unsigned."""
        return self.json(request, stream=None, authenticate=False).json()

    def failure_hint(self, status: int) -> str | None:
        """What to do about a refused request, when the vendor's status means something specific."""
        return None

    def check_answer(self, response: JsonResponse) -> None:  # noqa: B027  # a hook: most vendors need none
        """Judge a JSON answer's body (vendors that hide errors in 200 answers raise here)."""

    # ---- the two ways to read an answer --------------------------------------------------

    def call(
        self,
        request: HTTPRequest,
        read: Callable[[requests.Response], T],
        *,
        stream: str | None,
        where: str | None = None,
        answers: Collection[int] = (),
        authenticate: bool = True,
    ) -> T:
        """Send ``request`` and return ``read(response)``, the body read inside the retry.

        ``answers`` are error statuses that are answers for this call (a 404 to a DELETE of
        a file already gone), handed to ``read`` like a success. The body must be read
        within ``request_deadline_seconds`` of the answer's start.
        """

        def read_whole(response: requests.Response) -> tuple[T]:
            if isinstance(response, WatchedResponse):
                response.deadline = response.started + self.request_deadline
            return (read(response),)

        results = self.body(
            lambda: request,
            read_whole,
            stream=stream,
            where=where,
            answers=answers,
            authenticate=authenticate,
        )
        try:
            return next(results)
        finally:
            results.close()

    def json(self, request: HTTPRequest, *, stream: str | None, authenticate: bool = True) -> JsonResponse:
        """Send ``request`` and return its JSON answer, read whole inside the retry and checked."""
        return self.call(
            request, functools.partial(self.read_json, stream=stream), stream=stream, authenticate=authenticate
        )

    def body(
        self,
        open_request: Callable[[], HTTPRequest],
        read: Callable[[requests.Response], Iterable[T]],
        *,
        stream: str | None,
        where: str | None = None,
        answers: Collection[int] = (),
        authenticate: bool = True,
    ) -> Generator[T, None, None]:
        """Stream an answer through ``read``, re-opened after a failure from the caller's position.

        ``open_request`` must build its request from the caller's *current* position, which
        the caller advances as ``read`` yields, so a retry resumes after what was taken.
        ``where`` names the operation in messages (``export at offset 40``).
        """
        failures = 0
        failing = 0.0  # seconds spent in failed attempts since the last progress
        task = concurrency.current_task()  # in a worker: its batch's stop cuts the body being read
        while True:
            sent: requests.PreparedRequest | None = None
            attempt_started = time.monotonic()
            try:
                response = self._send(open_request(), stream, answers=answers, authenticate=authenticate)
                sent = response.request
                cut = getattr(response, "cut", None)
                unregister = task.on_stop(cut) if task is not None and cut is not None else None
                try:
                    for item in read(response):
                        failures, failing = 0, 0.0  # progress: a later failure starts a new count
                        yield item
                        # Let go of it before the next is read: an export document holds its frame,
                        # whose buffer the frame reader reuses only once nothing refers to it.
                        del item
                finally:
                    if unregister is not None:
                        unregister()
                    response.close()
            except AnswerError as exc:
                raise FatalAPIError(f"{self.where(stream, where)}: {exc}") from exc
            except RETRIABLE as exc:
                if task is not None and task.stopping:  # the body was cut because nobody waits for it
                    msg = "stopped while reading: its result is no longer wanted"
                    raise concurrency.CallStoppedError(msg) from None
                failures += 1
                failing += time.monotonic() - attempt_started
                reason = self._reason(exc, sent)
                if failures >= self.max_tries or failing >= self.retry_budget:
                    spent = (
                        f"{failures} attempts"
                        if failures >= self.max_tries
                        else f"{failures} attempts in {failing:.1f}s"
                    )
                    msg = f"{self.where(stream, where)}: {reason} (gave up after {spent})"
                    # The message is the redacted reason; a chained exception would print unredacted text.
                    raise FatalAPIError(msg) from None
                wait = self.retry_wait(failures, exc)
                if getattr(getattr(exc, "response", None), "status_code", None) == HTTPStatus.TOO_MANY_REQUESTS:
                    self.pause(wait)
                with self._lock:
                    self.retries[stream or ""] += 1
                self.logger.warning("%s: retry %d in %.1fs after %s", self.where(stream, where), failures, wait, reason)
                concurrency.wait(wait)
                continue
            return

    # ---- reading answers -------------------------------------------------------------------

    def read_json(self, response: requests.Response, *, stream: str | None) -> JsonResponse:
        """A whole JSON answer, never past :attr:`max_json_bytes`, decoded and checked.

        A body that is not JSON is retried like a broken one (a proxy's error page, a body
        cut short without a length to tell), then reported.
        """
        pieces: list[bytes] = []
        size = 0
        for piece in response.iter_content(JSON_READ_BYTES):
            size += len(piece)
            if size > self.max_json_bytes:
                line = request_line(response.request, response.url)
                msg = f"{line} answered more than {self.max_json_bytes} bytes; refused"
                raise BodyTooLargeError(msg)
            pieces.append(piece)
        raw = b"".join(pieces)
        del pieces
        line = request_line(response.request, response.url)
        try:
            payload = decode_json(raw, where=self.where(stream, line), logger=self.logger)
        except ValueError:
            text = raw[:_EXCERPT_READ_BYTES].decode("utf-8", errors="replace")
            shown = excerpt(text, self.secrets(response.request))
            msg = f"{line} answered HTTP {response.status_code} with a body that is not JSON"
            raise BrokenBodyError(f"{msg}: {shown}" if shown else msg) from None
        answer = JsonResponse(response, payload, size)
        self.check_answer(answer)
        return answer

    # ---- messages --------------------------------------------------------------------------

    def where(self, stream: str | None, operation: str | None = None) -> str:
        """``talentsoft stream 'candidates'[: operation]``, ``talentsoft token request`` or ``... preflight``."""
        if stream is None:
            caller = f"{self.source} token request"
        elif stream == PREFLIGHT:
            caller = f"{self.source} preflight"
        else:
            caller = f"{self.source} stream '{stream}'"
        return f"{caller}: {operation}" if operation else caller

    def check(self) -> None:
        """The source's cheapest authenticated call, before a run: raises when it fails.

        Signing a request fetches an OAuth token (kept for the run); sources with fixed
        keys make a call that proves them (each overrides this).
        """
        self.authenticator.authenticate_request(requests.Request("GET", self.base_url).prepare())

    def secrets(self, request: requests.PreparedRequest | None = None) -> list[str]:
        """Everything to cut out of what the tap shows: the request's credentials and the source's."""
        return [*request_secrets(request), *self._configured_secrets, *self.authenticator.secrets()]

    def refused(self, response: requests.Response) -> str:
        """Why a request was refused: method, path, status and a redacted excerpt of the body."""
        shown = ""
        try:
            raw = next(response.iter_content(_EXCERPT_READ_BYTES), b"")
            shown = excerpt(raw.decode("utf-8", errors="replace"), self.secrets(response.request))
        except (requests.RequestException, OSError, RuntimeError):
            shown = ""
        finally:
            response.close()
        line = request_line(response.request, response.url)
        message = f"{line} failed with HTTP {response.status_code} {response.reason or ''}".rstrip()
        if shown:
            message = f"{message}: {shown}"
        hint = self.failure_hint(response.status_code)
        return f"{message} ({hint})" if hint else message

    def _reason(self, exc: BaseException, sent: requests.PreparedRequest | None) -> str:
        """A retriable failure, as a message: the server's refusal, or the transport's, redacted."""
        if isinstance(exc, (RetriableAPIError, BrokenBodyError)):
            return str(exc)
        request = getattr(exc, "request", None) or sent
        detail = without_query(excerpt(str(exc), self.secrets(request)))
        return f"{request_line(request)} failed: {type(exc).__name__}: {detail}"

    # ---- across threads ----------------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Hold every send of the source for ``seconds`` (a 429: the vendor counts the source, not a thread)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _wait_for_pause(self) -> None:
        while True:
            with self._lock:
                left = self._paused_until - time.monotonic()
            if left <= 0:
                return
            concurrency.wait(left)

    def close(self) -> None:
        """The run is over: stop the workers, close the connections."""
        self.workers.close()
        self.session.close()

    # ---- one attempt -------------------------------------------------------------------------

    def _send(
        self,
        request: HTTPRequest,
        stream: str | None,
        *,
        answers: Collection[int],
        authenticate: bool,
    ) -> requests.Response:
        """One attempt: sign, pace, send, judge the status. The body is left to the reader."""
        if self._before_first_send is not None:
            with self._lock:
                before, self._before_first_send = self._before_first_send, None
            if before is not None:
                before()
        prepared = self.session.prepare_request(
            requests.Request(
                method=request.method,
                url=request.url,
                params=request.encode_params(),
                headers={**self.headers(), **request.headers},
                data=request.data,
            )
        )
        if authenticate:
            prepared = self.authenticator.authenticate_request(prepared)
        response = self._send_following_redirects(prepared, stream, authenticate=authenticate)
        prepared = response.request
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST or status in answers:
            if authenticate:
                self.authenticator.note_accepted()
            return response
        if status == HTTPStatus.UNAUTHORIZED and authenticate and self.authenticator.renew_after_rejection(prepared):
            response.close()
            msg = f"{request_line(prepared)} refused the token (HTTP 401); renewing it once"
            raise TokenRejectedError(msg, response)
        message = self.refused(response)
        if status in self.retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(message, response)
        raise AnswerError(message)

    def _send_following_redirects(
        self, prepared: requests.PreparedRequest, stream: str | None, *, authenticate: bool
    ) -> requests.Response:
        """Send, and follow the redirects :func:`~tap_hrdata.http.redirects.next_hop` allows.

        requests would follow them itself, re-sending a token request's form (the client
        secret) or a key header to wherever a server points; here each hop is judged first.
        """
        hops = 0
        while True:
            self._wait_for_pause()
            self.throttle.before_send()
            with self._lock:
                self.calls[stream or ""] += 1
            response = self.session.send(prepared, timeout=self.timeout, stream=True, allow_redirects=False)
            self.throttle.answered(response.status_code)
            try:
                # An unsigned POST is a token request (its form holds the client secret): it
                # follows no redirect. An unsigned GET (a public file URL) follows the usual rules.
                token = not authenticate and (prepared.method or "GET").upper() != "GET"
                hop = next_hop(prepared, response, token=token, hops=hops)
            except RedirectRefused as exc:
                response.close()
                raise AnswerError(f"{request_line(prepared)} was {exc}") from None
            if hop is None:
                return response
            response.close()
            hops += 1
            follow = prepared.copy()
            follow.prepare_method(hop.method)
            follow.prepare_url(hop.url, None)
            if not hop.keeps_body:
                follow.body = None
                for name in ("Content-Length", "Content-Type"):
                    follow.headers.pop(name, None)
            if not hop.same_origin:  # to another origin: no credential, no source header
                follow.headers = CaseInsensitiveDict(
                    {name: value for name, value in follow.headers.items() if name.lower() in NEUTRAL_HEADERS}
                )
            prepared = follow
