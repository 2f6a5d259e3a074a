"""One real HTTP server on 127.0.0.1 that stands in for every vendor API.

Each vendor is a plain object with a URL ``prefix`` (``/ts``, ``/hrflow`` ...) and a
``handle(request) -> Response`` method; the server strips the prefix, so a vendor sees
the paths of its own documentation and the tap is exercised with ``base_url`` values
that carry a path prefix, as real deployments do.

The server speaks HTTP/1.1 with keep-alive, and can send bodies with chunked transfer
in irregular chunk sizes, so the tap's streaming readers meet frames split anywhere.
Benchmarks set ``piece_bytes`` instead: chunked bodies then go out in pieces of that size
(views, not copies), so the emulator is not what limits a transfer.

A wide-area link is emulated with ``latency_seconds`` (a fixed delay before each answer,
slept in the connection's own handler thread, so concurrent requests overlap as they do
over a real network) and ``bytes_per_second`` (a bandwidth cap per connection): on
loopback every answer is instant, and what a real run waits for is never seen.
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, urlsplit

#: Bytes written between two checks of the bandwidth cap (finer pacing than a 1 MiB piece).
PACE_BYTES = 1 << 14

if TYPE_CHECKING:
    from collections.abc import Iterable
    from email.message import Message


@dataclass
class Request:
    """What a vendor handler sees of one HTTP request."""

    method: str
    path: str  # without the vendor prefix and without the query string
    query: dict[str, list[str]]
    headers: Message  # case-insensitive lookups: headers.get("Authorization")
    body: bytes
    raw_query: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """What a vendor handler answers.

    ``body`` may be bytes or an iterable of byte strings (streamed). ``chunked`` sends the
    body with ``Transfer-Encoding: chunked`` in chunks of irregular sizes.
    ``abort_after`` closes the connection after that many body bytes (a reset in the
    middle of a body); ``stall_seconds`` sleeps before the body (a stalled server), or after
    ``stall_after`` body bytes when that is set (a server that stalls mid-body);
    ``stall_headers_seconds`` sleeps before the status line (a server that never answers).
    ``trickle_bytes_per_second`` sends the body one byte at a time at that rate once
    ``trickle_after`` bytes are out (a link that never quite stops).
    """

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    abort_after: int | None = None
    stall_seconds: float = 0.0
    stall_after: int | None = None
    stall_headers_seconds: float = 0.0
    trickle_bytes_per_second: float | None = None
    trickle_after: int = 0

    @classmethod
    def json(cls, status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
        """A JSON answer."""
        import json

        return cls(
            status=status,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )


@dataclass
class Fault:
    """One injected misbehaviour, matched on method and path, for the next ``times`` requests.

    ``status`` answers that status instead of the real answer (with ``retry_after`` as the
    Retry-After header); ``abort_after`` serves the real answer but resets the connection
    after that many body bytes; ``stall_seconds`` waits before sending the real body (or,
    with ``stall_after``, after that many body bytes); ``stall_headers_seconds`` waits before
    the status line; ``query_regex`` narrows the match to some query strings (one page).
    ``echo`` makes a status answer echo the request (its headers, query and
    body), as a debugging proxy or a hostile server might: a client must not repeat it.
    Vendors may read ``kind`` for their own body-level faults (truncated frames, bad zip ...).
    """

    path_regex: str
    method: str | None = None
    status: int | None = None
    retry_after: str | None = None
    abort_after: int | None = None
    stall_seconds: float = 0.0
    kind: str | None = None
    times: int = 1
    params: dict[str, object] = field(default_factory=dict)
    stall_after: int | None = None
    stall_headers_seconds: float = 0.0
    echo: bool = False
    #: Send the body one byte at a time at this rate, after ``trickle_after`` bytes.
    trickle_bytes_per_second: float | None = None
    trickle_after: int = 0
    #: Also match the raw query string (``offset=10&``): one page of a listing, not all.
    query_regex: str | None = None
    #: The request that fired the fault last (set by :meth:`Faults.take`, read by ``echo``).
    request: Request | None = field(default=None, repr=False, compare=False)


#: Request headers an ``echo`` answer repeats first (lower case).
ECHOED_FIRST = ("authorization", "x-api-key", "x-user-email")


class Faults:
    """The faults armed on one vendor; thread-safe, consumed as they fire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []
        self.fired: Counter[str] = Counter()

    def add(self, fault: Fault) -> Fault:
        """Arm a fault."""
        with self._lock:
            self._armed.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def take(self, request: Request) -> Fault | None:
        """The first armed fault matching ``request``, consumed once."""
        import re

        with self._lock:
            for fault in self._armed:
                if (
                    (fault.method is None or fault.method == request.method)
                    and re.search(fault.path_regex, request.path)
                    and (fault.query_regex is None or re.search(fault.query_regex, request.raw_query))
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._armed.remove(fault)
                    self.fired[fault.kind or str(fault.status or "transport")] += 1
                    fault.request = request
                    return fault
        return None

    @staticmethod
    def apply(fault: Fault | None, response: Response) -> Response:
        """Apply the transport part of ``fault`` (reset, stall) to a real answer."""
        if fault is not None:
            if fault.abort_after is not None:
                response.abort_after = fault.abort_after
            if fault.stall_seconds:
                response.stall_seconds = fault.stall_seconds
            if fault.stall_after is not None:
                response.stall_after = fault.stall_after
            if fault.stall_headers_seconds:
                response.stall_headers_seconds = fault.stall_headers_seconds
            if fault.trickle_bytes_per_second:
                response.trickle_bytes_per_second = fault.trickle_bytes_per_second
                response.trickle_after = fault.trickle_after
        return response

    @staticmethod
    def status_response(fault: Fault | None) -> Response | None:
        """The error answer of a status fault, or None when ``fault`` is not one."""
        if fault is None or fault.status is None:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        payload: dict[str, object] = {"message": f"injected {fault.status}"}
        if fault.echo and fault.request is not None:
            # What it was sent, credentials first (a reflecting proxy or a hostile server).
            request = fault.request
            sent = [f"{name}: {value}" for name, value in request.headers.items() if name.lower() in ECHOED_FIRST]
            sent.append(request.body.decode("utf-8", errors="replace"))
            sent.append(f"{request.method} {request.path}?{request.raw_query}")
            payload["message"] = f"injected {fault.status}; you sent: " + " | ".join(sent)
            payload["request"] = {"headers": dict(request.headers.items())}
        response = Response.json(fault.status, payload, headers)
        response.stall_headers_seconds = fault.stall_headers_seconds
        return response


class Vendor(Protocol):
    """A vendor API mounted under ``prefix``."""

    prefix: str

    def handle(self, request: Request) -> Response:
        """Answer one request."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    server: _Server
    #: Body bytes of the answer being sent, and when it started (the bandwidth cap's pacing).
    _paced_bytes = 0
    _paced_since = 0.0

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        vendor = next((v for v in self.server.vendors if split.path.startswith(v.prefix + "/")), None)
        if vendor is None:
            self._send(Response.json(404, {"message": "no such vendor"}))
            return
        request = Request(
            method=self.command,
            path=split.path[len(vendor.prefix) :],
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            raw_query=split.query,
        )
        with self.server.counter_lock:  # handler threads run side by side: += is no atomic update
            self.server.requests[(vendor.prefix, self.command)] += 1
        try:
            response = vendor.handle(request)
        except Exception as exc:  # an emulator bug must not hang the client
            response = Response.json(500, {"message": f"emulator error: {exc!r}"})
        self._send(response)

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = _dispatch  # noqa: N815

    def _send(self, response: Response) -> None:
        import time

        if self.server.latency_seconds:
            time.sleep(self.server.latency_seconds)  # this connection's thread only: others go on
        self._paced_bytes = 0
        self._paced_since = time.monotonic()
        if response.stall_headers_seconds:
            time.sleep(response.stall_headers_seconds)
        self.send_response(response.status)
        headers = dict(response.headers)
        body = response.body
        if response.chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif isinstance(body, bytes):
            headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.stall_seconds and response.stall_after is None:
            time.sleep(response.stall_seconds)
        stall_at = response.stall_after if response.stall_seconds else None
        parts = [body] if isinstance(body, bytes) else body
        sent = 0
        rng = random.Random(self.server.chunk_seed)
        try:
            for part in parts:
                for piece in self._pieces(part, rng) if response.chunked else (part,):
                    if stall_at is not None and sent + len(piece) > stall_at:
                        cut = stall_at - sent
                        self._write(piece[:cut], chunked=response.chunked)
                        self.wfile.flush()
                        time.sleep(response.stall_seconds)
                        stall_at = None
                        piece, sent = piece[cut:], sent + cut
                    if response.trickle_bytes_per_second and sent + len(piece) > response.trickle_after:
                        self._trickle(bytes(piece), sent, response)
                        return
                    if response.abort_after is not None and sent + len(piece) > response.abort_after:
                        cut = response.abort_after - sent
                        self._write(piece[:cut], chunked=response.chunked)
                        self._reset()
                        return
                    self._write(piece, chunked=response.chunked)
                    sent += len(piece)
            if response.chunked:
                self._out(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _trickle(self, piece: bytes, sent: int, response: Response) -> None:
        """Send ``piece`` (from body offset ``sent``) fast up to ``trickle_after``, then a byte at a time.

        Until the client hangs up: the rest of the body is never sent faster.
        """
        import time

        cut = max(response.trickle_after - sent, 0)
        self._write(piece[:cut], chunked=response.chunked)
        self.wfile.flush()
        for index in range(cut, len(piece)):
            time.sleep(1 / (response.trickle_bytes_per_second or 1))
            self._write(piece[index : index + 1], chunked=response.chunked)
            self.wfile.flush()
        self.close_connection = True  # the rest of the body never comes: the client must hang up

    def _pieces(self, part: bytes, rng: random.Random) -> Iterable[bytes]:
        size = self.server.piece_bytes
        if size is None:
            return _irregular(part, rng)
        view = memoryview(part)
        return (view[pos : pos + size] for pos in range(0, len(view), size))

    def _write(self, piece: bytes, *, chunked: bool) -> None:
        if not piece:
            return
        if chunked and self.server.piece_bytes is not None and len(piece) < 1 << 16:
            self._out(b"%x\r\n%b\r\n" % (len(piece), piece))  # one send for a small piece
        elif chunked:
            self._out(b"%x\r\n" % len(piece))
            self._out(piece)
            self._out(b"\r\n")
        else:
            self._out(piece)

    def _out(self, data: bytes | memoryview) -> None:
        """Send ``data``, no faster than the server's ``bytes_per_second`` when it has one."""
        rate = self.server.bytes_per_second
        if not rate:
            self.wfile.write(data)
            return
        import time

        view = memoryview(data)
        for pos in range(0, len(view), PACE_BYTES):
            piece = view[pos : pos + PACE_BYTES]
            self._paced_bytes += len(piece)
            # A piece leaves once the link could have carried it: the last byte at size / rate.
            early = self._paced_bytes / rate - (time.monotonic() - self._paced_since)
            if early > 0:
                time.sleep(early)
            self.wfile.write(piece)

    def _reset(self) -> None:
        """Drop the connection the hard way: the client sees a reset mid-body."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True
        self.connection.close()


def _irregular(data: bytes, rng: random.Random) -> Iterable[bytes]:
    """Split ``data`` in chunks of irregular sizes (1 byte to 64 KiB)."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        size = rng.choice((1, 3, 4, 5, 17, 511, 4096, 8191, 65536))
        yield bytes(view[pos : pos + size])
        pos += size


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that died mid-request (killed, timed out) is no emulator error: stay quiet."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def __init__(self, address: tuple[str, int], vendors: list[Vendor]) -> None:
        super().__init__(address, _Handler)
        self.vendors = vendors
        #: Requests per (vendor prefix, method), updated under ``counter_lock``.
        self.requests: Counter[tuple[str, str]] = Counter()
        self.counter_lock = threading.Lock()
        self.chunk_seed = 7
        #: Size of the pieces of a chunked body; None: irregular pieces of 1 byte to 64 KiB.
        self.piece_bytes: int | None = None
        #: Seconds slept before each answer (a round trip to a distant server); 0: none.
        self.latency_seconds = 0.0
        #: Most body bytes per second one connection sends; None: no cap.
        self.bytes_per_second: float | None = None


class Emulator:
    """The vendor stand-in: start it, point the tap at ``url(prefix)``, stop it."""

    def __init__(
        self,
        vendors: list[Vendor],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        piece_bytes: int | None = None,
        latency_seconds: float = 0.0,
        bytes_per_second: float | None = None,
    ) -> None:
        self.vendors = vendors
        self._server = _Server((host, port), vendors)
        self._server.piece_bytes = piece_bytes
        self.latency_seconds = latency_seconds
        self.bytes_per_second = bytes_per_second
        self._thread: threading.Thread | None = None

    @property
    def latency_seconds(self) -> float:
        """Seconds slept before each answer, in that request's own thread (settable while serving)."""
        return self._server.latency_seconds

    @latency_seconds.setter
    def latency_seconds(self, seconds: float) -> None:
        if seconds < 0:
            msg = f"latency_seconds must be 0 or more, not {seconds}"
            raise ValueError(msg)
        self._server.latency_seconds = float(seconds)

    @property
    def bytes_per_second(self) -> float | None:
        """Bandwidth cap of each connection's bodies (settable while serving); None: no cap."""
        return self._server.bytes_per_second

    @bytes_per_second.setter
    def bytes_per_second(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            msg = f"bytes_per_second must be positive or None, not {rate}"
            raise ValueError(msg)
        self._server.bytes_per_second = rate

    def requests(self) -> Counter[tuple[str, str]]:
        """A copy of the requests served so far, per (vendor prefix, method)."""
        with self._server.counter_lock:
            return Counter(self._server.requests)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def url(self, prefix: str = "") -> str:
        """The base URL of a vendor mounted at ``prefix``."""
        return f"http://127.0.0.1:{self.port}{prefix}"

    def start(self) -> Emulator:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread (the command-line emulator)."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
