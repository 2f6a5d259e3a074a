"""Bodies that trickle or never end are cut, so a stalled transfer fails and is retried.

A socket read timeout only fires when *nothing* arrives: a server sending one byte a
second keeps every read alive, and a read of a 64 KiB chunk then blocks for 18 hours.
So every response of a client is watched while its body is read (:class:`BodyWatch`):
over each window of ``max(read timeout, 2 x piece / min_bytes_per_second)`` seconds it
must bring at least half of what ``min_bytes_per_second`` asks (a link at the minimum
rate does, whatever the size of the pieces it comes in), and a body read whole (a JSON
page, a token) must be complete within the request deadline.
A body that misses either has its connection shut down from the watch's thread; the
blocked read then ends, and the reader raises :class:`StalledBodyError`, which the
client retries like any broken body (a streamed body resumes from its position).

The watch also sets the socket's timeout once the headers are in: the wait for the
first byte and the wait between reads are separate settings.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import typing as t
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from typing_extensions import override
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tap_hrdata.http import concurrency
from tap_hrdata.http.redaction import request_line
from tap_hrdata.http.retry import BrokenBodyError

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: The watch thread looks at the bodies being read this often (at most).
TICK_SECONDS = 1.0


class StalledBodyError(BrokenBodyError):
    """A body slower than the minimum rate, or past the request deadline: cut, asked for again."""


@dataclass(frozen=True)
class BodyLimits:
    """How long a body may take (see the module docstring)."""

    read_timeout: float
    min_bytes_per_second: float

    def window(self, piece_size: int) -> float:
        """Seconds over which a body read in pieces of ``piece_size`` bytes is judged."""
        return max(self.read_timeout, 2 * piece_size / self.min_bytes_per_second)

    def required(self, window: float) -> float:
        """Bytes a body must bring in each window."""
        return self.min_bytes_per_second * window / 2


@dataclass(eq=False)
class WatchedBody:
    """One body being read: what it brought since the window began, and why it was cut (if it was)."""

    response: WatchedResponse
    window: float
    required: float
    deadline: float | None
    window_started: float
    received: int = 0
    window_bytes: int = 0
    cut_because: str | None = field(default=None)


class BodyWatch:
    """One thread per client, looking at the bodies its streams are reading."""

    def __init__(self) -> None:
        self._watched: set[WatchedBody] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, response: WatchedResponse, window: float, required: float, deadline: float | None) -> WatchedBody:
        """Start watching a body (``deadline``: a monotonic time, or None)."""
        entry = WatchedBody(response, window, required, deadline, time.monotonic())
        with self._lock:
            self._watched.add(entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tap-hrdata-body-watch", daemon=True)
                self._thread.start()
        self._wake.set()
        return entry

    def unwatch(self, entry: WatchedBody) -> None:
        """The body is read (or abandoned)."""
        with self._lock:
            self._watched.discard(entry)

    def _run(self) -> None:
        while True:
            with self._lock:
                entries = list(self._watched)
            if not entries:
                self._wake.wait(TICK_SECONDS * 10)
                self._wake.clear()
                with self._lock:
                    if not self._watched:
                        self._thread = None
                        return
                continue
            now = time.monotonic()
            for entry in entries:
                if entry.cut_because is None:
                    self.judge(entry, now)
            tick = min([TICK_SECONDS, *(entry.window / 4 for entry in entries)])
            time.sleep(max(tick, 0.01))

    @staticmethod
    def judge(entry: WatchedBody, now: float) -> None:
        """Cut ``entry``'s body if it is past its deadline, or its window ended bringing too little."""
        if entry.deadline is not None and now > entry.deadline:
            entry.cut_because = "it was not complete within the request deadline (request_deadline_seconds)"
        elif now - entry.window_started >= entry.window:
            brought = entry.received - entry.window_bytes
            if brought >= entry.required:
                entry.window_started, entry.window_bytes = now, entry.received
                return
            entry.cut_because = (
                f"it sent {brought} bytes in {entry.window:g}s, under min_bytes_per_second "
                "(request_timeout_seconds, min_bytes_per_second)"
            )
        else:
            return
        entry.response.cut()


class WatchedResponse(requests.Response):
    """A response whose body is read under a :class:`BodyWatch`; built by :class:`WatchedAdapter`."""

    watch: BodyWatch
    limits: BodyLimits
    #: When the answer's headers arrived (monotonic).
    started: float
    #: The monotonic time its body must be read by, when it is read whole (set by the client).
    deadline: float | None

    @classmethod
    def adopt(cls, response: requests.Response, watch: BodyWatch, limits: BodyLimits) -> WatchedResponse:
        """``response`` as a watched one (same attributes)."""
        watched = cls.__new__(cls)
        watched.__dict__.update(response.__dict__)
        watched.watch, watched.limits, watched.started, watched.deadline = watch, limits, time.monotonic(), None
        return watched

    def socket(self) -> socket.socket | None:
        """The connection's socket, while the body is being read."""
        connection = getattr(self.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        return sock if isinstance(sock, socket.socket) else None

    def cut(self) -> None:
        """Shut the connection down: a read blocked on it returns at once."""
        sock = self.socket()
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing to cut
                sock.shutdown(socket.SHUT_RDWR)

    @override
    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[t.Any]:
        """The body in chunks, each under the watch; a body the watch cut raises :class:`StalledBodyError`."""
        size = chunk_size if isinstance(chunk_size, int) and chunk_size > 0 else 1 << 16
        window = self.limits.window(size)
        entry = self.watch.watch(self, window, self.limits.required(window), self.deadline)
        try:
            for chunk in super().iter_content(chunk_size, decode_unicode):
                if entry.cut_because is not None:
                    break
                entry.received += len(chunk)
                yield chunk
        except Exception:
            if entry.cut_because is None:
                raise
        finally:
            self.watch.unwatch(entry)
        if entry.cut_because is not None:
            msg = f"{request_line(self.request, self.url)} answered HTTP {self.status_code}; the body was cut: "
            raise StalledBodyError(msg + entry.cut_because)


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, building :class:`WatchedResponse` answers with the read timeout set."""

    def __init__(self, watch: BodyWatch, limits: BodyLimits, *, connections: int = 10) -> None:
        super().__init__(pool_connections=connections, pool_maxsize=max(connections, 10))
        self.watch = watch
        self.limits = limits

    @override
    def build_response(self, req: requests.PreparedRequest, resp: t.Any) -> requests.Response:
        """The answer as a :class:`WatchedResponse`; from here on, reads wait at most the read timeout."""
        response = WatchedResponse.adopt(super().build_response(req, resp), self.watch, self.limits)
        sock = response.socket()
        if sock is not None:
            sock.settimeout(self.limits.read_timeout)  # the headers are in: the first-byte wait is over
        return response

    @override
    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Requests' pool manager, with connections whose wait for an answer a stopped call ends."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _StoppablePool, "https": _StoppableHTTPSPool}


class _StoppableWait:
    """A connection whose wait for the status line ends when its worker's batch stops."""

    sock: socket.socket | None

    def getresponse(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        task = concurrency.current_task()
        sock = self.sock
        unregister = None
        if task is not None and sock is not None:
            unregister = task.on_stop(lambda: _shutdown(sock))
        try:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            if unregister is not None:
                unregister()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _StoppableConnection(_StoppableWait, HTTPConnection):
    pass


class _StoppableHTTPSConnection(_StoppableWait, HTTPSConnection):
    pass


class _StoppablePool(HTTPConnectionPool):
    ConnectionCls = _StoppableConnection


class _StoppableHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _StoppableHTTPSConnection
