"""A bare HTTP/1.1 client over one socket per request, for the floors.

It does the least a client can: send the request (``Connection: close``), parse the status
line and headers, and hand the body out through :meth:`Response.readinto`, which reads
straight from the socket into the caller's buffer (chunked transfer decoded in place).
"""

from __future__ import annotations

import json
import socket
import typing as t
from urllib.parse import urlencode, urlsplit

RECV_BYTES = 1 << 20


class Response:
    """A response whose body is read from the socket on demand."""

    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str], rest: bytes) -> None:
        self.sock = sock
        self.status = status
        self.headers = headers
        self._rest = memoryview(rest)  # body bytes that came with the headers
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._left = -1 if self.chunked else int(headers.get("content-length", "-1"))  # -1: until close
        self._chunk_left = 0
        self._done = self._left == 0

    def _recv_into(self, view: memoryview) -> int:
        if self._rest:
            n = min(len(view), len(self._rest))
            view[:n] = self._rest[:n]
            self._rest = self._rest[n:]
            return n
        return self.sock.recv_into(view)

    def _line(self) -> bytes:
        """A CRLF-terminated line (chunk sizes), read a few bytes at a time."""
        line = bytearray()
        one = bytearray(64)
        while not line.endswith(b"\r\n"):
            if self._rest:
                cut = bytes(self._rest).find(b"\n")
                take = len(self._rest) if cut < 0 else cut + 1
                line += self._rest[:take]
                self._rest = self._rest[take:]
                continue
            n = self.sock.recv_into(one)
            if n == 0:
                msg = "connection closed inside a chunk header"
                raise ConnectionError(msg)
            self._rest = memoryview(bytes(one[:n]))
        return bytes(line[:-2])

    def readinto(self, view: memoryview) -> int:
        """Up to ``len(view)`` body bytes into ``view``; 0 at the end of the body."""
        if self._done or not len(view):
            return 0
        if self.chunked:
            if self._chunk_left == 0:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()  # the empty trailer line
                    self._done = True
                    return 0
                self._chunk_left = size
            n = self._recv_into(view[: min(len(view), self._chunk_left)])
            if n == 0:
                msg = "connection closed inside a chunk"
                raise ConnectionError(msg)
            self._chunk_left -= n
            if self._chunk_left == 0:
                self._chunk_crlf()
            return n
        limit = len(view) if self._left < 0 else min(len(view), self._left)
        n = self._recv_into(view[:limit])
        if self._left > 0:
            self._left -= n
            if n == 0:
                msg = "connection closed inside the body"
                raise ConnectionError(msg)
            self._done = self._left == 0
        elif n == 0:
            self._done = True
        return n

    def _chunk_crlf(self) -> None:
        crlf = bytearray(2)
        view = memoryview(crlf)
        got = 0
        while got < 2:
            n = self._recv_into(view[got:])
            if n == 0:
                msg = "connection closed after a chunk"
                raise ConnectionError(msg)
            got += n

    def readexactly(self, view: memoryview) -> int:
        """Fill ``view`` completely unless the body ends; the bytes read."""
        got = 0
        while got < len(view):
            n = self.readinto(view[got:])
            if n == 0:
                break
            got += n
        return got

    def read_all(self) -> bytes:
        """The whole (small) body."""
        out = bytearray()
        buffer = bytearray(1 << 16)
        view = memoryview(buffer)
        while n := self.readinto(view):
            out += view[:n]
        return bytes(out)

    def json(self) -> t.Any:
        """The body as JSON."""
        return json.loads(self.read_all())

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def request(
    method: str,
    url: str,
    *,
    params: dict[str, t.Any] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Response:
    """Send one request on a new connection; the response with its body unread."""
    parts = urlsplit(url)
    target = parts.path or "/"
    query = parts.query
    if params:
        query = (query + "&" if query else "") + urlencode(params, safe="$")
    if query:
        target += "?" + query
    sock = socket.create_connection((parts.hostname, parts.port or 80))
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in {"POST", "PUT"}:
        lines.append(f"Content-Length: {len(body)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    head = bytearray()
    buffer = bytearray(1 << 16)
    while b"\r\n\r\n" not in head:
        n = sock.recv_into(buffer)
        if n == 0:
            msg = "connection closed before the headers"
            raise ConnectionError(msg)
        head += buffer[:n]
    end = head.index(b"\r\n\r\n")
    status_line, *header_lines = head[:end].decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return Response(sock, status, fields, bytes(head[end + 4 :]))


def expect(response: Response, *statuses: int) -> Response:
    """``response`` if its status is one of ``statuses``; else an error with its body."""
    if response.status not in statuses:
        body = response.read_all()[:300]
        response.close()
        msg = f"HTTP {response.status}: {body!r}"
        raise RuntimeError(msg)
    return response
